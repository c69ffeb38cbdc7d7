# amaranth: UnusedElaboratable=no
"""RxBuffer: whole segments per VC, length check, credits returned for every flit."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.net.packet import Opcode, PacketFormat
from rtl.node.rx_buffer import RxBuffer
from tests.rtl.node.test_ni import LinkSource

FMT = PacketFormat(flit_bits=64, coord_bits=2)


def packet(length, tail_at, tag):
    head = FMT.encode_head(dst=(0, 0), src=(1, 1), opcode=Opcode.WRITE, length=length)
    return [head] + [tag << 8 | i for i in range(1, tail_at)]


@pytest.mark.parametrize("vcs", [1, 2])
def test_segments_and_credits(vcs):
    credits, depth = 4, 7
    dut = RxBuffer(fmt=FMT, vcs=vcs, credits=credits, depth=depth)
    rng = random.Random(vcs)
    src = LinkSource(dut.i, vcs=vcs, credits=credits, idle=0.3)
    sent = {v: [] for v in range(vcs)}
    for n in range(12):
        v = n % vcs
        length = rng.randint(1, 5)
        tail = length if n % 3 else rng.randint(1, 5)     # every third maybe bad
        flits = packet(length, tail, n)
        src.send(flits, v)
        sent[v].append((flits, tail != length))
    got = {v: [] for v in range(vcs)}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def consumer(ctx):
        cur = {v: [] for v in range(vcs)}
        for _ in range(600):
            for v in range(vcs):
                port = dut.vc[v]
                if ctx.get(port.nonempty) and (cur[v] or ctx.get(port.ready)) \
                        and rng.random() < 0.5:
                    cur[v].append(ctx.get(port.head))
                    if ctx.get(port.end):
                        got[v].append((cur[v], bool(ctx.get(port.bad))))
                        cur[v] = []
                    ctx.set(port.pop, 1)
                else:
                    ctx.set(port.pop, 0)
            await ctx.tick()
        assert not ctx.get(dut.overflow)
        assert src.credits == [credits] * vcs, "every credit returned"

    sim.add_testbench(src.run, background=True)
    sim.add_testbench(consumer)
    sim.run()
    assert got == sent


def test_parameters():
    with pytest.raises(ValueError, match="depth must be an integer of at least credits"):
        RxBuffer(fmt=FMT, vcs=1, credits=4, depth=3)
