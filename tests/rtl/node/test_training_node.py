"""TrainingNode in amaranth.sim: router + NI + SRAM + engine, driven through the west port
by a neighbouring-router model; and the design generator's checks."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from gen.config import load_config
from gen.emit import icarus_safe
from gen.node_build import compute_node_design, node_layouts
from rtl.node.layouts import COUNTER_NAMES
from rtl.node.training_node import TrainingNode
from rtl.net.packet import Opcode, PacketFormat
from tests.conftest import CONFIGS
from tests.rtl.node.test_ni import LinkSink, LinkSource
from verif.node_model import NodeModel

FMT = PacketFormat(flit_bits=64, coord_bits=2)
HERE, HOST = (1, 0), (0, 0)


class Harness:
    """A node at ``HERE`` driven through its west port by a neighbouring-router model
    (``src`` sends packets, ``sink`` takes its answers); ``run(bench)`` simulates."""

    def __init__(self, model, *, stall):
        self.node = node = TrainingNode(layouts=model.lay, vcs=2, buffer_depth=4,
                                        routing="xy", max_packet_flits=8, matrix_p=4,
                                        mesh_x=4, mesh_y=4)
        self.top = top = Module()
        top.submodules.node = node
        top.d.comb += [node.x.eq(HERE[0]), node.y.eq(HERE[1])]
        for d in ("north", "south", "east"):
            top.d.comb += getattr(node, f"in_{d}").valid.eq(0)
        self.src = LinkSource(node.in_west, vcs=2, credits=4)
        self.sink = LinkSink(node.out_west, vcs=2, depth=4, stall=stall)

    def run(self, bench):
        sim = Simulator(self.top)
        sim.add_clock(1e-6)
        sim.add_testbench(self.src.run, background=True)
        sim.add_testbench(self.sink.run, background=True)
        sim.add_testbench(bench)
        sim.run()
        assert not self.sink.violations


def test_node_round_trip_and_gemm():
    model = NodeModel(fmt=FMT, lines=128, vcs=2, max_packet_flits=8, matrix_p=4)
    h = Harness(model, stall=0.2)
    node, src, sink = h.node, h.src, h.sink
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    b = rng.integers(-128, 128, (8, 8)).astype(np.int8)
    lay = model.gemm_layout(m=4, n=8, k=8, dtype="int8", base=10)
    data = [int(x) for x in rng.integers(0, 2**63, 5)]
    sent = []                                   # every request, to count its flits

    def send(packet):
        sent.append(packet)
        src.send(packet)

    send(model.store(dst=HERE, src=HOST, addr=100, data=data)[0])
    send(model.read(dst=HERE, src=HOST, addr=100, count=5, tag=1))
    a_lines, b_lines = model.pack_a(a, "int8"), model.pack_b(b, "int8")
    for p in model.store(dst=HERE, src=HOST, addr=lay["a"], data=a_lines) \
            + model.store(dst=HERE, src=HOST, addr=lay["b"], data=b_lines):
        send(p)
    send(model.exec(dst=HERE, src=HOST, m=4, n=8, k=8, dtype="int8", a_addr=lay["a"],
                    b_addr=lay["b"], c_addr=lay["c"], tag=2))

    async def bench(ctx):
        for _ in range(600):
            if len(sink.packets) >= 2:
                break
            await ctx.tick()
        got = [model.decode(f) for _, f, _ in sink.packets]
        assert [g["tag"] for g in got] == [1, 2]
        assert got[0]["data"] == data and got[0]["opcode"] == Opcode.READ_RESP
        assert got[1]["opcode"] == Opcode.DONE and got[1]["src"] == HERE
        chunks = [(lay["c"] + i, min(7, lay["c_lines"] - i)) for i in range(0, lay["c_lines"], 7)]
        for i, (addr, count) in enumerate(chunks):
            send(model.read(dst=HERE, src=HOST, addr=addr, count=count, tag=3 + i))
        for _ in range(300):
            if len(sink.packets) >= 2 + len(chunks):
                break
            await ctx.tick()
        lines = [x for _, f, _ in sink.packets[2:] for x in model.decode(f)["data"]]
        c = model.unpack_c(lines, 4, 8)
        assert np.array_equal(c, NodeModel.golden(a, b, None, "int8"))
        assert ctx.get(node.errors) == 0 and not ctx.get(node.overflow)
        # the event counters (energy): every flit each way, every SRAM line, every step
        answered = sum(len(f) for _, f, _ in sink.packets)
        halves = (COUNTER_NAMES[:5], COUNTER_NAMES[5:])      # a READ returns <= 7 lines
        for i, names in enumerate(halves):
            send(model.read_regs(dst=HERE, src=HOST, first=names[0], count=len(names),
                                 tag=30 + i))
        for _ in range(100):
            if len(sink.packets) == 2 + len(chunks) + 2:
                break
            await ctx.tick()
        values = [x for _, f, _ in sink.packets[-2:] for x in model.decode(f)["data"]]
        got = dict(zip(COUNTER_NAMES, values))
        answered += 1         # the answer's head leaves before its registers are read
        # each C tile (1 x 2 of them) reads its A panel and its B panel
        engine_reads = 2 * len(a_lines) + 1 * len(b_lines)
        assert got == {
            "flits_local": sum(len(p) for p in sent), "flits_west": answered,
            "flits_north": 0, "flits_east": 0, "flits_south": 0,
            "sram_writes": len(data) + len(a_lines) + len(b_lines) + lay["c_lines"],
            "sram_reads": len(data) + lay["c_lines"] + engine_reads,
            "mac_steps_bf16": 0, "mac_steps_int8": (4 // 4) * (8 // 4) * 8}, got

    h.run(bench)


def test_design_checks():
    cfg = load_config(CONFIGS / "default.yaml", [])
    assert node_layouts(cfg).lines == 512
    with pytest.raises(ValueError, match="needs a mesh at least 5 wide"):
        compute_node_design(cfg, nodes=4)
    bad = load_config(CONFIGS / "default.yaml", ["node.matrix_p=8"])
    with pytest.raises(ValueError, match="needs 128-bit lines for one bf16 step"):
        compute_node_design(bad).verilog


def test_icarus_safe_trigger():
    text = "  reg \\$auto$verilog_backend.cc:2355:dump_module$7  = 0;\n  wire x;\n"
    out = icarus_safe(text)
    assert "initial #0 \\$auto$verilog_backend.cc:2355:dump_module$7 = 1;" in out
    assert out.endswith("  wire x;\n")


def test_counter_saturates_instead_of_wrapping():
    """Completion counters at their top: a 4-bit counter (the designs' are 32-bit) takes
    17 signals, holds 15 and counts the 2 lost increments in ``errors``; a WAIT of 15
    taken from the saturated count then completes (a wrapped count, 1, would have held
    it back for ever), and the count is back to 0. Increments that cross the top in the
    same cycle as a take are covered by the NI's single next-value expression."""
    from rtl.node.layouts import NodeLayouts
    model = NodeModel(fmt=FMT, lines=128, vcs=2, max_packet_flits=8, matrix_p=4)
    model.lay = NodeLayouts(fmt=FMT, lines=128, sems=4, counter_bits=4)
    h = Harness(model, stall=0.0)
    src, sink = h.src, h.sink
    for _ in range(17):
        src.send(model.store(dst=HERE, src=HOST, addr=0, data=[], sem=1)[0])
    src.send(model.read_regs(dst=HERE, src=HOST, first="sem0", count=2, tag=1))
    src.send(model.read_regs(dst=HERE, src=HOST, first="errors", tag=2))
    prog = model.program([model.cmd_wait(1, 15), model.cmd_halt(5)])
    src.send(model.store(dst=HERE, src=HOST, addr=64, data=prog)[0])
    src.send(model.store(dst=HERE, src=HOST, addr=model.reg_addr("cmd_ctrl"),
                         data=[model.ctrl_line({0: 64})])[0])

    async def bench(ctx):
        for _ in range(1500):
            if len(sink.packets) >= 3:
                break
            await ctx.tick()
        got = [model.decode(f) for _, f, _ in sink.packets]
        assert len(got) >= 3, got
        assert got[0]["tag"] == 1 and got[0]["data"] == [0, 15], got[0]
        assert got[1]["tag"] == 2 and got[1]["data"] == [2], got[1]
        assert model.halt_queue(got[2]) == 0 and got[2]["tag"] == 5, got[2]
        src.send(model.read_regs(dst=HERE, src=HOST, first="sem1", tag=3))
        for _ in range(300):
            if len(sink.packets) >= 4:
                break
            await ctx.tick()
        last = model.decode(sink.packets[3][1])
        assert last["tag"] == 3 and last["data"] == [0], last

    h.run(bench)
