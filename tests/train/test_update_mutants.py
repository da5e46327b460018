"""Tests that kill mutants of blobs_transfer.train.update (benchmarks/mutation.sh): the update rules of one
`step` on a hand-made workspace of 2 parameters, against Keras's formulas (the module docstring) evaluated here
in float64, and `settings`' codes and constants. `step` is called as plain Python (its `py_func` under the JIT,
itself under NUMBA_DISABLE_JIT=1, as mutation.sh runs it), so nothing is compiled and the file stays fast."""

from typing import NamedTuple

import numpy as np
import pytest

from blobs_transfer.config import Optimizer
from blobs_transfer.train import update
from blobs_transfer.train.kernel import LANES

STEP = getattr(update.step, "py_func", update.step)
N_PARAMS = 2


class Offsets(NamedTuple):
    """The four slots `step` reads (kernel.Offsets has more): parameters 0-1, gradients 2-3, first state 4-5,
    second state 6-7."""

    n_params: int = N_PARAMS
    grads: int = 2
    first: int = 4
    second: int = 6


# constants far from Keras's defaults so that every term moves the result by much more than rounding
HYPER = update.Hyper(
    lr=np.float32(0.5),
    mu=np.float32(0.75),
    c1=np.float32(1 - 0.625),
    c2=np.float32(1 - 0.875),
    epsilon=np.float32(0.25),
    beta_1=np.float32(0.625),
    beta_2=np.float32(0.875),
)


def workspace(seed=0):
    """ws (8 slots x LANES), the trainable flags (parameter 0 trains in every lane, parameter 1 in even lanes),
    live (every third lane has no rows), the step counts (1, 2, 3, ... per lane) and Adam's scratch."""
    rng = np.random.default_rng(seed)
    ws = rng.uniform(-1, 1, 8 * LANES).astype(np.float32)
    ws[6 * LANES :] = rng.uniform(0.1, 1, 2 * LANES)  # Adam's v is a running mean of squares: positive
    flags = np.ones((N_PARAMS, LANES), np.float32)
    flags[1, 1::2] = 0.0
    live = np.ones(LANES, np.bool_)
    live[::3] = False
    steps = np.arange(1, LANES + 1, dtype=np.int64)
    return ws, flags, live, steps, np.zeros(LANES, np.float32)


def slots(ws):
    """(w, g, m, v), each (N_PARAMS, LANES) in float64."""
    s = ws.reshape(8, LANES).astype(np.float64)
    return s[0:2], s[2:4], s[4:6], s[6:8]


def run(rule, seed=0):
    ws, flags, live, steps, alpha = workspace(seed)
    before = ws.copy(), steps.copy()
    STEP(ws, flags.reshape(-1), live, steps, alpha, Offsets(), rule, HYPER)
    return before, (ws, steps, alpha), flags > 0, live


def test_rule_codes_are_distinct():
    """The kernel and the TensorFlow engine branch on these codes: four rules, four codes."""
    assert len({update.SGD, update.MOMENTUM, update.NESTEROV, update.ADAM}) == 4


def test_settings_codes_and_constants():
    """settings mutants: each name's code (momentum with nesterov -> NESTEROV), and each constant of Hyper
    rounded once to float32, 1 - beta computed before rounding."""
    assert update.settings(Optimizer("sgd", 0.1))[0] == update.SGD
    assert update.settings(Optimizer("adam", 0.1))[0] == update.ADAM
    assert update.settings(Optimizer("momentum", 0.1, momentum=0.9))[0] == update.MOMENTUM
    assert update.settings(Optimizer("momentum", 0.1, momentum=0.9, nesterov=True))[0] == update.NESTEROV
    o = Optimizer("adam", 0.003, momentum=0.3, beta_1=0.8, beta_2=0.99, epsilon=1e-5)
    code, hyper = update.settings(o)
    expected = dict(
        lr=np.float32(0.003),
        mu=np.float32(0.3),
        c1=np.float32(1.0 - 0.8),
        c2=np.float32(1.0 - 0.99),
        epsilon=np.float32(1e-5),
        beta_1=np.float32(0.8),
        beta_2=np.float32(0.99),
    )
    assert hyper._asdict() == expected
    assert all(type(value) is np.float32 for value in hyper)
    assert hyper.c2 != np.float32(1.0) - np.float32(0.99)  # rounded once: not the float32 difference


def test_sgd_moves_trainable_weights_by_lr_times_gradient():
    """step mutants on SGD: w - lr g where the flag is > 0 (a 0.0 flag never moves), nothing else written."""
    (ws0, steps0), (ws, steps, alpha), move, _live = run(update.SGD)
    w0, g, m0, v0 = slots(ws0)
    w, g1, m, v = slots(ws)
    np.testing.assert_allclose(w, np.where(move, w0 - 0.5 * g, w0), rtol=1e-6)
    assert np.array_equal(w[~move], w0[~move])
    assert np.array_equal(ws[2 * LANES :], ws0[2 * LANES :]) and np.array_equal(steps, steps0)


@pytest.mark.parametrize("rule", [update.MOMENTUM, update.NESTEROV])
def test_momentum_and_nesterov(rule):
    """step mutants on momentum: m = mu m - lr g; w += m, or w += mu m - lr g (Nesterov, the new m); only where
    the flag is > 0 and the lane had rows, the state too; the second state untouched."""
    (ws0, _), (ws, _steps, _alpha), move, live = run(rule)
    w0, g, m0, v0 = slots(ws0)
    w, _g, m, v = slots(ws)
    moves = move & live[None, :]
    m_new = 0.75 * m0 - 0.5 * g
    w_new = w0 + (0.75 * m_new - 0.5 * g if rule == update.NESTEROV else m_new)
    np.testing.assert_allclose(m, np.where(moves, m_new, m0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w, np.where(moves, w_new, w0), rtol=1e-5, atol=1e-6)
    assert np.array_equal(w[~moves], w0[~moves]) and np.array_equal(m[~moves], m0[~moves])
    assert np.array_equal(v, v0)
    assert moves.any() and (~moves).any()


def test_adam():
    """step mutants on Adam: the step count (+1 in a lane with rows, none without), alpha = lr sqrt(1 - beta_2^t) /
    (1 - beta_1^t), m += (g - m) c1, v += (g^2 - v) c2, w -= m alpha / (sqrt(v) + epsilon); only where the flag is
    > 0 and the lane had rows."""
    (ws0, steps0), (ws, steps, alpha), move, live = run(update.ADAM)
    w0, g, m0, v0 = slots(ws0)
    w, _g, m, v = slots(ws)
    assert np.array_equal(steps, steps0 + live)
    t = steps.astype(np.float64)
    expected_alpha = 0.5 * np.sqrt(1 - 0.875**t) / (1 - 0.625**t)
    np.testing.assert_allclose(alpha[live], expected_alpha[live], rtol=1e-5)
    moves = move & live[None, :]
    m_new = m0 + (g - m0) * 0.375
    v_new = v0 + (g * g - v0) * 0.125
    w_new = w0 - m_new * expected_alpha / (np.sqrt(v_new) + 0.25)
    np.testing.assert_allclose(m, np.where(moves, m_new, m0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, np.where(moves, v_new, v0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w, np.where(moves, w_new, w0), rtol=1e-5, atol=1e-6)
    for now, then in ((w, w0), (m, m0), (v, v0)):
        assert np.array_equal(now[~moves], then[~moves])


def test_frozen_weights_stay_bit_identical_under_nan_gradients():
    """step mutants: a frozen weight (flag 0.0) is selected, not multiplied by its flag: a NaN gradient leaves it
    and its optimizer state bit-identical, for every rule."""
    for rule in (update.SGD, update.MOMENTUM, update.NESTEROV, update.ADAM):
        ws, flags, live, steps, alpha = workspace(1)
        ws[3 * LANES : 4 * LANES] = np.nan  # parameter 1's gradient
        before = ws.copy()
        STEP(ws, flags.reshape(-1), live, steps, alpha, Offsets(), rule, HYPER)
        frozen = np.flatnonzero(flags[1] == 0.0)
        for slot in (1, 5, 7):  # parameter 1, its first and second state
            assert np.array_equal(ws[slot * LANES + frozen], before[slot * LANES + frozen])
