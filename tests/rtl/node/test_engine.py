"""Matrix engine: small GEMMs in both modes, bit-exact against the golden model,
with and without C0, with SRAM port contention; utilisation; descriptor checks."""

import random

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl.node.engine import EngineGeometry, MatrixEngine
from rtl.node.mac import MacMode
from rtl.net.packet import PacketFormat
from rtl.node.sram import Scratchpad
from verif import golden
from verif.node_model import NodeModel

FMT = PacketFormat(flit_bits=64, coord_bits=2)
MODES = {"bf16": MacMode.BF16, "int8": MacMode.INT8}


def random_operands(rng, m, n, k, dtype, interesting=False):
    if dtype == "bf16":
        if interesting:
            a = golden.interesting_bf16(rng, m * k).reshape(m, k)
            b = golden.interesting_bf16(rng, k * n).reshape(k, n)
        else:   # magnitudes in [1/8, 4): products and sums stay normal and exercise rounding
            a = (rng.integers(0x3E00, 0x4080, (m, k)) | (rng.integers(0, 2, (m, k)) << 15)
                 ).astype(np.uint16)
            b = (rng.integers(0x3E00, 0x4080, (k, n)) | (rng.integers(0, 2, (k, n)) << 15)
                 ).astype(np.uint16)
        c0 = golden.interesting_fp32(rng, m * n).reshape(m, n) if interesting else \
            golden.float_to_f32_bits(rng.uniform(-4, 4, (m, n)).astype(np.float32))
    else:
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        c0 = rng.integers(-2**31, 2**31, (m, n)).astype(np.int64).astype(np.int32).view(np.uint32)
    return a, b, c0


class Harness:
    def __init__(self, *, p=4, lines=256):
        self.model = NodeModel(fmt=FMT, lines=lines, vcs=2, max_packet_flits=8, matrix_p=p)
        self.eng = MatrixEngine(layouts=self.model.lay, p=p)
        self.sram = Scratchpad(lines=lines, width=64, read_ports=3, read_clients=2)
        self.top = m = Module()
        m.submodules.eng = self.eng
        m.submodules.sram = self.sram
        wiring.connect(m, self.eng.rd_a, self.sram.read[0][1])
        wiring.connect(m, self.eng.rd_b, self.sram.read[1][1])
        wiring.connect(m, self.eng.rd_c, self.sram.read[2][1])
        wiring.connect(m, self.eng.wr, self.sram.write[1])

    async def poke(self, ctx, addr, lines):
        w = self.sram.write[0]
        for i, v in enumerate(lines):
            ctx.set(w.en, 1)
            ctx.set(w.addr, addr + i)
            ctx.set(w.data, v)
            await ctx.tick()
        ctx.set(w.en, 0)

    async def peek(self, ctx, addr, n):
        r = self.sram.read[0][0]
        out = []
        for i in range(n):
            ctx.set(r.en, 1)
            ctx.set(r.addr, addr + i)
            await ctx.tick()
            out.append(ctx.get(r.data))
        ctx.set(r.en, 0)
        return out

    def gemm(self, a, b, c0, dtype, *, accumulate, contention=0.0, seed=0):
        """Run one GEMM; returns (C as uint32, cycles, steps)."""
        mdl = self.model
        m_, k = a.shape
        n = b.shape[1]
        lay = mdl.gemm_layout(m=m_, n=n, k=k, dtype=dtype, base=3)
        result = {}
        rng = random.Random(seed)

        async def bench(ctx):
            await self.poke(ctx, lay["a"], mdl.pack_a(a, dtype))
            await self.poke(ctx, lay["b"], mdl.pack_b(b, dtype))
            await self.poke(ctx, lay["c"], mdl.pack_c(c0))
            d = self.eng.desc
            ctx.set(d, {"mode": MODES[dtype], "accumulate": int(accumulate),
                        "m_tiles": m_ // mdl.p, "n_tiles": n // mdl.p, "k_tiles": k // mdl.p,
                        "a_addr": lay["a"], "b_addr": lay["b"], "c_addr": lay["c"]})
            assert ctx.get(self.eng.desc_ok)
            ctx.set(self.eng.start, 1)
            await ctx.tick()
            ctx.set(self.eng.start, 0)
            busy_cycles = 0
            while ctx.get(self.eng.busy):
                # higher-priority clients steal read ports at random
                for port in (0, 1, 2):
                    cl = self.sram.read[port][0]
                    ctx.set(cl.en, rng.random() < contention)
                    ctx.set(cl.addr, 0)
                await ctx.tick()
                busy_cycles += 1
                assert busy_cycles < 20000
            for port in (0, 1, 2):
                ctx.set(self.sram.read[port][0].en, 0)
            result["cycles"] = ctx.get(self.eng.cycles)
            result["steps"] = ctx.get(self.eng.steps)
            result["c"] = mdl.unpack_c(await self.peek(ctx, lay["c"], lay["c_lines"]), m_, n)

        sim = Simulator(self.top)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()
        return result


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
@pytest.mark.parametrize("shape, accumulate, contention", [
    ((4, 4, 4), False, 0.0),
    ((8, 4, 8), True, 0.0),
    ((4, 8, 12), True, 0.3),
    ((8, 8, 4), True, 0.0),
    ((8, 8, 16), True, 0.6),
], ids=["4x4x4", "8x4x8-acc", "4x8x12-acc-contended", "8x8x4-acc-short-k",
        "8x8x16-acc-prefetch-contended"])
def test_gemm_matches_golden(dtype, shape, accumulate, contention):
    m, n, k = shape
    rng = np.random.default_rng(hash((dtype, shape)) % 2**32)
    a, b, c0 = random_operands(rng, m, n, k, dtype, interesting=(m == 8))
    h = Harness()
    res = h.gemm(a, b, c0, dtype, accumulate=accumulate, contention=contention)
    expected = NodeModel.golden(a, b, c0 if accumulate else None, dtype)
    assert np.array_equal(res["c"], expected), \
        f"mismatch at {np.argwhere(res['c'] != expected)[:4].tolist()}"
    assert res["steps"] == (m // 4) * (n // 4) * k


@pytest.mark.slow      # a long-k performance property (make test); GEMMs of both dtypes stay quick
@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_utilisation_long_k(dtype):
    """K = 16 P: steady-state MAC utilisation (the marginal cost of extra tiles, so the
    one-time pipeline fill and final write-back drop out) >= 98 % with and without
    C0 (every tile after the first has its C0 prefetched on read port 2 while the tile
    before it computes); every result bit-exact."""
    k = 64
    rng = np.random.default_rng(1)
    h = Harness(lines=512)
    for accumulate, floor in ((False, 0.98), (True, 0.98)):
        runs = []
        for m, n in ((4, 8), (8, 8)):
            a, b, c0 = random_operands(rng, m, n, k, dtype)
            res = h.gemm(a, b, c0, dtype, accumulate=accumulate)
            expected = NodeModel.golden(a, b, c0 if accumulate else None, dtype)
            assert np.array_equal(res["c"], expected)
            runs.append(res)
        steady = (runs[1]["steps"] - runs[0]["steps"]) / (runs[1]["cycles"] - runs[0]["cycles"])
        overall = runs[1]["steps"] / runs[1]["cycles"]
        print(f"{dtype} accumulate={accumulate}: steady {steady:.3f}, overall 8x8x64 {overall:.3f}")
        assert steady >= floor, f"{dtype} accumulate={accumulate}: steady utilisation {steady:.3f}"


def test_descriptor_checks():
    h = Harness(lines=64)
    d = h.eng.desc
    cases = [
        ({"m_tiles": 1, "n_tiles": 1, "k_tiles": 1, "a_addr": 0, "b_addr": 4, "c_addr": 8}, 1),
        ({"m_tiles": 0, "n_tiles": 1, "k_tiles": 1}, 0),
        ({"m_tiles": 1, "n_tiles": 1, "k_tiles": 1, "c_addr": 57}, 0),   # C: 8 lines
        ({"m_tiles": 1, "n_tiles": 1, "k_tiles": 1, "c_addr": 56}, 1),
        ({"m_tiles": 2, "n_tiles": 1, "k_tiles": 8, "a_addr": 1}, 0),    # A: 64 lines
        ({"m_tiles": 2, "n_tiles": 1, "k_tiles": 8, "mode": MacMode.INT8}, 1),  # A: 32 lines
    ]

    async def bench(ctx):
        for fields, ok in cases:
            full = {"mode": MacMode.BF16, "accumulate": 0, "m_tiles": 1, "n_tiles": 1,
                    "k_tiles": 1, "a_addr": 0, "b_addr": 0, "c_addr": 0, **fields}
            ctx.set(d, full)
            assert ctx.get(h.eng.desc_ok) == ok, fields

    sim = Simulator(h.top)
    sim.add_testbench(bench)
    sim.run()


def test_geometry_errors():
    with pytest.raises(ValueError, match="matrix_p must be a power of two"):
        EngineGeometry(p=3, width=64)
    with pytest.raises(ValueError, match="needs 128-bit lines for one bf16 step"):
        EngineGeometry(p=8, width=64)
    with pytest.raises(ValueError, match="smaller than one 64-bit line"):
        EngineGeometry(p=1, width=64)
    g = EngineGeometry(p=4, width=64)
    assert g.steps_per_line(MacMode.BF16) == 1 and g.steps_per_line(MacMode.INT8) == 2
    assert g.tile_lines == 8 and g.panel_lines(12, MacMode.INT8) == 6
