"""A tile whose die links carry the link layer (with every injector on) is clean under
`verilator --lint-only -Wall` and compiles under Icarus; its Verilog is deterministic."""

import shutil

import pytest

from gen.build import noc_design
from gen.config import load_config
from gen.lint import lint_design
from tests.conftest import CONFIGS

SMALL = ["die.nodes_x=2", "die.nodes_y=1", "tile.dies_x=1", "tile.dies_y=2",
         "dielink.link_layer=true"]


@pytest.mark.parametrize("extra", [
    ["dielink.ber=1e-3", "dielink.ber_reverse=1e-3", "dielink.lane_fail_cycle=100"],
    # the quick tier lints the tile with every injector on; these two in make test
    pytest.param(["router.vcs=1", "dielink.crc_bits=16", "dielink.burst_len=16",
                  "dielink.lane_fail_cycle=100", "dielink.lane_fail_link=2"],
                 marks=pytest.mark.slow),
    pytest.param([], marks=pytest.mark.slow),
], ids=["ber-lanefail", "vc1-crc16", "ber0"])
def test_tile_with_link_layer_is_lint_clean(extra, tmp_path):
    cfg = load_config(CONFIGS / "default.yaml", SMALL + extra)
    design = noc_design(cfg, kind="traffic")
    res = lint_design(design, tmp_path, icarus=bool(shutil.which("iverilog")), raw=False)
    assert res["clean"], "\n".join(res["messages"][:30])
    if shutil.which("iverilog"):
        assert res["icarus"] is True, res.get("icarus_log")
    assert noc_design(cfg, kind="traffic").verilog == design.verilog
