# amaranth: UnusedElaboratable=no
"""The fast model of the NI's push DMA (sim.netmodel.node.push_dma) against its RTL block:
random PUSHes (WRITE and ADD, split into packets), signals and PULLs' READs, started when
the DMA is idle and the descriptor valid, into a queue that the link drains at random; every
output, the flits included, compared every cycle."""

import numpy as np
import pytest

from rtl.net.packet import PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.push_dma import PushDma
from sim.netmodel.node.push_dma import INPUTS, OUTPUTS, PUSH_DESC, PushDmas
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("push-dma")

LINES, MESH, MAX_LEN, DEPTH, CYCLES = 64, (3, 2), 4, 4, 2500


def random_desc(rng):
    return dict(src_addr=int(rng.integers(LINES)), count=int(rng.choice([0, 1, 2, 3, 4, 7, 12])),
                dst_x=int(rng.integers(MESH[0] + 1)), dst_y=int(rng.integers(MESH[1] + 1)),
                dst_addr=int(rng.integers(LINES)), add=int(rng.integers(2)),
                dtype=int(rng.integers(2)), sem_inc=int(rng.integers(2)),
                sem=int(rng.integers(4)))


def lockstep(*, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    many transfers finished."""
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES)
    kw = dict(layouts=lay, max_packet_flits=MAX_LEN, mesh_x=MESH[0], mesh_y=MESH[1],
              queue_depth=DEPTH)
    dut = PushDma(**kw)
    model = PushDmas(nodes=2, **kw, mutant=mutant)
    rng = np.random.default_rng(seed)
    mem = [int(rng.integers(1 << 62)) << 2 | int(rng.integers(4)) for _ in range(LINES)]
    stored, level, finished = 0, 0, 0

    async def bench(ctx):
        nonlocal stored, level, finished
        desc = random_desc(rng)
        for t in range(cycles):
            if rng.random() < 0.2:
                desc = random_desc(rng)
            ins = dict(x=1, y=0, tag=int(rng.integers(256)), ack=int(rng.integers(2)),
                       read=int(rng.random() < 0.3), q_rdy=int(level < DEPTH), q_level=level,
                       **{"d_" + k: v for k, v in desc.items()})
            ctx.set(dut.desc.as_value(), lay.encode("push_desc", **desc))
            for name in ("x", "y", "tag", "ack", "read"):
                ctx.set(getattr(dut, name), ins[name])
            ctx.set(dut.q.rdy, ins["q_rdy"])
            ctx.set(dut.q.level, level)
            ctx.set(dut.sram.data, stored)
            model.sram_data[0] = int_to_words(stored, 1)
            # start: only while idle, and (as the NI does) only a valid descriptor
            start = int(not ctx.get(dut.busy) and ctx.get(dut.desc_ok) and rng.random() < 0.3)
            ctx.set(dut.start, start)
            for name, value in {**ins, "start": start}.items():
                model.inputs[0, INPUTS[name]] = value
            model.outputs_of_cycle()
            out = {name: ctx.get(getattr(dut, name)) for name in ("desc_ok", "busy", "done")}
            out.update(sram_en=ctx.get(dut.sram.en), sram_addr=ctx.get(dut.sram.addr),
                       q_en=ctx.get(dut.q.en))
            q_data = ctx.get(dut.q.data)
            mine = model.outputs[0]
            compare(t, [(name, value, mine[OUTPUTS[name]]) for name, value in out.items()]
                    + [("q_data", q_data, words_to_int(model.flit[0])
                        | int(mine[OUTPUTS["q_last"]]) << 64)])
            finished += bool(out["done"])
            model.clock()
            await ctx.tick()
            if out["sram_en"]:
                stored = mem[out["sram_addr"]]
            level = max(0, level + out["q_en"] - (rng.random() < 0.5))   # the link drains

    simulate(dut, bench)
    return finished


def test_the_model_matches_the_rtl_every_cycle():
    assert lockstep() > 20


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: sram_en: RTL 0x0, model 0x1"):
        lockstep(mutant="reads_ahead_of_room")
