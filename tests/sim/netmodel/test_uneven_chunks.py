# amaranth: UnusedElaboratable=no
"""The ring and 2D all-reduces of :mod:`sim.collectives` with a line count that is not a
multiple of the nodes (5 and 3 lines on the 16 nodes of the default tile: chunks of one
line and empty chunks, whose steps every node leaves out) on the RTL under Verilator and
on the fast model, with :mod:`tests.sim.netmodel.test_node_tile`'s machinery: the same
traced Verilator build, every link register compared in every cycle, every DONE, every
SRAM line and register of every node. The RTL's vectors are bit for bit the golden
model's (:func:`sim.collectives.golden`), and for int32 the plain wrapping sum of every
node's vector; a program whose chunk boundaries are off by one line on one node fails
that comparison.
"""

import functools

import numpy as np
import pytest

from sim.collectives import collective_plan, run_collective
from sim.netmodel.host import tile_model
from sim.runner import available_simulators, run_cocotb
from sim.workloads.runners import program_scenario
from tests.sim.netmodel.lockstep import one_worker
from tests.sim.netmodel.test_node_tile import (
    CYCLES, _read_everything, _setup, compare, watched_run)
from verif.tb_tile_trace import TILE_TRACE_SIGNALS

# the node kernel's compile is shared with test_node_tile's worker
pytestmark = [pytest.mark.slow, one_worker("core"),
              pytest.mark.skipif("verilator" not in available_simulators(),
                                 reason="needs Verilator")]

#: (algorithm, lines, lanes): 5 lines over 16 ring nodes or 4 row nodes (chunks of 2 and
#: 1), 3 lines (empty chunks in both dimensions of the 2D all-reduce)
CASES = [("ring", 5, "fp32"), ("ring", 3, "int32"), ("2d", 5, "fp32"), ("2d", 3, "int32")]


@functools.lru_cache(maxsize=None)
def uneven(algo, lines, dtype):
    """The collective's plan and its program scenario: the run, then every node's SRAM
    and registers read back."""
    cfg, d = _setup()
    plan = collective_plan(cfg, algo, lines=lines, dtype=dtype, seed=7, derived=d)
    mdl, man = plan["model"], plan["design"].manifest()
    pr = program_scenario(mdl, plan["programs"], plan["data"],
                          _read_everything(mdl, man["nodes"]))
    return cfg, d, plan, pr


@functools.lru_cache(maxsize=None)
def rtl_run(algo, lines, dtype):
    """The RTL's run (the traced build of ``test_node_tile``, cached)."""
    _, _, plan, pr = uneven(algo, lines, dtype)
    return run_cocotb(plan["design"], sim="verilator", test_module="verif.tb_tile_trace",
                      testcase="programs_traced", tag=f"uneven-{algo}-{lines}-{dtype}",
                      public_signals=TILE_TRACE_SIGNALS, scenario={"programs": pr})["programs"]


def _vectors(plan, pr, reads):
    """``{node: the vector's lines}`` read back."""
    lines = len(next(iter(plan["expected"].values())))
    return {tuple(node): got[:lines] for (node, addr, _), got in zip(pr["reads"], reads)
            if addr == 0}


@pytest.mark.parametrize("algo, lines, dtype", CASES, ids=lambda v: str(v))
def test_uneven_chunks_on_the_rtl_are_exact_and_the_model_matches_it(algo, lines, dtype):
    cfg, d, plan, pr = uneven(algo, lines, dtype)
    rtl = rtl_run(algo, lines, dtype)
    assert not rtl["problems"], rtl["problems"]
    got = _vectors(plan, pr, rtl["reads"])
    assert got == plan["expected"]                                 # bit for bit, every node
    if dtype == "int32":                                          # ... and a plain sum
        mdl, count = plan["model"], lines * plan["model"].width // 32
        lanes = [np.array(mdl.unpack_elements(plan["data"][n][1], 32, count), np.uint64)
                 for n in plan["nodes"]]
        total = [int(v) for v in sum(lanes) % (1 << 32)]
        assert all(mdl.unpack_elements(v, 32, count) == total for v in got.values())
    assert len(rtl["halt_log"]) == 16 and all(t == 0 for _, _, t, _ in rtl["halt_log"])
    tile = tile_model(plan["design"], cfg, d)
    mine = {**watched_run(tile, plan["design"], pr, CYCLES), "pr": pr}
    compare(rtl, mine)
    assert not mine["problems"], mine["problems"]


def test_chunk_boundaries_off_by_one_on_one_node_fail_the_golden_comparison(tmp_path,
                                                                            monkeypatch):
    """The ring of 5 lines on the model (held to the RTL above): right, then with node 1
    of the ring sending every chunk one line further on (the same steps and WAITs, so it
    ends): its successors' sums are wrong."""
    import sim.collectives as collectives
    cfg, d = _setup()
    right = run_collective(cfg, "ring", lines=5, dtype="fp32", out_dir=tmp_path / "right",
                           seed=7, derived=d, engine="model")
    assert right["match"] and not right["wrong_nodes"]
    pushes = collectives._ring_pushes

    def off_by_one(members, i, *, lines, **kw):
        out = pushes(members, i, lines=lines, **kw)
        if i == 1:
            base = kw["base"]
            out = [{**p, "src": base + (p["src"] - base + 1) % lines,
                    "dst": base + (p["dst"] - base + 1) % lines} for p in out]
        return out

    monkeypatch.setattr(collectives, "_ring_pushes", off_by_one)
    wrong = run_collective(cfg, "ring", lines=5, dtype="fp32", out_dir=tmp_path / "wrong",
                           seed=7, derived=d, engine="model")
    assert not wrong["match"] and wrong["wrong_nodes"] and not wrong["bad_halts"]
