# amaranth: UnusedElaboratable=no
"""ResponseWriter: READ_RESP flits first, DONEs in slot order, held during a READ, one each."""

from amaranth.sim import Simulator

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.response_writer import ResponseWriter

FMT = PacketFormat(flit_bits=64, coord_bits=2)
LAY = NodeLayouts(fmt=FMT, lines=64)


def test_priority_and_hold():
    dut = ResponseWriter(layouts=LAY, slots=3)
    written = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.x, 1)
        ctx.set(dut.y, 0)
        ctx.set(dut.q.rdy, 1)
        # arm slots 2 and 0 together, slot 1 loaded but not armed
        for i, (x, tag, op) in enumerate([(3, 7, Opcode.WRITE), (2, 8, Opcode.PUSH),
                                          (0, 9, Opcode.EXEC)]):
            s = dut.done[i]
            ctx.set(s.load, 1)
            ctx.set(s.x, x)
            ctx.set(s.y, 1)
            ctx.set(s.tag, tag)
            ctx.set(s.opcode, op)
            ctx.set(s.addr, 4 * i)
            ctx.set(s.arm, i != 1)
        ctx.set(dut.rx_hold, 1)          # a READ under way: DONEs wait
        ctx.set(dut.rx_en, 1)
        ctx.set(dut.rx_data, 0x1_0000_0000_0000_0042)
        await ctx.tick()
        for s in dut.done:
            ctx.set(s.load, 0)
            ctx.set(s.arm, 0)
        assert [ctx.get(s.pending) for s in dut.done] == [1, 0, 1]
        for cycle in range(6):
            ctx.set(dut.rx_en, cycle == 0)
            ctx.set(dut.rx_hold, cycle < 2)
            if ctx.get(dut.q.en):
                written.append((cycle, ctx.get(dut.q.data)))
            await ctx.tick()
        assert [ctx.get(s.pending) for s in dut.done] == [0, 0, 0]

    sim.add_testbench(bench)
    sim.run()
    assert written[0] == (0, 0x1_0000_0000_0000_0042)
    dones = [(c, FMT.decode_head(d & ((1 << 64) - 1)), d >> 64) for c, d in written[1:]]
    assert [c for c, _, _ in dones] == [2, 3]
    for (_, h, last), (x, tag, op, addr) in zip(dones, [(3, 7, Opcode.WRITE, 0),
                                                        (0, 9, Opcode.EXEC, 8)]):
        assert last == 1
        assert (h["dst"], h["src"], h["mclass"], h["opcode"], h["length"]) == \
            ((x, 1), (1, 0), MsgClass.RESPONSE, Opcode.DONE, 1)
        assert LAY.decode("resp_info", h["info"]) == {"tag": tag, "req_op": op, "addr": addr}


def test_waits_for_room():
    dut = ResponseWriter(layouts=LAY, slots=1)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.done[0].arm, 1)
        await ctx.tick()
        ctx.set(dut.done[0].arm, 0)
        ctx.set(dut.q.rdy, 0)
        for _ in range(3):
            assert not ctx.get(dut.q.en)
            await ctx.tick()
        assert ctx.get(dut.done[0].pending)
        ctx.set(dut.q.rdy, 1)
        assert ctx.get(dut.q.en)
        await ctx.tick()
        assert not ctx.get(dut.done[0].pending) and not ctx.get(dut.q.en)

    sim.add_testbench(bench)
    sim.run()
