"""cocotb: the command processor of training nodes (``rtl/node/command_processor.py``).

The design is a row of compute nodes (as for :mod:`verif.tb_node`; the host at
``(0, 0)`` on the first node's west port). The host writes programs into the nodes'
SRAM, starts them with one write of ``cmd_ctrl`` and waits for their DONEs; every
effect is then read back and compared with what the program must have done.

Tests: ``descriptors`` (every descriptor type, a loop with address steps),
``pull`` (remote blocks read into the local SRAM, one PULL and a stepped loop of them),
``queues_overlap`` (a transfer loop on one queue while the other runs a GEMM),
``semaphores`` (signals before the wait, many signals, a partial take),
``malformed`` (each kind of bad descriptor stops its own queue only),
``abort`` (a WAIT that can never be satisfied is visible, aborted, restarted).
"""

import random

import cocotb
import numpy as np

from verif import golden
from verif.node_model import CmdError, CmdState, NodeModel
from verif.tb_common import write_result
from verif.tb_node import NodeTB

PROGRAM = 400           # programs live here; data below


async def _tb(dut, seed):
    tb = NodeTB(dut, seed=seed)
    await tb.start()
    return tb


async def _run(tb, node, programs):
    """Write ``{queue: (pc, descriptors)}`` into ``node``, start them, wait for every DONE;
    returns ``{queue: (DONE tag, cycle it arrived)}``."""
    mdl, host = tb.model, tb.hm
    for pc, descs in programs.values():
        await tb.store(node, pc, mdl.program(descs))
    t0 = tb.bench.cycle
    await host.start_program(node, {q: pc for q, (pc, _) in programs.items()})
    out = {}
    for q in programs:
        done = await host.wait_halt(node, q)
        out[q] = (done["tag"], tb.bench.cycle - t0)
    return out


def _check(tb, name, info):
    problems = tb.problems()
    write_result(name, {**info, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def descriptors(dut):
    """PUSH, SIGNAL, LOOP with steps, EXEC, WAIT (one signal before, one after), HALT."""
    tb = await _tb(dut, 1)
    mdl, host = tb.model, tb.hm
    a_node, b_node = tb.nodes[0], tb.nodes[1]
    rng = random.Random(2)
    block = [rng.getrandbits(mdl.width) for _ in range(6)]
    await tb.store(a_node, 0, block)
    nrng = np.random.default_rng(3)
    p = mdl.p
    a, b, _ = (nrng.integers(-128, 128, (p, 2 * p)).astype(np.int8),
               nrng.integers(-128, 128, (2 * p, p)).astype(np.int8), None)
    lay = await host.load_gemm(a_node, a, b, None, "int8", base=64)
    sems0 = await tb.regs(b_node, "sem0", 3)
    await tb.store(a_node, 0, [], sem=3)                 # a signal before the WAIT
    prog = [mdl.cmd_push(src_addr=0, count=6, to=b_node, dst_addr=100, sem=0),
            mdl.cmd_signal(b_node, 1),
            mdl.cmd_loop(3, 1),
            mdl.cmd_push(src_addr=0, count=2, to=b_node, dst_addr=200, sem=2, src_step=2,
                         dst_step=3),
            mdl.cmd_exec(m=p, n=p, k=2 * p, dtype="int8", a_addr=lay["a"], b_addr=lay["b"],
                         c_addr=lay["c"]),
            mdl.cmd_wait(3, 2),
            mdl.cmd_halt(42)]
    for pc, descs in {0: (PROGRAM, prog)}.values():
        await tb.store(a_node, pc, mdl.program(descs))
    await host.start_program(a_node, {0: PROGRAM})
    await tb.store(a_node, 0, [], sem=3)                 # ... and one after
    done = await host.wait_halt(a_node, 0)
    assert done["tag"] == 42, done
    st = await host.queue_status(a_node, 0)
    assert st == {"state": CmdState.HALTED, "code": 42, "pc": PROGRAM + 6 * mdl.cmd_lines}, st
    assert await tb.read(b_node, 100, 6) == block
    for i in range(3):
        assert await tb.read(b_node, 200 + 3 * i, 2) == block[2 * i:2 * i + 2], f"iteration {i}"
    sems = await tb.regs(b_node, "sem0", 3)
    assert [s - s0 for s, s0 in zip(sems, sems0)] == [1, 1, 3], sems
    assert await tb.reg(a_node, "sem3") == 0, "WAIT did not take its 2"
    c = mdl.unpack_c(await tb.read(a_node, lay["c"], lay["c_lines"]), p, p)
    assert np.array_equal(c, NodeModel.golden(a, b, None, "int8")), "EXEC result"
    _check(tb, "descriptors", {"descriptors": len(prog)})


@cocotb.test()
async def pull(dut):
    """PULL a block of several READs from the peer, then a loop of stepped PULLs (each
    waits for the one before); the local semaphore counts them."""
    tb = await _tb(dut, 11)
    mdl, host = tb.model, tb.hm
    node, peer = tb.nodes[0], tb.nodes[1]
    rng = random.Random(12)
    block = [rng.getrandbits(mdl.width) for _ in range(20)]
    await tb.store(peer, 300, block)
    guard = [rng.getrandbits(mdl.width) for _ in range(12)]
    await tb.store(node, 98, guard)
    prog = [mdl.cmd_pull(src=peer, src_addr=300, count=20, dst_addr=50, sem=5),
            mdl.cmd_wait(5, 1),
            mdl.cmd_loop(2, 1),
            mdl.cmd_pull(src=peer, src_addr=300, count=3, dst_addr=100, sem=5, src_step=3,
                         dst_step=4),
            mdl.cmd_wait(5, 2),
            mdl.cmd_halt(5)]
    res = await _run(tb, node, {0: (PROGRAM, prog)})
    assert res[0][0] == 5, res
    assert await tb.read(node, 50, 20) == block
    got = await tb.read(node, 98, 12)
    expected = guard[:2] + block[0:3] + guard[5:6] + block[3:6] + guard[9:]
    assert got == expected, "stepped PULLs"
    assert await tb.reg(node, "sem5") == 0
    _check(tb, "pull", {"lines": 26, "cycles": res[0][1]})


@cocotb.test()
async def queues_overlap(dut):
    """Queue 0 pushes blocks while queue 1 runs a GEMM: together faster than one after
    the other, both correct."""
    tb = await _tb(dut, 3)
    mdl, host = tb.model, tb.hm
    node, peer = tb.nodes[0], tb.nodes[1]
    p = mdl.p
    nrng = np.random.default_rng(4)
    m, n, k = 2 * p, 2 * p, 8 * p
    a = golden.interesting_bf16(nrng, m * k).reshape(m, k)
    b = (nrng.integers(0x3C00, 0x4100, (k, n)) | (nrng.integers(0, 2, (k, n)) << 15)).astype(
        np.uint16)
    lay = await host.load_gemm(node, a, b, None, "bf16", base=128)
    block = [random.Random(5).getrandbits(mdl.width) for _ in range(7)]
    await tb.store(node, 0, block)
    comm = [mdl.cmd_loop(8, 1),
            mdl.cmd_push(src_addr=0, count=7, to=peer, dst_addr=20, dst_step=7, sem=0),
            mdl.cmd_halt(1)]
    compute = [mdl.cmd_exec(m=m, n=n, k=k, dtype="bf16", a_addr=lay["a"], b_addr=lay["b"],
                            c_addr=lay["c"]), mdl.cmd_halt(2)]
    alone_comm = await _run(tb, node, {0: (PROGRAM, comm)})
    alone_exec = await _run(tb, node, {1: (PROGRAM + 40, compute)})
    both = await _run(tb, node, {0: (PROGRAM, comm), 1: (PROGRAM + 40, compute)})
    assert both[0][0] == 1 and both[1][0] == 2, both
    together = max(both[0][1], both[1][1])
    apart = alone_comm[0][1] + alone_exec[1][1]
    assert together < apart, (together, apart)
    for i in range(8):
        assert await tb.read(peer, 20 + 7 * i, 7) == block, f"block {i}"
    c = mdl.unpack_c(await tb.read(node, lay["c"], lay["c_lines"]), m, n)
    assert np.array_equal(c, NodeModel.golden(a, b, None, "bf16")), "EXEC result"
    _check(tb, "queues_overlap", {"comm_alone": alone_comm[0][1], "exec_alone": alone_exec[1][1],
                                  "together": together})


@cocotb.test()
async def semaphores(dut):
    """Signals that arrive before their WAIT, many signals for one WAIT, a WAIT that
    takes part of a count; each node's program signals the other's."""
    tb = await _tb(dut, 6)
    mdl, host = tb.model, tb.hm
    a_node, b_node = tb.nodes[0], tb.nodes[1]
    for _ in range(3):                                   # before anything runs
        await tb.store(b_node, 0, [], sem=1)
    b_prog = [mdl.cmd_wait(1, 2), mdl.cmd_wait(0, 5), mdl.cmd_signal(a_node, 2),
              mdl.cmd_halt(7)]
    a_prog = [mdl.cmd_loop(5, 1), mdl.cmd_signal(b_node, 0), mdl.cmd_wait(2, 1),
              mdl.cmd_halt(8)]
    await tb.store(b_node, PROGRAM, mdl.program(b_prog))
    await tb.store(a_node, PROGRAM, mdl.program(a_prog))
    await host.start_program(b_node, {0: PROGRAM})
    await host.start_program(a_node, {0: PROGRAM})
    assert (await host.wait_halt(b_node, 0))["tag"] == 7
    assert (await host.wait_halt(a_node, 0))["tag"] == 8
    assert await tb.regs(b_node, "sem0", 2) == [0, 1], "B's counters after the takes"
    assert await tb.reg(a_node, "sem2") == 0
    _check(tb, "semaphores", {})


def _bad_programs(mdl, peer):
    """``(name, descriptors, CmdError, pc of the failing descriptor)``; the stepped PUSHes'
    first iterations are valid and land at 300 and up."""
    L, lines = mdl.cmd_lines, mdl.lines
    unknown = [9] + [0] * (L - 1)                        # opcode 9 does not exist
    return [
        ("unknown opcode", [unknown], CmdError.OPCODE, 0),
        ("PUSH past the SRAM", [mdl.cmd_push(src_addr=lines - 1, count=2, to=peer,
                                             dst_addr=0)], CmdError.PUSH, 0),
        ("PUSH stepped past the SRAM", [mdl.cmd_loop(2, 1),
                                        mdl.cmd_push(src_addr=lines - 4, count=2, to=peer,
                                                     dst_addr=300, src_step=3)],
         CmdError.PUSH, L),
        ("PUSH stepped below 0", [mdl.cmd_loop(2, 1),
                                  mdl.cmd_push(src_addr=1, count=1, to=peer, dst_addr=300,
                                               src_step=-2)], CmdError.PUSH, L),
        ("EXEC refused", [mdl.cmd_exec(m=4, n=4, k=4, dtype="bf16", a_addr=lines - 1,
                                       b_addr=0, c_addr=0)], CmdError.EXEC, 0),
        ("PULL past the SRAM", [mdl.cmd_pull(src=peer, src_addr=lines - 1, count=2,
                                             dst_addr=0, sem=0)], CmdError.PULL, 0),
        ("WAIT of 0", [mdl.cmd_wait(0, 0)], CmdError.WAIT, 0),
        ("LOOP of 0", [mdl.cmd_loop(0, 1), mdl.cmd_halt(1)], CmdError.LOOP, 0),
        ("LOOP in a loop", [mdl.cmd_loop(2, 2), mdl.cmd_loop(2, 1), mdl.cmd_halt(1)],
         CmdError.LOOP, L),
    ]


@cocotb.test()
async def malformed(dut):
    """Each bad descriptor stops its queue with its error code (DONE tag 0x80 | code,
    status ERROR at the descriptor); the other queue runs to its HALT; nothing else moves."""
    tb = await _tb(dut, 8)
    mdl, host = tb.model, tb.hm
    node, peer = tb.nodes[0], tb.nodes[1]
    L = mdl.cmd_lines
    guard = [random.Random(9).getrandbits(mdl.width) for _ in range(4)]
    await tb.store(peer, 0, guard)
    cases = []
    for name, prog, code, at in _bad_programs(mdl, peer):
        res = await _run(tb, node, {0: (PROGRAM, prog),
                                    1: (PROGRAM + 40, [mdl.cmd_signal(peer, 3),
                                                       mdl.cmd_halt(9)])})
        assert res[0][0] == 0x80 | code, (name, res)
        assert res[1][0] == 9, (name, res)
        st = await host.queue_status(node, 0)
        assert st == {"state": CmdState.ERROR, "code": code, "pc": PROGRAM + at}, (name, st)
        cases.append(name)
    # a queue that runs off the end of the SRAM
    last = mdl.lines - L
    res = await _run(tb, node, {0: (last, [mdl.cmd_signal(peer, 3)])})
    assert res[0][0] == 0x80 | CmdError.PC, res
    cases.append("off the end")
    # a start of a running queue is ignored and counted
    errors0 = await tb.reg(node, "errors")
    await tb.store(node, PROGRAM, mdl.program([mdl.cmd_wait(0, 1), mdl.cmd_halt(4)]))
    await host.start_program(node, {0: PROGRAM})
    await tb.store(node, mdl.reg_addr("cmd_ctrl"), [mdl.ctrl_line(start={0: PROGRAM})])
    assert await tb.reg(node, "errors") == errors0 + 1
    await tb.store(node, 0, [], sem=0)
    assert (await host.wait_halt(node, 0))["tag"] == 4
    cases.append("start while running")
    assert await tb.read(peer, 0, 4) == guard, "a failed PUSH wrote to the peer"
    # one signal from each of the other queue's runs, none from a bad PUSH
    assert await tb.reg(peer, "sem3") == len(_bad_programs(mdl, peer)) + 1
    _check(tb, "malformed", {"cases": cases})


@cocotb.test()
async def abort(dut):
    """A WAIT that can never be satisfied shows as WAITING; the host aborts it (DONE
    0x80 | ABORT, status ABORTED) and the queue can be started again."""
    tb = await _tb(dut, 10)
    mdl, host = tb.model, tb.hm
    node = tb.nodes[0]
    await tb.store(node, PROGRAM, mdl.program([mdl.cmd_wait(1, 200), mdl.cmd_halt(1)]))
    await host.start_program(node, {0: PROGRAM})
    for _ in range(3):
        st = await host.queue_status(node, 0)
    assert st == {"state": CmdState.WAITING, "code": 0, "pc": PROGRAM}, st
    await host.abort_program(node, [0])
    done = await host.wait_halt(node, 0)
    assert done["tag"] == 0x80 | CmdError.ABORT, done
    assert (await host.queue_status(node, 0))["state"] == CmdState.ABORTED
    await tb.store(node, PROGRAM, mdl.program([mdl.cmd_halt(3)]))
    await host.start_program(node, {0: PROGRAM})
    assert (await host.wait_halt(node, 0))["tag"] == 3
    _check(tb, "abort", {})
