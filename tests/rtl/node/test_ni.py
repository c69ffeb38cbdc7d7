"""Network interface: every opcode against the node model, malformed packets, VC classes.

The harness is NI + Scratchpad (the engine's side of both is driven by the
testbench). A credit-honouring source plays the router's local output (credits
= the NI's input depth), a sink plays the router's local input (it returns a
credit per flit after a random delay and checks the NI never exceeds them).
"""

import random
from collections import deque

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl.node.ni import Dtype, NetworkInterface, NodeLayouts
from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.sram import Scratchpad
from verif import golden
from verif.node_model import NodeModel

HERE = (1, 1)
HOST = (0, 1)
FMT = PacketFormat(flit_bits=64, coord_bits=2)


class LinkSource:
    """Sends (vc, flits) packets into an input link, honouring credits."""

    def __init__(self, link, *, vcs, credits, idle=0.0, seed=0):
        self.link, self.vcs = link, vcs
        self.credits = [credits] * vcs
        self.queue = deque()
        self.idle = idle
        self.rng = random.Random(seed)
        self.sent = 0

    def send(self, flits, vc=0):
        self.queue.append((vc, list(flits)))

    @property
    def busy(self):
        return bool(self.queue)

    async def run(self, ctx):
        cur = None
        while True:
            drive = False
            if cur is None and self.queue:
                cur = [*self.queue.popleft(), 0]
            if cur is not None and self.rng.random() >= self.idle:
                vc, flits, i = cur
                if self.credits[vc] > 0:
                    self.credits[vc] -= 1
                    ctx.set(self.link.valid, 1)
                    ctx.set(self.link.vc, vc)
                    ctx.set(self.link.data, flits[i])
                    ctx.set(self.link.last, i == len(flits) - 1)
                    cur[2] += 1
                    if cur[2] == len(flits):
                        cur = None
                    drive = True
                    self.sent += 1
            if not drive:
                ctx.set(self.link.valid, 0)
            await ctx.tick()
            pulses = ctx.get(self.link.credit)
            for v in range(self.vcs):
                if pulses >> v & 1:
                    self.credits[v] += 1


class LinkSink:
    """Receives packets from an output link and returns credits (random delays)."""

    def __init__(self, link, *, vcs, depth, stall=0.0, seed=1):
        self.link, self.vcs, self.depth, self.stall = link, vcs, depth, stall
        self.rng = random.Random(seed)
        self.partial = [[] for _ in range(vcs)]
        self.held = [0] * vcs
        self.packets = []           # (vc, flits, cycle)
        self.violations = []
        self.cycle = 0

    async def run(self, ctx):
        while True:
            await ctx.tick()
            self.cycle += 1
            if ctx.get(self.link.valid):
                vc = ctx.get(self.link.vc)
                self.partial[vc].append(ctx.get(self.link.data))
                self.held[vc] += 1
                if self.held[vc] > self.depth:
                    self.violations.append(f"VC {vc} over credit at {self.cycle}")
                if ctx.get(self.link.last):
                    self.packets.append((vc, self.partial[vc], self.cycle))
                    self.partial[vc] = []
            pulse = 0
            for v in range(self.vcs):
                if self.held[v] and self.rng.random() >= self.stall:
                    self.held[v] -= 1
                    pulse |= 1 << v
            ctx.set(self.link.credit, pulse)


class Harness:
    """NI + SRAM; the engine side is driven by the test."""

    def __init__(self, *, vcs=2, max_len=8, lines=64, stall=0.0, idle=0.0):
        self.model = NodeModel(fmt=FMT, lines=lines, vcs=vcs, max_packet_flits=max_len,
                               matrix_p=4)
        self.ni = NetworkInterface(layouts=self.model.lay, vcs=vcs, credits=4,
                                   max_packet_flits=max_len, mesh_x=4, mesh_y=4)
        self.sram = Scratchpad(lines=lines, width=FMT.flit_bits)
        self.top = m = Module()
        m.submodules.ni = self.ni
        m.submodules.sram = self.sram
        m.d.comb += [self.ni.x.eq(HERE[0]), self.ni.y.eq(HERE[1])]
        wiring.connect(m, self.ni.sram_rx, self.sram.read[0][0])
        wiring.connect(m, self.ni.sram_dma, self.sram.read[1][0])
        wiring.connect(m, self.ni.sram_wr, self.sram.write[0])
        self.src = LinkSource(self.ni.i, vcs=vcs, credits=4, idle=idle)
        self.sink = LinkSink(self.ni.o, vcs=vcs, depth=4, stall=stall)
        self.vcs = vcs

    def send(self, packets, vc=None):
        for p in packets if isinstance(packets[0], list) else [packets]:
            self.src.send(p, self.model.req_vc if vc is None else vc)

    def run(self, bench, *, exec_ok=1):
        sim = Simulator(self.top)
        sim.add_clock(1e-6)

        async def engine_side(ctx):
            ctx.set(self.ni.exec_ok, exec_ok)

        sim.add_testbench(self.src.run, background=True)
        sim.add_testbench(self.sink.run, background=True)
        sim.add_testbench(engine_side)

        async def checked(ctx):
            await bench(ctx)
            assert not ctx.get(self.ni.status) & 4, "NI input buffer overflow"

        sim.add_testbench(checked)
        sim.run()
        assert not self.sink.violations, self.sink.violations

    async def wait_packets(self, ctx, n, limit=2000):
        for _ in range(limit):
            if len(self.sink.packets) >= n:
                return [self.model.decode(f) | {"vc": vc, "cycle": c}
                        for vc, f, c in self.sink.packets]
            await ctx.tick()
        raise AssertionError(f"only {len(self.sink.packets)} of {n} packets arrived")

    async def idle(self, ctx, cycles=30):
        while self.src.busy:
            await ctx.tick()
        await ctx.tick().repeat(cycles)


def lines_of(rng, n):
    return [rng.getrandbits(64) for _ in range(n)]


# -- layouts ------------------------------------------------------------------------------

def test_layout_encode_decode_round_trip():
    lay = NodeLayouts(fmt=FMT, lines=512)
    v = lay.encode("store_info", addr=300, tag=0x5A, ack=1, sem_inc=1, sem=3, dtype=Dtype.FP32)
    d = lay.decode("store_info", v)
    assert (d["addr"], d["tag"], d["ack"], d["sem_inc"], d["sem"], d["dtype"]) == \
        (300, 0x5A, 1, 1, 3, Dtype.FP32)
    with pytest.raises(KeyError, match="no field"):
        lay.encode("read_info", bogus=1)
    assert lay.reg_base == 512 and lay.space_bits == 10


def test_layout_too_narrow():
    with pytest.raises(ValueError, match="cannot hold store_info"):
        NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=2, timestamp_bits=8),
                    lines=1 << 30)


def test_parameters():
    lay = NodeLayouts(fmt=FMT, lines=64)
    with pytest.raises(ValueError, match="max_packet_flits must be an integer in 2..255"):
        NetworkInterface(layouts=lay, vcs=2, credits=4, max_packet_flits=1, mesh_x=4, mesh_y=4)
    with pytest.raises(ValueError, match="vcs must be an integer in 1..4"):
        NetworkInterface(layouts=lay, vcs=5, credits=4, max_packet_flits=8, mesh_x=4, mesh_y=4)


# -- WRITE / READ ---------------------------------------------------------------------------

@pytest.mark.parametrize("vcs", [2, 1])
def test_write_then_read(vcs):
    h = Harness(vcs=vcs, stall=0.3)
    rng = random.Random(5)
    data = lines_of(rng, 20)
    h.send(h.model.store(dst=HERE, src=HOST, addr=10, data=data, tag=3, ack=True, sem=1))
    reads = [(10, 7), (17, 7), (24, 6), (12, 1)]
    for i, (addr, count) in enumerate(reads):
        h.send(h.model.read(dst=HERE, src=HOST, addr=addr, count=count, tag=40 + i))
    h.send(h.model.read_regs(dst=HERE, src=HOST, first="sem0", count=3, tag=99))

    async def bench(ctx):
        pkts = await h.wait_packets(ctx, 3 + len(reads) + 1)
        dones = [p for p in pkts if p["opcode"] == Opcode.DONE]
        resps = [p for p in pkts if p["opcode"] == Opcode.READ_RESP]
        assert len(dones) == 3 and {d["tag"] for d in dones} == {3}
        for d in dones:
            assert d["dst"] == HOST and d["src"] == HERE and d["mclass"] == MsgClass.RESPONSE
            assert d["vc"] == h.model.resp_vc and d["opcode"] == Opcode.DONE
        assert sorted(d["addr"] for d in dones) == [10, 17, 24]
        by_tag = {r["tag"]: r for r in resps}
        for i, (addr, count) in enumerate(reads):
            r = by_tag[40 + i]
            assert r["addr"] == addr and r["length"] == count + 1
            assert r["data"] == data[addr - 10:addr - 10 + count]
            assert r["vc"] == h.model.resp_vc
        assert by_tag[99]["data"] == [0, 1, 0]       # sem1 incremented once (last packet)

    h.run(bench)


def test_write_sinks_one_flit_per_cycle():
    """Back-to-back maximal WRITE packets: the NI pops one flit per cycle (credits
    permitting: its input buffer covers a packet plus the credit round trip)."""
    h = Harness()
    rng = random.Random(1)
    n_lines = 49
    data = lines_of(rng, n_lines)
    pkts = h.model.store(dst=HERE, src=HOST, addr=0, data=data)
    flits = sum(len(p) for p in pkts)
    h.send(pkts)
    writes = []

    async def watch(ctx):
        for cycle in range(200):
            if ctx.get(h.ni.sram_wr.en):
                writes.append(cycle)
            await ctx.tick()

    async def bench(ctx):
        await watch(ctx)
        h.send(h.model.read(dst=HERE, src=HOST, addr=42, count=7))
        got = await h.wait_packets(ctx, 1)
        assert got[0]["data"] == data[42:49]

    h.run(bench)
    assert len(writes) == n_lines
    span = writes[-1] - writes[0] + 1
    # 7 packets of 8 flits: 56 flits in, 49 writes; heads are the only bubbles
    assert span <= flits, f"{n_lines} lines over {span} cycles for {flits} flits"


# -- ADD ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [Dtype.INT32, Dtype.FP32])
def test_add_sequences_against_model(dtype):
    """Random ADD packets, many back to back to the same lines, against the model."""
    h = Harness(lines=32)
    rng = random.Random(7 + int(dtype.value))
    nrng = np.random.default_rng(3)
    model = {}
    base = 4

    def rand_line():
        if dtype == Dtype.FP32:
            vals = golden.interesting_fp32(nrng, 2)
            return h.model.pack_elements(vals.tolist(), 32)[0]
        return rng.getrandbits(64)

    init = [rand_line() for _ in range(8)]
    h.send(h.model.store(dst=HERE, src=HOST, addr=base, data=init))
    for i, v in enumerate(init):
        model[base + i] = v
    for _ in range(40):
        if rng.random() < 0.5:
            addr, n = base + rng.randrange(3), 1          # hammer lines 4..6
        else:
            addr = base + rng.randrange(8)
            n = rng.randint(1, min(7, base + 8 - addr))
        vals = [rand_line() for _ in range(n)]
        h.send(h.model.store(dst=HERE, src=HOST, addr=addr, data=vals, add=True, dtype=dtype))
        for j, v in enumerate(vals):
            model[addr + j] = h.model.add_lines(model[addr + j], v, dtype)
    h.send(h.model.read(dst=HERE, src=HOST, addr=base, count=7, tag=1))
    h.send(h.model.read(dst=HERE, src=HOST, addr=base + 7, count=1, tag=2))

    async def bench(ctx):
        pkts = await h.wait_packets(ctx, 2, limit=4000)
        got = {p["tag"]: p["data"] for p in pkts}
        assert got[1] + got[2] == [model[base + i] for i in range(8)]

    h.run(bench)


# -- malformed ----------------------------------------------------------------------------

def test_malformed_packets_dropped_whole():
    h = Harness(lines=32)
    m = h.model
    rng = random.Random(2)
    good = lines_of(rng, 4)
    h.send(m.store(dst=HERE, src=HOST, addr=0, data=good))
    bad = []
    # unknown opcode for a node, and a response opcode as a request
    bad.append([m.head(dst=HERE, src=HOST, opcode=Opcode.TRAFFIC, length=3, info=0)]
               + lines_of(rng, 2))
    bad.append([m.head(dst=HERE, src=HOST, opcode=Opcode.READ_RESP, length=2, info=0)]
               + lines_of(rng, 1))
    # address range past the end of the SRAM
    bad += m.store(dst=HERE, src=HOST, addr=30, data=lines_of(rng, 3))
    # length field disagrees with the tail (short and long)
    pkt = m.store(dst=HERE, src=HOST, addr=0, data=lines_of(rng, 5))[0]
    bad.append(pkt[:4])
    pkt = m.store(dst=HERE, src=HOST, addr=0, data=lines_of(rng, 2))[0]
    bad.append(pkt + lines_of(rng, 2))
    # longer than the input buffer (cut into segments, all dropped)
    pkt = m.store(dst=HERE, src=HOST, addr=0, data=lines_of(rng, 7))[0]
    bad.append(pkt + lines_of(rng, 20))
    # request class bit says response; READ with count 0; READ past the registers
    bad.append(m.read(dst=HERE, src=HOST, addr=0, count=0))
    bad.append(m.read(dst=HERE, src=HOST, addr=m.lay.reg_base + len(m.lay.registers) - 1,
                      count=2))
    bad.append([m.head(dst=HERE, src=HOST, opcode=Opcode.WRITE, length=2,
                       mclass=MsgClass.RESPONSE, info=0), 123])
    # EXEC with a wrong body length, PUSH to a node outside the mesh is checked later
    bad.append(m.exec(dst=HERE, src=HOST, m=4, n=4, k=4, dtype="bf16", a_addr=0, b_addr=0,
                      c_addr=0)[:1])
    for p in bad:
        h.send(p)
    h.send(m.read(dst=HERE, src=HOST, addr=0, count=4, tag=1))
    h.send(m.read_regs(dst=HERE, src=HOST, first="errors", tag=2))
    # a first segment of the over-long packet counts, and each further segment
    n_errors = len(bad) + (27 // h.ni.depth)

    async def bench(ctx):
        pkts = await h.wait_packets(ctx, 2)
        got = {p["tag"]: p["data"] for p in pkts}
        assert got[1] == good, "SRAM corrupted by a malformed packet"
        assert got[2] == [n_errors]
        assert ctx.get(h.ni.errors) == n_errors

    h.run(bench)


# -- responses arriving at a node ---------------------------------------------------------

def test_responses_are_drained_and_counted():
    h = Harness()
    m = h.model
    for i in range(5):
        h.send([m.head(dst=HERE, src=HOST, opcode=Opcode.DONE, length=1,
                       mclass=MsgClass.RESPONSE, info=0)], vc=m.resp_vc)
    h.send([m.head(dst=HERE, src=HOST, opcode=Opcode.READ_RESP, length=3,
                   mclass=MsgClass.RESPONSE, info=0), 1, 2], vc=m.resp_vc)
    h.send(m.read_regs(dst=HERE, src=HOST, first="errors", count=2, tag=7))

    async def bench(ctx):
        await h.idle(ctx)
        pkts = await h.wait_packets(ctx, 1)
        assert pkts[0]["data"] == [0, 6]

    h.run(bench)


# -- PUSH ---------------------------------------------------------------------------------

def test_push_as_add_packets():
    h = Harness(lines=64)
    m = h.model
    rng = random.Random(9)
    data = lines_of(rng, 10)
    h.send(m.store(dst=HERE, src=HOST, addr=20, data=data))
    h.send(m.push(dst=HERE, src=HOST, src_addr=20, count=10, to=(3, 2), dst_addr=5, add=True,
                  dtype=Dtype.FP32, sem=2, tag=11))
    # a PUSH whose destination range passes the end of the SRAM is dropped
    h.send(m.push(dst=HERE, src=HOST, src_addr=20, count=2, to=(3, 2), dst_addr=63, tag=12))

    async def bench(ctx):
        pkts = await h.wait_packets(ctx, 3)
        reqs = [p for p in pkts if p["mclass"] == MsgClass.REQUEST]
        done = [p for p in pkts if p["opcode"] == Opcode.DONE]
        assert [r["length"] for r in reqs] == [8, 4]
        assert all(r["opcode"] == Opcode.ADD and r["dst"] == (3, 2) and r["src"] == HERE
                   and r["dtype"] == Dtype.FP32 and r["vc"] == m.req_vc for r in reqs)
        assert [r["addr"] for r in reqs] == [5, 12]
        assert [r["sem_inc"] for r in reqs] == [0, 1] and reqs[1]["sem"] == 2
        assert reqs[0]["data"] + reqs[1]["data"] == data
        assert len(done) == 1 and done[0]["tag"] == 11 and done[0]["dst"] == HOST
        assert done[0]["opcode"] == Opcode.DONE
        assert done[0]["cycle"] > reqs[1]["cycle"] - 1
        await h.idle(ctx)
        assert ctx.get(h.ni.errors) == 1        # dst_addr + count past the end

    h.run(bench)


# -- EXEC ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ok", [1, 0])
def test_exec_hands_descriptor_to_engine(ok):
    h = Harness()
    m = h.model
    h.send(m.exec(dst=HERE, src=HOST, m=8, n=4, k=12, dtype="int8", a_addr=1, b_addr=2,
                  c_addr=3, accumulate=True, tag=21))
    starts = []

    async def bench(ctx):
        for cycle in range(60):
            if ctx.get(h.ni.exec_start):
                d = ctx.get(h.ni.exec_desc)
                starts.append((int(d.m_tiles), int(d.n_tiles), int(d.k_tiles), int(d.a_addr),
                               int(d.b_addr), int(d.c_addr), int(d.accumulate)))
                await ctx.tick()                # the engine is busy from the next cycle
                ctx.set(h.ni.exec_busy, 1)
                await ctx.tick().repeat(5)
                ctx.set(h.ni.exec_busy, 0)
                ctx.set(h.ni.exec_done, 1)
                await ctx.tick()
                ctx.set(h.ni.exec_done, 0)
            await ctx.tick()
        if ok:
            assert starts == [(2, 1, 3, 1, 2, 3, 1)]
            pkts = await h.wait_packets(ctx, 1)
            assert pkts[0]["opcode"] == Opcode.DONE and pkts[0]["tag"] == 21
        else:
            assert not starts and ctx.get(h.ni.errors) == 1
            assert not h.sink.packets

    h.run(bench, exec_ok=ok)
