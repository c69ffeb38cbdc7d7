# amaranth: UnusedElaboratable=no
"""The latency histogram is sized from the mesh (issue 27 item 9): its range covers the
zero-load latency of the longest route, unless the config sets the bin width; the RTL
and the fast model take the same width."""

import pytest

from gen.config import load_config
from gen.derive import HISTOGRAM_SPAN, derive

SLOW_LINKS = ["tile.dies_x=2", "tile.dies_y=2", "die.nodes_x=2", "die.nodes_y=2",
              "dielink.latency=40"]


def test_d1_tile_histogram_covers_its_zero_load_latency():
    """D1 tile: the measured zero-load latency is 121 cycles (README), the old fixed
    range ended at 64; the derived one spans twice the longest route's."""
    h = derive(load_config("configs/d1.yaml")).traffic
    assert h.histogram_bin_cycles_derived
    assert h.histogram_range_cycles >= HISTOGRAM_SPAN * h.diameter_latency > 2 * 121
    # the small presets keep 16 bins of 4 cycles
    for name in ("default", "noc8x8"):
        h = derive(load_config(f"configs/{name}.yaml")).traffic
        assert (h.histogram_bins, h.histogram_bin_cycles) == (16, 4)


def test_an_explicit_width_wins():
    d = derive(load_config("configs/d1.yaml", ["traffic.histogram_bin_cycles=4"]))
    assert d.traffic.histogram_bin_cycles == 4
    assert not d.traffic.histogram_bin_cycles_derived


def test_rtl_and_model_take_the_same_derived_width():
    from gen.build import noc_design
    from sim.netmodel.network import NetworkModel
    cfg = load_config("configs/default.yaml", SLOW_LINKS)
    d = derive(cfg)
    width = d.traffic.histogram_bin_cycles
    assert width > 4
    assert noc_design(cfg, derived=d).params["node"]["bin_cycles"] == width
    assert NetworkModel(cfg, d).bin_cycles == width


def test_p99_is_known_on_slow_die_links():
    """Die links of 40 cycles: the zero-load latency is past the old 64-cycle range, so
    the p99 was clipped at every rate; with the derived range it is measured."""
    from sim.sweep import run_sweep
    timing = {"warmup": 200, "measure": 600, "drain_limit": 2000, "final_drain": 500}
    res = run_sweep(load_config("configs/default.yaml", SLOW_LINKS), rates=[0.05],
                    engine="model", timing=timing, progress=False)
    point, = res["points"]
    assert point["latency_max"] > 64
    assert point["latency_p99"] is not None and not point["latency_p99_clipped"]
    old = run_sweep(load_config("configs/default.yaml",
                                SLOW_LINKS + ["traffic.histogram_bin_cycles=4"]),
                    rates=[0.05], engine="model", timing=timing, progress=False)
    assert old["points"][0]["latency_p99_clipped"]


#: the correlation matrix's configuration whose derived bin width is the widest (7 cycles:
#: die links of ratio 4 and latency 9 between 3-node dies)
WIDE_BINS = "tile1x2of3x1-ratio4-lat9-vc4-stages1"


@pytest.mark.slow
@pytest.mark.xdist_group(f"netmodel-{WIDE_BINS}")       # that configuration's build and run
@pytest.mark.skipif("verilator" not in __import__("sim.runner").runner.available_simulators(),
                    reason="needs Verilator")
def test_rtl_and_model_points_are_equal_with_a_derived_width():
    """The cycle-exact comparison (tests/sim/netmodel) on a tile whose derived width is
    not the old 4: every counter, the histogram included, is the same on both engines, and
    the RTL's histogram has packets past the old 64-cycle range. The RTL points are the
    correlation test's own (its memo: one Verilator build and run serve both tests on
    their xdist group's worker)."""
    from gen.build import noc_design
    from sim.netmodel.network import NetworkModel
    from sim.netmodel.point import point_difference
    from tests.sim.netmodel import test_netmodel_rtl as corr
    (overrides, traffic, rates), = [row[1:] for row in corr.MATRIX if row[0] == WIDE_BINS]
    cfg, d = corr._config(overrides)
    width = d.traffic.histogram_bin_cycles
    assert width > 4 and d.traffic.histogram_bin_cycles_derived
    specs = corr._specs(traffic, rates)
    rtl = corr._rtl_points(noc_design(cfg, kind="traffic"), specs)
    model = corr._model_points(NetworkModel(cfg, d), specs)
    assert point_difference(rtl, model) is None, point_difference(rtl, model)
    assert sum(sum(p["histogram"][64 // width + 1:]) for p in rtl) > 0   # past the old range
