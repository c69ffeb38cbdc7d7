# amaranth: UnusedElaboratable=no
"""The fast model of the NI's input buffer (sim.netmodel.node.rx_buffer) against its RTL block.

A sender that honours the credits it gets back sends packets on random VCs, interleaved flit
by flit as a router does, some longer than a queue (segments), some whose head's length is
wrong; a consumer pops at random. Every head output and credit compared every cycle.
"""

import random

import pytest

from rtl.net.packet import PacketFormat
from rtl.node.rx_buffer import RxBuffer
from sim.netmodel.node.rx_buffer import (HEAD_OUT, L_LAST, L_VALID, L_VC, Q_CREDIT, RxBuffers,
                                         rx_head)
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, simulate

CYCLES = 2500
#: (flit_bits, vcs, credits, depth)
CONFIGS = [(64, 2, 3, 6), (100, 4, 2, 4), (64, 1, 4, 4)]


class Sender:
    """Packets on random VCs within the credits returned (the router's output)."""

    def __init__(self, fmt, vcs, credits, depth, rng):
        self.fmt, self.rng, self.depth = fmt, rng, depth
        self.credits = [credits] * vcs
        self.left = [0] * vcs             # flits of the packet under way on each VC

    def flit(self):
        """The flit of this cycle: ``(vc, last, data)`` or None."""
        rng = self.rng
        ready = [v for v, c in enumerate(self.credits) if c]
        if not ready or rng.random() < 0.3:
            return None
        v = rng.choice(ready)
        W = self.fmt.flit_bits
        data = rng.getrandbits(W)
        if self.left[v] == 0:             # a head
            n = rng.choice([1, 2, 3, self.depth - 1, self.depth, self.depth + 2])
            self.left[v] = n
            length = n if rng.random() < 0.8 else rng.choice([n - 1, n + 1, 0, 255])
            data = self.fmt.encode_head(dst=(0, 0), src=(1, 1), opcode=rng.randrange(8),
                                        length=length & 0xFF, info=rng.getrandbits(8))
        self.left[v] -= 1
        self.credits[v] -= 1
        return v, self.left[v] == 0, data

    def credit(self, bits):
        for v in range(len(self.credits)):
            self.credits[v] += bits >> v & 1


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 receives nothing) on the same flits and pops."""
    flit_bits, vcs, credits, depth = config
    fmt = PacketFormat(flit_bits=flit_bits, coord_bits=3)
    dut = RxBuffer(fmt=fmt, vcs=vcs, credits=credits, depth=depth)
    model = RxBuffers(nodes=2, fmt=fmt, vcs=vcs, credits=credits, depth=depth, mutant=mutant)
    rng = random.Random(seed)
    sender = Sender(fmt, vcs, credits, depth, rng)
    words = model.link_data.shape[1]
    taken = [0] * vcs

    def outputs(ctx):
        yield "overflow", ctx.get(dut.overflow), model.overflow[0]
        yield "i.credit", ctx.get(dut.i.credit), sum(
            int(model.rx[0, v, Q_CREDIT]) << v for v in range(vcs))
        for v in range(vcs):
            port = dut.vc[v]
            for name, index in HEAD_OUT.items():
                yield f"vc[{v}].{name}", ctx.get(getattr(port, name)), model.heads[0, v, index]
            yield f"vc[{v}].head", ctx.get(port.head), words_to_int(rx_head(0, v, model.rx,
                                                                             model.flits))

    async def bench(ctx):
        for t in range(cycles):
            flit = sender.flit()
            vc, last, data = flit if flit else (0, 0, 0)
            ctx.set(dut.i.valid, flit is not None)
            ctx.set(dut.i.vc, vc)
            ctx.set(dut.i.last, last)
            ctx.set(dut.i.data, data)
            model.link[0, L_VALID], model.link[0, L_VC], model.link[0, L_LAST] = (
                flit is not None, vc, last)
            model.link_data[0] = int_to_words(data, words)
            for v in range(vcs):
                pop = rng.random() < 0.45
                ctx.set(dut.vc[v].pop, pop)
                model.pop[0, v] = pop
                taken[v] += pop and ctx.get(dut.vc[v].nonempty)
            model.outputs()
            compare(t, outputs(ctx))
            sender.credit(ctx.get(dut.i.credit))
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return taken


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "w{}-v{}-c{}-d{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    taken = lockstep(config)
    assert min(taken) > CYCLES // 10          # every VC carried traffic


@pytest.mark.parametrize("mutant", ["credit_on_arrival", "length_off_by_one"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: (vc\[\d\]\.\w+|i\.credit): RTL 0x"):
        lockstep(CONFIGS[0], mutant=mutant)
