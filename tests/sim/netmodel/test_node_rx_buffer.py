# amaranth: UnusedElaboratable=no
"""The fast model of the NI's input buffer (sim.netmodel.node.rx_buffer) against its RTL
block: packets on two VCs, interleaved flit by flit, some with a wrong length and some longer
than a queue (cut into segments), sent as the returned credits allow (now and then one
without, to overflow a queue), heads popped at random; every output compared every cycle."""

import collections

import numpy as np
import pytest

from rtl.net.packet import Opcode, PacketFormat
from rtl.node.rx_buffer import RxBuffer
from sim.netmodel.node.rx_buffer import INPUTS, OUTPUTS, VC_OUTPUTS, RxBuffers
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("rx-buffer")

VCS, CREDITS, DEPTH, CYCLES = 2, 2, 4, 2500


def lockstep(*, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    many segments were popped whole, and how many of them bad, and whether a queue
    overflowed."""
    fmt = PacketFormat(flit_bits=64, coord_bits=3)
    dut = RxBuffer(fmt=fmt, vcs=VCS, credits=CREDITS, depth=DEPTH)
    model = RxBuffers(nodes=2, fmt=fmt, vcs=VCS, credits=CREDITS, depth=DEPTH, mutant=mutant)
    rng = np.random.default_rng(seed)
    credits = [CREDITS] * VCS
    to_send = [collections.deque() for _ in range(VCS)]
    segments = collections.Counter()

    def packet():
        n = int(rng.integers(1, 7))
        length = n if rng.random() < 0.85 else int(rng.integers(0, 8))
        head = fmt.encode_head(dst=(0, 0), src=(1, 1), opcode=Opcode.WRITE, length=length,
                               info=int(rng.integers(1 << 20)))
        return [(head, int(n == 1))] + [(int(rng.integers(1 << 63)), int(i == n - 2))
                                        for i in range(n - 1)]

    async def bench(ctx):
        for t in range(cycles):
            for v in range(VCS):
                if not to_send[v]:
                    to_send[v].extend(packet())
            v = int(rng.integers(VCS))
            valid = rng.random() < 0.6 and (credits[v] > 0 or rng.random() < 0.01)
            flit, last = to_send[v][0]
            if valid:
                to_send[v].popleft()
                credits[v] = max(0, credits[v] - 1)
            ins = dict(valid=int(valid), vc=v, last=last)
            for name, value in ins.items():
                ctx.set(getattr(dut.i, name), value)
                model.inputs[0, INPUTS[name]] = value
            ctx.set(dut.i.data, flit)
            model.flit_in[0] = int_to_words(flit, 1)
            pops = [int(rng.random() < 0.4) for _ in range(VCS)]
            for v, pop in enumerate(pops):
                ctx.set(dut.vc[v].pop, pop)
                model.inputs[0, INPUTS[f"pop{v}"]] = pop
            model.outputs_of_cycle()
            outs = []
            for v in range(VCS):
                port = dut.vc[v]
                outs += [(f"vc[{v}].{name}", ctx.get(getattr(port, name)),
                          model.vc_out[0, v, i]) for name, i in VC_OUTPUTS.items()]
                outs.append((f"vc[{v}].head", ctx.get(port.head),
                             words_to_int(model.head[0, v])))
                if pops[v] and ctx.get(port.nonempty) and ctx.get(port.end):
                    segments[bool(ctx.get(port.bad))] += 1
            credit = ctx.get(dut.i.credit)
            outs += [("overflow", ctx.get(dut.overflow), model.outputs[0, OUTPUTS["overflow"]]),
                     ("credit", credit, model.outputs[0, OUTPUTS["credit"]])]
            compare(t, outs)
            model.clock()
            await ctx.tick()
            for v in range(VCS):
                credits[v] += credit >> v & 1

    simulate(dut, bench)
    return segments, model.outputs[0, OUTPUTS["overflow"]]


def test_the_model_matches_the_rtl_every_cycle():
    segments, overflowed = lockstep()
    assert segments[False] > 50 and segments[True] > 50     # whole packets and bad segments
    assert overflowed


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: vc\[\d\]\.bad: RTL 0x0, model 0x1"):
        lockstep(mutant="length_off_by_one")
