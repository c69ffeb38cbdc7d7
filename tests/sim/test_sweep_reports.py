"""Sweep reports (issue 27): what sweep.json, the printed tables and the plots say, and
that every figure in them was measured (model engine, small meshes, short windows)."""

import json

import pytest

from gen.config import load_config

MESH = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=5", "die.nodes_y=4"]
SHORT = {"warmup": 50, "measure": 100, "drain_limit": 500, "final_drain": 200}


def test_sweep_writes_its_points_before_the_summary(tmp_path, monkeypatch):
    """A summary that fails (here: the bound raises) leaves sweep.json with every point."""
    import sim.sweep as sweep
    cfg = load_config("configs/default.yaml", MESH)
    monkeypatch.setattr(sweep, "channel_load_bound", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sweep.run_sweep(cfg, rates=[0.05, 0.1], engine="model", timing=SHORT,
                        progress=False, out=tmp_path)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["offered"] for p in saved["points"]] == [0.05, 0.1]
