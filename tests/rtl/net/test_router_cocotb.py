"""cocotb on the emitted router Verilog, under every available simulator."""

import pytest

from gen.build import router_design
from gen.config import load_config
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS

SIMS = available_simulators()


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("overrides", [
    ["router.vcs=2", "router.buffer_depth=4"],
    ["router.vcs=1", "router.buffer_depth=3"],
    ["router.vcs=4", "router.buffer_depth=3", "router.routing=yx"],
], ids=["2vc", "1vc", "4vc-yx"])
def test_router_random_traffic(sim, overrides):
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=4", "tile.dies_y=4", *overrides])
    design = router_design(cfg)
    result = run_cocotb(design, sim=sim, test_module="verif.tb_router",
                        tag="-".join(overrides).replace("=", ""),
                        scenario={"params": {"x": 2, "y": 3, "size": [8, 8], "seed": 7,
                                             "packets_per_input": 60, "max_len": 4,
                                             "idle": 0.2, "stall": 0.4}})
    assert result["random_traffic"]["matched"] == result["random_traffic"]["packets"] == 5 * 60
    assert result["zero_load_latency"]["latencies"] and set(result["zero_load_latency"]["latencies"]) == {1}
