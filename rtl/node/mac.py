"""Processing element of the matrix engine: one multiply-accumulate unit.

A :class:`MacUnit` holds one element of C and accumulates one product per
cycle into it, sequentially over k, exactly as the golden model
(:func:`verif.golden.gemm_bf16`, :func:`verif.golden.gemm_int8`) does.

Throughput and the accumulation dependency
------------------------------------------
The accumulator feeds its own adder. With ``adder_stages=S`` the fp32 adder in
the loop has S pipeline registers (the last is its output register) and the
loop is S cycles long, so the unit holds **S independent accumulators
(slots)**: the step applied at cycle t belongs to slot ``t mod S`` and reads
the value that slot received at cycle t - S. There are no separate
accumulator registers: the adder pipeline (and an S-deep delay line for the
int32 and pass-through values) is the storage.

- ``adder_stages=1`` (default): one accumulator, one product per cycle for
  the same element, no interleaving constraint on the engine. The critical
  path is the whole combinational fp32 adder (align, add, leading-zero count,
  normalise, round) plus two muxes, register to register.
- ``adder_stages=S > 1``: the engine must interleave S independent output
  elements through the unit (e.g. S columns of C, cycle by cycle), or insert
  bubbles; throughput stays one product per cycle per unit, and the loop is
  cut into S shorter register-to-register paths.

The multiplier may also be pipelined (``mul_stages=1``): products are
independent, and every control input is delayed alongside the operands, so the
unit behaves as if all its inputs were applied ``mul_stages`` cycles later.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from rtl.node.fp import Bf16Multiplier, Fp32Adder

__all__ = ["MacMode", "MacUnit"]


class MacMode(enum.Enum, shape=1):
    """Number format of a :class:`MacUnit` operation."""
    #: int8 x int8 products summed into int32 with two's-complement wrap-around
    INT8 = 0
    #: bf16 x bf16 products summed into fp32 (DESIGN.md section 6)
    BF16 = 1


class MacUnit(wiring.Component):
    """One multiply-accumulate processing element, bf16 or int8.

    Every input is sampled each cycle (one *step*) and its result appears on
    ``acc`` :attr:`latency` cycles later (``mul_stages`` cycles of operand
    pipeline, then ``adder_stages`` of accumulation). A step on slot
    ``t mod adder_stages`` does::

        base = c_in if load else (0 if clear else slot)
        slot = base + a * b  if enable else  base

    where ``slot`` is the result of the previous step on the same slot,
    ``adder_stages`` cycles earlier, and ``load`` wins over ``clear``. Hence a
    dot product starts with ``load`` (C0 given) or ``clear`` (C0 = +0 / 0)
    together with ``enable`` and its first operands, continues with ``enable``
    and one k per step of its slot, and may be followed immediately by the
    next one; steps with ``enable``, ``load`` and ``clear`` low are bubbles
    that keep their slot. A ``load`` without ``enable`` stores ``c_in``
    unchanged (a subnormal fp32 C0 is flushed by the first add, as in
    the golden model).

    Parameters
    ----------
    mul_stages : int
        Pipeline registers between the operands and the accumulator adder, 0
        or 1 (a registered product).
    adder_stages : int
        Pipeline registers of the fp32 adder in the accumulation loop, 1..3;
        also the number of interleaved accumulators (slots).

    Attributes
    ----------
    latency : int
        Cycles from a step's inputs to its result on ``acc``:
        ``mul_stages + adder_stages``.
    slots : int
        Independent accumulators in flight (``adder_stages``).

    Members
    -------
    mode : In(MacMode)
        Format of this step's product and add (may change between dot products).
    a : In(16)
        bf16 bit pattern, or in INT8 mode an int8 in the low byte (the high
        byte is ignored; sign extension is the convention).
    b : In(16)
        Same as ``a``.
    enable : In(1)
        Accumulate ``a * b`` this step.
    clear : In(1)
        Start from zero (all bits zero: +0.0 or int 0) instead of ``acc``.
    load : In(1)
        Start from ``c_in`` instead of ``acc``.
    c_in : In(32)
        Value for ``load``: fp32 bits or an int32.
    acc : Out(32)
        Result of the step applied ``latency`` cycles ago (fp32 bits or an
        int32, by the mode of that step). Driven combinationally from
        registers.

    Raises
    ------
    ValueError
        If ``mul_stages`` is not 0 or 1, or ``adder_stages`` not in 1..3.
    """

    mode: In(MacMode)
    a: In(16)
    b: In(16)
    enable: In(1)
    clear: In(1)
    load: In(1)
    c_in: In(32)
    acc: Out(32)

    def __init__(self, *, mul_stages=0, adder_stages=1):
        if not isinstance(mul_stages, int) or isinstance(mul_stages, bool) \
                or mul_stages not in (0, 1):
            raise ValueError(f"mul_stages must be 0 or 1, not {mul_stages!r}")
        if not isinstance(adder_stages, int) or isinstance(adder_stages, bool) \
                or not 1 <= adder_stages <= 3:
            raise ValueError(f"adder_stages must be an integer in 1..3, not {adder_stages!r}")
        self._mul_stages = mul_stages
        self._adder_stages = adder_stages
        super().__init__()

    @property
    def mul_stages(self):
        return self._mul_stages

    @property
    def adder_stages(self):
        return self._adder_stages

    @property
    def slots(self):
        return self._adder_stages

    @property
    def latency(self):
        return self._mul_stages + self._adder_stages

    def elaborate(self, platform):
        m = Module()

        m.submodules.mul = mul = Bf16Multiplier(stages=self._mul_stages)
        m.submodules.add = add = Fp32Adder(stages=self._adder_stages)

        m.d.comb += [mul.a.eq(self.a), mul.b.eq(self.b)]
        int_prod = Signal(signed(16))
        m.d.comb += int_prod.eq(self.a[0:8].as_signed() * self.b[0:8].as_signed())

        # controls and the int8 product travel with the bf16 product
        mode, enable, clear, load, c_in = self.mode, self.enable, self.clear, self.load, self.c_in
        if self._mul_stages:
            mode, enable = Signal(MacMode, name="mode_q"), Signal(name="enable_q")
            clear, load = Signal(name="clear_q"), Signal(name="load_q")
            c_in, int_prod_q = Signal(32, name="c_in_q"), Signal(signed(16), name="int_prod_q")
            m.d.sync += [mode.eq(self.mode), enable.eq(self.enable), clear.eq(self.clear),
                         load.eq(self.load), c_in.eq(self.c_in), int_prod_q.eq(int_prod)]
            int_prod = int_prod_q

        # the loop: acc is the slot this step updates (its previous result)
        base = Signal(32)
        m.d.comb += base.eq(Mux(load, c_in, Mux(clear, 0, self.acc)))
        m.d.comb += [add.a.eq(base), add.b.eq(mul.o)]
        # int32 sum (modulo 2^32: wraps) or pass-through, delayed like the adder
        other = Signal(32)
        m.d.comb += other.eq(Mux(enable, base + int_prod, base))
        use_fp = Signal()
        m.d.comb += use_fp.eq(enable & (mode == MacMode.BF16))
        for i in range(self._adder_stages):
            other_q, use_fp_q = Signal(32, name=f"other_q{i}"), Signal(name=f"use_fp_q{i}")
            m.d.sync += [other_q.eq(other), use_fp_q.eq(use_fp)]
            other, use_fp = other_q, use_fp_q
        m.d.comb += self.acc.eq(Mux(use_fp, add.o, other))
        return m
