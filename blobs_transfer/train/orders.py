"""Each replica's minibatch orders, drawn inside the Numba kernel from its seed: a splitmix64 stream and a
Fisher-Yates shuffle per epoch, so no Python work is done per replica or epoch."""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from blobs_transfer.train.fastmath import HELPER, INLINE, JIT

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_ORDER_STREAM = uint64(0x6F72646572730001)  # "orders": keeps this stream apart from any other use of a seed


@njit(**INLINE)
def _next(state):
    """splitmix64: (new state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return state, z ^ (z >> uint64(31))


@njit(**INLINE)
def seed_state(seed):
    """The order stream's starting state for a replica seed (a 32-bit recorded seed)."""
    state, _ = _next(uint64(seed) ^ _ORDER_STREAM)
    return state


@njit(**HELPER)
def shuffle_lanes(perm, n_rows, states):
    """Fisher-Yates shuffle of each lane's order perm[c, :n_rows[c]] in place, continuing the permutation left
    by the previous epoch (as numpy's `shuffle` of one array would), from the stream state states[c] (updated).
    Lane c takes i = n_rows[c] - 1 down to 1, drawing j uniform on 0..i (up to a 2^-53 relative bias) and
    swapping entries i and j: the same draws as if each lane were shuffled alone. The lanes take their steps
    interleaved, so their independent streams overlap in the CPU rather than running one after another."""
    n_lanes = perm.shape[0]
    longest = 0
    for c in range(n_lanes):
        longest = max(longest, n_rows[c])
    for i in range(longest - 1, 0, -1):
        for c in range(n_lanes):
            if i < n_rows[c]:
                state, bits = _next(states[c])
                states[c] = state
                j = int(np.float64(bits >> uint64(11)) * (1.0 / 9007199254740992.0) * (i + 1))
                t = perm[c, i]
                perm[c, i] = perm[c, j]
                perm[c, j] = t


@njit(**JIT)
def draw_orders(seed, epochs, n_rows):
    """(epochs, n_rows) int32: the minibatch orders the kernel draws for one replica seed."""
    out = np.empty((epochs, n_rows), np.int32)
    states = np.full(1, seed_state(seed), np.uint64)
    perm = np.empty((1, n_rows), np.int32)
    lengths = np.full(1, n_rows, np.int64)
    for i in range(n_rows):
        perm[0, i] = i
    for e in range(epochs):
        shuffle_lanes(perm, lengths, states)
        for i in range(n_rows):
            out[e, i] = perm[0, i]
    return out
