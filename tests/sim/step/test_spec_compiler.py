"""The training step's workload files and compiler: validation in one line per problem,
the compiler's refusals, and its programs (no simulation here)."""

import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.collectives import executed
from sim.step.compiler import compile_step
from sim.step.spec import load_workload, workload_from_dict
from tests.conftest import CONFIGS
from verif.node_model import CmdOp, NodeModel

ROOT = CONFIGS.parent
MLP = ROOT / "workloads" / "mlp.yaml"
TRANSFORMER = ROOT / "workloads" / "transformer.yaml"


def _cfg(*overrides):
    cfg = load_config(CONFIGS / "default.yaml", list(overrides))
    d = derive(cfg)
    return cfg, d, NodeModel.from_config(cfg, d)


def test_presets_load_and_order_the_backward_pass():
    step = load_workload(MLP)
    kinds = [(g.layer, g.kind) for g in step.gemms()]
    assert kinds == [("up", "forward"), ("down", "forward"), ("down", "backward_weight"),
                     ("down", "backward_data"), ("up", "backward_weight")]
    g = step.gemms()[2]                 # dW = X^T dY: in x out x tokens
    assert (g.m, g.n, g.k) == (16, 8, 4)
    assert load_workload(TRANSFORMER).data == 2


def test_bad_workload_is_one_line_per_problem_naming_key_value_and_allowed():
    with pytest.raises(ConfigError) as exc:
        workload_from_dict({"name": "x", "dtype": "fp8",
                            "layers": [{"name": "a", "tokens": 0, "in": 8, "out": 8, "x": 1}],
                            "parallel": {"grid": [2]}})
    assert exc.value.problems == [
        "dtype: 'fp8' is not allowed: must be one of 'bf16', 'int8'",
        "layers[0].x: unknown key (allowed: in, name, out, passes, tokens)",
        "layers[0].tokens: 0 is not allowed: must be an integer >= 1 and <= 4096",
        "parallel.grid: [2] is not allowed: must be an [x, y] pair of integers >= 1"]


@pytest.mark.parametrize("raw, key", [
    ({"parallel": {"data": 3, "grid": [1, 1]}}, "parallel.data: 3 is not allowed"),
    ({"parallel": {"data": 1, "grid": [3, 1]}}, "parallel.grid: [3, 1] is not allowed"),
    ({"parallel": {"data": 4, "grid": [2, 2]}}, "parallel.data: 4 is not allowed with a 2x2"),
])
def test_compiler_refuses_splits_that_do_not_fit(raw, key):
    cfg, d, mdl = _cfg()
    step = workload_from_dict({"name": "x", "layers": [{"name": "a", "tokens": 4, "in": 8,
                                                         "out": 8}], **raw})
    with pytest.raises(ValueError) as exc:
        compile_step(cfg, d, step, mdl, data=False)
    assert str(exc.value).startswith(key) and "\n" not in str(exc.value)


def test_compiler_refuses_what_the_sram_cannot_hold():
    cfg, d, mdl = _cfg()
    with pytest.raises(ValueError, match=r"^node.sram_kb: 4 is too small .* 1096 lines"):
        compile_step(cfg, d, load_workload(TRANSFORMER), mdl, data=False)


def _ops(mdl, descs):
    return [mdl.lay.decode("cmd_desc", sum(l << (mdl.width * i) for i, l in enumerate(x)))["op"]
            for x in descs]


def test_programs_put_gemms_on_compute_and_allreduces_on_communication():
    cfg, d, mdl = _cfg()
    c = compile_step(cfg, d, load_workload(MLP), mdl, data=False)
    for node, qs in c.with_halts(mdl).items():
        ops1 = _ops(mdl, qs[1])
        assert ops1.count(CmdOp.EXEC) == 5 and CmdOp.PUSH not in ops1
        _, pushes = executed(mdl, qs[0])
        assert pushes and all(p["count"] >= 1 for p in pushes)     # the two dW all-reduces
    assert c.data_lines + c.program_lines <= mdl.lines


def test_replicas_of_several_nodes_place_summa_in_each_half():
    cfg, d, mdl = _cfg("node.sram_kb=16")
    c = compile_step(cfg, d, load_workload(TRANSFORMER), mdl, data=False)
    assert c.groups == [(0, 0), (0, 2)]
    for (x, y), qs in c.with_halts(mdl).items():
        _, pushes = executed(mdl, qs[0])
        half = y // 2
        # SUMMA panels stay in the replica's half; the all-reduce crosses to the other one
        crossing = [p for p in pushes if p["to"][1] // 2 != half]
        assert all(p["to"] == (x, y ^ 2) for p in crossing) and crossing


def test_registry_entry_takes_the_model_and_refuses_what_it_cannot_model_in_one_line():
    from sim.workloads import Options
    from sim.workloads.registry import STEPS
    cfg, d, _ = _cfg()
    plan = STEPS["step"].check(cfg, d, Options(engine="model", workload=str(MLP)))
    assert plan.params.name == "mlp"
    wide = load_config(CONFIGS / "default.yaml", ["router.flit_bits=128"])
    with pytest.raises(ConfigError) as exc:
        STEPS["step"].check(wide, derive(wide), Options(engine="model", workload=str(MLP)))
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith("router.flit_bits: 128 is not modelled by "
                                            "--engine model")
    assert exc.value.problems[0].endswith("allowed: at most 64, or --timing-only, or --engine "
                                          "rtl")


def test_dojo_run_and_study_refuse_bad_input_before_any_work(tmp_path, capsys):
    from dojo.cli import main
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nlayers:\n  - {name: a, tokens: 4, in: 8, out: 8, extra: 1}\n")
    cfg = str(CONFIGS / "default.yaml")
    assert main(["run", cfg, str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: layers[0].extra: unknown key (allowed: in, name, out, passes, tokens)"]
    assert main(["run", cfg, str(TRANSFORMER), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: node.sram_kb: 4 is too small")
    assert main(["study", "nodesize", cfg, str(MLP), "--engine", "model",
                 "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --engine model: not allowed with dojo study nodesize (its points run on the "
        "RTL only); allowed: rtl, or model with dojo study scaleout"]
    assert main(["study", "scaleout", cfg, str(MLP), "--engine", "model", "--dies", "1x1",
                 "-s", "router.flit_bits=128", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --dies 1x1: router.flit_bits: 128")
    assert main(["run", cfg, str(MLP), "--timing-only", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --timing-only: not allowed with --engine rtl; allowed: with --engine model "
        "(the RTL always computes the data)"]
    assert main(["study", "scaleout", cfg, str(MLP), "--dies", "2y1",
                 "--out", str(tmp_path / "s")]) == 2
    assert "--dies 2y1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()
