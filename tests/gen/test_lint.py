"""Lint: every emittable top (router, mesh, noc, FPGA board, node, die, tile) is clean under `verilator --lint-only -Wall` with the
explained waivers of constraints/verilator_waivers.vlt, and compiles under Icarus."""

import re
import shutil

import pytest

from gen.config import load_config
from dojo.tops import top_design
from gen.lint import WAIVERS, iverilog_check, lint_design, lint_verilog
from tests.conftest import CONFIGS


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIGS / "fpga.yaml")


#: the router is linted in make check too; the larger tops take 5 s to a minute each and
#: are slow (make test)
@pytest.mark.parametrize("top", ["router"] + [pytest.param(t, marks=pytest.mark.slow) for t in
                                              ("mesh", "noc", "board", "node", "die", "tile")])
def test_top_is_lint_clean(cfg, top, tmp_path):
    res = lint_design(top_design(cfg, top), tmp_path)
    assert res["clean"], "\n".join(res["messages"][:30])
    assert sum(res["raw"].values()) > 0            # the waivers did something
    if shutil.which("iverilog"):
        assert res["icarus"] is True, res.get("icarus_log")


def test_router_1vc_and_yx_lint_clean(tmp_path):
    cfg = load_config(CONFIGS / "fpga.yaml", ["router.vcs=1", "router.routing=yx"])
    res = lint_design(top_design(cfg, "router"), tmp_path, icarus=False, raw=False)
    assert res["clean"], "\n".join(res["messages"][:30])
    # raw=False: the second Verilator run (without waivers) is not made
    assert res["raw"] is None and not list(tmp_path.glob("*.lint-raw.log"))


def test_every_waiver_is_explained():
    lines = WAIVERS.read_text().splitlines()
    waivers = [i for i, line in enumerate(lines) if line.startswith("lint_off")]
    assert waivers
    for i in waivers:
        assert lines[i - 1].startswith("//") and len(lines[i - 1]) > 20, \
            f"waiver on line {i + 1} has no explanation above it"
        rule = re.search(r"-rule (\w+)", lines[i]).group(1)
        block = "\n".join(lines[max(0, i - 15):i])
        assert rule in block, f"the comment above line {i + 1} does not name {rule}"


# in the style Amaranth emits: one port declaration per line
BROKEN = """module broken(clk, a, unused_in, q, r);
  input clk;
  input [3:0] a;
  input [3:0] unused_in;
  output reg [3:0] q;
  output [3:0] r;
  always @(posedge clk) q <= a;
endmodule

module wrap(clk, a, q, r);
  input clk;
  input [3:0] a;
  output [3:0] q;
  output [3:0] r;
  broken u(.clk(clk), .a(a), .unused_in(a), .q(q), .r(r));
endmodule
"""


def test_real_problems_are_not_waived(tmp_path):
    """An undriven output is a warning the waivers do not hide."""
    path = tmp_path / "broken.v"
    path.write_text(BROKEN)
    res = lint_verilog(path, "wrap")
    assert not res["clean"]
    assert any(m.startswith("UNDRIVEN") for m in res["messages"]), res["messages"]


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_icarus_rejects_bad_verilog(tmp_path):
    path = tmp_path / "bad.v"
    path.write_text("module bad(input a, output b); assign b = a &; endmodule\n")
    ok, log = iverilog_check(path, "bad")
    assert ok is False and log


@pytest.mark.slow
@pytest.mark.parametrize("structural", [False, True])
def test_tile_of_dies_and_structural_die_lint_clean(structural, tmp_path):
    """A 2x2-die tile (die links, one die module) and the structural die writer."""
    from gen.build import network_design
    cfg = load_config(CONFIGS / "default.yaml", [])
    top = "die" if structural else "tile"
    design = network_design(cfg, kind="compute", top=top, boundary="ports",
                            top_name=f"dojo_{top}", structural_dies=structural)
    res = lint_design(design, tmp_path, raw=False)
    assert res["clean"], "\n".join(res["messages"][:30])
    if shutil.which("iverilog"):
        assert res["icarus"] is True, res.get("icarus_log")


@pytest.mark.parametrize("top", ["router", pytest.param("noc", marks=pytest.mark.slow)])
def test_table_mode_lint_clean(top, tmp_path):
    """The table router and a traffic tile with a dead router and disabled nodes."""
    cfg = load_config(CONFIGS / "default.yaml",
                      ["router.routing=table", "tile.fault_maps=[{die: [1, 0], "
                       "dead_routers: [[0, 1]]}]", "die.disabled_nodes=[[1, 1]]"])
    res = lint_design(top_design(cfg, top), tmp_path, icarus=False, raw=False)
    assert res["clean"], "\n".join(res["messages"][:30])


@pytest.mark.slow
def test_traffic_tile_with_the_die_link_layer_lint_clean(tmp_path):
    """Die links with the link layer in a traffic tile: their counters, the window input the
    tile drives from its registered ctrl.mark (about 5 s)."""
    cfg = load_config(CONFIGS / "default.yaml",
                      ["die.nodes_x=2", "die.nodes_y=1", "tile.dies_x=1", "tile.dies_y=2",
                       "dielink.link_layer=true"])
    design = top_design(cfg, "noc")
    res = lint_design(design, tmp_path, icarus=False, raw=False)
    assert res["clean"], "\n".join(res["messages"][:30])
    verilog = (tmp_path / f"{design.top_name}.v").read_text()
    assert "dielink_window" in verilog and "st_window_control" in verilog
