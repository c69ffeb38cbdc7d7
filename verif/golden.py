"""Bit-exact golden model of the matrix engine numerics (DESIGN.md section 6).

Every function works on integer bit patterns held in numpy arrays (``uint16``
for bf16, ``uint32`` for fp32, ``int8``/``int32`` for the integer mode), is
vectorised and broadcasts like numpy arithmetic. Scalars are accepted.

The contract, as implemented here and by ``rtl/node/fp.py``:

- a subnormal bf16 input of a product, and a subnormal fp32 input of an add
  (including a subnormal ``C0``), is read as zero of the same sign;
- a bf16 x bf16 product is exact (at most 16 significant bits); a magnitude
  below 2^-126 becomes zero of its sign (the sign is the xor of the input
  signs), a magnitude of 2^128 or more becomes infinity of its sign;
- an fp32 add is rounded to nearest, ties to even; a result whose magnitude is
  below 2^-126 becomes zero of its sign; the exact zero sum of opposite
  operands is +0 (-0 + -0 is -0); overflow rounds to infinity;
- any NaN operand, inf x 0 and inf - inf give the canonical quiet NaN
  ``0x7FC00000``; infinities otherwise follow IEEE 754;
- GEMM accumulates sequentially over k:
  ``C[i,j] = fl(...fl(fl(C0[i,j] + p0) + p1)... + p(K-1))``;
- int8 mode: int8 x int8 products summed into int32 with two's-complement
  wrap-around.

Why numpy float arithmetic is exact enough: a product of two bf16 values is
exact in float64; an fp32 sum computed by numpy is IEEE round-to-nearest-even
with gradual underflow, and a sum of two normal fp32 values whose exact value
is below 2^-126 is a multiple of 2^-149, hence exact as a subnormal, so "add,
then flush" equals "flush the exact sum".
"""

import numpy as np

__all__ = [
    "CANONICAL_NAN",
    "FP32_MIN_NORMAL_BITS",
    "bf16_to_f32_bits", "f32_bits_to_bf16",
    "bf16_bits_to_float", "float_to_bf16_bits",
    "f32_bits_to_float", "float_to_f32_bits",
    "ftz_bf16", "ftz_fp32", "gemm_bf16_batch",
    "bf16_mul", "fp32_add",
    "gemm_bf16", "gemm_int8",
    "interesting_bf16", "interesting_fp32",
]

#: the one NaN the engine produces
CANONICAL_NAN = 0x7FC00000
#: 2^-126, the smallest normal fp32 magnitude
FP32_MIN_NORMAL_BITS = 0x00800000

_EXP32 = np.uint32(0x7F800000)
_FRAC32 = np.uint32(0x007FFFFF)
_SIGN32 = np.uint32(0x80000000)


def _u16(x):
    return np.asarray(x).astype(np.uint16, copy=False)


def _u32(x):
    return np.asarray(x).astype(np.uint32, copy=False)


# -- conversions ------------------------------------------------------------

def bf16_to_f32_bits(a):
    """bf16 bit patterns -> the fp32 bit patterns of the same value (exact)."""
    return _u16(a).astype(np.uint32) << np.uint32(16)


def f32_bits_to_bf16(a):
    """fp32 bit patterns whose low 16 bits are zero -> bf16 bit patterns.

    Raises
    ------
    ValueError
        If a value is not exactly representable in bf16 (no silent rounding).
    """
    a = _u32(a)
    if np.any(a & np.uint32(0xFFFF)):
        raise ValueError("fp32 values with nonzero low 16 bits are not exact bf16 values")
    return (a >> np.uint32(16)).astype(np.uint16)


def f32_bits_to_float(a):
    """fp32 bit patterns -> ``float32`` array (a view of the same bits)."""
    return _u32(a).view(np.float32)


def float_to_f32_bits(x):
    """``float32``-representable values -> fp32 bit patterns."""
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def bf16_bits_to_float(a):
    """bf16 bit patterns -> ``float32`` array holding the exact values."""
    return f32_bits_to_float(bf16_to_f32_bits(a))


def float_to_bf16_bits(x):
    """``float32`` values that are exact bf16 values -> bf16 bit patterns.

    Raises
    ------
    ValueError
        If a value is not exactly representable in bf16.
    """
    return f32_bits_to_bf16(float_to_f32_bits(x))


# -- flush to zero ----------------------------------------------------------

def ftz_bf16(a):
    """A subnormal bf16 becomes zero of its sign (bit patterns in and out)."""
    a = _u16(a)
    return np.where((a & np.uint16(0x7F80)) == 0, a & np.uint16(0x8000), a).astype(np.uint16)


def ftz_fp32(a):
    """A subnormal fp32 becomes zero of its sign (bit patterns in and out)."""
    a = _u32(a)
    return np.where((a & _EXP32) == 0, a & _SIGN32, a).astype(np.uint32)


def _is_nan32(a):
    return ((a & _EXP32) == _EXP32) & ((a & _FRAC32) != 0)


def _finish(x, nan):
    """float32 result -> bits; flush results below 2^-126, canonicalise NaN."""
    bits = float_to_f32_bits(x).copy()
    bits = ftz_fp32(bits)
    return np.where(nan | _is_nan32(bits), np.uint32(CANONICAL_NAN), bits).astype(np.uint32)


# -- arithmetic -------------------------------------------------------------

def bf16_mul(a, b):
    """bf16 x bf16 -> fp32 bit patterns, per the contract.

    Parameters
    ----------
    a, b : array_like of uint16
        bf16 bit patterns (broadcast against each other).

    Returns
    -------
    numpy.ndarray of uint32
        The product's fp32 bit pattern.
    """
    fa = bf16_to_f32_bits(ftz_bf16(a))
    fb = bf16_to_f32_bits(ftz_bf16(b))
    nan = _is_nan32(fa) | _is_nan32(fb)
    # float64 products of float32 values with 8-bit significands are exact;
    # inf x 0 gives NaN, caught by _finish
    with np.errstate(invalid="ignore", over="ignore"):
        p = f32_bits_to_float(fa).astype(np.float64) * f32_bits_to_float(fb).astype(np.float64)
        mag = np.abs(p)
        p = np.where(mag < 2.0 ** -126, np.copysign(0.0, p), p)
        p = np.where(mag >= 2.0 ** 128, np.copysign(np.inf, p), p)
        p32 = p.astype(np.float32)  # exact: the value is a normal fp32, zero, inf or NaN
    return _finish(p32, nan)


def fp32_add(a, b):
    """fp32 + fp32 -> fp32 bit patterns, per the contract (RNE, FTZ, canonical NaN).

    Parameters
    ----------
    a, b : array_like of uint32
        fp32 bit patterns (broadcast against each other).

    Returns
    -------
    numpy.ndarray of uint32
    """
    fa = ftz_fp32(a)
    fb = ftz_fp32(b)
    nan = _is_nan32(fa) | _is_nan32(fb)
    with np.errstate(invalid="ignore", over="ignore"):
        s = f32_bits_to_float(fa) + f32_bits_to_float(fb)
    return _finish(s, nan)


def gemm_bf16(a, b, c0=None):
    """``C = C0 + A x B`` in bf16 with sequential fp32 accumulation over k.

    Parameters
    ----------
    a : array_like of uint16, shape (M, K)
        bf16 bit patterns.
    b : array_like of uint16, shape (K, N)
        bf16 bit patterns.
    c0 : array_like of uint32, shape (M, N), optional
        fp32 bit patterns of the initial accumulator; +0 when omitted. It is
        returned unchanged when K is 0, and read through flush-to-zero by the
        first add otherwise.

    Returns
    -------
    numpy.ndarray of uint32, shape (M, N)
    """
    a = _u16(a)
    b = _u16(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not form a matrix product")
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n), np.uint32) if c0 is None else _u32(c0).copy()
    if c.shape != (m, n):
        raise ValueError(f"c0 has shape {c.shape}, expected {(m, n)}")
    for kk in range(k):
        c = fp32_add(c, bf16_mul(a[:, kk, None], b[None, kk, :]))
    return c


def gemm_bf16_batch(a, b):
    """:func:`gemm_bf16` (from +0) of a stack of products: ``a`` (B, M, K) and ``b``
    (B, K, N) bf16 bit patterns -> (B, M, N) fp32 bit patterns, each bit for bit
    :func:`gemm_bf16`'s (the same elementwise steps in the same order over k), in K numpy
    steps instead of B x K (a workload's expected C blocks at once)."""
    a = _u16(a)
    b = _u16(b)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not form a stack of matrix "
                         f"products")
    c = np.zeros((a.shape[0], a.shape[1], b.shape[2]), np.uint32)
    for kk in range(a.shape[2]):
        c = fp32_add(c, bf16_mul(a[:, :, kk, None], b[:, None, kk, :]))
    return c


def gemm_int8(a, b, c0=None):
    """``C = C0 + A x B`` for int8 operands into int32 with wrap-around.

    Parameters
    ----------
    a : array_like of int8, shape (M, K)
    b : array_like of int8, shape (K, N)
    c0 : array_like of int32, shape (M, N), optional
        Zero when omitted.

    Returns
    -------
    numpy.ndarray of int32, shape (M, N)
    """
    a = np.asarray(a).astype(np.int8, copy=False).astype(np.int64)
    b = np.asarray(b).astype(np.int8, copy=False).astype(np.int64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not form a matrix product")
    c = a @ b  # |sum| < 2^14 K: exact in int64 for any practical K
    if c0 is not None:
        c0 = np.asarray(c0).astype(np.int32, copy=False)
        if c0.shape != c.shape:
            raise ValueError(f"c0 has shape {c0.shape}, expected {c.shape}")
        c = c + c0
    return (c & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


# -- test-vector generators -------------------------------------------------

def interesting_bf16(rng, n):
    """``n`` random bf16 patterns weighted to the exponents and fractions that matter.

    Exponents near zero (subnormal, flush threshold), near 127 (products near
    one), 63..65 (products near 2^-126 and 2^128 when squared) and 253..255
    (overflow, infinity, NaN), plus uniformly random ones.
    """
    sign = rng.integers(0, 2, n) << 15
    exp = rng.choice(np.r_[0, 1, 2, 255, 254, 253, 63, 64, 65, 126, 127, 128,
                           rng.integers(0, 256, 20)], n)
    frac = rng.choice(np.r_[0, 1, 0x40, 0x7F, rng.integers(0, 128, 8)], n)
    return (sign | (exp << 7) | frac).astype(np.uint16)


def interesting_fp32(rng, n):
    """``n`` random fp32 patterns weighted to the exponents and fractions that matter."""
    sign = rng.integers(0, 2, n).astype(np.uint32) << np.uint32(31)
    exp = rng.choice(np.r_[0, 1, 2, 3, 254, 253, 255, 127,
                           rng.integers(0, 256, 24)], n).astype(np.uint32)
    frac = rng.choice(np.r_[0, 1, 2, 0x400000, 0x7FFFFF, 0x7FFFFE,
                            rng.integers(0, 1 << 23, 16)], n).astype(np.uint32)
    return (sign | (exp << np.uint32(23)) | frac).astype(np.uint32)
