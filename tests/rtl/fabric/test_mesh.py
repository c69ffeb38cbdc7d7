# amaranth: UnusedElaboratable=no
"""A mesh on its own in amaranth.sim: no generator, no module library."""

from amaranth.sim import Simulator

from rtl.fabric.mesh import Mesh
from rtl.net.packet import Opcode, PacketFormat

FMT = PacketFormat(flit_bits=64, coord_bits=2)


def test_bare_mesh_delivers_across_it():
    """A packet from node (0, 0) reaches node (1, 1) one cycle per router (three), and one
    cycle more per hop with a link register on every hop."""
    for stages, expect in ((0, 3), (1, 5)):
        dut = Mesh(fmt=FMT, nodes_x=2, nodes_y=2, kind="bare", pipeline_stages=stages,
                   node_params={"vcs": 1, "buffer_depth": 4, "routing": "xy"})
        head = FMT.encode_head(dst=(1, 1), src=(0, 0), opcode=Opcode.TRAFFIC, length=1, info=7)
        seen = []

        async def bench(ctx):
            src, dst = dut.in_local_0_0, dut.out_local_1_1
            ctx.set(src.valid, 1)
            ctx.set(src.last, 1)
            ctx.set(src.data, head)
            await ctx.tick()
            ctx.set(src.valid, 0)
            for cycle in range(1, 12):
                if ctx.get(dst.valid):
                    seen.append((cycle, ctx.get(dst.data)))
                await ctx.tick()

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()
        assert [d for _, d in seen] == [head], seen
        assert seen[0][0] == expect, (stages, seen)
