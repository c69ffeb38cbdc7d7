"""The training step compiled to node programs and run on the RTL of the default tile:
every GEMM's C and every all-reduced dW bit for bit equal to the golden model, and the
report's figures consistent with the run's own counters."""

import json

import pytest

from gen.config import load_config
from sim.step.run import astra_lines, run_step
from sim.step.spec import load_workload, workload_from_dict
from tests.conftest import CONFIGS

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("workload, overrides", [
    (MLP, ()),                                                    # 16 replicas, 2d all-reduce
    ({"name": "ring2", "parallel": {"data": 2, "grid": [4, 2]}, "allreduce": {"algo": "ring"},
      "layers": [{"name": "a", "tokens": 16, "in": 16, "out": 16}]}, ()),  # SUMMA + ring of 2
])
def test_step_on_the_rtl_is_bit_exact(tmp_path, workload, overrides):
    cfg = load_config(CONFIGS / "default.yaml", list(overrides))
    step = load_workload(workload) if not isinstance(workload, dict) else \
        workload_from_dict(workload)
    r = run_step(cfg, step, out_dir=tmp_path)
    assert r["match"], (r["wrong_results"], r["bad_halts"], r["problems"])
    # the engines did exactly the MACs the compiler planned, no more (the hosts run none)
    assert r["mac_steps"] == r["mac_steps_expected"]
    for n in r["per_node"]:
        assert n["exposed_cycles"] == r["step_cycles"] - n["compute_cycles"] >= 0
    # the all-reduces moved data on the mesh during the step
    assert sum(n["flits_sent"] for n in r["per_node"]) > 0
    assert r["peak_fraction"] == pytest.approx(r["mac_steps"] / (16 * r["step_cycles"]))
    assert json.loads((tmp_path / "result.json").read_text())["step_cycles"] == r["step_cycles"]
    lines = (tmp_path / "astra.txt").read_text().splitlines()
    assert lines == astra_lines(r) and len(lines) == 16
    assert lines[0] == (f"sys[0] finished, {r['step_cycles']} cycles, exposed communication "
                        f"{r['per_node'][0]['exposed_cycles']} cycles")
