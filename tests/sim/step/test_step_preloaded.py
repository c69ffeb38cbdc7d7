"""A preloaded training step (``run_step(..., preload=True)``, ``dojo run ... --engine model
--timing-only --preload``): the step's programs and operands written into the SRAM before
cycle 0 instead of sent by the hosts. Held to the host-loaded timing-only run on the model
(itself held to the RTL by test_step_on_the_model.py): the same step cycles, records moved
by the load's cycles, timeline, breakdown and per-node counters' figures; the SRAM the
preload writes is, line for line, what the hosts' WRITEs land (a load at a wrong address,
or a node's program left out, is caught). A preloaded record says so and gives the load as
not run. Default tile, the MLP preset: seconds."""

import json

import pytest

from gen.config import load_config
from sim.step.run import run_step
from sim.step.spec import load_workload
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"

# the node kernel's compile is shared with the node-model tests' xdist group
pytestmark = [one_worker("core")]

#: the figures of the phases a preloaded run does not run (and its energy: read directly,
#: over the step's phases only)
NOT_RUN = ("load_cycles", "read_cycles", "energy", "preloaded")


def _run(tmp_path, name, **kw):
    cfg = load_config(CONFIGS / "default.yaml")
    return run_step(cfg, load_workload(MLP), out_dir=tmp_path / name, engine="model",
                    timing_only=True, **kw)


def _without(record, keys):
    return {k: v for k, v in record.items() if k not in keys}


def _moved(records, by):
    """A watched run's records with every cycle moved by ``-by``."""
    out = {"t0": records["t0"] - by, "t_end": records["t_end"] - by,
           "nodes": records["nodes"], "link_flits": records["link_flits"]}
    out["records"] = [[[r[0] - by] + r[1:] for r in node] for node in records["records"]]
    return out


@pytest.mark.parametrize("watched", [True, False], ids=["watched", "unwatched"])
def test_a_preloaded_step_is_the_host_loaded_step(tmp_path, watched):
    trace = "icarus" if watched else None
    host = _run(tmp_path, "host", trace_sim=trace)
    pre = _run(tmp_path, "pre", trace_sim=trace, preload=True)
    assert pre["step_cycles"] == host["step_cycles"] > 0
    assert _without(pre, NOT_RUN) == _without(host, NOT_RUN)   # per node, links, MACs
    # the load's cost is not dropped silently: the record says it was not run
    assert pre["preloaded"] is True and "preloaded" not in host
    assert pre["load_cycles"] is None and pre["read_cycles"] is None
    assert host["load_cycles"] > 0
    assert pre["energy"]["read"] == "direct"
    if watched:
        hr = json.loads((tmp_path / "host" / "records.json").read_text())
        pr = json.loads((tmp_path / "pre" / "records.json").read_text())
        assert pr["t0"] < hr["t0"]                      # the load's cycles are not run
        assert _moved(hr, hr["t0"] - pr["t0"]) == pr
        for name in ("timeline.json", "trace.json", "astra.txt"):
            assert (tmp_path / "pre" / name).read_text() == \
                (tmp_path / "host" / name).read_text(), name


def test_counters_read_at_the_last_done_miss_its_flits(tmp_path, monkeypatch):
    """The mutant: the preloaded run's counters read at the last DONE (no
    ``COUNTER_LAG`` cycles after it): the unwatched step's link flits (counters of the run
    minus those of the idle run) then differ from the host-loaded run's."""
    import sim.step.records as records
    host = _run(tmp_path, "host", trace_sim=None)
    monkeypatch.setattr(records, "COUNTER_LAG", 0)
    pre = _run(tmp_path, "pre", trace_sim=None, preload=True)
    assert pre["step_cycles"] == host["step_cycles"]
    assert pre["per_node"] != host["per_node"]


def _sram(tile):
    """Every line of every node's SRAM: ``{node: [line, ...]}``."""
    cores = tile.nodes_kernel.cores
    return {n: [cores.sram.line(tile.net.node(*n), a) for a in range(tile.model.lines)]
            for n in tile.nodes}


def _loads():
    """The MLP step's ``programs`` scenario on the default tile (timing only), its design."""
    from gen.build import compute_tile
    from gen.derive import derive
    from sim.step.compiler import compile_step
    from sim.workloads.runners import program_scenario
    from verif.node_model import NodeModel
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    step = load_workload(MLP).for_config(cfg)
    compiled = compile_step(cfg, d, step, NodeModel.from_config(cfg, d), golden=False)
    design = compute_tile(cfg, engine="model", derived=d)
    mdl = NodeModel.from_manifest(design.manifest())
    scenario = program_scenario(mdl, compiled.with_halts(mdl), compiled.data, [],
                                program_lines=compiled.program_lines)
    blocks = sum(1 if isinstance(b, tuple) else len(b) for b in compiled.data.values())
    return cfg, d, design, scenario, blocks


def _first_difference(a, b):
    for n in a:
        for addr, (x, y) in enumerate(zip(a[n], b[n])):
            if x != y:
                return n, addr
    return None


def test_the_preload_writes_what_the_hosts_load_and_a_wrong_one_is_caught():
    """After the hosts' load (the WRITEs of every data block and program) the SRAM equals
    the preloaded one, line for line; an operand block one line off, or one node's
    program left out, is named by the comparison."""
    from sim.netmodel.host import preload, tile_model
    from verif.host_programs import load_programs
    cfg, d, design, scenario, blocks = _loads()

    def preloaded(loads):
        tile = tile_model(design, cfg, d, timing_only=True)
        preload(tile, loads)
        return _sram(tile)

    tile = tile_model(design, cfg, d, timing_only=True)
    tile.run(load_programs(tile, scenario), cycles=200_000)
    loaded = _sram(tile)
    assert any(any(lines) for lines in loaded.values())
    assert _first_difference(loaded, preloaded(scenario["loads"])) is None
    loads = scenario["loads"]                   # the data blocks, then the programs
    shifted = [list(ld) for ld in loads]
    shifted[0][1] += 1                          # an operand block one line up
    assert _first_difference(loaded, preloaded(shifted)) is not None
    first = next(i for i in range(blocks, len(loads)) if tuple(loads[i][0]) == (0, 0))
    dropped = loads[:first] + loads[first + 1:]           # node (0, 0)'s queue 0 program
    assert _first_difference(loaded, preloaded(dropped))[0] == (0, 0)


def test_preload_is_refused_without_the_model_timing_only_in_one_line(tmp_path, capsys):
    from dojo.cli import main
    cfg, wl = str(CONFIGS / "default.yaml"), str(MLP)
    for extra in ([], ["--engine", "model"]):
        assert main(["run", cfg, wl, "--preload", "--out", str(tmp_path / "r")] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err == ("error: --preload: not allowed without --engine model --timing-only; "
                       "allowed: with --engine model --timing-only (the hosts load the full "
                       "model and the RTL)")
    for extra in (["--engine", "rtl"], ["--engine", "model"]):
        assert main(["study", "scaleout", cfg, wl, "--preload", "--dies", "1x1", "--out",
                     str(tmp_path / "s")] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: --preload: not allowed without --engine model "
                              "--timing-only") and "\n" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="^preload: only a timing-only run"):
        run_step(load_config(CONFIGS / "default.yaml"), load_workload(MLP),
                 out_dir=tmp_path / "x", engine="model", preload=True)


def test_the_run_command_preloads_and_says_so(tmp_path, capsys):
    from dojo.cli import main
    assert main(["run", str(CONFIGS / "default.yaml"), str(MLP), "--engine", "model",
                 "--timing-only", "--preload", "--no-timeline", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "preloaded: programs and operands written into the SRAM" in out
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["preloaded"] is True and record["load_cycles"] is None


def test_an_unwatched_step_counts_the_engine_busy_from_its_mac_steps(tmp_path):
    """Unwatched (no records), a node's compute is its MAC steps: the generated node has one
    P x P array whatever ``node.matrix_units`` (a peak figure of the derivation), and the
    watched run's engine-busy cycles are those steps plus each EXEC's fill and write-back
    (380 against 160 on the MLP's small GEMMs, 98658 against 98304 on a D1 die's step).
    Divided by the units (as it was), a D1 node's bar read a quarter of its MAC steps."""
    cfg = load_config(CONFIGS / "default.yaml", ["node.matrix_units=4"])
    step = load_workload(MLP)
    runs = {watched: run_step(cfg, step, out_dir=tmp_path / str(watched), engine="model",
                              timing_only=True, preload=True,
                              **({} if watched else {"trace_sim": None}))
            for watched in (True, False)}
    for seen, blind in zip(runs[True]["per_node"], runs[False]["per_node"]):
        assert blind["mac_steps"] == seen["mac_steps"]
        assert blind["compute_cycles"] == blind["mac_steps"], blind["node"]
        assert blind["mac_steps"] <= seen["compute_cycles"], blind["node"]
