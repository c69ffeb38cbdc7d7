"""The network interface (:class:`rtl.node.ni.NetworkInterface`) in the fast engine: its
blocks (input buffer, request parser, ADD pipeline, push DMA, command processor, pull and
response writers, link output) wired as the RTL wires them, with the NI's own logic: the
host's PUSH and EXEC before the command queues', the DONE slots' loads and arms, the
completion counters (saturating, every lost increment an error), the ``errors``,
``responses`` and ``execs`` counters and the register space's read register.

One cycle is two step functions per node, as for every block: :func:`ni_outputs` (every
block's combinational step, in the order their inputs become known: the input buffer and
link output from their state, the parser, the command processor, the DMA, the pull writer,
the ADD pipeline, the response writer) and :func:`ni_clock` (the NI's registers, then
every block's edge). The DMA's outputs are evaluated twice: first on the host's descriptor
(the parser's ``dma_ok`` when it holds a PUSH), then on the descriptor the DMA is shown.

The NI's ports are arrays with a leading node index: inputs in ``inputs[node, N_*]`` with
the arriving flit ``link_data[node]`` and the SRAM ports' read data ``rx_data``,
``dma_data``, ``cmd_data``; outputs in ``outputs[node, Y_*]`` (the link's registers come
from the link output's, the write ports' lines are ``sink.wr_line`` and ``pull.wr_line``).
The blocks' arrays go to the step functions as one tuple per block
(``NetworkInterfaces.arrays``), the parameters as one tuple of tuples
(``NetworkInterfaces.params``), so a node kernel calls ``ni_outputs(n, *arrays, params)`` and
``ni_clock(n, *arrays, params)`` per node.

Timing only (``timing_only``): every block keeps ``words`` uint64 words of each flit and
line (the control slice, :func:`.fields.control_words`: every head field, descriptor and
``cmd_ctrl`` line lies there) and moves them as the full model does, because any of them
may be control (a head, a PUSH or EXEC descriptor, a command program written by a WRITE
and fetched later); only the ADD pipeline's sums are not computed (its ``data`` is the
run-time flag ``params[-1][NP_TIMING_ONLY]``, so both modes run one compiled kernel).
"""

import numpy as np
from numba import njit

from rtl.net.packet import Opcode
from rtl.node.layouts import (COUNTER_NAMES, QUEUES, REG_BITS, NodeLayouts, request_vcs,
                              response_vcs)
from sim.netmodel.node import add_pipeline as ap
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import link_tx as tx
from sim.netmodel.node import pull_writer as pw
from sim.netmodel.node import push_dma as dm
from sim.netmodel.node import request_parser as rp
from sim.netmodel.node import response_writer as rw
from sim.netmodel.node import rx_buffer as rb
from sim.netmodel.node.add_pipeline import add_clock, add_outputs, add_write_line
from sim.netmodel.node.command_processor import cp_clock, cp_outputs
from sim.netmodel.node.fields import copy_row, define, get_bits, layout_fields
from sim.netmodel.node.link_tx import tx_clock, tx_outputs
from sim.netmodel.node.pull_writer import pull_clock, pull_outputs, pull_write_line
from sim.netmodel.node.push_dma import dma_clock, dma_outputs
from sim.netmodel.node.request_parser import parser_clock, parser_data, parser_outputs
from sim.netmodel.node.response_writer import resp_clock, resp_outputs
from sim.netmodel.node.rx_buffer import rx_clock, rx_outputs

__all__ = ["NetworkInterfaces", "ni_outputs", "ni_clock", "INPUTS", "OUTPUTS", "MUTANTS"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "sem_wraps": 1,              # a completion counter wraps instead of saturating
           "cmd_push_first": 2}         # the command queues' PUSH before the host's

#: the NI's inputs per node
INPUTS = define(globals(), ("x", "y", "link_valid", "link_last", "link_vc", "credit",
                            "cmd_grant", "pull_grant", "exec_ok", "exec_busy", "exec_done",
                            "exec_cycles", "exec_steps")
                 + tuple(f"counter_{c}" for c in COUNTER_NAMES), "N_")
#: the NI's outputs per node (``exec_desc`` as its fields, ``X_<field>``)
OUTPUTS = define(globals(), ("o_valid", "o_last", "o_vc", "i_credit", "rx_en", "rx_addr",
                             "dma_en", "dma_addr", "cmd_en", "cmd_addr", "wr_en", "wr_addr",
                             "pull_en", "pull_addr", "exec_start", "errors", "status")
                 + tuple("x_" + f for f in cp.EXEC_DESC), "Y_")

#: the NI's own registers and the values its clock edge needs from the cycle
REGS = define(globals(), ("errors", "responses", "execs", "reg_q", "cmd_owns", "eng_ack",
                          "cmd_push", "cmd_exec", "exec_start"), "G_")
#: the NI's parameters (``params[-1]``)
define(globals(), ("sems", "counter_top", "pull", "resp_vc0", "resp_vcs", "rx_vcs", "mutant",
                   "timing_only"), "NP_")

_PUSH, _EXEC = Opcode.PUSH.value, Opcode.EXEC.value
_REG_MASK = (1 << REG_BITS) - 1
_COUNTERS = len(COUNTER_NAMES)
#: where a DONE slot's inputs (the response writer's order) are among the parser's outputs
#: (after ``done_load``) and among a command queue's (after ``load``)
_DONE_ORDER = tuple(rp.OUTPUTS["done_" + k] - rp.O_DONE_LOAD for k in rw.SLOT_INPUTS)
_HALT_ORDER = tuple(cp.QUEUE_OUTPUTS[k] - cp.H_LOAD for k in rw.SLOT_INPUTS)
_PUSH_FIELDS, _EXEC_FIELDS = len(cp.PUSH_DESC), len(cp.EXEC_DESC)


@njit(cache=True, _nrt=False, inline="always")
def _desc_field(desc, n, F, f):
    """Field ``f`` of the ``(offset, width, signed)`` tuple ``F`` in the parser's descriptor
    register (whole 64-bit words per flit, as the ADD pipeline requires)."""
    return get_bits(desc[n].reshape(-1), F[3 * f], F[3 * f + 1])


@njit(cache=True, _nrt=False, inline="always")
def _dma_desc(n, host_push, desc, dm_in, cp_out, PF, known):
    """The DMA's descriptor inputs: the parser's PUSH where it holds one, else the command
    processor's (zero while its outputs are not ``known`` yet)."""
    for f in range(_PUSH_FIELDS):
        if host_push:
            dm_in[n, dm.I_D_SRC_ADDR + f] = _desc_field(desc, n, PF, f)
        else:
            dm_in[n, dm.I_D_SRC_ADDR + f] = cp_out[n, cp.O_DMA_SRC_ADDR + f] if known else 0


@njit(cache=True, _nrt=False, inline="always")
def _status(n, ins, dm_out, rx_out):
    return ins[n, N_EXEC_BUSY] | dm_out[n, dm.O_BUSY] << 1 | rx_out[n, rb.O_OVERFLOW] << 2


# inlined: a call passes its ~75 arrays on the stack, as much as an idle NI's work
@njit(cache=True, _nrt=False, inline="always")
def ni_outputs(n, RX, PA, SK, DM, CP, WR, TX, PW, NI, PS):
    """Node ``n``'s outputs (``NI[1][n]``) and every block's combinational step."""
    rx_st, rx_marks, rx_slots, rx_in, rx_out, rx_vc_out, rx_head = RX
    pa_st, pa_in, pa_out, pa_resp, pa_line, pa_ctrl, pa_desc = PA
    sk_st, sk_in, sk_out, sk_lines, sk_wr_line, sk_su, sk_sf = SK
    dm_st, dm_in, dm_out, dm_flit = DM
    cp_q, cp_owner, cp_lines_in, cp_in, cp_out, cp_qo = CP
    wr_slots, wr_slot_in, wr_in, wr_out, wr_flit = WR
    tx_st, tx_lasts, tx_in, tx_out, tx_slots, tx_flits_in, tx_link = TX
    pw_st, pw_in, pw_vc_in, pw_flits, pw_out, pw_wr_line = PW
    ins, out, link_data, rx_data, dma_data, cmd_data, sems, regs = NI
    rxP, paP, paH, skM, dmP, dmH, cpP, cpDF, wrP, wrH, txP, pwP, pwH, PF, EF, CF, SF, P = PS
    rx_outputs(n, rx_st, rx_marks, rx_slots, rx_out, rx_vc_out, rx_head, True, rxP)
    tx_outputs(n, tx_st, tx_lasts, tx_out, txP)
    checking = pa_st[n, rp.Q_FSM] == rp.S_CHECK
    host_push = checking and pa_st[n, rp.Q_OP] == _PUSH
    host_exec = checking and pa_st[n, rp.Q_OP] == _EXEC
    # the DMA on the host's descriptor: its desc_ok is the parser's dma_ok
    _dma_desc(n, host_push, pa_desc, dm_in, cp_out, PF, False)
    dma_outputs(n, dm_st, dm_in, dm_out, dm_flit, dma_data, True, dmP, dmH)
    pa_in[n, rp.I_X], pa_in[n, rp.I_Y] = ins[n, N_X], ins[n, N_Y]
    pa_in[n, rp.I_RESP_RDY] = tx_out[n, tx.O_RDY1]
    pa_in[n, rp.I_RESP_LEVEL] = tx_out[n, tx.O_LEVEL1]
    pa_in[n, rp.I_DMA_FREE] = dm_out[n, dm.O_BUSY] == 0 and wr_slots[n, 1, rw.D_PENDING] == 0
    pa_in[n, rp.I_DMA_OK] = dm_out[n, dm.O_DESC_OK]
    pa_in[n, rp.I_EXEC_FREE] = ins[n, N_EXEC_BUSY] == 0 and wr_slots[n, 2, rw.D_PENDING] == 0
    pa_in[n, rp.I_EXEC_OK] = ins[n, N_EXEC_OK]
    pa_in[n, rp.I_DONE_PENDING] = wr_slots[n, 0, rw.D_PENDING]
    pa_in[n, rp.I_REG_DATA] = regs[n, G_REG_Q]
    # the request VCs' heads are the input buffer's first VCs, in the same layout
    parser_outputs(n, pa_st, pa_in, rx_vc_out, rx_head, pa_out, pa_resp, paP, paH)
    parser_data(n, pa_st, pa_out, rx_head, rx_data, pa_in, pa_line, pa_resp, pa_ctrl, paP)
    # the command processor: its ctrl line from a cmd_ctrl write
    cp_in[n, cp.I_CTRL_WR] = pa_out[n, rp.O_CTRL_WR]
    cp_in[n, cp.I_START] = get_bits(pa_ctrl[n], CF[0], CF[1])
    cp_in[n, cp.I_ABORT] = get_bits(pa_ctrl[n], CF[3], CF[4])
    for q in range(QUEUES):
        cp_in[n, cp.I_PC0 + q] = get_bits(pa_ctrl[n], CF[6 + 3 * q], CF[7 + 3 * q])
        cp_in[n, cp.I_PENDING0 + q] = wr_slots[n, 3 + q, rw.D_PENDING]
    cp_in[n, cp.I_CTRL_X], cp_in[n, cp.I_CTRL_Y] = pa_out[n, rp.O_SRC_X], pa_out[n, rp.O_SRC_Y]
    cp_in[n, cp.I_SRAM_GRANT] = ins[n, N_CMD_GRANT]
    cp_outputs(n, cp_q, cp_in, sems, cp_out, cp_qo, cpP)
    # PUSH: the host's before the command queues'
    _dma_desc(n, host_push, pa_desc, dm_in, cp_out, PF, True)
    dm_in[n, dm.I_X], dm_in[n, dm.I_Y] = ins[n, N_X], ins[n, N_Y]
    dm_in[n, dm.I_TAG] = pa_out[n, rp.O_TAG] if host_push else 0
    dm_in[n, dm.I_ACK] = host_push and pa_out[n, rp.O_ACK] != 0
    dm_in[n, dm.I_READ] = not host_push and cp_out[n, cp.O_DMA_READ] != 0
    dm_in[n, dm.I_Q_RDY], dm_in[n, dm.I_Q_LEVEL] = tx_out[n, tx.O_RDY0], tx_out[n, tx.O_LEVEL0]
    dma_outputs(n, dm_st, dm_in, dm_out, dm_flit, dma_data, True, dmP, dmH)
    # a PULL's answers are still coming: a second waits (the sink's busy, a register)
    pull_busy = P[NP_PULL] != 0 and pw_st[n, pw.W_ACTIVE] != 0
    in_front = host_push and P[NP_MUTANT] != 2
    cmd_push = (cp_out[n, cp.O_DMA_REQ] != 0 and not in_front and dm_out[n, dm.O_BUSY] == 0
                and dm_out[n, dm.O_DESC_OK] != 0
                and not (cp_out[n, cp.O_DMA_READ] != 0 and pull_busy))
    dm_in[n, dm.I_START] = pa_out[n, rp.O_DMA_START] != 0 or cmd_push
    cp_in[n, cp.I_DMA_SEEN] = not host_push
    cp_in[n, cp.I_DMA_OK] = dm_out[n, dm.O_DESC_OK]
    cp_in[n, cp.I_DMA_GO] = cmd_push
    # EXEC: the same order
    cmd_exec = (cp_out[n, cp.O_EXEC_REQ] != 0 and not host_exec
                and ins[n, N_EXEC_BUSY] == 0 and ins[n, N_EXEC_OK] != 0)
    exec_start = pa_out[n, rp.O_EXEC_START] != 0 or cmd_exec
    cp_in[n, cp.I_EXEC_SEEN] = not host_exec
    cp_in[n, cp.I_EXEC_OK] = ins[n, N_EXEC_OK]
    cp_in[n, cp.I_EXEC_GO] = cmd_exec
    cp_in[n, cp.I_EXEC_DONE] = ins[n, N_EXEC_DONE] != 0 and regs[n, G_CMD_OWNS] != 0
    for f in range(_EXEC_FIELDS):
        out[n, Y_X_MODE + f] = (_desc_field(pa_desc, n, EF, f) if host_exec
                                else cp_out[n, cp.O_EXEC_MODE + f])
    regs[n, G_CMD_PUSH], regs[n, G_CMD_EXEC] = cmd_push, cmd_exec
    regs[n, G_EXEC_START] = exec_start
    # the response sink: the response VCs (with one VC the parser drains them)
    if P[NP_PULL]:
        for i in range(P[NP_RESP_VCS]):
            v = P[NP_RESP_VC0] + i
            pw_vc_in[n, i, pw.V_NONEMPTY] = rx_vc_out[n, v, rb.V_NONEMPTY]
            pw_vc_in[n, i, pw.V_LAST] = rx_vc_out[n, v, rb.V_LAST]
            copy_row(pw_flits[n, i], rx_head[n, v])
        pw_in[n, pw.I_START] = cmd_push and cp_out[n, cp.O_DMA_READ] != 0
        pw_in[n, pw.I_SRC] = cp_out[n, cp.O_DMA_SRC_ADDR]
        pw_in[n, pw.I_DST] = cp_out[n, cp.O_DMA_DST_ADDR]
        pw_in[n, pw.I_COUNT] = cp_out[n, cp.O_DMA_COUNT]
        pw_in[n, pw.I_SEM] = cp_out[n, cp.O_DMA_SEM]
        pw_in[n, pw.I_WR_GRANT] = ins[n, N_PULL_GRANT]
        pull_outputs(n, pw_st, pw_in, pw_vc_in, pw_out, pwP)
        pull_write_line(n, pw_flits, pw_out, pw_wr_line)
    # the ADD pipeline (its line and the stored line reach it at the clock edge)
    sk_in[n, ap.I_VALID] = pa_out[n, rp.O_LINE_VALID]
    sk_in[n, ap.I_ADD] = pa_out[n, rp.O_LINE_ADD]
    sk_in[n, ap.I_FP], sk_in[n, ap.I_ADDR] = pa_out[n, rp.O_LINE_FP], pa_out[n, rp.O_LINE_ADDR]
    add_outputs(n, sk_st, sk_out)
    add_write_line(n, sk_st, sk_lines, sk_wr_line)
    # the response writer: READ_RESPs, then the DONE slots (parser, DMA, engine, queues)
    wr_in[n, rw.I_X], wr_in[n, rw.I_Y] = ins[n, N_X], ins[n, N_Y]
    wr_in[n, rw.I_RX_EN] = pa_out[n, rp.O_RESP_EN]
    wr_in[n, rw.I_RX_LAST] = pa_out[n, rp.O_RESP_LAST]
    wr_in[n, rw.I_RX_HOLD], wr_in[n, rw.I_Q_RDY] = pa_out[n, rp.O_RESP_HOLD], tx_out[n, tx.O_RDY1]
    for k in range(len(_DONE_ORDER)):             # the parser's done_* in the slots' order
        wr_slot_in[n, 0, k] = pa_out[n, rp.O_DONE_LOAD + _DONE_ORDER[k]]
    for slot, start, opcode, arm in (
            (1, pa_out[n, rp.O_DMA_START], _PUSH, dm_out[n, dm.O_DONE]),
            (2, pa_out[n, rp.O_EXEC_START], _EXEC,
             1 if ins[n, N_EXEC_DONE] != 0 and regs[n, G_ENG_ACK] != 0 else 0)):
        wr_slot_in[n, slot, rw.S_LOAD], wr_slot_in[n, slot, rw.S_ARM] = start, arm
        wr_slot_in[n, slot, rw.S_X], wr_slot_in[n, slot, rw.S_Y] = (pa_out[n, rp.O_SRC_X],
                                                                   pa_out[n, rp.O_SRC_Y])
        wr_slot_in[n, slot, rw.S_TAG] = pa_out[n, rp.O_TAG]
        wr_slot_in[n, slot, rw.S_OPCODE], wr_slot_in[n, slot, rw.S_ADDR] = opcode, 0
    for q in range(QUEUES):
        for k in range(len(_HALT_ORDER)):
            wr_slot_in[n, 3 + q, k] = cp_qo[n, q, cp.H_LOAD + _HALT_ORDER[k]]
    resp_outputs(n, wr_slots, wr_in, wr_out, wr_flit, pa_resp, True, wrP, wrH)
    # the link output's writes and the returned credits
    tx_in[n, tx.I_EN0], tx_in[n, tx.I_LAST0] = dm_out[n, dm.O_Q_EN], dm_out[n, dm.O_Q_LAST]
    tx_in[n, tx.I_EN1], tx_in[n, tx.I_LAST1] = wr_out[n, rw.O_Q_EN], wr_out[n, rw.O_Q_LAST]
    copy_row(tx_flits_in[n, 0], dm_flit[n])
    copy_row(tx_flits_in[n, 1], wr_flit[n])
    tx_in[n, tx.I_CREDIT0] = ins[n, N_CREDIT]               # one bit per VC
    # the input buffer: the arriving flit, the parser's and the sink's pops
    rx_in[n, rb.I_VALID], rx_in[n, rb.I_VC] = ins[n, N_LINK_VALID], ins[n, N_LINK_VC]
    rx_in[n, rb.I_LAST] = ins[n, N_LINK_LAST]
    for v in range(P[NP_RX_VCS]):
        rx_in[n, rb.I_POP0 + v] = pa_out[n, rp.O_POPS] >> v & 1
    if P[NP_PULL]:
        for i in range(P[NP_RESP_VCS]):
            rx_in[n, rb.I_POP0 + P[NP_RESP_VC0] + i] = (pw_out[n, pw.O_POP] != 0
                                                        and pw_out[n, pw.O_CUR] == i)
    # the NI's outputs
    out[n, Y_O_VALID], out[n, Y_O_LAST] = tx_out[n, tx.O_VALID], tx_out[n, tx.O_LAST]
    out[n, Y_O_VC], out[n, Y_I_CREDIT] = tx_out[n, tx.O_VC], rx_out[n, rb.O_CREDIT]
    out[n, Y_RX_EN], out[n, Y_RX_ADDR] = pa_out[n, rp.O_SRAM_EN], pa_out[n, rp.O_SRAM_ADDR]
    out[n, Y_DMA_EN], out[n, Y_DMA_ADDR] = dm_out[n, dm.O_SRAM_EN], dm_out[n, dm.O_SRAM_ADDR]
    out[n, Y_CMD_EN], out[n, Y_CMD_ADDR] = cp_out[n, cp.O_SRAM_EN], cp_out[n, cp.O_SRAM_ADDR]
    out[n, Y_WR_EN], out[n, Y_WR_ADDR] = sk_out[n, ap.O_WR_EN], sk_out[n, ap.O_WR_ADDR]
    out[n, Y_PULL_EN] = pw_out[n, pw.O_WR_EN] if P[NP_PULL] else 0
    out[n, Y_PULL_ADDR] = pw_out[n, pw.O_WR_ADDR] if P[NP_PULL] else 0
    out[n, Y_EXEC_START] = exec_start
    out[n, Y_ERRORS] = regs[n, G_ERRORS]
    out[n, Y_STATUS] = _status(n, ins, dm_out, rx_out)


@njit(cache=True, _nrt=False, inline="always")
def _register(n, index, ins, sems, regs, dm_out, rx_out, cp_qo, SF, P):
    """Register ``index`` of the register space (-1: not a register, the read holds)."""
    S = P[NP_SEMS]
    if index < S:
        return sems[n, index]
    k = index - S
    if k < 3:
        return regs[n, G_ERRORS + k]                   # errors, responses, execs
    if k == 3:
        return ins[n, N_EXEC_CYCLES]
    if k == 4:
        return ins[n, N_EXEC_STEPS]
    if k == 5:
        return _status(n, ins, dm_out, rx_out)
    if k == 6:
        return 0                                       # cmd_ctrl reads as 0
    q = k - 7
    if q < QUEUES:
        return ((cp_qo[n, q, cp.H_STATE] << SF[0]) | (cp_qo[n, q, cp.H_CODE] << SF[3])
                | (cp_qo[n, q, cp.H_PC] << SF[6]))
    c = q - QUEUES
    if c < _COUNTERS:
        return ins[n, N_COUNTER_FLITS_LOCAL + c] & _REG_MASK   # the node's event counters
    return -1


@njit(cache=True, _nrt=False, inline="always")
def ni_clock(n, RX, PA, SK, DM, CP, WR, TX, PW, NI, PS):
    """Node ``n``'s clock edge, after :func:`ni_outputs` of the cycle."""
    rx_st, rx_marks, rx_slots, rx_in, rx_out, rx_vc_out, rx_head = RX
    pa_st, pa_in, pa_out, pa_resp, pa_line, pa_ctrl, pa_desc = PA
    sk_st, sk_in, sk_out, sk_lines, sk_wr_line, sk_su, sk_sf = SK
    dm_st, dm_in, dm_out, dm_flit = DM
    cp_q, cp_owner, cp_lines_in, cp_in, cp_out, cp_qo = CP
    wr_slots, wr_slot_in, wr_in, wr_out, wr_flit = WR
    tx_st, tx_lasts, tx_in, tx_out, tx_slots, tx_flits_in, tx_link = TX
    pw_st, pw_in, pw_vc_in, pw_flits, pw_out, pw_wr_line = PW
    ins, out, link_data, rx_data, dma_data, cmd_data, sems, regs = NI
    rxP, paP, paH, skM, dmP, dmH, cpP, cpDF, wrP, wrH, txP, pwP, pwH, PF, EF, CF, SF, P = PS
    # the register read (of the values before the edge, as the RTL's switch)
    value = _register(n, pa_out[n, rp.O_REG_ADDR], ins, sems, regs, dm_out, rx_out, cp_qo,
                      SF, P)
    if value >= 0:
        regs[n, G_REG_Q] = value
    pull_done = P[NP_PULL] != 0 and pw_out[n, pw.O_DONE] != 0
    top, lost = P[NP_COUNTER_TOP], 0
    for i in range(P[NP_SEMS]):
        inc = ((1 if pa_out[n, rp.O_SEM_INC] != 0 and pa_out[n, rp.O_SEM] == i else 0)
               + (1 if pull_done and pw_out[n, pw.O_DONE_SEM] == i else 0))
        dec = (cp_out[n, cp.O_SEM_DEC_N]
               if cp_out[n, cp.O_SEM_DEC] != 0 and cp_out[n, cp.O_SEM_DEC_IDX] == i else 0)
        nxt = sems[n, i] + inc - dec
        if P[NP_MUTANT] == 1:
            sems[n, i] = nxt & top
        else:
            sems[n, i] = min(nxt, top)
            lost += max(nxt - top, 0) & 3
    regs[n, G_ERRORS] = (regs[n, G_ERRORS] + pa_out[n, rp.O_ERROR] + cp_out[n, cp.O_CTRL_ERROR]
                         + lost) & _REG_MASK
    drained = pa_out[n, rp.O_DRAINED] + (pw_out[n, pw.O_DRAINED] if P[NP_PULL] else 0)
    regs[n, G_RESPONSES] = (regs[n, G_RESPONSES] + drained) & _REG_MASK
    regs[n, G_EXECS] = (regs[n, G_EXECS] + ins[n, N_EXEC_DONE]) & _REG_MASK
    if regs[n, G_EXEC_START]:
        regs[n, G_CMD_OWNS] = regs[n, G_CMD_EXEC]
        regs[n, G_ENG_ACK] = 1 if pa_out[n, rp.O_EXEC_START] and pa_out[n, rp.O_ACK] else 0
    rx_clock(n, rx_st, rx_marks, rx_slots, rx_in, link_data, True, rxP)
    parser_clock(n, pa_st, pa_in, rx_vc_out, rx_head, pa_desc, pa_out, paP, paH)
    add_clock(n, sk_st, sk_in, P[NP_TIMING_ONLY] == 0, sk_lines, pa_line, rx_data, sk_wr_line,
              sk_su, sk_sf, skM)
    dma_clock(n, dm_st, dm_in, dm_out, dmP)
    cp_clock(n, cp_q, cp_owner, cp_lines_in, cp_in, cmd_data, cp_qo, cpP, cpDF)
    resp_clock(n, wr_slots, wr_slot_in, wr_out)
    tx_clock(n, tx_st, tx_lasts, tx_in, tx_out, txP, True, tx_slots, tx_flits_in, tx_link)
    if P[NP_PULL]:
        pull_clock(n, pw_st, pw_in, pw_vc_in, pw_flits, pw_out, pwP, pwH)


@njit(cache=True, _nrt=False)
def _outputs_all(RX, PA, SK, DM, CP, WR, TX, PW, NI, PS):
    for n in range(NI[0].shape[0]):
        ni_outputs(n, RX, PA, SK, DM, CP, WR, TX, PW, NI, PS)


@njit(cache=True, _nrt=False)
def _clock_all(RX, PA, SK, DM, CP, WR, TX, PW, NI, PS):
    for n in range(NI[0].shape[0]):
        ni_clock(n, RX, PA, SK, DM, CP, WR, TX, PW, NI, PS)


class NetworkInterfaces:
    """The network interfaces of ``nodes`` nodes.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    vcs, credits, max_packet_flits, mesh_x, mesh_y : int
        As :class:`rtl.node.ni.NetworkInterface`'s (``flit_bits`` a multiple of 64).
    mutant : str
        One of :data:`MUTANTS` (tests only).
    cmd_mutant : str
        One of :data:`.command_processor.MUTANTS`, for the command processor (tests only).
    timing_only : bool
        Sums of ADDs not computed (see the module docstring).
    words : int, optional
        uint64 words kept of each flit and line (the whole flit by default).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); link_data : (nodes, words)
    rx_data, dma_data, cmd_data : ndarray (nodes, words)
        The inputs of the cycle (the SRAM ports' data: the line each port read last).
    outputs : ndarray (nodes, len(OUTPUTS))
        After :meth:`outputs_of_cycle`; the link's flit is ``tx.link_data``, the write
        ports' lines ``sink.wr_line`` and ``pull.wr_line``.
    sems : ndarray (nodes, sems)
        The completion counters.
    regs : ndarray (nodes, len(REGS))
        ``errors``, ``responses``, ``execs``, the register read, and what the edge needs.
    """

    def __init__(self, *, nodes, layouts, vcs, credits, max_packet_flits, mesh_x, mesh_y,
                 mutant="none", cmd_mutant="none", timing_only=False, words=None):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        lay, W = layouts, layouts.fmt.flit_bits
        words = words or -(-W // 64)
        resp = response_vcs(vcs)
        self.rx = rb.RxBuffers(nodes=nodes, fmt=lay.fmt, vcs=vcs, credits=credits,
                               depth=max(max_packet_flits + 3, credits), words=words)
        self.parser = rp.RequestParsers(nodes=nodes, layouts=lay, vcs=vcs,
                                        max_packet_flits=max_packet_flits, words=words)
        self.sink = ap.AddPipelines(nodes=nodes, width=W, data=not timing_only, words=words)
        self.dma = dm.PushDmas(nodes=nodes, layouts=lay, max_packet_flits=max_packet_flits,
                               mesh_x=mesh_x, mesh_y=mesh_y, words=words)
        self.cmd = cp.CommandProcessors(nodes=nodes, layouts=lay, mesh_x=mesh_x,
                                        mesh_y=mesh_y, pull=vcs >= 2, words=words,
                                        mutant=cmd_mutant)
        self.writer = rw.ResponseWriters(nodes=nodes, layouts=lay, slots=3 + QUEUES,
                                         words=words)
        self.tx = tx.LinkTxs(nodes=nodes, flit_bits=W, vcs=vcs, credits=credits, words=words)
        # with one VC there is no response sink: its step is skipped, its arrays stand in
        self.pull = (pw.PullWriters(nodes=nodes, layouts=lay, vcs=len(resp), words=words)
                     if vcs >= 2 else None)
        stand_in = self.pull or pw.PullWriters(nodes=nodes, layouts=lay, vcs=1, words=words)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.link_data, self.rx_data, self.dma_data, self.cmd_data = (
            np.zeros((nodes, words), np.uint64) for _ in range(4))
        self.sems = np.zeros((nodes, lay.sems), np.int64)
        self.regs = np.zeros((nodes, len(REGS)), np.int64)
        r, p, s, d, c, w, t, u = (self.rx, self.parser, self.sink, self.dma, self.cmd,
                                  self.writer, self.tx, stand_in)
        self.arrays = (
            (r.state, r.marks, r.slots, r.inputs, r.outputs, r.vc_out, r.head),
            (p.state, p.inputs, p.outputs, p.resp_flit, p.line_data, p.ctrl_data, p.desc),
            (s.state, s.inputs, s.outputs, s.lines, s.wr_line, s._su, s._sf),
            (d.state, d.inputs, d.outputs, d.flit),
            (c.queues, c.owner, c.lines_in, c.inputs, c.outputs, c.queue_out),
            (w.slots, w.slot_in, w.inputs, w.outputs, w.flit),
            (t.state, t.lasts, t.inputs, t.outputs, t.slots, t.flits_in, t.link_data),
            (u.state, u.inputs, u.vc_in, u.flits, u.outputs, u.wr_line),
            (self.inputs, self.outputs, self.link_data, self.rx_data, self.dma_data,
             self.cmd_data, self.sems, self.regs))
        self.params = (
            r.params, p.params, p.heads, s.mutant, d.params, d.heads, c.params, c.fields,
            w.params, w.heads, t.params, u.params, u.heads,
            layout_fields(lay.push_desc, cp.PUSH_DESC),
            layout_fields(lay.exec_desc, cp.EXEC_DESC),
            layout_fields(lay.cmd_ctrl, ("start", "abort")
                          + tuple(f"pc{q}" for q in range(QUEUES))),
            layout_fields(lay.cmd_status, ("state", "code", "pc")),
            (lay.sems, (1 << lay.counter_bits) - 1, int(vcs >= 2), resp[0], len(resp),
             len(request_vcs(vcs)), MUTANTS[mutant], int(timing_only)))

    def outputs_of_cycle(self):
        """Every node's NI outputs from its state and the inputs of the cycle."""
        _outputs_all(*self.arrays, self.params)

    def clock(self):
        """Every node's clock edge, after :meth:`outputs_of_cycle`."""
        _clock_all(*self.arrays, self.params)
