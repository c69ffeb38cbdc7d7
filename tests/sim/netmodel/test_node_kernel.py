# amaranth: UnusedElaboratable=no
"""The node kernel (sim.netmodel.nodekernel: training nodes' cores on the network kernel's
routers) against the RTL.

A 2x1 mesh: router 1 with its training node is stepped by the node kernel; the host of
``test_node_core`` takes the place of router 0, writing router 1's west input (flit ring
``6*1 + 4``) within the router's credits and reading router 1's west output (ring
``6*0 + 2``, router 0's east input), returning its credits a few cycles late. The RTL
reference is :class:`rtl.node.training_node.TrainingNode` at (1, 0) with its own router
(``NodeRow(nodes=1, x0=1)`` is that node with its west port exposed and every other port
tied off), the same host driving ``in_west``. The host's script is ``test_node_core``'s:
operands, a command program (its PUSHes go to the host, its SIGNAL to the node itself
through its router's local port both ways), GEMMs, PUSHes to the host, and at the end
READs of every register (the router's flit counters among them) and every SRAM line.
Every output of the west port is compared every cycle; the last READs compare the SRAM,
the semaphores and the status registers. (PUSHes of a node to itself while its host keeps
sending deadlock the RTL and the model alike: the script does not.)
"""

import collections
import random
from unittest import mock

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from gen.config import load_config
from gen.derive import derive
from rtl.node.training_node import TrainingNode
from sim.netmodel import kernel
from sim.netmodel.network import NetworkModel
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import core as core_model
from sim.netmodel.node.core import NodeCores
from sim.netmodel import nodekernel
from sim.netmodel.nodekernel import NodeKernel
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from rtl.net.link import LinkSignature
from rtl.net.packet import MsgClass, Opcode
from rtl.node.sram import Scratchpad
from tests.sim.netmodel.test_node_core import (LINES, PARAMS, PROGRAM, Host, _layouts, host_cycle,
                                             script)

pytestmark = one_worker("core")

XY, HOST = (1, 0), (0, 0)
WEST_IN, WEST_OUT = 6 * 1 + 4, 6 * 0 + 2       # router 1's west input ring, its output's


class RowHost(Host):
    """The core test's host, returning at most one credit a cycle (a neighbouring router
    returns one VC's credit a cycle)."""

    def edge(self, t, out):
        if out["o_valid"]:
            at = max([t + self.rng.randint(1, 4)] + [c + 1 for c, v in self.returns])
            self.returns.append((at, out["o_vc"]))
        self.credits += out["i_credit"] >> self.vc & 1


def network():
    cfg = load_config("configs/default.yaml", [
        "tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=2", "die.nodes_y=1",
        f"router.vcs={PARAMS['vcs']}", f"router.buffer_depth={PARAMS['buffer_depth']}",
        "router.routing=xy"])
    return NetworkModel(cfg, derive(cfg))


def lockstep(*, seed=1, cycles=5000, nk_mutant="none", **mutants):
    lay = _layouts()
    cb = lay.fmt.coord_bits
    dut = TrainingNode(layouts=lay, routing="xy", **PARAMS)
    net = network()
    cores = NodeCores(nodes=2, layouts=lay, **PARAMS, **mutants)
    nodes = NodeKernel(net, cores, active=[1], coord_bits=cb, mutant=nk_mutant)
    rng = random.Random(seed)
    host = RowHost(script(lay, random.Random(seed), xy=XY, host=HOST,
                          far=(HOST, HOST, XY), near=HOST), rng)
    ring = net.state[kernel.ST_RING].reshape(-1, 3)
    cring = net.state[kernel.ST_CRING].reshape(-1, 2)
    S, R = net.slots, net.R
    stg_in = int(net.geometry[kernel.GEO_RING_STG][WEST_IN])
    cstg_in = int(net.geometry[kernel.GEO_CRING_STG][WEST_IN])
    pend = net.O[kernel.PEND]
    seen = collections.Counter()
    dst = None

    def slot(tag):
        return tag & (S - 1)

    async def bench(ctx):
        nonlocal dst
        ctx.set(dut.x, XY[0])
        ctx.set(dut.y, XY[1])
        t = 0
        while not host.done():
            assert t < cycles, f"the script did not end within {cycles} cycles"
            flit, vc, last, data, credit = host_cycle(ctx, dut, host, t)
            # the host's registers of cycle t on router 1's west input and credit rings
            if flit:
                if dst is None:
                    dst = (data & (1 << cb) - 1) | ((data >> cb) & (1 << cb) - 1) << 12
                w0 = dst | last << 57 | vc << 58
                dst = None if last else dst
                k = WEST_IN * S + slot(t + stg_in)
                ring[k] = (t + stg_in, w0, data - (1 << 64) if data >> 63 else data)
                R[1, pend] += 1
            if credit:
                assert credit & (credit - 1) == 0, "one credit a cycle"
                k = WEST_IN * S + slot(t + cstg_in)
                cring[k] = (t + cstg_in, credit.bit_length() - 1)
                R[1, pend] += 1
            # the router's west output and credit of cycle t (written in step t - 1)
            k = WEST_OUT * S + slot(t)
            valid = int(ring[k, 0] == t)
            w0 = int(ring[k, 1])
            ck = WEST_OUT * S + slot(t)
            mine = {"o_valid": valid, "o_last": kernel_last(w0) if valid else 0,
                    "o_vc": (w0 >> 58) & 7 if valid else 0,
                    "o_data": int(ring[k, 2]) & ((1 << 64) - 1) if valid else 0,
                    "i_credit": 1 << int(cring[ck, 1]) if cring[ck, 0] == t else 0,
                    "errors": int(cores.outputs[1, core_model.OUTPUTS["errors"]])}
            out = {"o_valid": ctx.get(dut.out_west.valid),
                   "i_credit": ctx.get(dut.in_west.credit), "errors": ctx.get(dut.errors)}
            out["o_last"] = ctx.get(dut.out_west.last) if out["o_valid"] else 0
            out["o_vc"] = ctx.get(dut.out_west.vc) if out["o_valid"] else 0
            out["o_data"] = ctx.get(dut.out_west.data) if out["o_valid"] else 0
            if t:       # the model's errors output is that of the step before
                compare(t, ((f"west {name}", out[name], mine[name]) for name in out))
            seen["sent"] += out["o_valid"]
            host.edge(t, out)
            nodes.run(1)
            await ctx.tick()
            t += 1
        seen["cycles"] = t
        seen["flits_local"] = int(R[1, net.O[kernel.FL0]])
        seen["halt_code"] = int(cores.ni.cmd.queue_out[1, 0, cp.H_CODE])
        seen["errors"] = int(cores.outputs[1, core_model.OUTPUTS["errors"]])
        seen["double_credits"] = int(nodes.ns[1, nodekernel.N_DOUBLES])

    simulate(dut, bench)
    return seen


def kernel_last(w0):
    return (w0 >> 57) & 1


@pytest.mark.slow
@pytest.mark.quick
def test_a_node_on_the_network_kernel_matches_the_rtl_every_cycle():
    seen = lockstep()
    # the script did what it is for: flits crossed the router's local port, the command
    # program ran to its HALT (past its WAITs), nothing was malformed
    assert seen["flits_local"] > 100 and seen["sent"] > 100, seen
    assert seen["halt_code"] == 7 and seen["errors"] == 0, seen


@pytest.mark.slow
@pytest.mark.parametrize("mutants", [dict(nk_mutant="router_flits_one_cycle_early"),
                                     dict(mutant="c_prefetch_before_dma"),
                                     dict(cmd_mutant="wait_one_too_few")],
                         ids=lambda m: next(iter(m.values())))
def test_a_wrong_node_kernel_fails_the_comparison(mutants):
    with pytest.raises(AssertionError, match=r"^cycle \d+: west \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(**mutants)


def test_the_wrong_node_kernels_share_the_compiled_kernel():
    """A node kernel's mutant is run-time data: every variant runs one compiled kernel."""
    lay = _layouts()
    for name in nodekernel.MUTANTS:
        cores = NodeCores(nodes=2, layouts=lay, **PARAMS)
        NodeKernel(network(), cores, active=[1], coord_bits=lay.fmt.coord_bits,
                   mutant=name).run(3)
    assert len(nodekernel.run.signatures) == 1, nodekernel.run.signatures


# ---------------------------------------------------------------- a row of nodes

ROW = 2                      # nodes at (1, 0) .. (ROW, 0); the host at (0, 0)


class Row(wiring.Component):
    """``nodes`` TrainingNodes at (1, 0) ... joined east-west, the first one's west port
    exposed, every other port tied off: :class:`rtl.node.training_node.NodeRow` without
    its module library (the nodes are plain submodules, so the test reaches their links)."""

    def __init__(self, lay, nodes):
        self.nodes = [TrainingNode(layouts=lay, routing="xy", **PARAMS) for _ in range(nodes)]
        link = LinkSignature(flit_bits=lay.fmt.flit_bits, vcs=PARAMS["vcs"])
        super().__init__({"in_west": In(link), "out_west": Out(link), "errors": Out(32)})
        self._cb = lay.fmt.coord_bits

    def elaborate(self, platform):
        m = Module()
        nodes = self.nodes
        for i, node in enumerate(nodes):
            m.submodules[f"node{i + 1}"] = node
            m.d.comb += [node.x.eq(i + 1), node.y.eq(0)]
        wiring.connect(m, wiring.flipped(self.in_west), nodes[0].in_west)
        wiring.connect(m, nodes[0].out_west, wiring.flipped(self.out_west))
        for a, b in zip(nodes, nodes[1:]):
            wiring.connect(m, a.out_east, b.in_west)
            wiring.connect(m, b.out_west, a.in_east)
        for i, node in enumerate(nodes):
            for d in ["north", "south"] + (["east"] if i == len(nodes) - 1 else []):
                inp, out = getattr(node, f"in_{d}"), getattr(node, f"out_{d}")
                m.d.comb += [inp.valid.eq(0), inp.last.eq(0), inp.vc.eq(0), inp.data.eq(0),
                             out.credit.eq(0)]
        m.d.comb += self.errors.eq(sum(n.errors for n in nodes)[:32])
        return m


def row_script(lay, rng, *, readback=False):
    """The host's script for the row: node 2's program (PULLs of node 1's lines in a loop,
    then a HALT) started first; then node 1's script of ``test_node_core`` (its program's
    PUSHes and SIGNAL go to node 2) with a WRITE to node 2 after every packet (so node 2's
    parser and pull writer take flits in the same cycles) and a READ of five of its lines;
    then READs of node 2's registers (and its lines if ``readback``: the test compares
    every node's SRAM at the end directly, so that a wrong line is named by its node and
    address)."""
    fmt, most, n2 = lay.fmt, PARAMS["max_packet_flits"] - 1, (2, 0)
    tags = iter(range(1, 1 << 16))

    def head(op, length, info):
        return fmt.encode_head(dst=n2, src=HOST, opcode=op, length=length, info=info)

    def write(addr, lines, **info):
        return [[head(Opcode.WRITE, 1 + len(lines),
                      lay.encode("store_info", addr=addr, tag=next(tags) & 0xFF, **info))]
                + lines]

    def read(addr, count):
        return [[head(Opcode.READ, 1, lay.encode("read_info", addr=addr, count=count,
                                                  tag=next(tags) & 0xFF))]]

    program = [lay.cmd("LOOP", count=6, body=2),
               lay.cmd("PULL", src_x=1, src_y=0, src_addr=0, count=4, dst_addr=64, sem=1,
                       src_step=4, dst_step=4),
               lay.cmd("WAIT", sem=1, n=1),
               lay.cmd("WAIT", sem=2, n=2),
               lay.cmd("HALT", code=5)]
    program = [line for d in program for line in d]
    steps = []
    for i in range(0, len(program), most):
        steps += write(PROGRAM + i, program[i:i + most])
    reg = lambda name: lay.reg_base + lay.registers.index(name)
    first = script(lay, random.Random(rng.getrandbits(32)), xy=XY, host=HOST,
                   far=(n2, HOST, n2), near=HOST)
    values = random.Random(rng.getrandbits(32))
    for k, step in enumerate(first):
        steps.append(step)
        if not isinstance(step, int):
            steps += write(16 + k % 40, [values.getrandbits(fmt.flit_bits)]) + read(k % 40, 5)
        if k == 3:      # node 1's operands are in: node 2 starts pulling them
            steps += write(reg("cmd_ctrl"), [lay.encode("cmd_ctrl", start=1, pc0=PROGRAM)])
    for first in range(0, len(lay.registers), most):
        steps += read(reg(lay.registers[first]), min(most, len(lay.registers) - first))
    for addr in range(0, LINES if readback else 0, most):
        steps += read(addr, min(most, LINES - addr))
    return steps + [40]


def row_network(nodes):
    cfg = load_config("configs/default.yaml", [
        "tile.dies_x=1", "tile.dies_y=1", f"die.nodes_x={nodes + 1}", "die.nodes_y=1",
        f"router.vcs={PARAMS['vcs']}", f"router.buffer_depth={PARAMS['buffer_depth']}",
        "router.routing=xy"])
    return NetworkModel(cfg, derive(cfg))


def row_links(nodes):
    """``(name, flit ring, credit ring)`` of every link of the row, both directions: the
    host's to (1, 0) and back, then each pair of neighbours'."""
    links = [("host -> (1, 0)", 6 * 1 + 4, 6 * 0 + 2), ("(1, 0) -> host", 6 * 0 + 2, 6 * 1 + 4)]
    for i in range(1, nodes):
        links += [(f"({i}, 0) -> ({i + 1}, 0)", 6 * (i + 1) + 4, 6 * i + 2),
                  (f"({i + 1}, 0) -> ({i}, 0)", 6 * i + 2, 6 * (i + 1) + 4)]
    return links


def host_to_router(net, t, flit, credit, dst, cb):
    """The host's flit and credit of cycle ``t`` (``host_cycle``'s) as the registers of
    router 1's west input and credit rings; ``dst``: the destination of the host's packet
    under way (None between packets), returned for the next flit. A flit's bits 64.. go
    where the node kernel carries a timing-only flit's (``nodekernel.W0_HIGH``)."""
    ring = net.state[kernel.ST_RING].reshape(-1, 3)
    cring = net.state[kernel.ST_CRING].reshape(-1, 2)
    S, R, pend = net.slots, net.R, net.O[kernel.PEND]
    if flit:
        vc, last, data = flit
        if dst is None:
            dst = (data & (1 << cb) - 1) | ((data >> cb) & (1 << cb) - 1) << 12
        high = (data >> 64) & ((1 << nodekernel.W0_HIGH_BITS) - 1)
        w0 = dst | high << nodekernel.W0_HIGH | last << 57 | vc << 58
        dst = None if last else dst
        low = data & ((1 << 64) - 1)
        ring[(6 * 1 + 4) * S + (t & (S - 1))] = (t, w0, low - (low >> 63 << 64))
        R[1, pend] += 1
    if credit:
        assert credit & (credit - 1) == 0, "one credit a cycle"
        cring[(6 * 1 + 4) * S + (t & (S - 1))] = (t, credit.bit_length() - 1)
        R[1, pend] += 1
    return dst


def link_registers(net, t, flit_ring, credit_ring):
    """A link's registers in cycle ``t`` on the model's rings: valid, last, VC, the flit
    (zero when not valid; bits 64.. from where a timing-only flit carries them) and the
    credit pulse (one bit per VC)."""
    ring = net.state[kernel.ST_RING].reshape(-1, 3)
    cring = net.state[kernel.ST_CRING].reshape(-1, 2)
    S = net.slots
    k, ck = flit_ring * S + (t & (S - 1)), credit_ring * S + (t & (S - 1))
    valid = int(ring[k, 0] == t)
    w0 = int(ring[k, 1])
    return {"valid": valid, "last": (w0 >> 57) & 1 if valid else 0,
            "vc": (w0 >> 58) & 7 if valid else 0,
            "data": (int(ring[k, 2]) & ((1 << 64) - 1)
                     | ((w0 >> nodekernel.W0_HIGH) & ((1 << nodekernel.W0_HIGH_BITS) - 1))
                     << 64) if valid else 0,
            "credit": 1 << int(cring[ck, 1]) if cring[ck, 0] == t else 0}


class Packets:
    """Which flits of a link are control for a timing-only model: heads, and the answers
    of READs of the register space (from the flits in order, per VC)."""

    def __init__(self, lay):
        self.lay, self.open = lay, {}

    def control(self, valid, vc, last, flit):
        """Is this cycle's flit control (a head, or a register read's answer)?"""
        if not valid:
            return False
        kind = self.open.get(vc)
        if kind is None:
            head = self.lay.fmt.decode_head(flit)
            reg = (head["opcode"] == Opcode.READ_RESP and head["mclass"] == MsgClass.RESPONSE
                   and self.lay.decode("resp_info", head["info"])["addr"]
                   >= self.lay.reg_base)
            kind = "registers" if reg else "head"
        self.open[vc] = None if last else ("registers" if kind == "registers" else "body")
        return kind in ("head", "registers")


def row_lockstep(*, seed=2, cycles=8000, nk_mutant="none", lay=None, timing_only=False,
                 **mutants):
    """The row of :data:`ROW` nodes, RTL and node kernel: every link's registers (flit and
    credit, both directions) compared every cycle. ``lay``: the nodes' layouts
    (``_layouts()`` by default); ``timing_only``: timing-only cores, whose flits are
    compared on valid, last, VC and credit and, for heads and register answers
    (:class:`Packets`), on their control bits (bodies carry values they do not compute),
    and whose SRAM is not compared."""
    lay = lay or _layouts()
    cb = lay.fmt.coord_bits
    dut = Row(lay, ROW)
    net = row_network(ROW)
    cores = NodeCores(nodes=ROW + 1, layouts=lay, **PARAMS, timing_only=timing_only,
                      **mutants)
    packets = collections.defaultdict(lambda: Packets(lay))
    control = (1 << cores.control_bits) - 1
    nodes = NodeKernel(net, cores, active=range(1, ROW + 1), coord_bits=cb, mutant=nk_mutant)
    rng = random.Random(seed)
    host = RowHost(row_script(lay, random.Random(seed)), rng)
    # (name, RTL sender's output link, RTL receiver's input link, flit ring, credit ring)
    ports = [(dut.in_west, dut.nodes[0].in_west), (dut.nodes[0].out_west, dut.out_west)]
    for i in range(1, ROW):
        a, b = dut.nodes[i - 1], dut.nodes[i]
        ports += [(a.out_east, b.in_west), (b.out_west, a.in_east)]
    links = [(name, out, inp, fr, cr)
             for (name, fr, cr), (out, inp) in zip(row_links(ROW), ports)]
    seen = collections.Counter()
    dst = None

    async def bench(ctx):
        nonlocal dst
        t = 0
        while not host.done():
            assert t < cycles, f"the script did not end within {cycles} cycles"
            flit, vc, last, data, credit = host_cycle(ctx, dut, host, t)
            dst = host_to_router(net, t, flit, credit, dst, cb)
            for name, out, inp, fr, cr in links:
                mine = link_registers(net, t, fr, cr)
                theirs = {"valid": ctx.get(out.valid), "credit": ctx.get(inp.credit)}
                for f in ("last", "vc", "data"):
                    theirs[f] = ctx.get(getattr(out, f)) if theirs["valid"] else 0
                if timing_only:
                    if packets[name].control(*(theirs[f] for f in ("valid", "vc", "last",
                                                                   "data"))):
                        theirs["data"] &= control
                        mine["data"] &= control
                    else:
                        theirs["data"] = mine["data"] = 0
                compare(t, ((f"{name} {f}", theirs[f], mine[f]) for f in theirs))
                seen[name] += theirs["valid"]
            out = {"o_valid": ctx.get(dut.out_west.valid), "o_vc": ctx.get(dut.out_west.vc),
                   "i_credit": ctx.get(dut.in_west.credit)}
            host.edge(t, out)
            nodes.run(1)
            await ctx.tick()
            t += 1
        seen["cycles"] = t
        for n in range(1, ROW + 1):
            seen[f"halt{n}"] = int(cores.ni.cmd.queue_out[n, 0, cp.H_CODE])
            seen[f"double_credits{n}"] = int(nodes.ns[n, nodekernel.N_DOUBLES])
        seen["errors"] = int(cores.outputs[1:, core_model.OUTPUTS["errors"]].sum())
        # every node's SRAM, line by line
        for i, node in enumerate(dut.nodes if not timing_only else ()):
            mem, = node.sram.memories
            for addr in range(LINES):
                rtl, model = ctx.get(mem.data[addr]), cores.line(i + 1, addr)
                if rtl != model:
                    raise AssertionError(f"end (cycle {t}): node ({i + 1}, 0) SRAM line "
                                         f"{addr}: RTL {rtl:#x}, model {model:#x}")

    with mock.patch.object(Scratchpad, "elaborate", _keep_memories):
        simulate(dut, bench)
    return seen


_elaborate = Scratchpad.elaborate


def _keep_memories(self, platform):
    """Scratchpad.elaborate, its memories kept as ``memories`` (for the end's comparison)."""
    m = _elaborate(self, platform)
    self.memories = [mem[0] if isinstance(mem, tuple) else mem
                     for name, mem in sorted(m._named_submodules.items())
                     if name.startswith("mem")]
    return m


@pytest.mark.slow
def test_a_row_of_nodes_on_the_network_kernel_matches_the_rtl_on_every_link():
    seen = row_lockstep()
    # node-to-node traffic both ways (node 1's PUSHes and SIGNAL, node 2's PULLs and
    # their answers), both programs at their HALT, nothing malformed
    assert seen["(1, 0) -> (2, 0)"] > 200 and seen["(2, 0) -> (1, 0)"] > 200, seen
    assert (seen["halt1"], seen["halt2"], seen["errors"]) == (7, 5, 0), seen


@pytest.mark.slow
@pytest.mark.parametrize("mutants", [dict(nk_mutant="router_flits_one_cycle_early"),
                                     dict(cmd_mutant="wait_one_too_few")],
                         ids=lambda m: next(iter(m.values())))
def test_a_wrong_row_fails_the_link_comparison(mutants):
    with pytest.raises(AssertionError, match=r"^cycle \d+: .* -> .*: RTL 0x[0-9a-f]+, model "):
        row_lockstep(**mutants)


@pytest.mark.slow
def test_a_wrong_row_fails_the_sram_comparison():
    """A PULL's lines corrupted on their way into node 2 (the timing unchanged) are found
    at the end, by node and address."""
    with pytest.raises(AssertionError, match=r"^end \(cycle \d+\): node \(2, 0\) SRAM line "
                                             r"\d+: RTL 0x[0-9a-f]+, model 0x[0-9a-f]+$"):
        row_lockstep(nk_mutant="response_body_bit_flipped")
