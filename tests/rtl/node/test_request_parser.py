# amaranth: UnusedElaboratable=no
"""RequestParser behind an RxBuffer: WRITE lines and DONE, READ of registers, errors, PUSH hand-off."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.request_parser import RequestParser
from rtl.node.rx_buffer import RxBuffer
from tests.rtl.node.test_ni import LinkSource

FMT = PacketFormat(flit_bits=64, coord_bits=2)
LAY = NodeLayouts(fmt=FMT, lines=64)
HERE, SRC = (1, 1), (2, 3)


def request(opcode, info, body=(), mclass=MsgClass.REQUEST):
    return [FMT.encode_head(dst=HERE, src=SRC, opcode=opcode, length=1 + len(body),
                            mclass=mclass, info=info), *body]


def run(packets, *, cycles=80, dma_ok=1):
    m = Module()
    m.submodules.rx = rx = RxBuffer(fmt=FMT, vcs=2, credits=4, depth=11)
    m.submodules.dut = dut = RequestParser(layouts=LAY, vcs=2, max_packet_flits=8)
    wiring.connect(m, rx.vc[0], dut.vc[0])
    src = LinkSource(rx.i, vcs=2, credits=4)
    for p in packets:
        src.send(p, 0)
    ev = {"line": [], "resp": [], "done": [], "error": 0, "sem": [], "dma": []}
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.x, HERE[0])
        ctx.set(dut.y, HERE[1])
        ctx.set(dut.resp_rdy, 1)
        ctx.set(dut.dma_free, 1)
        ctx.set(dut.dma_ok, dma_ok)
        reg = 0
        for _ in range(cycles):
            ctx.set(dut.reg_data, reg)
            if ctx.get(dut.line.valid):
                ev["line"].append((ctx.get(dut.line.addr), ctx.get(dut.line.data)))
            if ctx.get(dut.resp_en):
                ev["resp"].append(ctx.get(dut.resp_data))
            if ctx.get(dut.done.arm):
                ev["done"].append((ctx.get(dut.done.x), ctx.get(dut.done.y),
                                   ctx.get(dut.done.tag), ctx.get(dut.done.addr)))
            ev["error"] += ctx.get(dut.error)
            if ctx.get(dut.sem_inc):
                ev["sem"].append(ctx.get(dut.sem))
            if ctx.get(dut.dma_start):
                ev["dma"].append(LAY.push_desc.from_bits(
                    ctx.get(dut.desc) & ((1 << LAY.push_desc.size) - 1)))
            addr = ctx.get(dut.reg_addr)
            await ctx.tick()
            reg = 1000 + addr          # registered, like the SRAM

    sim.add_testbench(src.run, background=True)
    sim.add_testbench(bench)
    sim.run()
    return ev


def test_write_lines_and_done():
    info = LAY.encode("store_info", addr=4, tag=9, ack=1, sem_inc=1, sem=3)
    ev = run([request(Opcode.WRITE, info, [0xAA, 0xBB])])
    assert ev["line"] == [(4, 0xAA), (5, 0xBB)]
    assert ev["done"] == [(*SRC, 9, 4)] and ev["sem"] == [3] and ev["error"] == 0


def test_read_registers():
    info = LAY.encode("read_info", addr=LAY.reg_base + 1, count=2, tag=5)
    ev = run([request(Opcode.READ, info)])
    head, *data = ev["resp"]
    h = FMT.decode_head(head)
    assert (h["dst"], h["opcode"], h["mclass"], h["length"]) == \
        (SRC, Opcode.READ_RESP, MsgClass.RESPONSE, 3)
    assert data == [1001, 1002 | 1 << 64]


def test_malformed_dropped_and_counted():
    good = LAY.encode("store_info", addr=0, tag=1, ack=1)
    ev = run([request(Opcode.DONE, 0),                                  # response opcode
              request(Opcode.WRITE, LAY.encode("store_info", addr=63), [1, 2]),  # past the end
              request(Opcode.READ, LAY.encode("read_info", addr=0, count=0)),
              request(Opcode.WRITE, good, [7])])
    assert ev["error"] == 3
    assert ev["line"] == [(0, 7)]


def test_push_handed_to_dma():
    desc = LAY.desc_flits("push_desc", src_addr=3, count=5, dst_x=1, dst_y=2, dst_addr=9)
    ev = run([request(Opcode.PUSH, LAY.encode("ctl_info", tag=4, ack=1), desc)])
    assert [(d.src_addr, d.count, d.dst_x, d.dst_y, d.dst_addr) for d in ev["dma"]] == \
        [(3, 5, 1, 2, 9)]
    ev = run([request(Opcode.PUSH, LAY.encode("ctl_info", tag=4), desc)], dma_ok=0)
    assert ev["dma"] == [] and ev["error"] == 1
