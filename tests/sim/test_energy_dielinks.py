"""The die links' link-layer counters of a compute tile: the fast model's direct read
against the RTL's.

The default tile with the die-link layer at a bit-error rate of 1e-3 both ways (replays,
NAKs, timeouts, corrupted control words) runs the node-driven ring all-reduce on Icarus
(:mod:`verif.tb_tile_dielinks` reads every die link's counters through the hierarchy when
the hosts' flow has ended) and on the model. Every counter of every die link equals the
model's (:meth:`sim.netmodel.network.NetworkModel.dielink_stats`, what
:func:`sim.netmodel.host.direct_counters` reads) at the start of the cycle the flow ended
in, which is where a cocotb coroutine resumed in that cycle reads the registers. The
counters keep moving while the tile is idle (the reverse lane sends a word every cycle and
the errors hit it), so the statement pins the cycle. A model whose reverse lane does not
count a control word that returns only a credit (an energy event) fails it.

The workload runners use it: with the layer, the ring all-reduce's ``result.json`` on the
RTL (Verilator, the die links' counters public) and on the model are equal, its energy
priced from the codewords (replays included) and control words.
"""

import pytest

from gen.config import load_config
from gen.derive import derive
from sim.collectives import collective_plan, run_collective
from sim.runner import available_simulators, run_cocotb
from sim.workloads.runners import program_scenario
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker
from verif.host_programs import programs as programs_flow

pytestmark = [pytest.mark.slow, one_worker("core"),
              pytest.mark.skipif("icarus" not in available_simulators(),
                                 reason="needs Icarus (the hierarchy's die-link counters)")]

_LAYER = ["dielink.link_layer=true", "dielink.ber=1e-3", "dielink.ber_reverse=1e-3"]
_RTL = {}


def _ring():
    cfg = load_config(CONFIGS / "default.yaml", _LAYER)
    d = derive(cfg)
    p = collective_plan(cfg, "ring", lines=32, dtype="int32", derived=d, engine="rtl")
    pr = program_scenario(p["model"], p["programs"], p["data"],
                          [[list(n), 0, 32] for n in p["nodes"]])
    return cfg, d, p["design"], pr


def _rtl():
    if not _RTL:
        _, _, design, pr = _ring()
        _RTL.update(run_cocotb(design, sim="icarus", test_module="verif.tb_tile_dielinks",
                               testcase="programs", tag="energy-dielinks",
                               scenario={"programs": pr})["programs"])
    return _RTL


def _model(net_mutant="none"):
    """The model's host-loaded run: its flow result and the die links' counters at the
    start of every cycle."""
    from sim.netmodel.host import tile_model
    cfg, d, design, pr = _ring()
    tile = tile_model(design, cfg, d, net_mutant=net_mutant)
    seen = {}
    tile.watch = lambda c: seen.__setitem__(c, tile.net.dielink_stats())
    flow = tile.run(programs_flow(tile, pr), cycles=200_000)
    return flow, seen


def _die_nodes():
    d = derive(load_config(CONFIGS / "default.yaml", _LAYER)).die
    return d.nodes_x, d.nodes_y


def difference(rtl, stats):
    """The first die-link counter that differs, as one line; None if all are equal."""
    for name, values in rtl.items():
        for k, (a, b) in enumerate(zip(values, stats[name])):
            if a != b:
                return f"dielink{k} {name}: RTL {a}, model {b}"
    return None


def test_the_die_link_counters_of_a_compute_tile_are_the_rtls():
    rtl = _rtl()
    assert not rtl["problems"], rtl["problems"]
    flow, seen = _model()
    assert flow["counters_cycle"] == rtl["counters_cycle"]
    assert flow["counters"] == rtl["counters"]
    stats = rtl["dielink_counters"]
    assert difference(stats, seen[rtl["counters_cycle"]]) is None
    # the run did what it is for: replays and control words on the die links
    assert sum(stats["window_replayed"]) > 0 and sum(stats["window_control"]) > 0
    t, die = derive(load_config(CONFIGS / "default.yaml", _LAYER)).tile, _die_nodes()
    links = 2 * ((t.dies_x - 1) * t.dies_y * die[1] + t.dies_x * (t.dies_y - 1) * die[0])
    assert len(stats["window_sent"]) == links and stats["window_sent"] == stats["sent"]


def test_a_model_that_misses_a_credit_word_fails_the_comparison():
    rtl = _rtl()
    flow, seen = _model("credit_word_uncounted")
    line = difference(rtl["dielink_counters"], seen[rtl["counters_cycle"]])
    assert line is not None and " window_control: " in line, line


@pytest.mark.skipif("verilator" not in available_simulators(), reason="needs Verilator")
def test_a_workload_with_the_link_layer_prices_its_die_links_on_both_engines(tmp_path):
    from tests.sim.test_workloads_on_the_model import first_difference
    cfg = load_config(CONFIGS / "default.yaml", _LAYER)
    d = derive(cfg)
    records = {engine: run_collective(cfg, "ring", lines=32, dtype="int32",
                                      out_dir=tmp_path / engine, derived=d, engine=engine)
               for engine in ("rtl", "model")}
    rtl, model = records["rtl"], records["model"]
    assert rtl["match"] and model["match"], (rtl["problems"], model["problems"])
    assert first_difference(rtl, model) is None, first_difference(rtl, model)
    counts, joules = rtl["energy"]["counts"], rtl["energy"]["joules"]
    assert counts["dielink_replayed"] > 0 and joules["dielink_codewords"] > 0
    assert joules["dielink_control_words"] > 0 and joules["dielink_flits"] == 0
