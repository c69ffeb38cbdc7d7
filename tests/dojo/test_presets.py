"""Every preset in configs/ through every user-facing command (issue 27's guard).

A change to a preset or to a shared path must not break a flagship command unnoticed (the
d1 preset's harvest map once made ``dojo verilog --top die`` refuse and ``dojo sweep``
never finish). The presets are the files in ``configs/``, so a new one is covered without
a word here; each command runs in this process through :func:`dojo.cli.main`, on the fast
model where it simulates:

* ``derive`` with ``--compare`` and with ``--json``;
* ``verilog`` of every top of :data:`dojo.tops.TOPS`, except the few that take minutes or
  more (:data:`MINUTES`); the D1 die's (about a minute: 47 s of CPU) is a ``slow`` test of
  its own, also timed by ``make bench`` (the scale section); the quick tier emits the
  default preset's tops only (:data:`QUICK_PRESET`), ``make test`` every preset's;
* a two-point ``sweep --engine model`` with short windows: on ``d1`` that is the whole
  95 x 95 tile with its harvest map.
"""

import json

import pytest

from dojo.cli import main
from dojo.tops import TOPS
from tests.conftest import CONFIGS

PRESETS = sorted(p.stem for p in CONFIGS.glob("*.yaml"))

#: (preset, top) left out, measured on 2 shared cores: the D1 tops of the whole 95 x 95
#: tile (noc, board: over 4 minutes, stopped there; tile: 25 dies of 361 training nodes;
#: mesh: refused after 21 s in one line, its die module has more input bits than Amaranth
#: converts) and the D1 node alone (2.4 minutes under load: the same dojo_compute_node
#: module the slow die test emits).
MINUTES = {("d1", "mesh"), ("d1", "noc"), ("d1", "board"), ("d1", "tile"), ("d1", "node")}
#: (preset, top) that takes a minute or two: the one test marked slow (and ``make bench``,
#: the scale section, times the same command)
SLOW = {("d1", "die")}


def test_every_preset_is_covered():
    assert {"default", "noc8x8", "fpga", "d1"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_derive_compare_and_json(preset, capsys):
    path = str(CONFIGS / f"{preset}.yaml")
    assert main(["derive", path, "--compare"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"Physical derivation: {preset}\n") and not err
    assert "published D1 / tile vs derived" in out
    assert main(["derive", path, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    t = d["tile"]
    assert t["nodes"] == t["mesh_x"] * t["mesh_y"] >= 1
    assert 1 <= t["live_nodes"] <= t["nodes"]


def _verilog(preset, top, out):
    assert main(["verilog", str(CONFIGS / f"{preset}.yaml"), "--top", top, "-o",
                 str(out)]) == 0
    module = TOPS[top][0]
    manifest = json.loads((out / f"{module}.json").read_text())
    assert manifest["top"] == module and manifest["ports"]
    text = (out / f"{module}.v").read_text()
    assert f"module {module}(" in text


#: the preset whose every top the quick tier (make check) emits; the other presets' tops
#: are ``slow`` (make test): 3-7 s of CPU each, 50 s in all, the same paths on other values
QUICK_PRESET = "default"


@pytest.mark.parametrize("preset, top", [
    pytest.param(preset, top, marks=() if preset == QUICK_PRESET else pytest.mark.slow)
    for preset in PRESETS for top in TOPS if (preset, top) not in MINUTES | SLOW])
def test_verilog_of_every_top(preset, top, tmp_path):
    _verilog(preset, top, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("preset, top", sorted(SLOW))
def test_verilog_of_the_tops_that_take_a_minute(preset, top, tmp_path):
    """The D1 die with its harvest map (refused once: a fault map is run-time data)."""
    _verilog(preset, top, tmp_path)


@pytest.mark.parametrize("preset", [
    pytest.param(p, marks=pytest.mark.slow) if p == "d1" else p for p in PRESETS])
def test_two_point_model_sweep(preset, tmp_path, capsys, monkeypatch):
    """Two rates on the fast model with short windows; on d1 the full tile with its
    harvest map (the sweep once ran out of memory after its points had simulated: 40 s of
    CPU, so make test only; the other presets' sweeps take a second). The final drain
    (traffic off, before the counters are read) is as short as the window: its default
    3000 cycles were half of the d1 sweep's time, and every point drains its marked
    packets before it (``drained``, checked below)."""
    import sim.sweep
    monkeypatch.setitem(sim.sweep.DEFAULT_TIMING, "final_drain", 200)
    assert main(["sweep", str(CONFIGS / f"{preset}.yaml"), "--engine", "model", "--rates",
                 "0.002,0.005", "--warmup", "100", "--measure", "200", "--out",
                 str(tmp_path)]) == 0
    res = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["offered"] for p in res["points"]] == [0.002, 0.005]
    assert all(p["accepted_avg"] > 0 and p["drained"] for p in res["points"])
    assert res["timing"]["final_drain"] == 200
    assert "error" not in capsys.readouterr().err
