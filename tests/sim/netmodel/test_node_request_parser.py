# amaranth: UnusedElaboratable=no
"""The fast model of the NI's request parser (sim.netmodel.node.request_parser) against its
RTL block: whole packets on the request VCs (WRITE and ADD with and without lines, ``cmd_ctrl``
writes, READs of lines and registers, PUSH and EXEC descriptors, responses sharing the one VC,
and malformed ones: bad segments, too long, out of range, wrong class or length), a response
queue the link drains at random, a DONE slot, DMA and engine that are busy or refuse at
random; every output compared every cycle."""

import collections

import numpy as np
import pytest

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.request_parser import RequestParser
from sim.netmodel.node.request_parser import INPUTS, OUTPUTS, VC_INPUTS, RequestParsers
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("request-parser")

LINES, MAX_LEN, RESP_DEPTH, CYCLES = 64, 6, 4, 2500
SCALARS = ("resp_en", "resp_hold", "src_x", "src_y", "tag", "ack", "dma_start", "exec_start",
           "error", "sem_inc", "sem", "drained", "reg_addr", "ctrl_wr", "dma_want",
           "exec_want")


def random_packet(lay, rng, vcs):
    """The flits of one request (or, with one VC, a response), and its ``bad`` bit."""
    fmt, A = lay.fmt, lay.addr_bits
    kind = rng.choice(["store", "ctrl", "read", "push", "exec", "junk"]
                      + (["response"] if vcs == 1 else []))
    src, mclass, body = (int(rng.integers(4)), int(rng.integers(4))), MsgClass.REQUEST, 0
    regs = 1 << A
    if kind == "store":
        body = int(rng.choice([0, 1, 2, 3, 5, MAX_LEN]))
        op = rng.choice([Opcode.WRITE, Opcode.ADD])
        addr = int(rng.integers(LINES - 4)) if rng.random() < 0.8 else int(rng.integers(2 * LINES))
        info = lay.encode("store_info", addr=addr, tag=int(rng.integers(256)),
                          ack=int(rng.integers(2)), sem_inc=int(rng.integers(2)),
                          sem=int(rng.integers(4)), dtype=int(rng.integers(2)))
    elif kind == "ctrl":
        body, op = 1, Opcode.WRITE
        info = lay.encode("store_info", addr=regs + lay.registers.index("cmd_ctrl"),
                          tag=int(rng.integers(256)), ack=int(rng.integers(2)))
    elif kind == "read":
        op = Opcode.READ
        count = int(rng.choice([0, 1, 2, 4, MAX_LEN - 1, MAX_LEN]))
        addr = int(rng.choice([rng.integers(LINES - 4), regs + rng.integers(len(lay.registers)),
                               rng.integers(2 * LINES)]))
        info = lay.encode("read_info", addr=addr, count=count, tag=int(rng.integers(256)))
    elif kind in ("push", "exec"):
        op = Opcode.PUSH if kind == "push" else Opcode.EXEC
        body = lay.push_flits if kind == "push" else lay.exec_flits
        info = lay.encode("ctl_info", tag=int(rng.integers(256)), ack=int(rng.integers(2)))
    else:
        op = Opcode(int(rng.integers(8)))
        body = int(rng.integers(0, MAX_LEN + 2))
        mclass = MsgClass.RESPONSE if kind == "response" else MsgClass(int(rng.integers(2)))
        info = int(rng.integers(1 << 30))
    length = body + 1 if rng.random() < 0.9 else int(rng.integers(1, MAX_LEN + 3))
    head = fmt.encode_head(dst=(0, 0), src=src, opcode=op, length=length, mclass=mclass,
                           info=info)
    flits = [head] + [int(rng.integers(1 << 63)) for _ in range(body)]
    return flits, int(rng.random() < 0.05)


def lockstep(vcs, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 stays idle) on the same stimulus; returns how
    often each of a few outputs pulsed."""
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES)
    kw = dict(layouts=lay, vcs=vcs, max_packet_flits=MAX_LEN, resp_depth=RESP_DEPTH)
    dut = RequestParser(**kw)
    model = RequestParsers(nodes=2, **kw, mutant=mutant)
    rx = max(1, vcs // 2)
    rng = np.random.default_rng(seed)
    queues = [collections.deque() for _ in range(rx)]      # (flit, last, bad)
    mem = [int(rng.integers(1 << 63)) for _ in range(LINES)]
    state = {"stored": 0, "level": 0, "pending": 0}
    seen = collections.Counter()

    async def bench(ctx):
        for t in range(cycles):
            for v in range(rx):
                if len(queues[v]) < 8 and rng.random() < 0.3:
                    flits, bad = random_packet(lay, rng, vcs)
                    queues[v].extend((f, int(i == len(flits) - 1), bad)
                                     for i, f in enumerate(flits))
                flit, last, bad = queues[v][0] if queues[v] else (0, 0, 0)
                port = dut.vc[v]
                values = dict(ready=bool(queues[v]), nonempty=bool(queues[v]), last=last,
                              end=last, bad=bad)
                for name, value in values.items():
                    ctx.set(getattr(port, name), value)
                    model.vc_in[0, v, VC_INPUTS[name]] = value
                ctx.set(port.head, flit)
                model.head[0, v] = int_to_words(flit, 1)
            ins = dict(x=3, y=2, resp_rdy=int(state["level"] < RESP_DEPTH),
                       resp_level=state["level"], done_pending=int(state["pending"] > 0),
                       dma_free=int(rng.random() < 0.6), dma_ok=int(rng.random() < 0.8),
                       exec_free=int(rng.random() < 0.6), exec_ok=int(rng.random() < 0.8),
                       reg_data=int(rng.integers(1 << 32)))
            for name, value in ins.items():
                port = dut.done.pending if name == "done_pending" else getattr(dut, name)
                ctx.set(port, value)
                model.inputs[0, INPUTS[name]] = value
            ctx.set(dut.sram.data, state["stored"])
            model.sram_data[0] = int_to_words(state["stored"], 1)
            model.outputs_of_cycle()
            mine = model.outputs[0]
            out = {name: ctx.get(getattr(dut, name)) for name in SCALARS}
            out.update(sram_en=ctx.get(dut.sram.en), sram_addr=ctx.get(dut.sram.addr))
            for name in ("valid", "add", "fp", "addr"):
                out[f"line_{name}"] = ctx.get(getattr(dut.line, name))
            for name in ("load", "arm", "x", "y", "tag", "opcode", "addr"):
                out[f"done_{name}"] = int(getattr(ctx.get(getattr(dut.done, name)), "value",
                                              ctx.get(getattr(dut.done, name))))
            pops = [ctx.get(dut.vc[v].pop) for v in range(rx)]
            resp = ctx.get(dut.resp_data)
            mine_resp = words_to_int(model.resp_flit[0]) | int(mine[OUTPUTS["resp_last"]]) << 64
            compare(t, [(name, value, mine[OUTPUTS[name]]) for name, value in out.items()]
                    + [(f"vc[{v}].pop", pops[v], mine[OUTPUTS["pops"]] >> v & 1)
                       for v in range(rx)]
                    + [("resp_data", resp, mine_resp),
                       ("line_data", ctx.get(dut.line.data), words_to_int(model.line_data[0])),
                       ("ctrl_data", ctx.get(dut.ctrl_data), words_to_int(model.ctrl_data[0])),
                       ("desc", ctx.get(dut.desc),
                        sum(words_to_int(w) << (64 * i) for i, w in enumerate(model.desc[0])))])
            for name in ("error", "dma_start", "exec_start", "drained", "ctrl_wr", "done_arm"):
                seen[name] += out[name]
            seen["read"] += out["resp_en"] and not out["resp_hold"]
            model.clock()
            await ctx.tick()
            for v in range(rx):
                if pops[v] and queues[v]:
                    queues[v].popleft()
            if out["sram_en"]:
                state["stored"] = mem[out["sram_addr"]]
            state["level"] = max(0, state["level"] + out["resp_en"] - (rng.random() < 0.5))
            state["pending"] = (int(rng.integers(1, 4)) if out["done_arm"]
                                else max(0, state["pending"] - 1))

    simulate(dut, bench)
    return seen


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("vcs", [1, 4])
def test_the_model_matches_the_rtl_every_cycle(vcs):
    seen = lockstep(vcs)
    assert all(seen[name] > 5 for name in ("error", "dma_start", "exec_start", "ctrl_wr",
                                           "done_arm", "read")), seen
    assert seen["drained"] > 5 or vcs > 1


def test_a_wrong_model_fails_the_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(4, mutant="read_ignores_room")
