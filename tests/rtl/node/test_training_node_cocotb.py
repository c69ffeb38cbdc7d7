"""cocotb on the emitted compute-node Verilog (two nodes in a row), every available simulator."""

import pytest

from gen.config import load_config
from gen.node_build import compute_node_design
from sim.runner import available_simulators, run_cocotb
from tests.conftest import CONFIGS

SIMS = available_simulators()


@pytest.mark.parametrize("sim", SIMS)
def test_node_through_network(sim):
    cfg = load_config(CONFIGS / "default.yaml", [])
    design = compute_node_design(cfg, nodes=2)
    res = run_cocotb(design, sim=sim, test_module="verif.tb_node", tag="suite",
                     scenario={"params": {"seed": 8, "gemms": 6}})
    assert res["write_read"]["lines_checked"] > 0
    assert res["add_sequences"]["lines_matched"] == {"INT32": 16, "FP32": 16}
    assert res["push_between_nodes"]["lines"] > 0
    runs = res["exec_random_gemms"]["runs"]
    assert len(runs) == 6 and all(r["match"] for r in runs)
    assert {r["dtype"] for r in runs} == {"bf16", "int8"}
    assert {r["accumulate"] for r in runs} == {True, False}
    assert res["malformed"]["dropped"] == 7


@pytest.mark.slow
def test_run_gemm(tmp_path):
    """sim.gemm.run_gemm end to end (the fastest simulator here), float32 bf16 inputs."""
    import json

    import numpy as np

    from sim.gemm import run_gemm
    from verif import golden
    cfg = load_config(CONFIGS / "default.yaml", [])
    rng = np.random.default_rng(2)
    a = golden.bf16_bits_to_float(golden.interesting_bf16(rng, 8 * 16).reshape(8, 16))
    res = run_gemm(cfg, m=8, n=4, k=16, dtype="bf16", a=a, sim=SIMS[-1], out_dir=tmp_path)
    assert res["match"] and res["steps"] == 2 * 16
    assert 0 < res["mac_utilisation"] <= 1
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["match"] and saved["exec_cycles"] == res["exec_cycles"]
    c = np.load(tmp_path / "C.npy")
    assert c.dtype == np.float32 and c.shape == (8, 4)
    with pytest.raises(ValueError, match="not exact bf16 values"):
        run_gemm(cfg, m=4, n=4, k=4, dtype="bf16", a=np.full((4, 4), 0.1, np.float32),
                 out_dir=tmp_path)
    with pytest.raises(ValueError, match="multiple of node.matrix_p=4"):
        run_gemm(cfg, m=6, n=4, k=4, dtype="int8", out_dir=tmp_path)
