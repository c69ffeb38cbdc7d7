"""The NI's output: a request and a response flit channel onto one credit-honouring link."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from rtl.net.arbiter import RoundRobinArbiter
from rtl.net.link import LinkSignature, check_vcs
from rtl.net.signature import ParamSignature
from rtl.node.layouts import request_vcs, response_vcs

__all__ = ["TxChannelSignature", "LinkTx"]


class TxChannelSignature(ParamSignature):
    """The write side of one :class:`LinkTx` channel queue, seen from the writer.

    Members
    -------
    en : Out(1)
        Write ``data`` this cycle (only when ``rdy``).
    data : Out(width + 1)
        A flit with its ``last`` bit on top.
    rdy : In(1)
        The queue has room (combinational from its level).
    level : In(range(depth + 1))
        Flits in the queue.
    """

    def __init__(self, *, width, depth):
        super().__init__({"en": Out(1), "data": Out(width + 1), "rdy": In(1),
                          "level": In(range(depth + 1))}, width=width, depth=depth)

    depth = property(lambda self: self._params["depth"])



class LinkTx(wiring.Component):
    """Two flit queues (requests, responses) sent round-robin on one link.

    Requests go out on the first request VC, responses on the first response
    VC (:func:`rtl.node.layouts.request_vcs`/``response_vcs``). A queue's
    head is sent when its VC has a credit; with one VC a packet holds the
    link until its tail (the two classes share the VC).

    Parameters
    ----------
    flit_bits : int
    vcs : int
        Virtual channels, 1..4.
    credits : int
        Initial credits per VC (the receiver's buffer depth).
    depth : int
        Flits per channel queue.

    Members
    -------
    req, resp : In(TxChannelSignature)
        The request and response channel queues.
    o : Out(LinkSignature)
        The link; registered (a flit is sent the cycle after it is chosen),
        never more flits in flight per VC than credits.
    """

    def __init__(self, *, flit_bits, vcs, credits, depth=4):
        check_vcs(vcs)
        if not isinstance(credits, int) or credits < 1:
            raise ValueError(f"credits must be a positive integer, not {credits!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        self._flit_bits, self._vcs, self._credits, self._depth = flit_bits, vcs, credits, depth
        chan = TxChannelSignature(width=flit_bits, depth=depth)
        super().__init__({"req": In(chan), "resp": In(chan),
                          "o": Out(LinkSignature(flit_bits=flit_bits, vcs=vcs))})

    def elaborate(self, platform):
        m = Module()
        W, V, D = self._flit_bits, self._vcs, self._depth
        req_vc, resp_vc = request_vcs(V)[0], response_vcs(V)[0]
        m.submodules.req_q = req_q = SyncFIFO(width=W + 1, depth=D)
        m.submodules.resp_q = resp_q = SyncFIFO(width=W + 1, depth=D)
        for q, port in ((req_q, self.req), (resp_q, self.resp)):
            m.d.comb += [q.w_en.eq(port.en), q.w_data.eq(port.data),
                         port.rdy.eq(q.w_rdy), port.level.eq(q.w_level)]
        cnt = [Signal(range(self._credits + 1), init=self._credits, name=f"credits{v}")
               for v in range(V)]
        chans = [(req_q, req_vc), (resp_q, resp_vc)]
        cand = [Signal(name="tx_req_cand"), Signal(name="tx_resp_cand")]
        lock = Signal(2)         # one VC only: channel owning it mid-packet
        for i, (q, vc) in enumerate(chans):
            ok = q.r_rdy & (cnt[vc] != 0)
            if req_vc == resp_vc:
                ok = ok & ((lock == 0) | lock[i])
            m.d.comb += cand[i].eq(ok)
        m.submodules.tx_arb = tx_arb = RoundRobinArbiter(n=2)
        m.d.comb += [tx_arb.requests.eq(Cat(cand)), tx_arb.advance.eq(1)]
        g = tx_arb.grant
        out = self.o
        sent = [Signal(name=f"sent{v}") for v in range(V)]
        tx_data = Mux(g[1], resp_q.r_data, req_q.r_data)
        m.d.comb += [req_q.r_en.eq(g[0]), resp_q.r_en.eq(g[1])]
        m.d.sync += [out.valid.eq(g.any()), out.data.eq(tx_data[:W]), out.last.eq(tx_data[W]),
                     out.vc.eq(Mux(g[1], resp_vc, req_vc))]
        for v in range(V):
            s = (g[0] if v == req_vc else 0) | (g[1] if v == resp_vc else 0)
            m.d.comb += sent[v].eq(s)
            with m.If(sent[v] & ~out.credit[v]):
                m.d.sync += cnt[v].eq(cnt[v] - 1)
            with m.Elif(out.credit[v] & ~sent[v]):
                m.d.sync += cnt[v].eq(cnt[v] + 1)
        if req_vc == resp_vc:
            with m.If(g.any()):
                m.d.sync += lock.eq(Mux(tx_data[W], 0, g))
        return m
