"""The energy of preloaded timing-only runs on the model: event counters read directly.

A preloaded run (``--preload``: data and programs written into the SRAM, nothing read back,
:func:`sim.netmodel.host.run_scenario`) reads its counters straight from the model's state
after its last cycle (:func:`sim.netmodel.host.direct_counters`). Held by two exact
statements, on the default tile, which together with ``tests/sim/netmodel/test_node_tile.py``
(the model's host-read counters equal the RTL's) tie the direct read to the RTL:

* **the direct read is the registers the hosts read**: on a host-loaded run, the SRAM and
  MAC counters read directly at the end equal what the hosts read (nothing changes them
  while the hosts read the counters), and every node's flit counters as its host read them
  are the direct read of one cycle of the counter-read phase (the reads' own traffic moves
  them). A direct read that drops one node's SRAM writes fails it.
* **the preloaded run counts the host-loaded run's workload**: per node and counter, the
  preloaded run's counts from reset to its end equal the host-loaded run's between the
  end of its cycle ``t0 + 1`` and the end of its cycle ``t0 + cycles`` (``t0``: the load's
  end; the first start write leaves a host at ``t0 + 1``). The two cycles after ``t0``
  are the load's last flits reaching the counter registers, which add a router's flits
  two cycles late; the preloaded run has none there. Counts do not depend on data values
  (the timing-only model computes none and gives the full model's cycles,
  ``tests/sim/test_workloads_on_the_model.py``).

With the die-link layer the direct read adds the layer's counters (they count every cycle
on a compute tile): every codeword sent, first or replayed, is the routers' die-link flit
or a replay of one.
"""

import pytest

from gen.config import load_config
from gen.derive import derive
from sim.collectives import run_collective
from sim.summa import run_summa
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker

# the node kernel's compile is shared with the node-model tests' xdist group
pytestmark = [pytest.mark.slow, one_worker("core")]

_CORE = ("sram_reads", "sram_writes", "mac_steps_bf16", "mac_steps_int8")


def _run(name, cfg, d, out, **kw):
    if name == "summa":
        return run_summa(cfg, m=32, n=32, k=64, dtype="int8", out_dir=out, derived=d,
                         engine="model", timing_only=True, **kw)
    return run_collective(cfg, name, dtype="int32", out_dir=out, derived=d, engine="model",
                          timing_only=True, alpha=14.0, **kw)


def _watched_run(monkeypatch, name, out, *, overrides=(), mutant="none", **kw):
    """The workload's record, the hosts' flow result, and the direct read of every cycle
    (``{c: counters}``: the state after the kernel's cycles ``0 .. c - 1``) and at the
    end."""
    import sim.netmodel.host as host
    cfg = load_config(CONFIGS / "default.yaml", list(overrides))
    d = derive(cfg)
    right, seen = host.tile_model, {}

    def tile_model(*a, **kw_):
        tile = right(*a, **kw_)
        snaps = seen["snaps"] = {}
        tile.watch = lambda c: snaps.__setitem__(
            c, host.direct_counters(tile, mutant=mutant)["counters"])
        run = tile.run

        def run_and_keep(coro, *, cycles):
            seen["flow"] = run(coro, cycles=cycles)
            seen["end"] = host.direct_counters(tile, mutant=mutant)
            return seen["flow"]

        tile.run = run_and_keep
        return tile

    monkeypatch.setattr(host, "tile_model", tile_model)
    record = _run(name, cfg, d, out, **kw)
    monkeypatch.setattr(host, "tile_model", right)
    return record, seen


def reader_problems(seen):
    """Where the direct read of a host-loaded run differs from what its hosts read (lines
    naming node, counter and both values); empty if it is the registers they read."""
    flow, end, snaps = seen["flow"], seen["end"]["counters"], seen["snaps"]
    reading = [s for c, s in snaps.items()
               if c > flow["load_cycles"] + flow["cycles"] + flow["read_cycles"]] + [end]
    out = []
    for node, read in flow["counters"].items():
        out += [f"{node} {k}: hosts {read[k]}, direct {end[node][k]}" for k in _CORE
                if read[k] != end[node][k]]
        flits = {k: v for k, v in read.items() if k.startswith("flits_")}
        if not any(all(s[node][k] == v for k, v in flits.items()) for s in reading):
            out.append(f"{node} flits: hosts {flits}, no cycle of the counter reads shows "
                       f"them")
    return out


def test_the_direct_read_is_the_registers_the_hosts_read(monkeypatch, tmp_path):
    _, seen = _watched_run(monkeypatch, "ring", tmp_path / "right")
    assert reader_problems(seen) == []
    assert any(c["sram_writes"] for c in seen["flow"]["counters"].values())


def test_a_direct_read_that_drops_a_nodes_sram_writes_fails(monkeypatch, tmp_path):
    _, seen = _watched_run(monkeypatch, "ring", tmp_path / "wrong",
                           mutant="first_node_writes_dropped")
    problems = reader_problems(seen)
    assert len(problems) == 1 and problems[0].startswith("0,0 sram_writes: hosts "), problems
    assert problems[0].endswith(", direct 0")


@pytest.mark.parametrize("name", ["ring", "2d", "broadcast", "summa"])
def test_a_preloaded_run_counts_the_host_loaded_runs_workload(name, monkeypatch, tmp_path):
    loaded, seen = _watched_run(monkeypatch, name, tmp_path / "loaded")
    pre, pre_seen = _watched_run(monkeypatch, name, tmp_path / "pre", preload_data=True)
    flow, snaps = seen["flow"], seen["snaps"]
    t0, cycles = flow["load_cycles"], flow["cycles"]
    assert pre_seen["flow"]["cycles"] == cycles and t0 > 0
    # the state after cycle t0 + cycles (snapshot t0 + cycles + 1) less that after t0 + 1
    after, before = snaps[t0 + cycles + 1], snaps[t0 + 2]
    window = {n: {k: after[n][k] - before[n][k] for k in after[n]} for n in after}
    direct = pre_seen["end"]["counters"]
    assert direct == window
    # one cycle less at either end is not the same (the statement is sharp)
    early = snaps[t0 + cycles]
    assert any(early[n][k] - before[n][k] != window[n][k] for n in window for k in window[n])
    # priced: the direct read's events, from reset to the preloaded run's end
    energy = pre["energy"]
    assert energy["read"] == "direct" and energy["cycles"] == pre_seen["flow"]["cycles"] + 1
    assert energy["counts"]["sram_writes"] == sum(c["sram_writes"] for c in direct.values())
    assert energy["counts"]["flits_out"]["local"] == sum(c["flits_local"]
                                                         for c in direct.values())
    assert energy["total_j"] > 0 and energy["watts"] > 0
    assert loaded["energy"]["read"] == "hosts"
    from sim.energy import energy_text
    assert "from reset to the last DONE (counters read directly" in energy_text(energy)
    assert "over the run's" in energy_text(loaded["energy"])
    if name == "summa":
        assert energy["tflops_per_w"] > 0 and pre["load_cycles"] is None


def test_a_preloaded_run_prices_the_die_link_layers_codewords(monkeypatch, tmp_path):
    """With the link layer at a bit-error rate that makes replays: the codewords the die
    links sent are the routers' die-link flits plus the replays (on a compute tile the
    layer counts every cycle), and they are priced in place of the die-link flits."""
    layer = ["dielink.link_layer=true", "dielink.ber=1e-3", "dielink.ber_reverse=1e-3"]
    pre, seen = _watched_run(monkeypatch, "ring", tmp_path / "pre", overrides=layer,
                             preload_data=True)
    stats = seen["end"]["dielink"]
    assert stats is not None
    counts, joules = pre["energy"]["counts"], pre["energy"]["joules"]
    assert counts["dielink_replayed"] == sum(stats["window_replayed"]) > 0
    assert counts["dielink_codewords"] == sum(stats["window_sent"]) == \
        counts["dielink_flits"] + counts["dielink_replayed"]
    assert counts["dielink_control_words"] == sum(stats["window_control"]) > 0
    assert joules["dielink_flits"] == 0 and joules["dielink_codewords"] > 0
    assert pre["energy"]["replay_j"] > 0
    # without the layer, no die-link counters: the routers' die-link flits are priced
    plain, plain_seen = _watched_run(monkeypatch, "ring", tmp_path / "plain",
                                     preload_data=True)
    assert plain_seen["end"]["dielink"] is None
    assert plain["energy"]["joules"]["dielink_flits"] > 0
    assert "dielink_codewords" not in plain["energy"]["counts"]
