"""cocotb: a mesh with in-RTL generators and sinks, every pattern, below and above saturation.

After each point the generators stop and the network drains: every generated
packet must have been delivered, with zero misroutes, integrity and order errors.
"""

import pytest

from gen.build import noc_design
from rtl.measure.traffic import Pattern
from gen.config import load_config
from sim.runner import available_simulators, build_design, run_build, run_cocotb
from sim.sweep import channel_load_bound
from tests.conftest import CONFIGS

SIMS = available_simulators()
PATTERN_NAMES = [p.name.lower() for p in Pattern]
TIMING = {"warmup": 200, "measure": 600, "drain_limit": 6000, "final_drain": 1500}
# Icarus is ~50x slower than Verilator: shorter windows, same checks
TIMING_ICARUS = {"warmup": 100, "measure": 300, "drain_limit": 6000, "final_drain": 700}


def timing(sim):
    return TIMING_ICARUS if sim == "icarus" else TIMING


#: the Verilator tests of the 3x3 traffic mesh share its two builds (the suite's fast one and
#: the flat one): one xdist worker runs them in turn instead of the other waiting on a
#: build lock
MESH_3X3_BUILDS = pytest.mark.xdist_group("traffic-mesh-3x3")


@pytest.mark.parametrize("sim", [pytest.param(s, marks=MESH_3X3_BUILDS) if s == "verilator"
                                 else s for s in SIMS])
def test_all_patterns_below_and_above_saturation(sim):
    cfg = load_config(CONFIGS / "default.yaml",
                      ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=3", "die.nodes_y=3"])
    design = noc_design(cfg, kind="traffic")
    points = []
    for i, pattern in enumerate(PATTERN_NAMES):
        rates = ((0.08, 1 + i % 3), (0.95, 1 + (i + 1) % 3))
        # Icarus (its own X-propagation and event order, ~50x slower): every pattern once,
        # below and above saturation in turn; Verilator: every pattern at both rates
        for rate, length in (rates[i % 2:i % 2 + 1] if sim == "icarus" else rates):
            points.append({"pattern": pattern, "rate": rate, "packet_len": length, "seed": 3 + i,
                           "hotspot": [1, 2], "hotspot_frac": 96})
    res = run_cocotb(design, sim=sim, test_module="verif.tb_traffic", tag="patterns",
                     scenario={"params": {**timing(sim), "points": points}})["sweep"]
    assert len(res["points"]) == len(points)
    for p in res["points"]:
        name = f"{p['pattern']} at {p['offered']} ({p['packet_len']}-flit)"
        assert p["drained"], f"{name}: marked packets did not drain"
        assert all(v == 0 for v in p["errors"].values()), f"{name}: {p['errors']}"
        assert p["generated_total"] == p["delivered_total"] > 0, name
        assert p["delivered_marked"] == p["generated_marked"], name
        if p["offered"] < 0.1:
            # well below saturation: the network accepts what is offered (+-25%: short window)
            assert p["accepted_avg"] == pytest.approx(p["offered"], rel=0.25), name
            assert p["suppressed"] == 0, name
        elif channel_load_bound(p["pattern"], 3, 3, hotspot=(1, 2), hotspot_frac=96) < 0.8:
            # offered well above the channel-load bound: the network saturates
            assert p["suppressed"] > 0 and p["accepted_min"] < 0.9 * p["offered"], name


#: Icarus's tile: 1x2 dies of 2x1 nodes (two die links each way, the same die-link RTL
#: as the default tile's eight, a quarter of its nodes)
SMALL_TILE = ["tile.dies_x=1", "tile.dies_y=2", "die.nodes_x=2", "die.nodes_y=1"]


@pytest.mark.parametrize("sim", SIMS)
def test_tile_with_die_links(sim):
    """The default tile: 2x2 dies of 2x2 nodes joined by serialised die-to-die links
    (Icarus: the same checks but the bound's, on a 1x2 tile of 2x1-node dies)."""
    cfg = load_config(CONFIGS / "default.yaml", SMALL_TILE if sim == "icarus" else [])
    design = noc_design(cfg, kind="traffic")
    assert design.network.dielink["ratio"] == 2
    assert design.network.die_shape == ((2, 1) if sim == "icarus" else (2, 2))
    patterns = ("uniform", "transpose", "tornado") if sim == "verilator" else ("uniform",)
    points = [{"pattern": pattern, "rate": rate, "packet_len": 2, "seed": 5}
              for pattern in patterns for rate in (0.1, 0.9)]
    res = run_cocotb(design, sim=sim, test_module="verif.tb_traffic", tag="tile",
                     scenario={"params": {**timing(sim), "points": points}})["sweep"]
    for p in res["points"]:
        name = f"{p['pattern']} at {p['offered']}"
        assert p["drained"] and all(v == 0 for v in p["errors"].values()), name
        assert p["generated_total"] == p["delivered_total"] > 0, name
    if sim == "icarus":
        return
    # the die boundary is the bottleneck: die links at half rate halve the uniform bound
    bound = channel_load_bound("uniform", 4, 4, die_shape=(2, 2), die_ratio=2)
    assert bound == pytest.approx(0.5)
    uniform_high = next(p for p in res["points"] if p["pattern"] == "uniform" and p["offered"] > 0.5)
    assert 0.6 * bound < uniform_high["accepted_avg"] < 1.05 * bound


@pytest.mark.slow
@MESH_3X3_BUILDS
@pytest.mark.skipif("verilator" not in SIMS, reason="needs Verilator")
def test_model_alone_matches_offered_load():
    """The C++ speed harness (no cocotb) drives the same Verilator build: the generators
    produce the offered load, the sinks see no error and the network keeps up."""
    from sim.model_speed import measure
    cfg = load_config(CONFIGS / "default.yaml",
                      ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=3", "die.nodes_y=3"])
    design = noc_design(cfg, kind="traffic")
    # the harness links the flat build (the one benchmarks measure), not the test
    # suite's fast build
    build_design(design, sim="verilator", fast_build=False)
    res = measure(design, 0.2, cycles=4000, callgrind=False)
    assert res["cycles"] == 4000 and res["cycles_per_s"] > 0
    assert len(res["runs_cycles_per_s"]) == 3          # best of three, all kept
    assert res["error"] == 0
    assert res["generated"] == pytest.approx(res["offered_packets"], rel=0.1)
    # below saturation only the packets of the last few cycles are still in flight
    assert 0 <= res["generated"] - res["received"] < 9 * 20


@pytest.mark.slow
@MESH_3X3_BUILDS
@pytest.mark.skipif("verilator" not in SIMS, reason="needs Verilator")
def test_fast_build_is_cycle_identical_to_the_flat_build():
    """The test suite's fast build (the node as a Verilator hierarchical block) and the
    flat build of sweeps and benchmarks: same counters, histograms and link loads on every
    kind of pattern, below and above saturation (the 3x3 mesh: both builds exist already)."""
    cfg = load_config(CONFIGS / "default.yaml",
                      ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=3", "die.nodes_y=3"])
    design = noc_design(cfg, kind="traffic")
    points = [{"pattern": p, "rate": r, "packet_len": 2, "seed": 5}
              for p in ("uniform", "transpose", "hotspot") for r in (0.1, 0.9)]
    out = {}
    for fast in (True, False):
        build = build_design(design, sim="verilator", fast_build=fast)
        assert ("-hier" in build.build_dir) == fast and bool(build.hier) == fast
        out[fast] = run_build(build, test_module="verif.tb_traffic", tag="fast_vs_flat",
                              scenario={"params": {**TIMING, "points": points}})["sweep"]
    assert out[True]["points"] == out[False]["points"]
    assert any(p["accepted_avg"] > 0.2 for p in out[True]["points"])
