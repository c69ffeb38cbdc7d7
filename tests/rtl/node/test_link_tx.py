# amaranth: UnusedElaboratable=no
"""LinkTx: both channels reach the link on their VC, never beyond the credits, packets whole."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.node.layouts import request_vcs, response_vcs
from rtl.node.link_tx import LinkTx

W = 32


@pytest.mark.parametrize("vcs", [1, 2, 4])
def test_credits_and_vcs(vcs):
    credits = 2
    dut = LinkTx(flit_bits=W, vcs=vcs, credits=credits)
    rng = random.Random(vcs)
    # packets of 1..3 flits: (channel, flits); data = channel << 16 | packet << 8 | flit
    todo = {ch: [[(ch << 16) | (p << 8) | f for f in range(rng.randint(1, 3))]
                 for p in range(6)] for ch in (0, 1)}
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    def writer(ch):
        async def run(ctx):
            await write(ctx, ch)
        return run

    async def write(ctx, ch):
        port = (dut.req, dut.resp)[ch]
        for pkt in todo[ch]:
            for i, flit in enumerate(pkt):
                ctx.set(port.data, flit | ((i == len(pkt) - 1) << W))
                ctx.set(port.en, 1)
                while True:
                    rdy = ctx.get(port.rdy)
                    await ctx.tick()
                    if rdy:
                        break
                ctx.set(port.en, 0)

    async def link(ctx):
        held = [0] * vcs
        returns = []
        for cycle in range(400):
            pulse = 0
            for v in range(vcs):
                if held[v] and rng.random() < 0.3:
                    held[v] -= 1
                    pulse |= 1 << v
            ctx.set(dut.o.credit, pulse)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                vc = ctx.get(dut.o.vc)
                held[vc] += 1
                assert held[vc] <= credits, f"VC {vc} over credit"
                got.append((vc, ctx.get(dut.o.data), ctx.get(dut.o.last)))

    sim.add_testbench(writer(0), background=True)
    sim.add_testbench(writer(1), background=True)
    sim.add_testbench(link)
    sim.run()
    for ch, vc in ((0, request_vcs(vcs)[0]), (1, response_vcs(vcs)[0])):
        flits = [(d, last) for v, d, last in got if d >> 16 == ch]
        assert {v for v, d, _ in got if d >> 16 == ch} == {vc}
        want = [(f, i == len(p) - 1) for p in todo[ch] for i, f in enumerate(p)]
        assert flits == want
    if vcs == 1:           # one VC: a packet holds the link until its tail
        owner = None
        for _, d, last in got:
            assert owner in (None, d >> 16)
            owner = None if last else d >> 16
