"""The node-size sweep: the points' derivation (the die's totals constant under the
scaling rule, checked by hand), its refusals with their reasons, bad input, and the
sweep on a Dask cluster with resume and the plot (a stand-in point, as test_study.py
does; the RTL run of a point is ``run_step``, tested in test_step_rtl.py), and one real
tiny sweep on the RTL (one die: 1 node, then 2x2 nodes, under Icarus)."""

import json
import shutil

import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.step.nodesize import default_per_edge, nodesize_points, run_nodesize
from sim.step.spec import load_workload, workload_from_dict
from tests.conftest import CONFIGS
from tests.sim.step.test_study import fake_record

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"
ICARUS = shutil.which("iverilog") is not None


def test_points_keep_the_die_totals_and_scale_node_grid_and_hops():
    # default: 2.6 mm usable die edge, reach 1.26 mm -> 2x2 nodes of 4 KB, P=4, 8 FP32
    # FLOP per cycle: a die of 16 KB, 4 x 16 = 64 MACs and 32 FLOP per cycle
    cfg = load_config(CONFIGS / "default.yaml", ["router.flit_bits=128"])
    d = derive(cfg)
    assert d.die.nodes_x == 2
    assert default_per_edge(cfg, d) == [1, 2, 3, 4]         # 4 dies of 4x4 = 64 nodes at most
    pts = {pt.per_edge: pt for pt in nodesize_points(cfg, load_workload(MLP), d, [1, 2, 4])}
    for pt in pts.values():
        assert (pt.node["die_macs_per_cycle"], pt.node["die_sram_kb"],
                pt.node["die_fp32_flops_per_cycle"]) == (64, 16, 32)
    one, two = pts[1], pts[2]
    # one node per die: 4x the area -> P 8, 16 KB, 32 FLOP; a 2.6 mm pitch is 2.06 reaches,
    # so 2 link registers per hop (3 cycles) and buffers for a 3 + 2 x 2 = 7-cycle round trip
    assert one.overrides == ("node.matrix_p=8", "node.sram_kb=16.0",
                             "node.fp32_flops_per_cycle=32", "node.pitch_mm=2.6",
                             "router.buffer_depth=7")
    assert one.node["hop_cycles"] == 3
    # the 16 one-node replicas of 4 tokens merge four to a node: 4 replicas of 16 tokens
    assert (one.step.grid, one.step.data, one.step.layers[0].tokens) == ((1, 1), 4, 16)
    assert one.refused is None
    # the derivation's own point: no pitch forced, one cycle per hop, the step unchanged
    assert two.overrides == ("node.matrix_p=4", "node.sram_kb=4.0",
                             "node.fp32_flops_per_cycle=8")
    assert (two.node["hop_cycles"], two.step.grid, two.step.data) == (1, (1, 1), 16)
    # a quarter of the area: P 2, 1 KB; each replica keeps its area: a 2x2 grid of nodes,
    # on which the compiler refuses the MLP's 2d all-reduce (it needs a replica on every
    # node), with its reason
    four = pts[4]
    assert (four.pitch_mm, four.node["matrix_p"], four.node["sram_kb"]) == (0.65, 2, 1)
    assert four.step is None and four.refused.startswith(
        "allreduce.algo: '2d' is not allowed with parallel.grid [2, 2] and 16 replicas")


def test_points_the_rule_or_the_engine_cannot_build_are_refused_with_the_reason():
    cfg = load_config(CONFIGS / "default.yaml")              # 64-bit flits
    d = derive(cfg)
    pts = {pt.per_edge: pt for pt in nodesize_points(cfg, load_workload(MLP), d, [1, 3])}
    assert pts[1].refused == "matrix_p=8 needs 128-bit lines for one bf16 step, flit_bits is 64"
    assert pts[3].refused.startswith("node.matrix_p: 4 x 2/3 = 8/3 is not a power of two")
    assert pts[3].overrides is None and pts[3].step is None
    # the die totals of the rule are still reported for a refused point
    assert pts[3].node["die_sram_kb"] == pytest.approx(16)


def test_the_sq_preset_compiles_at_every_node_size_its_file_names():
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=2", "tile.dies_y=1",
                                                 "node.sram_kb=32", "router.flit_bits=128"])
    step = load_workload(CONFIGS.parent / "workloads" / "sq.yaml")
    pts = nodesize_points(cfg, step, derive(cfg), [1, 2, 4])
    assert [(pt.refused, pt.step.grid, pt.step.data) for pt in pts] == [
        (None, (1, 1), 2), (None, (2, 2), 2), (None, (4, 4), 2)]


def test_bad_input_is_one_line_before_any_work():
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    step = load_workload(MLP)
    with pytest.raises(ConfigError, match=r"^--per-edge: 5 is not allowed: 4 dies of 5x5 "
                                          r"nodes; allowed: whole numbers >= 1 with at most 64"):
        nodesize_points(cfg, step, d, [2, 5])
    with pytest.raises(ConfigError, match=r"^--per-edge: 0 is not allowed"):
        nodesize_points(cfg, step, d, [0])
    fixed = load_config(CONFIGS / "default.yaml", ["die.nodes_x=2", "die.nodes_y=2"])
    with pytest.raises(ConfigError, match=r"^die.nodes_x/die.nodes_y: 2x2 is not allowed for "
                                          r"the node-size sweep"):
        nodesize_points(fixed, step, derive(fixed), [2])


def test_dojo_study_nodesize_refuses_bad_input_with_one_line(tmp_path, capsys):
    from dojo.cli import main
    cfg = str(CONFIGS / "default.yaml")
    out = ["--out", str(tmp_path / "s")]
    for args, line in (
            (["--per-edge", "2,x"], "error: --per-edge: '2,x' is not allowed; allowed: node "
                                    "counts per die edge, e.g. 1,2,4"),
            (["--per-edge", "8"], "error: --per-edge: 8 is not allowed: 4 dies of 8x8 nodes; "
                                  "allowed: whole numbers >= 1 with at most 64 nodes on the "
                                  "RTL (the fast engine, which would run more, does not have "
                                  "the training node yet)"),
            (["--dies", "1x1"], "error: --dies: '1x1' is not allowed for nodesize (it keeps "
                                "the config's dies); allowed: with dojo study scaleout")):
        assert main(["study", "nodesize", cfg, str(MLP), *args, *out]) == 2
        assert capsys.readouterr().err.splitlines() == [line]
    # 64-bit flits: one node per die needs an 8x8 engine (128-bit lines), 3 per edge a P
    # of 8/3: nothing to run
    assert main(["study", "nodesize", cfg, str(MLP), "--per-edge", "1,3", *out]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --per-edge: [1, 3]: every point is "
                                               "refused (first: 1 per edge: matrix_p=8 needs")
    assert main(["study", "scaleout", cfg, str(MLP), "--per-edge", "2", *out]) == 2
    assert "--per-edge: '2' is not allowed for scaleout" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def fake_point(cfg_raw, overrides, step_raw, sim, out_dir):
    """Step cycles from the point's P (a bigger engine computes faster) plus a cost per
    node (more nodes to synchronise); a log file counts the calls."""
    from pathlib import Path
    p = int(next(o for o in overrides if o.startswith("node.matrix_p=")).split("=")[1])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(out_dir).parent / "calls.log", "a") as f:
        f.write(f"{p}\n")
    return fake_record(4096 // (p * p) + 100 * 64 // (p * p), data_parallel=4)


def test_sweep_runs_on_dask_resumes_and_plots(tmp_path):
    from distributed import Client, LocalCluster
    cfg = load_config(CONFIGS / "default.yaml", ["router.flit_bits=128"])
    d = derive(cfg)
    step = load_workload(MLP)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        kw = dict(per_edge=[1, 2, 3], sim="verilator", out=tmp_path, client=client,
                  progress=False, point_fn=fake_point)
        sweep = run_nodesize(cfg, d, step, **kw)
        calls = (tmp_path / "calls.log").read_text().splitlines()
        again = run_nodesize(cfg, d, step, **kw)            # resumes: nothing runs again
    assert sorted(calls) == ["4", "8"]                     # 3 per edge is refused, not run
    assert (tmp_path / "calls.log").read_text().splitlines() == calls
    assert again["points"] == sweep["points"]
    rows = {r["per_edge"]: r for r in sweep["points"]}
    assert [rows[n]["status"] for n in (1, 2, 3)] == ["ok", "ok", "refused"]
    assert rows[1]["step_cycles"] == 4096 // 64 + 100 and rows[1]["hop_cycles"] == 3
    assert (rows[2]["replicas"], rows[2]["tokens_per_replica"]) == (16, 4)
    assert json.loads((tmp_path / "nodesize.json").read_text())["points"] == sweep["points"]
    assert (tmp_path / "nodesize.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.skipif(not ICARUS, reason="needs Icarus Verilog")
def test_tiny_sweep_on_the_rtl(tmp_path):
    """One die of 2x2 nodes of P=2 against one node of P=4 (the same 16 MACs per cycle),
    the same step (4 tokens per node, data parallel) on both, bit-exact on the RTL."""
    from distributed import Client, LocalCluster
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=1", "tile.dies_y=1",
                                                 "node.matrix_p=2", "node.sram_kb=4"])
    d = derive(cfg)
    raw = dict(load_workload(MLP).raw)
    raw["parallel"] = {"data": 4, "grid": [1, 1]}
    step = workload_from_dict(raw)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        sweep = run_nodesize(cfg, d, step, per_edge=[1, 2], sim="icarus", out=tmp_path,
                             client=client, progress=False)
    rows = {r["per_edge"]: r for r in sweep["points"]}
    assert not sweep["failures"]
    assert [rows[n]["status"] for n in (1, 2)] == ["ok", "ok"], sweep["points"]
    assert all(rows[n]["match"] for n in (1, 2))
    assert (rows[1]["mesh"], rows[2]["mesh"]) == ([1, 1], [2, 2])
    # one node does all 4 replicas' work alone and moves no gradients over the mesh
    assert rows[1]["replicas"] == 1 and rows[1]["tokens_per_replica"] == 16
    assert (rows[1]["hop_cycles"], rows[2]["hop_cycles"]) == (3, 1)
    # the same MACs on the same 16 MACs per cycle of die
    assert rows[1]["mac_steps"] * 4 ** 2 == rows[2]["mac_steps"] * 2 ** 2
