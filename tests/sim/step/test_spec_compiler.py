"""The training step's workload files and compiler: validation in one line per problem,
the compiler's refusals, and its programs (no simulation here)."""

import pytest

from gen.config import ConfigError, load_config
from gen.derive import derive
from sim.collectives import executed
from gen.faults import fault_map
from sim.step.compiler import compile_step, placement
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


@pytest.mark.parametrize("raw, overrides, message", [
    ({"parallel": {"data": 17, "grid": [1, 1]}}, [],
     "parallel.data: 17 is not allowed with parallel.grid [1, 1]: 4x4 blocks of 1x1 nodes "
     "fit the 4x4 mesh; allowed: 1 to 16"),
    ({"parallel": {"data": 1, "grid": [5, 1]}}, [],
     "parallel.grid: [5, 1] is not allowed on the 4x4 mesh: a replica must fit in it "
     "(x <= 4, y <= 4)"),
    ({"parallel": {"data": 4, "grid": [2, 2]}},
     ["tile.fault_maps=[{die: [1, 1], disabled_nodes: [[1, 1]]}]"],
     "parallel.data: 4 is not allowed with parallel.grid [2, 2]: 2x2 blocks of 2x2 nodes "
     "fit the 4x4 mesh, 1 of them holding a disabled node; allowed: 1 to 3"),
    ({"parallel": {"data": 2, "grid": [2, 1]}, "allreduce": {"algo": "2d"}}, [],
     "allreduce.algo: '2d' is not allowed with parallel.grid [2, 1] and 2 replicas on the "
     "4x4 mesh: it runs along every row and column of the mesh; allowed: 'ring', or '2d' "
     "with grid [1, 1] and a replica on every node"),
    ({"parallel": {"data": 2, "grid": [1, 1]}}, ["die.dead_routers=[[0, 1]]"],
     "die.dead_routers: 4 dead routers (router.routing xy) are not allowed for a training "
     "step (its programs cross the mesh in dimension order); allowed: disabled nodes only "
     "(their routers forward), with xy or yx routing"),
])
def test_compiler_refuses_splits_that_do_not_fit(raw, overrides, message):
    cfg, d, mdl = _cfg(*overrides)
    step = workload_from_dict({"name": "x", "layers": [{"name": "a", "tokens": 8, "in": 8,
                                                         "out": 8}], **raw})
    with pytest.raises(ValueError) as exc:
        compile_step(cfg, d, step, mdl, data=False)
    assert str(exc.value) == message


def _step(data, grid, **layer):
    return workload_from_dict({"name": "x", "parallel": {"data": data, "grid": grid},
                               "layers": [{"name": "a", "tokens": 8, "in": 8, "out": 8,
                                           **layer}]})


def test_placement_takes_whole_blocks_in_ring_order_and_skips_disabled_nodes():
    # a grid that does not divide the mesh: the last column and row are idle
    groups, usable, idle = placement(_step(2, [3, 2]), 4, 5)
    assert (groups, usable) == ([(0, 0), (0, 2)], 2)
    assert idle == [(3, 0), (3, 1), (3, 2), (3, 3), (0, 4), (1, 4), (2, 4), (3, 4)]
    # neighbouring blocks next to each other (the ring of sim.allreduce.ring_order), a
    # block holding a disabled node skipped, fewer replicas than blocks: the rest idle
    groups, usable, idle = placement(_step(2, [2, 2]), 4, 4, disabled={(3, 3)})
    assert (groups, usable) == ([(0, 0), (2, 0)], 3)
    assert idle == [(0, 2), (1, 2), (2, 2), (3, 2), (0, 3), (1, 3), (2, 3)]  # (3, 3) is off


def _expand(mdl, descs):
    """The descriptors a queue runs, LOOPs unrolled, as decoded dicts."""
    dec = [mdl.lay.decode("cmd_desc", sum(line << (mdl.width * i) for i, line in enumerate(d)))
           for d in descs]
    out, pc = [], 0
    while pc < len(dec):
        if dec[pc]["op"] == CmdOp.LOOP:
            body = dec[pc + 1:pc + 1 + dec[pc]["args"].loop.body]
            out += body * dec[pc]["args"].loop.count
            pc += 1 + len(body)
        else:
            out.append(dec[pc])
            pc += 1
    return out


def test_many_replicas_count_semaphore_7_from_their_ring_predecessor_only():
    """4 replicas of 2x2 nodes and a disabled node's block skipped: on every node the WAITs
    on the all-reduce's semaphore take exactly what its ring predecessor sends there (its
    readiness tokens and its chunks), and nothing else sends there."""
    from sim.step.compiler import SEM_AR
    cfg, d, mdl = _cfg("tile.fault_maps=[{die: [0, 1], disabled_nodes: [[0, 0]]}]",
                       "node.sram_kb=8")
    c = compile_step(cfg, d, _step(3, [2, 2], tokens=8, **{"in": 8, "out": 8}), mdl,
                     data=False)
    assert c.groups == [(0, 0), (2, 0), (2, 2)] and len(c.idle) == 3    # (0, 2) disabled
    sent, waited = {}, {}
    for node, qs in c.programs.items():
        for q, descs in qs.items():
            for x in _expand(mdl, descs):
                if x["op"] == CmdOp.WAIT and int(x["args"].wait.sem) == SEM_AR:
                    waited[node] = waited.get(node, 0) + int(x["args"].wait.n)
                to = sem = None
                if x["op"] == CmdOp.SIGNAL:
                    a = x["args"].signal
                    to, sem = (int(a.dst_x), int(a.dst_y)), int(a.sem)
                elif x["op"] == CmdOp.PUSH:
                    a = x["args"].push.desc
                    to, sem = (int(a.dst_x), int(a.dst_y)), int(a.sem)
                if sem == SEM_AR:
                    sent.setdefault(to, set()).add(node)
                    sent[(to, "n")] = sent.get((to, "n"), 0) + 1
    for node in c.programs:
        ox, oy = node[0] // 2 * 2, node[1] // 2 * 2
        ring = c.groups
        pred = ring[(ring.index((ox, oy)) - 1) % 3]
        assert sent[node] == {(pred[0] + node[0] - ox, pred[1] + node[1] - oy)}
        assert waited[node] == sent[(node, "n")] == (3 - 1) + 2 * (3 - 1)   # tokens, chunks
    assert c.allreduce[0]["replicas"] == 3


def test_a_d1_die_compiles_the_transformer_and_the_tile_fits_without_padding():
    """configs/d1.yaml, the transformer preset at its d1 scale (x8), as many 4x2 replicas
    as fit: one die (19x19 nodes, 7 disabled: 31 replicas) compiles and fits the SRAM; on
    the 5x5-die tile (919 replicas) every dW (32 to 96 lines) is all-reduced in chunks of
    one line and empty ones, so its data take what they take on one die (with padding to
    the 919 replicas they took 5612 lines, more than the 5120 of the SRAM). The tile's
    programs take minutes to compile: checked here up to them, and refused in one line
    with no word of padding when the SRAM is too small."""
    from sim.step.compiler import check_step
    from sim.step.study import replicas_on
    step = load_workload(TRANSFORMER)
    cfg = load_config(CONFIGS / "d1.yaml", ["tile.dies_x=1", "tile.dies_y=1"])
    d = derive(cfg)
    mdl = NodeModel.from_config(cfg, d)
    assert replicas_on(cfg, [], step.for_config(cfg)) == 31
    c = compile_step(cfg, d, step.with_data(31), mdl, data=False)
    assert (c.data_lines, c.program_lines, mdl.lines) == (2192, 388, 5120)
    assert len(c.groups) == 31 and c.allreduce[0]["replicas"] == 31 and len(c.idle) == 106
    assert not set(c.programs) & set(fault_map(cfg, d).disabled_nodes)
    assert c.gemms[0].gemm.m == 128 and c.gemms[0].gemm.n == 384      # the d1 scale
    tile = load_config(CONFIGS / "d1.yaml")
    n = replicas_on(tile, [], step.for_config(tile))
    assert n == 919
    groups, plans, data_lines, _ = check_step(tile, derive(tile), step.with_data(n))
    assert len(groups) == 919 and data_lines == 2192
    assert [gp.lay["ar_lines"] for gp in plans if gp.gemm.kind == "backward_weight"] == \
        [gp.lay["c_lines"] for gp in plans if gp.gemm.kind == "backward_weight"]
    small = load_config(CONFIGS / "d1.yaml", ["node.sram_kb=512"])
    with pytest.raises(ValueError) as exc:
        check_step(small, derive(small), step.with_data(n))
    assert str(exc.value) == (
        "node.sram_kb: 512 is too small for workload 'transformer': its operands and "
        "results take 2192 lines per node, the SRAM has 2048; allowed: smaller layers, "
        "fewer replicas or a larger node.sram_kb (-s node.sram_kb=...)")


def test_fast_descriptor_encoder_matches_amarnths():
    import random
    from sim.step.compiler import _memo
    from verif.node_model import Dtype
    for path, ov in (("default.yaml", []), ("d1.yaml", ["tile.dies_x=1", "tile.dies_y=1"])):
        cfg = load_config(CONFIGS / path, ov)
        d = derive(cfg)
        mdl = NodeModel.from_config(cfg, d)
        fast, rng = _memo(mdl), random.Random(1)
        for _ in range(50):
            push = dict(src_addr=rng.randrange(mdl.lines), count=rng.randrange(1, 256),
                        to=(rng.randrange(d.tile.mesh_x), rng.randrange(d.tile.mesh_y)),
                        dst_addr=rng.randrange(mdl.lines), add=rng.random() < .5,
                        dtype=rng.choice([Dtype.FP32, Dtype.INT32]), sem=rng.randrange(8),
                        src_step=rng.randrange(-128, 128), dst_step=rng.randrange(-128, 128))
            ex = dict(m=mdl.p, n=2 * mdl.p, k=mdl.p, dtype=rng.choice(["bf16", "int8"]),
                      a_addr=rng.randrange(mdl.lines), b_addr=rng.randrange(mdl.lines),
                      c_addr=rng.randrange(mdl.lines), accumulate=rng.random() < .5,
                      c_step=rng.randrange(-128, 128))
            assert fast.cmd_push(**push) == mdl.cmd_push(**push)
            assert fast.cmd_exec(**ex) == mdl.cmd_exec(**ex)
        for name, args in (("cmd_wait", (7, 3)), ("cmd_signal", ((1, 2), 6)),
                           ("cmd_loop", (200, 2)), ("cmd_halt", (5,))):
            assert getattr(fast, name)(*args) == getattr(mdl, name)(*args)


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


def test_the_barrier_lets_the_next_gemms_panels_overlap_the_last_exec():
    """On the compute queue a GEMM signals the replica barrier before its last EXEC (after
    its last WAIT), but the last GEMM and a dW with no GEMM two after it after their last
    EXEC; on the communication queue a dW's all-reduce follows the panels of the GEMM two
    after it (whose barrier says the dW is written), else of the next one."""
    cfg, d, mdl = _cfg("node.sram_kb=16")
    c = compile_step(cfg, d, load_workload(TRANSFORMER), mdl, data=False)
    labels, descs = c.labels[(0, 0)][1], c.programs[(0, 0)][1]
    ops = _ops(mdl, descs)
    n = len(c.gemms)
    for gi, g in enumerate(c.gemms):
        mine = [i for i, lab in enumerate(labels) if lab == g.gemm.label]
        last = mine[-1]
        assert ops[last] == CmdOp.EXEC
        if gi == n - 1 or (g.gemm.kind == "backward_weight" and gi + 2 > n - 1):
            assert labels[last + 1] == "barrier"
        else:
            between = range(mine[-2] + 1, last)       # the GEMM's last WAIT, then these
            assert between and all(labels[i] == "barrier" and ops[i] == CmdOp.SIGNAL
                                   for i in between)
    comm = [lab for lab in c.labels[(0, 0)][0] if lab != "barrier"]
    order = list(dict.fromkeys(comm))
    gemms = [g.gemm.label for g in c.gemms]
    for ar in c.allreduce:
        before = order[order.index(f"allreduce {ar['layer']}.dW") - 1]
        gi = ar["gemm"]
        assert before == gemms[gi + 2 if gi + 2 < n else min(gi + 1, n - 1)]


def test_scale_multiplies_the_sizes_on_the_configs_it_names_once():
    step = load_workload(TRANSFORMER)
    default = load_config(CONFIGS / "default.yaml")
    d1 = load_config(CONFIGS / "d1.yaml", ["tile.dies_x=1", "tile.dies_y=1"])
    assert step.for_config(default) is step                  # the file's sizes
    big = step.for_config(d1)
    assert [(ly.tokens, ly.d_in, ly.d_out) for ly in big.layers][0] == (128, 128, 384)
    assert big.for_config(d1) is big                         # applied once
    # what the reports print says the sizes are not the file's
    assert big.description.endswith("(every layer's tokens, in and out x8 on config 'd1', "
                                    "the file's scale)"), big.description
    with pytest.raises(ConfigError) as exc:
        workload_from_dict({**step.raw, "scale": {"d1": 0}})
    assert exc.value.problems == ["scale.d1: 0 is not allowed: must be an integer >= 1 and "
                                  "<= 256"]
    with pytest.raises(ConfigError) as exc:
        workload_from_dict({**step.raw, "scale": {"d1": 100}}).for_config(d1)
    assert exc.value.problems[0] == ("scale.d1: 100 is not allowed: layers[0].out: 4800 is "
                                     "not allowed: must be an integer >= 1 and <= 4096")


def test_a_compile_without_the_golden_model_has_the_same_programs_operands_and_reads():
    """``golden=False`` (what a timing-only run compiles: it compares nothing) leaves out
    only the expected results: the programs, the operands (the same random draws) and the
    read-back are the full compile's."""
    cfg, d, mdl = _cfg("node.sram_kb=16")
    step = load_workload(ROOT / "workloads" / "transformer.yaml")
    full = compile_step(cfg, d, step, mdl)
    bare = compile_step(cfg, d, step, mdl, golden=False)
    assert full.expected and not bare.expected
    assert bare.programs == full.programs and bare.data == full.data
    assert bare.reads == full.reads
