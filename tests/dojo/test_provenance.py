"""Provenance (issue 27 item 10): sweep.json, explore's results and the Verilog manifests
record the resolved config, the overrides, the seed, the version and the commit."""

import json
import subprocess

import pytest

from gen.config import load_config
from gen.provenance import git_commit, provenance

SMALL = ["-s", "tile.dies_x=1", "-s", "tile.dies_y=1", "-s", "die.nodes_x=3",
         "-s", "die.nodes_y=3"]


def _check(prov, overrides, seed):
    assert prov["overrides"] == overrides and prov["seed"] == seed
    assert prov["config"]["die"]["nodes_x"] == 3 and prov["config"]["router"]["vcs"] >= 1
    assert prov["version"] and prov["config_name"] == "default"
    commit, _ = git_commit()
    assert prov["commit"] == commit


def test_without_git_the_commit_is_null(monkeypatch):
    def no_git(*a, **k):
        raise FileNotFoundError("git")
    git_commit.cache_clear()
    monkeypatch.setattr(subprocess, "run", no_git)
    try:
        prov = provenance(load_config("configs/default.yaml"), ["a=1"], 3)
        assert prov["commit"] is None and prov["dirty"] is None and prov["seed"] == 3
    finally:
        git_commit.cache_clear()


def test_sweep_and_vary_record_provenance_and_seed(tmp_path, capsys):
    from dojo.cli import main
    rc = main(["sweep", "configs/default.yaml", *SMALL, "--engine", "model", "--rates", "0.1",
               "--warmup", "50", "--measure", "100", "--seed", "7", "--out", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "sweep.json").read_text())
    _check(res["provenance"], SMALL[1::2], 7)
    rc = main(["sweep", "configs/default.yaml", *SMALL, "--engine", "model", "--rates", "0.1",
               "--warmup", "50", "--measure", "100", "--vary", "router.buffer_depth=4,6",
               "--out", str(tmp_path / "v")])
    assert rc == 0
    res = json.loads((tmp_path / "v" / "router.buffer_depth=6" / "sweep.json").read_text())
    _check(res["provenance"], SMALL[1::2] + ["router.buffer_depth=6"], 1)
    assert res["provenance"]["config"]["router"]["buffer_depth"] == 6


@pytest.mark.parametrize("seed", ["x", "-1", "70000", "1.5"])
def test_sweep_refuses_a_bad_seed(seed, capsys):
    from dojo.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "configs/default.yaml", "--seed", seed])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--seed: {seed!r} is not allowed: must be an integer in 0..65535" in err
    assert "Traceback" not in err


def test_verilog_manifest_records_provenance(tmp_path):
    from dojo.cli import main
    assert main(["verilog", "configs/default.yaml", *SMALL, "--top", "router",
                 "-o", str(tmp_path)]) == 0
    man, = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    _check(man["provenance"], SMALL[1::2], None)
    assert man["provenance"]["config_path"] == "configs/default.yaml"


def test_explore_records_provenance(tmp_path):
    from distributed import Client, LocalCluster
    from sim.explore.grid import design_points, parse_grid
    from sim.explore.run import explore
    points = design_points("configs/default.yaml", SMALL[1::2],
                           parse_grid(["router.vcs=1,2"]), ["uniform"], [5])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        res = explore(points, ["router.vcs"], [0.1], out=tmp_path, engine="model",
                      timing={"warmup": 50, "measure": 100, "drain_limit": 500,
                              "final_drain": 200},
                      client=client, progress=False, log=lambda *a: None,
                      overrides=SMALL[1::2], config_path="configs/default.yaml")
    saved = json.loads((tmp_path / "results.json").read_text())
    _check(saved["provenance"], SMALL[1::2], None)
    assert res["provenance"] == saved["provenance"]
    dp = points[1]
    sweep = json.loads((tmp_path / dp.label / "sweep.json").read_text())
    _check(sweep["provenance"], SMALL[1::2] + ["router.vcs=2"], 5)
    assert sweep["provenance"]["config"]["router"]["vcs"] == 2
