"""The 5-port mesh router (DESIGN.md section 5): one cycle per hop at zero load.

Micro-architecture
------------------
Everything from input to output register happens in one cycle:

* **Input buffers with bypass.** Each input has one ``lib.memory`` array of
  ``vcs`` x ``buffer_depth`` flits (VC *v* at addresses ``{v, ptr}``) with one
  write port and one asynchronous read port (the offered VC's head), and a
  small meta array holding ``{last, route}`` per flit. A flit that arrives on
  a VC whose FIFO is empty competes in the cycle it arrives; if it wins it
  is still written into the slot the write pointer designates (the write
  enable depends only on ``valid``, ``vc`` and the count, never on the
  allocation), and a bypass advances both pointers, so the slot is free again
  at once. A flit valid on ``in_X`` at cycle *t* is on ``out_Y`` at *t+1* at
  zero load.
* **Registered head request.** Per (input, VC) a flop ``hreq`` holds the
  one-hot route of the flit the FIFO offers next (the packet's route inside a
  packet, else the head's stored route; zero when empty). Its next value is
  prepared from the meta entry after the head and the arriving flit, and the
  allocation result only selects between two such values, so neither the meta
  read nor the route multiplexers sit on the allocation path. Likewise the
  buffer count, its ``== 0`` flag (``empty``), the credit counters and their
  ``!= 0`` flags (``cnz``) are updated by a final multiplexer driven by the
  late pop/send signal.
* **Registered requests.** The allocator's request of (input, VC) for output
  *o* is one gate from flops and the arriving flit's route: ``rreq`` (the
  buffered flit: ``hreq & cnz & (in_pkt | ~locked)``), ``bpk`` and ``bnew``
  (a flit that would bypass inside a packet / as a head: ``empty & cnz`` and
  the packet's route, resp. the output unlocked) are flops whose next values
  are computed from the next values of the state they read.
* **Routing.** Dimension order (XY or YX) from the head's ``dst_x``/``dst_y``
  against the router's own ``x``/``y`` inputs, as a one-hot output vector
  (east = x+1, west = x-1, south = y+1, north = y-1). It is computed once per
  input on arrival and stored in the meta array next to the flit (meaningful
  for heads only). The route of a packet is kept per (input, VC) from its head
  until its tail (wormhole).
* **Table routing** (``routing="table"``, issue 15). The route is instead a
  run-time table lookup (:class:`rtl.net.routing_table.RoutingTable`: a die table
  and a node table in ``lib.memory``, one asynchronous read port per input),
  computed at the same place and in the same cycle as the XY route (on arrival,
  stored in the meta array): no extra cycle, one cycle per hop at zero load. The
  port is :func:`gen.routing.output_port` of the loaded tables; a U-turn (the
  table names the input port) or an index above 4 is sent to ``local`` instead
  (checked tables do neither; the sink then counts a misroute). The tables are
  loaded through the ``cfg`` port before traffic (docs/table_mode.md); loaded
  with XY tables the router behaves cycle for cycle as the XY router. With VC
  planes (a fifth ``table_shape`` element, :mod:`gen.routing.planes`) each VC has its
  own tables and the lookup is addressed by the arriving flit's VC as well.
* **Turn-restricted crossbar.** Only the paths dimension-order routing can use
  exist (:func:`turn_allowed`): no U-turns and, for XY, no turn from y back to
  x (17 of the 25 input/output pairs), which saves about a third of the
  crossbar. A flit on a direction input is routed over the dimensions still
  open to it, so a packet that could not have arrived under the same routing
  (a mesh wired inconsistently) is never stuck, but may leave on a port other
  than a full XY/YX decision would pick. With table routing every path but the
  four U-turns exists (21 of 25).
* **Static VCs.** A flit received on VC *v* leaves on VC *v*; no VC allocation.
  Output VC (o, v) is locked by a multi-flit packet from its head until its
  tail, so packets never interleave on one VC of an output.
* **Separable input-first round-robin allocation, single cycle.** Each input
  picks one *eligible* VC with a round-robin arbiter (flit available in the
  FIFO or on the bypass; output VC free or owned by this packet; output credit
  counter non-zero). Each output then picks one of the inputs requesting it
  with a round-robin arbiter. An input's pointer advances only when its pick
  wins an output; an output's pointer advances on every grant. Since both
  stages are round-robin over requesters that stay eligible, no (input, VC)
  starves. Input-first is chosen because its first stage only considers VCs
  that can actually send (credit and lock checked), so with one VC it is a
  maximal matching, and it needs no iteration.
* **Registered outputs and credits.** ``out_*.valid/last/vc/data`` are flops;
  ``in_*.credit`` is a flop pulsed the cycle after a flit leaves its input
  buffer (or bypass).
* **Credit counters.** One per (output, VC), initialised to
  ``downstream_depth``; the allocator uses only the registered value, so a
  credit returns for reuse 3 cycles after the flit was sent (link, credit
  register, counter), exactly ``gen.derive.credit_round_trip(0)``: a VC
  streams one flit per cycle iff the downstream buffer holds >= 3 flits.

The wide selects are chains of 2:1 multiplexers driven by one-hot grants
(cheaper than AND-OR trees in Verilator, same logic), except the crossbar's
output data select, an AND-OR tree: on ECP5 it maps to fewer LUT levels after
the output grant (1 VC: 98 -> 105 MHz when it was the only change). Table mode
adds the table read (destination -> constant divisions -> two distributed-RAM reads ->
combine) before the bypass request, the longest path of the arrival cycle, and the four
extra crossbar paths. Size and Fmax on ECP5 (out of context, both routings, 1 and 2 VCs)
are measured by ``make bench SECTIONS=fpga`` (BENCHMARKS.md).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.net.arbiter import RoundRobinArbiter
from rtl.net.directions import EAST, LOCAL, NORTH, OPPOSITE, PORTS, SOUTH, TRAVEL, WEST
from rtl.net.link import LinkSignature, check_vcs, vc_bits
from rtl.net.packet import PacketFormat, coord_bits_for
from rtl.net.probes import Probes
from rtl.net.routing_table import RoutingTable, check_table_shape, config_layout

__all__ = ["Router", "turn_allowed"]


_ORDER = {"xy": ("x", "y"), "yx": ("y", "x")}
#: output port for a move along (dimension, sign); east = x+1, south = y+1
_OUT = {("x", +1): EAST, ("x", -1): WEST, ("y", +1): SOUTH, ("y", -1): NORTH}


def turn_allowed(routing, src, dst):
    """Whether routing ``routing`` can send a flit from input ``src`` to output ``dst``
    (port names). The local port reaches and is reached by all; a flit travelling
    along a dimension goes straight on or, under dimension order, turns into a later
    dimension of the order, under ``"table"`` into any; it never turns back (no U-turn)."""
    if src == "local" or dst == "local":
        return True
    (d_in, s_in), (d_out, s_out) = TRAVEL[src], TRAVEL[OPPOSITE[dst]]
    if d_in == d_out:
        return s_in == s_out
    if routing == "table":
        return True
    order = _ORDER[routing]
    return order.index(d_out) > order.index(d_in)


def _any_of(m, name, terms, width):
    """OR-reduction of ``terms`` (each ``width`` bits) into a named signal."""
    sig = Signal(width, name=name)
    acc = Const(0, width)
    for t in terms:
        acc = acc | t
    m.d.comb += sig.eq(acc)
    return sig


class Router(Probes, wiring.Component):
    """Five-port wormhole router with credit flow control and static VCs.

    Parameters
    ----------
    fmt : PacketFormat
        Flit and head layout; ``fmt.flit_bits`` is the link width and
        ``fmt.coord_bits`` the width of ``x``, ``y`` and the head coordinates.
    vcs : int
        Virtual channels per link, 1..4.
    buffer_depth : int
        Flits per input FIFO per VC (1 or more). Also what the upstream
        sender's credit counters must be initialised to.
    routing : str
        ``"xy"`` (x first, default), ``"yx"`` (y first) or ``"table"`` (run-time
        routing tables, :class:`rtl.net.routing_table.RoutingTable`).
    table_shape : (dies_x, dies_y, nodes_x, nodes_y) or None
        The tile the tables describe; required with ``routing="table"``, else unused.
    downstream_depth : int or None
        Initial value of the output credit counters (the downstream buffer
        depth per VC); defaults to ``buffer_depth``.

    Members
    -------
    x, y : In(fmt.coord_bits)
        The router's own global coordinates. Tie them to constants: one module
        then serves every mesh position.
    in_local, in_north, in_east, in_south, in_west : In(LinkSignature(...))
        Input links. ``valid/last/vc/data`` are sampled every cycle (no
        backpressure); a flit may only be sent with a credit for its VC.
        ``credit[v]`` is a registered one-cycle pulse, the cycle after a flit
        of VC ``v`` left this input's buffer (or bypassed it).
    out_local, out_north, out_east, out_south, out_west : Out(LinkSignature(...))
        Output links. ``valid/last/vc/data`` are registered: a flit that was
        valid on an input at cycle *t* is here at *t+1* at the earliest (zero
        load). ``credit[v]`` pulses from downstream are counted at the clock
        edge and usable from the next cycle.
    overflow : Out(1)
        Sticky: set the cycle after a flit arrived on a VC whose buffer was
        full (the upstream broke the credit protocol; the flit is dropped).
    cfg : In(config_layout(fmt.coord_bits, table_shape))
        Only with ``routing="table"``: the table load port
        (:mod:`rtl.net.routing_table`); load before traffic starts.

    Raises
    ------
    TypeError
        If ``fmt`` is not a :class:`PacketFormat`.
    ValueError
        If ``vcs``, ``buffer_depth``, ``routing``, ``table_shape`` or
        ``downstream_depth`` is out of range.
    """

    #: what each non-link port is for (links describe themselves: LinkSignature.MEMBER_ROLES)
    PORT_ROLES = {"x": "global x coordinate (tie off)", "y": "global y coordinate (tie off)",
                  "overflow": "any buffer overflow (credit-protocol violation)",
                  "cfg": "routing table load port (table mode)"}

    def __init__(self, *, fmt, vcs, buffer_depth, routing="xy", downstream_depth=None,
                 table_shape=None):
        if not isinstance(fmt, PacketFormat):
            raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
        check_vcs(vcs)
        if not isinstance(buffer_depth, int) or isinstance(buffer_depth, bool) \
                or buffer_depth < 1:
            raise ValueError(f"buffer_depth must be a positive integer, not {buffer_depth!r}")
        if routing not in ("xy", "yx", "table"):
            raise ValueError(f"routing must be 'xy', 'yx' or 'table', not {routing!r}")
        if routing == "table":
            if table_shape is None:
                raise ValueError("routing='table' needs table_shape=(dies_x, dies_y, nodes_x, "
                                 "nodes_y)")
            table_shape = check_table_shape(tuple(table_shape))
            need = coord_bits_for(table_shape[0] * table_shape[2], table_shape[1] * table_shape[3])
            if need > fmt.coord_bits:
                raise ValueError(f"a tile of shape {table_shape} needs {need}-bit coordinates, "
                                 f"the packet format has {fmt.coord_bits}")
            if len(table_shape) == 5 and table_shape[4] != vcs:
                raise ValueError(f"VC planes: table_shape has {table_shape[4]} planes, the "
                                 f"router {vcs} VCs (one plane per VC)")
        else:
            table_shape = None
        if downstream_depth is None:
            downstream_depth = buffer_depth
        elif not isinstance(downstream_depth, int) or isinstance(downstream_depth, bool) \
                or downstream_depth < 1:
            raise ValueError(f"downstream_depth must be a positive integer, "
                             f"not {downstream_depth!r}")
        self._fmt = fmt
        self._vcs = vcs
        self._buffer_depth = buffer_depth
        self._routing = routing
        self._downstream_depth = downstream_depth
        self._table_shape = table_shape
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        members = {"x": In(fmt.coord_bits), "y": In(fmt.coord_bits)}
        for p in PORTS:
            members[f"in_{p}"] = In(link)
        for p in PORTS:
            members[f"out_{p}"] = Out(link)
        members["overflow"] = Out(1)
        if routing == "table":
            members["cfg"] = In(config_layout(fmt.coord_bits, table_shape))
        super().__init__(members)

    fmt = property(lambda self: self._fmt)
    vcs = property(lambda self: self._vcs)
    buffer_depth = property(lambda self: self._buffer_depth)
    routing = property(lambda self: self._routing)
    downstream_depth = property(lambda self: self._downstream_depth)
    table_shape = property(lambda self: self._table_shape)

    # -- routing ------------------------------------------------------------------

    def _route(self, m, data, port, name):
        """One-hot output (bit order of PORTS) for a head flit ``data`` on input ``port``.

        Dimension order over the outputs this input can reach (see
        :func:`turn_allowed`): a dimension whose outputs are unreachable from
        this input is skipped, so every route is one of the crossbar's paths.
        """
        head = self._fmt.head(data)
        plus = {"x": head.dst_x > self.x, "y": head.dst_y > self.y}
        minus = {"x": head.dst_x < self.x, "y": head.dst_y < self.y}
        bits = [Const(0, 1)] * len(PORTS)
        rest = Const(1, 1)                  # no earlier decision taken
        for dim in _ORDER[self._routing]:
            for cond, out in ((plus[dim], _OUT[dim, +1]), (minus[dim], _OUT[dim, -1])):
                if turn_allowed(self._routing, port, PORTS[out]):
                    bits[out] = rest & cond
                    rest = rest & ~cond
        bits[LOCAL] = rest
        route = Signal(len(PORTS), name=name)
        m.d.comb += route.eq(Cat(bits))
        return route

    def _table_route(self, m, table, data, vc, port, name):
        """One-hot route from the run-time table: lookup ``port``'s entry for the head
        ``data`` arriving on ``vc`` (the plane, with VC planes); a U-turn (the table names
        the input port) or a port index above 4 goes to ``local`` instead (checked tables
        never do either)."""
        head = self._fmt.head(data)
        i = PORTS.index(port)
        m.d.comb += [table.dst[i].x.eq(head.dst_x), table.dst[i].y.eq(head.dst_y)]
        if table.planes > 1:
            m.d.comb += table.vc[i].eq(vc)
        idx = table.port[i]
        ok = idx < len(PORTS)
        if port != "local":
            ok = ok & (idx != i)
        route = Signal(len(PORTS), name=name)
        m.d.comb += route.eq(Mux(ok, (Const(1, len(PORTS)) << idx)[:len(PORTS)],
                                 1 << LOCAL))
        return route

    # -----------------------------------------------------------------------------

    def elaborate(self, platform):
        """One elaborate of about 230 lines, on purpose.

        The two allocation stages form one combinational loop across all
        ports within a cycle: every input's first stage (buffer head, VC
        choice, request) feeds every output's arbiter, and the outputs'
        grants come back in the same cycle to pop that input's buffer, return
        its credit and advance its VC pointer. An input unit as a component
        would carry this loop through about ten signals per input-output pair
        without hiding anything, and the helpers it would need are already
        factored (:meth:`_route`, :func:`turn_allowed`, the ``pick``/``index``
        selectors below). The structure is also what was verified and
        measured: the k-induction harness (:mod:`verif.formal.router`) probes
        the credit counters by their names in this module, and the FPGA timing
        result (BENCHMARKS.md) is for this netlist.
        """
        m = Module()
        V, D, N = self._vcs, self._buffer_depth, len(PORTS)
        W = self._fmt.flit_bits
        ins = [getattr(self, f"in_{p}") for p in PORTS]
        outs = [getattr(self, f"out_{p}") for p in PORTS]

        pb = max(1, (D - 1).bit_length())           # pointer bits
        vb = (V - 1).bit_length()                   # VC bits of a buffer address

        def step(ptr):
            if D == 1 << pb:
                return (ptr + 1)[:pb]
            return Mux(ptr == D - 1, 0, ptr + 1)

        def pick(sel, values):
            """One-hot ``sel`` AND-OR select as a chain of 2:1 muxes (0 when none)."""
            acc = Const(0, len(values[0]))
            for k in reversed(range(len(values))):
                acc = Mux(sel[k], values[k], acc)
            return acc

        def pick_andor(sel, values):
            """One-hot ``sel`` select as an AND-OR tree (0 when none): for the crossbar,
            where it maps to fewer LUT levels after the grant than the 2:1 chain."""
            acc = Const(0, len(values[0]))
            for k, val in enumerate(values):
                acc = acc | Mux(sel[k], val, 0)
            return acc

        def index(onehot):
            """Binary index of a one-hot vector (0 when none)."""
            return Cat(Cat(onehot[k] for k in range(len(onehot)) if k >> b & 1).any()
                       for b in range(max(1, (len(onehot) - 1).bit_length())))

        # output state: credit counters and wormhole locks, per (output, VC)
        counters = [[Signal(range(self._downstream_depth + 1), init=self._downstream_depth,
                            name=f"credits_{p}_vc{v}") for v in range(V)] for p in PORTS]
        locked = [[Signal(name=f"locked_{p}_vc{v}") for v in range(V)] for p in PORTS]
        # registered copies of ``counter != 0``: the allocator starts from flops
        cnz = [[Signal(init=self._downstream_depth != 0, name=f"cnz_{p}_vc{v}")
                for v in range(V)] for p in PORTS]
        # their next values (assigned on the output side): the registered requests of
        # the input side are computed from them
        cnz_n = [[Signal(name=f"cnz_next_{p}_vc{v}") for v in range(V)] for p in PORTS]
        locked_n = [[Signal(name=f"locked_next_{p}_vc{v}") for v in range(V)] for p in PORTS]
        self._probe(**{f"{kind}_{p}_vc{v}": sigs[i][v]
                       for kind, sigs in (("credits", counters), ("locked", locked), ("cnz", cnz))
                       for i, p in enumerate(PORTS) for v in range(V)})

        # -- input side: buffers, route state, first allocation stage ---------------
        ivc = []        # [i] -> V-bit one-hot: the VC input i offers
        req = []        # [i] -> N-bit one-hot: the output input i requests
        sel_data = []   # [i] -> flit data of the offered VC
        sel_last = []   # [i] -> its last bit
        won = [Signal(name=f"won_{p}") for p in PORTS]
        overflow_now = []
        table = None
        if self._routing == "table":
            m.submodules.table = table = RoutingTable(
                coord_bits=self._fmt.coord_bits, shape=self._table_shape, lookups=N)
            m.d.comb += [table.x.eq(self.x), table.y.eq(self.y), table.cfg.eq(self.cfg)]
        for i, (p, inp) in enumerate(zip(PORTS, ins)):
            # the route is computed once, on arrival, and kept next to the flit
            if table is None:
                route_in = self._route(m, inp.data, p, f"route_in_{p}")
            else:
                route_in = self._table_route(m, table, inp.data, inp.vc, p, f"route_in_{p}")
            arrive = Signal(V, name=f"arrive_{p}")
            m.d.comb += arrive.eq(Mux(inp.valid, (Const(1, V) << inp.vc)[:V], 0))

            # one data buffer per input, VC v at addresses {v, ptr}; meta = {last, route}
            buf = Memory(shape=W, depth=(1 << vb) << pb, init=[])
            meta = Memory(shape=N + 1, depth=(1 << vb) << pb, init=[])
            m.submodules[f"buf_{p}"] = buf
            m.submodules[f"meta_{p}"] = meta
            self._probe(**{f"buf_{p}": buf, f"meta_{p}": meta})

            elig = Signal(V, name=f"elig_{p}")
            grant = Signal(V, name=f"ivc_{p}")
            if V > 1:
                arb = RoundRobinArbiter(n=V)
                m.submodules[f"in_arb_{p}"] = arb
                m.d.comb += [arb.requests.eq(elig), arb.advance.eq(won[i]), grant.eq(arb.grant)]
            else:
                m.d.comb += grant.eq(elig)
            go = Signal(V, name=f"go_{p}")
            m.d.comb += go.eq(Mux(won[i], grant, 0))
            m.d.sync += inp.credit.eq(go)

            reqs, lasts, empties, writes, wptrs, rptrs = [], [], [], [], [], []
            for v in range(V):
                count = Signal(range(D + 1), name=f"count_{p}_vc{v}")
                rptr = Signal(pb, name=f"rptr_{p}_vc{v}")
                wptr = Signal(pb, name=f"wptr_{p}_vc{v}")
                # registered ``count == 0``: the request path starts at flops
                empty = Signal(init=1, name=f"empty_{p}_vc{v}")
                full = Signal(name=f"full_{p}_vc{v}")
                write = Signal(name=f"write_{p}_vc{v}")
                pop = Signal(name=f"pop_{p}_vc{v}")
                # an arriving flit is always written (unless the VC is full), even when it
                # bypasses the FIFO: the write enable does not wait for the allocation; a
                # bypassed flit's slot is freed at once by advancing the read pointer too
                m.d.comb += [
                    full.eq(count == D),
                    write.eq(arrive[v] & ~full),
                    pop.eq(go[v]),
                ]
                # the late ``pop`` only selects between two precomputed values; ``empty``
                # is a flop of its own (``count == 0``) so no comparator is on the path
                empty_n = Signal(name=f"empty_next_{p}_vc{v}")
                m.d.comb += empty_n.eq(Mux(pop, count + write == 1, empty & ~write))
                m.d.sync += [count.eq(Mux(pop, count + write - 1, count + write)),
                             empty.eq(empty_n)]
                with m.If(write):
                    m.d.sync += wptr.eq(step(wptr))
                with m.If(pop):
                    m.d.sync += rptr.eq(step(rptr))
                overflow_now.append(arrive[v] & full)

                def vaddr(ptr):
                    return Cat(ptr[:pb], Const(v, vb)) if vb else ptr[:pb]

                head = meta.read_port(domain="comb")
                m.d.comb += head.addr.eq(vaddr(rptr))
                second = meta.read_port(domain="comb")
                m.d.comb += second.addr.eq(vaddr(step(rptr)))

                # wormhole state: inside a packet, and its route
                in_pkt = Signal(name=f"in_pkt_{p}_vc{v}")
                pkt_route = Signal(N, name=f"pkt_route_{p}_vc{v}")
                # registered request of the buffered flit: the route of the FIFO head
                # (the packet's route inside a packet, else the head's meta route), zero
                # when the FIFO is empty; no meta read or route mux on the allocation path
                hreq = Signal(N, name=f"hreq_{p}_vc{v}")
                route = Signal(N, name=f"route_{p}_vc{v}")
                fresh = Signal(N, name=f"fresh_route_{p}_vc{v}")
                last = Signal(name=f"last_{p}_vc{v}")
                m.d.comb += [
                    fresh.eq(Mux(in_pkt, pkt_route, route_in)),
                    route.eq(Mux(empty, fresh, hreq)),
                    last.eq(Mux(empty, inp.last, head.data[N])),
                ]
                # next hreq: only the late ``go`` selects between two early values
                nxt = Mux(count >= 2, second.data[:N], route_in)
                hreq_go = Mux(count + write >= 2, Mux(last, nxt, route), 0)
                hreq_stay = Mux(empty, Mux(write, fresh, 0), hreq)
                pkt_route_n = Signal(N, name=f"pkt_route_next_{p}_vc{v}")
                in_pkt_n = Signal(name=f"in_pkt_next_{p}_vc{v}")
                hreq_n = Signal(N, name=f"hreq_next_{p}_vc{v}")
                m.d.comb += [pkt_route_n.eq(Mux(go[v], route, pkt_route)),
                             in_pkt_n.eq(Mux(go[v], ~last, in_pkt)),
                             hreq_n.eq(Mux(go[v], hreq_go, hreq_stay))]
                m.d.sync += [hreq.eq(hreq_n), in_pkt.eq(in_pkt_n), pkt_route.eq(pkt_route_n)]
                # request per output (route is one-hot): flit available, output credit,
                # output VC free or owned by this packet. The checks are registered, from
                # the next values of the state they read:
                #   rreq = hreq & cnz & (in_pkt | ~locked)            (buffered flit)
                #   bpk  = empty & cnz & in_pkt & pkt_route           (bypass, in a packet)
                #   bnew = empty & cnz & ~in_pkt & ~locked            (bypass, a head)
                # so a request is one gate from flops and the arriving flit's route
                rq = Signal(N, name=f"req_{p}_vc{v}")
                rreq = Signal(N, name=f"rreq_{p}_vc{v}")
                bpk = Signal(N, name=f"bpk_{p}_vc{v}")
                allowed = [o for o in range(N) if turn_allowed(self._routing, p, PORTS[o])]
                # at reset: empty, credit, not in a packet, unlocked
                bnew = Signal(N, init=sum(1 << o for o in allowed), name=f"bnew_{p}_vc{v}")
                self._probe(**{f"{kind}_{p}_vc{v}": sig for kind, sig in (
                    ("count", count), ("rptr", rptr), ("wptr", wptr), ("empty", empty),
                    ("in_pkt", in_pkt), ("pkt_route", pkt_route), ("hreq", hreq),
                    ("rreq", rreq), ("bpk", bpk), ("bnew", bnew))})
                for o in allowed:
                    m.d.sync += [
                        rreq[o].eq(hreq_n[o] & cnz_n[o][v] & (in_pkt_n | ~locked_n[o][v])),
                        bpk[o].eq(empty_n & cnz_n[o][v] & in_pkt_n & pkt_route_n[o]),
                        bnew[o].eq(empty_n & cnz_n[o][v] & ~in_pkt_n & ~locked_n[o][v])]
                    m.d.comb += rq[o].eq(rreq[o] | (arrive[v] & (bpk[o]
                                                                | (bnew[o] & route_in[o]))))
                m.d.comb += elig[v].eq(rq.any())
                reqs.append(rq)
                lasts.append(last)
                empties.append(empty)
                writes.append(write)
                wptrs.append(wptr)
                rptrs.append(rptr)

            # single write port: the arriving flit's VC selects the pointer
            write_any = Signal(name=f"write_{p}")
            m.d.comb += write_any.eq(Cat(writes).any())
            wptr_sel = pick(arrive, wptrs) if V > 1 else wptrs[0]
            waddr = Cat(wptr_sel, inp.vc[:vb]) if vb else wptr_sel
            for mem, wdata in ((buf, inp.data), (meta, Cat(route_in, inp.last))):
                wp = mem.write_port()
                m.d.comb += [wp.en.eq(write_any), wp.addr.eq(waddr), wp.data.eq(wdata)]

            # single read port: the offered VC's head
            rd = buf.read_port(domain="comb")
            if V > 1:
                gidx = index(grant)
                m.d.comb += rd.addr.eq(Cat(pick(grant, rptrs), gidx[:vb]))
            else:
                m.d.comb += rd.addr.eq(rptrs[0])

            r = Signal(N, name=f"req_{p}")
            d = Signal(W, name=f"sel_data_{p}")
            ll = Signal(name=f"sel_last_{p}")
            bypass = (grant & Cat(empties)).any() if V > 1 else empties[0]
            m.d.comb += [r.eq(pick(grant, reqs) if V > 1 else reqs[0]),
                         d.eq(Mux(bypass, inp.data, rd.data)),
                         ll.eq((grant & Cat(lasts)).any())]
            ivc.append(grant)
            req.append(r)
            sel_data.append(d)
            sel_last.append(ll)

        # -- output side: second allocation stage, crossbar, registers ---------------
        won_terms = [[] for _ in range(N)]
        for o, (p, out) in enumerate(zip(PORTS, outs)):
            src = [i for i in range(N) if turn_allowed(self._routing, PORTS[i], p)]
            arb = RoundRobinArbiter(n=len(src))
            m.submodules[f"out_arb_{p}"] = arb
            m.d.comb += [arb.requests.eq(Cat(req[i][o] for i in src)), arb.advance.eq(1)]
            g = arb.grant
            for k, i in enumerate(src):
                won_terms[i].append(g[k])
            sent = Signal(V, name=f"sent_{p}")
            any_req = Cat(req[i][o] for i in src).any()
            # the arbiter grants whenever anything is requested: whether the output sends,
            # and with one VC on which VC, follows from the requests, not from the grant
            m.d.comb += sent.eq(pick(g, [ivc[i] for i in src]) if V > 1 else any_req)
            last = (g & Cat(sel_last[i] for i in src)).any()
            m.d.sync += [out.valid.eq(any_req), out.last.eq(last),
                         out.vc.eq(index(sent) if V > 1 else 0),
                         out.data.eq(pick_andor(g, [sel_data[i] for i in src]))]
            for v in range(V):
                cnt = counters[o][v]
                # the late ``sent`` only selects between precomputed values
                back = out.credit[v]
                m.d.comb += [cnz_n[o][v].eq(Mux(sent[v], (cnt >= 2) | ((cnt == 1) & back),
                                                (cnt != 0) | back)),
                             locked_n[o][v].eq(Mux(sent[v], ~last, locked[o][v]))]
                m.d.sync += [cnt.eq(Mux(sent[v], cnt + back - 1, cnt + back)),
                             cnz[o][v].eq(cnz_n[o][v]), locked[o][v].eq(locked_n[o][v])]

        for i in range(N):
            m.d.comb += won[i].eq(Cat(won_terms[i]).any())

        with m.If(Cat(overflow_now).any()):
            m.d.sync += self.overflow.eq(1)
        return m
