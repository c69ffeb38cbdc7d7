"""VC planes (gen/routing/planes.py): per-VC tables, the sources' VC choice, their checks and bound."""

import numpy as np
import pytest

from dojo.bench import _dead_map as bench_dead_map
from gen.routing import (MeshShape, VcPlanes, check_planes, check_tables, planes_bound,
                         route_planes, route_tables, source_vc, uniform_bound, walk)
from tests.gen.test_routing import ring_tables


@pytest.mark.slow
def test_planes_beat_one_table_set_on_the_bench_maps():
    """Two routes per pair, chosen to balance the links: on a bench 2-dead 8x8 map the
    channel-load bound is more than 20% above that of the best single table set (0.434
    against 0.318), and both planes are complete checked table sets (XY- and YX-based)."""
    s = MeshShape(1, 1, 8, 8)
    dead = bench_dead_map(8, 2, 0)          # the map one table set serves worst
    planes = route_planes(s, dead)
    for t in planes.tables:
        check_tables(t)
    assert planes.tables[0].info["base"] == "xy" and planes.tables[1].info["base"] == "yx"
    one = uniform_bound(route_tables(s, dead))
    assert planes_bound(planes) > 1.2 * one, (planes_bound(planes), one)


@pytest.mark.parametrize("shape,dead,vcs", [
    ((1, 1, 4, 4), ((1, 1), (2, 3)), 2),
    ((2, 2, 3, 3), ((1, 1), (4, 3)), 2),
    ((1, 1, 5, 4), ((2, 1),), 4),
])
def test_choice_covers_every_live_pair_and_routes_deliver(shape, dead, vcs):
    s = MeshShape(*shape)
    planes = route_planes(s, dead, vcs=vcs)
    assert planes.vcs == vcs
    live = [(x, y) for y in range(s.mesh_y) for x in range(s.mesh_x) if (x, y) not in dead]
    used = set()
    for a in live:
        for b in live:
            if a != b:
                v = source_vc(planes, a, b)
                used.add(v)
                assert walk(planes.tables[v], a, b)[-1] == b
    assert used == set(range(vcs))          # every VC carries traffic
    for x, y in dead:
        assert not planes.select_node[y, x].any() and not planes.select_die[y, x].any()
    if vcs == 4:                            # VCs of one base order share its tables
        assert planes.tables[0] is planes.tables[2] and planes.tables[1] is planes.tables[3]


def test_bound_equals_the_single_set_bound_when_every_source_uses_one_plane():
    s = MeshShape(1, 1, 4, 4)
    planes = route_planes(s, [(1, 1)])
    one = VcPlanes(tables=planes.tables, select_die=np.zeros_like(planes.select_die),
                   select_node=np.zeros_like(planes.select_node))
    assert planes_bound(one) == pytest.approx(uniform_bound(planes.tables[0]))


def test_check_refuses_a_cyclic_plane_and_a_choice_out_of_range():
    ring = ring_tables()
    s = ring.shape
    zeros = dict(select_die=np.zeros((2, 2, 1), np.uint8), select_node=np.zeros((2, 2, 4),
                                                                                  np.uint8))
    good = route_tables(s, [])
    with pytest.raises(ValueError, match="channel dependency graph"):
        check_planes(VcPlanes(tables=(good, ring), **zeros), vcs=2)
    bad = dict(zeros, select_node=np.full((2, 2, 4), 2, np.uint8))
    with pytest.raises(ValueError, match="select_node names VC 2, not below 2"):
        check_planes(VcPlanes(tables=(good, good), **bad), vcs=2)


def test_route_planes_refuses_what_it_cannot_build():
    s = MeshShape(1, 1, 4, 4)
    with pytest.raises(ValueError, match="at least 2 VCs"):
        route_planes(s, [(1, 1)], vcs=1)
    with pytest.raises(ValueError, match="up to 1024 routers"):
        route_planes(MeshShape(1, 1, 33, 32), [(1, 1)])
    with pytest.raises(ValueError, match="the mesh is cut"):
        route_planes(s, [(1, 0), (0, 1)])


@pytest.mark.parametrize("overrides,planes", [
    (["router.routing=table", "die.dead_routers=[[1, 1]]"], True),
    (["router.routing=table", "die.dead_routers=[[1, 1]]", "router.vc_planes=false"], False),
    (["router.routing=table"], False),                       # no dead router: XY everywhere
    (["router.routing=table", "die.dead_routers=[[1, 1]]", "router.vcs=1"], False),
])
def test_fault_setup_uses_planes_where_they_apply(overrides, planes):
    from gen.build import fault_setup
    from gen.config import load_config
    cfg = load_config("configs/default.yaml", ["tile.dies_x=1", "tile.dies_y=1",
                                               "die.nodes_x=4", "die.nodes_y=4"] + overrides)
    setup = fault_setup(cfg)
    assert (setup.planes is not None) == planes
    if planes:
        assert setup.tables is setup.planes.tables[0]
        assert setup.report["uniform_bound"] == planes_bound(setup.planes)


@pytest.mark.parametrize("overrides,shape", [
    (["router.routing=table"], (1, 1, 4, 4)),
    (["router.routing=table", "router.vc_planes=false"], (1, 1, 4, 4)),
    (["router.routing=table", "router.vc_planes=true"], (1, 1, 4, 4, 2)),
])
def test_router_alone_has_a_table_set_per_vc_only_when_asked(overrides, shape):
    # the router alone has no fault map: only an explicit true gives it VC planes (the FPGA
    # bench's planes row)
    from gen.build import router_design
    from gen.config import load_config
    cfg = load_config("configs/fpga.yaml", ["router.vcs=2", "die.nodes_x=4", "die.nodes_y=4"]
                      + overrides)
    design = router_design(cfg, top_name="r")
    assert design.top.table_shape == shape


@pytest.mark.parametrize("overrides,match", [
    (["router.vc_planes=true", "router.vcs=1", "router.routing=table"], "at least 2 VCs"),
    (["router.vc_planes=true"], "router.routing: table"),
])
def test_vc_planes_true_where_they_cannot_apply_is_an_error(overrides, match):
    from gen.config import ConfigError, load_config
    with pytest.raises(ConfigError, match=rf"router.vc_planes: true needs {match}"):
        load_config("configs/default.yaml", overrides)


@pytest.mark.parametrize("shape,ratio", [((1, 1, 4, 4), 1), ((2, 2, 2, 2), 2), ((2, 1, 3, 2), 3)])
def test_bound_of_xy_tables_equals_the_analytic_bound(shape, ratio):
    """Walking XY tables on a full mesh gives sim.sweep.channel_load_bound, die-link
    crossings weighted by the ratio included."""
    from gen.routing import one_plane, xy_tables
    from sim.sweep import channel_load_bound
    s = MeshShape(*shape)
    walked = planes_bound(one_plane(xy_tables(s)), die_ratio=ratio)
    assert walked == pytest.approx(channel_load_bound(
        "uniform", s.mesh_x, s.mesh_y, die_shape=(s.nodes_x, s.nodes_y), die_ratio=ratio))


def test_live_uniform_bound_follows_the_map():
    from gen.build import fault_setup, live_uniform_bound
    from gen.config import load_config
    base = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=4", "die.nodes_y=4"]
    assert live_uniform_bound(load_config("configs/default.yaml", base)) is None
    cfg = load_config("configs/default.yaml", base + ["router.routing=table",
                                                      "die.dead_routers=[[1, 1]]"])
    assert live_uniform_bound(cfg) == planes_bound(fault_setup(cfg).planes)
    # disabled nodes under XY: they neither send nor receive, their routers still forward
    cfg = load_config("configs/default.yaml", base + ["die.disabled_nodes=[[1, 1]]"])
    live = [(x, y) for y in range(4) for x in range(4) if (x, y) != (1, 1)]
    load = {}
    from gen.routing import xy_tables
    t = xy_tables(MeshShape(1, 1, 4, 4))
    for a in live:
        for b in live:
            path = walk(t, a, b)
            for hop in zip(path, path[1:]):
                load[hop] = load.get(hop, 0) + 1
    assert live_uniform_bound(cfg) == pytest.approx(len(live) / max(load.values()))


def _reference_greedy_passes(lists, first, n, channels, passes):
    """The choice's greedy passes as first written (float loads, numpy ``ufunc.at``, cost
    tuples compared by Python): what :func:`gen.routing.planes._greedy_passes` must equal."""
    load, vload = np.zeros(channels), np.zeros(channels * n)
    choice = list(first)
    for k, i in enumerate(choice):
        np.add.at(load, lists[k][i], 1)
        np.add.at(vload, lists[k][i] + channels * i, 1)
    for _ in range(passes):
        moved = 0
        for k in range(len(lists)):
            cur = choice[k]
            np.subtract.at(load, lists[k][cur], 1)
            np.subtract.at(vload, lists[k][cur] + channels * cur, 1)
            best, best_cost = cur, None
            for i in range(n):
                c = lists[k][i]
                cost = ((float((load[c] + 1).max()), float((vload[c + channels * i] + 1).max()),
                         float((load[c] + 1).sum())) if len(c) else (0.0, 0.0, 0.0))
                if best_cost is None or cost < best_cost or (cost == best_cost and i == cur):
                    best, best_cost = i, cost
            np.add.at(load, lists[k][best], 1)
            np.add.at(vload, lists[k][best] + channels * best, 1)
            moved += best != cur
            choice[k] = best
        if not moved:
            break
    return choice, float(load.max(initial=0.0))


@pytest.mark.parametrize("seed", range(6))
def test_greedy_passes_equal_the_reference_formulation(seed):
    """The compiled choice equals the reference on random keys: repeated channels, empty
    lists, many ties (few channels), 2 and 3 planes."""
    from gen.routing.planes import _greedy_passes
    rng = np.random.default_rng(seed)
    n, channels = 2 + seed % 2, int(rng.integers(4, 24))
    lists = [[rng.integers(0, channels, size=int(rng.integers(0, 6))) for _ in range(n)]
             for _ in range(int(rng.integers(1, 60)))]
    first = rng.integers(0, n, size=len(lists))
    want = _reference_greedy_passes(lists, first, n, channels, 8)
    flat = [c for key in lists for c in key]
    start = np.cumsum([0] + [len(c) for c in flat]).astype(np.int64)
    got, peak = _greedy_passes(np.concatenate(flat).astype(np.int64), start,
                               first.astype(np.int64), n, channels, 8)
    assert (got.tolist(), float(peak)) == want
