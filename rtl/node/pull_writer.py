"""The NI's response sink: drains the response VCs; a PULL's READ_RESP lines go into the SRAM.

A node receives responses only to what it asked for: READ_RESPs of its PULL (the
command processor's remote-block read, :mod:`rtl.node.command_processor`). One PULL
at a time: ``start`` latches the remote base address, the local one, the line count
and the semaphore; every READ_RESP that arrives meanwhile is written line by line at
``dst + (resp addr - src)`` (write-port client 1: it waits while the NI's own writes
take the port, the response VC holding the flits), and when the last line is in the
semaphore is incremented (``done``). Anything else on a response VC (a DONE, a READ_RESP
with no PULL under way) is drained and only counted, as the NI always did: the response
class is always drained, so a node waiting to send a request never blocks it.

Timing: a head and every line one cycle each (a packet of ``n`` lines takes ``n + 1``
cycles when the port is free); the VCs are served a packet at a time, lowest first.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.packet import Opcode
from rtl.node.layouts import COUNT_BITS, NodeLayouts
from rtl.node.rx_buffer import RxHeadSignature
from rtl.node.sram import WritePortSignature

__all__ = ["PullWriter"]


class PullWriter(wiring.Component):
    """Response sink of the NI (see the module docstring).

    Parameters
    ----------
    layouts : NodeLayouts
    vcs : int
        Response VCs served (``vc`` has that many heads).

    Members
    -------
    vc : In(RxHeadSignature) x vcs
        The heads of the response queues.
    wr : Out(WritePortSignature)
        SRAM write client (may be refused: ``grant``).
    start : In(1)
        Begin a PULL of ``count`` lines from remote ``src`` to local ``dst``; the
        last one increments semaphore ``sem``. Only while ``busy`` is low.
    busy : Out(1)
        A PULL is under way.
    done : Out(1)
        Pulse with its last line written; ``done_sem`` names the semaphore.
    drained : Out(range(2))
        A response packet was taken whole this cycle.
    """

    def __init__(self, *, layouts, vcs):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        self._lay, self._n = layouts, vcs
        W, A = layouts.fmt.flit_bits, layouts.addr_bits
        super().__init__({
            "vc": In(RxHeadSignature(W)).array(vcs),
            "wr": Out(WritePortSignature(addr_bits=A, width=W)),
            "start": In(1), "src": In(A), "dst": In(A), "count": In(COUNT_BITS),
            "sem": In(range(layouts.sems)),
            "busy": Out(1), "done": Out(1), "done_sem": Out(range(layouts.sems)),
            "drained": Out(range(2)),
        })

    def elaborate(self, platform):
        m = Module()
        lay, fmt = self._lay, self._lay.fmt
        A = lay.addr_bits
        active = Signal()
        src, dst = Signal(A), Signal(A)
        left = Signal(COUNT_BITS)
        sem = Signal(range(lay.sems))
        with m.If(self.start & ~active):
            m.d.sync += [active.eq(1), src.eq(self.src), dst.eq(self.dst),
                         left.eq(self.count), sem.eq(self.sem)]
        m.d.comb += [self.busy.eq(active), self.done_sem.eq(sem)]

        # the VC whose packet is taken: the lowest with a flit when a head is due, then held
        vc_range = range(max(self._n, 2))      # one bit even for one VC (no 0-bit vectors)
        sel, held, cur, at_head = (Signal(vc_range), Signal(vc_range), Signal(vc_range),
                                   Signal())
        for v in reversed(range(self._n)):
            with m.If(self.vc[v].nonempty):
                m.d.comb += sel.eq(v)
        m.d.comb += cur.eq(Mux(at_head, sel, held))
        head, last, nonempty = Signal(fmt.flit_bits), Signal(), Signal()
        for v in range(self._n):
            with m.If(cur == v):
                m.d.comb += [head.eq(self.vc[v].head), last.eq(self.vc[v].last),
                             nonempty.eq(self.vc[v].nonempty)]
        pop = Signal()
        for v in range(self._n):
            m.d.comb += self.vc[v].pop.eq(pop & (cur == v))
        writing = Signal()                       # the packet's lines go to the SRAM
        addr = Signal(A + 1)
        h = fmt.head(head)
        info = lay.resp_info(h.info[:lay.resp_info.size])
        with m.FSM(name="pull") as fsm:
            with m.State("HEAD"):
                with m.If(nonempty):
                    m.d.comb += pop.eq(1)
                    m.d.sync += held.eq(sel)
                    m.d.sync += [writing.eq(active & (h.opcode == Opcode.READ_RESP)),
                                 addr.eq(dst + info.addr[:A] - src)]
                    with m.If(last):
                        m.d.comb += self.drained.eq(1)
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(nonempty):
                    with m.If(writing):
                        m.d.comb += [self.wr.en.eq(1), self.wr.addr.eq(addr[:A]),
                                     self.wr.data.eq(head), pop.eq(self.wr.grant)]
                    with m.Else():
                        m.d.comb += pop.eq(1)
                with m.If(pop & writing):
                    m.d.sync += [addr.eq(addr + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.d.comb += self.done.eq(1)
                        m.d.sync += active.eq(0)
                with m.If(pop & last):
                    m.d.comb += self.drained.eq(1)
                    m.next = "HEAD"
        m.d.comb += at_head.eq(fsm.ongoing("HEAD"))
        return m
