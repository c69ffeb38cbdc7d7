"""The workloads on the fast engine (``--engine model``): the RTL's results, and the same
cycles without data values (``--timing-only``).

* The host-driven GEMM and the host-driven all-reduce (the flows of
  :mod:`verif.host_programs` that only the hosts drive) run on the default tile on both
  engines with the arguments of ``test_tile_cocotb``'s default-tile test (its Verilator
  build): every field of ``result.json`` but those naming the engine (cycles per phase,
  the engines' cycles and steps, the event counters and energy, polls, C bit for bit) is
  equal. A deliberately wrong model (output arbiters stuck) fails that comparison, naming
  the first differing field. The node-program workloads' runner is
  held to the RTL link by link in ``tests/sim/netmodel/test_node_tile.py``.
* Every node-program workload (Cannon, SUMMA, the ring and 2D all-reduces, the broadcast)
  runs on the model against its golden model (C and vectors bit for bit, every queue
  halted with code 0).
* Timing only: the same record as the full model's but the data figures, which are left
  out (``match`` None, no ``C.npy``), on a collective and a GEMM.
"""

import json

import numpy as np
import pytest

from gen.config import load_config
from gen.derive import derive
from sim.allreduce import run_allreduce
from sim.cannon import run_cannon
from sim.collectives import run_collective
from sim.gemm import run_tile_gemm, tile_gemm_shape
from sim.runner import available_simulators
from sim.summa import run_summa
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker

# every test runs the node kernel (slow: its compile, then Python-stepped hosts), whose
# compile is shared with the node-model tests' xdist group (numba's cache is not safe
# against two processes compiling it at once); the RTL build is the default tile's, which
# the build lock shares with test_tile_cocotb's default-tile tests
# the host-driven GEMM's and all-reduce's RTL runs are test_tile_cocotb.py's default-tile
# test's: one run each per pytest run (tests/shared_runs.py)
pytestmark = [pytest.mark.slow, one_worker("core"), pytest.mark.usefixtures("shared_rtl_runs")]

#: the fields that say which engine ran a workload, not what it measured
ENGINE_FIELDS = ("engine", "sim", "timing_only")


def _cfg():
    cfg = load_config(CONFIGS / "default.yaml", [])
    return cfg, derive(cfg)


def first_difference(rtl, model):
    """The first field of two ``result.json`` records (but :data:`ENGINE_FIELDS`) that
    differs, as one line naming it and both values; None if they are equal."""
    for key in sorted(set(rtl) | set(model)):
        if key in ENGINE_FIELDS:
            continue
        a, b = rtl.get(key, "absent"), model.get(key, "absent")
        if a != b:
            return f"result.json {key}: RTL {a}, model {b}"
    return None


def _host_gemm(tmp_path, engine, **kw):
    cfg, d = _cfg()
    m, n, k = tile_gemm_shape(cfg, d)
    out = tmp_path / f"gemm-{engine}"
    res = run_tile_gemm(cfg, m=m, n=n, k=k, dtype="bf16", sim="verilator", out_dir=out,
                        derived=d, engine=engine, **kw)
    return json.loads((out / "result.json").read_text()), res


def _host_allreduce(tmp_path, engine, **kw):
    cfg, d = _cfg()
    out = tmp_path / f"allreduce-{engine}"
    run_allreduce(cfg, dtype="fp32", sim="verilator", out_dir=out, derived=d, engine=engine,
                  **kw)
    return json.loads((out / "result.json").read_text()), None


HOST_DRIVEN = {"gemm": _host_gemm, "allreduce": _host_allreduce}
_RTL = {}


def _rtl(name, tmp_path):
    """The RTL's record of a host-driven workload (once per worker: the wrong model
    compares with it)."""
    if name not in _RTL:
        _RTL[name] = HOST_DRIVEN[name](tmp_path, "rtl")
    return _RTL[name]


@pytest.mark.skipif("verilator" not in available_simulators(), reason="needs Verilator")
@pytest.mark.parametrize("name", list(HOST_DRIVEN))
def test_a_host_driven_workload_on_the_model_gives_the_rtls_result(name, tmp_path):
    rtl, rtl_res = _rtl(name, tmp_path)
    model, model_res = HOST_DRIVEN[name](tmp_path, "model")
    assert rtl["match"] and not rtl["problems"], (rtl.get("wrong_nodes"), rtl["problems"])
    assert first_difference(rtl, model) is None, first_difference(rtl, model)
    assert model["engine"] == "model" and model["sim"] is None and not model["timing_only"]
    assert rtl["engine"] == "rtl" and rtl["sim"] == "verilator"
    if rtl_res is not None:                                 # C, bit for bit
        assert np.array_equal(rtl_res["c"].view(np.uint32), model_res["c"].view(np.uint32))


@pytest.mark.skipif("verilator" not in available_simulators(), reason="needs Verilator")
def test_a_wrong_model_fails_the_result_comparison(tmp_path, monkeypatch):
    """Routers whose output arbiters never move their round-robin pointer (the network
    model's mutant): the hosts' polls and PUSHes meet at different cycles, and the
    comparison names the first differing field (``cycles``). (A die link's credit a cycle
    early and several other mutants the link trace catches change nothing in this
    result: the host-driven ring never runs a die link out of credits.)"""
    import sim.netmodel.host as host
    right = host.tile_model
    monkeypatch.setattr(host, "tile_model", lambda *a, **kw: right(
        *a, net_mutant="output_pointer_stuck", **kw))
    monkeypatch.setattr(host, "RUN_CYCLES", 200_000)      # a wrong model may deadlock
    rtl, _ = _rtl("allreduce", tmp_path)
    model, _ = _host_allreduce(tmp_path, "model")
    line = first_difference(rtl, model)
    assert line is not None and line.startswith(f"result.json cycles: RTL {rtl['cycles']}, "), line


#: every node-program workload on the default tile (small shapes: the golden check is
#: the point, the default shapes run in ``dojo sim --engine model``)
NODE_PROGRAMS = {
    "cannon": lambda cfg, d, out, **kw: run_cannon(cfg, m=32, n=32, k=32, dtype="bf16",
                                                   out_dir=out, derived=d, **kw),
    "summa": lambda cfg, d, out, **kw: run_summa(cfg, m=32, n=32, k=64, dtype="int8",
                                                 out_dir=out, derived=d, **kw),
    "ring": lambda cfg, d, out, **kw: run_collective(cfg, "ring", dtype="fp32", out_dir=out,
                                                     derived=d, alpha=14.0, **kw),
    "2d": lambda cfg, d, out, **kw: run_collective(cfg, "2d", dtype="int32", out_dir=out,
                                                   derived=d, alpha=14.0, **kw),
    "broadcast": lambda cfg, d, out, **kw: run_collective(cfg, "broadcast", dtype="int32",
                                                          out_dir=out, derived=d, **kw),
}


@pytest.mark.parametrize("name", list(NODE_PROGRAMS))
def test_a_node_program_workload_on_the_model_is_bit_exact(name, tmp_path):
    cfg, d = _cfg()
    res = NODE_PROGRAMS[name](cfg, d, tmp_path, engine="model")
    assert res["match"] and not res["problems"], (res["wrong_nodes"], res["bad_halts"],
                                                  res["problems"])
    assert res["engine"] == "model" and res["sim"] is None and res["cycles" if "cycles" in res
                                                                    else "compute_cycles"] > 0


@pytest.mark.parametrize("name", ["2d", "summa"])
def test_timing_only_gives_the_full_models_cycles_and_no_data(name, tmp_path):
    """A collective and a GEMM: the timing-only record is the full model's but the data
    figures, which it leaves out rather than report values it did not compute."""
    cfg, d = _cfg()
    full = NODE_PROGRAMS[name](cfg, d, tmp_path / "full", engine="model")
    timing = NODE_PROGRAMS[name](cfg, d, tmp_path / "timing", engine="model", timing_only=True)
    assert full["match"] and timing["match"] is None and timing["timing_only"]
    data = {"wrong_nodes", "skipped_nodes_written"}
    assert set(full) - set(timing) == data & set(full)
    assert first_difference({k: v for k, v in full.items() if k not in data | {"match"}},
                            {k: v for k, v in timing.items() if k != "match"}) is None
    assert (tmp_path / "full" / "C.npy").exists() == (name == "summa")
    assert not (tmp_path / "timing" / "C.npy").exists()


def test_dojo_sim_on_the_model_says_so_in_every_record(tmp_path, capsys):
    """``dojo sim --engine model --timing-only``: each ``result.json`` and the summary name
    the engine; no data figure is printed as if measured."""
    from dojo.cli import main
    assert main(["sim", str(CONFIGS / "default.yaml"), "--bench", "broadcast", "--engine",
                 "model", "--timing-only", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "broadcast" / "result.json").read_text())
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (record["engine"], record["sim"], record["timing_only"]) == ("model", None, True)
    assert record["match"] is None and "wrong_nodes" not in record and record["cycles"] > 0
    assert summary["engine"] == "model" and summary["simulator"] is None
    assert summary["collectives"][0]["engine"] == "model"
    assert "golden" not in out and "(fast model, timing only)" in out


#: the node-program workloads ``--preload`` serves
PRELOADED = ("ring", "2d", "broadcast", "summa")


@pytest.mark.parametrize("name", PRELOADED)
def test_a_preloaded_timing_only_run_gives_the_host_loaded_runs_cycles(name, tmp_path):
    """``--preload``: data and programs written into the SRAM, nothing read back. The
    workload's cycles (the first start write to the last DONE) and its halts are the
    host-loaded timing-only run's; the load's and read-back's figures are None, not
    figures of phases that did not run; its energy is the model's direct read's
    (``tests/sim/test_energy_preloaded.py``)."""
    cfg, d = _cfg()
    loaded = NODE_PROGRAMS[name](cfg, d, tmp_path / "loaded", engine="model", timing_only=True)
    pre = NODE_PROGRAMS[name](cfg, d, tmp_path / "pre", engine="model", timing_only=True,
                              preload_data=True)
    cycles = "compute_cycles" if name == "summa" else "cycles"
    assert pre[cycles] == loaded[cycles] > 0 and pre["preloaded"]
    assert pre["bad_halts"] == loaded["bad_halts"] == [] and not pre["problems"]
    assert pre["energy"]["read"] == "direct" and "preloaded" not in loaded
    if name == "summa":
        assert pre["load_cycles"] is None and loaded["load_cycles"] > 0


def test_preload_is_refused_where_the_hosts_drive_the_work(tmp_path, capsys):
    from dojo.cli import main
    for argv, line in ((["--bench", "allreduce", "--algo", "host"], "--preload: not allowed "
                        "with --bench allreduce --algo host (its hosts drive the work)"),
                       (["--bench", "broadcast"], "--preload: not allowed without --engine "
                        "model --timing-only")):
        extra = ["--engine", "model", "--timing-only"] if "host" in argv else []
        assert main(["sim", str(CONFIGS / "default.yaml"), *argv, *extra, "--preload",
                     "--out", str(tmp_path)]) == 2
        out = capsys.readouterr()
        assert out.err.startswith("error: " + line) and len(out.err.splitlines()) == 1
