"""SUMMA with resident operands on square and non-square grids (sim/summa.py)."""

import numpy as np
import pytest

from gen.config import load_config
from gen.derive import derive
from sim.collectives import executed
from sim.runner import available_simulators
from sim.summa import check_summa, run_summa, summa_programs
from tests.conftest import CONFIGS
from verif.node_model import NodeModel

CFG = CONFIGS / "default.yaml"
FLAT = ["tile.dies_y=1"]            # a 4x2 grid of nodes


def test_checks_name_the_problem():
    cfg = load_config(CFG, FLAT)
    with pytest.raises(ValueError, match=r"n=24: must be a positive multiple of 16 \(4 blocks"):
        check_summa(cfg, m=16, n=24, k=64, dtype="bf16")
    with pytest.raises(ValueError, match=r"k=8: must be a positive multiple of 16 \(4 blocks"):
        check_summa(cfg, m=16, n=32, k=8, dtype="bf16")
    with pytest.raises(ValueError, match="SRAM lines per node"):
        check_summa(cfg, m=64, n=64, k=64, dtype="bf16")
    lay = check_summa(cfg, m=16, n=32, k=64, dtype="bf16")
    assert lay["grid"] == [4, 2] and lay["steps"] == 4 and lay["block"] == [8, 8, 16]
    assert len(lay["a_own"]) == 1 and len(lay["b_own"]) == 2


def test_owners_send_each_panel_to_their_row_and_column():
    cfg = load_config(CFG, FLAT)
    mdl = NodeModel.from_config(cfg, derive(cfg))
    lay = check_summa(cfg, m=16, n=32, k=64, dtype="int8")
    progs = summa_programs(mdl, lay, dtype="int8")
    for (j, i), queues in progs.items():
        _, pushes = executed(mdl, queues[0])
        want = []
        for t in range(4):
            if j == t % 4:
                want += [(jj, i) for jj in range(4) if jj != j]
            if i == t % 2:
                want += [(j, 1 - i)]
        assert [p["to"] for p in pushes] == want, (j, i)
        assert all(p["count"] == lay["a_lines"] for p in pushes)


# Verilator runs both dtypes, Icarus (slower) one
RUNS = [(sim, dtype) for sim in available_simulators() for dtype in ("bf16", "int8")
        if sim != "icarus" or dtype == "int8"]


@pytest.mark.slow
@pytest.mark.parametrize("sim, dtype", RUNS)
def test_summa_on_a_non_square_tile_is_bit_exact(tmp_path, sim, dtype):
    res = run_summa(load_config(CFG, FLAT), m=16, n=32, k=64, dtype=dtype, sim=sim,
                    out_dir=tmp_path)
    assert res["match"], (res["wrong_nodes"], res["bad_halts"])
    assert not res["problems"], res["problems"]
    assert res["nodes"] == 8 and 0.1 < res["compute_peak_fraction"] <= 1
    assert np.load(tmp_path / "C.npy").shape == (16, 32)


@pytest.mark.slow
def test_summa_on_the_default_tile_is_bit_exact(tmp_path):
    res = run_summa(load_config(CFG), m=32, n=32, k=64, dtype="int8", out_dir=tmp_path)
    assert res["match"] and not res["problems"], (res["wrong_nodes"], res["bad_halts"])
