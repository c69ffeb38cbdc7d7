"""DieLinkChannel: serialisation rate, flight latency, credit sizing, order, no loss."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.fabric.dielink import TX_DEPTH, DieLinkChannel, rx_depth_for


def run_channel(*, ratio, latency, vcs=2, n=120, down_depth=4, stall=0.0, rx_depth=None, seed=1,
                tx_depth=TX_DEPTH):
    dut = DieLinkChannel(flit_bits=16, vcs=vcs, ratio=ratio, latency=latency,
                         downstream_depth=down_depth, rx_depth=rx_depth, tx_depth=tx_depth)
    rng = random.Random(seed)
    sent = [(rng.randrange(vcs), rng.getrandbits(16), rng.random() < 0.3) for _ in range(n)]
    got, times = [], []

    async def sender(ctx):
        credits = [tx_depth] * vcs
        queue = list(sent)
        while queue:
            vc, data, last = queue[0]
            ctx.set(dut.i.valid, 0)
            if credits[vc]:
                credits[vc] -= 1
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.vc, vc)
                ctx.set(dut.i.data, data)
                ctx.set(dut.i.last, last)
                queue.pop(0)
            _, _, pulses = await ctx.tick().sample(dut.i.credit)
            for v in range(vcs):
                credits[v] += pulses >> v & 1
                assert credits[v] <= tx_depth
        ctx.set(dut.i.valid, 0)

    async def receiver(ctx):
        held = [0] * vcs
        cycle = 0
        while len(got) < n and cycle < 40 * n * ratio + 200:
            valid, vc, data, last = (ctx.get(dut.o.valid), ctx.get(dut.o.vc), ctx.get(dut.o.data),
                                     ctx.get(dut.o.last))
            if valid:
                got.append((vc, data, last))
                times.append(cycle)
                held[vc] += 1
                assert held[vc] <= down_depth, "link ignored the receiver's credits"
            pulse = 0
            for v in range(vcs):
                if held[v] and rng.random() >= stall:
                    held[v] -= 1
                    pulse |= 1 << v
            ctx.set(dut.o.credit, pulse)
            await ctx.tick()
            cycle += 1
        assert not ctx.get(dut.overflow), "TX buffer overflowed"

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    return dut, sent, got, times


@pytest.mark.parametrize("ratio, latency", [(1, 0), (1, 3), (2, 2), (4, 5), (3, 1)])
def test_in_order_no_loss_and_full_serialised_rate(ratio, latency):
    dut, sent, got, times = run_channel(ratio=ratio, latency=latency)
    for v in range(2):
        assert [s for s in sent if s[0] == v] == [g for g in got if g[0] == v]
    assert len(got) == len(sent)
    # steady state: one flit per `ratio` cycles (the RX buffer covers the round trip)
    span = times[-1] - times[10]
    assert span <= ratio * (len(times) - 11) + 2


@pytest.mark.parametrize("ratio, latency", [(1, 0), (2, 3), (4, 2)])
def test_zero_load_latency(ratio, latency):
    dut, sent, got, times = run_channel(ratio=ratio, latency=latency, n=1)
    # TX buffer write, serialise `ratio`, fly `latency`, RX buffer, registered output
    assert times[0] == ratio + latency + 3


def test_backpressure_from_receiver_keeps_everything():
    dut, sent, got, _ = run_channel(ratio=2, latency=3, stall=0.7, n=150, seed=5)
    assert sorted(sent) == sorted(got) and len(got) == 150


def test_shallow_rx_buffer_loses_rate():
    full = run_channel(ratio=1, latency=4, n=200)[3]
    shallow = run_channel(ratio=1, latency=4, n=200, rx_depth=3)[3]
    assert shallow[-1] - shallow[10] > 1.5 * (full[-1] - full[10])


def test_rx_depth_formula_and_errors():
    assert rx_depth_for(1, 0) == 4 and rx_depth_for(4, 4) == 5
    with pytest.raises(ValueError, match="ratio must be an integer >= 1, not 0"):
        DieLinkChannel(flit_bits=8, vcs=1, ratio=0, latency=1, downstream_depth=3)
    with pytest.raises(ValueError, match="latency must be an integer >= 0, not -1"):
        DieLinkChannel(flit_bits=8, vcs=1, ratio=1, latency=-1, downstream_depth=3)


def test_tx_buffer_matches_the_senders_credits():
    # a router sender starts with its buffer depth in credits: the TX buffer must hold them all
    dut, sent, got, _ = run_channel(ratio=4, latency=2, n=100, tx_depth=6, seed=9)
    assert sorted(sent) == sorted(got)
