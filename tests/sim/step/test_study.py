"""The scale-out study's machinery on a Dask cluster: the points of both scalings, resume
from the store, speed-ups and the plot. The points here are a stand-in (the RTL run of a
point is ``run_step``, tested in test_step_rtl.py), so this takes seconds."""

import json
from fractions import Fraction

import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.step.gpu import load_gpu
from sim.step.spec import load_workload, workload_from_dict
from sim.step.study import default_dies, run_scaleout, strong_split, study_plan, study_points
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker

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
    cfg = load_config(CONFIGS / "default.yaml", ["node.sram_kb=16"])
    d = derive(cfg)
    step = load_workload(MLP)
    assert default_dies(cfg) == [(1, 1), (2, 1), (2, 2)]
    plan = study_plan(cfg, step, default_dies(cfg), d)
    got = [(m, dd, st.data, st.layers[0].tokens) for m, dd, _, st in plan["points"]]
    # strong: the tile's 16 x 4 tokens, which every fabric splits evenly
    assert got == [("weak", (1, 1), 4, 4), ("strong", (1, 1), 4, 16),
                   ("weak", (2, 1), 8, 4), ("strong", (2, 1), 8, 8),
                   ("weak", (2, 2), 16, 4), ("strong", (2, 2), 16, 4)]
    assert plan["refused"] == [] and plan["strong_batch"]["tokens"] == 64
    assert plan["strong_batch"]["base"] == "the config's tile: 16 replicas x 4 tokens"
    with pytest.raises(ConfigError, match=r"^--dies 5x5: 100 nodes, the RTL runs"):
        study_points(cfg, step, [(5, 5)], d)


def test_a_strong_point_without_an_even_split_is_refused_in_one_line():
    """4 KB nodes: the tile's 64 tokens in 4 x 16 or 8 x 8 do not fit the SRAM of 1x1 and
    2x1 dies, and no smaller batch splits on more fabrics (16 tokens over 2x1 dies: 8 x 2
    is below the engine's 4-row blocks, 4 x 4 leaves nodes without a replica, which the
    2d all-reduce needs): those strong points are refused, each with one line naming the
    batch, the splits tried and the reason; nothing is rounded."""
    cfg = load_config(CONFIGS / "default.yaml")
    plan = study_plan(cfg, load_workload(MLP), default_dies(cfg), derive(cfg))
    assert plan["strong_batch"]["tokens"] == 64 and plan["strong_batch"]["points"] == 1
    assert [(m, dd) for m, dd, _ in plan["refused"]] == [("strong", (1, 1)), ("strong", (2, 1))]
    for _, _, why in plan["refused"]:
        assert "\n" not in why and "node.sram_kb: 4 is too small" in why
    assert plan["refused"][1][2].startswith(
        "the fixed global batch of 64 tokens splits evenly over at most 8 replicas as 8 x 8 "
        "(replicas x tokens), each refused")
    assert plan["strong_batch"]["others"] == [
        "32 tokens (2x1 dies: 8 replicas x 4 tokens): 1 of 3 fabrics split it",
        "16 tokens (1x1 dies: 4 replicas x 4 tokens): 1 of 3 fabrics split it"]


def test_the_strong_split_never_rounds():
    """A given batch: the most replicas that give each the same whole tokens the compiler
    accepts (a 2x2-node grid: 4-row blocks of 2 rows, so multiples of 8 tokens; blocks left
    idle when fewer replicas split it), or one line saying why none does."""
    cfg = load_config(CONFIGS / "default.yaml", ["node.sram_kb=16"])
    step = workload_from_dict({"name": "g", "parallel": {"data": 4, "grid": [2, 2]},
                               "allreduce": {"algo": "ring"},
                               "layers": [{"name": "a", "tokens": 8, "in": 8, "out": 8}]})
    # 24 tokens on the 2x2 tile's 4 blocks: 3 replicas x 8 (4 x 6 is no multiple of 8)
    st = strong_split(cfg, [], step, 24)
    assert (st.data, st.layers[0].tokens) == (3, 8)
    with pytest.raises(ValueError) as exc:
        strong_split(cfg, [], step, 20)                  # 20 = 4 x 5 = 2 x 10 = 1 x 20
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith("the fixed global batch of 20 tokens splits evenly over "
                                     "at most 4 replicas as 4 x 5, 2 x 10, 1 x 20 "
                                     "(replicas x tokens), each refused")
    assert step.with_data(2, Fraction(3, 2)).layers[0].tokens == 12
    with pytest.raises(ValueError, match=r"^layers\[a\]\.tokens: 8 x 1/3 = 8/3 is not a "
                                         r"whole number of tokens"):
        step.with_data(2, Fraction(1, 3))
    with pytest.raises(ConfigError, match=r"^strong batch 20: no fabric of the study splits"):
        study_plan(cfg, step, [(1, 1), (2, 2)], derive(cfg), strong_tokens=20)


def test_strong_scaling_on_d1_splits_a_fixed_batch_evenly():
    """The D1 preset's transformer (x8: 128 tokens per 4x2-node replica, 32-token
    multiples): the tile's batch (919 x 128) fits no die, so the fixed batch is the 2x1
    dies' 70 x 128 = 8960 tokens, which one die runs as 28 replicas of 320 (3 blocks idle)
    and 2x1 dies as 70 x 128; every strong point is exactly that batch."""
    cfg = load_config(CONFIGS / "d1.yaml")
    plan = study_plan(cfg, load_workload(CONFIGS.parent / "workloads" / "transformer.yaml"),
                      [(1, 1), (2, 1)], derive(cfg), "model", timing_only=True)
    assert plan["strong_batch"]["tokens"] == 8960 and plan["refused"] == []
    strong = [(dd, st.data, st.layers[0].tokens) for m, dd, _, st in plan["points"]
              if m == "strong"]
    assert strong == [((1, 1), 28, 320), ((2, 1), 70, 128)]
    assert plan["strong_batch"]["others"][0].startswith(
        "117632 tokens (the config's tile: 919 replicas x 128 tokens): 0 of 2 fabrics")


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
    # every node of the full 19x19 array); its 2d all-reduce needs all 361 replicas, and
    # no batch splits over 361 in multiples of the engine's 8 rows: strong refused
    d1 = load_config(CONFIGS / "d1.yaml", ["die.disabled_nodes=[]"])
    plan = study_plan(d1, load_workload(MLP), [(1, 1)], derive(d1), "model", timing_only=True)
    assert [(m, dd, st.data) for m, dd, _, st in plan["points"]] == [("weak", (1, 1), 361)]
    (mode, dd, why), = plan["refused"]
    assert (mode, dd) == ("strong", (1, 1))
    assert why.startswith("the fixed global batch of 36100 tokens splits evenly over at "
                          "most 361 replicas as 361 x 100, 190 x 190")
    assert why.endswith("m=100: must be a positive multiple of 8 (1 blocks of a multiple of "
                        "node.matrix_p=8 on the 1x1 grid)")


@one_worker("core")     # the node kernel: on the worker that compiles it (a cold cache)
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
    cfg = load_config(CONFIGS / "default.yaml", ["node.sram_kb=16"])
    d = derive(cfg)
    step = load_workload(MLP)
    gpu = load_gpu(CONFIGS / "gpu" / "a100.yaml")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        kw = dict(dies=default_dies(cfg), sim="verilator", out=tmp_path, gpu=gpu,
                  client=client, progress=False, point_fn=fake_point)
        study = run_scaleout(cfg, d, step, **kw)
        calls = (tmp_path / "calls.log").read_text().splitlines()
        again = run_scaleout(cfg, d, step, **kw)          # resumes: nothing runs again
        assert (tmp_path / "calls.log").read_text().splitlines() == calls
    assert again["points"] == study["points"]
    # the largest fabrics start first (the long points: none waits behind small ones)
    assert [int(c.split()[0]) for c in calls] == [4, 2, 2, 1]
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


def test_model_points_over_the_recorded_limit_run_without_records(monkeypatch, tmp_path):
    """A model point keeps the watched run's records (its breakdown) up to
    MAX_RECORDED_NODES nodes; past it, the step runs unwatched (RTL points always watched)."""
    import sim.step.run
    import sim.step.study as study
    seen = []

    def fake_run_step(cfg, step, **kw):
        seen.append((cfg.tile.dies_x * cfg.tile.dies_y, kw["engine"], kw["trace_sim"]))
        return {}
    monkeypatch.setattr(sim.step.run, "run_step", fake_run_step)
    monkeypatch.setattr(study, "MAX_RECORDED_NODES", 8)         # 2 dies of 2x2 nodes
    cfg = load_config(CONFIGS / "default.yaml")
    raw = load_workload(MLP).raw
    for dies, engine in (((2, 1), "model"), ((2, 2), "model"), ((2, 2), "rtl")):
        study.run_point(cfg.raw, [f"tile.dies_x={dies[0]}", f"tile.dies_y={dies[1]}"], raw,
                        None, str(tmp_path), engine=engine)
    assert seen == [(2, "model", "icarus"), (4, "model", None), (4, "rtl", "icarus")]


def test_refused_strong_points_are_rows_without_a_run(tmp_path):
    """4 KB nodes (the strong splits of 1x1 and 2x1 dies refused before anything runs):
    their rows say why, in the points' order, with no GPU figures; the plot still draws."""
    from distributed import Client, LocalCluster
    cfg = load_config(CONFIGS / "default.yaml")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        study = run_scaleout(cfg, derive(cfg), load_workload(MLP), dies=default_dies(cfg),
                             sim="verilator", out=tmp_path,
                             gpu=load_gpu(CONFIGS / "gpu" / "a100.yaml"), client=client,
                             progress=False, point_fn=fake_point)
    rows = [(r["mode"], tuple(r["dies"]), r["status"]) for r in study["points"]]
    assert rows == [("weak", (1, 1), "ok"), ("strong", (1, 1), "refused"),
                    ("weak", (2, 1), "ok"), ("strong", (2, 1), "refused"),
                    ("weak", (2, 2), "ok"), ("strong", (2, 2), "ok")]
    refused = [r for r in study["points"] if r["status"] == "refused"]
    assert all(r["gpu"] is None and r["replicas"] is None for r in refused)
    assert refused[0]["reason"].startswith("the fixed global batch of 64 tokens")
    assert study["strong_batch"]["tokens"] == 64
    assert (tmp_path / "scaleout.png").stat().st_size > 10_000


def test_strong_tokens_on_the_command_line_is_checked_before_any_work(tmp_path, capsys):
    """``dojo study scaleout --strong-tokens N``: a batch no fabric splits, a batch below 1
    and the option on nodesize are one error line each (exit 2), nothing written."""
    from dojo.cli import main
    cfg, out = str(CONFIGS / "default.yaml"), ["--out", str(tmp_path / "s")]
    step = tmp_path / "g.yaml"
    step.write_text("name: g\nparallel: {data: 4, grid: [2, 2]}\nallreduce: {algo: ring}\n"
                    "layers:\n  - {name: a, tokens: 8, in: 8, out: 8}\n")
    for args, start in (
            (["scaleout", "--strong-tokens", "20", "-s", "node.sram_kb=16"],
             "error: strong batch 20: no fabric of the study splits it; on 1x1 dies: the "
             "fixed global batch of 20 tokens"),
            (["scaleout", "--strong-tokens", "0"],
             "error: --strong-tokens: 0 is not allowed; allowed: a global batch of at least "
             "1 token"),
            (["nodesize", "--strong-tokens", "24"],
             "error: --strong-tokens: 24 is not allowed for nodesize; allowed: with dojo "
             "study scaleout")):
        assert main(["study", args[0], cfg, str(step), *args[1:], *out]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(start), err
    assert not (tmp_path / "s").exists()


def test_the_engine_is_chosen_when_the_command_names_none():
    """No --engine: the RTL when every fabric fits it; else the model, timing only and
    preloaded when the flits are over 64 bits (the D1 preset), with data values when not;
    the reason is one line."""
    from sim.step.study import choose_engine
    default = load_config(CONFIGS / "default.yaml")
    assert choose_engine(default, [(1, 1), (2, 2)]) == ("rtl", False, False, None)
    engine, timing, preload, why = choose_engine(default, [(1, 1), (5, 5)])
    assert (engine, timing, preload) == ("model", False, False)
    assert why == ("engine: the fast model (chosen: 5x5 dies have 100 nodes, the RTL runs up "
                   "to 64; --engine chooses otherwise)")
    d1 = load_config(CONFIGS / "d1.yaml")
    engine, timing, preload, why = choose_engine(d1, [(1, 1), (5, 5)])
    assert (engine, timing, preload) == ("model", True, True)
    assert why.startswith("engine: the fast model, timing only, preloaded (chosen: 5x5 dies "
                          "have 9025 nodes") and "router.flit_bits 2048" in why


def test_the_study_command_prints_and_records_its_engine_choice(tmp_path, capsys,
                                                                 monkeypatch):
    """``dojo study scaleout`` with no --engine on fabrics past the RTL's: the choice is
    printed in one line and handed to the study (which keeps it in study.json); with
    --engine rtl the same fabrics are refused in one line, as before."""
    import dojo.cli
    seen = {}

    def fake_on_dask(args, run, *a, **kw):
        seen.update(kw)
        return {"strong_batch": {"tokens": 1, "base": "-", "points": 0}, "points": [],
                "failures": []}
    monkeypatch.setattr(dojo.cli, "_on_dask", fake_on_dask)
    cmd = ["study", "scaleout", str(CONFIGS / "default.yaml"), str(MLP), "--dies", "1x1,5x5",
           "--out", str(tmp_path / "s")]
    assert dojo.cli.main(cmd) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("engine: the fast model (chosen: 5x5 dies have 100 nodes")
    assert (seen["engine"], seen["timing_only"], seen["preload"]) == ("model", False, False)
    assert seen["engine_choice"] == out[0]
    assert dojo.cli.main(cmd + ["--engine", "rtl"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --dies 5x5: 100 nodes, the RTL runs")


def test_the_study_json_records_preload_and_the_engine_choice(tmp_path):
    from distributed import Client, LocalCluster
    cfg = load_config(CONFIGS / "default.yaml", ["node.sram_kb=16"])

    def point(cfg_raw, overrides, step_raw, sim, out_dir, **on):
        from pathlib import Path                 # the task runs on a copy: a file log
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(out_dir).parent / "on.log", "a") as f:
            f.write(json.dumps(on, sort_keys=True) + "\n")
        return fake_point(cfg_raw, overrides, step_raw, sim, out_dir)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        study = run_scaleout(cfg, derive(cfg), load_workload(MLP), dies=[(1, 1)], sim=None,
                             out=tmp_path, gpu=load_gpu(CONFIGS / "gpu" / "a100.yaml"),
                             client=client, progress=False, point_fn=point, engine="model",
                             timing_only=True, preload=True, engine_choice="why")
    seen = [json.loads(x) for x in (tmp_path / "on.log").read_text().splitlines()]
    assert seen and all(on == {"engine": "model", "timing_only": True, "preload": True}
                        for on in seen)
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["preloaded"] is True and saved["engine_choice"] == "why"
    assert "the load of programs and operands (preloaded" in saved["missing"]
    assert study["preloaded"] is True
