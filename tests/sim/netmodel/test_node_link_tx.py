# amaranth: UnusedElaboratable=no
"""The fast model of the NI's link TX (sim.netmodel.node.link_tx) against its RTL block:
request and response packets written at random into the two queues, credits returned by
the receiver after a random delay, one VC (the classes share it, a packet holds the link)
and two; every output compared every cycle."""

import collections

import numpy as np
import pytest

from rtl.node.link_tx import LinkTx
from sim.netmodel.node.link_tx import INPUTS, OUTPUTS, LinkTxs
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("link-tx")

CREDITS, DEPTH, CYCLES = 3, 4, 2500


def lockstep(vcs, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    many flits went out."""
    dut = LinkTx(flit_bits=64, vcs=vcs, credits=CREDITS, depth=DEPTH)
    model = LinkTxs(nodes=2, flit_bits=64, vcs=vcs, credits=CREDITS, depth=DEPTH,
                    mutant=mutant)
    rng = np.random.default_rng(seed)
    left = [0, 0]                            # flits left of the packet each queue writes
    # per VC the cycles its credits come back (one per cycle at most, as on the link)
    returns = [collections.deque() for _ in range(vcs)]
    sent = 0

    async def bench(ctx):
        nonlocal sent
        for t in range(cycles):
            writes = []
            for i, port in enumerate((dut.req, dut.resp)):
                en = int(ctx.get(port.rdy) and rng.random() < 0.45)
                if en and not left[i]:
                    left[i] = int(rng.integers(1, 4))
                flit = int(rng.integers(1 << 63))
                last = int(en and left[i] == 1)
                left[i] -= en
                ctx.set(port.en, en)
                ctx.set(port.data, flit | last << 64)
                model.inputs[0, INPUTS[f"en{i}"]], model.inputs[0, INPUTS[f"last{i}"]] = en, last
                model.flits_in[0, i] = int_to_words(flit, 1)
                writes.append(en)
            credit = 0
            for v in range(vcs):
                if returns[v] and returns[v][0] <= t:
                    returns[v].popleft()
                    credit |= 1 << v
            ctx.set(dut.o.credit, credit)
            model.inputs[0, INPUTS["credit0"]] = credit
            model.outputs_of_cycle()
            mine = model.outputs[0]
            out = {"rdy0": ctx.get(dut.req.rdy), "level0": ctx.get(dut.req.level),
                   "rdy1": ctx.get(dut.resp.rdy), "level1": ctx.get(dut.resp.level),
                   "valid": ctx.get(dut.o.valid), "last": ctx.get(dut.o.last),
                   "vc": ctx.get(dut.o.vc)}
            compare(t, [(name, value, mine[OUTPUTS[name]]) for name, value in out.items()]
                    + [("data", ctx.get(dut.o.data), words_to_int(model.link_data[0]))])
            if out["valid"]:
                sent += 1
                back = returns[out["vc"]]
                back.append(max(t + int(rng.integers(1, 6)), back[-1] + 1 if back else 0))
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return sent


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("vcs", [1, 2])
def test_the_model_matches_the_rtl_every_cycle(vcs):
    assert lockstep(vcs) > CYCLES // 3


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(2, mutant="pointer_stays")
