# amaranth: UnusedElaboratable=no
"""The fast model of the training node's core (sim.netmodel.node.core) against the RTL.

The RTL reference is :class:`rtl.node.training_node.TrainingNode` itself, its ``elaborate``
wiring the NI, the SRAM and the matrix engine, with the router replaced by a wire from its
local port to its west port (:class:`LocalPortWire`), so the model and the RTL meet at the
router's local port (the network kernel's router model serves a whole mesh and is held to
the RTL by its own test; putting a core behind it is the next step).

A host on the local port sends a script of packets within the NI's credits and takes every
flit the NI sends, returning its credits a few cycles late: WRITEs of operands and of a
command program, READs of lines, GEMMs by EXEC in both dtypes, EXECs racing PUSHes for read
port 2, a ``cmd_ctrl`` write that runs the program (LOOP over PUSH and SIGNAL, a WAIT on
signals the host sends one at a time, an EXEC, a WAIT, HALT), reads of every register, and
at the end READs of every SRAM line. Every output of the local port is compared every cycle
(the end's READs compare every line, the register reads every semaphore and status
register), and the core's event counters against the events on the RTL blocks' ports
(granted SRAM reads and writes, the engine's steps in the dtype it was started in).
"""

import collections
import random

import numpy as np
import pytest
from unittest import mock

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.directions import PORTS
from rtl.net.link import LinkSignature
from rtl.net.packet import Opcode, PacketFormat
from rtl.node import training_node
from rtl.node.layouts import NodeLayouts, request_vcs
from rtl.node.mac import MacMode
from rtl.node.training_node import TrainingNode
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import engine as en
from sim.netmodel.node import ni as nim
from sim.netmodel.node import sram
from sim.netmodel.node.core import COUNTERS, INPUTS, OUTPUTS, NodeCores
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from tests.sim.netmodel.test_node_engine import random_line

# the core runs every node block's compiled model (see test_node_ni)
pytestmark = one_worker("core")

LINES = 128
MESH = (4, 4)
XY = (1, 2)
HOST = (0, 2)
PARAMS = dict(vcs=2, buffer_depth=4, max_packet_flits=6, matrix_p=2, mesh_x=MESH[0],
              mesh_y=MESH[1])
#: where the script puts things: operands, results, the command program
A, B, C, C_INT8, PROGRAM = 0, 16, 32, 48, 96


class LocalPortWire(wiring.Component):
    """In place of TrainingNode's router: the local port wired straight to the west port
    (flits and credits both ways, no buffer, no cycle), every other port idle, so the test
    drives the NI's link through ``in_west``/``out_west`` of TrainingNode itself."""

    def __init__(self, *, fmt, vcs, buffer_depth, routing):
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        super().__init__({"x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
                          **{f"in_{p}": In(link) for p in PORTS},
                          **{f"out_{p}": Out(link) for p in PORTS}, "overflow": Out(1)})

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.in_local), wiring.flipped(self.out_west))
        wiring.connect(m, wiring.flipped(self.in_west), wiring.flipped(self.out_local))
        for p in ("north", "east", "south"):
            inp, out = getattr(self, f"in_{p}"), getattr(self, f"out_{p}")
            m.d.comb += [out.valid.eq(0), out.last.eq(0), out.vc.eq(0), out.data.eq(0),
                         inp.credit.eq(0)]
        m.d.comb += self.overflow.eq(0)
        return m


def core(lay):
    """TrainingNode with :class:`LocalPortWire` for its router: its NI, SRAM and engine
    as its own ``elaborate`` wires them, the NI's link on the west port."""
    return TrainingNode(layouts=lay, routing="xy", **PARAMS)


def _layouts():
    return NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES, sems=4)


def script(lay, rng, *, xy=XY, host=HOST, far=((3, 0), (3, 3), (2, 1)), near=None):
    """The host's requests to the node at ``xy`` from ``host``: a list of packets (lists of
    flits) and idle gaps (ints); ``far``: where the program's PUSH, a PUSH of the host's and
    the program's SIGNAL go, ``near`` where the host's other PUSHes go (``xy``)."""
    XY, HOST = xy, host
    near = xy if near is None else near
    fmt, most = lay.fmt, PARAMS["max_packet_flits"] - 1
    tag = iter(range(1, 1 << 16))

    def head(op, length, info):
        return fmt.encode_head(dst=XY, src=HOST, opcode=op, length=length, info=info)

    def write(addr, lines, **info):
        out = []
        for i in range(0, max(len(lines), 1), most):
            body = lines[i:i + most]
            out.append([head(Opcode.WRITE, 1 + len(body),
                             lay.encode("store_info", addr=addr + i, tag=next(tag) & 0xFF,
                                        **info))] + body)
        return out

    def read(addr, count):
        return [[head(Opcode.READ, 1, lay.encode("read_info", addr=addr, count=count,
                                                  tag=next(tag) & 0xFF))]]

    def control(op, layout, **desc):
        return [head(op, 1 + getattr(lay, layout.replace("_desc", "_flits")),
                     lay.encode("ctl_info", tag=next(tag) & 0xFF, ack=1))] \
            + lay.desc_flits(layout, **desc)

    def gemm(mode, c_addr, accumulate=1, m=2, n=2, k=4):
        return control(Opcode.EXEC, "exec_desc", mode=mode, accumulate=accumulate,
                       m_tiles=m, n_tiles=n, k_tiles=k, a_addr=A, b_addr=B, c_addr=c_addr)

    def push(src, count, dst=near, **more):
        return control(Opcode.PUSH, "push_desc", src_addr=src, count=count, dst_x=dst[0],
                       dst_y=dst[1], dst_addr=src + 64, **more)

    bf16, int8 = MacMode.BF16.value, MacMode.INT8.value
    program = [lay.cmd("LOOP", count=2, body=2),
               lay.cmd("PUSH", desc=dict(src_addr=A, count=3, dst_x=far[0][0], dst_y=far[0][1], dst_addr=8,
                                         sem_inc=1, sem=2), src_step=3, dst_step=3),
               lay.cmd("SIGNAL", dst_x=far[2][0], dst_y=far[2][1], sem=3),
               lay.cmd("WAIT", sem=1, n=2),
               lay.cmd("EXEC", desc=dict(mode=int8, accumulate=1, m_tiles=1, n_tiles=2,
                                         k_tiles=2, a_addr=A, b_addr=B, c_addr=C_INT8)),
               lay.cmd("WAIT", sem=0, n=1),
               lay.cmd("HALT", code=7)]
    program = [line for d in program for line in d]
    assert PROGRAM + len(program) <= LINES
    reg = lambda name: lay.reg_base + lay.registers.index(name)
    signal = lambda sem: write(rng.randrange(LINES), [], sem_inc=1, sem=sem)
    steps = []
    values = np.random.default_rng(rng.getrandbits(32))
    steps += write(A, [random_line(values) for _ in range(C_INT8 + 16 - A)])
    steps += write(PROGRAM, program, ack=1)
    steps += read(A + 3, 4) + read(C + 1, 1)
    steps += [gemm(bf16, C, accumulate=0, m=1, n=1, k=2), 60]
    # the DMA streams lines out of port 2 while the engine prefetches C on it
    steps += [push(A, 24), gemm(bf16, C), push(B, 12, dst=far[1], add=1, sem_inc=1, sem=0),
              gemm(bf16, C, m=2, n=2, k=1), push(A + 8, 16), 200]
    steps += write(reg("cmd_ctrl"), [lay.encode("cmd_ctrl", start=1, pc0=PROGRAM)], ack=1)
    steps += [40] + signal(1) + [80] + signal(1) + [40]
    steps += [gemm(int8, C_INT8, m=2, n=1, k=1)] + signal(0) + [250]
    for first in range(0, len(lay.registers), most):
        steps += read(reg(lay.registers[first]), min(most, len(lay.registers) - first))
    for addr in range(0, LINES, most):
        steps += read(addr, min(most, LINES - addr))
    return steps + [40]


class Host:
    """The router's side of the local port: the script's packets on the request VC within
    the NI's credits, the NI's flits taken and their credits returned a few cycles late."""

    def __init__(self, steps, rng):
        self.steps, self.rng = collections.deque(steps), rng
        self.credits = PARAMS["buffer_depth"]
        self.flits = collections.deque()             # (flit, last) of the packet under way
        self.idle = 0
        self.returns = collections.deque()           # (cycle, vc) of credits to return
        self.vc = request_vcs(PARAMS["vcs"])[0]

    def done(self):
        return not self.steps and not self.flits and not self.idle

    def flit(self):
        """``(vc, last, data)`` of this cycle, or None."""
        if not self.flits and self.idle == 0 and self.steps:
            step = self.steps.popleft()
            if isinstance(step, int):
                self.idle = step
            else:
                self.flits.extend((f, int(i == len(step) - 1)) for i, f in enumerate(step))
        if self.idle:
            self.idle -= 1
            return None
        if not self.flits or not self.credits or self.rng.random() < 0.15:
            return None
        self.credits -= 1
        data, last = self.flits.popleft()
        return self.vc, last, data

    def credit_back(self, t):
        bits = 0
        while self.returns and self.returns[0][0] <= t:
            bits |= 1 << self.returns.popleft()[1]
        return bits

    def edge(self, t, out):
        if out["o_valid"]:
            # at most one credit per VC and cycle: a later one waits behind the last
            at = max([t + self.rng.randint(1, 4)] + [c + 1 for c, v in self.returns
                                                      if v == out["o_vc"]])
            self.returns.append((at, out["o_vc"]))
            self.returns = collections.deque(sorted(self.returns))
        self.credits += out["i_credit"] >> self.vc & 1


def lockstep(*, mutant="none", seed=1, cycles=4000, **mutants):
    """RTL and model (node 0 of two; node 1 sees nothing) on the same script; returns
    counts of what the node did (the script must end within ``cycles``)."""
    lay = _layouts()
    dut = core(lay)
    model = NodeCores(nodes=2, layouts=lay, **PARAMS, mutant=mutant, **mutants)
    rng = random.Random(seed)
    host = Host(script(lay, random.Random(seed)), rng)
    words = model.link_in.shape[1]
    seen = collections.Counter()
    events = collections.Counter()
    mode = None                                  # the dtype of the engine's operation

    async def bench(ctx):
        nonlocal mode
        ctx.set(dut.x, XY[0])
        ctx.set(dut.y, XY[1])
        model.inputs[:, INPUTS["x"]], model.inputs[:, INPUTS["y"]] = XY
        t = 0
        while not host.done():
            assert t < cycles, f"the script did not end within {cycles} cycles"
            flit, vc, last, data, credit = host_cycle(ctx, dut, host, t)
            for name, value in (("link_valid", flit is not None), ("link_vc", vc),
                                ("link_last", last), ("credit", credit)):
                model.inputs[0, INPUTS[name]] = value
            model.link_in[0] = int_to_words(data, words)
            model.outputs_of_cycle()
            out = {"o_valid": ctx.get(dut.out_west.valid), "o_last": ctx.get(dut.out_west.last),
                   "o_vc": ctx.get(dut.out_west.vc), "o_data": ctx.get(dut.out_west.data),
                   "i_credit": ctx.get(dut.in_west.credit), "errors": ctx.get(dut.errors),
                   "busy": ctx.get(dut.busy), "overflow": ctx.get(dut.overflow)}
            mine = {name: int(model.outputs[0, i]) for name, i in OUTPUTS.items()}
            mine["o_data"] = words_to_int(model.link_out[0])
            compare(t, ((name, out[name], mine[name]) for name in out))
            s = model.sram
            seen["sent"] += out["o_valid"]
            seen["busy"] += out["busy"]
            seen["port2_both"] += int(s.rd_en[0, 2].sum() == 2)
            seen["port0_cmd_and_a"] += int(s.rd_en[0, 0, 1:].sum() == 2)
            seen["engine_writes"] += int(s.wr_grant[0, 2])
            # the RTL's events the core counts, seen on its blocks' ports
            sram, eng = dut.sram, dut.engine
            events["sram_reads"] += sum(ctx.get(c.en) & ctx.get(c.grant)
                                        for port in sram.read for c in port)
            events["sram_writes"] += sum(ctx.get(c.en) & ctx.get(c.grant) for c in sram.write)
            if ctx.get(eng.start) and ctx.get(eng.desc_ok) and not ctx.get(eng.busy):
                mode = getattr(ctx.get(eng.desc.mode), "value", ctx.get(eng.desc.mode))
            steps = ctx.get(eng.steps)
            host.edge(t, out)
            model.clock()
            # the RTL's router counters see LocalPortWire: flits to the NI leave by its
            # local port, the NI's by its west port
            model.router_flits[0, PORTS.index("local")] += flit is not None
            model.router_flits[0, PORTS.index("west")] += out["o_valid"]
            await ctx.tick()
            if ctx.get(eng.steps) == (steps + 1) & 0xFFFFFFFF:
                events["mac_steps_" + ("bf16" if mode == MacMode.BF16.value else "int8")] += 1
            compare(t, ((name, events[name], model.counters[0, i])
                        for i, name in enumerate(COUNTERS)))
            t += 1
        seen["cycles"] = t
        seen.update({name: int(model.counters[0, i]) for i, name in enumerate(COUNTERS)})
        seen["errors"] = int(model.outputs[0, OUTPUTS["errors"]])
        seen["halt_code"] = int(model.ni.cmd.queue_out[0, 0, cp.H_CODE])

    with mock.patch.object(training_node, "Router", LocalPortWire):
        simulate(dut, bench)
    return seen


def test_the_model_matches_the_rtl_every_cycle():
    seen = lockstep()
    # the script did what it is for: the engine wrote results, the DMA and the C prefetch
    # asked for port 2 in the same cycle, the command fetch and the A operand for port 0
    assert seen["engine_writes"] and seen["port2_both"] and seen["port0_cmd_and_a"], seen
    assert seen["mac_steps_bf16"] and seen["mac_steps_int8"], seen
    # the command program ran to its HALT (past both WAITs), nothing was malformed
    assert seen["halt_code"] == 7 and seen["errors"] == 0, seen


@pytest.mark.parametrize("mutants", [dict(mutant="c_prefetch_before_dma"),
                                     dict(mutant="engine_before_cmd_fetch"),
                                     dict(mutant="reads_counted_when_asked"),
                                     dict(cmd_mutant="wait_one_too_few")],
                         ids=lambda m: next(iter(m.values())))
def test_a_wrong_model_fails_the_comparison(mutants):
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(**mutants)


def test_the_wrong_models_share_the_compiled_kernels():
    """Every mutant is run-time data (a read-client table, an integer in a block's
    parameters): the normal and the wrong models run one compiled kernel each for the
    outputs and the edge, so a mutant's test does not compile the node again."""
    from sim.netmodel.node import core as core_model
    variants = [{}] + [{kind: name} for kind, table in (
        ("mutant", core_model.MUTANTS), ("ni_mutant", nim.MUTANTS),
        ("cmd_mutant", cp.MUTANTS), ("engine_mutant", en.MUTANTS),
        ("sram_mutant", sram.MUTANTS)) for name in table if name != "none"]
    for mutants in variants:
        model = NodeCores(nodes=2, layouts=_layouts(), **PARAMS, **mutants)
        model.outputs_of_cycle()
        model.clock()
    assert len(core_model._outputs_all.signatures) == 1, core_model._outputs_all.signatures
    assert len(core_model._clock_all.signatures) == 1, core_model._clock_all.signatures


def host_cycle(ctx, dut, host, t):
    """The host's flit and credit return of cycle ``t`` driven onto the node's west port;
    -> ``(flit, vc, last, data, credit)``."""
    flit = host.flit()
    vc, last, data = flit if flit else (0, 0, 0)
    credit = host.credit_back(t)
    for port, value in ((dut.in_west.valid, flit is not None), (dut.in_west.vc, vc),
                        (dut.in_west.last, last), (dut.in_west.data, data),
                        (dut.out_west.credit, credit)):
        ctx.set(port, value)
    return flit, vc, last, data, credit
