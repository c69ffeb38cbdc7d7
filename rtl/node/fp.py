"""Floating-point units of the matrix engine: bf16 multiplier and fp32 adder.

Both implement the numerical contract of DESIGN.md section 6 bit for bit
(the golden model is :mod:`verif.golden`):

- subnormal inputs are read as zero of their sign (flush to zero);
- results whose magnitude is below 2^-126 become zero of their sign;
- the product is exact; the sum is rounded to nearest, ties to even, and
  overflows to infinity; the exact zero sum of opposite operands is +0;
- any NaN input, inf x 0 and inf - inf give the canonical quiet NaN
  ``0x7FC00000``; infinities otherwise follow IEEE 754.

Both units are fully pipelined with a fixed latency equal to ``stages``: one
operation enters every cycle, no stall, no ``valid`` (a caller that needs one
delays it by :attr:`latency` cycles alongside). With ``stages=0`` they are
purely combinational and need no clock.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Bf16Multiplier", "Fp32Adder", "CANONICAL_NAN"]

#: the one NaN the units produce
CANONICAL_NAN = 0x7FC00000

_INF = 0x7F800000


def _check_stages(stages, maximum):
    if not isinstance(stages, int) or isinstance(stages, bool) or not 0 <= stages <= maximum:
        raise ValueError(f"stages must be an integer in 0..{maximum}, not {stages!r}")


def _cut(m, active, name, *values):
    """Pipeline boundary: registered copies of ``values`` when ``active``, else the values."""
    if not active:
        return values
    regs = []
    for i, value in enumerate(values):
        reg = Signal.like(value, name=f"{name}_{i}") if isinstance(value, Signal) \
            else Signal(value.shape(), name=f"{name}_{i}")
        m.d.sync += reg.eq(value)
        regs.append(reg)
    return tuple(regs)


class Bf16Multiplier(wiring.Component):
    """bf16 x bf16 -> fp32, exact, with flush to zero and overflow to infinity.

    Parameters
    ----------
    stages : int
        Pipeline registers, 0 (combinational) or 1 (registered output).

    Attributes
    ----------
    latency : int
        Cycles from ``a``/``b`` to ``o`` (equal to ``stages``).

    Members
    -------
    a : In(16)
        bf16 bit pattern of the first factor; a new pair may enter every cycle.
    b : In(16)
        bf16 bit pattern of the second factor.
    o : Out(32)
        fp32 bit pattern of the product, ``latency`` cycles after its inputs.

    Raises
    ------
    ValueError
        If ``stages`` is not 0 or 1.
    """

    a: In(16)
    b: In(16)
    o: Out(32)

    def __init__(self, *, stages=0):
        _check_stages(stages, 1)
        self._stages = stages
        super().__init__()

    @property
    def stages(self):
        return self._stages

    @property
    def latency(self):
        return self._stages

    def elaborate(self, platform):
        m = Module()

        sa, ea, fa = self.a[15], self.a[7:15], self.a[0:7]
        sb, eb, fb = self.b[15], self.b[7:15], self.b[0:7]
        sign = sa ^ sb

        a_zero, b_zero = ea == 0, eb == 0          # zero or subnormal
        a_inf = (ea == 0xFF) & (fa == 0)
        b_inf = (eb == 0xFF) & (fb == 0)
        a_nan = (ea == 0xFF) & (fa != 0)
        b_nan = (eb == 0xFF) & (fb != 0)

        # 8 x 8 bit significand product in [2^14, 2^16)
        prod = Signal(16)
        m.d.comb += prod.eq(Cat(fa, 1) * Cat(fb, 1))
        top = prod[15]
        # biased exponent of the product: ea + eb - 127 + top, in -125..382
        exp = Signal(range(-128, 512))
        m.d.comb += exp.eq(ea + eb + top - 127)
        frac = Mux(top, Cat(Const(0, 8), prod[0:15]), Cat(Const(0, 9), prod[0:14]))

        result = Signal(32)
        with m.If(a_nan | b_nan | (a_inf & b_zero) | (a_zero & b_inf)):
            m.d.comb += result.eq(CANONICAL_NAN)
        with m.Elif(a_inf | b_inf | (exp > 254)):
            m.d.comb += result.eq(Cat(Const(_INF, 31), sign))
        with m.Elif(a_zero | b_zero | (exp < 1)):
            m.d.comb += result.eq(Cat(Const(0, 31), sign))
        with m.Else():
            m.d.comb += result.eq(Cat(frac, exp[0:8], sign))

        out, = _cut(m, self._stages >= 1, "out", result)
        m.d.comb += self.o.eq(out)
        return m


class Fp32Adder(wiring.Component):
    """fp32 + fp32 -> fp32, round to nearest even, flush to zero, canonical NaN.

    A classic single-path adder: swap so that the first operand has the larger
    magnitude, align the smaller significand with guard, round and sticky bits,
    add or subtract, normalise with a leading-zero count, round.

    Pipeline registers are placed, as ``stages`` grows, at the output (1),
    after the alignment (2) and after the add and leading-zero count (3).

    Parameters
    ----------
    stages : int
        Pipeline registers, 0 (combinational) to 3.

    Attributes
    ----------
    latency : int
        Cycles from ``a``/``b`` to ``o`` (equal to ``stages``).

    Members
    -------
    a : In(32)
        fp32 bit pattern of the first addend; a new pair may enter every cycle.
    b : In(32)
        fp32 bit pattern of the second addend.
    o : Out(32)
        fp32 bit pattern of the sum, ``latency`` cycles after its inputs.

    Raises
    ------
    ValueError
        If ``stages`` is not in 0..3.
    """

    a: In(32)
    b: In(32)
    o: Out(32)

    #: significand (24) + guard, round, sticky
    _W = 27

    def __init__(self, *, stages=0):
        _check_stages(stages, 3)
        self._stages = stages
        super().__init__()

    @property
    def stages(self):
        return self._stages

    @property
    def latency(self):
        return self._stages

    def elaborate(self, platform):
        m = Module()
        W = self._W

        # -- stage A: classify, swap, align ------------------------------------
        sa, ea, fa = self.a[31], self.a[23:31], self.a[0:23]
        sb, eb, fb = self.b[31], self.b[23:31], self.b[0:23]
        a_zero, b_zero = ea == 0, eb == 0          # zero or subnormal
        a_inf = (ea == 0xFF) & (fa == 0)
        b_inf = (eb == 0xFF) & (fb == 0)
        a_nan = (ea == 0xFF) & (fa != 0)
        b_nan = (eb == 0xFF) & (fb != 0)

        # results that bypass the datapath
        special = Signal()
        special_val = Signal(32)
        with m.If(a_nan | b_nan | (a_inf & b_inf & (sa != sb))):
            m.d.comb += [special.eq(1), special_val.eq(CANONICAL_NAN)]
        with m.Elif(a_inf):
            m.d.comb += [special.eq(1), special_val.eq(Cat(Const(_INF, 31), sa))]
        with m.Elif(b_inf):
            m.d.comb += [special.eq(1), special_val.eq(Cat(Const(_INF, 31), sb))]
        with m.Elif(a_zero & b_zero):
            m.d.comb += [special.eq(1), special_val.eq(Cat(Const(0, 31), sa & sb))]
        with m.Elif(a_zero):
            m.d.comb += [special.eq(1), special_val.eq(self.b)]
        with m.Elif(b_zero):
            m.d.comb += [special.eq(1), special_val.eq(self.a)]

        # both operands normal from here on
        swap = self.b[0:31] > self.a[0:31]
        big = Mux(swap, self.b, self.a)
        small = Mux(swap, self.a, self.b)
        sign = big[31]
        subtract = big[31] ^ small[31]
        e_big = big[23:31]
        dist = Signal(8)
        m.d.comb += dist.eq(big[23:31] - small[23:31])
        shamt = Mux(dist > W, W, dist)
        # small significand with three zero guard bits, shifted right by shamt
        # inside a 2W-bit window: the low W bits are what falls off (sticky)
        window = Signal(2 * W)
        m.d.comb += window.eq(Cat(Const(0, W), Const(0, 3), small[0:23], 1) >> shamt)
        m_small = Signal(W)
        m.d.comb += m_small.eq(window[W:] | window[:W].any())
        m_big = Cat(Const(0, 3), big[0:23], 1)

        (special, special_val, sign, subtract, e_big, m_big, m_small) = _cut(
            m, self._stages >= 2, "align",
            special, special_val, sign, subtract, e_big, m_big, m_small)

        # -- stage B: add, leading-zero count ----------------------------------
        total = Signal(W + 1)
        m.d.comb += total.eq(Mux(subtract, m_big - m_small, m_big + m_small))
        lz = Signal(range(W + 2))
        m.d.comb += lz.eq(W + 1)
        for i in range(W + 1):                      # the highest set bit wins
            with m.If(total[i]):
                m.d.comb += lz.eq(W - i)
        # exponent of the normalised result: e_big + 1 - lz, in -27..255
        exp = Signal(range(-32, 256))
        m.d.comb += exp.eq(e_big + 1 - lz)

        (special, special_val, sign, total, lz, exp) = _cut(
            m, self._stages >= 3, "add",
            special, special_val, sign, total, lz, exp)

        # -- stage C: normalise, round -----------------------------------------
        norm = Signal(W + 1)                        # leading one at bit W
        m.d.comb += norm.eq(total << lz)
        frac = norm[4:W]
        guard = norm[3]
        sticky = norm[0:3].any()
        round_up = guard & (sticky | frac[0])
        # the rounding carry ripples into the exponent; 254/all ones -> inf
        rounded = Signal(31)
        m.d.comb += rounded.eq(Cat(frac, exp[0:8]) + round_up)

        result = Signal(32)
        with m.If(special):
            m.d.comb += result.eq(special_val)
        with m.Elif(total == 0):                    # exact cancellation
            m.d.comb += result.eq(0)
        with m.Elif(exp < 1):                       # below 2^-126 (exact here)
            m.d.comb += result.eq(Cat(Const(0, 31), sign))
        with m.Elif(exp > 254):
            m.d.comb += result.eq(Cat(Const(_INF, 31), sign))
        with m.Else():
            m.d.comb += result.eq(Cat(rounded, sign))

        out, = _cut(m, self._stages >= 1, "out", result)
        m.d.comb += self.o.eq(out)
        return m
