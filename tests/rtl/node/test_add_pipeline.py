# amaranth: UnusedElaboratable=no
"""AddPipeline against the SRAM: writes, INT32/FP32 adds, back-to-back lines to one address."""

import random
import struct

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl.node.add_pipeline import AddPipeline
from rtl.node.sram import Scratchpad

W, LINES = 64, 8


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def lanes(*words):
    return sum(w << (32 * i) for i, w in enumerate(words))


def model(ops):
    mem = [0] * LINES
    for add, fp, addr, data in ops:
        if not add:
            mem[addr] = data
            continue
        out = []
        for i in range(W // 32):
            a, b = mem[addr] >> (32 * i) & 0xFFFFFFFF, data >> (32 * i) & 0xFFFFFFFF
            if fp:
                s = struct.unpack("<f", struct.pack("<I", a))[0] \
                    + struct.unpack("<f", struct.pack("<I", b))[0]
                out.append(f32(s))
            else:
                out.append((a + b) & 0xFFFFFFFF)
        mem[addr] = lanes(*out)
    return mem


def run(ops, *, gaps=0.0, seed=0):
    rng = random.Random(seed)
    m = Module()
    m.submodules.add = dut = AddPipeline(addr_bits=3, width=W)
    m.submodules.sram = sram = Scratchpad(lines=LINES, width=W)
    wiring.connect(m, dut.wr, sram.write[0])
    rd = sram.read[0][0]
    m.d.comb += dut.rdata.eq(rd.data)
    got = []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for add, fp, addr, data in ops:
            while rng.random() < gaps:
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.add, add)
            ctx.set(dut.i.fp, fp)
            ctx.set(dut.i.addr, addr)
            ctx.set(dut.i.data, data)
            ctx.set(rd.en, add)              # stage 0 issues the read
            ctx.set(rd.addr, addr)
            await ctx.tick()
            ctx.set(dut.i.valid, 0)
            ctx.set(rd.en, 0)
        await ctx.tick().repeat(3)
        for a in range(LINES):
            ctx.set(rd.en, 1)
            ctx.set(rd.addr, a)
            await ctx.tick()
            ctx.set(rd.en, 0)
            got.append(ctx.get(rd.data))

    sim.add_testbench(bench)
    sim.run()
    return got


def test_write_two_cycles_later():
    m = Module()
    m.submodules.add = dut = AddPipeline(addr_bits=3, width=W)
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.addr, 5)
        ctx.set(dut.i.data, 0x1234)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        assert not ctx.get(dut.wr.en)
        await ctx.tick()
        assert (ctx.get(dut.wr.en), ctx.get(dut.wr.addr), ctx.get(dut.wr.data)) == (1, 5, 0x1234)
        await ctx.tick()
        assert not ctx.get(dut.wr.en)

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("gaps", [0.0, 0.5])
@pytest.mark.parametrize("fp", [0, 1])
def test_adds_against_model(fp, gaps):
    rng = random.Random(fp)
    if fp:
        val = lambda: lanes(*(f32(rng.choice([0.5, 1.0, 1.5, -2.0, 3.25])) for _ in range(W // 32)))
    else:
        val = lambda: rng.getrandbits(W)
    # writes first, then adds, many to the same lines back to back (forwarding)
    ops = [(0, 0, a, val()) for a in range(LINES)]
    ops += [(1, fp, rng.choice([0, 1, 1, 2]), val()) for _ in range(40)]
    assert run(ops, gaps=gaps) == model(ops)


def test_parameters():
    with pytest.raises(ValueError, match="width must be a positive multiple of 32, not 48"):
        AddPipeline(addr_bits=3, width=48)
    with pytest.raises(ValueError, match="addr_bits must be a positive integer"):
        AddPipeline(addr_bits=0, width=64)
