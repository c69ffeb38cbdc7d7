# amaranth: UnusedElaboratable=no
"""gen.build.network_design keeps its last designs: the same arguments give the same Design
(its Verilog converted once per process), anything else a design of its own."""

import dataclasses
import types

import pytest

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
    # another config makes a design of its own, whose Verilog is its own
    wider = noc_design(load_config(CONFIGS / "default.yaml", SMALL + ["router.vcs=3"]),
                       kind="bare")
    assert wider is not a and wider.verilog != text


@pytest.fixture
def made(monkeypatch):
    """network_design with a stand-in for the elaboration: the designs it made."""
    out = []

    def fake(cfg, d, **kw):
        out.append(types.SimpleNamespace(derived=d, **kw))
        return out[-1]
    monkeypatch.setattr(build, "_network_design", fake)
    monkeypatch.setattr(build, "_DESIGNS", type(build._DESIGNS)())
    return out


def test_every_argument_and_the_derivation_are_part_of_the_key(made):
    cfg = load_config(CONFIGS / "default.yaml", SMALL)
    d = derive(cfg)
    a = noc_design(cfg, kind="bare", derived=d)
    assert noc_design(cfg, kind="bare") is a
    assert noc_design(cfg, kind="traffic") is not a
    assert noc_design(cfg, kind="bare", top_name="other") is not a
    assert noc_design(cfg, kind="bare", boundary="ports") is not a
    assert network_design(cfg, kind="bare", top="die", boundary="tie",
                          top_name="dojo_mesh_bare") is not a
    assert network_design(cfg, kind="bare", top="tile", boundary="tie",
                          top_name="dojo_mesh_bare", structural_dies=True) is not a
    other = dataclasses.replace(d, link=dataclasses.replace(d.link, pipeline_stages=1))
    b = noc_design(cfg, kind="bare", derived=other)
    assert b is not a and b.derived == other
    assert len(made) == 7


def test_the_memo_keeps_a_few_designs(made):
    cfg = load_config(CONFIGS / "default.yaml", SMALL)
    first = noc_design(cfg, kind="bare")
    for k in range(build._DESIGNS_KEPT):
        noc_design(cfg, kind="bare", top_name=f"t{k}")
    assert len(build._DESIGNS) == build._DESIGNS_KEPT
    assert noc_design(cfg, kind="bare") is not first       # the oldest was let go
