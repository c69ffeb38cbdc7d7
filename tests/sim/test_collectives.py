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
