"""Die-to-die link: one direction of the fan-out wafer-level interconnect between dies.

Flits cross in ``ratio`` cycles each (serialisation over the lanes a mesh link
gets) and ``latency`` cycles of flight; credits fly back with the same latency.
Both numbers come from the physical derivation (``gen.derive``: ``dielink``).

Structure (one direction)::

    sender --link--> [TX buffer] -> serialiser (ratio) -> flight (latency) -> [RX buffer] --link--> receiver
           <-credit--                                     <- credits (latency) <-

* The TX buffer (``TX_DEPTH`` flits per VC) is the sender's credit target: the
  sender sees an ordinary link with a 3-cycle credit round trip.
* The serialiser sends one flit every ``ratio`` cycles, round-robin over the VCs
  that have a flit and a credit for the RX buffer.
* The RX buffer (``rx_depth`` per VC) covers the die-to-die credit round trip,
  so the link runs at its full serialised rate; it forwards to the receiving
  router at up to one flit per cycle under that router's credits.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.link import LinkSignature, vc_bits

__all__ = ["DieLinkChannel", "TX_DEPTH", "rx_depth_for", "tx_buffers", "rx_output"]

#: covers the sender's 3-cycle credit round trip at one flit per cycle
TX_DEPTH = 3


def rx_depth_for(ratio, latency):
    """RX buffer depth per VC for full serialised rate.

    A credit returns ``ratio`` (serialise) + ``latency`` (flight) + 1 (RX pop to
    credit) + ``latency`` (credit flight) + 1 (counter) cycles after the TX
    decision; one flit leaves every ``ratio`` cycles.
    """
    return -(-(ratio + 2 * latency + 2) // ratio) + 1


class _Fifo:
    """Per-VC register FIFO with a combinational head (small depths only)."""

    def __init__(self, m, name, width, depth):
        self.depth = depth
        self.mem = [Signal(width, name=f"{name}_m{i}") for i in range(depth)]
        self.count = Signal(range(depth + 1), name=f"{name}_count")
        self.rptr = Signal(range(depth), name=f"{name}_rptr")
        self.wptr = Signal(range(depth), name=f"{name}_wptr")
        self.push = Signal(name=f"{name}_push")
        self.pop = Signal(name=f"{name}_pop")
        self.din = Signal(width, name=f"{name}_din")
        self.head = Signal(width, name=f"{name}_head")
        self.nonempty = Signal(name=f"{name}_nonempty")
        m.d.comb += self.nonempty.eq(self.count != 0)
        with m.Switch(self.rptr):
            for i, word in enumerate(self.mem):
                with m.Case(i):
                    m.d.comb += self.head.eq(word)
        with m.If(self.push):
            with m.Switch(self.wptr):
                for i, word in enumerate(self.mem):
                    with m.Case(i):
                        m.d.sync += word.eq(self.din)
            m.d.sync += self.wptr.eq(Mux(self.wptr == depth - 1, 0, self.wptr + 1))
        with m.If(self.pop):
            m.d.sync += self.rptr.eq(Mux(self.rptr == depth - 1, 0, self.rptr + 1))
        m.d.sync += self.count.eq(self.count + self.push - self.pop)


def tx_buffers(m, link, overflow, vcs, width, depth):
    """The sender-side buffers of a die link: one ``depth``-flit FIFO per VC that takes
    ``{last, data}`` of the arriving flits of ``link`` (the sender's credit target;
    ``overflow`` is set by a flit that finds its FIFO full). Returns the FIFOs and the
    ``tx_credit`` vector the caller drives (registered onto ``link.credit``)."""
    tx = [_Fifo(m, f"tx{v}", width, depth) for v in range(vcs)]
    tx_credit = Signal(vcs)
    m.d.sync += link.credit.eq(tx_credit)
    for v, f in enumerate(tx):
        arrive = link.valid & (link.vc == v)
        m.d.comb += [f.din.eq(Cat(link.data, link.last)),
                     f.push.eq(arrive & (f.count != depth))]
        with m.If(arrive & (f.count == depth)):
            m.d.sync += overflow.eq(1)
    return tx, tx_credit


def first_ready(m, ready, ptr, shape, prefix):
    """The first VC at or after the round-robin pointer ``ptr`` whose ``ready`` bit is set:
    ``(pick, found)`` (combinational; ``shape`` of the VC signals, ``prefix`` of their
    names, kept per caller so the emitted Verilog is unchanged)."""
    V = len(ready)
    pick, found = Signal(shape, name=f"{prefix}pick"), Signal(name=f"{prefix}found")
    for off in reversed(range(V)):
        v = Signal(shape, name=f"{prefix}cand{off}")
        m.d.comb += v.eq((ptr + off) % V if V > 1 else 0)
        with m.If(ready.bit_select(v, 1)):
            m.d.comb += [pick.eq(v), found.eq(1)]
    return pick, found


def rx_output(m, rx, down, rx_pop, out, sel_shape):
    """The receiver's output to the router: round-robin over the VCs whose RX FIFO holds a
    flit and whose ``down`` credit counter is not zero, one flit a cycle onto ``out``
    (registered); pops the FIFO and pulses ``rx_pop`` for the VC sent. ``sel_shape`` is
    the shape of the VC pointers (kept per caller: the emitted Verilog is unchanged)."""
    V = len(rx)
    out_ready = Cat(rx[v].nonempty & (down[v] != 0) for v in range(V))
    orr = Signal(sel_shape)
    opick, ofound = first_ready(m, out_ready, orr, sel_shape, "o")
    m.d.sync += out.valid.eq(ofound)
    with m.If(ofound):
        if V > 1:
            m.d.sync += orr.eq(Mux(opick == V - 1, 0, opick + 1))
        for v in range(V):
            with m.If(opick == v):
                m.d.comb += [rx[v].pop.eq(1), rx_pop[v].eq(1)]
                m.d.sync += [out.data.eq(rx[v].head[:-1]), out.last.eq(rx[v].head[-1]),
                             out.vc.eq(v)]


class DieLinkChannel(wiring.Component):
    """One direction of a die-to-die link.

    Parameters
    ----------
    flit_bits, vcs : link shape.
    ratio : int
        Core cycles per flit on the wire (>= 1).
    latency : int
        Flight cycles each way, for flits and for credits (>= 0).
    rx_depth : int or None
        RX buffer per VC; default :func:`rx_depth_for` (full rate).
    tx_depth : int
        TX buffer per VC: must equal the credits the sender starts with (a router
        starts with its ``downstream_depth``); >= 3 for one flit per cycle.
    downstream_depth : int
        Buffer depth per VC of the receiving router (its credits).

    Members
    -------
    i : In(LinkSignature)
        From the sending router; credits are returned one cycle after a flit
        leaves the TX buffer.
    o : Out(LinkSignature)
        To the receiving router (registered).
    overflow : Out(1)
        Sticky: a flit arrived on a full TX buffer (the sender broke the protocol).
    """

    def __init__(self, *, flit_bits, vcs, ratio, latency, downstream_depth, rx_depth=None,
                 tx_depth=TX_DEPTH):
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f"ratio must be an integer >= 1, not {ratio!r}")
        if not isinstance(latency, int) or latency < 0:
            raise ValueError(f"latency must be an integer >= 0, not {latency!r}")
        need = rx_depth_for(ratio, latency)
        rx_depth = need if rx_depth is None else rx_depth
        if rx_depth < 1:
            raise ValueError(f"rx_depth must be >= 1, not {rx_depth}")
        if tx_depth < 1:
            raise ValueError(f"tx_depth must be >= 1, not {tx_depth}")
        self._tx_depth = tx_depth
        self._flit_bits, self._vcs = flit_bits, vcs
        self._ratio, self._latency = ratio, latency
        self._rx_depth, self._down = rx_depth, downstream_depth
        sig = LinkSignature(flit_bits=flit_bits, vcs=vcs)
        super().__init__({"i": In(sig), "o": Out(sig), "overflow": Out(1)})

    @property
    def rx_depth(self):
        return self._rx_depth

    def elaborate(self, platform):
        m = Module()
        V, W = self._vcs, self._flit_bits + 1      # buffers hold {last, data}
        vb = vc_bits(V)

        # -- TX buffers: the sender's credit target -------------------------------------
        T = self._tx_depth
        tx, tx_credit = tx_buffers(m, self.i, self.overflow, V, W, T)

        # -- serialiser: one flit per `ratio` cycles, round-robin over ready VCs ------------
        remote = [Signal(range(self._rx_depth + 1), init=self._rx_depth, name=f"remote{v}")
                  for v in range(V)]
        credit_back = Signal(V)          # credits arriving from the RX side this cycle
        busy = Signal(range(self._ratio + 1))
        rr = Signal(range(V))
        ready = Cat(tx[v].nonempty & (remote[v] != 0) for v in range(V))
        pick, found = first_ready(m, ready, rr, range(V), "")
        start = Signal()
        m.d.comb += start.eq(found & (busy <= 1))
        wire_word = Signal(W)
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        with m.If(start):
            m.d.sync += [busy.eq(self._ratio), rr.eq(Mux(pick == V - 1, 0, pick + 1)) if V > 1
                         else rr.eq(0)]
            for v in range(V):
                with m.If(pick == v):
                    m.d.comb += [tx[v].pop.eq(1)]
                    m.d.sync += wire_word.eq(tx[v].head)
            # the flit is on the wire for `ratio` cycles; it appears at the far end when done
        m.d.comb += tx_credit.eq(Cat(tx[v].pop for v in range(V)))
        for v in range(V):
            sent = start & (pick == v)
            m.d.sync += remote[v].eq(remote[v] - sent + credit_back[v])

        # serialisation delay: the word launched by `start` lands after `ratio` cycles
        ser_valid = [Signal(name=f"ser_v{k}") for k in range(self._ratio)]
        ser_vc = [Signal(vb, name=f"ser_vc{k}") for k in range(self._ratio)]
        m.d.sync += [ser_valid[0].eq(start), ser_vc[0].eq(pick)]
        for k in range(1, self._ratio):
            m.d.sync += [ser_valid[k].eq(ser_valid[k - 1]), ser_vc[k].eq(ser_vc[k - 1])]
        # wire_word stays put until the next start, so it is valid when ser_valid[-1] is

        # flight: `latency` registers for flits and, in the other direction, for credits
        fv, fvc, fw = ser_valid[-1], ser_vc[-1], wire_word
        for k in range(self._latency):
            nv, nvc, nw = Signal(name=f"fly_v{k}"), Signal(vb, name=f"fly_vc{k}"), Signal(W, name=f"fly_w{k}")
            m.d.sync += [nv.eq(fv), nvc.eq(fvc)]
            with m.If(fv):
                m.d.sync += nw.eq(fw)
            fv, fvc, fw = nv, nvc, nw

        # -- RX buffers and the receiving router's credits --------------------------------
        rx = [_Fifo(m, f"rx{v}", W, self._rx_depth) for v in range(V)]
        down = [Signal(range(self._down + 1), init=self._down, name=f"down{v}") for v in range(V)]
        rx_pop = Signal(V)
        for v, f in enumerate(rx):
            m.d.comb += [f.din.eq(fw), f.push.eq(fv & (fvc == v))]
        rx_output(m, rx, down, rx_pop, self.o, range(V))
        for v in range(V):
            m.d.sync += down[v].eq(down[v] - rx_pop[v] + self.o.credit[v])

        # credits fly back: RX pop -> (1 register + latency) -> TX remote counters
        c = Signal(V, name="credit_launch")
        m.d.sync += c.eq(rx_pop)
        for k in range(self._latency):
            nc = Signal(V, name=f"credit_fly{k}")
            m.d.sync += nc.eq(c)
            c = nc
        m.d.comb += credit_back.eq(c)
        return m
