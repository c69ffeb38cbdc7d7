"""cocotb: traffic above saturation across die links with the link layer, every available simulator.

A 1x2 tile of 2x1-node dies (four die links), uniform traffic at an offered load above
the die boundary's saturation. For each injected error setting: every generated packet
is delivered (generated == delivered, marked window drained), no sink sees a wrong
payload, a misroute or a reordering, and the die-link counters match the injections
(every corrupted codeword is caught by its CRC; every corrupted control word too, but
for the few still in flight when the counters are read).
"""

import pytest

from gen.build import noc_design
from gen.config import load_config
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS

SIMS = available_simulators()
SMALL = ["die.nodes_x=2", "die.nodes_y=1", "tile.dies_x=1", "tile.dies_y=2",
         "dielink.link_layer=true"]
TIMING = {"warmup": 300, "measure": 600, "drain_limit": 6000, "final_drain": 600}

#: (id, overrides): BER 0, moderate, and high enough that most flits are resent; a lane
#: failure in the middle of the marked window on one link
CASES = [
    ("ber0", []),
    ("ber1e-3", ["dielink.ber=1e-3", "dielink.ber_reverse=1e-3", "dielink.seed=5"]),
    ("ber2e-2-burst4-lanefail", ["dielink.ber=2e-2", "dielink.ber_reverse=1e-2",
                                 "dielink.burst_len=4", "dielink.lane_fail_cycle=700",
                                 "dielink.lane_fail_link=1", "dielink.seed=9"]),
]


def _points(cfg, sim, tag):
    design = noc_design(cfg, kind="traffic")
    specs = [{"pattern": "uniform", "rate": 0.9, "packet_len": 3, "seed": 4}]
    res = run_cocotb(design, sim=sim, test_module="verif.tb_traffic", tag=tag,
                     scenario={"params": {**TIMING, "points": specs}})["sweep"]
    return design, res["points"]


#: the case Icarus runs too (its own X-propagation and event order on the replay, CRC and
#: lane-failure logic); BER 0 and 1e-3 are the same RTL with fewer of those events
ICARUS_CASE = "ber2e-2-burst4-lanefail"


@pytest.mark.parametrize("sim, overrides", [
    pytest.param(sim, o, id=f"{i}-{sim}") for i, o in CASES for sim in SIMS
    if sim != "icarus" or i == ICARUS_CASE])
def test_no_loss_duplication_or_corruption_under_errors(sim, overrides):
    cfg = load_config(CONFIGS / "default.yaml", SMALL + overrides)
    design, (p,) = _points(cfg, sim, "dielink-layer")
    latency = design.network.dielink["latency"]
    assert p["drained"]
    assert p["generated_total"] == p["delivered_total"] > 100
    assert p["generated_marked"] == p["delivered_marked"]
    assert not any(p["errors"].values()), p["errors"]
    dl = p["dielink"]
    tot, links = dl["totals"], dl["links"]
    n = len(design.network.dielink_ends)
    assert n == 4 and all(len(v) == n for v in links.values())
    assert tot["crc_errors"] == tot["injected"]
    for k in range(n):
        assert 0 <= links["injected_reverse"][k] - links["ack_errors"][k] <= latency
    # every flit crossing a boundary was sent once plus its replays
    assert tot["sent"] >= tot["replayed_flits"]
    # the window counters count the marked window: part of the run, every link
    for k in range(n):
        assert 0 < links["window_sent"][k] < links["sent"][k]
        assert links["window_replayed"][k] <= links["replayed_flits"][k]
        assert links["window_control"][k] > 0
    ber = cfg.dielink.ber
    if not ber:
        assert tot["injected"] == tot["replays"] == tot["replayed_flits"] == 0
        assert tot["timeouts"] == 0 and tot["degraded"] == 0
    else:
        assert tot["injected"] > 0 and tot["replays"] > 0
    if ber >= 1e-2:
        # most flits needed at least one replay: more resent codewords than new ones
        assert tot["replayed_flits"] > tot["sent"] - tot["replayed_flits"]
    if cfg.dielink.lane_fail_cycle is not None:
        assert links["degraded"] == [0, 1, 0, 0]


def _channel_run(sim, **kw):
    import random

    from gen.build import Design
    from gen.emit import ModuleLibrary
    from rtl.fabric.dielink_layer import (ReliableDieLinkChannel, link_layer_geometry,
                                          word_error_threshold)
    geo = link_layer_geometry(flit_bits=32, vcs=2, ratio=2, latency=2, crc_bits=8)
    dut = ReliableDieLinkChannel(
        flit_bits=32, vcs=2, ratio=2, latency=2, downstream_depth=4, tx_depth=4, seed=5,
        error_threshold=word_error_threshold(kw["ber"], geo["codeword_bits"]),
        reverse_error_threshold=word_error_threshold(kw["ber"], geo["reverse_bits"]))
    rng = random.Random(2)
    flits = [[rng.randrange(2), rng.getrandbits(32), int(rng.random() < 0.3)] for _ in range(150)]
    res = run_cocotb(Design("dielink_layer_top", dut, ModuleLibrary(), {}), sim=sim,
                     test_module="verif.tb_dielink", tag=f"ber{kw['ber']:g}",
                     scenario={"flits": flits, "vcs": 2, "tx_depth": 4, "limit": 20000,
                               "index": 3})["dielink"]
    return flits, res


@pytest.mark.slow
@pytest.mark.parametrize("ber", [0.0, 0.02])
def test_one_channel_is_the_same_on_every_simulator(ber):
    """The link alone: exactly once, in order, counters matching, identical cycles on
    every simulator (same seeds, same injected errors)."""
    runs = {sim: _channel_run(sim, ber=ber) for sim in SIMS}
    for sim, (flits, res) in runs.items():
        got = res["got"]
        for v in range(2):
            assert [f for f in flits if f[0] == v] == [g[1:] for g in got if g[1] == v], sim
        st = res["stats"]
        assert st["crc_errors"] == st["injected"] and not res["overflow"]
        assert (st["replays"] > 0) == (ber > 0)
        # the window is the whole run here
        assert (st["window_sent"], st["window_replayed"]) == (st["sent"], st["replayed_flits"])
        assert st["window_control"] >= len(flits)
    first = next(iter(runs.values()))[1]
    assert all(r["got"] == first["got"] and r["stats"] == first["stats"]
               for _, r in runs.values())
