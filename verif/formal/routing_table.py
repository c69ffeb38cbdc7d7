"""Formal proof of the routing-table lookup (SymbiYosys, k-induction): the second half of
the table router's proof.

The router half (:class:`verif.formal.router.RouterFormal` with ``routing="table"``)
proves the real table router for **any** port-index function of the destination in
place of its table lookup. This half proves that the real lookup,
:class:`rtl.net.routing_table.RoutingTable`, is that function for the tables the
configuration port wrote: for any sequence of configuration writes (any target, any
router, any address and data, at any time) and any two destinations looked up in the
same cycle,

``lookup``
    ``port[k]`` equals the combine rule of :mod:`rtl.net.routing_table` (and of
    :func:`gen.routing.combine`) applied to the entries last written for this router,
    computed here in Python per destination (die and node index by integer division,
    own die of the router) and not with the RTL's reciprocal divisions; a destination
    outside the mesh reads ``local``;
``invariant``
    every table entry equals the last value written to it (zero before any write).

With VC planes (a fifth shape element, :mod:`gen.routing.planes`) every lookup also takes a free
VC, and the specification reads the entries last written for that VC's table set (VC
``v``'s at ``v * entries + index``); the choice bits above a plane-0 entry never reach
the tables.

Environment assumptions: the router is inside the mesh, and a write for this router
addresses an entry that exists (the loader, :mod:`verif.table_load`, writes only those).
With the tables written before traffic and held during it, the two halves compose: the
table router routes every flit by the loaded tables' combine rule, with no loss,
duplication or interleaving and with its credit bounds.

:data:`MUTATIONS`: ``swapped_shape`` builds the table with ``dies_x`` and ``nodes_x``
exchanged (the same mesh, the wrong die/node split), ``vc_ignored`` (VC planes) looks
every destination up in VC 0's tables; both must break ``lookup``.
"""

import sys

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Array, Assume, Cat, Const, Cover, Module, Mux, ResetSignal, Signal

from rtl.net.directions import EAST, LOCAL, NORTH, SOUTH, WEST
from rtl.net.packet import coord_bits_for
from rtl.net.routing_table import (DIE_ENTRY_BITS, NODE_ENTRY_BITS, ConfigTarget, RoutingTable,
                                   check_table_shape)
from verif.formal.harness import Harness
from verif.formal.sby import run_proof

CHECKS = ("lookup", "invariant")
MUTATIONS = ("swapped_shape", "vc_ignored")
#: lookup ports of the proof (the router has five; two show lookups do not interfere)
LOOKUPS = 2


class TableLookupFormal(Harness):
    """A :class:`RoutingTable` of ``shape`` under free configuration writes and lookups."""

    CHECKS = CHECKS
    MUTATIONS = MUTATIONS

    @classmethod
    def validate(cls, *, shape=(2, 1, 1, 2), mutation=None, checks=None, **_):
        shape = check_table_shape(tuple(shape))
        super().validate(mutation=mutation, checks=checks)
        if mutation == "vc_ignored" and len(shape) != 5:
            raise ValueError("mutation 'vc_ignored' needs a shape with VC planes")

    def __init__(self, *, shape=(2, 1, 1, 2), mutation=None, checks=None):
        super().__init__(mutation=mutation, checks=checks)
        self.shape = check_table_shape(tuple(shape))
        dies_x, dies_y, nx, ny = self.shape[:4]
        self.cb = coord_bits_for(dies_x * nx, dies_y * ny)
        built = self.shape if mutation != "swapped_shape" else \
            (nx, dies_y, dies_x, ny) + self.shape[4:]
        self.table = RoutingTable(coord_bits=self.cb, shape=built, lookups=LOOKUPS)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.d.comb += ResetSignal().eq(0)
        t, cb = self.table, self.cb
        dies_x, dies_y, nx, ny = self.shape[:4]
        P = t.planes
        mx, my, dies, nodes = dies_x * nx, dies_y * ny, dies_x * dies_y, nx * ny

        A = self.assertion

        # probes of the table contents: read ports added before the table elaborates
        peek_node = [t.node_memory.read_port(domain="comb") for _ in range(t.node_memory.depth)]
        peek_die = [t.die_memory.read_port(domain="comb")
                    for _ in range(t.die_memory.depth)] if t.die_memory is not None else []
        m.submodules.table = t

        x, y = Signal(cb, name="pos_x"), Signal(cb, name="pos_y")
        m.d.comb += [x.eq(AnyConst(cb)), y.eq(AnyConst(cb)), t.x.eq(x), t.y.eq(y),
                     Assume(x < mx), Assume(y < my)]
        cfg = t.cfg
        m.d.comb += [cfg.valid.eq(AnySeq(1)), cfg.target.eq(AnySeq(2)), cfg.x.eq(AnySeq(cb)),
                     cfg.y.eq(AnySeq(cb)), cfg.addr.eq(AnySeq(len(cfg.addr))),
                     cfg.data.eq(AnySeq(len(cfg.data)))]
        mine = cfg.valid & (cfg.x == x) & (cfg.y == y)
        to_node = mine & (cfg.target == ConfigTarget.NODE)
        to_die = mine & (cfg.target == ConfigTarget.DIE)
        m.d.comb += [Assume(~to_node | (cfg.addr < P * nodes)),
                     Assume(~to_die | (cfg.addr < P * dies) | (dies == 1))]

        # the shadow: the entry last written for this router (0 before any write), VC v's
        # table set at v * entries + index
        node = [Signal(NODE_ENTRY_BITS, name=f"shadow_node_{j}") for j in range(P * nodes)]
        die = [Signal(DIE_ENTRY_BITS, name=f"shadow_die_{j}") for j in range(P * dies)]
        for j, s in enumerate(node):
            with m.If(to_node & (cfg.addr == j)):
                m.d.sync += s.eq(cfg.data[:NODE_ENTRY_BITS])
        for j, s in enumerate(die if dies > 1 else []):
            with m.If(to_die & (cfg.addr == j)):
                m.d.sync += s.eq(cfg.data[:DIE_ENTRY_BITS])
        if self.mutation is None:
            for j, rp in enumerate(peek_node):
                m.d.comb += [rp.addr.eq(j)] + A("invariant", rp.data == node[j])
            for j, rp in enumerate(peek_die):
                m.d.comb += [rp.addr.eq(j)] + A("invariant", rp.data == die[j])

        # the specification, destination by destination, in Python integer arithmetic
        own = Signal(range(dies), name="own_die")
        qx = sum((x >= j * nx for j in range(1, dies_x)), Const(0, range(dies_x)))
        qy = sum((y >= j * ny for j in range(1, dies_y)), Const(0, range(dies_y)))
        m.d.comb += own.eq(qy * dies_x + qx)
        spec = []
        vb = max(1, (P - 1).bit_length()) if P > 1 else 0
        for v in range(1 << vb):
            for gy in range(1 << cb):
                for gx in range(1 << cb):
                    if gx >= mx or gy >= my or v >= P:
                        spec.append(Const(LOCAL, NODE_ENTRY_BITS))
                        continue
                    d, ln = (gy // ny) * dies_x + gx // nx, (gy % ny) * nx + gx % nx
                    n, e = node[v * nodes + ln], die[v * dies + d]
                    if dies == 1:
                        spec.append(n)
                        continue
                    along_x = (n == EAST) | (n == WEST)
                    along_y = (n == NORTH) | (n == SOUTH)
                    spec.append(Mux((own == d) | (e[3] & along_x) | (e[4] & along_y), n,
                                    e[:3]))
        spec_of = Array(spec)
        for k in range(LOOKUPS):
            dst = t.dst[k]
            m.d.comb += [dst.x.eq(AnySeq(cb)), dst.y.eq(AnySeq(cb))]
            key = Cat(dst.x, dst.y)
            if P > 1:
                vc = Signal(vb, name=f"lookup_vc_{k}")
                m.d.comb += [vc.eq(AnySeq(vb)), Assume(vc < P),
                             t.vc[k].eq(0 if self.mutation == "vc_ignored" else vc)]
                key = Cat(dst.x, dst.y, vc)
            m.d.comb += A("lookup", t.port[k] == spec_of[key])
            for p in (LOCAL, NORTH, EAST, SOUTH, WEST):
                m.d.comb += Cover(t.port[k] == p)
        return m


def prove_table_lookup(*, shape=(2, 1, 1, 2), k=2, mutation=None, checks=None, mode="prove",
                       out_dir="build/formal"):
    """Prove the properties above; returns the statuses as :func:`verif.formal.router.prove_router`."""
    tag = "table_lookup_" + "x".join(map(str, shape)) + (f"_{mutation}" if mutation else "")
    top = TableLookupFormal(shape=shape, mutation=mutation, checks=checks)
    r = run_proof(top, name="table_lookup_formal", tag=tag, k=k, cover_depth=2, mode=mode,
                  out_dir=out_dir)
    return {**r, "k": k, "shape": shape, "mutation": mutation, "checks": sorted(top.checks),
            "mode": mode}


if __name__ == "__main__":
    import argparse
    import json
    ap = argparse.ArgumentParser(description="formal proof of the routing-table lookup")
    ap.add_argument("--shape", default="2,1,1,2",
                    help="dies_x,dies_y,nodes_x,nodes_y[,planes] (planes: VC planes, 2..4)")
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("--mutation", choices=MUTATIONS)
    ap.add_argument("--mode", default="prove", choices=("prove", "bmc"))
    ap.add_argument("--out", default="build/formal")
    a = ap.parse_args()
    r = prove_table_lookup(shape=tuple(int(v) for v in a.shape.split(",")), k=a.k,
                           mutation=a.mutation, mode=a.mode, out_dir=a.out)
    r.pop("log_tail")
    print(json.dumps(r, indent=1))
    sys.exit(0 if r["prove"] == "PASS" and r["cover"] == "PASS" else 1)
