# amaranth: UnusedElaboratable=no
"""The fast model of the NI's request parser (sim.netmodel.node.request_parser) against its
RTL block.

Request VCs that hold whole packets (as the input buffer hands them on: segments, a packet
longer than the buffer cut into bad segments) of every kind: WRITE and ADD inside and
outside the SRAM, with and without ``ack`` and semaphore, ``cmd_ctrl`` writes, READs of
the SRAM and of the registers, PUSH and EXEC descriptors, responses, unknown opcodes, wrong
lengths. Around the block: a response queue that drains at random, a DONE slot pending for
a while after each DONE, a DMA and an engine that are free and accept at random, random
SRAM and register read data. Every output compared every cycle.
"""

import collections
import random

import pytest

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.request_parser import RequestParser
from sim.netmodel.node.request_parser import INPUTS, OUTPUTS, RequestParsers
from sim.netmodel.node.rx_buffer import VC_OUTPUTS
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, simulate

CYCLES = 2000
#: (flit_bits, lines, vcs, max_packet_flits): 58-bit flits carry an EXEC descriptor in two
#: flits that are not whole words
CONFIGS = [(64, 32, 4, 6), (58, 4096, 1, 5), (96, 48, 2, 4)]
RESP_DEPTH = 4


class RequestVc:
    """One request VC's queue as the input buffer presents it: flits with their ``last`` and
    end-of-segment bits, a ``bad`` bit per segment."""

    def __init__(self):
        self.flits = collections.deque()       # (data, last, end)
        self.bad = collections.deque()

    def put(self, flits, bad, depth):
        """A packet (its flits), cut into segments of at most ``depth`` flits."""
        for start in range(0, len(flits), depth):
            seg = flits[start:start + depth]
            for i, f in enumerate(seg):
                self.flits.append((f, int(start + i == len(flits) - 1), int(i == len(seg) - 1)))
            self.bad.append(int(bad or len(flits) > depth))

    def head(self):
        f, last, end = self.flits[0] if self.flits else (0, 0, 0)
        return dict(ready=int(bool(self.bad)), nonempty=int(bool(self.flits)), head=f,
                    last=last, end=end, bad=self.bad[0] if self.bad else 0)

    def pop(self):
        if self.flits:
            if self.flits.popleft()[2]:
                self.bad.popleft()


def random_packet(lay, rng, max_len):
    """``(flits, bad)`` of one random request (or response, or malformed packet)."""
    fmt, A = lay.fmt, lay.addr_bits
    W = fmt.flit_bits
    kind = rng.choices(["store", "ctrl", "read", "push", "exec", "response", "opcode"],
                       weights=[6, 1, 4, 2, 2, 1, 1])[0]
    reg = 1 << A
    mclass, length = MsgClass.REQUEST, None
    if kind == "store":
        op = rng.choice([Opcode.WRITE, Opcode.ADD])
        n = rng.choice([0, 1, 2, max_len - 1, max_len])
        addr = rng.choice([rng.randrange(lay.lines), lay.lines - 1, lay.lines - n,
                           reg | rng.randrange(4)]) & ((reg << 1) - 1)
        info = lay.encode("store_info", addr=addr, tag=rng.randrange(256),
                          ack=rng.randrange(2), sem_inc=rng.randrange(2),
                          sem=rng.randrange(lay.sems), dtype=rng.randrange(2))
    elif kind == "ctrl":
        op, n = Opcode.WRITE, rng.choice([1, 1, 1, 2])
        info = lay.encode("store_info", addr=reg | lay.registers.index("cmd_ctrl"),
                          tag=rng.randrange(256), ack=rng.randrange(2))
    elif kind == "read":
        op, n = Opcode.READ, rng.choice([0, 0, 0, 0, 1])
        count = rng.choice([0, 1, 2, max_len - 1, max_len])
        addr = rng.choice([rng.randrange(lay.lines), lay.lines - count,
                           reg | rng.randrange(len(lay.registers))]) & ((reg << 1) - 1)
        info = lay.encode("read_info", addr=addr, count=count, tag=rng.randrange(256))
    elif kind in ("push", "exec"):
        op = Opcode.PUSH if kind == "push" else Opcode.EXEC
        n = lay.push_flits if kind == "push" else lay.exec_flits
        n += rng.choice([0, 0, 0, 0, 1, -1])
        info = lay.encode("ctl_info", tag=rng.randrange(256), ack=rng.randrange(2))
    else:
        op = rng.choice(list(Opcode)) if kind == "response" else Opcode.DONE
        mclass = MsgClass.RESPONSE if kind == "response" else MsgClass.REQUEST
        n, info = rng.randrange(3), rng.getrandbits(lay.info_bits)
    n = max(n, 0)
    length = 1 + n if rng.random() < 0.9 else rng.choice([n, n + 2, 0])
    head = fmt.encode_head(dst=(0, 0), src=(rng.randrange(4), rng.randrange(4)), opcode=op,
                           length=length & 0xFF, mclass=mclass, info=info)
    body = [rng.getrandbits(W) for _ in range(n)]
    if kind == "ctrl" and body:
        body[0] = rng.getrandbits(lay.cmd_ctrl.size)
    return [head] + body, rng.random() < 0.05


def _int(value):
    return int(getattr(value, "value", value))


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 sees empty VCs) on the same packets and
    surroundings; returns how often each output pulsed."""
    flit_bits, lines, vcs, max_len = config
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=flit_bits, coord_bits=3), lines=lines)
    dut = RequestParser(layouts=lay, vcs=vcs, max_packet_flits=max_len, resp_depth=RESP_DEPTH)
    model = RequestParsers(nodes=2, layouts=lay, vcs=vcs, max_packet_flits=max_len,
                           resp_depth=RESP_DEPTH, mutant=mutant)
    rng = random.Random(seed)
    words = model.sram_data.shape[1]
    queues = [RequestVc() for _ in dut.vc]
    depth = max_len + 3
    level = pending = 0
    seen = collections.Counter()
    x, y = rng.randrange(8), rng.randrange(8)

    def rtl_outputs(ctx):
        out = {"pop": sum(ctx.get(port.pop) << v for v, port in enumerate(dut.vc)),
               "sram_en": ctx.get(dut.sram.en), "sram_addr": ctx.get(dut.sram.addr),
               "resp_data": ctx.get(dut.resp_data), "desc": ctx.get(dut.desc),
               "ctrl_data": ctx.get(dut.ctrl_data)}
        for k in ("valid", "add", "fp", "addr", "data"):
            out["line_" + k] = ctx.get(getattr(dut.line, k))
        for k in ("load", "arm", "x", "y", "tag", "opcode", "addr"):
            out["done_" + k] = _int(ctx.get(getattr(dut.done, k)))
        for k in ("resp_en", "resp_hold", "src_x", "src_y", "tag", "ack", "dma_start",
                  "exec_start", "error", "sem_inc", "sem", "drained", "reg_addr", "ctrl_wr",
                  "dma_want", "exec_want"):
            out[k] = ctx.get(getattr(dut, k))
        return out

    def model_outputs():
        out = {k: int(model.out[0, i]) for k, i in OUTPUTS.items() if k in mine_names}
        out["resp_data"] = (words_to_int(model.resp_data[0])
                            | int(model.out[0, OUTPUTS["resp_last"]]) << flit_bits)
        out["line_data"] = words_to_int(model.line_data[0])
        out["ctrl_data"] = words_to_int(model.ctrl_data[0])
        out["desc"] = sum(words_to_int(f) << (flit_bits * i) for i, f in enumerate(model.desc[0]))
        return out

    mine_names = set(OUTPUTS) - {"resp_last", "desc_wr"}

    async def bench(ctx):
        nonlocal level, pending
        for t in range(cycles):
            for q in queues:
                if len(q.flits) < 2 * depth and rng.random() < 0.15:
                    q.put(*random_packet(lay, rng, max_len), depth)
            for v, q in enumerate(queues):
                h = q.head()
                for name, value in h.items():
                    ctx.set(getattr(dut.vc[v], name), value)
                    if name != "head":
                        model.heads[0, v, VC_OUTPUTS[name]] = value
                model.head_data[0, v] = int_to_words(h["head"], words)
            ins = dict(x=x, y=y, resp_rdy=int(level < RESP_DEPTH), resp_level=level,
                       dma_free=int(rng.random() < 0.6), dma_ok=int(rng.random() < 0.8),
                       exec_free=int(rng.random() < 0.6), exec_ok=int(rng.random() < 0.8),
                       pending=int(pending > 0), reg_data=rng.getrandbits(32))
            for name, value in ins.items():
                model.inputs[0, INPUTS[name]] = value
                ctx.set(dut.done.pending if name == "pending" else getattr(dut, name), value)
            data = rng.getrandbits(flit_bits)
            ctx.set(dut.sram.data, data)
            model.sram_data[0] = int_to_words(data, words)
            model.outputs()
            out = rtl_outputs(ctx)
            mine = model_outputs()
            compare(t, ((name, out[name], mine[name]) for name in out))
            seen.update(k for k in ("error", "dma_start", "exec_start", "ctrl_wr", "sem_inc",
                                    "drained", "done_arm", "resp_en", "line_valid")
                        if out[k])
            for v, q in enumerate(queues):
                if out["pop"] >> v & 1:
                    q.pop()
            level += out["resp_en"]
            if level and rng.random() < 0.5:
                level -= 1
            pending = rng.randint(1, 4) if out["done_arm"] else max(0, pending - 1)
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return seen


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "w{}-l{}-v{}-m{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    seen = lockstep(config)
    expected = {"error", "dma_start", "exec_start", "ctrl_wr", "sem_inc", "done_arm",
                "resp_en", "line_valid"} | ({"drained"} if config[2] == 1 else set())
    assert expected <= set(seen), seen


@pytest.mark.parametrize("mutant", ["read_ignores_room", "store_one_line_over"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(CONFIGS[0], mutant=mutant)
