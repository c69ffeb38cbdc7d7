# amaranth: UnusedElaboratable=no
"""The fast network model on its own: geometry, zero-load timing, conservation, errors.

Its equality with the RTL is tests/test_netmodel_rtl.py; these check what the
model must get right whatever the RTL does, and run in seconds.
"""

import numpy as np
import pytest

from gen.build import noc_design, packet_format
from gen.config import load_config
from gen.derive import derive
from rtl.measure.traffic import Pattern, destination, rate_threshold
from sim.netmodel.network import NetworkModel, ctrl_vector
from sim.netmodel.point import run_point
from sim.netmodel.trace import model_link_trace
from sim.sweep import DEFAULT_TIMING
from verif.traffic_stats import percentile


def _model(*overrides, **kw):
    cfg = load_config("configs/default.yaml", list(overrides))
    return cfg, NetworkModel(cfg, derive(cfg), **kw)


@pytest.mark.parametrize("overrides", [
    (),                                                         # 2x2 dies of 2x2 nodes
    ("tile.dies_x=3", "tile.dies_y=1", "die.nodes_x=2", "die.nodes_y=3"),
    ("tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=5", "die.nodes_y=3"),
])
def test_geometry_and_statistics_follow_the_rtl_design(overrides):
    cfg, model = _model(*overrides)
    design = noc_design(cfg, kind="traffic")
    assert model.stat_names == design.network.stat_names
    assert [list(model.coords()[n]) for n in model.rtl_order()] == design.nodes
    dies = cfg.tile.dies_x * cfg.tile.dies_y
    nx, ny = model.nx, model.ny
    expected = 2 * ((cfg.tile.dies_x - 1) * cfg.tile.dies_y * ny
                    + (cfg.tile.dies_y - 1) * cfg.tile.dies_x * nx)
    assert model.n_dielinks == (expected if dies > 1 else 0)


def test_zero_load_latency_is_hops_plus_two():
    """One packet alone crosses one router per cycle: latency = hops + 2 (DESIGN.md)."""
    cfg, model = _model("tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=5", "die.nodes_y=4",
                        trace_capacity=10000)
    fmt = packet_format(cfg, derive(cfg))
    # 20 packets per node in 65536 cycles: most packets cross an empty mesh
    trace = model_link_trace(model, fmt, cycles=3000, ctrl_schedule=[
        (0, {"pattern": "bit_complement", "seed": 7, "enable": 1, "rate": 20})])
    gens = {name: flits for name, flits in trace.items() if name.startswith("g")}
    assert gens, "no packet was generated"
    checked = 0
    for name, flits in gens.items():
        x, y = (int(v) for v in name[1:].split("_"))
        head = fmt.decode_head(flits[0][3])
        dx, dy = head["dst"]
        assert (dx, dy) == (model.mesh_x - 1 - x, model.mesh_y - 1 - y)
        t0 = flits[0][0]
        # follow the flit: on each router it leaves through the XY port one cycle later
        cx, cy, t = x, y, t0
        hops = 0
        while True:
            port = ("east" if dx > cx else "west") if dx != cx else \
                ("south" if dy > cy else "north") if dy != cy else "local"
            out = [f for f in trace.get(f"r{cx}_{cy}.{port}", []) if f[3] == flits[0][3]]
            if not out or out[0][0] != t + 1:
                break                 # another packet was in the way: not a zero-load case
            t = out[0][0]
            if port == "local":
                assert hops == abs(dx - x) + abs(dy - y)
                checked += 1
                break
            hops += 1
            cx += {"east": 1, "west": -1}.get(port, 0)
            cy += {"south": 1, "north": -1}.get(port, 0)
    assert checked >= 3


@pytest.mark.parametrize("pattern", [p.name.lower() for p in Pattern])
def test_every_pattern_delivers_everything_it_generates(pattern):
    cfg, model = _model("router.vcs=3", "router.max_packet_flits=4")
    timing = {**DEFAULT_TIMING, "warmup": 300, "measure": 600}
    point, cycles, _ = run_point(model, {"pattern": pattern, "rate": 0.3, "packet_len": 3,
                                         "seed": 5, "hotspot": [1, 2]}, timing)
    assert point["drained"]
    assert point["generated_total"] == point["delivered_total"] > 0
    assert point["generated_marked"] == point["delivered_marked"] > 0
    assert not any(point["errors"].values())
    assert point["schedule"]["mark"] == timing["warmup"]
    assert point["window"] == timing["measure"]
    assert model.quiescent()
    # every marked flit left the source's router through the local input and reached a
    # sink: the local-port counters add up to the flits delivered in the window
    assert sum(point["link_flits"]["link.local"]) <= point["delivered_total"] * 3


def test_reset_makes_a_point_repeatable():
    cfg, model = _model()
    spec = {"pattern": "uniform", "rate": 0.4, "packet_len": 2, "seed": 3}
    timing = {**DEFAULT_TIMING, "warmup": 200, "measure": 400}
    first, _, _ = run_point(model, spec, timing)
    second, _, _ = run_point(model, spec, timing)
    assert first == second


def test_a_router_cannot_inject_more_than_it_has_credits_for():
    """Above saturation buffers fill up but never overflow (credit protocol)."""
    cfg, model = _model("router.vcs=1", "router.buffer_depth=3")
    model.reset(ctrl_vector())
    model.run(3000, ctrl_vector(enable=1, rate=rate_threshold(1.0, 1)))
    assert model.error_port() == 0
    assert not model.node_stats()["router.overflow"].any()
    assert model.buffer_counts().max() <= 3           # FIFO counts within the depth


def test_bad_parameters_are_rejected():
    cfg = load_config("configs/default.yaml")
    with pytest.raises(ValueError, match="mutant must be one of"):
        NetworkModel(cfg, derive(cfg), mutant="typo")
    with pytest.raises(ValueError, match="unknown ctrl field"):
        ctrl_vector(rate_flits=3)


def test_percentile_is_never_above_the_maximum_and_clipped_past_the_range():
    # everything in bin 1 ([4, 8)) with a maximum of 5: the p99 is at most 5
    assert percentile([0, 10, 0, 0], 4, 0.99, 5) == (5.0, False)
    # the p99 in the open last bin, the maximum beyond the range: unknown
    assert percentile([1, 0, 0, 99], 4, 0.99, 40) == (None, True)
    # in the last bin but the maximum inside the range: interpolated
    value, clipped = percentile([1, 0, 0, 99], 4, 0.5, 14)
    assert not clipped and 12 <= value <= 14
    assert percentile([0, 0], 4, 0.99, 0) == (None, False)



def test_the_quiescent_readout_shortcut_is_exact(monkeypatch):
    """Reading every counter at once when the network is idle gives what stepping through
    the read-out word by word gives."""
    cfg, model = _model("router.vcs=1")
    spec = {"pattern": "hotspot", "rate": 0.8, "packet_len": 4, "seed": 2, "hotspot": [3, 3]}
    timing = {**DEFAULT_TIMING, "warmup": 100, "measure": 300, "drain_limit": 64,
              "final_drain": 40}
    fast, _, _ = run_point(model, spec, timing)
    monkeypatch.setattr(NetworkModel, "quiescent", lambda self: False)
    stepped, _, _ = run_point(model, spec, timing)
    assert fast == stepped
    assert not fast["drained"]


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_results(threads):
    """Nodes split over threads write nothing but their own rows and ring slots with one
    writer each: every counter and every link register equal the single-thread run."""
    overrides = ("router.vcs=2", "dielink.ratio=3", "dielink.latency=2",
                 "router.max_packet_flits=4")
    cfg, one = _model(*overrides, trace_capacity=200000)
    _, many = _model(*overrides, trace_capacity=200000, threads=threads)
    spec = {"pattern": "uniform", "rate": 0.6, "packet_len": 3, "seed": 4}
    timing = {**DEFAULT_TIMING, "warmup": 200, "measure": 400}
    assert run_point(one, spec, timing)[0] == run_point(many, spec, timing)[0]
    fmt = packet_format(cfg, derive(cfg))
    schedule = [(0, {"pattern": "uniform", "enable": 1, "rate": rate_threshold(0.7, 2),
                     "packet_len": 2})]
    assert model_link_trace(one, fmt, cycles=800, ctrl_schedule=schedule) == \
        model_link_trace(many, fmt, cycles=800, ctrl_schedule=schedule)


def test_the_serial_and_parallel_loops_are_cached_apart():
    """numba's disk cache keys a compiled function by its bytecode within one index file per
    function: one loop compiled twice (serial and parallel) shares an entry, and a warm
    cache hands one's machine code to the other (``--threads`` then ran on one core)."""
    from sim.netmodel import kernel
    index = [f._cache._cache_file._index_name for f in (kernel.run, kernel.run_parallel)]
    assert index[0] != index[1]
    assert kernel.run_parallel.targetoptions["parallel"] and \
        not kernel.run.targetoptions.get("parallel")


def test_idle_cycles_are_skipped_exactly():
    """A quiescent network changes nothing but its cycle counter once its last credits
    have landed: run_idle() leaves every array as stepping every cycle does."""
    overrides = ("dielink.ratio=3", "dielink.latency=4", "node.pitch_mm=2.0",
                 "router.buffer_depth=5")
    _, a = _model(*overrides)
    _, b = _model(*overrides)
    spec = {"pattern": "uniform", "rate": 0.5, "packet_len": 2, "seed": 9}
    timing = {**DEFAULT_TIMING, "warmup": 100, "measure": 200}
    run_point(a, spec, timing)
    run_point(b, spec, timing)
    a.run(700)
    b.run_idle(700)
    assert a.t == b.t
    for x, y in zip(a.state + (a.q1, a.q2), b.state + (b.q1, b.q2)):
        assert np.array_equal(x, y)
    b.reset(ctrl_vector())
    b.run(5, ctrl_vector(enable=1, rate=60000))
    with pytest.raises(RuntimeError, match="quiescent"):
        b.run_idle(10)


# -- fault-map mode (router.routing: table; docs/table_mode.md) --------------------------------

def _fault_overrides(mesh, seed):
    """A seeded random fault map: up to 10 % dead routers (at least one), up to two disabled
    nodes, on ``mesh`` = ``(dies_x, dies_y, nodes_x, nodes_y)``; on a tile every die draws
    its own map (``tile.fault_maps``). Maps that cut the mesh (or a die) are skipped: the
    first routable one from ``seed`` on is returned with the seed that made it."""
    from gen.routing import MeshShape, route_tables
    dies_x, dies_y, nx, ny = mesh
    rng = np.random.default_rng(seed)
    while True:
        n_dead = int(rng.integers(1, max(1, dies_x * dies_y * nx * ny // 10) + 1))
        cells = rng.permutation(dies_x * dies_y * nx * ny)[:n_dead + int(rng.integers(0, 3))]
        nodes = [(int(c) % (dies_x * nx), int(c) // (dies_x * nx)) for c in cells]
        dead, disabled = nodes[:n_dead], nodes[n_dead:]
        try:
            route_tables(MeshShape(*mesh), dead)
            break
        except ValueError:
            continue
    base = ["router.routing=table", f"tile.dies_x={dies_x}", f"tile.dies_y={dies_y}",
            f"die.nodes_x={nx}", f"die.nodes_y={ny}"]
    if dies_x * dies_y == 1:
        return base + [f"die.dead_routers={[list(c) for c in dead]}",
                       f"die.disabled_nodes={[list(c) for c in disabled]}"], dead, disabled
    maps = []
    for j in range(dies_y):
        for i in range(dies_x):
            def local(cs):
                return [[x - i * nx, y - j * ny] for x, y in cs
                        if x // nx == i and y // ny == j]
            maps.append(f"{{die: [{i}, {j}], dead_routers: {local(dead)}, "
                        f"disabled_nodes: {local(disabled)}}}")
    return base + [f"tile.fault_maps=[{', '.join(maps)}]"], dead, disabled


#: (dies_x, dies_y, nodes_x, nodes_y), seeds
_FAULT_MESHES = [((1, 1, 4, 4), range(0, 5)), ((1, 1, 5, 5), range(10, 14)),
                 ((1, 1, 6, 6), range(20, 24)), ((1, 1, 8, 8), range(30, 34)),
                 ((2, 2, 3, 3), range(40, 44)), ((2, 2, 4, 4), range(50, 53))]


#: the 8x8 maps take 10-20 s each on an idle machine: make test only; the quick tier keeps
#: one seed (the first) of each other shape, make test runs every seed
@pytest.mark.parametrize("mesh, seed", [
    pytest.param(m, s, id="x".join(map(str, m)) + f"-s{s}",
                 marks=[pytest.mark.slow] if m == (1, 1, 8, 8) or s != seeds[0] else [])
    for m, seeds in _FAULT_MESHES for s in seeds])
def test_fault_maps_lose_nothing_misroute_nothing_and_drain(mesh, seed):
    """Every pattern above saturation on a random fault map, then a drain: the network
    empties (no deadlock), every generated packet is delivered to its own live node, intact
    and in order; dead and disabled nodes neither send nor receive; a deterministic
    pattern's packets to a node that is not live are counted (``suppressed_dead``), never
    sent."""
    overrides, dead, disabled = _fault_overrides(mesh, seed)
    cfg, model = _model(*overrides, "router.max_packet_flits=4")
    fmap = model.fault_map
    assert model.table_mode and model.live_mode and fmap.dead_routers == set(dead)
    mx = model.mesh_x
    live = np.array([int(fmap.is_live(x, y)) for x, y in model.coords()], dtype=bool)
    hot = fmap.live_nodes[len(fmap.live_nodes) // 2]
    for pat in Pattern:
        fields = {"pattern": pat, "packet_len": 3, "seed": seed + 1, "hotspot_x": hot[0],
                  "hotspot_y": hot[1]}
        model.reset(ctrl_vector(**fields))
        model.run(1200, ctrl_vector(enable=1, rate=rate_threshold(1.0, 3), **fields))
        model.top[:] = ctrl_vector(**fields)
        for _ in range(200):
            if model.quiescent():
                break
            model.run(100)
        assert model.quiescent(), f"{pat.name}: the network did not drain (deadlock)"
        st = model.node_stats()
        gen, got = st["gen.generated"], st["sink.packets"]
        assert gen.sum() == got.sum() > 0, pat.name
        assert st["gen.injected_packets"].sum() == gen.sum()
        for name in ("sink.misroutes", "sink.integrity_errors", "sink.order_errors",
                     "router.overflow"):
            assert not st[name].any(), (pat.name, name)
        assert model.error_port() == 0
        assert not gen[~live].any() and not got[~live].any(), pat.name
        assert not st["gen.suppressed_dead"][~live].any()
        if pat.name in ("UNIFORM", "HOTSPOT"):
            assert not st["gen.suppressed_dead"].any()
        else:
            # a live source is suppressed exactly when its destination is not live
            for n, (x, y) in enumerate(model.coords()):
                if live[n]:
                    if fmap.is_live(*destination(pat, x, y, mx, model.mesh_y)):
                        assert st["gen.suppressed_dead"][n] == 0 < gen[n], (pat.name, x, y)
                    else:
                        assert st["gen.suppressed_dead"][n] > 0 == gen[n], (pat.name, x, y)


@pytest.mark.parametrize("base", ["xy", "yx"])
def test_an_empty_map_in_table_mode_routes_as_dimension_order(base):
    """``routing: table`` with no fault: the tables are XY (YX) and the generators the
    plain ones (an empty map has no live mode), so every point -- each counter, link count
    and the drain -- equals the plain router's, uniform and hotspot included."""
    mesh = ("tile.dies_x=2", "tile.dies_y=1", "die.nodes_x=3", "die.nodes_y=3",
            "router.vcs=3")
    _, plain = _model(*mesh, f"router.routing={base}")
    _, table = _model(*mesh, "router.routing=table", f"router.table_base={base}")
    assert table.table_mode and not plain.table_mode
    timing = {**DEFAULT_TIMING, "warmup": 150, "measure": 300}
    assert not table.live_mode
    for pattern in ("uniform", "hotspot", "transpose", "bit_complement", "tornado", "shuffle"):
        for rate in (0.1, 0.9):
            spec = {"pattern": pattern, "rate": rate, "packet_len": 2, "seed": 3}
            a, b = run_point(plain, spec, timing)[0], run_point(table, spec, timing)[0]
            assert a == b, (pattern, rate)
            assert a["delivered_total"] > 0


_TWO_DEAD = ("tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=4", "die.nodes_y=4",
             "router.routing=table", "die.dead_routers=[[1, 1], [2, 3]]")


def _uniform_run(model, cycles=1500):
    fields = {"pattern": Pattern.UNIFORM, "packet_len": 2, "seed": 4}
    model.reset(ctrl_vector(**fields))
    model.run(cycles, ctrl_vector(enable=1, mark=1, rate=rate_threshold(0.5, 2), **fields))
    model.run(3000, ctrl_vector(**fields))
    assert model.quiescent()
    return model.node_stats()


def test_a_flit_that_enters_a_dead_router_is_a_misroute():
    """The tables never route into a dead router; if one did (here an entry is bent towards
    dead (1, 1)), the flit leaves the dead router on its local port and its sink counts a
    misroute: it is not dropped."""
    _, model = _model(*_TWO_DEAD)
    n, dead = model.node(1, 0), model.node(1, 1)
    dst = (0, 2)                                    # from (1, 0) XY-like would go west/south
    planes = model.vcs if model.planes is not None else 1       # VC planes: bend every VC's
    for v in range(planes):
        row = v * model.n_nodes + n
        model.node_tab[row * model.nx * model.ny + dst[1] * model.nx + dst[0]] = 3   # south
    st = _uniform_run(model)
    assert st["sink.misroutes"][dead] > 0 and st["sink.packets"][dead] > 0
    assert st["sink.misroutes"].sum() == st["sink.misroutes"][dead]
    assert st["gen.generated"].sum() == st["sink.packets"].sum()
    assert st["gen.generated"][dead] == 0


def test_the_table_mutant_delivers_everything_by_another_path():
    """``table_entry_off_by_one`` turns one entry to the next port where that still delivers:
    no error of its own, but other link counts (what the RTL comparison sees)."""
    _, good = _model(*_TWO_DEAD)
    _, bad = _model(*_TWO_DEAD, mutant="table_entry_off_by_one")
    a, b = _uniform_run(good), _uniform_run(bad)
    assert not b["sink.misroutes"].any() and b["sink.packets"].sum() == b["gen.generated"].sum()
    assert any((a[f"link.{p}"] != b[f"link.{p}"]).any() for p in ("north", "east", "south",
                                                                  "west"))
    assert bad.mutated[0] != bad.mutated[1]


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("overrides", [
    _TWO_DEAD,
    ("router.routing=table", "die.nodes_x=3", "die.nodes_y=2",
     "tile.fault_maps=[{die: [1, 1], dead_routers: [[1, 0]], disabled_nodes: [[0, 1]]}]"),
    ("die.disabled_nodes=[[1, 1]]",),                           # live mode, XY routing
])
def test_fault_mode_follows_the_rtl_manifest(overrides):
    """The model's tables, live list and statistics words are the RTL build's (its
    manifest, docs/table_mode.md)."""
    cfg, model = _model(*overrides)
    x = noc_design(cfg, kind="traffic").description()
    assert model.stat_names == x["stat_names"]
    assert model.live_mode == x["live_mode"]
    assert [list(c) for c in model.fault_map.live_nodes] == x["live_nodes"]
    # sweep.json's fault keys (sim.sweep takes them from the manifest on the RTL engine)
    assert model.fault_geo() == {k: x[k] for k in ("dead_routers", "disabled_nodes")}
    assert model.table_mode == (x["routing"] == "table")
    if model.table_mode:
        t = x["routing_tables"]
        assert model.tables.die.tolist() == t["die"] and model.tables.node.tolist() == t["node"]
        planes = t.get("vc_planes")
        assert (planes is not None) == (model.planes is not None)
        if planes is None:
            assert np.array_equal(model.node_tab, np.array(t["node"]).reshape(-1))
        else:
            # VC planes: every VC's tables, VC v's rows after VC v-1's, and the choice
            assert np.array_equal(model.node_tab, np.array(planes["node"]).reshape(-1))
            assert planes["node"][0] == t["node"] and len(planes["node"]) == model.vcs
            assert model.planes.select_node.tolist() == planes["select_node"]
            assert model.planes.select_die.tolist() == planes["select_die"]


def test_dead_routers_need_table_routing():
    cfg = load_config("configs/default.yaml", ["die.dead_routers=[[1, 1]]"])
    with pytest.raises(Exception, match="router.routing"):
        NetworkModel(cfg, derive(cfg))
