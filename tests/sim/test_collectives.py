"""Collectives as node programs (sim/collectives.py): the program compiler, the golden
model, and the programs on the RTL of a square and a non-square tile."""

import pytest

from gen.config import load_config
from sim.collectives import compile_pushes, executed, golden, model_cycles, run_collective
from sim.runner import available_simulators
from tests.conftest import CONFIGS
from verif.node_model import Dtype, NodeModel

CFG = CONFIGS / "default.yaml"


def _model(overrides=()):
    from gen.derive import derive
    cfg = load_config(CFG, list(overrides))
    return cfg, NodeModel.from_config(cfg, derive(cfg))


def _expand(mdl, descs):
    return executed(mdl, descs)[1]


def test_compiled_programs_make_exactly_the_pushes():
    from sim.allreduce import ring_order
    from sim.collectives import _ring_pushes
    _, mdl = _model()
    ring = ring_order(4, 4)
    for i in (0, 5, 15):
        pushes = _ring_pushes(ring, i, base=0, lines=32, steps=30, sem=0, dtype=Dtype.FP32,
                              first_wait=False)
        descs = compile_pushes(mdl, pushes, wait_sem=0)
        assert len(descs) <= 13, "runs of steps are not folded into loops"
        assert _expand(mdl, descs) == pushes
    # strides past the step field are not folded
    far = [{"wait": True, "src": 200 * k, "dst": 0, "count": 1, "to": (1, 0), "add": False,
            "dtype": Dtype.INT32, "sem": 0} for k in range(3)]
    assert _expand(mdl, compile_pushes(mdl, far, wait_sem=0)) == far
    assert len(compile_pushes(mdl, far, wait_sem=0)) == 6


def test_ring_golden_is_the_host_rings():
    """The node-driven ring adds in the order of the host-driven one."""
    import numpy as np
    from sim.allreduce import golden_allreduce, ring_order
    _, mdl = _model()
    rng = np.random.default_rng(1)
    ring = ring_order(4, 4)
    vectors = {n: [int(v) for v in rng.integers(0, 2**64, 32, dtype=np.uint64)] for n in ring}
    for dtype in ("int32", "fp32"):
        mine = golden(mdl, "ring", vectors, 4, 4, lines=32, dtype=dtype)
        theirs = golden_allreduce(mdl, [vectors[n] for n in ring], ring, dtype)
        assert all(mine[n] == theirs for n in ring)


def test_2d_needs_fewer_steps_in_the_model():
    ring = model_cycles("ring", 4, 4, lines=32, alpha=14, max_packet_flits=8,
                        die_shape=(2, 2), dielink={"ratio": 2, "latency": 3})
    two = model_cycles("2d", 4, 4, lines=32, alpha=14, max_packet_flits=8,
                       die_shape=(2, 2), dielink={"ratio": 2, "latency": 3})
    assert sum(p["steps"] for p in ring["phases"]) == 30
    assert sum(p["steps"] for p in two["phases"]) == 12
    assert two["cycles"] < ring["cycles"]


SIMS = available_simulators()


#: Icarus runs the node programs' collectives once (its own X-propagation and event order
#: on the add pipeline and the semaphores), on the 4x2 tile: half the nodes of the default
#: tile, whose runs Verilator does
ICARUS_RUNS = [(("tile.dies_y=1",), "2d", "int32", "icarus")] if "icarus" in SIMS else []


@pytest.mark.slow
@pytest.mark.parametrize("overrides, algo, dtype, sim", [
    ((), "ring", "fp32", "verilator"),
    ((), "2d", "fp32", "verilator"),
    ((), "2d", "int32", "verilator"),
    ((), "broadcast", "int32", "verilator"),
    (("tile.dies_y=1",), "ring", "int32", "verilator"),
    (("tile.dies_y=1",), "2d", "fp32", "verilator"),
    (("tile.dies_y=1",), "broadcast", "int32", "verilator"),
    *ICARUS_RUNS,
])
def test_collectives_on_the_rtl(tmp_path, overrides, algo, dtype, sim):
    cfg, _ = _model(overrides)
    res = run_collective(cfg, algo, dtype=dtype, sim=sim, out_dir=tmp_path, alpha=14.0)
    assert res["match"], (res["wrong_nodes"], res["bad_halts"])
    assert not res["problems"], res["problems"]
    assert res["cycles"] > 0 and (tmp_path / "result.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("algo, dtype, sim", [
    ("ring", "fp32", "verilator"),
    ("ring", "int32", "verilator"),
    ("broadcast", "int32", "verilator"),
])
def test_collectives_skip_disabled_nodes(tmp_path, algo, dtype, sim):
    """One disabled node per die (4 of 16): the ring and the broadcast run over the 12
    live nodes, bit for bit against the golden model of that ring, and the disabled
    nodes' SRAM is never written (read back: still zero)."""
    cfg, _ = _model(["die.disabled_nodes=[[1, 0]]"])
    res = run_collective(cfg, algo, dtype=dtype, sim=sim, out_dir=tmp_path, alpha=14.0)
    assert res["nodes"] == 12 and res["lines"] == 24
    assert res["skipped_nodes"] == [[1, 0], [3, 0], [1, 2], [3, 2]]
    assert res["match"], (res["wrong_nodes"], res["bad_halts"], res["skipped_nodes_written"])
    assert not res["skipped_nodes_written"] and not res["problems"]


def test_live_ring_leaves_out_disabled_nodes_and_2d_refuses_a_map():
    from gen.config import ConfigError
    from gen.derive import derive
    from sim.collectives import check_collective, live_ring
    from sim.workloads import WORKLOADS, Options
    cfg, _ = _model(["die.disabled_nodes=[[1, 0]]"])
    ring = live_ring(cfg)
    assert len(ring) == 12 and not {(1, 0), (3, 0), (1, 2), (3, 2)} & set(ring)
    with pytest.raises(ValueError, match=r"lines=3061: 256 lines per chunk over the 12 nodes "
                                         r"\(live\), at most 255 \(one PUSH\); allowed: at "
                                         r"most 3060"):
        check_collective(cfg, "ring", lines=3061)
    assert check_collective(cfg, "ring", lines=16) == 16       # chunks of 2 and 1 lines
    with pytest.raises(ConfigError, match=r"die.disabled_nodes: allreduce --algo 2d cannot "
                                          r"run with 4 disabled nodes: it addresses every node"):
        WORKLOADS["allreduce-2d"].check(cfg, derive(cfg), Options(lines=32))


def _actions(mdl, descs):
    """A program's descriptors as the command processor runs them, loops unrolled:
    ``("wait", sem, n)``, ``("push", push dict of :func:`executed`)``, ``("halt",)``."""
    from rtl.node.layouts import CmdOp
    pushes = iter(executed(mdl, descs)[1])
    dec = [mdl.lay.decode("cmd_desc", sum(line << (mdl.width * i) for i, line in enumerate(d)))
           for d in descs]
    out, pc = [], 0

    def one(d):
        if d["op"] == CmdOp.WAIT:
            return ("wait", int(d["args"].wait.sem), int(d["args"].wait.n))
        return ("push", next(pushes)) if d["op"] == CmdOp.PUSH else ("halt",)

    while pc < len(dec):
        if dec[pc]["op"] == CmdOp.LOOP:
            body = dec[pc + 1:pc + 1 + int(dec[pc]["args"].loop.body)]
            out += [one(b) for _ in range(int(dec[pc]["args"].loop.count)) for b in body]
            pc += 1 + len(body)
        else:
            out.append(one(dec[pc]))
            pc += 1
    return out


def _dataflow(mdl, programs, vectors, dtype, *, lockstep):
    """The programs run at the descriptor level: a WAIT takes counts its semaphore has, a
    PUSH lands (ADD with the node's adder, or WRITE) and counts one on its semaphore at
    the destination. ``lockstep``: every node runs at most one descriptor a round and the
    round's pushes land at its end (every row as fast as the others, as on the RTL);
    else each node in turn runs as far as it can and a push lands at once (any order the
    WAITs allow). Returns the final vectors; raises if a node is stuck at a WAIT or a
    count is left over."""
    mem = {n: list(v) for n, v in vectors.items()}
    acts = {n: _actions(mdl, d) for n, d in programs.items()}
    pc = {n: 0 for n in programs}
    sems = {n: {} for n in programs}

    def land(p, values):
        for k, v in enumerate(values):
            t = p["dst"] + k
            mem[p["to"]][t] = mdl.add_lines(mem[p["to"]][t], v, dtype) if p["add"] else v
        sems[p["to"]][p["sem"]] = sems[p["to"]].get(p["sem"], 0) + 1

    moved = True
    while moved:
        moved, landing = False, []
        for n, a in acts.items():
            while pc[n] < len(a):
                act = a[pc[n]]
                if act[0] == "wait":
                    if sems[n].get(act[1], 0) < act[2]:
                        break
                    sems[n][act[1]] -= act[2]
                elif act[0] == "push":
                    p = act[1]
                    values = mem[n][p["src"]:p["src"] + p["count"]]
                    landing.append((p, values)) if lockstep else land(p, values)
                pc[n] += 1
                moved = True
                if lockstep:
                    break
        for p, values in landing:
            land(p, values)
    stuck = [n for n in acts if pc[n] < len(acts[n])]
    assert not stuck, f"stuck at a WAIT: {stuck}"
    assert all(not any(s.values()) for s in sems.values()), sems
    return mem


@pytest.mark.parametrize("algo, mx, my", [("ring", 4, 4), ("ring", 5, 3), ("2d", 4, 4),
                                          ("2d", 5, 3), ("2d", 1, 4), ("2d", 4, 1)])
def test_any_line_count_runs_every_program_to_the_golden_vectors(algo, mx, my):
    """Line counts from 1 to past two chunks a node (empty chunks, uneven ones, even
    ones): the programs, run at the descriptor level (:func:`_dataflow`), end on every
    node with no count left over, every vector bit for bit the golden model's, and the
    golden model's int32 vectors the plain wrapping sum. In any order the WAITs allow:
    int32, and the ring's fp32 (its order of adds is fixed by the WAITs). The 2D fp32 sums
    in lockstep only: a node's first column ADD into its successor's row chunk is not
    ordered by any WAIT against the successor's last row ADD into it (the two rows
    finish together on the RTL, the golden model assumes rows first)."""
    import numpy as np
    from sim.collectives import allreduce_programs
    from sim.step.compiler import _memo
    _, mdl = _model()
    mdl = _memo(mdl)                          # descriptors decoded once per value
    rng = np.random.default_rng(5)
    nodes = [(x, y) for y in range(my) for x in range(mx)]
    n = mx * my
    for lines in sorted({1, 2, 3, mx + 1, n - 1, n, n + 1, 2 * n + 3}):
        for dtype in ("int32", "fp32"):
            lane = Dtype.FP32 if dtype == "fp32" else Dtype.INT32
            vectors = {n: [int(v) for v in rng.integers(0, 2**64, lines, dtype=np.uint64)]
                       for n in nodes}
            if dtype == "fp32":              # finite fp32 lanes
                vectors = {n: [v & 0x3FFFFFFF3FFFFFFF for v in vec] for n, vec in vectors.items()}
            progs = allreduce_programs(mdl, algo, mx, my, base=0, lines=lines, dtype=lane)
            want = golden(mdl, algo, vectors, mx, my, lines=lines, dtype=dtype)
            for lockstep in (True, False):
                if algo == "2d" and dtype == "fp32" and not lockstep and mx > 1 < my:
                    continue
                got = _dataflow(mdl, progs, vectors, lane, lockstep=lockstep)
                assert got == want, (lines, dtype, lockstep)
        ints = golden(mdl, algo, vectors, mx, my, lines=lines, dtype="int32")
        lanes = mdl.width // 32
        for k in range(lines):
            want = [sum(mdl.unpack_elements([vectors[n][k]], 32, lanes)[j] for n in nodes)
                    % (1 << 32) for j in range(lanes)]
            assert all(mdl.unpack_elements([ints[n][k]], 32, lanes) == want for n in nodes)


def test_uneven_programs_fold_into_few_descriptors_and_the_model_takes_the_longest_chunk():
    """Chunks of 1 and 2 lines (the longer first): a ring node's sizes change at most
    twice a phase, so its program stays a few LOOPs; the alpha-beta model's chunk is the
    longest, and even line counts keep their model."""
    from sim.allreduce import ring_order
    from sim.collectives import allreduce_programs
    _, mdl = _model()
    progs = allreduce_programs(mdl, "ring", 4, 4, base=0, lines=21, dtype=Dtype.INT32)
    assert max(len(p) for p in progs.values()) <= 24
    assert sorted({p["count"] for d in progs.values() for p in _expand(mdl, d)}) == [1, 2]
    kw = dict(alpha=14, max_packet_flits=8, die_shape=(2, 2), dielink={"ratio": 2, "latency": 3})
    for algo in ("ring", "2d"):
        odd, even = (model_cycles(algo, 4, 4, lines=n, **kw) for n in (21, 32))
        assert [p["chunk_lines"] for p in odd["phases"]] == \
            ([2] if algo == "ring" else [6, 2])
        assert [p["chunk_lines"] for p in even["phases"]] == ([2] if algo == "ring" else [8, 2])
    assert ring_order(4, 4)      # the ring of the model: every node
