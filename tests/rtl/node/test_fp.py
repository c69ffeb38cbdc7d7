"""Bf16Multiplier and Fp32Adder against the golden model, bit for bit.

Each simulation streams thousands of vectors through one unit (one new pair per
cycle, or per settle for the combinational variant) and compares the whole
output array with :mod:`verif.golden` at the end.
"""

import gc
import itertools
import warnings

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from rtl.node.fp import CANONICAL_NAN, Bf16Multiplier, Fp32Adder
from verif import golden

# -- harness -----------------------------------------------------------------------


def simulate(dut, a, b):
    """Stream the pairs ``(a[i], b[i])`` through ``dut``; return its outputs in order.

    The output for pair i is read ``dut.latency`` cycles after the pair is
    applied (for latency 0, after the combinational logic settles).
    """
    a, b = np.asarray(a).tolist(), np.asarray(b).tolist()
    assert len(a) == len(b)
    latency = dut.latency
    out = [None] * len(a)

    async def testbench(ctx):
        for i in range(len(a) + latency):
            if i < len(a):
                ctx.set(dut.a, a[i])
                ctx.set(dut.b, b[i])
            if i >= latency:
                out[i - latency] = ctx.get(dut.o)
            if latency:
                await ctx.tick()

    sim = Simulator(dut)
    if latency:
        sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return np.array(out, dtype=np.uint32)


def assert_bit_exact(a, b, got, expected):
    bad = np.flatnonzero(got != expected)
    if bad.size:
        rows = [f"{int(a[i]):#x} {int(b[i]):#x}: got {int(got[i]):#010x}, "
                f"expected {int(expected[i]):#010x}" for i in bad[:10]]
        raise AssertionError(f"{bad.size} of {len(got)} vectors differ:\n" + "\n".join(rows))


def pairs(values_a, values_b=None):
    """All ordered pairs of two value lists, as two arrays."""
    values_b = values_a if values_b is None else values_b
    p = np.array(list(itertools.product(values_a, values_b)), dtype=np.uint64)
    return p[:, 0], p[:, 1]


# -- vector sets: bf16 multiplier ------------------------------------------------------

def bf16(sign, exp, frac):
    return (sign << 15) | (exp << 7) | frac


#: zeros, subnormals, the normal extremes, ones, infinities and NaNs of both signs
BF16_SPECIALS = [bf16(s, e, f) for s in (0, 1) for e, f in [
    (0, 0), (0, 1), (0, 0x7F), (1, 0), (1, 0x7F), (2, 0x40), (126, 0x7F), (127, 0), (127, 1),
    (128, 0x55), (253, 0x7F), (254, 0), (254, 0x7F), (255, 0), (255, 1), (255, 0x40), (255, 0x7F)]]


def mul_threshold_vectors():
    """Every exponent pair whose product lands on the flush or the overflow threshold.

    For each first exponent, the second is chosen so that ea + eb - 127 (the
    product exponent before the normalisation carry) is -1..2 or 253..255, with
    fractions that do and do not carry, and both result signs.
    """
    fracs = [0, 1, 0x35, 0x40, 0x7F]
    a, b = [], []
    for ea in range(1, 255):
        for target in (-1, 0, 1, 2, 253, 254, 255):
            eb = target + 127 - ea
            if not 1 <= eb <= 254:
                continue
            for fa, fb in itertools.product(fracs, fracs):
                sa = (ea + fa) & 1
                a.append(bf16(sa, ea, fa))
                b.append(bf16((fb >> 1) & 1, eb, fb))
    return np.array(a, np.uint16), np.array(b, np.uint16)


def mul_vectors(rng, n_random):
    sa, sb = pairs(BF16_SPECIALS)                                 # 34 x 34
    ta, tb = mul_threshold_vectors()                              # ~21k
    # every fraction pair at one exponent pair: the full 8 x 8 significand product
    ma, mb = pairs([bf16(0, 127, f) for f in range(128)], [bf16(1, 100, f) for f in range(128)])
    ra = np.r_[golden.interesting_bf16(rng, n_random // 2), rng.integers(0, 1 << 16, n_random // 2)]
    rb = np.r_[golden.interesting_bf16(rng, n_random // 2), rng.integers(0, 1 << 16, n_random // 2)]
    a = np.r_[sa, ta, ma, ra].astype(np.uint16)
    b = np.r_[sb, tb, mb, rb].astype(np.uint16)
    return a, b


# -- vector sets: fp32 adder -----------------------------------------------------------

def fp32(sign, exp, frac):
    return (sign << 31) | (exp << 23) | frac


FP32_SPECIALS = [fp32(s, e, f) for s in (0, 1) for e, f in [
    (0, 0), (0, 1), (0, 0x7FFFFF), (1, 0), (1, 1), (2, 0), (127, 0), (127, 1), (150, 0x7FFFFF),
    (254, 0), (254, 0x7FFFFF), (255, 0), (255, 1), (255, 0x400000), (255, 0x7FFFFF)]]


def add_threshold_vectors():
    """All sign/exponent combinations near the flush and overflow thresholds.

    Exponents 1..4 (cancellation below 2^-126), 24..29 (distances around the
    guard/round/sticky positions from the small ones) and 252..254 (overflow),
    with fractions next to powers of two and a mid value.
    """
    exps = [1, 2, 3, 4, 24, 25, 26, 27, 28, 29, 252, 253, 254]
    fracs = [0, 1, 0x400000, 0x400001, 0x7FFFFE, 0x7FFFFF]
    values = [fp32(s, e, f) for s in (0, 1) for e in exps for f in fracs]
    return pairs(values)                                          # 156 x 156


def add_rounding_vectors(rng, n):
    """Pairs at every exponent distance 0..30, with fractions that make ties.

    The small operand is a power of two, three-halves of one, or random, so
    the bits shifted out are exactly half an ulp, just above or just below.
    """
    dist = rng.integers(0, 31, n)
    e_big = rng.integers(35, 220, n)
    big = fp32(rng.integers(0, 2, n), e_big, rng.integers(0, 1 << 23, n))
    small_frac = rng.choice([0, 0x400000, 1, 0x7FFFFF, int(rng.integers(0, 1 << 23))], n)
    small = fp32(rng.integers(0, 2, n), e_big - dist, small_frac)
    return big, small


def add_cancellation_vectors(rng, n):
    """b = -(a + delta) for small integer deltas on the bit pattern: massive cancellation."""
    a = golden.interesting_fp32(rng, n).astype(np.int64)
    b = (a ^ (1 << 31)) + rng.integers(-4, 5, n)
    return a, b & 0xFFFFFFFF


def add_vectors(rng, n_random):
    sa, sb = pairs(FP32_SPECIALS)                                 # 30 x 30
    ta, tb = add_threshold_vectors()                              # ~24k
    ra, rb = add_rounding_vectors(rng, n_random)
    ca, cb = add_cancellation_vectors(rng, n_random)
    ia = golden.interesting_fp32(rng, n_random)
    ib = golden.interesting_fp32(rng, n_random)
    ua = rng.integers(0, 1 << 32, n_random, dtype=np.uint64)
    ub = rng.integers(0, 1 << 32, n_random, dtype=np.uint64)
    a = np.r_[sa, ta, ra, ca, ia, ua].astype(np.uint32)
    b = np.r_[sb, tb, rb, cb, ib, ub].astype(np.uint32)
    return a, b


# -- tests -----------------------------------------------------------------------------

def test_mul_full_sweep_comb():
    a, b = mul_vectors(np.random.default_rng(10), 6000)
    assert len(a) > 40000
    got = simulate(Bf16Multiplier(stages=0), a, b)
    assert_bit_exact(a, b, got, golden.bf16_mul(a, b))
    # the sweep actually exercises every outcome class
    for cls in (CANONICAL_NAN, 0x7F800000, 0xFF800000, 0x00000000, 0x80000000, 0x00800000):
        assert np.any(got == cls), hex(cls)


def test_mul_pipelined():
    rng = np.random.default_rng(11)
    sa, sb = pairs(BF16_SPECIALS)
    a = np.r_[sa, golden.interesting_bf16(rng, 3000)].astype(np.uint16)
    b = np.r_[sb, golden.interesting_bf16(rng, 3000)].astype(np.uint16)
    dut = Bf16Multiplier(stages=1)
    assert dut.latency == 1
    assert_bit_exact(a, b, simulate(dut, a, b), golden.bf16_mul(a, b))


def test_add_full_sweep_comb():
    a, b = add_vectors(np.random.default_rng(20), 3000)
    assert len(a) > 35000
    got = simulate(Fp32Adder(stages=0), a, b)
    assert_bit_exact(a, b, got, golden.fp32_add(a, b))
    for cls in (CANONICAL_NAN, 0x7F800000, 0xFF800000, 0x00000000, 0x80000000):
        assert np.any(got == cls), hex(cls)


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_add_pipelined(stages):
    rng = np.random.default_rng(21 + stages)
    sa, sb = pairs(FP32_SPECIALS)
    ra, rb = add_rounding_vectors(rng, 1000)
    ca, cb = add_cancellation_vectors(rng, 1000)
    ia, ib = golden.interesting_fp32(rng, 1000), golden.interesting_fp32(rng, 1000)
    a = np.r_[sa, ra, ca, ia].astype(np.uint32)
    b = np.r_[sb, rb, cb, ib].astype(np.uint32)
    dut = Fp32Adder(stages=stages)
    assert dut.latency == stages
    assert_bit_exact(a, b, simulate(dut, a, b), golden.fp32_add(a, b))


ADD_SPOT = [
    (0x3F800000, 0x33800000, 0x3F800000),   # tie to even, down
    (0x3F800001, 0x33800000, 0x3F800002),   # tie to even, up
    (0x3F800000, 0xBF800000, 0x00000000),   # x - x = +0
    (0x80000000, 0x80000000, 0x80000000),   # -0 + -0 = -0
    (0x80000000, 0x00000000, 0x00000000),   # -0 + +0 = +0
    (0x00800001, 0x80800000, 0x00000000),   # 2^-149 flushes
    (0x80800001, 0x00800000, 0x80000000),   # -2^-149 flushes to -0
    (0x7F7FFFFF, 0x73000000, 0x7F800000),   # rounds up into infinity
    (0x7F800000, 0xFF800000, CANONICAL_NAN),
    (0x7F800001, 0x00000000, CANONICAL_NAN),
]


@pytest.mark.parametrize("stages", [0, 1])
def test_add_spot_cases(stages):
    a, b, expected = (np.array(c, np.uint32) for c in zip(*ADD_SPOT))
    assert_bit_exact(a, b, simulate(Fp32Adder(stages=stages), a, b), expected)


def test_mul_spot_cases():
    cases = [(0x0080, 0x3F00, 0x00000000), (0x5F80, 0x5F80, 0x7F800000), (0x7F80, 0x0001, CANONICAL_NAN),
             (0x8000, 0x3F80, 0x80000000), (0x3FFF, 0x3FFF, 0x407E0100), (0x0100, 0x3F40, 0x00C00000)]
    a, b, expected = (np.array(c, np.uint32) for c in zip(*cases))
    assert_bit_exact(a, b, simulate(Bf16Multiplier(stages=0), a, b), expected)


def assert_rejected(cls, match, **kwargs):
    """``cls(**kwargs)`` raises ValueError matching ``match`` (and leaves no warning behind)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match=match):
            cls(**kwargs)
        gc.collect()


@pytest.mark.parametrize("cls,maximum", [(Bf16Multiplier, 1), (Fp32Adder, 3)])
def test_stages_validated(cls, maximum):
    assert_rejected(cls, rf"stages must be an integer in 0\.\.{maximum}, not {maximum + 1}",
                    stages=maximum + 1)
    assert_rejected(cls, "not True", stages=True)


@pytest.mark.parametrize("cls,stages", [(Bf16Multiplier, 0), (Bf16Multiplier, 1),
                                        (Fp32Adder, 0), (Fp32Adder, 3)])
def test_verilog(cls, stages):
    dut = cls(stages=stages)
    text = verilog.convert(dut, emit_src=False)
    assert "module top" in text
    assert ("posedge clk" in text) == (dut.latency > 0)
