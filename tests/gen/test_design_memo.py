# amaranth: UnusedElaboratable=no
"""gen.build.network_design keeps its last designs: the same arguments give the same Design
(its Verilog converted once per process), anything else a design of its own."""

import dataclasses

from gen import build
from gen.build import network_design, noc_design
from gen.config import load_config
from gen.derive import derive
from tests.conftest import CONFIGS

SMALL = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=2", "die.nodes_y=2"]


def test_the_same_network_is_made_once():
    cfg = load_config(CONFIGS / "default.yaml", SMALL)
    a = noc_design(cfg, kind="bare")
    text = a.verilog
    # an equal config loaded again and its derivation handed down: the same design
    b = noc_design(load_config(CONFIGS / "default.yaml", SMALL), kind="bare",
                   derived=derive(cfg))
    assert b is a and b.verilog is text
    # what differs makes a design of its own, whose Verilog is its own
    wider = noc_design(load_config(CONFIGS / "default.yaml", SMALL + ["router.vcs=3"]),
                       kind="bare")
    assert wider is not a and wider.verilog != text
    assert noc_design(cfg, kind="bare", top_name="other") is not a
    assert network_design(cfg, kind="bare", top="die", boundary="ports") is not a


def test_a_different_derivation_is_not_served_from_the_memo():
    cfg = load_config(CONFIGS / "default.yaml", SMALL)
    d = derive(cfg)
    a = noc_design(cfg, kind="bare", derived=d)
    other = dataclasses.replace(d, link=dataclasses.replace(d.link, pipeline_stages=1))
    b = noc_design(cfg, kind="bare", derived=other)
    assert b is not a and b.derived == other and b.verilog != a.verilog


def test_the_memo_keeps_a_few_designs():
    cfg = load_config(CONFIGS / "default.yaml", SMALL)
    first = noc_design(cfg, kind="bare")
    for k in range(build._DESIGNS_KEPT):
        noc_design(cfg, kind="bare", top_name=f"t{k}")
    assert len(build._DESIGNS) == build._DESIGNS_KEPT
    assert noc_design(cfg, kind="bare") is not first       # the oldest was let go
