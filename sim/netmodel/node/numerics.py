"""The numerical contract of :mod:`verif.golden` as scalar numba functions on bit patterns.

Flush-to-zero of subnormal inputs and results, bf16 products exact (in float64), fp32 sums
rounded to nearest even (a float32 add), the canonical NaN for every NaN. Numba has no
scalar bit cast, so a value crosses between its bits and its float through a scratch row of
a uint32 array ``su`` and its float32 view ``sf`` (one row per node, so threads that step
different nodes do not share one).
"""

import math

import numpy as np
from numba import njit

__all__ = ["bf16_mul", "fp32_add", "CANONICAL_NAN"]

#: the one NaN the engine produces (golden.CANONICAL_NAN)
CANONICAL_NAN = 0x7FC00000


@njit(cache=True, _nrt=False, inline="always")
def _ftz32(bits):
    return bits & 0x80000000 if bits & 0x7F800000 == 0 else bits


@njit(cache=True, _nrt=False, inline="always")
def _nan32(bits):
    return bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF != 0


@njit(cache=True, _nrt=False, inline="always")
def _finish(bits, nan, canonical=True):
    """A result's bits: flushed below 2^-126, the canonical NaN for any NaN."""
    bits = _ftz32(bits)
    if not canonical:
        return bits
    return CANONICAL_NAN if nan or _nan32(bits) else bits


@njit(cache=True, _nrt=False, inline="always")
def bf16_mul(n, a, b, su, sf):
    """bf16 x bf16 -> fp32 bits (golden.bf16_mul): exact in float64, then flushed below
    2^-126 and saturated to infinity from 2^128."""
    fa = (a & 0x8000 if a & 0x7F80 == 0 else a) << 16
    fb = (b & 0x8000 if b & 0x7F80 == 0 else b) << 16
    su[n, 0], su[n, 1] = fa, fb
    p = np.float64(sf[n, 0]) * np.float64(sf[n, 1])
    mag = abs(p)
    if mag < 2.0 ** -126:
        p = math.copysign(0.0, p)
    elif mag >= 2.0 ** 128:
        p = math.copysign(math.inf, p)
    sf[n, 2] = p
    return _finish(np.int64(su[n, 2]), _nan32(fa) or _nan32(fb))


@njit(cache=True, _nrt=False, inline="always")
def fp32_add(n, a, b, su, sf, canonical):
    """fp32 + fp32 bits (golden.fp32_add): flushed inputs, a round-to-nearest-even float32
    sum, flushed result, canonical NaN."""
    a, b = _ftz32(a), _ftz32(b)
    su[n, 0], su[n, 1] = a, b
    sf[n, 2] = sf[n, 0] + sf[n, 1]
    return _finish(np.int64(su[n, 2]), _nan32(a) or _nan32(b), canonical)
