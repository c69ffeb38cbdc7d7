"""Cannon's GEMM with resident operands, run by the nodes' programs (sim/cannon.py)."""

import numpy as np
import pytest

from gen.config import load_config
from sim.cannon import cannon_programs, check_cannon, default_chunk, run_cannon
from sim.collectives import executed
from tests.conftest import CONFIGS
from verif.node_model import NodeModel

CFG = CONFIGS / "default.yaml"


def test_checks_name_the_problem():
    cfg = load_config(CFG)
    with pytest.raises(ValueError, match="k=24: must be a positive multiple of 16"):
        check_cannon(cfg, m=64, n=64, k=24, dtype="bf16")
    with pytest.raises(ValueError, match="square grid of nodes, the tile's is 4x2"):
        check_cannon(load_config(CFG, ["tile.dies_y=1"]), m=64, n=64, k=64, dtype="bf16")
    with pytest.raises(ValueError, match="SRAM lines per node"):
        check_cannon(cfg, m=128, n=128, k=64, dtype="bf16")
    lay = check_cannon(cfg, m=64, n=64, k=64, dtype="bf16")
    assert lay["block"] == [16, 16, 16] and lay["c"] + lay["c_lines"] == 512 - 128
    assert lay["operand_lines"] <= 256 <= lay["c"]        # C in the other bank


def test_programs_shift_west_and_north_once_per_step():
    from gen.derive import derive
    cfg = load_config(CFG)
    mdl = NodeModel.from_config(cfg, derive(cfg))
    lay = check_cannon(cfg, m=64, n=64, k=64, dtype="int8")
    progs = cannon_programs(mdl, 4, lay, dtype="int8")
    _, pushes = executed(mdl, progs[(1, 2)][0])
    chunk = default_chunk(lay)
    parts = lay["a_lines"] // chunk
    assert chunk == 16 and parts == 2                   # 32-line int8 blocks
    # per step, A west and B north alternate chunk by chunk
    assert [p["to"] for p in pushes] == [(0, 2), (1, 1)] * (3 * parts)
    assert [p["dst"] for p in pushes[::2]] == [buf + i * chunk for buf in
                                               (lay["a"][1], lay["a"][0], lay["a"][1])
                                               for i in range(parts)]
    with pytest.raises(ValueError, match="chunk=24: must divide the A and B blocks"):
        cannon_programs(mdl, 4, lay, dtype="int8", chunk=24)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_cannon_on_the_rtl_is_bit_exact(tmp_path, dtype):
    res = run_cannon(load_config(CFG), m=64, n=64, k=64, dtype=dtype, out_dir=tmp_path)
    assert res["match"], (res["wrong_nodes"], res["bad_halts"])
    assert not res["problems"], res["problems"]
    assert 0.3 < res["compute_peak_fraction"] <= 1 and res["peak_fraction"] < \
        res["compute_peak_fraction"]
    c = np.load(tmp_path / "C.npy")
    assert c.shape == (64, 64)
