"""The NI's request parser (:class:`rtl.node.request_parser.RequestParser`) in the fast
engine: whole packets from the input buffer's request VCs, checked at their head and
consumed one flit per cycle.

Round-robin over the request VCs whose queue holds a complete segment; the head taken is
checked in that cycle (:func:`_checks`: class, length, address ranges, opcode), then the
packet is consumed: WRITE/ADD lines to the ADD pipeline (BODY), a READ answered from the
SRAM or the registers as far as the response queue has room (READ), the one line of a
``cmd_ctrl`` write to the command processor (CTRL), a PUSH/EXEC descriptor collected (DESC)
and handed on (CHECK), anything malformed dropped whole (DRAIN); with one VC, responses
share the request VC and are drained here.

:func:`parser_outputs` (combinational, from the state and the inputs of the cycle: the VC
heads, the response queue's room, the DONE slot's ``pending``, the DMA's and engine's
``free``/``ok``) and :func:`parser_clock` (the edge). Control in ``state[node, Q_*]``
(heads are control: every field the checks read), the descriptor collected in
``desc[node, word]``; the body lines and READ answers are data (``line_data``, ``resp_flit``
from ``head``, ``sram_data`` and ``reg_data``).
"""

import numpy as np
from numba import njit, uint64

from rtl.net.packet import MsgClass, Opcode
from rtl.node.layouts import Dtype
from sim.netmodel.node.fields import copy_row, define, get_bits, layout_fields, put_bits

__all__ = ["parser_quiescent", "RequestParsers", "parser_outputs", "parser_clock", "MUTANTS", "STATE", "INPUTS",
           "VC_INPUTS", "OUTPUTS", "head_fields"]

MUTANTS = {"none": 0,
           "read_ignores_room": 1}       # a READ's lines issued with the response queue full

define(globals(), ("idle", "body", "read", "ctrl", "desc", "check", "drain"), "S_")
define(globals(), ("rx_vcs", "vcs", "addr_bits", "lines", "max_len", "n_regs", "ctrl_index",
                   "push_flits", "exec_flits", "resp_depth", "flit_bits", "mutant"), "P_")
STATE = define(globals(), (
    "fsm", "mask", "cur_vc", "src_x", "src_y", "tag", "ack", "op", "addr", "start", "add", "fp",
    "sem_inc", "sem", "left", "pending", "pend_last", "pend_reg", "desc_i", "drain_resp"), "Q_")
INPUTS = define(globals(), ("x", "y", "resp_rdy", "resp_level", "done_pending", "dma_free",
                            "dma_ok", "exec_free", "exec_ok", "reg_data"), "I_")
#: per request VC (``vc_in[node, vc, V_*]``; the head flit in ``head[node, vc]``)
VC_INPUTS = define(globals(), ("ready", "nonempty", "last", "end", "bad"), "V_")
OUTPUTS = define(globals(), (
    "pops", "sram_en", "sram_addr", "line_valid", "line_add", "line_fp", "line_addr",
    "resp_en", "resp_last", "resp_hold", "done_load", "done_arm", "done_x", "done_y",
    "done_tag", "done_opcode", "done_addr", "src_x", "src_y", "tag", "ack", "dma_start",
    "exec_start", "error", "sem_inc", "sem", "drained", "reg_addr", "ctrl_wr", "dma_want",
    "exec_want", "sel", "take", "go"), "O_")
HEAD = ("dst_x", "dst_y", "src_x", "src_y", "mclass", "opcode", "length")
INFOS = (("store_info", ("addr", "tag", "ack", "sem_inc", "sem", "dtype")),
         ("read_info", ("addr", "count", "tag")), ("ctl_info", ("tag", "ack")),
         ("resp_info", ("tag", "req_op", "addr")))
define(globals(), HEAD + tuple(f"{info.split('_')[0]}_{f}" for info, names in INFOS
                               for f in names), "H_")
_REQUEST, _RESPONSE = MsgClass.REQUEST.value, MsgClass.RESPONSE.value
_WRITE, _READ, _ADD, _PUSH, _EXEC, _READ_RESP = (Opcode[n].value for n in (
    "WRITE", "READ", "ADD", "PUSH", "EXEC", "READ_RESP"))
_FP32 = Dtype.FP32.value


def head_fields(layouts):
    """The :data:`HEAD` and info bit fields of ``layouts`` (every info layout at the head's
    ``info`` offset), one tuple."""
    info = layout_fields(layouts.fmt.head, ("info",))[0]
    out = layout_fields(layouts.fmt.head, HEAD)
    for name, names in INFOS:
        fields = layout_fields(getattr(layouts, name), names)
        out += tuple(v + info if i % 3 == 0 else v for i, v in enumerate(fields))
    return out


@njit(cache=True, _nrt=False, inline="always")
def _get(head, n, v, H, f):
    return get_bits(head[n, v], H[3 * f], H[3 * f + 1])


@njit(cache=True, _nrt=False, inline="always")
def _grant(requests, mask):
    """The round-robin grant (one-hot): the lowest request at or above the pointer, else the
    lowest."""
    hi = requests & mask
    pick = hi if hi else requests
    return pick & -pick


@njit(cache=True, _nrt=False, inline="always")
def _checks(head, n, v, bad, H, P):
    """The kind of request the head of VC ``v`` is: 1 response (one VC), 2 store, 3 ctrl,
    4 read, 5 PUSH/EXEC, 0 malformed."""
    A = P[P_ADDR_BITS]
    length, mclass, op = _get(head, n, v, H, H_LENGTH), _get(head, n, v, H, H_MCLASS), \
        _get(head, n, v, H, H_OPCODE)
    if P[P_VCS] == 1 and mclass == _RESPONSE:
        return 1
    if bad or length > P[P_MAX_LEN] or mclass != _REQUEST:
        return 0
    body = (length - 1) & 0x1FF
    saddr = _get(head, n, v, H, H_STORE_ADDR)
    if (op == _WRITE or op == _ADD) and not saddr >> A and (saddr & ((1 << A) - 1)) + body \
            <= P[P_LINES]:
        return 2
    if op == _WRITE and saddr >> A and saddr & ((1 << A) - 1) == P[P_CTRL_INDEX] and length == 2:
        return 3
    raddr, count = _get(head, n, v, H, H_READ_ADDR), _get(head, n, v, H, H_READ_COUNT)
    low = raddr & ((1 << A) - 1)
    in_range = (low + count <= P[P_LINES]) if not raddr >> A else (low + count <= P[P_N_REGS])
    if op == _READ and length == 1 and 1 <= count <= P[P_MAX_LEN] - 1 and in_range:
        return 4
    if ((op == _PUSH and length == 1 + P[P_PUSH_FLITS])
            or (op == _EXEC and length == 1 + P[P_EXEC_FLITS])):
        return 5
    return 0


@njit(cache=True, _nrt=False, inline="always")
def _done(out, n, x, y, tag, opcode, addr):
    out[n, O_DONE_LOAD] = out[n, O_DONE_ARM] = 1
    out[n, O_DONE_X], out[n, O_DONE_Y], out[n, O_DONE_TAG] = x, y, tag
    out[n, O_DONE_OPCODE], out[n, O_DONE_ADDR] = opcode, addr


@njit(cache=True, _nrt=False, forceinline=True)
def parser_outputs(n, st, inputs, vc_in, head, out, resp_flit, P, H):
    """Node ``n``'s combinational outputs; ``resp_flit[n]`` gets a READ_RESP head (the
    lines of a READ are the data half's, :func:`parser_data`)."""
    A = P[P_ADDR_BITS]
    out[n, :] = 0
    resp_flit[n, :] = 0
    fsm, cur = st[n, Q_FSM], st[n, Q_CUR_VC]
    for f, q in ((O_SRC_X, Q_SRC_X), (O_SRC_Y, Q_SRC_Y), (O_TAG, Q_TAG), (O_ACK, Q_ACK)):
        out[n, f] = st[n, q]
    out[n, O_REG_ADDR] = st[n, Q_ADDR] & ((1 << A) - 1)
    requests = 0
    for v in range(P[P_RX_VCS]):
        if vc_in[n, v, V_READY]:
            requests |= 1 << v
    grant = _grant(requests, st[n, Q_MASK]) if P[P_RX_VCS] > 1 else requests
    sel = 0
    for v in range(P[P_RX_VCS]):
        if grant >> v & 1:
            sel = v
    out[n, O_SEL] = sel
    pop_sel = pop_cur = False
    if fsm == S_IDLE:
        if grant and not inputs[n, I_DONE_PENDING]:
            out[n, O_TAKE] = 1                   # the head's fields are latched
            kind = _checks(head, n, sel, vc_in[n, sel, V_BAD], H, P)
            end = vc_in[n, sel, V_END]
            op = _get(head, n, sel, H, H_OPCODE)
            if kind == 4:
                if inputs[n, I_RESP_RDY]:
                    pop_sel = True
                    out[n, O_RESP_EN] = 1
                    count = _get(head, n, sel, H, H_READ_COUNT)
                    for f, v in ((H_DST_X, _get(head, n, sel, H, H_SRC_X)),
                                 (H_DST_Y, _get(head, n, sel, H, H_SRC_Y)),
                                 (H_SRC_X, inputs[n, I_X]), (H_SRC_Y, inputs[n, I_Y]),
                                 (H_MCLASS, _RESPONSE), (H_OPCODE, _READ_RESP),
                                 (H_LENGTH, count + 1),
                                 (H_RESP_TAG, _get(head, n, sel, H, H_READ_TAG)),
                                 (H_RESP_REQ_OP, _READ),
                                 (H_RESP_ADDR, _get(head, n, sel, H, H_READ_ADDR))):
                        put_bits(resp_flit[n], H[3 * f], H[3 * f + 1], v)
            else:
                pop_sel = True
                if kind == 1:
                    out[n, O_DRAINED] = end
                elif kind == 2:
                    if end:
                        out[n, O_SEM_INC] = _get(head, n, sel, H, H_STORE_SEM_INC)
                        out[n, O_SEM] = _get(head, n, sel, H, H_STORE_SEM)
                        if _get(head, n, sel, H, H_STORE_ACK):
                            _done(out, n, _get(head, n, sel, H, H_SRC_X),
                                  _get(head, n, sel, H, H_SRC_Y),
                                  _get(head, n, sel, H, H_STORE_TAG), op,
                                  _get(head, n, sel, H, H_STORE_ADDR))
                elif kind == 0:
                    out[n, O_ERROR] = 1
    elif fsm == S_BODY:
        pop_cur = True
        out[n, O_LINE_VALID], out[n, O_LINE_ADD], out[n, O_LINE_FP] = 1, st[n, Q_ADD], st[n, Q_FP]
        out[n, O_LINE_ADDR] = st[n, Q_ADDR] & ((1 << A) - 1)
        out[n, O_SRAM_EN], out[n, O_SRAM_ADDR] = st[n, Q_ADD], st[n, Q_ADDR] & ((1 << A) - 1)
        if vc_in[n, cur, V_END]:
            out[n, O_SEM_INC], out[n, O_SEM] = st[n, Q_SEM_INC], st[n, Q_SEM]
            if st[n, Q_ACK]:
                _done(out, n, st[n, Q_SRC_X], st[n, Q_SRC_Y], st[n, Q_TAG], st[n, Q_OP],
                      st[n, Q_START])
    elif fsm == S_READ:
        out[n, O_RESP_HOLD] = 1
        if st[n, Q_PENDING]:
            out[n, O_RESP_EN], out[n, O_RESP_LAST] = 1, st[n, Q_PEND_LAST]
        room = (inputs[n, I_RESP_LEVEL] + st[n, Q_PENDING] < P[P_RESP_DEPTH]
                or P[P_MUTANT] == 1)
        if st[n, Q_LEFT] != 0 and room:
            out[n, O_SRAM_EN] = 0 if st[n, Q_ADDR] >> A else 1
            out[n, O_SRAM_ADDR] = st[n, Q_ADDR] & ((1 << A) - 1)
            out[n, O_GO] = 2                     # a line issued (for the clock edge)
    elif fsm == S_CTRL:
        pop_cur = True
        out[n, O_CTRL_WR] = 1
        if st[n, Q_ACK]:
            _done(out, n, st[n, Q_SRC_X], st[n, Q_SRC_Y], st[n, Q_TAG], _WRITE, st[n, Q_START])
    elif fsm == S_DESC or fsm == S_DRAIN:
        pop_cur = True
        if fsm == S_DRAIN and vc_in[n, cur, V_END]:
            out[n, O_DRAINED] = 1 if st[n, Q_DRAIN_RESP] and vc_in[n, cur, V_LAST] else 0
    elif fsm == S_CHECK:
        exe = st[n, Q_OP] == _EXEC
        free = inputs[n, I_EXEC_FREE] if exe else inputs[n, I_DMA_FREE]
        ok = inputs[n, I_EXEC_OK] if exe else inputs[n, I_DMA_OK]
        if free:
            if not ok:
                out[n, O_ERROR] = 1
            elif exe:
                out[n, O_EXEC_START] = 1
            else:
                out[n, O_DMA_START] = 1
        out[n, O_DMA_WANT] = 1 if st[n, Q_OP] == _PUSH else 0
        out[n, O_EXEC_WANT] = 1 if exe else 0
    if pop_sel:
        out[n, O_GO] = 1
        out[n, O_POPS] = grant
    elif pop_cur:
        out[n, O_POPS] = 1 << cur


@njit(cache=True, _nrt=False, forceinline=True)
def parser_data(n, st, out, head, sram_data, inputs, line_data, resp_flit, ctrl_data, P):
    """The data half of the outputs: the line of a WRITE/ADD (and of a ``cmd_ctrl`` write),
    a READ's answer line."""
    cur = st[n, Q_CUR_VC]
    line_data[n] = 0
    ctrl_data[n] = 0
    if out[n, O_LINE_VALID]:
        copy_row(line_data[n], head[n, cur])
    if out[n, O_CTRL_WR]:
        copy_row(ctrl_data[n], head[n, cur])
    if st[n, Q_FSM] == S_READ and st[n, Q_PENDING]:
        if st[n, Q_PEND_REG]:
            resp_flit[n] = 0
            resp_flit[n, 0] = uint64(inputs[n, I_REG_DATA])
        else:
            copy_row(resp_flit[n], sram_data[n])


@njit(cache=True, _nrt=False, forceinline=True)
def parser_clock(n, st, inputs, vc_in, head, desc, out, P, H):
    """Node ``n``'s clock edge, after :func:`parser_outputs` of the cycle."""
    A = P[P_ADDR_BITS]
    smask = (1 << (A + 1)) - 1
    fsm, cur = st[n, Q_FSM], st[n, Q_CUR_VC]
    if out[n, O_GO] == 1 and P[P_RX_VCS] > 1:
        g = out[n, O_POPS]                       # the grant: strictly above it next time
        st[n, Q_MASK] = ((1 << P[P_RX_VCS]) - 1) & ~((g << 1) - 1)
    if fsm == S_IDLE:
        sel = out[n, O_SEL]
        if out[n, O_TAKE]:
            kind = _checks(head, n, sel, vc_in[n, sel, V_BAD], H, P)
            end = vc_in[n, sel, V_END]
            st[n, Q_CUR_VC] = sel
            st[n, Q_SRC_X], st[n, Q_SRC_Y] = _get(head, n, sel, H, H_SRC_X), \
                _get(head, n, sel, H, H_SRC_Y)
            op = _get(head, n, sel, H, H_OPCODE)
            st[n, Q_OP], st[n, Q_DRAIN_RESP] = op, 1 if kind == 1 else 0
            if kind == 4:
                if out[n, O_GO]:
                    st[n, Q_ADDR] = _get(head, n, sel, H, H_READ_ADDR)
                    st[n, Q_LEFT] = _get(head, n, sel, H, H_READ_COUNT)
                    st[n, Q_PENDING] = 0
                    st[n, Q_FSM] = S_READ
            elif kind == 1 or kind == 0:
                if not end:
                    st[n, Q_FSM] = S_DRAIN
            elif kind == 2:
                st[n, Q_TAG], st[n, Q_ACK] = _get(head, n, sel, H, H_STORE_TAG), \
                    _get(head, n, sel, H, H_STORE_ACK)
                st[n, Q_ADDR] = st[n, Q_START] = _get(head, n, sel, H, H_STORE_ADDR)
                st[n, Q_ADD] = 1 if op == _ADD else 0
                st[n, Q_FP] = 1 if _get(head, n, sel, H, H_STORE_DTYPE) == _FP32 else 0
                st[n, Q_SEM_INC] = _get(head, n, sel, H, H_STORE_SEM_INC)
                st[n, Q_SEM] = _get(head, n, sel, H, H_STORE_SEM)
                if not end:
                    st[n, Q_FSM] = S_BODY
            elif kind == 3:
                st[n, Q_TAG], st[n, Q_ACK] = _get(head, n, sel, H, H_STORE_TAG), \
                    _get(head, n, sel, H, H_STORE_ACK)
                st[n, Q_START] = _get(head, n, sel, H, H_STORE_ADDR)
                st[n, Q_FSM] = S_CTRL
            else:
                st[n, Q_TAG], st[n, Q_ACK] = _get(head, n, sel, H, H_CTL_TAG), \
                    _get(head, n, sel, H, H_CTL_ACK)
                st[n, Q_DESC_I] = 0
                st[n, Q_FSM] = S_DESC
    elif fsm == S_BODY:
        st[n, Q_ADDR] = (st[n, Q_ADDR] + 1) & smask
        if vc_in[n, cur, V_END]:
            st[n, Q_FSM] = S_IDLE
    elif fsm == S_READ:
        pending, pend_last = st[n, Q_PENDING], st[n, Q_PEND_LAST]
        issue = out[n, O_GO] == 2
        st[n, Q_PENDING] = 1 if issue else 0
        if issue:
            st[n, Q_PEND_LAST] = 1 if st[n, Q_LEFT] == 1 else 0
            st[n, Q_LEFT] -= 1
            st[n, Q_PEND_REG] = st[n, Q_ADDR] >> A
            st[n, Q_ADDR] = (st[n, Q_ADDR] + 1) & smask
        if pending and pend_last:
            st[n, Q_FSM] = S_IDLE
    elif fsm == S_CTRL:
        st[n, Q_FSM] = S_IDLE
    elif fsm == S_DESC:
        i = st[n, Q_DESC_I]
        copy_row(desc[n, i], head[n, cur])
        st[n, Q_DESC_I] = i + 1
        if vc_in[n, cur, V_END]:
            st[n, Q_FSM] = S_CHECK
    elif fsm == S_CHECK:
        exe = st[n, Q_OP] == _EXEC
        if inputs[n, I_EXEC_FREE] if exe else inputs[n, I_DMA_FREE]:
            st[n, Q_FSM] = S_IDLE
    elif fsm == S_DRAIN:
        if vc_in[n, cur, V_END]:
            st[n, Q_FSM] = S_IDLE


@njit(cache=True, _nrt=False, inline="always")
def parser_quiescent(n, st):
    """Waiting for a head (with the input buffer empty nothing is granted; the register
    read of ``O_REG_ADDR`` goes on every cycle, :func:`sim.netmodel.node.core.core_asleep`)."""
    return st[n, Q_FSM] == S_IDLE


@njit(cache=True, _nrt=False)
def _outputs_all(st, inputs, vc_in, head, out, resp_flit, sram_data, line_data, ctrl_data,
                 data, P, H):
    for n in range(st.shape[0]):
        parser_outputs(n, st, inputs, vc_in, head, out, resp_flit, P, H)
        if data:
            parser_data(n, st, out, head, sram_data, inputs, line_data, resp_flit, ctrl_data,
                        P)


@njit(cache=True, _nrt=False)
def _clock_all(st, inputs, vc_in, head, desc, out, P, H):
    for n in range(st.shape[0]):
        parser_clock(n, st, inputs, vc_in, head, desc, out, P, H)


class RequestParsers:
    """The request parsers of ``nodes`` nodes (the parameters of
    :class:`rtl.node.request_parser.RequestParser`; ``data``: False for timing only;
    ``words``: uint64 words kept of each flit, the whole flit by default).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); vc_in : (nodes, rx_vcs, len(VC_INPUTS));
    head : (nodes, rx_vcs, words); sram_data : (nodes, words)
        The inputs of the cycle.
    outputs : ndarray (nodes, len(OUTPUTS)) (``pops``: one bit per request VC);
    resp_flit, line_data, ctrl_data : (nodes, words); desc : (nodes, desc_words, words)
        After :meth:`outputs_of_cycle` (``desc``: the registered descriptor).
    """

    def __init__(self, *, nodes, layouts, vcs, max_packet_flits, resp_depth=4, data=True,
                 words=None, mutant="none"):
        lay = layouts
        words = words or -(-lay.fmt.flit_bits // 64)
        rx_vcs = max(1, vcs // 2)
        self.params = tuple(int(v) for v in (
            rx_vcs, vcs, lay.addr_bits, lay.lines, max_packet_flits, len(lay.registers),
            lay.registers.index("cmd_ctrl"), lay.push_flits, lay.exec_flits, resp_depth,
            lay.fmt.flit_bits, MUTANTS[mutant]))
        self.heads = head_fields(lay)
        self.data = data
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.state[:, STATE["mask"]] = (1 << rx_vcs) - 1
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.vc_in = np.zeros((nodes, rx_vcs, len(VC_INPUTS)), np.int64)
        self.head = np.zeros((nodes, rx_vcs, words), np.uint64)
        self.sram_data, self.resp_flit, self.line_data, self.ctrl_data = (
            np.zeros((nodes, words), np.uint64) for _ in range(4))
        self.desc = np.zeros((nodes, max(lay.push_flits, lay.exec_flits), words), np.uint64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.inputs, self.vc_in, self.head, self.outputs,
                     self.resp_flit, self.sram_data, self.line_data, self.ctrl_data,
                     self.data, self.params, self.heads)

    def clock(self):
        _clock_all(self.state, self.inputs, self.vc_in, self.head, self.desc, self.outputs,
                   self.params, self.heads)
