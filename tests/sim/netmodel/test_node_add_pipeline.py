# amaranth: UnusedElaboratable=no
"""The fast model of the NI's sink pipeline (sim.netmodel.node.add_pipeline) against its RTL
block: random WRITE and ADD lines (FP32 lanes weighted to the contract's corner cases, INT32
lanes that wrap) to a few addresses, so that back-to-back lines to one address take the
forwarding path; the write compared every cycle."""

import numpy as np
import pytest

from rtl.node.add_pipeline import AddPipeline
from sim.netmodel.node.add_pipeline import INPUTS, OUTPUTS, AddPipelines
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from verif.golden import interesting_fp32

pytestmark = one_worker("add-pipeline")

WIDTH, ADDRS, CYCLES = 128, 4, 2000


def lockstep(*, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 takes other lines) on the same lines; returns
    how many lines the RTL wrote."""
    dut = AddPipeline(addr_bits=2, width=WIDTH)
    model = AddPipelines(nodes=2, width=WIDTH, mutant=mutant)
    words = WIDTH // 64
    rng = np.random.default_rng(seed)
    mem = [0] * ADDRS
    stored = 0                               # the SRAM's read register
    writes = 0

    def line():
        lanes = np.where(rng.random(WIDTH // 32) < 0.5, interesting_fp32(rng, WIDTH // 32),
                         rng.integers(0, 1 << 32, WIDTH // 32, dtype=np.uint64))
        return sum(int(v) << (32 * i) for i, v in enumerate(lanes))

    async def bench(ctx):
        nonlocal stored, writes
        for t in range(cycles):
            ins = dict(valid=int(rng.random() < 0.7), add=int(rng.random() < 0.6),
                       fp=int(rng.random() < 0.5), addr=int(rng.integers(ADDRS)))
            data = line()
            for name, value in ins.items():
                ctx.set(getattr(dut.i, name), value)
                model.inputs[:, INPUTS[name]] = value, rng.integers(2)
            ctx.set(dut.i.data, data)
            ctx.set(dut.rdata, stored)
            model.line_in[0], model.rdata[0] = (int_to_words(data, words),
                                                int_to_words(stored, words))
            model.line_in[1] = rng.integers(0, 1 << 62, words)
            model.outputs_of_cycle()
            en, addr, wdata = (ctx.get(dut.wr.en), ctx.get(dut.wr.addr), ctx.get(dut.wr.data))
            compare(t, [("wr_en", en, model.outputs[0, OUTPUTS["wr_en"]]),
                        ("wr_addr", addr, model.outputs[0, OUTPUTS["wr_addr"]]),
                        ("wr_data", wdata, words_to_int(model.wr_line[0]))])
            model.clock()
            await ctx.tick()
            if en:
                mem[addr] = wdata
                writes += 1
            if ins["valid"] and ins["add"]:      # the caller's read, after the write
                stored = mem[ins["addr"]]

    simulate(dut, bench)
    return writes


def test_the_model_matches_the_rtl_every_cycle():
    assert lockstep() > CYCLES // 2


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: wr_data: RTL 0x[0-9a-f]+, model "):
        lockstep(mutant="no_forwarding")
