"""Sweeps and grids on Dask: identical to the serial run, resumable, fault-tolerant.

A 2-worker ``LocalCluster`` (worker processes, as ``dojo explore`` starts) runs
small meshes on the fast model; one test runs the RTL under Verilator. Each result
is compared with a serial :func:`sim.sweep.run_sweep` of the same config.
"""

import functools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gen.config import ConfigError
from sim.explore.cluster import run_design_points
from sim.explore.grid import design_points, parse_grid, parse_list
from sim.explore.run import explore
from sim.explore.store import ResultStore
from sim.netmodel.point import point_difference
from sim.runner import available_simulators
from sim.sweep import run_sweep
from tests.conftest import CONFIGS, ROOT
from . import faults

CONFIG = str(CONFIGS / "default.yaml")
MESH = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=3", "die.nodes_y=3"]
TIMING = {"warmup": 200, "measure": 600, "drain_limit": 4000, "final_drain": 1000}
RATES = [0.1, 0.4, 0.9]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _grid(patterns=("uniform", "transpose"), grid=("router.vcs=1,2",)):
    return design_points(CONFIG, MESH, parse_grid(list(grid)), list(patterns), [1])


def _serial(dp, engine="model", sim="verilator"):
    return run_sweep(dp.cfg, pattern=dp.pattern, rates=RATES, engine=engine, sim=sim,
                     timing=TIMING, progress=False, seed=dp.seed)


def _same_sweep(a, b):
    assert point_difference(a["points"], b["points"]) is None
    for key in ("zero_load_latency", "saturation_throughput", "saturation_offered",
                "channel_load_bound", "highest_stable_offered", "mesh", "nodes", "engine"):
        assert a[key] == b[key], key


def test_two_workers_give_the_serial_results(client):
    points = _grid()
    sweeps, failures = run_design_points(points, RATES, engine="model", sim="verilator",
                                         timing=TIMING, client=client, store=ResultStore(),
                                         progress=False)
    assert failures == [] and set(sweeps) == set(points)
    for dp in points:
        _same_sweep(sweeps[dp], _serial(dp))
    # both workers took part (the points are spread, not run on one)
    assert len(client.nthreads()) == 2


@pytest.mark.slow
@pytest.mark.skipif("verilator" not in available_simulators(), reason="needs Verilator")
def test_rtl_points_share_one_build_and_match_serial(client):
    points = _grid(patterns=("uniform",), grid=("router.vcs=2",))
    sweeps, failures = run_design_points(points, RATES, engine="rtl", sim="verilator",
                                         timing=TIMING, client=client, store=ResultStore(),
                                         progress=False)
    assert failures == []
    dp, = points
    _same_sweep(sweeps[dp], _serial(dp, engine="rtl"))
    # one prepare task built it: every point ran in that one build directory
    from gen.build import noc_design
    from sim.runner import build_dir_of
    from sim.sweep import _tag, sweep_spec
    runs = build_dir_of(noc_design(dp.cfg), "verilator") / "runs"
    for rate in RATES:
        assert (runs / _tag(sweep_spec("uniform", rate), TIMING) / "result.json").exists()


def test_a_resumed_run_redoes_nothing(client, tmp_path):
    points = _grid(patterns=("uniform",))
    first = explore(points, ["router.vcs"], RATES, out=tmp_path, engine="model",
                    timing=TIMING, client=client, progress=False, log=lambda *_: None)
    assert first["failures"] == []
    saved = sorted(p.name for p in (tmp_path / "points").glob("*.json"))
    assert len(saved) == len(points) * (len(RATES) + 1)        # and each zero-load point
    again = explore(points, ["router.vcs"], RATES, out=tmp_path, engine="model",
                    timing=TIMING, client=client, progress=False, point_fn=faults.never,
                    log=lambda *_: None)
    assert again["failures"] == [] and again["rows"] == first["rows"]
    # a changed parameter is a different point: it is measured
    changed = explore(points, ["router.vcs"], RATES + [0.2], out=tmp_path, engine="model",
                      timing=TIMING, client=client, progress=False,
                      point_fn=functools.partial(faults.fail_at, rate=0.2),
                      log=lambda *_: None)
    assert {f["rate"] for f in changed["failures"]} == {0.2}


def test_a_failing_point_is_reported_and_the_rest_complete(client, tmp_path):
    points = _grid()
    res = explore(points, ["router.vcs"], RATES, out=tmp_path, engine="model",
                  timing=TIMING, client=client, progress=False,
                  point_fn=functools.partial(faults.fail_at, rate=0.4), log=lambda *_: None)
    assert len(res["failures"]) == len(points)            # one rate of each design point
    f = res["failures"][0]
    assert f["rate"] == 0.4 and "injected failure at offered 0.4" in f["error"]
    assert set(f["params"]) == {"router.vcs"}
    assert all(r["status"] == "failed" and r["saturation_throughput"] is None
               for r in res["rows"])
    # the other points were measured and saved, so a rerun only does the failed ones
    # (each design point's zero-load point included)
    assert len(list((tmp_path / "points").glob("*.json"))) == len(points) * len(RATES)
    fixed = explore(points, ["router.vcs"], RATES, out=tmp_path, engine="model",
                    timing=TIMING, client=client, progress=False, log=lambda *_: None)
    assert fixed["failures"] == [] and all(r["status"] == "ok" for r in fixed["rows"])
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert csv[0].startswith("router.vcs,pattern,seed,engine") and len(csv) == len(points) + 1
    for name in ("results.json", "saturation.png", "best.png"):
        assert (tmp_path / name).stat().st_size > 0
    dp = points[0]
    assert json.loads((tmp_path / dp.label / "sweep.json").read_text())["pattern"] == dp.pattern


def test_a_worker_that_dies_mid_point_has_it_retried(client, tmp_path):
    points = _grid(patterns=("uniform",), grid=("router.vcs=1",))
    marker = tmp_path / "died"
    sweeps, failures = run_design_points(
        points, RATES, engine="model", sim="verilator", timing=TIMING, client=client,
        store=ResultStore(), progress=False,
        point_fn=functools.partial(faults.die_once, rate=0.4, marker=str(marker)))
    assert marker.exists(), "the worker was not killed"
    assert failures == []
    _same_sweep(sweeps[points[0]], _serial(points[0]))
    deadline = time.time() + 60                 # the nanny restarts the dead worker
    while len(client.nthreads()) < 2 and time.time() < deadline:
        time.sleep(0.2)


def test_grid_parsing_and_validation():
    assert parse_grid(["router.vcs=1,2,4", "router.buffer_depth=4,8"]) == \
        [("router.vcs", ["1", "2", "4"]), ("router.buffer_depth", ["4", "8"])]
    for bad, words in ((["router.vcs"], "expected KEY.PATH=V1,V2"),
                       (["router.vcs=1,,2"], "empty value"),
                       (["router.vcs=1", "router.vcs=2"], "given twice"),
                       (["router.vcs=2,2"], "repeated")):
        with pytest.raises(ConfigError, match=words):
            parse_grid(bad)
    assert parse_list("--seeds", "1,3", kind=int) == [1, 3]
    with pytest.raises(ConfigError, match="--pattern 'nope'.*one of"):
        parse_list("--pattern", "uniform,nope", ["uniform", "transpose"])
    points = _grid()
    assert len(points) == 4 and points[0].label == "router.vcs=1/uniform-seed1"
    assert dict(points[-1].params) == {"router.vcs": 2}       # parsed as YAML, as -s is


def test_a_grid_with_bad_values_is_rejected_before_any_work(tmp_path, capsys):
    from dojo.cli import main
    out = tmp_path / "out"
    code = main(["explore", CONFIG, "-s", "tile.dies_x=1", "--grid", "router.vcs=1,9,0",
                 "--grid", "router.buffer_depth=4,8", "--engine", "model", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    # one error per bad value (not one per combination), naming key, value and the rule
    assert len(lines) == 2, err
    assert all("router.vcs" in l and "not allowed" in l for l in lines)
    assert "9" in lines[0] + lines[1] and "0" in lines[0] + lines[1]
    assert "Traceback" not in err
    code = main(["explore", CONFIG, "--pattern", "uniform,bogus", "--rates", "0.5:0.1:0.1",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--pattern 'bogus'" in err and "--rates" in err and not out.exists()


def test_dojo_sweep_with_workers_matches_serial(tmp_path):
    from dojo.cli import main
    args = ["sweep", CONFIG, *sum((["-s", s] for s in MESH), []), "--engine", "model",
            "--rates", "0.1,0.4,0.9", "--warmup", "200", "--measure", "600"]
    assert main(args + ["--out", str(tmp_path / "serial")]) == 0
    assert main(args + ["--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    a, b = (json.loads((tmp_path / d / "sweep.json").read_text()) for d in ("serial", "dask"))
    _same_sweep(a, b)


@pytest.mark.slow
def test_kill_9_of_the_client_loses_no_finished_point(tmp_path):
    """``dojo explore`` killed with SIGKILL mid-grid, then rerun: the finished points are
    kept, and the final results equal a run that was never interrupted."""
    out = tmp_path / "grid"
    cmd = [sys.executable, "-m", "dojo", "explore", CONFIG, "-s", "tile.dies_x=1",
           "-s", "tile.dies_y=1", "--grid", "router.vcs=1,2", "--grid",
           "router.buffer_depth=4,8", "--rates", "0.05:0.95:0.1", "--engine", "model",
           "--warmup", "2000", "--measure", "20000", "--workers", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    total = 4 * 10
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            done = len(list((out / "points").glob("*.json"))) if (out / "points").exists() else 0
            if done >= 3 or proc.poll() is not None:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    kept = len(list((out / "points").glob("*.json")))
    assert 3 <= kept < total, f"{kept} of {total} points were done when the client was killed"
    rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    # the same as a serial run of one of them, point for point
    from gen.config import load_config
    cfg = load_config(CONFIG, ["tile.dies_x=1", "tile.dies_y=1", "router.vcs=2",
                               "router.buffer_depth=4"])
    from sim.sweep import parse_rates
    serial = run_sweep(cfg, rates=parse_rates("0.05:0.95:0.1"), engine="model",
                       timing={"warmup": 2000, "measure": 20000}, progress=False)
    resumed = json.loads((out / "router.vcs=2,router.buffer_depth=4" / "uniform-seed1"
                          / "sweep.json").read_text())
    _same_sweep(serial, resumed)


def test_scheduler_address_runs_on_that_cluster(client, tmp_path, capsys):
    """``--scheduler`` submits to an existing cluster (here the fixture's), and an
    address where none listens is a clear error, exit 2."""
    from dojo.cli import main
    args = ["explore", CONFIG, *sum((["-s", s] for s in MESH), []), "--grid",
            "router.vcs=1,2", "--engine", "model", "--rates", "0.1,0.4", "--warmup", "200",
            "--measure", "600"]
    assert main(args + ["--scheduler", client.scheduler.address,
                        "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "2 design points x 2 rates on 2 worker thread(s)" in out
    rows = json.loads((tmp_path / "a" / "results.json").read_text())["rows"]
    assert [r["router.vcs"] for r in rows] == [1, 2] and all(r["status"] == "ok" for r in rows)
    assert main(args + ["--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "--scheduler 'tcp://127.0.0.1:9': cannot connect" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()


def test_design_points_rank_by_energy_at_their_highest_stable_load():
    from sim.explore.report import best_rows, result_row
    rows = []
    for dp in _grid(patterns=("uniform",), grid=("router.buffer_depth=3,8",)):
        sweep = {**_serial(dp), "wall_s": 0.0}
        row = result_row(dp, sweep)
        stable = next(p for p in sweep["points"]
                      if p["offered"] == sweep["highest_stable_offered"])
        assert row["pj_per_flit"] == stable["energy"]["pj_per_delivered_flit"] > 0
        rows.append(row)
    # deeper buffers clock more flops for the same flits: more energy per flit
    assert rows[0]["pj_per_flit"] < rows[1]["pj_per_flit"]
    rows[0]["saturation_throughput"] = 0.0          # the worse network by saturation...
    assert best_rows(rows, "energy")[0] is rows[0]  # ...is still the cheaper one
    assert best_rows(rows, "saturation")[0] is rows[1]
