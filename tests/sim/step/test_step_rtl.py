"""The training step compiled to node programs and run on the RTL of the default tile:
every GEMM's C and every all-reduced dW bit for bit equal to the golden model, the
report's figures consistent with the run's own counters, and its timeline (trace-event
JSON) read back against the run's cycle records."""

import json
import shutil

import pytest

from gen.config import load_config
from gen.derive import derive
from sim.step.compiler import compile_step
from sim.step.run import astra_lines, run_step
from sim.step.spec import load_workload, workload_from_dict
from sim.step.timeline import busy_spans, queue_spans
from tests.conftest import CONFIGS
from verif.node_model import NodeModel

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"
ICARUS = shutil.which("iverilog") is not None

# the MLP's and pad3's Verilator runs are also test_step_on_the_model.py's RTL records: one
# run each per pytest run (tests/shared_runs.py)
pytestmark = pytest.mark.usefixtures("shared_rtl_runs")


def _check_report(r, tmp_path):
    assert r["match"], (r["wrong_results"], r["bad_halts"], r["problems"])
    idle = [n for n in r["per_node"] if n.get("idle")]
    assert [n["node"] for n in idle] == r["idle_nodes"]
    # an idle node computes nothing (its router still forwards others' flits)
    assert all(n["mac_steps"] == 0 and n["compute_cycles"] == 0 for n in idle)
    # the engines did exactly the MACs the compiler planned, no more (the hosts run none)
    assert r["mac_steps"] == r["mac_steps_expected"]
    for n in r["per_node"]:
        assert n["exposed_cycles"] == r["step_cycles"] - n["compute_cycles"] >= 0
    assert sum(n["flits_sent"] for n in r["per_node"]) > 0      # the all-reduces moved data
    assert r["peak_fraction"] == pytest.approx(r["mac_steps"] / (16 * r["step_cycles"]))
    working = 16 - len(idle)
    assert json.loads((tmp_path / "result.json").read_text())["step_cycles"] == r["step_cycles"]
    lines = (tmp_path / "astra.txt").read_text().splitlines()
    assert lines == astra_lines(r) and len(lines) == working
    assert lines[0] == (f"sys[0] finished, {r['step_cycles']} cycles, exposed communication "
                        f"{r['per_node'][0]['exposed_cycles']} cycles")


def _mlp_int8():
    raw = dict(load_workload(MLP).raw)
    return {**raw, "name": "mlp-int8", "dtype": "int8"}


@pytest.mark.slow
@pytest.mark.parametrize("workload", [
    _mlp_int8(),                                                  # int8: int32 gradients, 2d
    {"name": "ring2", "parallel": {"data": 2, "grid": [4, 2]}, "allreduce": {"algo": "ring"},
     "layers": [{"name": "a", "tokens": 16, "in": 16, "out": 16}]},     # SUMMA + ring of 2
    # a grid the 4x4 mesh does not divide: 3 replicas of 3x1 nodes (SUMMA of 3 steps), the
    # last column and row idle, a ring of 3 whose 24-line dW is cut in chunks of 8
    # 4 replicas of 2x2 nodes, two layers: readiness tokens and a ring of 4 on semaphore 7
    {"name": "ring4", "parallel": {"data": 4, "grid": [2, 2]},
     "layers": [{"name": "a", "tokens": 8, "in": 8, "out": 8},
                {"name": "b", "tokens": 8, "in": 8, "out": 8}]},
    {"name": "ring3", "parallel": {"data": 3, "grid": [3, 1]},
     "layers": [{"name": "a", "tokens": 12, "in": 12, "out": 12}]},
], ids=["mlp-int8", "ring2", "ring4", "ring3"])
def test_step_on_the_rtl_is_bit_exact(tmp_path, workload):
    cfg = load_config(CONFIGS / "default.yaml")
    r = run_step(cfg, workload_from_dict(workload), out_dir=tmp_path, trace_sim=None)
    _check_report(r, tmp_path)
    assert r["timeline"] is None and not (tmp_path / "trace.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not ICARUS, reason="the timeline's watched run needs Icarus Verilog")
def test_step_timeline_reads_back_against_the_cycle_records(tmp_path):
    """The MLP preset (16 replicas, 2d all-reduce) under Verilator, watched under Icarus:
    same cycles and results under both, and every span of trace.json recomputed from the
    records the Icarus run wrote."""
    cfg = load_config(CONFIGS / "default.yaml")
    step = load_workload(MLP)
    r = run_step(cfg, step, out_dir=tmp_path)
    _check_report(r, tmp_path)                 # includes: both simulators agree (problems)
    rec = json.loads((tmp_path / "records.json").read_text())
    trace = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    d = derive(cfg)
    mdl = NodeModel.from_config(cfg, d)
    compiled = compile_step(cfg, d, step, mdl, data=False)
    pcs, progs = compiled.start_pcs(mdl), compiled.with_halts(mdl)
    t0, t_end = rec["t0"], rec["t_end"]
    assert t_end - t0 == r["step_cycles"]
    for node, recs in zip(rec["nodes"], rec["records"]):
        node = tuple(node)
        i = node[1] * 4 + node[0]                # sys[i]: row-major, as the ASTRA lines
        assert r["per_node"][i]["node"] == list(node)
        mine = [e for e in trace if e["ph"] == "X" and e["pid"] == i]
        for q in (0, 1):
            spans = queue_spans(mdl, recs, t0, t_end, q, pcs[node][q], progs[node][q])
            got = [(e["name"], e["args"]["cycle_start"], e["args"]["cycle_end"])
                   for e in mine if e["tid"] == q]
            assert got == [(s["name"], s["start"], s["end"]) for s in spans]
            # the queue runs its whole program, HALT last, inside the step
            assert got[-1][0] == "HALT" and got[-1][2] <= r["step_cycles"]
        engine = [(e["args"]["cycle_start"], e["args"]["cycle_end"])
                  for e in mine if e["tid"] == 2]
        assert engine == busy_spans(recs, t0, t_end, 0)
        assert sum(b - a for a, b in engine) == r["per_node"][i]["compute_cycles"]
        # every engine busy span lies inside an EXEC of the compute queue
        execs = [(e["args"]["cycle_start"], e["args"]["cycle_end"])
                 for e in mine if e["tid"] == 1 and e["name"] == "EXEC"]
        assert len(execs) == 5
        assert all(any(a >= s and b <= t for s, t in execs) for a, b in engine)
        # the engine is busy at least one cycle per MAC step
        assert r["per_node"][i]["compute_cycles"] >= r["per_node"][i]["mac_steps"]


@pytest.mark.slow
def test_replicas_go_around_a_disabled_node_on_the_rtl(tmp_path, capsys):
    """A disabled node at (3, 3) (compute fused off, its router forwarding): the block
    holding it is skipped, 3 replicas of 2x2 nodes run bit-exact around it (a ring of 3,
    the 8-line dW in chunks of 3, 3 and 2 lines), the disabled node has no line in the
    report. Through
    ``dojo run``: the registry entry takes disabled nodes."""
    from dojo.cli import main
    wl = tmp_path / "pad3.yaml"
    wl.write_text("name: pad3\nparallel: {data: 3, grid: [2, 2]}\n"
                  "layers:\n  - {name: a, tokens: 8, in: 8, out: 8}\n")
    out = tmp_path / "run"
    assert main(["run", str(CONFIGS / "default.yaml"), str(wl), "--no-timeline",
                 "-s", "tile.fault_maps=[{die: [1, 1], disabled_nodes: [[1, 1]]}]",
                 "--out", str(out)]) == 0
    r = json.loads(next(out.rglob("result.json")).read_text())
    assert r["match"] and r["mac_steps"] == r["mac_steps_expected"]
    assert r["replicas"] == [[0, 0], [2, 0], [0, 2]]
    assert r["idle_nodes"] == [[2, 2], [3, 2], [2, 3]]
    assert [3, 3] not in [n["node"] for n in r["per_node"]] and len(r["per_node"]) == 15
    assert r["allreduce"][0]["lines"] == 8 and r["allreduce"][0]["replicas"] == 3


@pytest.mark.slow
@pytest.mark.skipif(not ICARUS, reason="the timeline's watched run needs Icarus Verilog")
def test_idle_nodes_have_no_timeline_and_stay_out_of_the_breakdown(tmp_path):
    """3 replicas of 2x2 nodes (the fourth block idle), watched under Icarus: the timeline
    has the 12 replica nodes, the breakdown's statistics are theirs, the idle nodes are
    reported with no MACs and no flits."""
    cfg = load_config(CONFIGS / "default.yaml")
    step = workload_from_dict({"name": "pad3", "parallel": {"data": 3, "grid": [2, 2]},
                               "layers": [{"name": "a", "tokens": 8, "in": 8, "out": 8}]})
    r = run_step(cfg, step, out_dir=tmp_path)
    _check_report(r, tmp_path)
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    idle = r["idle_nodes"]
    assert len(idle) == 4 and len(timeline["nodes"]) == 12
    assert not [t for t in timeline["nodes"] if t["node"] in idle]
    working = [n for n in r["per_node"] if not n.get("idle")]
    assert r["compute_cycles"]["min"] == min(n["compute_cycles"] for n in working) > 0
    assert r["communication_cycles"]["mean"] == pytest.approx(
        sum(n["communication_cycles"] for n in working) / 12)
