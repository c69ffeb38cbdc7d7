"""Input buffer of the NI: one store-and-forward queue per VC and the credit return.

:class:`RxQueue` is one VC's flit FIFO with the arrival-side length check;
:class:`RxBuffer` puts ``vcs`` of them behind one link and returns the
router's credits.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.net.link import LinkSignature, check_vcs
from rtl.net.packet import PacketFormat
from rtl.net.signature import ParamSignature

__all__ = ["RxQueue", "RxHeadSignature", "RxBuffer"]


def _up_down(m, counter, up, down):
    """``counter`` + 1 on ``up`` alone, - 1 on ``down`` alone."""
    with m.If(up & ~down):
        m.d.sync += counter.eq(counter + 1)
    with m.Elif(down & ~up):
        m.d.sync += counter.eq(counter - 1)


class RxQueue(wiring.Component):
    """One input VC of the NI: a store-and-forward flit FIFO with length checking.

    Flits are cut into *segments*: a segment ends at a tail or when it fills
    the FIFO (a packet too long to store). A segment is *ready* when it is
    completely in the FIFO; ``bad`` tells whether it is a whole packet whose
    tail came exactly at its head's ``length`` (else it must be dropped).

    Members
    -------
    valid, last, data : In
        The arriving flit (the sender holds a credit, so the FIFO has room).
    ready : Out(1)
        A complete segment is at the head of the FIFO.
    nonempty : Out(1)
        At least one flit is stored.
    head, head_last, head_end, bad : Out
        The flit at the head of the FIFO (combinational), its ``last`` and
        end-of-segment bits, and the ``bad`` bit of its segment.
    pop : In(1)
        Remove the head flit.
    overflow : Out(1)
        A flit arrived while the FIFO was full (credit protocol broken); sticky.
    """

    def __init__(self, *, fmt, depth):
        self._fmt, self._depth = fmt, depth
        W = fmt.flit_bits
        super().__init__({"valid": In(1), "last": In(1), "data": In(W),
                          "ready": Out(1), "nonempty": Out(1), "head": Out(W),
                          "head_last": Out(1), "head_end": Out(1), "bad": Out(1),
                          "pop": In(1), "overflow": Out(1), "level": Out(range(depth + 1))})

    def elaborate(self, platform):
        m = Module()
        D, W = self._depth, self._fmt.flit_bits

        def step(ptr):
            return Mux(ptr == D - 1, 0, ptr + 1)

        m.submodules.mem = mem = Memory(shape=W + 2, depth=D, init=[])
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")
        count = Signal(range(D + 1))
        rptr, wptr = Signal(range(D)), Signal(range(D))
        # segment status FIFO: one bad bit per complete segment
        sbad = Signal(D)
        scount = Signal(range(D + 1))
        srptr, swptr = Signal(range(D)), Signal(range(D))
        # arrival-side segmenting and length check
        segcnt = Signal(range(D + 1))
        hlen = Signal(8)
        in_cont = Signal()

        full = count == D
        write = Signal()
        m.d.comb += write.eq(self.valid & ~full)
        with m.If(self.valid & full):
            m.d.sync += self.overflow.eq(1)
        first = segcnt == 0
        length = self._fmt.head(self.data).length
        hl = Mux(first, length, hlen)
        seg_end = Signal()
        bad = Signal()
        m.d.comb += [
            seg_end.eq(self.last | (segcnt == D - 1)),
            bad.eq(in_cont | ~self.last | (segcnt + 1 != hl)),
            wr.en.eq(write), wr.addr.eq(wptr), wr.data.eq(Cat(self.data, self.last, seg_end)),
            rd.addr.eq(rptr),
            self.head.eq(rd.data[:W]), self.head_last.eq(rd.data[W]),
            self.head_end.eq(rd.data[W + 1]),
            self.nonempty.eq(count != 0),
            self.level.eq(count),
            self.ready.eq(scount != 0),
            self.bad.eq(sbad.bit_select(srptr, 1)),
        ]
        with m.If(write):
            m.d.sync += wptr.eq(step(wptr))
            with m.If(first & ~in_cont):
                m.d.sync += hlen.eq(length)
            with m.If(seg_end):
                m.d.sync += [segcnt.eq(0), in_cont.eq(~self.last),
                             sbad.bit_select(swptr, 1).eq(bad), swptr.eq(step(swptr))]
            with m.Else():
                m.d.sync += segcnt.eq(segcnt + 1)
        pop = Signal()
        m.d.comb += pop.eq(self.pop & (count != 0))
        with m.If(pop):
            m.d.sync += rptr.eq(step(rptr))
        _up_down(m, count, write, pop)
        spush = write & seg_end
        spop = pop & self.head_end
        with m.If(spop):
            m.d.sync += srptr.eq(step(srptr))
        _up_down(m, scount, spush, spop)
        return m



class RxHeadSignature(ParamSignature):
    """The head of one VC queue of an :class:`RxBuffer`, seen from the buffer.

    Members
    -------
    ready : Out(1)
        A complete segment is at the head of the queue.
    nonempty : Out(1)
        At least one flit is stored.
    head : Out(width)
        The flit at the head (combinational).
    last, end, bad : Out(1)
        Its ``last`` bit, its end-of-segment bit, the ``bad`` bit of its segment
        (see :class:`RxQueue`).
    pop : In(1)
        Remove the head flit this cycle (ignored when empty).
    """

    def __init__(self, width):
        super().__init__({"ready": Out(1), "nonempty": Out(1), "head": Out(width),
                          "last": Out(1), "end": Out(1), "bad": Out(1), "pop": In(1)},
                         width=width)



class RxBuffer(wiring.Component):
    """``vcs`` store-and-forward queues behind one link, with the credit return.

    The router's credit counters start at ``credits`` (its own buffer depth),
    smaller than ``depth``. A credit is owed for every flit received and
    returned as soon as the free space still covers every credit the router
    may hold: ``level' + (credits - owed') <= depth`` after the return.

    Parameters
    ----------
    fmt : PacketFormat
    vcs : int
        Virtual channels, 1..4 (one queue each).
    credits : int
        Initial credits of the sender (its counters' reset value).
    depth : int
        Flits per queue (at least ``credits``).

    Members
    -------
    i : In(LinkSignature)
        The arriving link; ``credit`` is a registered pulse per VC, at the
        earliest the cycle after the flit arrived.
    vc : Out(RxHeadSignature).array(vcs)
        The head of each VC's queue (combinational; ``pop`` takes effect at
        the end of the cycle).
    overflow : Out(1)
        A flit arrived at a full queue (credit protocol broken); sticky.
    """

    def __init__(self, *, fmt, vcs, credits, depth):
        if not isinstance(fmt, PacketFormat):
            raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
        check_vcs(vcs)
        if not isinstance(credits, int) or credits < 1:
            raise ValueError(f"credits must be a positive integer, not {credits!r}")
        if not isinstance(depth, int) or depth < credits:
            raise ValueError(f"depth must be an integer of at least credits ({credits}), "
                             f"not {depth!r}")
        self._fmt, self._vcs, self._credits, self._depth = fmt, vcs, credits, depth
        super().__init__({
            "i": In(LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)),
            "vc": Out(RxHeadSignature(fmt.flit_bits)).array(vcs),
            "overflow": Out(1),
        })

    depth = property(lambda self: self._depth)

    def elaborate(self, platform):
        m = Module()
        C, D = self._credits, self._depth
        rets = []
        overflow = []
        for v in range(self._vcs):
            m.submodules[f"rxq{v}"] = q = RxQueue(fmt=self._fmt, depth=D)
            port = self.vc[v]
            m.d.comb += [q.valid.eq(self.i.valid & (self.i.vc == v)), q.last.eq(self.i.last),
                         q.data.eq(self.i.data), q.pop.eq(port.pop),
                         port.ready.eq(q.ready), port.nonempty.eq(q.nonempty),
                         port.head.eq(q.head), port.last.eq(q.head_last),
                         port.end.eq(q.head_end), port.bad.eq(q.bad)]
            overflow.append(q.overflow)
            owed = Signal(range(C + 1), name=f"owed{v}")
            arrive = q.valid
            popped = port.pop & q.nonempty
            ret = Signal(name=f"ret{v}")
            m.d.comb += ret.eq(((owed != 0) | arrive)
                               & (q.level - popped + C - owed + 1 <= D))
            m.d.sync += owed.eq(owed + arrive - ret)
            rets.append(ret)
        m.d.comb += self.overflow.eq(Cat(overflow).any())
        m.d.sync += self.i.credit.eq(Cat(rets))
        return m
