"""Die and tile structure, host addressing, the all-reduce ring and its models (no simulator)."""

import re

import numpy as np
import pytest

from gen.build import network_design
from gen.config import load_config
from sim.allreduce import alpha_beta, golden_allreduce, ring_order
from tests.conftest import CONFIGS
from verif.host import host_address, host_ports, host_reaches


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIGS / "default.yaml", [])


@pytest.fixture(scope="module")
def tile(cfg):
    return network_design(cfg, kind="compute", top="tile", boundary="ports")


def test_tile_is_dies_of_one_module_joined_by_die_links(tile):
    text = tile.verilog
    # 2x2 dies of 2x2 nodes: every module once; 4 nodes per die, 4 dies per tile
    for module in ("dojo_compute_node", "dojo_die_compute", "dojo_dielink", "dojo_tile_compute"):
        assert text.count(f"module {module}(") == 1, module
    assert text.count("dojo_compute_node node_") == 4
    assert text.count("dojo_die_compute die_") == 4
    # 2 die boundaries x 2 links each x 2 directions x 2 (east-west and north-south)
    assert text.count("dojo_dielink dielink") == 16
    man = tile.manifest()
    assert man["mesh_x"] == man["mesh_y"] == 4 and tuple(man["die_shape"]) == (2, 2)
    assert sorted(map(tuple, man["nodes"])) == [(x, y) for x in range(4) for y in range(4)]
    # one host port per column on the south edge and coordinates that address it
    assert host_ports(man) == [f"edge_south_{x}" for x in range(4)]
    assert man["format"]["coord_bits"] == 3


def test_die_top_has_origin_inputs_and_edge_ports(cfg):
    die = network_design(cfg, kind="compute", top="die", boundary="ports")
    ports = {p["name"]: p for p in die.manifest()["ports"]}
    assert ports["x0"]["direction"] == "input" and ports["x0"]["width"] == 3
    for edge in ("north", "south", "east", "west"):
        for i in range(2):
            assert f"in_edge_{edge}_{i}__data" in ports and f"out_edge_{edge}_{i}__valid" in ports
    # node (1, 1) of the die sits at (x0 + 1, y0 + 1): one module serves every die
    die_module = die.verilog[die.verilog.index("module dojo_die_compute("):]
    assert die_module.count("dojo_compute_node node_") == 4
    assert not re.search(r"\.[xy]\(3'h", die_module), "coordinates tied to constants"
    assert "x0 + 1'h1" in die_module


def test_host_addresses_follow_dimension_order(tile):
    man = tile.manifest()
    assert host_address(man, "edge_south_2") == (2, 4)
    with pytest.raises(ValueError, match="south edge only"):
        host_address(man, "edge_west_1")
    reaches = host_reaches(man, (2, 4))
    assert reaches((2, 0)) and reaches((2, 3)) and not reaches((1, 3))


@pytest.mark.parametrize("mx,my", [(4, 4), (2, 2), (3, 2), (2, 3), (6, 4), (3, 3), (1, 4), (5, 1)])
def test_ring_visits_every_node_once_with_one_hop_links_when_possible(mx, my):
    ring = ring_order(mx, my)
    assert sorted(ring) == sorted((x, y) for x in range(mx) for y in range(my))
    hops = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(ring, ring[1:] + ring[:1])]
    hamiltonian = mx >= 2 and my >= 2 and (mx % 2 == 0 or my % 2 == 0)
    assert all(h == 1 for h in hops) == hamiltonian
    assert all(h == 1 for h in hops[:-1])          # a snake otherwise: only the closing link is long


def test_alpha_beta_counts_steps_flits_and_die_crossings():
    ring = ring_order(4, 4)
    args = dict(max_packet_flits=8, push_flits=2, host_of=lambda n: (n[0], 4))
    flat = alpha_beta(ring, lines=32, die_shape=None, dielink=None, **args)
    tiled = alpha_beta(ring, lines=32, die_shape=(2, 2), dielink={"ratio": 2, "latency": 3},
                       **args)
    assert flat["steps"] == tiled["steps"] == 30
    assert flat["flits_per_step"] == 3                  # 2 lines + 1 head
    assert flat["beta"] == 1 and tiled["beta"] == 2     # the ring crosses die boundaries
    assert tiled["alpha"] > flat["alpha"]
    assert flat["cycles"] == round(30 * (flat["alpha"] + 3))
    bigger = alpha_beta(ring, lines=64 * 16, die_shape=None, dielink=None, **args)
    assert bigger["flits_per_step"] == 64 + 10          # 64 lines in packets of 7


def test_golden_allreduce_int32_is_the_wrapping_sum():
    from gen.node_build import compute_node_design
    from verif.node_model import NodeModel
    cfg = load_config(CONFIGS / "default.yaml", [])
    model = NodeModel.from_manifest(compute_node_design(cfg).manifest())
    ring = ring_order(2, 2)
    rng = np.random.default_rng(0)
    vals = rng.integers(0, 2**32, (4, 8, 2), dtype=np.uint64)
    vectors = [model.pack_elements([int(v) for v in node.ravel()], 32) for node in vals]
    got = golden_allreduce(model, vectors, ring, "int32")
    expected = (vals.sum(axis=0) % 2**32).ravel()
    assert got == model.pack_elements([int(v) for v in expected], 32)


def test_too_wide_traffic_die_is_a_clear_error():
    """Amaranth cannot number more than 65534 input bits in a module: only dies of
    training nodes have a structural writer; anything else is refused by name."""
    from gen.emit import ModuleLibrary
    from rtl.fabric.die import Die
    from gen.build import packet_format
    cfg = load_config(CONFIGS / "default.yaml", ["router.flit_bits=1024", "die.nodes_x=19",
                                                 "die.nodes_y=19", "tile.dies_x=1"])
    lib = ModuleLibrary()
    params = {"vcs": 2, "buffer_depth": 4, "routing": "xy"}
    with pytest.raises(ValueError, match=r"input bits; Amaranth converts at most 65534"):
        lib.add("too_wide", lambda: Die(lib=lib, fmt=packet_format(cfg), nodes_x=19,
                                        nodes_y=19, kind="bare", node_params=params))


def test_manifest_gives_every_port_a_role(tile):
    ports = {p["name"]: p for p in tile.manifest()["ports"]}
    assert ports["in_edge_south_2__data"]["role"] == "link in edge_south_2: flit payload"
    assert ports["out_edge_south_2__credit"]["direction"] == "input"
    assert ports["out_edge_south_2__credit"]["role"].startswith("link out edge_south_2: credit")
    assert ports["errors"]["width"] == 32 and ports["clk"]["role"] == "clock"
