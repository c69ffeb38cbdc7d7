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
from rtl.measure.traffic import Pattern, rate_threshold
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
    assert model.stat_names == design.extra["stat_names"]
    assert [list(model.coords()[n]) for n in model.rtl_order()] == design.extra["nodes"]
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
