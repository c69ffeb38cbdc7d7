"""The command processor (:class:`rtl.node.command_processor.CommandProcessor`) in the fast
engine: both descriptor queues, every descriptor (LOOP steps included), semaphore waits,
status registers, aborts and every malformed-descriptor error.

One cycle is two step functions, as the RTL's logic splits:

* :func:`cp_outputs` (combinational, from the state and the semaphores): what each queue
  wants (a descriptor line, the DMA, the engine, a semaphore decrement), the fixed-priority
  grants between the queues (queue 0 first; at the DMA a SIGNAL before any PUSH or PULL),
  and the block's outputs: the SRAM read request, the DMA and engine descriptors, the
  decrement, each queue's DONE slot and status register, ``ctrl_error``.
* :func:`cp_clock` (the edge): each queue's FSM (IDLE, FETCH, PUSH, EXEC, EXEC_RUN, WAIT,
  DONE) from the inputs of the cycle (the SRAM grant and data, the DMA's and engine's
  ``seen``/``ok``/``go``, ``exec_done``, the DONE slots' ``pending``, a ``cmd_ctrl`` write).

State: ``queues[node, queue, Q_*]`` (the FSM, pc, loop registers, the decoded descriptor
handed to the DMA or the engine, the status fields), ``owner[node]`` (the queue whose EXEC
runs) and ``lines_in[node, queue, line, word]`` (the descriptor's lines as they arrive).
Inputs are ``inputs[node, I_*]``, the semaphores ``sems[node, sem]`` and the SRAM's data
``sram_data[node, word]``; outputs ``outputs[node, O_*]`` and ``queue_out[node, queue,
H_*]``. Descriptor fields are read with the bit positions of the RTL's own layout
(:func:`descriptor_fields`), so the model follows a layout change.

The descriptors are SRAM data that decide the timing: a timing-only run must keep the lines
the queues fetch (the programs), not only the control state.
"""

import numpy as np
from numba import njit, uint64

from rtl.net.packet import Opcode
from rtl.node.layouts import COUNT_BITS, QUEUES, CmdError, CmdOp, CmdState
from sim.netmodel.node.fields import copy_row, define, layout_fields

__all__ = ["cp_quiescent", "CommandProcessors", "cp_outputs", "cp_clock", "descriptor_fields", "MUTANTS",
           "PUSH_DESC", "EXEC_DESC", "QUEUE_FIELDS", "INPUTS", "OUTPUTS", "QUEUE_OUTPUTS"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "wait_one_too_few": 1,        # a WAIT goes on when its semaphore is one short
           "signal_behind_push": 2,      # no SIGNAL priority at the DMA
           "loop_one_short": 3}          # a LOOP runs its body count - 1 times

#: the members of the RTL's push_desc and exec_desc layouts (checked against them)
PUSH_DESC = ("src_addr", "count", "dst_x", "dst_y", "dst_addr", "add", "dtype", "sem_inc",
             "sem")
EXEC_DESC = ("mode", "accumulate", "m_tiles", "n_tiles", "k_tiles", "a_addr", "b_addr",
             "c_addr")

#: a queue's FSM states
define(globals(), ("idle", "fetch", "push", "exec", "exec_run", "wait", "done"), "S_")
#: parameters: ``params`` tuple in this order
PARAMS = define(globals(), ("lines", "cmd_lines", "flit_bits", "addr_bits", "mesh_x", "mesh_y",
                            "pull", "status_addr", "mutant"), "P_")
#: a queue's state row (``PD_``: the descriptor for the DMA, ``ED_``: for the engine)
QUEUE_FIELDS = define(globals(), ("fsm", "pc", "issued", "pend", "pend_k", "in_loop",
                                  "loop_start", "loop_end", "loop_left", "iter", "owner_x",
                                  "owner_y", "state", "code", "abort", "halt_tag", "wait_sem",
                                  "wait_n", "push_read")
                      + tuple("pd_" + f for f in PUSH_DESC) + tuple("ed_" + f for f in EXEC_DESC),
                      "Q_")
#: inputs per node (``start``, ``abort``: one bit per queue; ``pc<q>``, ``pending<q>``: per
#: queue, consecutive)
INPUTS = define(globals(), ("ctrl_wr", "start", "abort", "ctrl_x", "ctrl_y", "sram_grant",
                            "dma_seen", "dma_ok", "dma_go", "exec_seen", "exec_ok", "exec_go",
                            "exec_done") + tuple(f"pc{q}" for q in range(QUEUES))
                + tuple(f"pending{q}" for q in range(QUEUES)), "I_")
#: outputs per node
OUTPUTS = define(globals(), ("ctrl_error", "sram_en", "sram_addr", "dma_req", "dma_read",
                             "exec_req", "sem_dec", "sem_dec_idx", "sem_dec_n")
                 + tuple("dma_" + f for f in PUSH_DESC) + tuple("exec_" + f for f in EXEC_DESC),
                 "O_")
#: outputs per queue: its DONE slot, its status register's fields, and the grants it won
#: this cycle (for the clock edge)
QUEUE_OUTPUTS = define(globals(), ("load", "x", "y", "tag", "opcode", "addr", "arm", "state",
                                   "code", "pc", "got_fetch", "got_dma", "got_exec", "got_dec"),
                       "H_")
#: descriptor fields (``D_``): ``(offset, width, signed)`` at ``3 * D_NAME`` of the tuple
DESC_FIELDS = (("op",) + tuple("push." + f for f in PUSH_DESC + ("src_step", "dst_step"))
               + tuple("exec." + f for f in EXEC_DESC + ("a_step", "b_step", "c_step"))
               + ("wait.sem", "wait.n", "signal.dst_x", "signal.dst_y", "signal.sem")
               + tuple("pull." + f for f in ("src_x", "src_y", "src_addr", "count", "dst_addr",
                                             "sem", "src_step", "dst_step"))
               + ("loop.count", "loop.body", "halt.code"))
define(globals(), DESC_FIELDS, "D_")

_HALT, _PUSH, _EXEC, _WAIT, _SIGNAL, _LOOP, _PULL = (CmdOp[n].value for n in (
    "HALT", "PUSH", "EXEC", "WAIT", "SIGNAL", "LOOP", "PULL"))
_IDLE, _RUNNING, _WAITING, _HALTED, _ERROR, _ABORTED = (CmdState[n].value for n in (
    "IDLE", "RUNNING", "WAITING", "HALTED", "ERROR", "ABORTED"))
_E_OPCODE, _E_PUSH, _E_EXEC, _E_WAIT, _E_LOOP, _E_PC, _E_ABORT, _E_PULL = (int(CmdError[n]) for n in (
    "OPCODE", "PUSH", "EXEC", "WAIT", "LOOP", "PC", "ABORT", "PULL"))
_DONE_OPCODE = Opcode.EXEC.value
_COUNT_MASK = (1 << COUNT_BITS) - 1


def descriptor_fields(layouts):
    """The ``(offset, width, signed)`` triples of :data:`DESC_FIELDS` in ``layouts.cmd_desc``."""
    for name, members in (("push_desc", PUSH_DESC), ("exec_desc", EXEC_DESC)):
        if tuple(n for n, _ in getattr(layouts, name)) != members:
            raise ValueError(f"{name}'s members changed: update the model's copy")
    return layout_fields(layouts.cmd_desc, DESC_FIELDS, skip=("args", "desc"))


@njit(cache=True, _nrt=False, inline="always")
def _first(mask):
    """The lowest set bit of ``mask`` (fixed priority, queue 0 first)."""
    return mask & -mask


@njit(cache=True, _nrt=False, forceinline=True)
def cp_outputs(n, queues, inputs, sems, outputs, queue_out, P):
    """Node ``n``'s combinational outputs and grants (see the module docstring)."""
    L, A = P[P_CMD_LINES], P[P_ADDR_BITS]
    fetch = dma = sig = exe = dec = 0
    for q in range(QUEUES):
        fsm, idle = queues[n, q, Q_FSM], queues[n, q, Q_ABORT] == 0
        if fsm == S_FETCH and idle and queues[n, q, Q_ISSUED] != L:
            fetch |= 1 << q
        elif fsm == S_PUSH and idle:
            dma |= 1 << q
            if queues[n, q, Q_PD_COUNT] == 0 and queues[n, q, Q_PUSH_READ] == 0:
                sig |= 1 << q
        elif fsm == S_EXEC and idle:
            exe |= 1 << q
        elif fsm == S_WAIT and idle:
            need = queues[n, q, Q_WAIT_N] - (1 if P[P_MUTANT] == 1 else 0)
            if sems[n, queues[n, q, Q_WAIT_SEM]] >= need:
                dec |= 1 << q
    fetch, exe, dec = _first(fetch), _first(exe), _first(dec)
    dma = _first(sig) if sig and P[P_MUTANT] != 2 else _first(dma)
    outputs[n, :] = 0
    error = 0
    for q in range(QUEUES):
        bit = 1 << q
        fsm = queues[n, q, Q_FSM]
        if inputs[n, I_CTRL_WR] and inputs[n, I_START] & bit and fsm != S_IDLE:
            error = 1
        if fetch & bit:
            outputs[n, O_SRAM_EN] = 1
            outputs[n, O_SRAM_ADDR] = (queues[n, q, Q_PC] + queues[n, q, Q_ISSUED]) & ((1 << A) - 1)
        if dma & bit:
            outputs[n, O_DMA_REQ] = 1
            outputs[n, O_DMA_READ] = queues[n, q, Q_PUSH_READ]
            for f in range(len(PUSH_DESC)):
                outputs[n, O_DMA_SRC_ADDR + f] = queues[n, q, Q_PD_SRC_ADDR + f]
        if exe & bit:
            outputs[n, O_EXEC_REQ] = 1
            for f in range(len(EXEC_DESC)):
                outputs[n, O_EXEC_MODE + f] = queues[n, q, Q_ED_MODE + f]
        if dec & bit:
            outputs[n, O_SEM_DEC] = 1
            outputs[n, O_SEM_DEC_IDX] = queues[n, q, Q_WAIT_SEM]
            outputs[n, O_SEM_DEC_N] = queues[n, q, Q_WAIT_N]
        done = fsm == S_DONE
        queue_out[n, q, H_LOAD] = 1 if done else 0
        queue_out[n, q, H_X] = queues[n, q, Q_OWNER_X] if done else 0
        queue_out[n, q, H_Y] = queues[n, q, Q_OWNER_Y] if done else 0
        queue_out[n, q, H_TAG] = queues[n, q, Q_HALT_TAG] if done else 0
        queue_out[n, q, H_OPCODE] = _DONE_OPCODE if done else 0
        queue_out[n, q, H_ADDR] = P[P_STATUS_ADDR] + q if done else 0
        queue_out[n, q, H_ARM] = 1 if done and inputs[n, I_PENDING0 + q] == 0 else 0
        queue_out[n, q, H_STATE] = queues[n, q, Q_STATE]
        queue_out[n, q, H_CODE] = queues[n, q, Q_CODE]
        queue_out[n, q, H_PC] = queues[n, q, Q_PC] & ((1 << A) - 1)
        queue_out[n, q, H_GOT_FETCH] = 1 if fetch & bit else 0
        queue_out[n, q, H_GOT_DMA] = 1 if dma & bit else 0
        queue_out[n, q, H_GOT_EXEC] = 1 if exe & bit else 0
        queue_out[n, q, H_GOT_DEC] = 1 if dec & bit else 0
    outputs[n, O_CTRL_ERROR] = error


@njit(cache=True, _nrt=False, inline="always")
def cp_quiescent(n, queues, sems, P):
    """Every queue idle, or in a WAIT already shown as waiting (its status register set)
    whose semaphore is short (:func:`cp_outputs`'s test, so a mutant's too): without a
    ``cmd_ctrl`` write or a semaphore's increment nothing changes."""
    for q in range(QUEUES):
        fsm = queues[n, q, Q_FSM]
        if fsm == S_IDLE:
            continue
        if fsm != S_WAIT or queues[n, q, Q_ABORT] != 0 or queues[n, q, Q_STATE] != _WAITING:
            return False
        need = queues[n, q, Q_WAIT_N] - (1 if P[P_MUTANT] == 1 else 0)
        if sems[n, queues[n, q, Q_WAIT_SEM]] >= need:
            return False
    return True


@njit(cache=True, _nrt=False, inline="always")
def _field(lines_in, n, q, DF, f, W):
    """Descriptor field ``f`` (a ``D_`` constant) from the lines of queue ``q``."""
    return _bits(lines_in, n, q, DF[3 * f], DF[3 * f + 1], DF[3 * f + 2], W)


@njit(cache=True, _nrt=False, forceinline=True)
def _bits(lines_in, n, q, offset, width, signed, W):
    """The field at bit ``offset`` of ``width`` bits (``signed``) of queue ``q``'s lines
    (one compiled function for every field: the constants are its arguments)."""
    value = 0
    for i in range(width):
        bit = offset + i
        line, b = bit // W, bit % W
        value |= int((lines_in[n, q, line, b // 64] >> uint64(b % 64)) & uint64(1)) << i
    if signed and value >> (width - 1):
        value -= 1 << width
    return value


@njit(cache=True, _nrt=False, forceinline=True)
def _stop(n, q, queues, kind, tag):
    """End the queue: its DONE (``tag``) goes out from state DONE."""
    queues[n, q, Q_STATE] = kind
    queues[n, q, Q_CODE] = tag & 0x7F
    queues[n, q, Q_HALT_TAG] = tag
    queues[n, q, Q_ABORT] = 0
    queues[n, q, Q_FSM] = S_DONE


@njit(cache=True, _nrt=False, forceinline=True)
def _advance(n, q, queues, P):
    """Go on with the next descriptor (a loop's end jumps back while iterations remain)."""
    L = P[P_CMD_LINES]
    after = queues[n, q, Q_PC] + L
    at_end = queues[n, q, Q_IN_LOOP] != 0 and after == queues[n, q, Q_LOOP_END]
    next_pc = after
    if at_end:
        if queues[n, q, Q_LOOP_LEFT] != 0:
            next_pc = queues[n, q, Q_LOOP_START]
            queues[n, q, Q_LOOP_LEFT] -= 1
            queues[n, q, Q_ITER] = (queues[n, q, Q_ITER] + 1) & _COUNT_MASK
        else:
            queues[n, q, Q_IN_LOOP] = 0
            queues[n, q, Q_ITER] = 0
    queues[n, q, Q_PC] = next_pc & ((1 << (P[P_ADDR_BITS] + 1)) - 1)
    queues[n, q, Q_ISSUED] = 0
    queues[n, q, Q_PEND] = 0
    if next_pc + L > P[P_LINES]:
        _stop(n, q, queues, _ERROR, 0x80 | _E_PC)
    else:
        queues[n, q, Q_FSM] = S_FETCH


@njit(cache=True, _nrt=False, forceinline=True)
def _decode(n, q, queues, lines_in, P, DF):
    """The descriptor's last line arrived: hand it on, or stop on an error."""
    W, lines, A = P[P_FLIT_BITS], P[P_LINES], P[P_ADDR_BITS]
    mx, my = P[P_MESH_X], P[P_MESH_Y]
    amask = (1 << A) - 1
    it = queues[n, q, Q_ITER]
    op = _field(lines_in, n, q, DF, D_OP, W)
    if op == _HALT:
        _stop(n, q, queues, _HALTED, _field(lines_in, n, q, DF, D_HALT_CODE, W) & 0x7F)
    elif op == _PUSH or op == _PULL or op == _SIGNAL:
        for f in range(len(PUSH_DESC)):
            queues[n, q, Q_PD_SRC_ADDR + f] = 0
        queues[n, q, Q_PUSH_READ] = 1 if op == _PULL else 0
        if op == _PUSH:
            for f in range(len(PUSH_DESC)):
                queues[n, q, Q_PD_SRC_ADDR + f] = _field(lines_in, n, q, DF, D_PUSH_SRC_ADDR + f, W)
            count = queues[n, q, Q_PD_COUNT]
            src = queues[n, q, Q_PD_SRC_ADDR] + it * _field(lines_in, n, q, DF, D_PUSH_SRC_STEP, W)
            dst = queues[n, q, Q_PD_DST_ADDR] + it * _field(lines_in, n, q, DF, D_PUSH_DST_STEP, W)
            ok = (src >= 0 and src + count <= lines and dst >= 0 and dst + count <= lines
                  and queues[n, q, Q_PD_DST_X] < mx and queues[n, q, Q_PD_DST_Y] < my)
            error = _E_PUSH
        elif op == _PULL:
            count = _field(lines_in, n, q, DF, D_PULL_COUNT, W)
            src = (_field(lines_in, n, q, DF, D_PULL_SRC_ADDR, W)
                   + it * _field(lines_in, n, q, DF, D_PULL_SRC_STEP, W))
            dst = (_field(lines_in, n, q, DF, D_PULL_DST_ADDR, W)
                   + it * _field(lines_in, n, q, DF, D_PULL_DST_STEP, W))
            queues[n, q, Q_PD_COUNT] = count
            queues[n, q, Q_PD_DST_X] = _field(lines_in, n, q, DF, D_PULL_SRC_X, W)
            queues[n, q, Q_PD_DST_Y] = _field(lines_in, n, q, DF, D_PULL_SRC_Y, W)
            queues[n, q, Q_PD_SEM] = _field(lines_in, n, q, DF, D_PULL_SEM, W)
            ok = (P[P_PULL] != 0 and count != 0 and src >= 0 and src + count <= lines
                  and dst >= 0 and dst + count <= lines and queues[n, q, Q_PD_DST_X] < mx
                  and queues[n, q, Q_PD_DST_Y] < my)
            error = _E_PULL
        else:
            src = dst = 0
            queues[n, q, Q_PD_DST_X] = _field(lines_in, n, q, DF, D_SIGNAL_DST_X, W)
            queues[n, q, Q_PD_DST_Y] = _field(lines_in, n, q, DF, D_SIGNAL_DST_Y, W)
            queues[n, q, Q_PD_SEM_INC] = 1
            queues[n, q, Q_PD_SEM] = _field(lines_in, n, q, DF, D_SIGNAL_SEM, W)
            ok = queues[n, q, Q_PD_DST_X] < mx and queues[n, q, Q_PD_DST_Y] < my
            error = _E_PUSH
        if op != _SIGNAL:
            queues[n, q, Q_PD_SRC_ADDR] = src & amask
            queues[n, q, Q_PD_DST_ADDR] = dst & amask
        if ok:
            queues[n, q, Q_FSM] = S_PUSH
        else:
            _stop(n, q, queues, _ERROR, 0x80 | error)
    elif op == _EXEC:
        for f in range(len(EXEC_DESC)):
            queues[n, q, Q_ED_MODE + f] = _field(lines_in, n, q, DF, D_EXEC_MODE + f, W)
        ok = True
        for k in range(3):                       # a, b, c: addresses and steps in order
            addr = (queues[n, q, Q_ED_A_ADDR + k]
                    + it * _field(lines_in, n, q, DF, D_EXEC_A_STEP + k, W))
            ok = ok and 0 <= addr < lines
            queues[n, q, Q_ED_A_ADDR + k] = addr & amask
        if ok:
            queues[n, q, Q_FSM] = S_EXEC
        else:
            _stop(n, q, queues, _ERROR, 0x80 | _E_EXEC)
    elif op == _WAIT:
        queues[n, q, Q_WAIT_SEM] = _field(lines_in, n, q, DF, D_WAIT_SEM, W)
        queues[n, q, Q_WAIT_N] = _field(lines_in, n, q, DF, D_WAIT_N, W)
        if queues[n, q, Q_WAIT_N] != 0:
            queues[n, q, Q_FSM] = S_WAIT
        else:
            _stop(n, q, queues, _ERROR, 0x80 | _E_WAIT)
    elif op == _LOOP:
        count = _field(lines_in, n, q, DF, D_LOOP_COUNT, W)
        body = _field(lines_in, n, q, DF, D_LOOP_BODY, W)
        if queues[n, q, Q_IN_LOOP] or count == 0 or body == 0:
            _stop(n, q, queues, _ERROR, 0x80 | _E_LOOP)
        else:
            L, pc = P[P_CMD_LINES], queues[n, q, Q_PC]
            _advance(n, q, queues, P)            # not in a loop yet: the next descriptor
            queues[n, q, Q_IN_LOOP] = 1
            queues[n, q, Q_LOOP_START] = (pc + L) & ((1 << (A + 1)) - 1)
            queues[n, q, Q_LOOP_END] = pc + L + body * L
            queues[n, q, Q_LOOP_LEFT] = count - (2 if P[P_MUTANT] == 3 else 1)
            queues[n, q, Q_ITER] = 0
    else:
        _stop(n, q, queues, _ERROR, 0x80 | _E_OPCODE)


@njit(cache=True, _nrt=False, inline="always")
def _queue_clock(n, q, queues, owner, lines_in, inputs, sram_data, queue_out, P, DF):
    L = P[P_CMD_LINES]
    fsm, abort = queues[n, q, Q_FSM], queues[n, q, Q_ABORT] != 0
    state = queues[n, q, Q_STATE]
    if (inputs[n, I_CTRL_WR] and inputs[n, I_ABORT] >> q & 1
            and (state == _RUNNING or state == _WAITING)):
        queues[n, q, Q_ABORT] = 1
    if fsm == S_IDLE:
        if inputs[n, I_CTRL_WR] and inputs[n, I_START] >> q & 1:
            pc = inputs[n, I_PC0 + q]
            for f, v in ((Q_PC, pc), (Q_ISSUED, 0), (Q_PEND, 0), (Q_IN_LOOP, 0), (Q_ITER, 0),
                         (Q_ABORT, 0), (Q_OWNER_X, inputs[n, I_CTRL_X]),
                         (Q_OWNER_Y, inputs[n, I_CTRL_Y]), (Q_STATE, _RUNNING), (Q_CODE, 0)):
                queues[n, q, f] = v
            if pc + L > P[P_LINES]:
                queues[n, q, Q_STATE] = _ERROR
                queues[n, q, Q_CODE] = _E_PC
                queues[n, q, Q_HALT_TAG] = 0x80 | _E_PC
                queues[n, q, Q_FSM] = S_DONE
            else:
                queues[n, q, Q_FSM] = S_FETCH
    elif fsm == S_FETCH:
        pend, pend_k, issued = queues[n, q, Q_PEND], queues[n, q, Q_PEND_K], queues[n, q, Q_ISSUED]
        got = queue_out[n, q, H_GOT_FETCH] != 0 and inputs[n, I_SRAM_GRANT] != 0
        queues[n, q, Q_PEND] = 1 if got else 0
        if got:
            queues[n, q, Q_ISSUED] = issued + 1
            queues[n, q, Q_PEND_K] = issued
        if pend:
            copy_row(lines_in[n, q, pend_k], sram_data[n])
        if abort and not pend:
            _stop(n, q, queues, _ABORTED, 0x80 | _E_ABORT)
        elif pend and pend_k == L - 1:
            queues[n, q, Q_PEND] = 0
            _decode(n, q, queues, lines_in, P, DF)
    elif fsm == S_PUSH or fsm == S_EXEC:
        got = queue_out[n, q, H_GOT_DMA if fsm == S_PUSH else H_GOT_EXEC] != 0
        go, seen, ok = ((inputs[n, I_DMA_GO], inputs[n, I_DMA_SEEN], inputs[n, I_DMA_OK])
                        if fsm == S_PUSH else
                        (inputs[n, I_EXEC_GO], inputs[n, I_EXEC_SEEN], inputs[n, I_EXEC_OK]))
        if abort:
            _stop(n, q, queues, _ABORTED, 0x80 | _E_ABORT)
        elif got and go:
            if fsm == S_PUSH:
                _advance(n, q, queues, P)
            else:
                queues[n, q, Q_FSM] = S_EXEC_RUN
        elif got and seen and not ok:
            _stop(n, q, queues, _ERROR, 0x80 | (_E_PUSH if fsm == S_PUSH else _E_EXEC))
    elif fsm == S_EXEC_RUN:
        if inputs[n, I_EXEC_DONE] and owner[n] == q:
            if abort:
                _stop(n, q, queues, _ABORTED, 0x80 | _E_ABORT)
            else:
                _advance(n, q, queues, P)
    elif fsm == S_WAIT:
        got = queue_out[n, q, H_GOT_DEC] != 0
        queues[n, q, Q_STATE] = _RUNNING if got else _WAITING
        if abort:
            _stop(n, q, queues, _ABORTED, 0x80 | _E_ABORT)
        elif got:
            _advance(n, q, queues, P)
    elif fsm == S_DONE:
        if inputs[n, I_PENDING0 + q] == 0:
            queues[n, q, Q_FSM] = S_IDLE


@njit(cache=True, _nrt=False, forceinline=True)
def cp_clock(n, queues, owner, lines_in, inputs, sram_data, queue_out, P, DF):
    """Node ``n``'s clock edge, after :func:`cp_outputs` of the same cycle."""
    for q in range(QUEUES):
        _queue_clock(n, q, queues, owner, lines_in, inputs, sram_data, queue_out, P, DF)
    # after the queues: EXEC_RUN reads the owner of the cycle
    for q in range(QUEUES):
        if inputs[n, I_EXEC_GO] and queue_out[n, q, H_GOT_EXEC]:
            owner[n] = q


@njit(cache=True, _nrt=False)
def _outputs_all(queues, inputs, sems, outputs, queue_out, P):
    for n in range(queues.shape[0]):
        cp_outputs(n, queues, inputs, sems, outputs, queue_out, P)


@njit(cache=True, _nrt=False)
def _clock_all(queues, owner, lines_in, inputs, sram_data, queue_out, P, DF):
    for n in range(queues.shape[0]):
        cp_clock(n, queues, owner, lines_in, inputs, sram_data, queue_out, P, DF)


class CommandProcessors:
    """The command processors of ``nodes`` nodes.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    mesh_x, mesh_y : int
    pull : bool
        As :class:`rtl.node.command_processor.CommandProcessor`'s.
    words : int, optional
        uint64 words kept of each descriptor line (the whole line by default).
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); sems : (nodes, sems); sram_data : (nodes, words)
        The inputs of the cycle (named by :data:`INPUTS`).
    outputs : ndarray (nodes, len(OUTPUTS)); queue_out : (nodes, QUEUES, len(QUEUE_OUTPUTS))
        After :meth:`outputs_of_cycle`.
    """

    def __init__(self, *, nodes, layouts, mesh_x, mesh_y, pull=True, words=None,
                 mutant="none"):
        lay = layouts
        words = words or -(-lay.fmt.flit_bits // 64)
        self.params = tuple(int(v) for v in (
            lay.lines, lay.cmd_lines, lay.fmt.flit_bits, lay.addr_bits, mesh_x, mesh_y, pull,
            lay.reg_base + lay.registers.index("cmd_status0"), MUTANTS[mutant]))
        self.fields = descriptor_fields(lay)
        self.queues = np.zeros((nodes, QUEUES, len(QUEUE_FIELDS)), np.int64)
        self.owner = np.zeros(nodes, np.int64)
        self.lines_in = np.zeros((nodes, QUEUES, lay.cmd_lines, words), np.uint64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.sems = np.zeros((nodes, lay.sems), np.int64)
        self.sram_data = np.zeros((nodes, words), np.uint64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.queue_out = np.zeros((nodes, QUEUES, len(QUEUE_OUTPUTS)), np.int64)

    def outputs_of_cycle(self):
        """Every node's combinational outputs from its state, semaphores and ctrl inputs."""
        _outputs_all(self.queues, self.inputs, self.sems, self.outputs, self.queue_out,
                     self.params)

    def clock(self):
        """Every node's clock edge, from the inputs of the cycle."""
        _clock_all(self.queues, self.owner, self.lines_in, self.inputs, self.sram_data,
                   self.queue_out, self.params, self.fields)
