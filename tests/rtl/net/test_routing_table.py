# amaranth: UnusedElaboratable=no
"""The table lookup (rtl/net/routing_table.py) against gen.routing.output_port, the one
definition of the combine rule, on XY/YX and up*/down* tables of a one-die mesh and a tile."""

import pytest
from amaranth.sim import Simulator

from gen.routing import (DIE_ENTRY_BITS, NODE_ENTRY_BITS, TAKE_X, TAKE_Y, MeshShape,
                         output_port, route_tables)
from rtl.net import routing_table as rt
from rtl.net.routing_table import ConfigTarget, RoutingTable, config_layout


def test_entry_format_matches_gen_routing():
    assert (rt.DIE_ENTRY_BITS, rt.NODE_ENTRY_BITS, rt.TAKE_X, rt.TAKE_Y) == \
        (DIE_ENTRY_BITS, NODE_ENTRY_BITS, TAKE_X, TAKE_Y)


@pytest.mark.parametrize("shape,dead,routing", [
    ((1, 1, 4, 3), (), "xy"),
    ((1, 1, 5, 5), ((2, 2), (0, 3)), "xy"),
    ((2, 2, 3, 3), (), "yx"),
    ((2, 2, 3, 3), ((1, 1), (4, 3), (3, 5)), "xy"),
])
def test_lookup_matches_output_port(shape, dead, routing):
    s = MeshShape(*shape)
    tables = route_tables(s, dead, routing=routing)
    cb = max(1, (max(s.mesh_x, s.mesh_y) - 1).bit_length())
    routers = [(0, 0), (s.mesh_x - 1, s.mesh_y // 2), (s.mesh_x // 2, s.mesh_y - 1)]
    routers = [r for r in routers if r not in set(dead)]
    dsts = [(x, y) for y in range(s.mesh_y) for x in range(s.mesh_x)]
    layout = config_layout(cb, shape)
    for router in routers:
        dut = RoutingTable(coord_bits=cb, shape=shape, lookups=2)

        async def bench(ctx, router=router, dut=dut):
            x, y = router
            ctx.set(dut.x, x)
            ctx.set(dut.y, y)
            writes = [(ConfigTarget.NODE, l, int(e)) for l, e in enumerate(tables.node[y, x])]
            if s.dies > 1:
                writes += [(ConfigTarget.DIE, d, int(e)) for d, e in enumerate(tables.die[y, x])]
            # a write for another router must not land here
            writes.append((ConfigTarget.NODE, 0, 7, (x + 1) % s.mesh_x))
            for w in writes:
                target, addr, value = w[:3]
                wx = w[3] if len(w) > 3 else x
                ctx.set(dut.cfg, layout.const({"valid": 1, "target": target, "x": wx, "y": y,
                                               "addr": addr, "data": value}))
                await ctx.tick()
            ctx.set(dut.cfg, layout.const({}))
            for i in range(0, len(dsts), 2):
                pair = dsts[i:i + 2] + dsts[:1]
                for k in range(2):
                    ctx.set(dut.dst[k].x, pair[k][0])
                    ctx.set(dut.dst[k].y, pair[k][1])
                for k in range(2):
                    want = output_port(tables, router, pair[k])
                    assert ctx.get(dut.port[k]) == want, (router, pair[k])

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()


@pytest.mark.parametrize("shape,dead", [
    ((1, 1, 4, 4), ((1, 1), (2, 3))),
    ((2, 2, 3, 3), ((1, 1), (4, 3))),
])
def test_vc_planes_lookup_by_vc(shape, dead):
    """With VC planes (a fifth shape element) each VC's lookup reads its own table set,
    loaded at ``v * entries + index``; the source's choice bits above a plane-0 entry do
    not reach the table."""
    from gen.routing import route_planes
    s = MeshShape(*shape)
    planes = route_planes(s, dead, vcs=2)
    assert any((a != b).any() for a, b in zip((planes.tables[0].node, planes.tables[0].die),
                                               (planes.tables[1].node, planes.tables[1].die)))
    cb = max(1, (max(s.mesh_x, s.mesh_y) - 1).bit_length())
    pshape = shape + (2,)
    layout = config_layout(cb, pshape)
    dsts = [(x, y) for y in range(s.mesh_y) for x in range(s.mesh_x)]
    router = next(r for r in ((s.mesh_x - 1, 0), (0, s.mesh_y - 1)) if r not in set(dead))
    dut = RoutingTable(coord_bits=cb, shape=pshape, lookups=1)

    async def bench(ctx):
        x, y = router
        ctx.set(dut.x, x)
        ctx.set(dut.y, y)
        writes = []
        for v, t in enumerate(planes.tables):
            writes += [(ConfigTarget.NODE, v * s.die_nodes + l,
                        int(e) | (int(planes.select_node[y, x, l]) << NODE_ENTRY_BITS
                                  if v == 0 else 0))
                       for l, e in enumerate(t.node[y, x])]
            if s.dies > 1:
                writes += [(ConfigTarget.DIE, v * s.dies + d,
                            int(e) | (int(planes.select_die[y, x, d]) << DIE_ENTRY_BITS
                                      if v == 0 else 0))
                           for d, e in enumerate(t.die[y, x])]
        for target, addr, value in writes:
            ctx.set(dut.cfg, layout.const({"valid": 1, "target": target, "x": x, "y": y,
                                           "addr": addr, "data": value}))
            await ctx.tick()
        ctx.set(dut.cfg, layout.const({}))
        for v, t in enumerate(planes.tables):
            ctx.set(dut.vc[0], v)
            for dst in dsts:
                ctx.set(dut.dst[0].x, dst[0])
                ctx.set(dut.dst[0].y, dst[1])
                assert ctx.get(dut.port[0]) == output_port(t, router, dst), (v, dst)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
