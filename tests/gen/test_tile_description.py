# amaranth: UnusedElaboratable=no
"""The fast engine's compute tile without components (:class:`gen.build.TileDescription`)
against the design it stands for: its manifest holds every key of the design's manifest
that describes the design (not the ports, modules or Verilog digest, which need the
Verilog), each equal to the design's, on a one-die tile, a 3x2 tile of dies with the die
link's link layer and 128-bit flits, and one with a fault map; and whole, Verilog keys
aside, against the emitted manifest of the default tile."""

import pytest

from gen.build import TileDescription, compute_tile, network_design
from gen.config import load_config
from gen.derive import derive
from tests.conftest import CONFIGS

#: the keys only the emitted Verilog gives
VERILOG_KEYS = {"generator", "generator_version", "top", "modules", "verilog_sha256_16",
                "ports"}


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("overrides", [
    ["tile.dies_x=1", "tile.dies_y=1"],
    ["tile.dies_x=3", "dielink.link_layer=true", "router.flit_bits=128"],
    ["die.disabled_nodes=[[1, 0]]"],
], ids=["one-die", "3x2-link-layer-128", "disabled-node"])
def test_the_description_is_the_designs_manifest_but_the_verilog(overrides):
    cfg = load_config(CONFIGS / "default.yaml", overrides)
    d = derive(cfg)
    design = network_design(cfg, kind="compute", top="tile", boundary="ports", derived=d)
    # the manifest but its Verilog keys (Design.manifest's own composition; emitting the
    # Verilog to check it whole takes seconds per tile, done once below)
    full = {"params": design.params, **design.description(), **dict.fromkeys(VERILOG_KEYS)}
    light = TileDescription(cfg, d).manifest()
    assert set(full) - set(light) == VERILOG_KEYS
    assert set(light) <= set(full)
    for key in light:
        assert light[key] == full[key], key
    # what the fast engine reads of it (sim.netmodel.host.Tile, verif.node_model)
    for key in ("format", "nodes", "node", "edge_ports", "mesh_x", "mesh_y"):
        assert light[key], key


def test_the_model_engine_gets_the_description_and_the_rtl_the_design():
    cfg = load_config(CONFIGS / "default.yaml", [])
    d = derive(cfg)
    assert isinstance(compute_tile(cfg, engine="model", derived=d), TileDescription)
    rtl = compute_tile(cfg, derived=d)
    assert rtl is network_design(cfg, kind="compute", top="tile", boundary="ports", derived=d)


def test_the_description_equals_the_emitted_manifest():
    cfg = load_config(CONFIGS / "default.yaml", [])
    d = derive(cfg)
    full = network_design(cfg, kind="compute", top="tile", boundary="ports",
                          derived=d).manifest()
    light = TileDescription(cfg, d).manifest()
    assert {k: v for k, v in full.items() if k not in VERILOG_KEYS} == light
