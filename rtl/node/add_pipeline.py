"""The NI's sink pipeline: WRITE, and ADD as a read-modify-write with forwarding."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.signature import ParamSignature
from rtl.node.fp import Fp32Adder
from rtl.node.sram import WritePortSignature

__all__ = ["LineSignature", "AddPipeline"]


class LineSignature(ParamSignature):
    """A line entering an :class:`AddPipeline`, seen from the sender.

    Members
    -------
    valid : Out(1)
        A line enters this cycle (no backpressure).
    add : Out(1)
        Add it to the stored line (else it is written as is).
    fp : Out(1)
        FP32 lanes (else INT32); only with ``add``.
    addr : Out(addr_bits)
        Line address.
    data : Out(width)
        The line.
    """

    def __init__(self, *, addr_bits, width):
        super().__init__({"valid": Out(1), "add": Out(1), "fp": Out(1),
                          "addr": Out(addr_bits), "data": Out(width)},
                         addr_bits=addr_bits, width=width)



class AddPipeline(wiring.Component):
    """Writes lines into the SRAM, adding them lane-wise to the stored line for an ADD.

    Three stages at one line per cycle, no backpressure: stage 0 is the cycle
    ``i.valid`` is high (the caller issues the SRAM read of ``addr`` in that
    cycle when ``add`` is set), stage 1 adds the stored line (``rdata``, or the
    line being written by stage 2 when it is the same address: back-to-back
    lines to one address are exact), stage 2 writes. 32-bit lanes: FP32 with
    :class:`rtl.node.fp.Fp32Adder` (one stage), INT32 wrapping.

    Parameters
    ----------
    addr_bits : int
        Width of an SRAM line address.
    width : int
        Line width, a multiple of 32.

    Members
    -------
    i : In(LineSignature)
        The arriving line (stage 0).
    rdata : In(width)
        The stored line at ``i.addr``, one cycle after ``i.valid`` (the SRAM's
        read data for the read issued in stage 0).
    wr : Out(WritePortSignature)
        The SRAM write, two cycles after ``i.valid`` (``grant`` is ignored: the
        port must always grant this client).
    """

    def __init__(self, *, addr_bits, width):
        if not isinstance(addr_bits, int) or addr_bits < 1:
            raise ValueError(f"addr_bits must be a positive integer, not {addr_bits!r}")
        if not isinstance(width, int) or width < 32 or width % 32:
            raise ValueError(f"width must be a positive multiple of 32, not {width!r}")
        self._addr_bits, self._width = addr_bits, width
        super().__init__({
            "i": In(LineSignature(addr_bits=addr_bits, width=width)), "rdata": In(width),
            "wr": Out(WritePortSignature(addr_bits=addr_bits, width=width)),
        })

    def elaborate(self, platform):
        m = Module()
        A, W = self._addr_bits, self._width
        v1, add1, f1 = Signal(), Signal(), Signal()          # f: fp32 lanes
        a1, d1 = Signal(A), Signal(W)
        v2, f2 = Signal(), Signal()
        a2, r2i = Signal(A), Signal(W)                      # int sum or stored data
        res2 = Signal(W)
        line = self.i
        m.d.sync += [v1.eq(line.valid), add1.eq(line.add), f1.eq(line.fp), a1.eq(line.addr),
                     d1.eq(line.data),
                     v2.eq(v1), f2.eq(f1 & add1), a2.eq(a1)]
        old = Signal(W)
        m.d.comb += old.eq(Mux(v2 & (a2 == a1), res2, self.rdata))
        fp_sum = []
        int_sum = []
        for i in range(W // 32):
            m.submodules[f"add_lane{i}"] = fa = Fp32Adder(stages=1)
            m.d.comb += [fa.a.eq(old[32 * i:32 * i + 32]), fa.b.eq(d1[32 * i:32 * i + 32])]
            fp_sum.append(fa.o)
            int_sum.append((old[32 * i:32 * i + 32] + d1[32 * i:32 * i + 32])[:32])
        m.d.sync += r2i.eq(Mux(add1, Cat(int_sum), d1))
        m.d.comb += [res2.eq(Mux(f2, Cat(fp_sum), r2i)),
                     self.wr.en.eq(v2), self.wr.addr.eq(a2), self.wr.data.eq(res2)]
        return m
