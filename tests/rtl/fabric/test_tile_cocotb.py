"""cocotb on tiles of training nodes with host models at the edge, every available simulator.

Small tile (both simulators): 1x2 dies of 2x1 nodes, the host columns crossing
the die boundary. Default tile (Verilator): 2x2 dies of 2x2 nodes, the design
``make sim`` runs (one cached build serves both).
"""

import numpy as np
import pytest

from gen.build import network_design
from gen.config import load_config
from sim.allreduce import run_allreduce
from sim.gemm import check_tile_gemm, gemm_blocks, run_tile_gemm, tile_gemm_shape
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS

SIMS = available_simulators()
SMALL = ["die.nodes_x=2", "die.nodes_y=1", "tile.dies_x=1", "tile.dies_y=2"]


def small_cfg():
    return load_config(CONFIGS / "default.yaml", SMALL)


@pytest.mark.parametrize("sim", SIMS)
def test_small_tile_host_access_gemm_allreduce(sim, tmp_path):
    cfg = small_cfg()
    design = network_design(cfg, kind="compute", top="tile", boundary="ports")
    assert design.network.die_shape == (2, 1)
    res = run_cocotb(design, sim=sim, test_module="verif.tb_tile", tag="access",
                     scenario={"host_access": {"seed": 3}})["host_access"]
    assert res["lines_checked"] > 20 and not res["problems"]
    assert res["hosts"] == [[0, 2], [1, 2]]
    for dtype in ("int8", "bf16"):
        g = run_tile_gemm(cfg, m=16, n=16, k=16, dtype=dtype, sim=sim,
                          out_dir=tmp_path / f"gemm-{dtype}")
        assert g["match"] and not g["problems"], (dtype, g["mismatches"], g["problems"])
        assert g["steps_total"] == (16 // 4) * (16 // 4) * 16
        assert 0 < g["peak_fraction"] < g["compute_peak_fraction"] <= 1
        # the nodes' event counters (energy) agree with the engines' own step registers
        counts = g["energy"]["counts"]
        assert counts[f"macs_{dtype}"] == g["steps_total"] * 4 * 4
        other = "bf16" if dtype == "int8" else "int8"
        assert counts[f"macs_{other}"] == 0
        assert g["energy"]["joules"]["macs_" + dtype] > 0 and g["energy"]["watts"] > 0
    for dtype in ("int32", "fp32"):
        r = run_allreduce(cfg, dtype=dtype, lines=8, sim=sim, out_dir=tmp_path / f"ar-{dtype}")
        assert r["match"] and not r["problems"], (dtype, r["wrong_nodes"], r["problems"])
        assert r["model"]["steps"] == 6 and r["cycles"] > r["model"]["bandwidth_cycles"]


#: the default compute tile's Verilator build serves its GEMM, its all-reduce and the GEMM
#: around disabled nodes: one xdist worker runs those in turn instead of the other waiting
#: on the build lock
DEFAULT_TILE_BUILD = pytest.mark.xdist_group("compute-tile-default")


@pytest.mark.slow
@DEFAULT_TILE_BUILD
@pytest.mark.skipif("verilator" not in SIMS, reason="Verilator not available")
@pytest.mark.usefixtures("shared_rtl_runs")     # the RTL records of test_workloads_on_the_model
def test_default_tile_gemm_and_allreduce(tmp_path):
    cfg = load_config(CONFIGS / "default.yaml", [])
    m, n, k = tile_gemm_shape(cfg)
    g = run_tile_gemm(cfg, m=m, n=n, k=k, dtype="bf16", sim="verilator", out_dir=tmp_path / "g")
    assert g["match"] and g["nodes"] == 16 and not g["problems"]
    assert g["compute_peak_fraction"] > 0.9             # the engines run at full rate
    r = run_allreduce(cfg, dtype="fp32", sim="verilator", out_dir=tmp_path / "ar")
    assert r["match"] and r["nodes"] == 16 and not r["problems"]
    # the model is the same algorithm on the same mesh: within a factor of two
    assert 0.5 < r["measured_over_model"] < 2


@pytest.mark.parametrize("sim", [pytest.param(s, marks=DEFAULT_TILE_BUILD) if s == "verilator"
                                 else s for s in SIMS])
def test_host_gemm_skips_disabled_nodes(sim, tmp_path):
    """Disabled nodes are never given a block: their column's bands go to its live nodes
    (one taller GEMM each), C is bit-exact and their SRAM is still zero at the end. The
    RTL is that of the full tile (a disabled node is elaborated), so the build is shared.
    Verilator: the default tile with one node off per die; Icarus: the small tile with one
    node off in one die."""
    if sim == "verilator":
        cfg = load_config(CONFIGS / "default.yaml", ["die.disabled_nodes=[[1, 0]]"])
        m, n, k = tile_gemm_shape(cfg)
        dtype, off = "bf16", [[1, 0], [3, 0], [1, 2], [3, 2]]
    else:
        cfg = load_config(CONFIGS / "default.yaml", SMALL + [
            "tile.fault_maps=[{die: [0, 0], disabled_nodes: [[0, 0]]}]"])
        m, n, k, dtype, off = 16, 16, 16, "int8", [[0, 0]]
    g = run_tile_gemm(cfg, m=m, n=n, k=k, dtype=dtype, sim=sim, out_dir=tmp_path)
    assert g["skipped_nodes"] == off and not g["skipped_nodes_written"]
    assert g["match"] and not g["problems"], (g["mismatches"], g["problems"])
    assert g["nodes"] == g["mesh"][0] * g["mesh"][1] - len(off)
    assert g["steps_total"] == (m // 4) * (n // 4) * k       # every MAC done exactly once
    doubled = [key for key, (r0, r1, _, _) in g["blocks"].items() if r1 - r0 == 2]
    assert len(doubled) == len(off)
    # the slowest engine did two bands: about twice the others' cycles
    fastest = min(g["exec_cycles"].values())
    assert 1.8 * fastest < g["exec_cycles_max"] < 2.2 * fastest


def test_gemm_blocks_split_a_hosts_line_over_its_live_nodes():
    full = load_config(CONFIGS / "default.yaml", [])
    assert gemm_blocks(full) == {(x, y): (y, y + 1, x, x + 1) for y in range(4) for x in range(4)}
    cfg = load_config(CONFIGS / "default.yaml", [
        "tile.fault_maps=[{die: [0, 0], disabled_nodes: [[0, 0], [0, 1]]}, "
        "{die: [0, 1], disabled_nodes: [[0, 0]]}]"])
    blocks = gemm_blocks(cfg)                    # column 0: only (0, 3) is live
    assert blocks[(0, 3)] == (0, 4, 0, 1) and (0, 0) not in blocks
    assert blocks[(1, 1)] == (1, 2, 1, 2)
    yx = load_config(CONFIGS / "default.yaml", ["router.routing=yx",
                                                "die.disabled_nodes=[[1, 0]]"])
    blocks = gemm_blocks(yx)                     # row 0: (0, 0) and (2, 0) take two bands each
    assert blocks[(0, 0)] == (0, 1, 0, 2) and blocks[(2, 0)] == (0, 1, 2, 4)
    # a column without a live node, and a share that no longer fits the SRAM
    cut = load_config(CONFIGS / "default.yaml", SMALL + ["die.disabled_nodes=[[0, 0]]"])
    with pytest.raises(ValueError, match=r"column x=0 has no live node"):
        gemm_blocks(cut)
    one = load_config(CONFIGS / "default.yaml", SMALL + [
        "tile.fault_maps=[{die: [0, 0], disabled_nodes: [[0, 0]]}]"])
    check_tile_gemm(small_cfg(), m=16, n=16, k=192, dtype="int8")
    with pytest.raises(ValueError, match="SRAM"):
        check_tile_gemm(one, m=16, n=16, k=192, dtype="int8")


def test_workload_arguments_are_checked(tmp_path):
    cfg = small_cfg()
    with pytest.raises(ValueError, match="multiple of 8"):
        run_tile_gemm(cfg, m=12, n=16, k=16, dtype="int8", out_dir=tmp_path)
    with pytest.raises(ValueError, match="does not fit|SRAM"):
        run_tile_gemm(cfg, m=16 * 8, n=16 * 8, k=256, dtype="int8", out_dir=tmp_path)
    with pytest.raises(ValueError, match="multiple of the 4 nodes"):
        run_allreduce(cfg, lines=6, out_dir=tmp_path)
    with pytest.raises(ValueError, match="int32 or fp32"):
        run_allreduce(cfg, dtype="bf16", out_dir=tmp_path)


@pytest.mark.parametrize("sim", SIMS)
def test_structural_die_behaves_like_the_amaranth_die(sim):
    """Dies too wide for Amaranth are written by gen.structural: simulate a tile of those."""
    cfg = small_cfg()
    design = network_design(cfg, kind="compute", top="tile", boundary="ports",
                            structural_dies=True)
    plain = network_design(cfg, kind="compute", top="tile", boundary="ports")
    assert design.verilog != plain.verilog
    res = run_cocotb(design, sim=sim, test_module="verif.tb_tile", tag="access",
                     scenario={"host_access": {"seed": 4}})["host_access"]
    assert res["lines_checked"] > 20 and not res["problems"]
