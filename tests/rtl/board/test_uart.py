"""The UART register bridge on the real board top (traffic mesh included), in
cocotb under every available simulator, plus the protocol encoders."""

import pytest

from gen.config import load_config
from gen.fpga import board_design
from rtl.board.uart import UartBridge, UartRx, ctrl_fields
from rtl.measure.traffic import control_layout
from verif.board_protocol import decode_global, encode_read, encode_write, reply_length
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS


@pytest.mark.slow
@pytest.mark.parametrize("sim", [s for s in available_simulators() if s != "icarus"])
def test_bridge_on_board_top(sim):
    """Verilator; Icarus runs the same bridge checks on the 1-VC board top
    (test_board_top_with_one_vc_under_icarus: the configuration where Icarus's own
    X-propagation once differed), not a second copy of this run."""
    cfg = load_config(CONFIGS / "fpga.yaml")
    design = board_design(cfg, baud=1_000_000, clk_hz=8_000_000)      # 8 clocks per bit
    assert design.board.uart["divisor"] == 8
    res = run_cocotb(design, sim=sim, test_module="verif.tb_uart", tag="bridge")
    g = res["bridge"]["global"]
    assert g["marked_generated"] > 0 and g["marked_received"] == g["marked_generated"]
    assert sum(res["bridge"]["marked_per_node"]) == g["marked_received"]


def test_protocol_encoding():
    assert encode_write(3, 0x01020304) == b"W\x03\x04\x03\x02\x01"
    assert encode_read(0x0102, 7) == b"R\x02\x01\x07"
    assert reply_length(b"G") == 13 and reply_length(b"W") == 1 and reply_length(b"R") == 4
    g = decode_global(bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1]))
    assert g == {"marked_generated": 1, "marked_received": 2, "cycle": 3, "error": True}


def test_ctrl_fields_cover_the_layout():
    layout = control_layout(2)
    fields = ctrl_fields(layout)
    assert sum(w for _, _, w in fields) == layout.size
    assert [n for n, _, _ in fields][:2] == ["enable", "mark"]


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="divisor must be an integer of at least 4"):
        UartRx(divisor=2)
    with pytest.raises(TypeError, match="ctrl_layout must be a data.StructLayout"):
        UartBridge(ctrl_layout=8, divisor=8)


@pytest.mark.slow
@pytest.mark.skipif("icarus" not in available_simulators(), reason="iverilog not installed")
def test_board_top_with_one_vc_under_icarus():
    # regression: Icarus left time-zero combinational blocks at X (gen.emit.icarus_safe)
    cfg = load_config(CONFIGS / "fpga.yaml", ["router.vcs=1"])
    design = board_design(cfg, baud=1_000_000, clk_hz=8_000_000)
    res = run_cocotb(design, sim="icarus", test_module="verif.tb_uart", tag="bridge1vc")
    g = res["bridge"]["global"]
    assert g["marked_generated"] > 0 and g["marked_received"] == g["marked_generated"]
