# amaranth: UnusedElaboratable=no
"""The fast model against the RTL (the reference), over a matrix of configurations.

For each configuration one Verilator build (with the link registers readable,
:mod:`sim.link_trace`) serves two comparisons:

* **lockstep**: every link register (valid, VC, last, the whole flit) in every cycle
  of a run that goes from below to above saturation and drains;
* **sweep points**: every counter of every generator and sink (packets, flits,
  latency sum and maximum, histogram), every per-link flit count, the drain and the
  cycle of every action, for each pattern and packet length at two rates;
* **energy counts**: the events those points price (:func:`sim.energy.point_counts`:
  flit-hops, die-link flits, router traversals, delivered flits in the window; with the
  die-link layer, in the window too, the codewords sent, replays included, their lane and
  CRC bits, and the reverse lane's control words that carry news).

A mismatch names the first differing cycle and link, or point and counter, with
both values. Deliberately wrong models must fail both comparisons; models that behave
right but count wrong must pass the lockstep and fail the points and the energy counts.
"""

import copy
import json

import pytest

from gen.build import noc_design, packet_format
from gen.config import load_config
from gen.derive import derive
from gen.energy import energy_model
from rtl.measure.traffic import rate_threshold
from sim.link_trace import TRACE_SIGNALS, run_link_trace
from sim.netmodel.network import NetworkModel
from sim.netmodel.point import point_difference, run_point
from sim.netmodel.trace import first_difference, model_link_trace
from sim.energy import point_counts
from sim.runner import available_simulators, run_cocotb
from sim.sweep import run_sweep

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif("verilator" not in available_simulators(),
                                 reason="needs Verilator")]

#: short points: what matters is that both engines agree on every counter
TIMING = {"warmup": 200, "measure": 500, "drain_limit": 2000, "final_drain": 1000}

_MESH = ("tile.dies_x=1", "tile.dies_y=1")
_LAYER = ("die.nodes_x=2", "die.nodes_y=1", "tile.dies_x=1", "tile.dies_y=2",
          "dielink.link_layer=true")
#: fault-map mode (docs/table_mode.md): table routing around dead routers, live-node traffic
_TWO_DEAD = _MESH + ("die.nodes_x=4", "die.nodes_y=4", "router.routing=table",
                     "die.dead_routers=[[1, 1], [2, 3]]")
_TILE_FAULTS = ("router.routing=table",
                "tile.fault_maps=[{die: [0, 0], dead_routers: [[1, 1]]}, "
                "{die: [1, 1], disabled_nodes: [[0, 0]]}]")

#: (id, overrides, [(pattern, packet length)], rates below and above saturation)
MATRIX = [
    ("2x2-vc1-d3", _MESH + ("die.nodes_x=2", "die.nodes_y=2", "router.vcs=1",
                            "router.buffer_depth=3"),
     [("uniform", 1), ("bit_reverse", 2)], [0.3, 1.0]),
    ("3x3-vc2-yx-len8", _MESH + ("die.nodes_x=3", "die.nodes_y=3", "router.routing=yx"),
     [("transpose", 8), ("tornado", 1)], [0.1, 0.8]),
    ("4x2-vc4-d5", _MESH + ("die.nodes_x=4", "die.nodes_y=2", "router.vcs=4",
                            "router.buffer_depth=5"),
     [("shuffle", 4), ("neighbour", 1)], [0.2, 0.9]),
    ("5x3-vc3-stages1", _MESH + ("die.nodes_x=5", "die.nodes_y=3", "router.vcs=3",
                                 "node.pitch_mm=2.0", "router.buffer_depth=5"),
     [("hotspot", 3), ("bit_complement", 1)], [0.1, 0.6]),
    ("3x2-stages2-d7", _MESH + ("die.nodes_x=3", "die.nodes_y=2", "node.pitch_mm=2.6",
                                "router.buffer_depth=7"),
     [("uniform", 2)], [0.2, 0.9]),
    ("tile2x2-ratio2", (), [("uniform", 1), ("transpose", 1)], [0.1, 0.6]),
    ("tile2x1-ratio1-lat1-vc1", ("tile.dies_x=2", "tile.dies_y=1", "dielink.ratio=1",
                                 "dielink.latency=1", "router.vcs=1"),
     [("hotspot", 2)], [0.1, 0.7]),
    ("tile2x2of2x1-ratio3-lat5-vc3", ("die.nodes_x=2", "die.nodes_y=1", "dielink.ratio=3",
                                      "dielink.latency=5", "router.vcs=3"),
     [("uniform", 8)], [0.1, 0.7]),
    ("tile1x2of3x1-ratio4-lat9-vc4-stages1",
     ("tile.dies_x=1", "tile.dies_y=2", "die.nodes_x=3", "die.nodes_y=1", "dielink.ratio=4",
      "dielink.latency=9", "router.vcs=4", "node.pitch_mm=2.0", "router.buffer_depth=5"),
     [("bit_complement", 5)], [0.1, 0.8]),
    # the die-link layer: BER 0 (the perfect pipe's timing at the layer's ratio), then
    # injected errors on both directions, bursts, a lane failure mid-run (same seeds)
    ("tile1x2of2x1-layer-ber0", _LAYER, [("uniform", 2)], [0.1, 0.9]),
    ("tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail",
     _LAYER + ("dielink.ber=2e-2", "dielink.ber_reverse=1e-2", "dielink.burst_len=4",
               "dielink.lane_fail_cycle=900", "dielink.lane_fail_link=1", "dielink.seed=9"),
     [("uniform", 3)], [0.1, 0.9]),
    ("tile2x2of2x1-layer-crc16-vc1-ber1e-3-lat5",
     ("die.nodes_x=2", "die.nodes_y=1", "router.vcs=1", "dielink.latency=5",
      "dielink.link_layer=true", "dielink.crc_bits=16", "dielink.ber=1e-3",
      "dielink.ber_reverse=3e-3", "dielink.lane_fail_cycle=1500", "dielink.seed=3"),
     [("transpose", 1)], [0.1, 0.8]),
    # fault maps: VC planes (gen.routing.planes: per-VC tables repaired around 2 dead routers,
    # each source's VC choice; uniform over the 14 live nodes, transpose with
    # suppressed_dead); a 2x2-die tile with a dead router in one die and a disabled node in
    # another (per-VC die tables across the die links, hotspot on a live node)
    ("4x4-table-2dead", _TWO_DEAD, [("uniform", 2), ("transpose", 1)], [0.1, 0.8]),
    ("tile2x2of2x2-table-1dead-1disabled", _TILE_FAULTS,
     [("hotspot", 2), ("bit_complement", 1)], [0.1, 0.7]),
]


def _config(overrides):
    cfg = load_config("configs/default.yaml", list(overrides))
    return cfg, derive(cfg)


#: RTL results of this worker, by design and stimulus: the RTL is deterministic, so a
#: mutant on its configuration's schedule (same xdist group, same worker) reuses the run
_RTL_RUNS = {}


def _memo(kind, design, args, run):
    key = (kind, design.manifest()["verilog_sha256_16"], json.dumps(args, sort_keys=True,
                                                                     default=str))
    if key not in _RTL_RUNS:
        _RTL_RUNS[key] = run()
    return copy.deepcopy(_RTL_RUNS[key])


def _rtl_trace(design, cycles, schedule):
    return _memo("trace", design, [cycles, schedule],
                 lambda: run_link_trace(design, cycles=cycles, ctrl_schedule=schedule))


def _rtl_points(design, specs):
    return _memo("points", design, specs, lambda: _run_rtl_points(design, specs))


def _run_rtl_points(design, specs):
    """Sweep points of the RTL testbench on the trace build (shared with the lockstep run)."""
    res = run_cocotb(design, sim="verilator", test_module="verif.tb_traffic",
                     tag="netmodel-" + "-".join(f"{s['pattern']}{s['packet_len']}-{s['rate']:g}"
                                                for s in specs),
                     scenario={"params": {**TIMING, "points": specs}},
                     public_signals=TRACE_SIGNALS)
    return res["sweep"]["points"]


def _model_points(model, specs):
    return [run_point(model, spec, TIMING)[0] for spec in specs]


def _schedule(pattern, packet_len, rates, cycles):
    """Low load, then high load, then no new packets: below and above saturation, drained."""
    fields = {"pattern": pattern, "packet_len": packet_len, "seed": 11, "hotspot_x": 1,
              "hotspot_y": 0}
    low, high = (rate_threshold(r, packet_len) for r in rates)
    return [(0, {**fields, "enable": 1, "rate": low}),
            (cycles // 3, {**fields, "enable": 1, "rate": high}),
            (2 * cycles // 3, {**fields, "enable": 0})]


def _counts(cfg, d, model, points):
    """The energy's events of each point (:func:`sim.energy.point_counts`) on the config's
    geometry, as ``dojo sweep`` prices them."""
    geo = {"mesh": [model.mesh_x, model.mesh_y],
           "nodes": [list(model.coords()[n]) for n in model.rtl_order()],
           "die_shape": list(model.die_shape) if model.die_shape else None,
           **model.fault_geo()}
    energy = energy_model(cfg, d)
    return [point_counts(geo, p, energy) for p in points]


def _specs(traffic, rates):
    return [{"pattern": p, "rate": r, "packet_len": n, "seed": 11, "hotspot": [1, 0]}
            for p, n in traffic for r in rates]


#: the quick tier's configurations (make check; docs/testing.md): together they hold every
#: block of the fast engine once: routers with tables and VC planes, generators and sinks
#: around dead and disabled nodes, perfect-pipe die links (the fault-map tile), and the
#: die-link layer with errors, bursts and a lane failure
QUICK = ("tile2x2of2x2-table-1dead-1disabled", "tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail")


def _marks(config):
    """The quick marker, and the xdist group of the configuration's build (a mutant on the
    same configuration runs on the same worker, after it: one build, no waiting)."""
    return [pytest.mark.xdist_group(f"netmodel-{config}")] + \
        ([pytest.mark.quick] if config in QUICK else [])


@pytest.mark.parametrize("overrides, traffic, rates",
                         [pytest.param(o, t, r, id=i, marks=_marks(i)) for i, o, t, r in MATRIX])
def test_model_equals_the_rtl(overrides, traffic, rates):
    cfg, d = _config(overrides)
    design = noc_design(cfg, kind="traffic")
    fmt = packet_format(cfg, d)
    model = NetworkModel(cfg, d, trace_capacity=2_000_000)
    cycles = 2400
    schedule = _schedule(*traffic[0], rates, cycles)
    rtl_trace = _rtl_trace(design, cycles, schedule)
    model_trace = model_link_trace(model, fmt, cycles=cycles, ctrl_schedule=schedule)
    assert first_difference(rtl_trace, model_trace) is None, \
        first_difference(rtl_trace, model_trace)
    assert sum(len(f) for f in rtl_trace.values()) > 100 * cfg.tile.dies_x * cfg.tile.dies_y

    specs = _specs(traffic, rates)
    rtl, mdl = _rtl_points(design, specs), _model_points(model, specs)
    assert point_difference(rtl, mdl) is None, point_difference(rtl, mdl)
    # the points are not trivial: traffic flowed, and one of them needed a long drain
    assert all(p["delivered_total"] > 0 for p in rtl)

    # the energy's events, equal on both engines and not trivially zero: flits crossed
    # routers (and die links on a tile), and a link layer with errors replayed
    counts = _counts(cfg, d, model, rtl)
    assert counts == _counts(cfg, d, model, mdl)
    assert all(c["router_flits"] > 0 and c["delivered_flits"] > 0 for c in counts)
    if cfg.tile.dies_x * cfg.tile.dies_y > 1:
        assert all(c["dielink_flits"] > 0 for c in counts)
    if d.dielink.link_layer:
        assert all(c["dielink_codewords"] > 0 and c["dielink_crc_bits"] > 0
                   and c["dielink_control_words"] > 0 for c in counts)
        assert (sum(c["dielink_replayed"] for c in counts) > 0) == (cfg.dielink.ber > 0)
        # counted in the window, not over the point: the warm-up and the drain send more
        for c, p in zip(counts, rtl):
            assert c["dielink_codewords"] < p["dielink"]["totals"]["sent"]


def test_sweep_reports_are_equal_on_both_engines():
    """``dojo sweep --engine rtl`` and ``--engine model`` write the same sweep.json
    (but for the engine and its speed) on the default tile."""
    cfg, _ = _config(())
    kw = dict(pattern="uniform", rates=[0.1, 0.6], timing=TIMING, progress=False)
    rtl, model = run_sweep(cfg, engine="rtl", **kw), run_sweep(cfg, engine="model", **kw)
    assert rtl["engine"] == "rtl" and model["engine"] == "model"
    assert point_difference(rtl["points"], model["points"]) is None
    # so the energy both engines count is equal too (gen/energy.py prices the same
    # counters), and it is not trivially zero: flits crossed mesh and die links
    joules = [p["energy"]["joules"] for p in model["points"]]
    assert all(j["flit_hops"] > 0 and j["dielink_flits"] > 0 for j in joules)
    for key in ("mesh", "nodes", "die_shape", "dielink", "zero_load_latency",
                "saturation_throughput", "channel_load_bound", "highest_stable_offered"):
        assert _plain(rtl[key]) == _plain(model[key]), key


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


#: (mutant, configuration of MATRIX it is shown on)
MUTANTS = [("vc_pointer_on_request", "4x2-vc4-d5"),
           ("output_pointer_stuck", "2x2-vc1-d3"),
           ("dielink_credit_early", "tile2x1-ratio1-lat1-vc1"),
           ("replay_pointer_off_by_one", "tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail"),
           ("table_entry_off_by_one", "4x4-table-2dead"),
           ("vc_choice_flipped", "4x4-table-2dead")]


@pytest.mark.parametrize("mutant, config", [pytest.param(m, c, marks=_marks(c)[:1])
                                             for m, c in MUTANTS])
def test_a_wrong_model_fails_the_comparison(mutant, config):
    """Each mutant changes one detail of the model (a round-robin pointer, a credit's
    timing, one routing-table entry, one source's VC choice); both comparisons with the RTL must name a
    difference."""
    _, overrides, traffic, rates = next(m for m in MATRIX if m[0] == config)
    cfg, d = _config(overrides)
    design = noc_design(cfg, kind="traffic")
    model = NetworkModel(cfg, d, trace_capacity=2_000_000, mutant=mutant)
    cycles = 2400
    schedule = _schedule("uniform", 1, rates, cycles)
    diff = first_difference(_rtl_trace(design, cycles, schedule),
                            model_link_trace(model, packet_format(cfg, d), cycles=cycles,
                                             ctrl_schedule=schedule))
    assert diff is not None and diff.startswith("cycle ")
    specs = _specs([("uniform", 1)], rates[1:])
    diff = point_difference(_rtl_points(design, specs), _model_points(model, specs))
    assert diff is not None and diff.startswith("point 0")


#: (mutant that behaves right but counts wrong, configuration of MATRIX, the event it
#: miscounts): the energy's events must be compared, not only the behaviour
COUNT_MUTANTS = [("local_flit_uncounted", "tile2x2of2x2-table-1dead-1disabled",
                  "delivered_flits"),
                 ("replay_uncounted", "tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail",
                  "dielink_codewords"),
                 ("window_replay_uncounted",
                  "tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail", "dielink_replayed"),
                 ("credit_word_uncounted", "tile1x2of2x1-layer-ber2e-2-rev1e-2-burst4-lanefail",
                  "dielink_control_words")]


@pytest.mark.parametrize("mutant, config, event", [pytest.param(m, c, e, marks=_marks(c)[:1])
                                                    for m, c, e in COUNT_MUTANTS])
def test_a_wrong_count_fails_the_counts_comparison(mutant, config, event):
    """A model whose every link register equals the RTL's in every cycle, but that misses
    one kind of event in its counters, fails the points' comparison and the energy counts.
    It runs the RTL runs of :func:`test_model_equals_the_rtl` on the same configuration
    (same stimulus: reused, no new build or run on the same worker)."""
    _, overrides, traffic, rates = next(m for m in MATRIX if m[0] == config)
    cfg, d = _config(overrides)
    design = noc_design(cfg, kind="traffic")
    model = NetworkModel(cfg, d, trace_capacity=2_000_000, mutant=mutant)
    cycles = 2400
    schedule = _schedule(*traffic[0], rates, cycles)
    assert first_difference(_rtl_trace(design, cycles, schedule),
                            model_link_trace(model, packet_format(cfg, d), cycles=cycles,
                                             ctrl_schedule=schedule)) is None
    specs = _specs(traffic, rates)
    rtl, mdl = _rtl_points(design, specs), _model_points(model, specs)
    diff = point_difference(rtl, mdl)
    assert diff is not None and diff.startswith("point 0"), diff
    rc, mc = _counts(cfg, d, model, rtl), _counts(cfg, d, model, mdl)
    assert [c[event] for c in rc] != [c[event] for c in mc]
    assert all(r[event] > m[event] for r, m in zip(rc, mc))     # the model missed some


@pytest.mark.xdist_group(f"netmodel-{MATRIX[0][0]}")
def test_readout_while_the_network_still_drains():
    """With almost no final drain the counters still move while the testbench reads them,
    one word every 2 cycles: the model must sample each word in the same cycle."""
    _, overrides, _, _ = MATRIX[0]
    cfg, d = _config(overrides)
    design = noc_design(cfg, kind="traffic")
    timing = {**TIMING, "drain_limit": 64, "final_drain": 8}
    specs = [{"pattern": "hotspot", "rate": 1.0, "packet_len": 8, "seed": 11, "hotspot": [1, 1]}]
    rtl = run_cocotb(design, sim="verilator", test_module="verif.tb_traffic",
                     tag="netmodel-readout-drain",
                     scenario={"params": {**timing, "points": specs}},
                     public_signals=TRACE_SIGNALS)["sweep"]["points"]
    model = NetworkModel(cfg, d)
    mdl = [run_point(model, spec, timing)[0] for spec in specs]
    assert not rtl[0]["drained"]
    assert point_difference(rtl, mdl) is None, point_difference(rtl, mdl)
