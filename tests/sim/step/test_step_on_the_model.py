"""The training step on the fast engine (``run_step(engine="model")``): the MLP preset on
the default tile gives the RTL's record (its Verilator build, the one of
``test_step_rtl.py``'s timeline test, without the watched run): the step's cycles, the
load and read cycles, the MACs, every node's figures, flits, link utilisation and energy,
and the results bit for bit against the golden model on both. Timing only gives the same
record without the data figures; a wrong node kernel fails the comparison."""

import json

import pytest

from gen.config import load_config
from sim.runner import available_simulators
from sim.step.run import MODEL_UNMEASURED, run_step
from sim.step.spec import load_workload
from tests.conftest import CONFIGS
from tests.sim.netmodel.lockstep import one_worker
from tests.sim.test_workloads_on_the_model import first_difference

MLP = CONFIGS.parent / "workloads" / "mlp.yaml"

# the node kernel's compile is shared with the node-model tests' xdist group; the RTL runs
# (the MLP's, pad3's) with test_step_rtl.py (tests/shared_runs.py)
pytestmark = [pytest.mark.slow, one_worker("core"), pytest.mark.usefixtures("shared_rtl_runs")]

#: what only the model's record has: the figures it does not measure, named
MODEL_ONLY = ("not_measured",)


def _model(tmp_path, name, **kw):
    cfg = load_config(CONFIGS / "default.yaml")
    return run_step(cfg, load_workload(MLP), out_dir=tmp_path / name, engine="model", **kw)


@pytest.fixture(scope="module")
def rtl(tmp_path_factory, shared_rtl_runs):
    if "verilator" not in available_simulators():
        pytest.skip("needs Verilator")
    cfg = load_config(CONFIGS / "default.yaml")
    return run_step(cfg, load_workload(MLP), out_dir=tmp_path_factory.mktemp("rtl"),
                    trace_sim=None)


def _without(record, keys):
    return {k: v for k, v in record.items() if k not in keys}


def test_the_mlp_step_on_the_model_gives_the_rtls_record(rtl, tmp_path):
    model = _model(tmp_path, "model")
    assert rtl["match"] and model["match"], model["wrong_results"]     # both bit-exact
    assert model["engine"] == "model" and model["timeline"] is None
    assert model["not_measured"]["keys"] == list(MODEL_UNMEASURED)
    assert not (tmp_path / "model" / "trace.json").exists()
    assert first_difference(rtl, _without(model, MODEL_ONLY)) is None


def test_timing_only_gives_the_same_cycles_and_no_data(rtl, tmp_path, capsys):
    """Through the command line: ``dojo run CONFIG mlp.yaml --engine model --timing-only``."""
    from dojo.cli import main
    assert main(["run", str(CONFIGS / "default.yaml"), str(MLP), "--engine", "model",
                 "--timing-only", "--out", str(tmp_path)]) == 0
    assert "no data (timing only" in capsys.readouterr().out
    model = json.loads((tmp_path / "result.json").read_text())
    assert model["timing_only"] is True and model["timeline"] is None
    assert model["match"] is None and "wrong_results" not in model
    assert model["step_cycles"] == rtl["step_cycles"]
    assert first_difference(_without(rtl, ("match", "wrong_results")),
                            _without(model, MODEL_ONLY + ("match",))) is None


def test_a_wrong_model_fails_the_comparison(rtl, tmp_path, monkeypatch):
    """Routers whose output arbiters never move their round-robin pointer (the network
    model's mutant ``output_pointer_stuck``, as in ``test_workloads_on_the_model``): the
    step takes other cycles and the comparison with the RTL's record fails. (The node
    kernel's mutants ``router_flits_one_cycle_early``, ``second_credit_dropped`` and
    ``response_body_bit_flipped`` leave this step's record the RTL's, measured: this step
    does not reach what they break.)"""
    import sim.netmodel.host as host
    right = host.tile_model
    monkeypatch.setattr(host, "tile_model", lambda *a, **kw: right(
        *a, net_mutant="output_pointer_stuck", **kw))
    monkeypatch.setattr(host, "RUN_CYCLES", 200_000)      # a wrong model may deadlock
    model = _model(tmp_path, "wrong")
    assert model["step_cycles"] != rtl["step_cycles"]
    assert first_difference(rtl, _without(model, MODEL_ONLY)) is not None


#: dWs that are not a multiple of the replicas, all-reduced in uneven chunks: 3 replicas of
#: 2x2 nodes on the 4x4 tile (the fourth block idle), an 8-line dW in chunks of 3, 3 and
#: 2 lines; 16 one-node replicas, an 8-line dW in chunks of one line and empty ones
UNEVEN = [
    ({"name": "uneven3", "parallel": {"data": 3, "grid": [2, 2]},
      "layers": [{"name": "a", "tokens": 8, "in": 8, "out": 8}]}, 8, 4),
    ({"name": "uneven16", "parallel": {"data": 16, "grid": [1, 1]},
      "allreduce": {"algo": "ring"}, "layers": [{"name": "a", "tokens": 4, "in": 4, "out": 4}]},
     8, 0),
]


@pytest.mark.parametrize("workload, dw_lines, idle", UNEVEN, ids=lambda v: v["name"]
                         if isinstance(v, dict) else str(v))
def test_many_replicas_on_the_model_give_the_rtls_record(tmp_path, workload, dw_lines, idle):
    """The compiler's placement and many-replica all-reduce of a dW that is not a multiple
    of the replicas (no padding): bit-exact on both engines, the model's record the RTL's
    (cycles, counters, idle nodes)."""
    from sim.step.spec import workload_from_dict
    if "verilator" not in available_simulators():
        pytest.skip("needs Verilator")
    cfg = load_config(CONFIGS / "default.yaml")
    step = workload_from_dict(workload)
    rtl = run_step(cfg, step, out_dir=tmp_path / "rtl", trace_sim=None)
    model = run_step(cfg, step, out_dir=tmp_path / "model", engine="model")
    assert rtl["match"] and model["match"], (rtl["wrong_results"], model["wrong_results"])
    ar = rtl["allreduce"][0]
    assert ar["lines"] == dw_lines and ar["lines"] % ar["replicas"]
    assert len(rtl["idle_nodes"]) == idle
    assert first_difference(rtl, _without(model, MODEL_ONLY)) is None
