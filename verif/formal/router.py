"""Formal proof of the router (SymbiYosys, k-induction) on a small parameterisation.

What is proved (``mode prove``: BMC base case plus k-induction step, so for every
reachable state, not just the first ``depth`` cycles), for a router at any
position ``(x, y)`` of a 4x4 coordinate space, any VC count and buffer depth the
caller chooses (1-2 VCs, depth 2-3 are quick):

``no_loss_dup``
    Every flit that leaves is the oldest flit not yet delivered of its flow
    (input port, VC), compared bit for bit (data and ``last``) against a
    reference FIFO per flow: no flit is lost, duplicated, reordered, corrupted
    or moved to another VC. Flits carry their input port and a per-flow
    sequence number in their payload, so a swap is visible.
``credit_bounds``
    The router's credit counter of every output VC stays in ``[0, depth]`` and,
    with the flits on the wire and in the downstream buffer, sums to ``depth``;
    the upstream credit counter of every input VC, the router's buffer count and
    the credit pulse in flight sum to ``depth`` (the router never returns a
    credit it does not owe).
``credit_respected``
    An output never sends a flit into a full downstream buffer (a downstream
    model with ``depth`` slots per VC that frees slots at random).
``no_interleave``
    Between a head and its tail on one VC of an output, every flit comes from
    the same flow (the wormhole lock holds).
``xy_route``
    Every flit leaves through the port XY routing demands for its destination
    (every flit of a packet carries the destination, so body flits are checked too).
``table_route`` (``routing="table"``, instead of ``xy_route``)
    Every flit leaves through the port its table entry names, for **any** table:
    the harness proves :class:`FreeTableRouter`, the real table router whose lookup
    returns a free port index per destination (``AnyConst``; a U-turn or an index
    above 4 goes to local, by the router's own rule). Arrivals are unconstrained
    (any destination on any input), and the crossbar has all 20 turns and the local
    paths. With VC planes (``planes=True``, 2+ VCs) the entry is a free function of the
    destination and the flit's VC. :mod:`verif.formal.routing_table` proves the other
    half: the real lookup returns the combine rule of the entries the configuration port
    wrote, so with tables loaded before traffic the two compose.
``no_overflow``
    The sticky ``overflow`` output never rises.

Plus internal invariants (buffer pointers, wormhole state, locks) that make the
properties inductive; they are asserted too, so they are proved as well.

Environment assumptions: each input sends only with a credit for the VC (its
upstream counter starts at ``depth``), every flit of a packet carries the same
destination, and (XY routing only) a flit arriving on a direction port is legal for
XY routing (from the west it travels east, so ``dst_x >= x``; from the north
``dst_x == x`` and ``dst_y >= y``; ...). Downstream credits come back at random, at most one
per flit held.

Covers (``mode cover``): every output can carry a flit.

The design seen by the solver is the real :class:`rtl.net.router.Router` with
probes only: a subclass exposes internal registers and adds read ports to the
buffer memories, and changes nothing else. :data:`MUTATIONS` are deliberately
broken routers that the proof must reject (``tests/verif/formal/test_router.py``).
"""

import sys
import types

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assume, Cat, Const, Cover, Module, Mux, ResetSignal, Signal
from amaranth.lib import data

from rtl.net.directions import PORTS
from rtl.net.packet import PacketFormat
from rtl.net.router import Router, turn_allowed
from rtl.net.routing_table import table_planes
from verif.formal.harness import Harness
from verif.formal.sby import run_proof

__all__ = ["CHECKS", "TinyFormat", "ProbedRouter", "RouterFormal", "MUTATIONS", "prove_router"]

#: property groups (see the module docstring); ``invariant`` makes the others inductive
CHECKS = ("no_loss_dup", "credit_bounds", "credit_respected", "no_interleave", "xy_route",
          "table_route", "no_overflow", "invariant")

#: the tile of the table-router proof: 2 dies of 1 x 2 nodes (a 2 x 2 coordinate space)
TABLE_SHAPE = (2, 1, 1, 2)

N = len(PORTS)
LOCAL, NORTH, EAST, SOUTH, WEST = range(N)
SRC_BITS = 3            # input port index carried in each flit
SEQ_BITS = 2            # per-flow sequence number carried in each flit


class TinyFormat(PacketFormat):
    """A flit format for proofs: ``dst_x, dst_y, src(3), seq(2)``, nothing else.

    The router reads only ``dst_x``/``dst_y`` of the head; the rest is payload
    the proof uses to identify flits. (:class:`PacketFormat` itself refuses
    widths this small because real heads carry more fields.)
    """

    def __init__(self, *, coord_bits=2):
        self.coord_bits = coord_bits
        self.timestamp_bits = 0
        self.flit_bits = 2 * coord_bits + SRC_BITS + SEQ_BITS
        self.head = data.StructLayout({"dst_x": coord_bits, "dst_y": coord_bits,
                                       "src": SRC_BITS, "seq": SEQ_BITS})
        self.traffic_info = None


class ProbedRouter(Router):
    """The router, plus read-only probes of its state for the proof.

    ``probe[name]`` mirrors the internal signal ``name`` (``credits_<p>_vc<v>``,
    ``cnz_..``, ``locked_<p>_vc<v>``, ``count_<p>_vc<v>``, ``rptr_..``, ``wptr_..``,
    ``in_pkt_..``, ``pkt_route_..``, ``hreq_..``, ``empty_..``, ``rreq_..``, ``bpk_..``,
    ``bnew_..``); ``peek[p, v, k]`` is
    ``(data, meta)`` of buffer slot ``k`` places after the read pointer of
    input ``p`` VC ``v``.
    """

    _PROBES = ("credits", "cnz", "locked", "count", "rptr", "wptr", "in_pkt", "pkt_route",
               "hreq", "empty", "rreq", "bpk", "bnew")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.probe = {}
        self.peek = {}

    def elaborate(self, platform):
        m = super().elaborate(platform)
        V, D = self.vcs, self.buffer_depth
        for p in PORTS:
            for v in range(V):
                for kind in self._PROBES:
                    name = f"{kind}_{p}_vc{v}"
                    src = self.probes[name]
                    dst = Signal.like(src, name=f"probe_{name}")
                    m.d.comb += dst.eq(src)
                    self.probe[name] = dst
        pb = max(1, (D - 1).bit_length())
        vb = (V - 1).bit_length()
        for p in PORTS:
            buf, meta = self.probes[f"buf_{p}"], self.probes[f"meta_{p}"]
            for v in range(V):
                rptr = self.probe[f"rptr_{p}_vc{v}"]
                for k in range(D):
                    slot = rptr + k
                    slot = Mux(slot >= D, slot - D, slot)[:pb]
                    addr = Cat(slot, Const(v, vb)) if vb else slot
                    ports = []
                    for mem in (buf, meta):
                        rp = mem.read_port(domain="comb")
                        m.d.comb += rp.addr.eq(addr)
                        ports.append(rp.data)
                    self.peek[p, v, k] = tuple(ports)
        return m


class _SwapNorthSouth(ProbedRouter):
    """Mutation: the route decision sends south-bound packets north and vice versa."""

    def _route(self, m, data, port, name):
        route = super()._route(m, data, port, name)
        bad = Signal.like(route, name=f"{name}_mutated")
        m.d.comb += bad.eq(route)
        m.d.comb += [bad[NORTH].eq(route[SOUTH]), bad[SOUTH].eq(route[NORTH])]
        return bad


class FreeTableRouter(ProbedRouter):
    """The table router with its table lookup replaced by a free function ``entry[dst]``.

    Everything of the real router is kept, :meth:`Router._table_route` included (the
    U-turn and out-of-range rules); only the port index it reads comes from
    ``entry`` (one 3-bit signal per destination of the coordinate space, and per VC with
    VC planes, which the harness ties to ``AnyConst``) instead of
    :class:`rtl.net.routing_table.RoutingTable`.
    While the tables hold still (they are loaded before traffic), the real lookup is
    one such function of the destination; :class:`TableLookupFormal` proves that it is
    the one :func:`gen.routing.combine` specifies. ``wrong_entry``: the mutation
    ``mutant_table`` reads the entry of another destination (``dst_x`` bit 0 flipped);
    ``ignore_vc``: the mutation ``vc_ignored`` reads VC 0's entry for every flit.
    """

    def __init__(self, *, wrong_entry=False, ignore_vc=False, **kwargs):
        super().__init__(**kwargs)
        cb = self._fmt.coord_bits
        self.plane_bits = (table_planes(self.table_shape) - 1).bit_length()
        self.entry = [Signal(3, name=f"free_entry_{d}")
                      for d in range(1 << (2 * cb + self.plane_bits))]
        self._wrong, self._ignore_vc = wrong_entry, ignore_vc

    def _table_route(self, m, table, data, vc, port, name):
        # with VC planes the entry is a free function of (destination, VC), else of the
        # destination alone
        cb = self._fmt.coord_bits
        i = PORTS.index(port)
        dst = {i: data_struct(cb, f"{name}_dst")}
        plane = (vc & 0 if self._ignore_vc else vc)[:self.plane_bits]
        key = Cat(dst[i].x ^ int(self._wrong), dst[i].y, plane)
        lookup = types.SimpleNamespace(dst=dst, port={i: Cat(self.entry).word_select(key, 3)})
        lookup.planes = 1
        return super()._table_route(m, lookup, data, vc, port, name)


def data_struct(cb, name):
    """A ``{x, y}`` destination view (what RoutingTable.dst[k] is)."""
    return Signal(data.StructLayout({"x": cb, "y": cb}), name=name)


#: name -> (router class, extra router kwargs given the buffer depth): routers that are wrong
MUTATIONS = {
    # misroutes: must break xy_route
    "swap_north_south": (_SwapNorthSouth, lambda depth: {}),
    # believes the downstream has one slot more than it has: must break credit_respected
    "extra_credit": (ProbedRouter, lambda depth: {"downstream_depth": depth + 1}),
    # table router: reads the table entry of another destination, must break table_route
    "mutant_table": (FreeTableRouter, lambda depth: {"wrong_entry": True}),
    # table router with VC planes: reads VC 0's tables for every flit, must break table_route
    "vc_ignored": (FreeTableRouter, lambda depth: {"ignore_vc": True}),
}
#: mutations that only make sense with routing="table"
TABLE_MUTATIONS = ("mutant_table", "vc_ignored")


def _xy_onehot(x, y, dx, dy):
    """The XY routing specification: the one-hot output (PORTS order) for a destination."""
    east, west = dx > x, dx < x
    south, north = (dx == x) & (dy > y), (dx == x) & (dy < y)
    local = (dx == x) & (dy == y)
    return Cat(local, north, east, south, west)


def _legal(port, x, y, dx, dy):
    """Whether a flit for (dx, dy) can arrive on input ``port`` under XY routing."""
    return {
        LOCAL: Const(1, 1),
        WEST: dx >= x,                  # travelling east
        EAST: dx <= x,                  # travelling west
        NORTH: (dx == x) & (dy >= y),   # travelling south
        SOUTH: (dx == x) & (dy <= y),   # travelling north
    }[port]


class RouterFormal(Harness):
    """The router between upstream and downstream models, with the properties.

    Parameters
    ----------
    vcs, depth : int
        Router VCs and buffer depth (downstream buffers have the same depth).
    coord_bits : int
        Coordinate width (2: positions 0..3 in each dimension).
    mutation : str or None
        A key of :data:`MUTATIONS`: prove a deliberately broken router.
    checks : iterable of str or None
        Property groups to assert (default: all of :data:`CHECKS`).
    routing : "xy" or "table"
        The router's routing; ``"table"`` proves :class:`FreeTableRouter` (any tables).
    planes : bool
        With ``routing="table"`` and 2+ VCs: a table set per VC.
    """

    CHECKS = CHECKS
    MUTATIONS = MUTATIONS

    @classmethod
    def validate(cls, *, vcs=1, routing="xy", planes=False, mutation=None, checks=None, **_):
        if routing not in ("xy", "table"):
            raise ValueError(f"routing must be 'xy' or 'table', not {routing!r}")
        if planes and (routing != "table" or vcs < 2):
            raise ValueError(f"VC planes need routing 'table' and at least 2 VCs, not "
                             f"routing {routing!r} with {vcs} VC(s)")
        if mutation == "vc_ignored" and not planes:
            raise ValueError("mutation 'vc_ignored' needs VC planes")
        super().validate(mutation=mutation, checks=checks)
        if mutation is not None and (mutation in TABLE_MUTATIONS) != (routing == "table"):
            raise ValueError(f"mutation {mutation!r} does not apply to routing {routing!r}")

    def __init__(self, *, vcs=1, depth=2, coord_bits=2, mutation=None, checks=None,
                 routing="xy", planes=False):
        super().__init__(mutation=mutation, checks=checks)
        if routing == "table":
            coord_bits = 1                      # the 2 x 2 coordinate space of TABLE_SHAPE
        self.routing, self.planes = routing, planes
        self.vcs, self.depth, self.fmt = vcs, depth, TinyFormat(coord_bits=coord_bits)
        cls, extra = (FreeTableRouter if routing == "table" else ProbedRouter), {}
        if mutation is not None:
            cls, extra_fn = MUTATIONS[mutation]
            extra = extra_fn(depth)
        if routing == "table":
            extra["table_shape"] = TABLE_SHAPE + ((vcs,) if planes else ())
        self.router = cls(fmt=self.fmt, vcs=vcs, buffer_depth=depth, routing=routing, **extra)

    def elaborate(self, platform):
        m = Module()
        # the clock must be a port: an undriven internal clock would be tied to 0 and
        # every property would hold vacuously
        m.domains.sync = self.cd
        m.d.comb += ResetSignal().eq(0)         # start from the initial values
        A = self.assertion
        r = self.elaborate_dut(m, "router", self.router, platform)
        V, D, fmt, cb = self.vcs, self.depth, self.fmt, self.fmt.coord_bits
        W = fmt.flit_bits

        x, y = Signal(cb, name="pos_x"), Signal(cb, name="pos_y")
        m.d.comb += [x.eq(AnyConst(cb)), y.eq(AnyConst(cb)), r.x.eq(x), r.y.eq(y)]
        ins = [getattr(r, f"in_{p}") for p in PORTS]
        outs = [getattr(r, f"out_{p}") for p in PORTS]

        def flit(value):
            return fmt.head(value)

        table = self.routing == "table"
        if table:
            for e in r.entry:
                m.d.comb += e.eq(AnyConst(len(e)))

        def route_of(i, dx, dy, vc):
            """The specified one-hot route of a flit for (dx, dy) that arrived on input i
            on VC ``vc`` (the VC matters to table routing with VC planes only)."""
            return self._table_spec(i, dx, dy, vc) if table else _xy_onehot(x, y, dx, dy)

        def legal(i, dx, dy):
            """Environment: XY routing delivers only XY-legal arrivals; tables any."""
            return Const(1, 1) if table else _legal(i, x, y, dx, dy)

        # -- upstream models and reference FIFOs, per input ------------------------------
        S = D + 1                                        # FIFO count + one output register
        ucred = [[Signal(range(D + 1), init=D, name=f"ucred_{p}_vc{v}") for v in range(V)]
                 for p in PORTS]
        up_pkt = [[Signal(name=f"up_pkt_{p}_vc{v}") for v in range(V)] for p in PORTS]
        up_dst = [[Signal(2 * cb, name=f"up_dst_{p}_vc{v}") for v in range(V)] for p in PORTS]
        up_seq = [[Signal(SEQ_BITS, name=f"up_seq_{p}_vc{v}") for v in range(V)] for p in PORTS]
        ref = [[[Signal(W + 1, name=f"ref_{p}_vc{v}_{k}") for k in range(S)] for v in range(V)]
               for p in PORTS]
        rocc = [[Signal(range(S + 1), name=f"rocc_{p}_vc{v}") for v in range(V)] for p in PORTS]
        pops = [[[] for _ in range(V)] for _ in PORTS]     # filled by the output side

        for i, (p, inp) in enumerate(zip(PORTS, ins)):
            valid, last = Signal(name=f"drv_valid_{p}"), Signal(name=f"drv_last_{p}")
            vc = Signal(len(inp.vc), name=f"drv_vc_{p}")
            dst = Signal(2 * cb, name=f"drv_dst_{p}")
            m.d.comb += [valid.eq(AnySeq(1)), last.eq(AnySeq(1)), vc.eq(AnySeq(len(vc))),
                         dst.eq(AnySeq(2 * cb))]
            seq = Signal(SEQ_BITS, name=f"drv_seq_{p}")
            m.d.comb += seq.eq(Cat(up_seq[i][v] for v in range(V)).word_select(vc, SEQ_BITS)
                               if V > 1 else up_seq[i][0])
            m.d.comb += [inp.valid.eq(valid), inp.last.eq(last), inp.vc.eq(vc),
                         inp.data.eq(Cat(dst, Const(i, SRC_BITS), seq))]
            m.d.comb += Assume(~valid | (vc < V))
            m.d.comb += Assume(~valid | legal(i, dst[:cb], dst[cb:]))
            for v in range(V):
                send = Signal(name=f"send_{p}_vc{v}")
                m.d.comb += send.eq(valid & (vc == v))
                m.d.comb += [Assume(~send | (ucred[i][v] != 0)),
                             Assume(~(send & up_pkt[i][v]) | (dst == up_dst[i][v]))]
                m.d.sync += ucred[i][v].eq(ucred[i][v] - send + inp.credit[v])
                with m.If(send):
                    m.d.sync += [up_pkt[i][v].eq(~last), up_dst[i][v].eq(dst),
                                 up_seq[i][v].eq(up_seq[i][v] + 1)]

        # -- outputs: downstream models and the checks ----------------------------------
        occ = [[Signal(range(D + 1), name=f"occ_{p}_vc{v}") for v in range(V)] for p in PORTS]
        busy = [[Signal(name=f"busy_{p}_vc{v}") for v in range(V)] for p in PORTS]
        owner = [[Signal(SRC_BITS, name=f"owner_{p}_vc{v}") for v in range(V)] for p in PORTS]
        # a flit of flow (i, v) in output register o this cycle
        here = [[[Signal(name=f"here_{PORTS[i]}_vc{v}_at_{PORTS[o]}") for o in range(N)]
                 for v in range(V)] for i in range(N)]
        for o, (p, out) in enumerate(zip(PORTS, outs)):
            f = flit(out.data)
            credit = Signal(V, name=f"drv_credit_{p}")
            m.d.comb += [credit.eq(AnySeq(V)), out.credit.eq(credit)]
            m.d.comb += Cover(out.valid)
            m.d.comb += A("no_loss_dup", ~out.valid | (out.vc < V))
            # xy_route / table_route: the flit's own input is in its payload (f.src)
            m.d.comb += A("table_route" if table else "xy_route",
                          ~out.valid | route_of(f.src, f.dst_x, f.dst_y, out.vc)[o])
            for v in range(V):
                arrive = Signal(name=f"at_{p}_vc{v}")
                m.d.comb += arrive.eq(out.valid & (out.vc == v))
                m.d.comb += Assume(~credit[v] | (occ[o][v] != 0))
                m.d.sync += occ[o][v].eq(occ[o][v] + arrive - credit[v])
                # credit_respected
                m.d.comb += A("credit_respected", ~arrive | (occ[o][v] < D))
                # no_interleave
                m.d.comb += A("no_interleave", ~(arrive & busy[o][v]) | (f.src == owner[o][v]))
                with m.If(arrive):
                    m.d.sync += [busy[o][v].eq(~out.last), owner[o][v].eq(f.src)]
                # credit_bounds (output side)
                cnt = r.probe[f"credits_{p}_vc{v}"]
                m.d.comb += A("credit_bounds", cnt <= D)
                # the registered ``credits != 0`` flag the allocator reads
                m.d.comb += A("invariant", r.probe[f"cnz_{p}_vc{v}"] == (cnt != 0))
                m.d.comb += A("credit_bounds", cnt + occ[o][v] + arrive == D)
                for i in range(N):
                    m.d.comb += here[i][v][o].eq(arrive & (f.src == i))
                    # no_loss_dup: the oldest undelivered flit of the flow, bit for bit
                    m.d.comb += A("no_loss_dup", ~here[i][v][o] | ((rocc[i][v] != 0)
                                                         & (ref[i][v][0] == Cat(out.data, out.last))))
                    pops[i][v].append(here[i][v][o])
            m.d.comb += A("no_loss_dup", ~out.valid | (f.src < N))

        m.d.comb += A("no_overflow", ~r.overflow)

        # -- reference FIFOs, upstream credit balance, wormhole invariants ---------------
        for i, (p, inp) in enumerate(zip(PORTS, ins)):
            m.d.comb += A("invariant", sum(Cat(here[i][v][o] for v in range(V)).any()
                                   for o in range(N)) <= 1)
            seen_pkt = [Signal(name=f"seen_pkt_{p}_vc{v}") for v in range(V)]
            seen_dst = [Signal(2 * cb, name=f"seen_dst_{p}_vc{v}") for v in range(V)]
            for v in range(V):
                push = Signal(name=f"push_{p}_vc{v}")
                pop = Signal(name=f"pop_{p}_vc{v}")
                m.d.comb += [push.eq(inp.valid & (inp.vc == v)), pop.eq(Cat(pops[i][v]).any())]
                entry = Cat(inp.data, inp.last)
                q, n = ref[i][v], rocc[i][v]
                m.d.sync += n.eq(n + push - pop)
                for k in range(S):
                    after_pop = q[k + 1] if k + 1 < S else q[k]
                    with m.If(pop):
                        with m.If(push & (n - 1 == k)):
                            m.d.sync += q[k].eq(entry)
                        with m.Else():
                            m.d.sync += q[k].eq(after_pop)
                    with m.Elif(push & (n == k)):
                        m.d.sync += q[k].eq(entry)
                m.d.comb += A("invariant", n <= S)
                # credit_bounds (input side) and the buffer/reference correspondence
                count = r.probe[f"count_{p}_vc{v}"]
                rptr, wptr = r.probe[f"rptr_{p}_vc{v}"], r.probe[f"wptr_{p}_vc{v}"]
                out_now = Signal(name=f"out_now_{p}_vc{v}")
                m.d.comb += out_now.eq(Cat(here[i][v]).any())
                m.d.comb += [A("credit_bounds", count <= D),
                             A("credit_bounds", ucred[i][v] + count + inp.credit[v] == D),
                             A("invariant", inp.credit[v] == out_now),
                             A("invariant", n == count + out_now)]
                wexp = rptr + count
                m.d.comb += A("invariant", wptr == Mux(wexp >= D, wexp - D, wexp)[:len(wptr)])
                for k in range(D):
                    bdata, bmeta = r.peek[p, v, k]
                    want = Mux(out_now, q[k + 1], q[k])
                    wf = flit(want[:W])
                    m.d.comb += A("invariant", (count <= k) | (
                        (bdata == want[:W]) & (bmeta[N] == want[W])
                        & (bmeta[:N] == route_of(i, wf.dst_x, wf.dst_y, v))))
                # wormhole state of the input VC, from what was delivered
                cur_last = Signal(name=f"cur_last_{p}_vc{v}")
                cur_dst = Signal(2 * cb, name=f"cur_dst_{p}_vc{v}")
                m.d.comb += [cur_last.eq(Cat(h & o.last for h, o in zip(here[i][v], outs)).any()),
                             cur_dst.eq(0)]
                for h, o in zip(here[i][v], outs):
                    with m.If(h):
                        m.d.comb += cur_dst.eq(o.data[:2 * cb])
                with m.If(out_now):
                    m.d.sync += [seen_pkt[v].eq(~cur_last), seen_dst[v].eq(cur_dst)]
                eff_pkt = Mux(out_now, ~cur_last, seen_pkt[v])
                eff_dst = Mux(out_now, cur_dst, seen_dst[v])
                in_pkt = r.probe[f"in_pkt_{p}_vc{v}"]
                route = r.probe[f"pkt_route_{p}_vc{v}"]
                # the registered request of the buffered flit: the packet's route inside
                # a packet, else the head's meta route; zero when the buffer is empty
                hreq = r.probe[f"hreq_{p}_vc{v}"]
                head_route = r.peek[p, v, 0][1][:N]
                m.d.comb += A("invariant", hreq == Mux(count != 0,
                                                       Mux(in_pkt, route, head_route), 0))
                # the registered flags and requests are what they cache
                empty = r.probe[f"empty_{p}_vc{v}"]
                m.d.comb += A("invariant", empty == (count == 0))
                rreq, bpk = r.probe[f"rreq_{p}_vc{v}"], r.probe[f"bpk_{p}_vc{v}"]
                bnew = r.probe[f"bnew_{p}_vc{v}"]
                for o in range(N):
                    if not turn_allowed(self.routing, p, PORTS[o]):
                        m.d.comb += A("invariant", ~rreq[o] & ~bpk[o] & ~bnew[o])
                        continue
                    cnz = r.probe[f"cnz_{PORTS[o]}_vc{v}"]
                    lck = r.probe[f"locked_{PORTS[o]}_vc{v}"]
                    m.d.comb += [
                        A("invariant", rreq[o] == (hreq[o] & cnz & (in_pkt | ~lck))),
                        A("invariant", bpk[o] == (empty & cnz & in_pkt & route[o])),
                        A("invariant", bnew[o] == (empty & cnz & ~in_pkt & ~lck))]
                m.d.comb += [A("invariant", in_pkt == eff_pkt),
                             A("invariant", ~in_pkt | (route == route_of(i, eff_dst[:cb], eff_dst[cb:], v))),
                             A("invariant", ~seen_pkt[v] | legal(i, seen_dst[v][:cb],
                                                                 seen_dst[v][cb:]))]
                # the reference FIFO holds well-formed traffic of this flow: its input's
                # tag, legal destinations, consecutive sequence numbers, one destination
                # per packet, continuing what was delivered and continued by the upstream
                for k in range(S):
                    e = flit(q[k][:W])
                    m.d.comb += A("invariant", (n <= k) | (
                        (e.src == i) & legal(i, e.dst_x, e.dst_y)
                        & (e.seq == (up_seq[i][v] - n + k)[:SEQ_BITS])))
                    if k + 1 < S:
                        m.d.comb += A("invariant", (n <= k + 1) | q[k][W]
                                           | (q[k + 1][:2 * cb] == q[k][:2 * cb]))
                tail = Signal(W + 1, name=f"ref_tail_{p}_vc{v}")
                m.d.comb += tail.eq(0)
                for k in range(S):
                    with m.If(n == k + 1):
                        m.d.comb += tail.eq(q[k])
                first = Mux(out_now, q[1], q[0])            # oldest flit still inside
                m.d.comb += [
                    A("invariant", (n == 0) | ((up_pkt[i][v] == ~tail[W])
                                       & (~up_pkt[i][v] | (up_dst[i][v] == tail[:2 * cb])))),
                    A("invariant", (n != 0) | ((up_pkt[i][v] == eff_pkt)
                                       & (~up_pkt[i][v] | (up_dst[i][v] == eff_dst)))),
                    A("invariant", (n <= out_now) | ~eff_pkt | (first[:2 * cb] == eff_dst)),
                ]
                m.d.comb += A("invariant", ~up_pkt[i][v] | legal(i, up_dst[i][v][:cb],
                                                                 up_dst[i][v][cb:]))

        # locks: an output VC is locked iff an input VC is inside a packet routed there,
        # and that input is the one whose head went out last
        for o, p in enumerate(PORTS):
            for v in range(V):
                owners = Cat(r.probe[f"in_pkt_{PORTS[i]}_vc{v}"]
                             & r.probe[f"pkt_route_{PORTS[i]}_vc{v}"][o] for i in range(N))
                locked = r.probe[f"locked_{p}_vc{v}"]
                arrive = outs[o].valid & (outs[o].vc == v)
                m.d.comb += [A("invariant", locked == owners.any()),
                             A("invariant", arrive | (locked == busy[o][v])),
                             A("invariant", arrive | ~busy[o][v] | owners.bit_select(owner[o][v], 1)),
                             A("invariant", (owners & (owners - 1)[:N]) == 0)]
        return m

    def _table_spec(self, i, dx, dy, vc):
        """The specified table route: the free entry of the destination (and, with VC
        planes, of the flit's VC: the specification :class:`TableLookupFormal` proves of the
        real lookup); a U-turn or a port above 4 goes to local."""
        plane = Const(vc, 1 + self.vcs.bit_length()) if isinstance(vc, int) else vc
        key = Cat(dx, dy, plane[:self.router.plane_bits])
        e = Cat(self.router.entry).word_select(key, 3)
        ok = (e < N) & ((i == LOCAL) | (e != i))
        return Mux(ok, (Const(1, N) << e)[:N], Const(1 << LOCAL, N))


def prove_router(*, vcs=1, depth=2, k=None, cover_depth=None, mutation=None, checks=None,
                 mode="prove", out_dir="build/formal", routing="xy", planes=False):
    """Prove the properties above on a ``vcs``-VC, ``depth``-deep router.

    Returns ``{"prove": PASS|FAIL|..., "cover": ..., "seconds": ..., "dir": ...,
    "counterexample": bool}`` (``counterexample``: the BMC base case found a real
    trace that violates a property, not just a failed induction step).
    ``k`` is the induction depth (default ``depth + 2``); ``checks`` selects
    property groups (:data:`CHECKS`, default all); ``mode="bmc"`` checks the
    first ``k`` cycles only (quick hunts for counterexamples). ``planes``: the table
    router with one table set per VC (its entries free per destination and VC).
    """
    k = k or depth + 2
    cover_depth = cover_depth or 4
    tag = f"router_{'table_' if routing == 'table' else ''}{'planes_' if planes else ''}" \
        f"v{vcs}_d{depth}" \
        + (f"_{mutation}" if mutation else "") \
        + (f"_{'-'.join(sorted(checks))}" if checks else "")
    top = RouterFormal(vcs=vcs, depth=depth, mutation=mutation, checks=checks, routing=routing,
                       planes=planes)
    # state as bit-vectors (``--stbv``): yices is about 5x faster on the table router's
    # unrolled steps (BMC to step 3: 53 s against > 3 minutes) and somewhat faster on the
    # XY router's proof. The table router's harness is also synthesised to gates first
    # (``--syn``: Yosys's techmap, opt and abc, the same circuit and properties): its free
    # table function and lookups are bit-level muxes, and yices solves them 2.5-4.5x
    # faster so (CPU, prove task: 4-cycle BMC 53 s -> 12 s, 2-VC planes k-induction
    # 118 s -> 48 s; the mutants still fail on their own property). The XY router's
    # proof gains nothing from it (22.5 s either way) and keeps the word-level model, and
    # so do the mutants' BMCs, which find their counterexample before the synthesis pays
    # (vc_ignored 6.6 s, mutant_table 4.3 s; 10.1 s and 6.4 s with it).
    # The unbounded 1-VC table proof takes many minutes (docs/verification.md): allow an
    # hour
    table = routing == "table"
    engine = "smtbmc --stbv --syn yices" if table and not mutation else "smtbmc --stbv yices"
    r = run_proof(top, name="router_formal", tag=tag, k=k, cover_depth=cover_depth, mode=mode,
                  out_dir=out_dir, engine=engine, timeout=3600 if table else 600)
    return {**r, "k": k, "vcs": vcs, "depth": depth, "mutation": mutation,
            "checks": sorted(top.checks), "routing": routing, "planes": planes, "mode": mode}


if __name__ == "__main__":
    import argparse
    import json
    ap = argparse.ArgumentParser(description="formal proof of the router (SymbiYosys)")
    ap.add_argument("--vcs", type=int, default=1)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("-k", type=int, default=None)
    ap.add_argument("--mutation", choices=sorted(MUTATIONS))
    ap.add_argument("--check", action="append", choices=CHECKS, help="property group (repeatable)")
    ap.add_argument("--out", default="build/formal")
    ap.add_argument("--routing", choices=("xy", "table"), default="xy")
    ap.add_argument("--planes", action="store_true", help="table router with a table set per VC")
    a = ap.parse_args()
    r = prove_router(vcs=a.vcs, depth=a.depth, k=a.k, mutation=a.mutation, checks=a.check,
                     out_dir=a.out, routing=a.routing, planes=a.planes)
    r.pop("log_tail")
    print(json.dumps(r, indent=1))
    sys.exit(0 if r["prove"] == "PASS" and r["cover"] == "PASS" else 1)
