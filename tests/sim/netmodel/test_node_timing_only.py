"""The timing-only node model (``NodeCores(timing_only=True)``) against the full model.

The full model is held to the RTL by ``test_node_core`` and ``test_node_kernel``; here the
timing-only model is held to the full one on the same scenarios (their scripts and hosts,
imported), both driven by one host in lockstep (the host reacts to the full model; every
cycle compares first, so it reacts to what both did):

* the core behind its local port (``test_node_core``'s script: operands, a command program
  with LOOP, PUSH, SIGNAL, WAIT, EXEC, HALT, GEMMs in both dtypes, PUSHes racing the C
  prefetch, register and SRAM reads): every output of the port every cycle (valid, last, VC,
  credits, errors, busy, overflow), every head flit whole (DONEs, READ_RESP heads), the
  bodies of register reads (semaphores, status registers, counters as the host reads them),
  and every cycle every control register of the node: semaphores, ``errors``/``responses``/
  ``execs``, each command queue's state, code and pc, the DONE slots, the engine's cycle and
  step counters, the core's event counters;
* the row of two nodes on the node kernel (``test_node_kernel``'s row script: PUSHes,
  SIGNALs, PULLs both ways): the same, with every link register of every link (both ways)
  every cycle and the control registers of both nodes.

Body flits of other packets are payload: the timing-only model does not compute the
engine's results or ADD sums, so a READ of a result answers other values (at 64-bit flits
the control slice is the whole flit, so every other line travels whole). Timing-only
models that drop control-bearing bodies fail the comparison: WRITE bodies taken for
payload (``timing_only_drops_bodies``: the command program the host writes is lost), a
host's PUSH/EXEC descriptor taken for payload (``timing_only_drops_descriptors``). A
command program that an ADD has summed is refused, not run on a value the model lacks, on
the node that summed it and on a node that PULLed it from there.

Flits wider than 64 bits (timing-only cores on the node kernel, their control bits above
64 carried in the ring's ``w0``) are held to the RTL directly: ``test_node_kernel``'s row
lockstep at 128-bit flits with 9-bit coordinates (head fields straddle bit 64, as at D1),
and a node kernel that drops those bits fails it.
"""

import collections
import random

import pytest

from rtl.net.directions import PORTS
from rtl.net.packet import Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import engine as en
from sim.netmodel.node import ni as nim
from sim.netmodel.node import response_writer as rw
from sim.netmodel.node.core import COUNTERS, INPUTS, OUTPUTS, NodeCores
from sim.netmodel.node.fields import control_bits, layout_fields
from sim.netmodel.node.sram import int_to_words, words_to_int
from sim.netmodel.nodekernel import NodeKernel
from tests.sim.netmodel.lockstep import compare, one_worker
from tests.sim.netmodel.test_node_core import (HOST, LINES, PARAMS, PROGRAM, XY, Host,
                                               _layouts, script)
from tests.sim.netmodel.test_node_kernel import (ROW, Packets, RowHost, host_to_router,
                                                 link_registers, row_links, row_lockstep,
                                                 row_network, row_script)

# the same compiled core kernels as test_node_core and test_node_kernel
pytestmark = one_worker("core")


def control_registers(cores, n):
    """Every control register of node ``n`` that a timing-only run must reproduce, by name."""
    ni, engine = cores.ni, cores.engine
    out = {f"sem{i}": v for i, v in enumerate(ni.sems[n])}
    out.update({name: ni.regs[n, nim.REGS[name]] for name in ("errors", "responses", "execs")})
    for q in range(ni.cmd.queue_out.shape[1]):
        for f in ("state", "code", "pc"):
            out[f"queue{q} {f}"] = ni.cmd.queue_out[n, q, cp.QUEUE_OUTPUTS[f]]
    for s in range(ni.writer.slots.shape[1]):
        out[f"done slot{s} pending"] = ni.writer.slots[n, s, rw.D_PENDING]
    for f in ("cycles", "steps", "busy"):
        out[f"engine {f}"] = engine.state[n, en.STATE[f]]
    out.update({name: cores.counters[n, i] for i, name in enumerate(COUNTERS)})
    return out


def compare_modes(t, values):
    compare(t, values, labels=("full", "timing-only"))


def core_twins(*, seed=1, cycles=4000, steps=None, **mutants):
    """The core test's scenario (or the host's ``steps``) on a full and a timing-only core
    (node 0 of two)."""
    lay = _layouts()
    full = NodeCores(nodes=2, layouts=lay, **PARAMS)
    timing = NodeCores(nodes=2, layouts=lay, **PARAMS, timing_only=True, **mutants)
    steps = script(lay, random.Random(seed)) if steps is None else steps
    host = Host(steps, random.Random(seed))
    packets = Packets(lay)
    mask = (1 << control_bits(lay)) - 1
    seen = collections.Counter()
    for model in (full, timing):
        model.inputs[:, INPUTS["x"]], model.inputs[:, INPUTS["y"]] = XY
    t = 0
    while not host.done():
        assert t < cycles, f"the script did not end within {cycles} cycles"
        flit = host.flit()
        vc, last, data = flit if flit else (0, 0, 0)
        credit = host.credit_back(t)
        for model in (full, timing):
            for name, value in (("link_valid", flit is not None), ("link_vc", vc),
                                ("link_last", last), ("credit", credit)):
                model.inputs[0, INPUTS[name]] = value
            model.link_in[0] = int_to_words(data, model.words)
            model.outputs_of_cycle()
        compare_modes(t, ((name, full.outputs[0, i], timing.outputs[0, i])
                    for name, i in OUTPUTS.items()))
        out = {name: int(full.outputs[0, i]) for name, i in OUTPUTS.items()}
        sent = words_to_int(full.link_out[0])
        if packets.control(out["o_valid"], out["o_vc"], out["o_last"], sent):
            compare_modes(t, [("o_data", sent & mask, words_to_int(timing.link_out[0]) & mask)])
            seen["control flits"] += 1
        host.edge(t, out)
        for model in (full, timing):
            model.clock()
            model.router_flits[0, PORTS.index("local")] += flit is not None
            model.router_flits[0, PORTS.index("west")] += out["o_valid"]
        a, b = control_registers(full, 0), control_registers(timing, 0)
        compare_modes(t, ((name, a[name], b[name]) for name in a))
        t += 1
    seen["cycles"] = t
    seen["halt_code"] = int(full.ni.cmd.queue_out[0, 0, cp.H_CODE])
    seen["mac_steps"] = int(full.counters[0, 2] + full.counters[0, 3])
    return seen


def test_a_timing_only_core_gives_the_full_models_cycles():
    seen = core_twins()
    # the scenario ran: the program to its HALT, GEMMs, heads and register reads compared
    assert seen["halt_code"] == 7 and seen["mac_steps"] > 0, seen
    assert seen["control flits"] > 50, seen


@pytest.mark.parametrize("mutant", ["timing_only_drops_bodies", "timing_only_drops_descriptors"])
def test_a_timing_only_core_that_drops_control_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: [\w ]+: full 0x[0-9a-f]+, timing-only "):
        core_twins(mutant=mutant)


def row_twins(*, seed=2, cycles=8000, steps=None, **mutants):
    """The node kernel's row scenario (or the host's ``steps``) on a full and a timing-only
    row of cores."""
    lay = _layouts()
    cb = lay.fmt.coord_bits
    nets = [row_network(ROW) for _ in range(2)]
    rows = [NodeCores(nodes=ROW + 1, layouts=lay, **PARAMS),
            NodeCores(nodes=ROW + 1, layouts=lay, **PARAMS, timing_only=True, **mutants)]
    kernels = [NodeKernel(net, cores, active=range(1, ROW + 1), coord_bits=cb)
               for net, cores in zip(nets, rows)]
    steps = row_script(lay, random.Random(seed)) if steps is None else steps
    host = RowHost(steps, random.Random(seed))
    links = row_links(ROW)
    packets = {name: Packets(lay) for name, _, _ in links}
    mask = (1 << control_bits(lay)) - 1
    seen = collections.Counter()
    dst = [None, None]
    t = 0
    while not host.done():
        assert t < cycles, f"the script did not end within {cycles} cycles"
        flit = host.flit()
        credit = host.credit_back(t)
        for i, net in enumerate(nets):
            dst[i] = host_to_router(net, t, flit, credit, dst[i], cb)
        for name, fr, cr in links:
            a, b = (link_registers(net, t, fr, cr) for net in nets)
            compare_modes(t, ((f"{name} {f}", a[f], b[f]) for f in ("valid", "last", "vc",
                                                                     "credit")))
            if packets[name].control(a["valid"], a["vc"], a["last"], a["data"]):
                compare_modes(t, [(f"{name} data", a["data"] & mask, b["data"] & mask)])
                seen["control flits"] += 1
            seen[name] += a["valid"]
        to_host = link_registers(nets[0], t, *links[1][1:])
        from_host = link_registers(nets[0], t, *links[0][1:])
        host.edge(t, {"o_valid": to_host["valid"], "o_vc": to_host["vc"],
                      "i_credit": from_host["credit"]})
        for k in kernels:
            k.run(1)
        for n in range(1, ROW + 1):
            a, b = (control_registers(cores, n) for cores in rows)
            compare_modes(t, ((f"node {n} {name}", a[name], b[name]) for name in a))
        t += 1
    seen["cycles"] = t
    for n in range(1, ROW + 1):
        seen[f"halt{n}"] = int(rows[0].ni.cmd.queue_out[n, 0, cp.H_CODE])
    return seen


@pytest.mark.slow
def test_a_timing_only_row_gives_the_full_models_cycles_on_every_link():
    seen = row_twins()
    assert seen["(1, 0) -> (2, 0)"] > 200 and seen["(2, 0) -> (1, 0)"] > 200, seen
    assert (seen["halt1"], seen["halt2"]) == (7, 5), seen


@pytest.mark.slow
def test_a_timing_only_row_that_drops_bodies_fails_the_link_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: .*: full 0x[0-9a-f]+, timing-only "):
        row_twins(mutant="timing_only_drops_bodies")


def test_a_program_computed_by_an_add_is_reported_not_run():
    """The one path where a computed value decides timing: a command program whose line an
    ADD has summed (zeros here, so the full model runs the same program). The timing-only
    model does not compute sums; it marks the line and refuses the fetch."""
    lay = _layouts()
    program = lay.cmd("HALT", code=3)

    def packet(op, addr, lines, **info):
        head = lay.fmt.encode_head(dst=XY, src=HOST, opcode=op, length=1 + len(lines),
                                   info=lay.encode("store_info", addr=addr, **info))
        return [head] + lines

    steps = [packet(Opcode.WRITE, PROGRAM, program, tag=1),
             packet(Opcode.ADD, PROGRAM, [0] * len(program), tag=2),
             packet(Opcode.WRITE, lay.reg_base + lay.registers.index("cmd_ctrl"),
                    [lay.encode("cmd_ctrl", start=1, pc0=PROGRAM)], tag=3), 40]
    with pytest.raises(RuntimeError, match=r"^node 0: a command queue fetched a descriptor "
                                           r"computed by the matrix engine or by an ADD"):
        core_twins(steps=steps)


@pytest.mark.slow
def test_a_timing_only_row_of_128_bit_flits_matches_the_rtl_on_every_link():
    """Flits wider than 64 bits on the node kernel (timing only: the control bits above 64
    ride in the ring's ``w0``): the row against the RTL at 128-bit flits, every link's
    valid, last, VC and credit every cycle and every head's control bits. With 9-bit
    coordinates the head's info fields straddle bit 64, as at the D1 preset: a store's
    ``ack``, ``sem_inc`` and ``sem``, a READ's ``count``, a response's address."""
    seen = row_lockstep(lay=wide_layouts(), timing_only=True)
    assert seen["(1, 0) -> (2, 0)"] > 200 and seen["(2, 0) -> (1, 0)"] > 200, seen
    assert (seen["halt1"], seen["halt2"], seen["errors"]) == (7, 5, 0), seen


def wide_layouts():
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=128, coord_bits=9), lines=LINES, sems=4)
    info = layout_fields(lay.fmt.head, ("info",))[0]
    assert info + layout_fields(lay.store_info, ("sem_inc",))[0] >= 64
    return lay


@pytest.mark.slow
def test_a_node_kernel_that_drops_the_high_bits_fails_the_link_comparison():
    with pytest.raises(AssertionError, match=r"^cycle \d+: .* -> .*: RTL 0x[0-9a-f]+, model "):
        row_lockstep(lay=wide_layouts(), timing_only=True, nk_mutant="high_bits_dropped")


@pytest.mark.slow
def test_a_program_pulled_from_a_sum_on_another_node_is_reported_not_run():
    """The mark of an uncomputed value travels: node 1's line is an ADD's sum (of zeros onto
    a HALT), node 2's program PULLs it into the line after its WAIT and so fetches it next.
    The full model runs it (node 2 halts with its code); the timing-only model refuses."""
    lay = _layouts()
    L, halt = lay.cmd_lines, lay.cmd("HALT", code=3)
    source, n2 = 100, (2, 0)

    def packet(dst, op, addr, lines, **info):
        head = lay.fmt.encode_head(dst=dst, src=(0, 0), opcode=op, length=1 + len(lines),
                                   info=lay.encode("store_info", addr=addr, **info))
        return [head] + lines

    program = [line for d in (
        lay.cmd("PULL", src_x=1, src_y=0, src_addr=source, count=L,
                dst_addr=PROGRAM + 2 * L, sem=1),
        lay.cmd("WAIT", sem=1, n=1)) for line in d]
    steps = [packet((1, 0), Opcode.WRITE, source, halt, tag=1),
             packet((1, 0), Opcode.ADD, source, [0] * L, tag=2),
             packet(n2, Opcode.WRITE, PROGRAM, program, tag=3),
             packet(n2, Opcode.WRITE, lay.reg_base + lay.registers.index("cmd_ctrl"),
                    [lay.encode("cmd_ctrl", start=1, pc0=PROGRAM)], tag=4), 100]
    with pytest.raises(RuntimeError, match=r"^node 2: a command queue fetched a descriptor "
                                           r"computed by the matrix engine or by an ADD"):
        row_twins(steps=steps)


def test_timing_only_shares_the_compiled_kernels():
    """The mode is run-time data: the full and the timing-only core run one compiled kernel
    for the outputs and one for the edge (no second compile)."""
    from sim.netmodel.node import core as core_model
    for timing_only in (False, True):
        model = NodeCores(nodes=2, layouts=_layouts(), **PARAMS, timing_only=timing_only)
        model.outputs_of_cycle()
        model.clock()
    assert len(core_model._outputs_all.signatures) == 1, core_model._outputs_all.signatures
    assert len(core_model._clock_all.signatures) == 1, core_model._clock_all.signatures
