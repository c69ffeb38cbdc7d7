"""The scale-out study's machinery on a Dask cluster: the points of both scalings, resume
from the store, speed-ups and the plot. The points here are a stand-in (the RTL run of a
point is ``run_step``, tested in test_step_rtl.py), so this takes seconds."""

import json

import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.step.gpu import load_gpu
from sim.step.spec import load_workload
from sim.step.study import default_dies, run_scaleout, study_points
from tests.conftest import CONFIGS

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"


def fake_point(cfg_raw, overrides, step_raw, sim, out_dir):
    """Step cycles proportional to tokens per replica plus a cost per die (a log file
    counts the calls)."""
    from pathlib import Path
    dies = int(overrides[0].split("=")[1]) * int(overrides[1].split("=")[1])
    tokens = step_raw["layers"][0]["tokens"]
    if tokens > 8:
        return {"refused": "node.sram_kb: too small"}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(out_dir).parent / "calls.log", "a") as f:
        f.write(f"{dies} {tokens}\n")
    return fake_record(100 * tokens + 50 * dies, data_parallel=dies * 4)


def fake_record(cycles, *, data_parallel):
    """A stand-in point's saved result (the keys the studies read of a run_step record)."""
    stats = {"min": 10, "max": 10, "mean": 10}
    return {"record": {"step_cycles": cycles, "step_seconds": cycles / 2e9, "match": True,
                       "peak_fraction": 0.1, "mac_steps": 1, "compute_cycles": stats,
                       "communication_cycles": stats, "exposed_communication_cycles": stats,
                       "exposed_cycles": stats, "waiting_cycles": stats,
                       "exposed_communication_fraction": 0.5, "mesh": [2, 2],
                       "data_parallel": data_parallel}, "wall_s": 0.0}


def test_points_cover_both_scalings_and_refuse_what_the_rtl_cannot_run():
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    step = load_workload(MLP)
    assert default_dies(cfg) == [(1, 1), (2, 1), (2, 2)]
    pts = study_points(cfg, step, default_dies(cfg), d)
    got = [(m, dd, st.data, st.layers[0].tokens) for m, dd, _, st in pts]
    assert got == [("weak", (1, 1), 4, 4), ("strong", (1, 1), 4, 16),
                   ("weak", (2, 1), 8, 4), ("strong", (2, 1), 8, 8),
                   ("weak", (2, 2), 16, 4), ("strong", (2, 2), 16, 4)]
    with pytest.raises(ConfigError, match=r"^--dies 5x5: 100 nodes, the RTL runs"):
        study_points(cfg, step, [(5, 5)], d)


def test_model_points_go_past_the_rtls_nodes_within_what_the_model_supports():
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    pts = study_points(cfg, load_workload(MLP), [(5, 5)], d, "model")
    assert [(m, dd, st.data) for m, dd, _, st in pts] == [("weak", (5, 5), 100),
                                                         ("strong", (5, 5), 100)]
    d1 = load_config(CONFIGS / "d1.yaml")
    with pytest.raises(ConfigError) as exc:
        study_points(d1, load_workload(MLP), [(1, 1)], derive(d1), "model")
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith("--dies 1x1: router.flit_bits: 2048 is not "
                                            "modelled by --engine model")
    # timing only, the D1 preset's 2048-bit flits run (the MLP's 1x1 grid: a replica on
    # every node of the full 19x19 array)
    d1 = load_config(CONFIGS / "d1.yaml", ["die.disabled_nodes=[]"])
    pts = study_points(d1, load_workload(MLP), [(1, 1)], derive(d1), "model", timing_only=True)
    assert [(m, dd, st.data) for m, dd, _, st in pts] == [("weak", (1, 1), 361),
                                                         ("strong", (1, 1), 361)]


def test_a_timing_only_point_has_the_full_models_cycles(tmp_path):
    """The study's timing-only point (what the D1 preset needs) against the same point with
    data values on the fast engine (itself held to the RTL: test_step_on_the_model.py)."""
    from sim.step.study import run_point
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    (_, _, ov, st), = [p for p in study_points(cfg, load_workload(MLP), [(1, 1)], d, "model")
                       if p[0] == "weak"]
    full = run_point(cfg.raw, ov, st.raw, None, str(tmp_path / "full"), engine="model")
    timing = run_point(cfg.raw, ov, st.raw, None, str(tmp_path / "timing"), engine="model",
                       timing_only=True)
    assert full["record"]["match"] is True
    assert timing["record"]["match"] is None          # no values: nothing compared
    assert timing["record"]["step_cycles"] == full["record"]["step_cycles"]
    assert timing["record"]["mac_steps"] == full["record"]["mac_steps"]


def test_study_runs_on_dask_resumes_and_plots(tmp_path):
    from distributed import Client, LocalCluster
    cfg = load_config(CONFIGS / "default.yaml")
    d = derive(cfg)
    step = load_workload(MLP)
    gpu = load_gpu(CONFIGS / "gpu" / "a100.yaml")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        kw = dict(dies=default_dies(cfg), sim="verilator", out=tmp_path, gpu=gpu,
                  client=client, progress=False, point_fn=fake_point)
        study = run_scaleout(cfg, d, step, **kw)
        calls = (tmp_path / "calls.log").read_text().splitlines()
        again = run_scaleout(cfg, d, step, **kw)          # resumes: nothing runs again
        assert (tmp_path / "calls.log").read_text().splitlines() == calls
    assert again["points"] == study["points"]
    rows = {(r["mode"], tuple(r["dies"])): r for r in study["points"]}
    assert rows["strong", (1, 1)]["status"] == "refused"
    w1, w4 = rows["weak", (1, 1)], rows["weak", (2, 2)]
    # weak: 16 vs 64 tokens in 450 vs 600 cycles -> 3x the tokens per second, 4x the dies
    assert w4["speedup"] == pytest.approx((64 / 600) / (16 / 450))
    assert w4["efficiency"] == pytest.approx(w4["speedup"] / 4)
    s2, s4 = rows["strong", (2, 1)], rows["strong", (2, 2)]
    assert s4["speedup"] == pytest.approx(900 / 600)           # same 64 tokens, 900 -> 600
    assert all(r["gpu"]["gpus"] == r["replicas"] for r in study["points"])
    assert json.loads((tmp_path / "study.json").read_text())["points"] == study["points"]
    assert (tmp_path / "scaleout.png").stat().st_size > 10_000
    del s2, w1
