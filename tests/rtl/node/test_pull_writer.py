# amaranth: UnusedElaboratable=no
"""PullWriter: a PULL's READ_RESP lines land at dst + (addr - src), waiting while the write
port is refused; the semaphore is named when the last is in; other responses are drained."""

from amaranth.sim import Simulator

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from rtl.node.pull_writer import PullWriter

FMT = PacketFormat(flit_bits=64, coord_bits=2)
LAY = NodeLayouts(fmt=FMT, lines=64, sems=4)


def _resp(opcode, addr, lines):
    info = LAY.encode("resp_info", tag=0, req_op=Opcode.READ, addr=addr)
    head = FMT.encode_head(dst=(1, 0), src=(2, 0), opcode=opcode, length=len(lines) + 1,
                           mclass=MsgClass.RESPONSE, info=info)
    return [head] + lines


def test_pull_lines_and_completion():
    dut = PullWriter(layouts=LAY, vcs=1)
    flits = (_resp(Opcode.DONE, 0, [])                      # not a PULL's: drained only
             + _resp(Opcode.READ_RESP, 40, [0xA, 0xB])       # lines 40, 41 of the remote
             + _resp(Opcode.READ_RESP, 42, [0xC]))
    lasts = [1, 0, 0, 1, 0, 1]
    writes, dones, drained = [], [], []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        vc = dut.vc[0]
        ctx.set(dut.start, 1)
        ctx.set(dut.src, 40)
        ctx.set(dut.dst, 10)
        ctx.set(dut.count, 3)
        ctx.set(dut.sem, 2)
        await ctx.tick()
        ctx.set(dut.start, 0)
        assert ctx.get(dut.busy)
        i, cycle = 0, 0
        while i < len(flits) and cycle < 40:
            ctx.set(vc.nonempty, 1)
            ctx.set(vc.head, flits[i])
            ctx.set(vc.last, lasts[i])
            ctx.set(dut.wr.grant, cycle != 4)            # the port is taken once
            if ctx.get(dut.wr.en) and ctx.get(dut.wr.grant):
                writes.append((ctx.get(dut.wr.addr), ctx.get(dut.wr.data)))
            if ctx.get(dut.done):
                dones.append(ctx.get(dut.done_sem))
            drained.append(ctx.get(dut.drained))
            popped = ctx.get(vc.pop)
            await ctx.tick()
            i += popped
            cycle += 1
        ctx.set(vc.nonempty, 0)
        await ctx.tick()
        assert not ctx.get(dut.busy)

    sim.add_testbench(bench)
    sim.run()
    assert writes == [(10, 0xA), (11, 0xB), (12, 0xC)]
    assert dones == [2]
    assert sum(drained) == 3
