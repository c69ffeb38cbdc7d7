# amaranth: UnusedElaboratable=no
"""The fast model of the NI's link output (sim.netmodel.node.link_tx) against its RTL block.

Two writers put packets into the request and the response queue whenever it has room (at
random), a receiver returns each flit's credit a random few cycles later; with one VC the
two classes share it. Every link register and queue output compared every cycle.
"""

import collections
import random

import pytest

from rtl.node.link_tx import LinkTx
from sim.netmodel.node.link_tx import (PORT, REQ, RESP, T_LAST, T_VALID, T_VC, W_EN, W_LAST,
                                       LinkTxs)
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, simulate

CYCLES = 2500
#: (flit_bits, vcs, credits, depth)
CONFIGS = [(64, 1, 2, 4), (64, 2, 3, 4), (100, 4, 2, 3)]


class Writer:
    """Packets of 1..5 flits into one queue, a flit whenever it has room (at random)."""

    def __init__(self, rng, width):
        self.rng, self.width, self.left = rng, width, 0

    def flit(self, rdy):
        """``(en, last, data)`` of this cycle."""
        if not rdy or self.rng.random() < 0.35:
            return 0, 0, 0
        if self.left == 0:
            self.left = self.rng.randint(1, 5)
        self.left -= 1
        return 1, int(self.left == 0), self.rng.getrandbits(self.width)


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 is idle) on the same writes and credits;
    returns the flits sent per VC."""
    flit_bits, vcs, credits, depth = config
    dut = LinkTx(flit_bits=flit_bits, vcs=vcs, credits=credits, depth=depth)
    model = LinkTxs(nodes=2, flit_bits=flit_bits, vcs=vcs, credits=credits, depth=depth,
                    mutant=mutant)
    rng = random.Random(seed)
    writers = [Writer(rng, flit_bits), Writer(rng, flit_bits)]
    ports = (dut.req, dut.resp)
    words = model.out_data.shape[1]
    returns = [collections.deque() for _ in range(vcs)]    # cycles the credits come back
    sent = [0] * vcs

    def outputs(ctx):
        yield "o.valid", ctx.get(dut.o.valid), model.tx[0, T_VALID]
        yield "o.last", ctx.get(dut.o.last), model.tx[0, T_LAST]
        yield "o.vc", ctx.get(dut.o.vc), model.tx[0, T_VC]
        yield "o.data", ctx.get(dut.o.data), words_to_int(model.out_data[0])
        for c, name in ((REQ, "req"), (RESP, "resp")):
            for k, i in PORT.items():
                yield f"{name}.{k}", ctx.get(getattr(ports[c], k)), model.ports[0, c, i]

    async def bench(ctx):
        for t in range(cycles):
            model.outputs()
            compare(t, outputs(ctx))
            if ctx.get(dut.o.valid):
                v = ctx.get(dut.o.vc)
                sent[v] += 1
                returns[v].append(t + rng.randint(1, 6))
            bits = 0
            for v in range(vcs):                 # one credit pulse per VC and cycle
                if returns[v] and returns[v][0] <= t:
                    returns[v].popleft()
                    bits |= 1 << v
            ctx.set(dut.o.credit, bits)
            model.credit_in[0] = bits
            for c in (REQ, RESP):
                en, last, data = writers[c].flit(ctx.get(ports[c].rdy))
                ctx.set(ports[c].en, en)
                ctx.set(ports[c].data, data | last << flit_bits)
                model.writes[0, c, W_EN], model.writes[0, c, W_LAST] = en, last
                model.write_data[0, c] = int_to_words(data, words)
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return sent


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "w{}-v{}-c{}-d{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    sent = lockstep(config)
    assert sum(sent) > CYCLES // 5               # the link was busy, credits the bound


@pytest.mark.parametrize("mutant, config", [("requests_first", CONFIGS[1]),
                                            ("credit_ignored", CONFIGS[0])])
def test_a_wrong_model_fails_the_comparison(mutant, config):
    with pytest.raises(AssertionError, match=r"^cycle \d+: (o|req|resp)\.\w+: RTL 0x"):
        lockstep(config, mutant=mutant)
