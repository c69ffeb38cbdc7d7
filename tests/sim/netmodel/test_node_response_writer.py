# amaranth: UnusedElaboratable=no
"""The fast model of the NI's response writer (sim.netmodel.node.response_writer) against its
RTL block.

READ_RESP packets come in bursts (``rx_hold`` over each), DONE sources load and arm their
slots at random whenever their slot is free (some load without arming), the queue has room
at random. The queue write (flit and ``last``) and every slot's ``pending`` compared every
cycle.
"""

import random

import pytest

from rtl.net.packet import PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.response_writer import ResponseWriter
from sim.netmodel.node.link_tx import W_EN, W_LAST
from sim.netmodel.node.response_writer import (INPUTS, K_PENDING, SLOT_IN, ResponseWriters)
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, simulate

CYCLES = 2500
#: (flit_bits, coord_bits, lines, slots)
CONFIGS = [(64, 3, 32, 5), (130, 4, 200, 2)]


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 idle) on the same inputs; returns the DONEs
    written."""
    flit_bits, cb, lines, slots = config
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=flit_bits, coord_bits=cb), lines=lines)
    dut = ResponseWriter(layouts=lay, slots=slots)
    model = ResponseWriters(nodes=2, layouts=lay, slots=slots, mutant=mutant)
    rng = random.Random(seed)
    words = model.rx_data.shape[1]
    burst = 0                              # READ_RESP flits still to come
    dones = 0

    def outputs(ctx):
        yield "q.en", ctx.get(dut.q.en), model.q_write[0, W_EN]
        yield "q.data", ctx.get(dut.q.data), (words_to_int(model.q_data[0])
                                              | int(model.q_write[0, W_LAST]) << flit_bits)
        for s in range(slots):
            yield f"done[{s}].pending", ctx.get(dut.done[s].pending), model.slots[0, s,
                                                                                    K_PENDING]

    async def bench(ctx):
        nonlocal burst, dones
        for t in range(cycles):
            if burst == 0 and rng.random() < 0.05:
                burst = rng.randint(2, 6)
            rx_en = burst > 0 and rng.random() < 0.7
            burst -= rx_en
            data = rng.getrandbits(flit_bits)
            ins = dict(rx_en=rx_en, rx_last=rx_en and burst == 0, rx_hold=burst > 0 or rx_en,
                       q_rdy=rng.random() < 0.7, x=rng.randrange(1 << cb),
                       y=rng.randrange(1 << cb))
            ctx.set(dut.rx_en, ins["rx_en"])
            ctx.set(dut.rx_data, data | ins["rx_last"] << flit_bits)
            ctx.set(dut.rx_hold, ins["rx_hold"])
            ctx.set(dut.q.rdy, ins["q_rdy"])
            ctx.set(dut.x, ins["x"])
            ctx.set(dut.y, ins["y"])
            for name, i in INPUTS.items():
                model.inputs[0, i] = ins[name]
            model.rx_data[0] = int_to_words(data, words)
            for s in range(slots):
                port = dut.done[s]
                free = not ctx.get(port.pending)
                load = rng.random() < 0.1
                fields = dict(load=load, x=rng.randrange(1 << cb), y=rng.randrange(1 << cb),
                              tag=rng.randrange(256), opcode=rng.randrange(8),
                              addr=rng.randrange(1 << lay.space_bits),
                              arm=load and free and rng.random() < 0.8)
                for name, i in SLOT_IN.items():
                    ctx.set(getattr(port, name), fields[name])
                    model.slot_in[0, s, i] = fields[name]
            model.outputs()
            compare(t, outputs(ctx))
            dones += ctx.get(dut.q.en) and not rx_en
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return dones


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "w{}-cb{}-l{}-s{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    assert lockstep(config) > 50


@pytest.mark.parametrize("mutant", ["done_ignores_hold", "last_slot_first"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: (q\.\w+|done\[\d\]\.pending): RTL 0x"):
        lockstep(CONFIGS[0], mutant=mutant)
