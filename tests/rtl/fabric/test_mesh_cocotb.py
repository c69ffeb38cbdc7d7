"""cocotb on emitted meshes of bare routers (Python-driven traffic), every simulator."""

import pytest

from gen.build import noc_design
from gen.config import load_config
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS

SIMS = available_simulators()

PHASES = [
    {"idle": 0.0, "stall": 0.0, "packets_per_node": 40},    # saturation burst
    {"idle": 0.0, "stall": 0.6, "packets_per_node": 30},    # burst against ejection stalls
    {"idle": 0.7, "stall": 0.3, "packets_per_node": 20},    # light load
]


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("shape, extra", [
    ((2, 2), []),
    ((3, 3), ["router.vcs=1", "router.buffer_depth=3"]),
    ((4, 2), ["router.vcs=4", "router.routing=yx"]),
], ids=["2x2", "3x3-1vc", "4x2-4vc-yx"])
def test_mesh_random_traffic(sim, shape, extra):
    nx, ny = shape
    cfg = load_config(CONFIGS / "default.yaml",
                      ["tile.dies_x=1", "tile.dies_y=1", f"die.nodes_x={nx}", f"die.nodes_y={ny}", *extra])
    design = noc_design(cfg, kind="bare", top_name="dojo_mesh_bare")
    result = run_cocotb(design, sim=sim, test_module="verif.tb_mesh", tag="_".join(extra) or "base",
                        scenario={"params": {"seed": 11, "max_len": 4, "phases": PHASES}})
    rt = result["random_traffic"]
    assert rt["matched"] == rt["packets"] == nx * ny * sum(p["packets_per_node"] for p in PHASES)
    assert result["zero_load_latency"]["latency_minus_hops"] == [1]
