"""The workload registry (sim/workloads): every entry declares what it supports and checks
before anything runs; what it does not support is refused in one line naming the option
or key, the value and what is allowed. Nothing here simulates."""

import numpy as np
import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.workloads import FAULTS, WORKLOADS, Options, Plan, fault_problem, select
from sim.workloads.collectives import CollectiveResult
from sim.workloads.gemm import HostGemmResult
from tests.conftest import CONFIGS

CFG = CONFIGS / "default.yaml"

#: what each workload supports, as the user guide states it: (engines, fault maps, grids).
#: An entry whose declarations drift from this (and so stops refusing what it cannot run)
#: fails here before it fails on the RTL.
SUPPORT = {
    "traffic": (("rtl", "model"), "any", "any"),
    "gemm": (("rtl", "model"), "disabled_nodes", "any"),
    "cannon": (("rtl", "model"), "none", "square"),
    "summa": (("rtl", "model"), "none", "any"),
    "allreduce-host": (("rtl", "model"), "none", "any"),
    "allreduce-ring": (("rtl", "model"), "disabled_nodes", "any"),
    "allreduce-2d": (("rtl", "model"), "none", "any"),
    "broadcast": (("rtl", "model"), "disabled_nodes", "any"),
}
ENTRIES = list(WORKLOADS)


def _cfg(*overrides):
    cfg = load_config(CFG, list(overrides))
    return cfg, derive(cfg)


def _refused(name, cfg, derived, options):
    with pytest.raises(ConfigError) as exc:
        WORKLOADS[name].check(cfg, derived, options)
    problems = exc.value.problems
    assert len(problems) == 1 and "\n" not in problems[0], problems
    return problems[0]


def test_every_workload_is_registered_and_declares_what_it_supports():
    assert set(WORKLOADS) == set(SUPPORT)
    for name, w in WORKLOADS.items():
        assert (w.engines, w.faults, w.grid) == SUPPORT[name], name
        assert w.name == name and w.faults in FAULTS and w.files
        assert w.label and w.title and w.folder and w.bench
        assert w.dtypes is None or set(w.dtypes) <= {"int8", "bf16"}
    folders = [w.folder for w in WORKLOADS.values()]
    assert len(set(folders)) == len(folders), "two workloads would write one folder"


@pytest.mark.parametrize("name", ENTRIES)
def test_every_workload_checks_its_defaults_into_a_plan(name):
    cfg, d = _cfg()
    plan = WORKLOADS[name].check(cfg, d, Options())
    assert isinstance(plan, Plan) and plan.workload is WORKLOADS[name] and plan.derived is d


@pytest.mark.parametrize("name", ENTRIES)
def test_every_workload_takes_the_model_on_the_default_tile(name):
    cfg, d = _cfg()
    WORKLOADS[name].check(cfg, d, Options(engine="model"))
    WORKLOADS[name].check(cfg, d, Options(engine="model", timing_only=True))


@pytest.mark.parametrize("name", ENTRIES)
def test_flits_wider_than_64_bits_run_on_the_model_timing_only(name):
    """The timing-only model carries a wide flit's control slice (its cycles held to the
    RTL by ``tests/sim/netmodel/test_node_tile_wide.py``); with data values it refuses.
    (The SRAM doubled keeps the default tile's 512 lines, which the default shapes need.)"""
    cfg, d = _cfg("router.flit_bits=128", "node.sram_kb=8")
    WORKLOADS[name].check(cfg, d, Options(engine="model", timing_only=True))
    if name != "traffic":
        assert _refused(name, cfg, d, Options(engine="model")).endswith(
            "allowed: at most 64, or --timing-only, or --engine rtl")


@pytest.mark.parametrize("name", ENTRIES)
@pytest.mark.parametrize("overrides, line", [
    (("router.flit_bits=128",), "router.flit_bits: 128 is not modelled by --engine model on "
                                "training nodes with data values (its hosts and data-carrying "
                                "cores hold flits of at most 64 bits); allowed: at most 64, or "
                                "--timing-only, or --engine rtl"),
    # disabled nodes: modelled (the workloads that skip them run), refused as on the RTL
    (("die.disabled_nodes=[[1, 0]]",), None),
    (("node.pitch_mm=2.0", "router.buffer_depth=5"),
     "node.pitch_mm: 2.0 gives 1 link pipeline stage(s), not modelled by --engine model at "
     "the tile edge's hosts; allowed: a pitch within one cycle's reach (0 stages), or "
     "--engine rtl"),
], ids=["wide-flits", "disabled-nodes", "pipeline-stages"])
def test_what_the_model_cannot_run_is_refused_before_any_work(name, overrides, line):
    """The training nodes' model refuses what it does not model yet in one line naming the
    key (never the RTL in its place); the traffic sweep's network model runs them all; a
    fault map an entry refuses on the RTL too is refused as on the RTL."""
    cfg, d = _cfg(*overrides)
    options = Options(engine="model")
    if name == "traffic":
        WORKLOADS[name].check(cfg, d, options)
    elif line is None and SUPPORT[name][1] == "none":
        assert _refused(name, cfg, d, options).startswith("die.disabled_nodes: ")
    elif line is None:
        WORKLOADS[name].check(cfg, d, options)
    else:
        assert _refused(name, cfg, d, options) == line


@pytest.mark.parametrize("name", ENTRIES)
def test_disabled_nodes_are_refused_by_the_workloads_that_address_every_node(name):
    cfg, d = _cfg("die.disabled_nodes=[[1, 0]]")
    if SUPPORT[name][1] != "none":
        WORKLOADS[name].check(cfg, d, Options())
        return
    line = _refused(name, cfg, d, Options())
    assert line.startswith(f"die.disabled_nodes: {WORKLOADS[name].selector} cannot run with 4 "
                           f"disabled nodes: it addresses every node")
    assert line.endswith("allowed: --bench traffic, or with disabled nodes only --bench gemm "
                         "--algo host, --bench allreduce --algo ring, --bench broadcast, or "
                         "-s 'die.disabled_nodes=[]' for the full array")


@pytest.mark.parametrize("name", ENTRIES)
def test_dead_routers_are_refused_by_every_training_node_workload(name):
    cfg, d = _cfg("die.dead_routers=[[1, 1]]", "router.routing=table")
    if SUPPORT[name][1] == "any":
        WORKLOADS[name].check(cfg, d, Options())
        return
    assert _refused(name, cfg, d, Options()).startswith(
        "die.dead_routers: not allowed with training nodes")


@pytest.mark.parametrize("name", ENTRIES)
def test_a_grid_not_declared_is_refused(name):
    cfg, d = _cfg("tile.dies_y=1")             # 4x2 nodes
    if SUPPORT[name][2] == "any":
        WORKLOADS[name].check(cfg, d, Options())
        return
    assert _refused(name, cfg, d, Options()) == (
        f"{WORKLOADS[name].label}: the tile's grid of nodes is 4x2 (tile.dies_x/y x "
        f"die.nodes_x/y); allowed: a square grid")


@pytest.mark.parametrize("name", ENTRIES)
def test_a_dtype_or_given_matrices_not_declared_are_refused(name, tmp_path):
    cfg, d = _cfg()
    w = WORKLOADS[name]
    if w.dtypes is not None:
        assert _refused(name, cfg, d, Options(dtype="fp8")) == (
            f"--dtype fp8: not allowed with --bench {w.selector}; allowed: int8, bf16")
    a = tmp_path / "a.npy"
    np.save(a, np.zeros((64, 32), np.int8))
    if w.matrices:
        assert WORKLOADS[name].check(cfg, d, Options(a=str(a), dtype="int8")).params.m == 64
    else:
        assert _refused(name, cfg, d, Options(a=str(a))).startswith("--a/--b: only the "
                                                                     "host-driven GEMM")


@pytest.mark.parametrize("name, options, line", [
    ("gemm", Options(k=3), "gemm: k=3: must be a positive multiple of node.matrix_p=4"),
    ("cannon", Options(k=24), "gemm --algo cannon: k=24: must be a positive multiple of 16"),
    ("summa", Options(k=24), "gemm --algo summa: k=24: must be a positive multiple of 16"),
    ("allreduce-host", Options(lines=17), "allreduce --algo host: lines=17: must be a "
                                          "multiple of the 16 nodes"),
    ("allreduce-2d", Options(lines=1021), "allreduce --algo 2d: lines=1021: 256 lines per "
                                          "chunk over the 4 nodes of a row, at most 255 (one "
                                          "PUSH); allowed: at most 1020"),
    ("allreduce-ring", Options(lines=-3), "allreduce --algo ring: lines=-3: not allowed (a "
                                          "whole number of lines, at least 1)"),
    ("broadcast", Options(lines=300), "broadcast: lines=300: a broadcast PUSH carries at "
                                      "most 255 lines"),
])
def test_an_entrys_own_checks_name_it_and_the_value(name, options, line):
    cfg, d = _cfg()
    assert _refused(name, cfg, d, options).startswith(line)


def test_select_follows_bench_and_algo_and_the_grid():
    _, square = _cfg()
    _, wide = _cfg("tile.dies_y=1")
    names = [w.name for w in select("all", None, square)]
    assert names == ["traffic", "gemm", "cannon", "allreduce-host", "allreduce-ring",
                     "allreduce-2d", "broadcast"]
    assert [w.name for w in select("gemm", None, wide)] == ["gemm", "summa"]
    assert [w.name for w in select("gemm", "summa", square)] == ["summa"]
    assert [w.name for w in select("broadcast", None, square)] == ["broadcast"]
    with pytest.raises(ConfigError, match=r"^--algo ring: not allowed with --bench gemm "
                                          r"\(--bench gemm: host, cannon, summa; --bench "
                                          r"allreduce: host, ring, 2d\)$"):
        select("gemm", "ring", square)
    with pytest.raises(ConfigError, match=r"^--bench fft: not allowed; allowed: all, traffic, "
                                          r"gemm, allreduce, broadcast$"):
        select("fft", None, square)


def test_the_fault_decision_is_made_for_every_workload_at_once():
    cfg, d = _cfg("die.disabled_nodes=[[1, 0]]")
    assert fault_problem(cfg, d, [WORKLOADS["traffic"], WORKLOADS["broadcast"]]) is None
    line = fault_problem(cfg, d, select("all", None, d))
    assert line.startswith("die.disabled_nodes: gemm --algo cannon, allreduce --algo host, "
                           "allreduce --algo 2d cannot run with 4 disabled nodes: they address "
                           "every node (the host-driven GEMM, the node-driven ring all-reduce "
                           "and the broadcast skip disabled nodes)")


@pytest.mark.parametrize("argv, line", [
    (["--bench", "gemm", "--algo", "fft"], "error: --algo fft: not allowed with --bench gemm"),
    (["--bench", "fft"], "error: --bench fft: not allowed; allowed: all, traffic, gemm"),
    (["--bench", "broadcast", "--algo", "ring"], "error: --algo ring: not allowed with "
                                                 "--bench broadcast"),
    (["--bench", "gemm", "--timing-only"], "error: --timing-only: not allowed with --engine "
                                           "rtl; allowed: with --engine model"),
    (["--bench", "gemm", "--engine", "model", "--timing-only", "--c-out", "c.npy"],
     "error: --c-out c.npy: not allowed with --timing-only (no C is computed)"),
    (["--engine", "model", "-s", "router.flit_bits=128"], "error: router.flit_bits: 128 is "
                                                          "not modelled by --engine model"),
])
def test_dojo_sim_refuses_an_unknown_workload_in_one_line(argv, line, tmp_path, capsys):
    from dojo.cli import main
    assert main(["sim", str(CFG), *argv, "--out", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith(line) and len(out.err.splitlines()) == 1


def test_results_give_their_summary_json_and_result_json():
    record = {"algo": "ring", "nodes": 16, "lines": 32, "dtype": "fp32", "match": True,
              "engine": "rtl",
              "cycles": 627, "model": {"cycles": 612}, "measured_over_model": 627 / 612,
              "program_descriptors": 12}
    r = CollectiveResult.of(record, algo="ring", title="all-reduce, node-driven ring",
                            model=record["model"], measured_over_model=627 / 612)
    assert r.to_json() is record and r.ok
    assert list(r.brief()) == ["algo", "nodes", "lines", "dtype", "match", "engine", "cycles",
                               "model_cycles", "measured_over_model"]
    assert r.brief()["model_cycles"] == 612
    assert r.summary() == ("  all-reduce, node-driven ring     32 lines fp32, 16 nodes: 627 "
                           "cycles (alpha-beta model 612, measured/model 1.02), exact vs "
                           "golden")
    gemm = {"m": 64, "n": 64, "k": 32, "dtype": "bf16", "nodes": 16, "match": False,
            "engine": "rtl",
            "total_cycles": 2544, "peak_fraction": 0.2, "compute_peak_fraction": 0.5,
            "load_and_compute_cycles": 2000, "gather_cycles": 544, "block": [16, 16, 32]}
    g = HostGemmResult.of(gemm)
    assert not g.ok and "MISMATCH vs golden on 16 nodes, 2544 cycles" in g.summary()
    # a timing-only run computed no C: not a mismatch, and never printed as compared
    t = HostGemmResult.of({**gemm, "match": None, "engine": "model"})
    assert t.ok and "no data (timing only: values not computed, not compared) on 16 nodes, " \
        "2544 cycles" in t.summary() and "golden" not in t.summary()
