"""cocotb on the emitted compute-node Verilog: the command processor, every available
simulator (a row of two nodes; see verif/tb_cmd.py for what each test checks)."""

import pytest

from gen.config import load_config
from gen.node_build import compute_node_design
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS


@pytest.mark.parametrize("sim", available_simulators())
def test_command_processor(sim):
    cfg = load_config(CONFIGS / "default.yaml", [])
    res = run_cocotb(compute_node_design(cfg, nodes=2), sim=sim, test_module="verif.tb_cmd",
                     tag="cmd")
    assert res["descriptors"]["descriptors"] == 7
    overlap = res["queues_overlap"]
    assert overlap["together"] < overlap["comm_alone"] + overlap["exec_alone"]
    assert len(res["malformed"]["cases"]) == 11
    assert res["pull"]["lines"] == 26
    assert "semaphores" in res and "abort" in res
