# amaranth: UnusedElaboratable=no
"""The fast model of the NI's response writer (sim.netmodel.node.response_writer) against its
RTL block: DONE sources loading and arming their slots at random, READ_RESP packets written
through while the queue has room (DONEs held back meanwhile), a queue the link drains at
random; every output compared every cycle."""

import numpy as np
import pytest

from rtl.net.packet import Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.response_writer import ResponseWriter
from sim.netmodel.node.response_writer import (INPUTS, OUTPUTS, SLOT, SLOT_INPUTS,
                                               ResponseWriters)
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("response-writer")

SLOTS, DEPTH, CYCLES = 4, 4, 2500


def lockstep(*, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    many DONEs were written."""
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=64)
    dut = ResponseWriter(layouts=lay, slots=SLOTS, queue_depth=DEPTH)
    model = ResponseWriters(nodes=2, layouts=lay, slots=SLOTS, mutant=mutant)
    rng = np.random.default_rng(seed)
    level, resp_left, dones = 0, 0, 0

    async def bench(ctx):
        nonlocal level, resp_left, dones
        for t in range(cycles):
            for s in range(SLOTS):
                port = dut.done[s]
                pending = ctx.get(port.pending)
                arm = int(not pending and rng.random() < 0.08)
                fields = dict(load=int(arm or rng.random() < 0.1), arm=arm,
                              x=int(rng.integers(8)), y=int(rng.integers(8)),
                              tag=int(rng.integers(256)),
                              opcode=int(rng.choice([Opcode.EXEC.value, Opcode.WRITE.value])),
                              addr=int(rng.integers(1 << lay.space_bits)))
                for name, value in fields.items():
                    ctx.set(getattr(port, name), value)
                    model.slot_in[0, s, SLOT_INPUTS[name]] = value
            if not resp_left and rng.random() < 0.05:
                resp_left = int(rng.integers(2, 5))         # a READ_RESP begins
            rdy = level < DEPTH
            rx_en = int(bool(resp_left) and rdy and rng.random() < 0.7)
            rx_last = int(rx_en and resp_left == 1)
            flit = int(rng.integers(1 << 63))
            ins = dict(x=2, y=1, rx_en=rx_en, rx_last=rx_last, rx_hold=int(bool(resp_left)),
                       q_rdy=int(rdy))
            for name in ("x", "y", "rx_en", "rx_hold"):
                ctx.set(getattr(dut, name), ins[name])
            ctx.set(dut.rx_data, flit | rx_last << 64)
            ctx.set(dut.q.rdy, rdy)
            ctx.set(dut.q.level, level)
            for name, value in ins.items():
                model.inputs[0, INPUTS[name]] = value
            model.rx_flit[0] = int_to_words(flit, 1)
            model.outputs_of_cycle()
            mine = model.outputs[0]
            en = ctx.get(dut.q.en)
            compare(t, [("q_en", en, mine[OUTPUTS["q_en"]]),
                        ("q_data", ctx.get(dut.q.data),
                         words_to_int(model.flit[0]) | int(mine[OUTPUTS["q_last"]]) << 64)]
                    + [(f"done[{s}].pending", ctx.get(dut.done[s].pending),
                        model.slots[0, s, SLOT["pending"]]) for s in range(SLOTS)])
            dones += mine[OUTPUTS["slot"]] >= 0
            resp_left -= rx_en
            model.clock()
            await ctx.tick()
            level = max(0, level + en - (rng.random() < 0.5))

    simulate(dut, bench)
    return dones


def test_the_model_matches_the_rtl_every_cycle():
    assert lockstep() > 100


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: q_\w+: RTL 0x[0-9a-f]+, model "):
        lockstep(mutant="done_through_hold")
