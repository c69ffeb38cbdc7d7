"""The golden model against hand-computed cases and an independent exact model.

The independent model (``ref_mul``, ``ref_add``) works on Python
``fractions.Fraction`` values and rounds by hand; it shares no code with
``verif.golden``.
"""

from fractions import Fraction

import numpy as np
import pytest

from verif import golden
from verif.golden import (CANONICAL_NAN, bf16_mul, fp32_add, gemm_bf16, gemm_int8,
                          interesting_bf16, interesting_fp32)

# -- independent scalar reference ------------------------------------------------


def _decode(bits, exp_bits, frac_bits):
    """-> ("nan",), ("inf", sign), ("num", sign, Fraction) with subnormals read as zero."""
    sign = (bits >> (exp_bits + frac_bits)) & 1
    exp = (bits >> frac_bits) & ((1 << exp_bits) - 1)
    frac = bits & ((1 << frac_bits) - 1)
    bias = (1 << (exp_bits - 1)) - 1
    if exp == (1 << exp_bits) - 1:
        return ("nan",) if frac else ("inf", sign)
    if exp == 0:
        return ("num", sign, Fraction(0))
    return ("num", sign, Fraction((1 << frac_bits) | frac, 1 << frac_bits) * Fraction(2) ** (exp - bias))


def _encode_fp32(sign, mag):
    """Round a nonnegative Fraction to fp32 (RNE), flush below 2^-126, overflow to inf."""
    if mag < Fraction(2) ** -126:
        return sign << 31
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** e > mag:
        e -= 1
    assert Fraction(2) ** e <= mag < Fraction(2) ** (e + 1)
    scaled = mag / Fraction(2) ** (e - 23)          # in [2^23, 2^24)
    m = scaled.numerator // scaled.denominator
    rest = scaled - m
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and m & 1):
        m += 1
    if m == 1 << 24:
        m, e = 1 << 23, e + 1
    if e > 127:
        return (sign << 31) | 0x7F800000
    return (sign << 31) | ((e + 127) << 23) | (m - (1 << 23))


def ref_mul(a, b):
    x, y = _decode(a, 8, 7), _decode(b, 8, 7)
    if x[0] == "nan" or y[0] == "nan":
        return CANONICAL_NAN
    sign = x[1] ^ y[1]
    if x[0] == "inf" or y[0] == "inf":
        other = y if x[0] == "inf" else x
        if other[0] == "num" and other[2] == 0:
            return CANONICAL_NAN
        return (sign << 31) | 0x7F800000
    p = x[2] * y[2]
    if p >= Fraction(2) ** 128:
        return (sign << 31) | 0x7F800000
    bits = _encode_fp32(sign, p)
    if p >= Fraction(2) ** -126:  # the product must be exact in fp32
        assert _decode(bits, 8, 23)[2] == p
    return bits


def ref_add(a, b):
    x, y = _decode(a, 8, 23), _decode(b, 8, 23)
    if x[0] == "nan" or y[0] == "nan":
        return CANONICAL_NAN
    if x[0] == "inf" and y[0] == "inf":
        return CANONICAL_NAN if x[1] != y[1] else (x[1] << 31) | 0x7F800000
    if x[0] == "inf" or y[0] == "inf":
        return ((x if x[0] == "inf" else y)[1] << 31) | 0x7F800000
    if x[2] == 0 and y[2] == 0:
        return (x[1] & y[1]) << 31
    s = (-x[2] if x[1] else x[2]) + (-y[2] if y[1] else y[2])
    if s == 0:
        return 0
    return _encode_fp32(int(s < 0), abs(s))


# -- hand-computed cases ---------------------------------------------------------

MUL_CASES = [
    # a, b, expected, why
    (0x3F80, 0x3F80, 0x3F800000, "1 x 1"),
    (0x3FC0, 0x3FC0, 0x40100000, "1.5 x 1.5 = 2.25"),
    (0x3FFF, 0x3FFF, 0x407E0100, "(255/128)^2 keeps all 16 product bits"),
    (0xBFC0, 0x4000, 0xC0400000, "-1.5 x 2"),
    (0x8000, 0x3F80, 0x80000000, "-0 x 1 = -0"),
    (0x8000, 0x8000, 0x00000000, "-0 x -0 = +0"),
    (0x0001, 0x7F7F, 0x00000000, "subnormal input is zero"),
    (0x8001, 0xBF80, 0x00000000, "-subnormal x -1 = +0"),
    (0x807F, 0x3F80, 0x80000000, "largest -subnormal x 1 = -0"),
    (0x0080, 0x3F80, 0x00800000, "2^-126 x 1 stays"),
    (0x0080, 0x3F00, 0x00000000, "2^-126 x 0.5 flushes"),
    (0x0080, 0xBF00, 0x80000000, "2^-126 x -0.5 flushes to -0"),
    (0x00FF, 0x3F00, 0x00000000, "just below 2^-126 flushes"),
    (0x2000, 0x2000, 0x00800000, "2^-63 x 2^-63 = 2^-126"),
    (0x2000, 0x1F80, 0x00000000, "2^-63 x 2^-64 = 2^-127 flushes"),
    (0x0100, 0x3F40, 0x00C00000, "2^-125 x 0.75 = 1.5 x 2^-126 stays"),
    (0x5F80, 0x5F80, 0x7F800000, "2^64 x 2^64 = 2^128 overflows"),
    (0xDF80, 0x5F80, 0xFF800000, "-2^64 x 2^64 = -inf"),
    (0x5F80, 0x5F7F, 0x7F7F0000, "just below 2^128 stays finite"),
    (0x7F7F, 0x7F7F, 0x7F800000, "max x max overflows"),
    (0x7F80, 0xC000, 0xFF800000, "inf x -2 = -inf"),
    (0xFF80, 0xFF80, 0x7F800000, "-inf x -inf = inf"),
    (0x7F80, 0x0001, CANONICAL_NAN, "inf x subnormal(=0) is NaN"),
    (0x8000, 0xFF80, CANONICAL_NAN, "-0 x -inf is NaN"),
    (0x7FC1, 0x3F80, CANONICAL_NAN, "quiet NaN with payload"),
    (0xFF81, 0x0000, CANONICAL_NAN, "negative signalling NaN"),
    (0x7F80, 0x7F81, CANONICAL_NAN, "inf x NaN"),
]

ADD_CASES = [
    (0x3F800000, 0x33800000, 0x3F800000, "1 + 2^-24: tie to even (down)"),
    (0x3F800001, 0x33800000, 0x3F800002, "(1+2^-23) + 2^-24: tie to even (up)"),
    (0x3F800000, 0x33C00000, 0x3F800001, "above the tie rounds up"),
    (0x3F800000, 0x33400000, 0x3F800000, "below the tie rounds down"),
    (0x3F800000, 0xB3800000, 0x3F7FFFFF, "1 - 2^-24 is exact"),
    (0x3F800000, 0xB3000000, 0x3F800000, "1 - 2^-25: tie to even, up to 1"),
    (0x3F800000, 0xBF800000, 0x00000000, "1 - 1 = +0"),
    (0xBF800000, 0x3F800000, 0x00000000, "-1 + 1 = +0"),
    (0x80000000, 0x80000000, 0x80000000, "-0 + -0 = -0"),
    (0x80000000, 0x00000000, 0x00000000, "-0 + +0 = +0"),
    (0x00000000, 0x80000000, 0x00000000, "+0 + -0 = +0"),
    (0x80000000, 0x3F800000, 0x3F800000, "-0 + 1 = 1"),
    (0x00000001, 0x00000000, 0x00000000, "subnormal input is zero"),
    (0x80000001, 0x80000000, 0x80000000, "-subnormal + -0 = -0"),
    (0x80400000, 0x00000000, 0x00000000, "-subnormal + +0 = +0"),
    (0x00400000, 0x3F800000, 0x3F800000, "subnormal + 1 = 1"),
    (0x00800001, 0x80800000, 0x00000000, "sum 2^-149 flushes to +0"),
    (0x80800001, 0x00800000, 0x80000000, "sum -2^-149 flushes to -0"),
    (0x01000000, 0x80800001, 0x00000000, "2^-125 - (2^-126 + 2^-149) flushes"),
    (0x01000000, 0x80800000, 0x00800000, "2^-125 - 2^-126 = 2^-126 stays"),
    (0x00800000, 0x00800000, 0x01000000, "2^-126 + 2^-126 = 2^-125"),
    (0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000, "max + max overflows"),
    (0x7F7FFFFF, 0x73000000, 0x7F800000, "max + half ulp: tie to even overflows"),
    (0x7F7FFFFF, 0x72800000, 0x7F7FFFFF, "max + quarter ulp stays"),
    (0xFF7FFFFF, 0xF3000000, 0xFF800000, "-max - half ulp overflows to -inf"),
    (0x7F800000, 0x3F800000, 0x7F800000, "inf + 1 = inf"),
    (0xFF800000, 0x7F7FFFFF, 0xFF800000, "-inf + max = -inf"),
    (0x7F800000, 0x00000001, 0x7F800000, "inf + subnormal = inf"),
    (0xFF800000, 0xFF800000, 0xFF800000, "-inf + -inf = -inf"),
    (0x7F800000, 0xFF800000, CANONICAL_NAN, "inf - inf is NaN"),
    (0x7F800001, 0x3F800000, CANONICAL_NAN, "signalling NaN payload"),
    (0xFFC00000, 0x7F800000, CANONICAL_NAN, "negative quiet NaN + inf"),
    (0x00000000, 0x7FFFFFFF, CANONICAL_NAN, "NaN with full payload"),
    (0x4B800000, 0x3F800000, 0x4B800000, "2^24 + 1: tie to even down"),
    (0x4B800000, 0x40400000, 0x4B800002, "2^24 + 3: tie to even up"),
    (0x4F000000, 0xB0000000, 0x4F000000, "2^31 - 2^-31: sticky only, stays 2^31"),
    (0x4F000000, 0xC2800000, 0x4F000000, "2^31 - 64: tie below 2^31, to even (up)"),
    (0x4F000000, 0xC2800001, 0x4EFFFFFF, "2^31 - (64 + tiny): past the tie, down"),
]


@pytest.mark.parametrize("a,b,expected,why", MUL_CASES, ids=[c[3] for c in MUL_CASES])
def test_mul_cases(a, b, expected, why):
    assert ref_mul(a, b) == expected
    assert int(bf16_mul(a, b)) == expected
    assert int(bf16_mul(b, a)) == expected


@pytest.mark.parametrize("a,b,expected,why", ADD_CASES, ids=[c[3] for c in ADD_CASES])
def test_add_cases(a, b, expected, why):
    assert ref_add(a, b) == expected
    assert int(fp32_add(a, b)) == expected
    assert int(fp32_add(b, a)) == expected


# -- random cross-checks against the exact model ------------------------------------

def test_mul_random_vs_exact():
    rng = np.random.default_rng(1)
    a = np.r_[interesting_bf16(rng, 3000), rng.integers(0, 1 << 16, 3000)].astype(np.uint16)
    b = np.r_[interesting_bf16(rng, 3000), rng.integers(0, 1 << 16, 3000)].astype(np.uint16)
    got = bf16_mul(a, b)
    for x, y, g in zip(a.tolist(), b.tolist(), got.tolist()):
        assert g == ref_mul(x, y), (hex(x), hex(y))


def test_add_random_vs_exact():
    rng = np.random.default_rng(2)
    n = 4000
    a = interesting_fp32(rng, n)
    # b: independent, or a near neighbour of -a / a (cancellation and close exponents)
    near = (a ^ np.uint32(rng.integers(0, 2) << 31)) + rng.integers(-3, 4, n).astype(np.uint32)
    shifted = (a & np.uint32(0x807FFFFF)) | (
        (np.clip(((a >> 23) & 0xFF).astype(np.int64) + rng.integers(-30, 31, n), 0, 255)
         .astype(np.uint32)) << 23) ^ np.uint32(1 << 31) * rng.integers(0, 2, n).astype(np.uint32)
    b = np.where(rng.integers(0, 3, n) == 0, interesting_fp32(rng, n),
                 np.where(rng.integers(0, 2, n) == 0, near, shifted)).astype(np.uint32)
    a = np.r_[a, rng.integers(0, 1 << 32, 2000, dtype=np.uint64).astype(np.uint32)]
    b = np.r_[b, rng.integers(0, 1 << 32, 2000, dtype=np.uint64).astype(np.uint32)]
    got = fp32_add(a, b)
    for x, y, g in zip(a.tolist(), b.tolist(), got.tolist()):
        assert g == ref_add(x, y), (hex(x), hex(y))


# -- GEMM --------------------------------------------------------------------------

def _ref_gemm_bf16(a, b, c0):
    m, k = a.shape
    n = b.shape[1]
    c = [[int(c0[i, j]) for j in range(n)] for i in range(m)]
    for i in range(m):
        for j in range(n):
            for kk in range(k):
                c[i][j] = ref_add(c[i][j], ref_mul(int(a[i, kk]), int(b[kk, j])))
    return np.array(c, dtype=np.uint32)


def _random_bf16_values(rng, shape, scale=1.0):
    """Normal-ish bf16 values (so sums actually round)."""
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    return golden.f32_bits_to_bf16(golden.float_to_f32_bits(x) & np.uint32(0xFFFF0000))


@pytest.mark.parametrize("m,k,n", [(3, 17, 4), (1, 64, 1), (4, 1, 4)])
def test_gemm_bf16_vs_exact(m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a = _random_bf16_values(rng, (m, k))
    b = _random_bf16_values(rng, (k, n))
    a.flat[rng.integers(0, a.size, 2)] = interesting_bf16(rng, 2)
    c0 = golden.float_to_f32_bits(rng.standard_normal((m, n)).astype(np.float32))
    c0.flat[0] = 0x00000123  # a subnormal C0 is read as +0
    assert np.array_equal(gemm_bf16(a, b, c0), _ref_gemm_bf16(a, b, c0))
    assert np.array_equal(gemm_bf16(a, b), _ref_gemm_bf16(a, b, np.zeros((m, n), np.uint32)))


def test_gemm_bf16_is_sequential_not_pairwise():
    # 2^24 + 1 + 1: sequential rounding loses both ones; any other order keeps them
    a = golden.float_to_bf16_bits(np.array([[1.0, 1.0, 1.0]], np.float32))
    b = golden.float_to_bf16_bits(np.array([[2.0 ** 24], [1.0], [1.0]], np.float32))
    assert gemm_bf16(a, b)[0, 0] == 0x4B800000
    b2 = golden.float_to_bf16_bits(np.array([[1.0], [1.0], [2.0 ** 24]], np.float32))
    assert gemm_bf16(a, b2)[0, 0] == 0x4B800001  # 2 + 2^24 is exact


def test_gemm_bf16_specials_propagate():
    a = np.array([[0x7F80, 0x3F80], [0x3F80, 0x3F80]], np.uint16)   # inf
    b = np.array([[0x3F80], [0xFF80]], np.uint16)                      # then -inf
    c = gemm_bf16(a, b)
    assert c[0, 0] == CANONICAL_NAN          # inf + -inf
    assert c[1, 0] == 0xFF800000             # 1 + -inf
    c0 = np.array([[0x80000000], [0x80000000]], np.uint32)
    z = gemm_bf16(np.array([[0x8000], [0x0000]], np.uint16), np.array([[0x3F80]], np.uint16), c0)
    assert z.tolist() == [[0x80000000], [0x00000000]]   # -0 + -0, -0 + +0
    assert gemm_bf16(np.zeros((2, 0), np.uint16), np.zeros((0, 1), np.uint16), c0).tolist() == c0.tolist()


def test_gemm_int8_wraps():
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (3, 40)).astype(np.int8)
    b = rng.integers(-128, 128, (40, 5)).astype(np.int8)
    c0 = rng.integers(-2 ** 31, 2 ** 31, (3, 5)).astype(np.int32)
    got = gemm_int8(a, b, c0)
    for i in range(3):
        for j in range(5):
            s = int(c0[i, j]) + sum(int(a[i, k]) * int(b[k, j]) for k in range(40))
            s = (s + 2 ** 31) % 2 ** 32 - 2 ** 31
            assert got[i, j] == s
    big = np.full((1, 1), 2 ** 31 - 1, np.int32)
    assert gemm_int8(np.array([[-128]]), np.array([[-128]]), big)[0, 0] == -2 ** 31 + 16383
    assert gemm_int8(a, b).dtype == np.int32


def test_conversions():
    x = np.array([1.0, -2.5, 0.0, -0.0, np.inf, 3.0e38], np.float32)
    x = golden.f32_bits_to_float(golden.float_to_f32_bits(x) & np.uint32(0xFFFF0000))
    bits = golden.float_to_bf16_bits(x)
    assert bits.dtype == np.uint16
    assert bits[:5].tolist() == [0x3F80, 0xC020, 0x0000, 0x8000, 0x7F80]
    assert np.array_equal(golden.bf16_bits_to_float(bits).view(np.uint32), x.view(np.uint32))
    assert golden.bf16_to_f32_bits(np.uint16(0xBF80)) == 0xBF800000
    with pytest.raises(ValueError, match="not exact bf16"):
        golden.float_to_bf16_bits(np.float32(1.0 + 2.0 ** -10))
    with pytest.raises(ValueError, match="matrix product"):
        gemm_bf16(np.zeros((2, 3), np.uint16), np.zeros((2, 3), np.uint16))
