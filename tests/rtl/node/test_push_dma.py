# amaranth: UnusedElaboratable=no
"""PushDma: packet split, head fields, line order, queue room, DONE pulse, descriptor checks."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import Dtype, NodeLayouts
from rtl.node.push_dma import PushDma

FMT = PacketFormat(flit_bits=64, coord_bits=2)
LAY = NodeLayouts(fmt=FMT, lines=64)
HERE = (1, 2)


def line(addr):
    return (addr * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)


def run(*, count, max_len, add=0, ack=1, drain=0.5, seed=0):
    rng = random.Random(seed)
    dma = PushDma(layouts=LAY, max_packet_flits=max_len, mesh_x=4, mesh_y=4)
    depth = dma.q.signature.depth
    out, dones, max_level = [], [], [0]
    sim = Simulator(dma)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dma.x, HERE[0])
        ctx.set(dma.y, HERE[1])
        ctx.set(dma.desc, {"src_addr": 5, "count": count, "dst_x": 3, "dst_y": 0,
                           "dst_addr": 40, "add": add, "dtype": Dtype.FP32, "sem_inc": 1,
                           "sem": 2})
        ctx.set(dma.tag, 0x5A)
        ctx.set(dma.ack, ack)
        assert ctx.get(dma.desc_ok)
        ctx.set(dma.start, 1)
        await ctx.tick()
        ctx.set(dma.start, 0)
        level, rdata = 0, 0
        for cycle in range(400):
            ctx.set(dma.q.rdy, level < depth)
            ctx.set(dma.q.level, level)
            ctx.set(dma.sram.data, rdata)
            if ctx.get(dma.q.en):
                assert level < depth, "wrote into a full queue"
                out.append(ctx.get(dma.q.data))
                level += 1
            if ctx.get(dma.done):
                dones.append(cycle)
            busy = ctx.get(dma.busy)
            en, addr = ctx.get(dma.sram.en), ctx.get(dma.sram.addr)
            await ctx.tick()
            max_level[0] = max(max_level[0], level)
            rdata = line(addr) if en else 0
            if level and rng.random() < drain:
                level -= 1
            if not busy and cycle > 5:
                break

    sim.add_testbench(bench)
    sim.run()
    return out, dones


def packets(flits):
    pkts, cur = [], []
    for f in flits:
        cur.append(f & ((1 << 64) - 1))
        if f >> 64:
            pkts.append(cur)
            cur = []
    assert not cur
    return pkts


@pytest.mark.parametrize("count,max_len", [(1, 2), (10, 4), (7, 8), (14, 8)])
@pytest.mark.parametrize("drain", [1.0, 0.3])
def test_push_packets(count, max_len, drain):
    out, dones = run(count=count, max_len=max_len, add=1, drain=drain)
    pkts = packets(out)
    chunk = max_len - 1
    assert [len(p) - 1 for p in pkts] == [min(chunk, count - i) for i in range(0, count, chunk)]
    sent = 0
    for n, p in enumerate(pkts):
        h = FMT.decode_head(p[0])
        assert (h["dst"], h["src"], h["mclass"], h["opcode"], h["length"]) == \
            ((3, 0), HERE, MsgClass.REQUEST, Opcode.ADD, len(p))
        info = LAY.decode("store_info", h["info"])
        assert info["addr"] == 40 + sent and info["tag"] == 0x5A
        assert info["dtype"] == Dtype.FP32 and info["sem"] == 2
        assert info["sem_inc"] == (n == len(pkts) - 1)
        assert p[1:] == [line(5 + sent + i) for i in range(len(p) - 1)]
        sent += len(p) - 1
    assert len(dones) == 1


def test_write_and_no_ack():
    out, dones = run(count=3, max_len=8, add=0, ack=0)
    assert FMT.decode_head(packets(out)[0][0])["opcode"] == Opcode.WRITE
    assert dones == []


@pytest.mark.parametrize("field,value", [("count", 0), ("src_addr", 60), ("dst_addr", 60),
                                         ("dst_x", 3), ("dst_y", 3)])
def test_bad_descriptors(field, value):
    dma = PushDma(layouts=LAY, max_packet_flits=8, mesh_x=3, mesh_y=3)
    sim = Simulator(dma)
    good = {"src_addr": 0, "count": 5, "dst_x": 2, "dst_y": 2, "dst_addr": 59}

    async def bench(ctx):
        ctx.set(dma.desc, good)
        assert ctx.get(dma.desc_ok)
        ctx.set(dma.desc, good | {field: value})
        assert not ctx.get(dma.desc_ok)

    sim.add_testbench(bench)
    sim.run()
