"""`exp` and `log` for the Numba kernel, written out, and the one place where the kernel's Numba settings live.

`exp` and `log` are written out (`fast_exp`, `fast_log`: Cephes' single-precision polynomials, the power of two
and the exponent read from the float's bits) because Numba 0.62+ has no SVML: `np.exp` in a loop is a scalar
libm call per element, which also stops the loop from vectorising. They stay within 2 and 3 ulp of libm (tested)
and keep NaN and inf, so a diverged run is still reported as one. `exp_array` and `log_array` expose them to
the tests.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import config as numba_config
from numba.extending import intrinsic

F32 = np.float32
# FMA contraction only (as XLA does): no reassociation, so each replica's sums run in one fixed order; never
# nnan/ninf, the divergence check needs NaN and inf to survive.
FASTMATH = {"contract"}
JIT = dict(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)
# A cached callee is linked into its caller as machine code, which LLVM cannot inline, and a call in a loop over
# lanes stops the loop from vectorising (a loop of `_exp` calls ran 15x slower): the per-element helpers are
# inlined by Numba itself. The shuffle, called once per lane and epoch, stays a function (HELPER, not cached:
# the cached entry points carry it with them).
INLINE = dict(inline="always", fastmath=FASTMATH, error_model="numpy", boundscheck=False)
HELPER = dict(nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)


def _py_bits(x):
    return np.array(x, np.float32).view(np.int32)[()]


def _py_from_bits(i):
    return np.array(i, np.int32).view(np.float32)[()]


@intrinsic
def _bits(typingctx, x):
    """The bits of a float32 as an int32 (a bit cast: free, and it vectorises)."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float32 whose bits are this int32."""
    if i != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


if numba_config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the kernel runs as Python, and an intrinsic cannot
    _bits, _from_bits = _py_bits, _py_from_bits


@njit(**INLINE)
def fast_exp(x):
    """exp of a float32 (Cephes expf): x = k ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^k
    built from its exponent bits (as two normal factors, so subnormal results round once). NaN gives NaN."""
    x0 = F32(x)
    x = F32(88.72) if x0 > F32(88.72) else x0
    x = F32(-104.0) if x < F32(-104.0) else x  # below: under half the smallest subnormal
    k = np.floor(x * F32(1.44269504088896341) + F32(0.5))
    r = x - k * F32(0.693359375) - k * F32(-2.12194440e-4)
    p = F32(1.9875691500e-4)
    p = p * r + F32(1.3981999507e-3)
    p = p * r + F32(8.3334519073e-3)
    p = p * r + F32(4.1665795894e-2)
    p = p * r + F32(1.6666665459e-1)
    p = p * r + F32(5.0000001201e-1)
    y = p * r * r + r + F32(1.0)
    ki = np.int32(k) if k == k else np.int32(0)  # k in [-150, 128]; NaN: any scale, y is NaN
    k1 = ki >> np.int32(1)  # 2^k as 2^k1 * 2^k2, both normal: one rounding, into subnormals where due
    k2 = ki - k1
    out = (
        y
        * _from_bits(np.int32((k1 + np.int32(127)) << np.int32(23)))
        * _from_bits(np.int32((k2 + np.int32(127)) << np.int32(23)))
    )
    return F32(np.inf) if x0 > F32(88.72284) else out


@njit(**INLINE)
def fast_log(x):
    """log of a float32 (Cephes logf): x = 2^e m from its bits, m brought into [sqrt(1/2), sqrt 2), a degree-9
    polynomial in m - 1. inf gives inf, NaN and x < 0 NaN, 0 -inf; normal numbers only (the loss takes the
    log of a softmax denominator, in [1, classes])."""
    x0 = F32(x)
    bits = _bits(x0)
    e = F32((bits >> np.int32(23)) - np.int32(127))
    m = _from_bits(np.int32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F800000)))  # in [1, 2)
    big = m > F32(1.41421356237309505)
    m = m * F32(0.5) if big else m
    e = e + F32(1.0) if big else e
    x = m - F32(1.0)
    z = x * x
    y = F32(7.0376836292e-2)
    y = y * x - F32(1.1514610310e-1)
    y = y * x + F32(1.1676998740e-1)
    y = y * x - F32(1.2420140846e-1)
    y = y * x + F32(1.4249322787e-1)
    y = y * x - F32(1.6668057665e-1)
    y = y * x + F32(2.0000714765e-1)
    y = y * x - F32(2.4999993993e-1)
    y = y * x + F32(3.3333331174e-1)
    y = y * x * z
    y += e * F32(-2.12194440e-4)
    y += F32(-0.5) * z
    out = x + y + e * F32(0.693359375)
    out = x0 if x0 == F32(np.inf) else out
    out = F32(-np.inf) if x0 == F32(0.0) else out
    return F32(np.nan) if (x0 < F32(0.0) or x0 != x0) else out


@njit(**JIT)
def exp_array(x):
    """Elementwise `fast_exp` of a float32 array (for tests and measurements)."""
    out = np.empty_like(x)
    flat, res = x.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = fast_exp(flat[i])
    return out


@njit(**JIT)
def log_array(x):
    """Elementwise `fast_log` of a float32 array (for tests and measurements)."""
    out = np.empty_like(x)
    flat, res = x.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = fast_log(flat[i])
    return out
