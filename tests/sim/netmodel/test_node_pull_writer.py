# amaranth: UnusedElaboratable=no
"""The fast model of the NI's response sink (sim.netmodel.node.pull_writer) against its RTL
block: READ_RESPs and DONEs arriving on two response VCs at random, PULLs started at random
(so READ_RESPs come both with and without a PULL under way), a write port that grants at
random; every output compared every cycle."""

import collections

import numpy as np
import pytest

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.pull_writer import PullWriter
from sim.netmodel.node.pull_writer import INPUTS, OUTPUTS, VC_INPUTS, PullWriters
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("pull-writer")

LINES, VCS, CYCLES = 64, 2, 2500


def lockstep(*, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    many PULLs finished."""
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES)
    dut = PullWriter(layouts=lay, vcs=VCS)
    model = PullWriters(nodes=2, layouts=lay, vcs=VCS, mutant=mutant)
    rng = np.random.default_rng(seed)
    on_way = [collections.deque() for _ in range(VCS)]    # flits not yet in the RX queue
    queue = [collections.deque() for _ in range(VCS)]     # (flit, last) in the RX queue
    pull = {"src": 0}
    finished = 0

    def packet():
        if rng.random() < 0.25:
            info = lay.encode("resp_info", tag=int(rng.integers(256)), req_op=Opcode.EXEC,
                              addr=int(rng.integers(1 << lay.space_bits)))
            return [(lay.fmt.encode_head(dst=(0, 0), src=(1, 1), opcode=Opcode.DONE, length=1,
                                         mclass=MsgClass.RESPONSE, info=info), 1)]
        n = int(rng.integers(1, 4))
        addr = pull["src"] + int(rng.integers(0, 6)) if rng.random() < 0.8 else \
            int(rng.integers(LINES))
        info = lay.encode("resp_info", tag=1, req_op=Opcode.READ, addr=addr % LINES)
        head = lay.fmt.encode_head(dst=(0, 0), src=(1, 1), opcode=Opcode.READ_RESP,
                                   length=n + 1, mclass=MsgClass.RESPONSE, info=info)
        return [(head, 0)] + [(int(rng.integers(1 << 63)), int(i == n - 1)) for i in range(n)]

    async def bench(ctx):
        nonlocal finished
        for t in range(cycles):
            if rng.random() < 0.3:
                on_way[int(rng.integers(VCS))].extend(packet())
            for v in range(VCS):
                if on_way[v] and rng.random() < 0.7:
                    queue[v].append(on_way[v].popleft())
                flit, last = queue[v][0] if queue[v] else (0, 0)
                ctx.set(dut.vc[v].nonempty, bool(queue[v]))
                ctx.set(dut.vc[v].head, flit)
                ctx.set(dut.vc[v].last, last)
                model.vc_in[0, v, VC_INPUTS["nonempty"]] = bool(queue[v])
                model.vc_in[0, v, VC_INPUTS["last"]] = last
                model.flits[0, v] = int_to_words(flit, 1)
            start = int(not ctx.get(dut.busy) and rng.random() < 0.1)
            if start:
                pull.update(src=int(rng.integers(LINES - 8)), dst=int(rng.integers(LINES - 8)),
                            count=int(rng.integers(1, 7)), sem=int(rng.integers(4)))
            ins = dict(start=start, src=pull["src"], dst=pull.get("dst", 0),
                       count=pull.get("count", 0), sem=pull.get("sem", 0))
            for name, value in ins.items():
                ctx.set(getattr(dut, name), value)
                model.inputs[0, INPUTS[name]] = value
            en = ctx.get(dut.wr.en)
            grant = int(en and rng.random() < 0.7)
            ctx.set(dut.wr.grant, grant)
            model.inputs[0, INPUTS["wr_grant"]] = grant
            model.outputs_of_cycle()
            mine = model.outputs[0]
            out = {name: ctx.get(getattr(dut, name))
                   for name in ("busy", "done", "done_sem", "drained")}
            out.update(wr_en=en, wr_addr=ctx.get(dut.wr.addr))
            pops = [ctx.get(dut.vc[v].pop) for v in range(VCS)]
            compare(t, [(name, value, mine[OUTPUTS[name]]) for name, value in out.items()]
                    + [("wr_data", ctx.get(dut.wr.data), words_to_int(model.wr_line[0]))]
                    + [(f"vc[{v}].pop", pops[v], mine[OUTPUTS["pop"]] and mine[OUTPUTS["cur"]] == v)
                       for v in range(VCS)])
            finished += bool(out["done"])
            model.clock()
            await ctx.tick()
            for v in range(VCS):
                if pops[v] and queue[v]:
                    queue[v].popleft()

    simulate(dut, bench)
    return finished


def test_the_model_matches_the_rtl_every_cycle():
    assert lockstep() > 5


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+.*: RTL 0x[0-9a-f]+, model "):
        lockstep(mutant="highest_vc_first")
