"""The NI's request parser (:class:`rtl.node.request_parser.RequestParser`) in the fast
engine: whole packets taken round-robin from the request VCs, checked at their head, then
consumed at one flit per cycle (WRITE/ADD lines to the ADD pipeline, READs answered with
READ_RESP flits, PUSH/EXEC descriptors collected and handed on, ``cmd_ctrl`` writes, and
anything malformed dropped whole).

One cycle is two step functions:

* :func:`rp_outputs` (combinational, from the state and the inputs of the cycle: the VC
  heads, the response queue's room and level, the DMA's and the engine's ``free``/``ok``,
  the DONE slot's ``pending``, the register and SRAM read data): every output of the block
  in ``out[node, O_*]`` (the VC pops as a bit mask) and the flits ``line_data``,
  ``resp_data``, ``ctrl_data`` (zero when not driven, as in the RTL), and the state the
  clock edge will load (``nxt[node]``): the RTL's FSM (IDLE, BODY, READ, CTRL, DESC, CHECK,
  DRAIN) decides both in the same branches, so they are computed together.
* :func:`rp_clock` (the edge): the state takes ``nxt``; in DESC the head flit goes into the
  descriptor register ``desc[node, flit]`` (the data half).

The registered outputs (``src_x``, ``src_y``, ``tag``, ``ack``, ``reg_addr``) are copied
into ``out`` from the state. Head fields are read at the positions of the RTL's layouts
(:func:`request_fields`, and the response writer's for the READ_RESP head).

Timing that depends on data: every head field (opcode, length, addresses, counts, ``ack``)
decides what the parser does and for how long, and a READ of the register space answers
with register values; a timing-only run keeps request heads (the lines of a WRITE/ADD and
the descriptors' values are the only data it may drop, but the descriptors decide the
DMA's and the engine's work).
"""

import numpy as np
from numba import njit

from rtl.net.packet import MsgClass, Opcode
from rtl.node.layouts import COUNT_BITS, Dtype, NodeLayouts
from sim.netmodel.node.fields import define, get_bits, layout_fields, put_bits
from sim.netmodel.node.response_writer import (H_DST_X, H_DST_Y, H_INFO_ADDR, H_INFO_REQ_OP,
                                               H_INFO_TAG, H_LENGTH, H_MCLASS, H_OPCODE,
                                               H_SRC_X, H_SRC_Y)
from sim.netmodel.node.response_writer import head_fields as resp_head_fields
from sim.netmodel.node.rx_buffer import V_BAD, V_END, V_LAST, V_READY, VC_OUTPUTS

__all__ = ["RequestParsers", "rp_outputs", "rp_clock", "MUTANTS", "STATE", "INPUTS", "OUTPUTS",
           "request_fields", "round_robin"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "read_ignores_room": 1,      # READ lines issued without the response queue's room
           "store_one_line_over": 2}    # a WRITE/ADD may end one line past the SRAM

#: the FSM's states
define(globals(), ("idle", "body", "read", "ctrl", "desc", "check", "drain"), "S_")
#: parameters (``params`` tuple)
PARAMS = define(globals(), ("vcs", "rx_vcs", "max_len", "resp_depth", "lines", "addr_bits",
                            "regs", "ctrl_index", "push_flits", "exec_flits", "desc_words",
                            "flit_bits", "mutant"), "P_")
#: the registers
STATE = define(globals(), ("fsm", "mask", "cur_vc", "src_x", "src_y", "op", "drain_resp",
                           "tag", "ack", "addr", "start", "add", "fp", "sem_inc", "sem",
                           "left", "pending", "pend_last", "pend_reg", "desc_i"), "ST_")
#: inputs per node (the request VCs' heads come as the input buffer's ``vc_out[node, vc,
#: V_*]`` and ``head[node, vc]``, :mod:`.rx_buffer`; the SRAM's read data as
#: ``sram_data[node]``)
INPUTS = define(globals(), ("x", "y", "resp_rdy", "resp_level", "dma_free", "dma_ok",
                            "exec_free", "exec_ok", "pending", "reg_data"), "I_")
#: outputs per node
OUTPUTS = define(globals(), (
    "pop", "sram_en", "sram_addr", "line_valid", "line_add", "line_fp", "line_addr",
    "resp_en", "resp_last", "resp_hold", "done_load", "done_arm", "done_x", "done_y",
    "done_tag", "done_opcode", "done_addr", "src_x", "src_y", "tag", "ack", "dma_start",
    "exec_start", "error", "sem_inc", "sem", "drained", "reg_addr", "ctrl_wr", "dma_want",
    "exec_want", "desc_wr"), "O_")

#: the request head's fields the parser reads (``(offset, width, signed)`` at ``3 * F_NAME``
#: of :func:`request_fields`; the info layouts' fields at the info field's offset)
HEAD_IN = ("src_x", "src_y", "mclass", "opcode", "length")
INFO_IN = (("store_info", ("addr", "tag", "ack", "sem_inc", "sem", "dtype")),
           ("read_info", ("addr", "count", "tag")),
           ("ctl_info", ("tag", "ack")))
define(globals(), HEAD_IN + tuple(lay.replace("info", name) for lay, names in INFO_IN
                                  for name in names), "F_")

_REQUEST, _RESPONSE = MsgClass.REQUEST.value, MsgClass.RESPONSE.value
_WRITE, _READ, _READ_RESP, _ADD, _PUSH, _EXEC = (Opcode[n].value for n in (
    "WRITE", "READ", "READ_RESP", "ADD", "PUSH", "EXEC"))
_FP32 = Dtype.FP32.value
_COUNT_MASK = (1 << COUNT_BITS) - 1


def request_fields(layouts):
    """The bit fields of :data:`HEAD_IN` and :data:`INFO_IN` in ``layouts``, one tuple."""
    info = layout_fields(layouts.fmt.head, ("info",))[0]
    out = layout_fields(layouts.fmt.head, HEAD_IN)
    for lay, names in INFO_IN:
        fields = layout_fields(getattr(layouts, lay), names)
        out += tuple(v + info if i % 3 == 0 else v for i, v in enumerate(fields))
    return out


@njit(cache=True, inline="always")
def _field(head, F, field):
    """Field ``field`` (an ``F_`` constant) of the head flit ``head``."""
    return get_bits(head, F[3 * field], F[3 * field + 1])


@njit(cache=True, inline="always")
def round_robin(requests, mask, n):
    """A :class:`rtl.net.arbiter.RoundRobinArbiter` of ``n`` inputs: the one-hot grant of
    ``requests`` (bit masks) under the thermometer ``mask`` (reset: all ``n`` bits set) and
    the mask after an advance on it (every bit above the grant; unchanged on no request)."""
    if n == 1:
        return requests, mask
    hi = requests & mask
    pick = hi if hi else requests
    grant = pick & -pick
    return grant, (((1 << n) - 1) & ~((grant << 1) - 1)) if requests else mask


@njit(cache=True, inline="always")
def _set_done(n, out, x, y, tag, opcode, addr):
    out[n, O_DONE_LOAD] = 1
    out[n, O_DONE_ARM] = 1
    out[n, O_DONE_X] = x
    out[n, O_DONE_Y] = y
    out[n, O_DONE_TAG] = tag
    out[n, O_DONE_OPCODE] = opcode
    out[n, O_DONE_ADDR] = addr


@njit(cache=True, inline="always")
def _idle(n, st, nx, heads, head_data, inputs, out, resp_data, P, F, H):
    """IDLE: take the head of the VC the arbiter grants, check it, start on it."""
    A = P[P_ADDR_BITS]
    amask, space_mask = (1 << A) - 1, (1 << (A + 1)) - 1
    requests = 0
    for v in range(P[P_RX_VCS]):
        if heads[n, v, V_READY]:
            requests |= 1 << v
    grant, mask = round_robin(requests, st[ST_MASK], P[P_RX_VCS])
    if grant == 0 or inputs[n, I_PENDING]:
        return
    v = 0
    while grant >> v != 1:
        v += 1
    h = head_data[n, v]
    src_x, src_y = _field(h, F, F_SRC_X), _field(h, F, F_SRC_Y)
    mclass, op, length = _field(h, F, F_MCLASS), _field(h, F, F_OPCODE), _field(h, F, F_LENGTH)
    sel_end = heads[n, v, V_END] != 0
    # the checks (RequestParser._checks)
    s_addr = _field(h, F, F_STORE_ADDR)
    r_addr = _field(h, F, F_READ_ADDR)
    r_count = _field(h, F, F_READ_COUNT)
    body = (length - 1) & 0x1FF                  # a 9-bit signal: length 0 wraps to 511
    ok_common = (heads[n, v, V_BAD] == 0 and length <= P[P_MAX_LEN] and mclass == _REQUEST)
    over = 1 if P[P_MUTANT] == 2 else 0
    store_ok = s_addr >> A == 0 and (s_addr & amask) + body <= P[P_LINES] + over
    read_sram_ok = r_addr >> A == 0 and (r_addr & amask) + r_count <= P[P_LINES]
    read_reg_ok = r_addr >> A == 1 and (r_addr & amask) + r_count <= P[P_REGS]
    read_ok = (length == 1 and 1 <= r_count <= P[P_MAX_LEN] - 1
               and (read_sram_ok or read_reg_ok))
    resp = P[P_VCS] == 1 and mclass == _RESPONSE
    store = ok_common and (op == _WRITE or op == _ADD) and store_ok
    ctrl = (ok_common and op == _WRITE and s_addr >> A == 1
            and (s_addr & amask) == P[P_CTRL_INDEX] and length == 2)
    read = ok_common and op == _READ and read_ok
    ctl = ok_common and ((op == _PUSH and length == 1 + P[P_PUSH_FLITS])
                         or (op == _EXEC and length == 1 + P[P_EXEC_FLITS]))
    nx[ST_CUR_VC], nx[ST_SRC_X], nx[ST_SRC_Y], nx[ST_OP] = v, src_x, src_y, op
    nx[ST_DRAIN_RESP] = 1 if resp else 0
    go = False
    if read:
        if inputs[n, I_RESP_RDY]:
            go = True
            out[n, O_RESP_EN] = 1
            for f, v in ((H_DST_X, src_x), (H_DST_Y, src_y), (H_SRC_X, inputs[n, I_X]),
                         (H_SRC_Y, inputs[n, I_Y]), (H_MCLASS, _RESPONSE),
                         (H_OPCODE, _READ_RESP), (H_LENGTH, r_count + 1),
                         (H_INFO_TAG, _field(h, F, F_READ_TAG)), (H_INFO_REQ_OP, _READ),
                         (H_INFO_ADDR, r_addr)):
                put_bits(resp_data[n], H[3 * f], H[3 * f + 1], v)
            nx[ST_ADDR], nx[ST_LEFT], nx[ST_PENDING] = r_addr, r_count, 0
            nx[ST_FSM] = S_READ
    else:
        go = True
        if resp:
            out[n, O_DRAINED] = 1 if sel_end else 0
            if not sel_end:
                nx[ST_FSM] = S_DRAIN
        elif store:
            s_tag, s_ack = _field(h, F, F_STORE_TAG), _field(h, F, F_STORE_ACK)
            s_sem_inc, s_sem = _field(h, F, F_STORE_SEM_INC), _field(h, F, F_STORE_SEM)
            nx[ST_TAG], nx[ST_ACK], nx[ST_ADDR], nx[ST_START] = s_tag, s_ack, s_addr, s_addr
            nx[ST_ADD] = 1 if op == _ADD else 0
            nx[ST_FP] = 1 if _field(h, F, F_STORE_DTYPE) == _FP32 else 0
            nx[ST_SEM_INC], nx[ST_SEM] = s_sem_inc, s_sem
            if sel_end:                          # no body: completion only
                out[n, O_SEM_INC], out[n, O_SEM] = s_sem_inc, s_sem
                if s_ack:
                    _set_done(n, out, src_x, src_y, s_tag, op, s_addr & space_mask)
            else:
                nx[ST_FSM] = S_BODY
        elif ctrl:
            nx[ST_TAG], nx[ST_ACK] = _field(h, F, F_STORE_TAG), _field(h, F, F_STORE_ACK)
            nx[ST_START] = s_addr
            nx[ST_FSM] = S_CTRL
        elif ctl:
            nx[ST_TAG], nx[ST_ACK] = _field(h, F, F_CTL_TAG), _field(h, F, F_CTL_ACK)
            nx[ST_DESC_I] = 0
            nx[ST_FSM] = S_DESC
        else:
            out[n, O_ERROR] = 1
            if not sel_end:
                nx[ST_FSM] = S_DRAIN
    if go:
        out[n, O_POP] = grant
        nx[ST_MASK] = mask


@njit(cache=True, inline="always")
def rp_outputs(n, state, nxt, heads, head_data, inputs, sram_data, out, line_data, resp_data,
               ctrl_data, P, F, H):
    """Node ``n``'s outputs and next state (see the module docstring)."""
    A = P[P_ADDR_BITS]
    amask, space_mask = (1 << A) - 1, (1 << (A + 1)) - 1
    st, nx = state[n], nxt[n]
    nx[:] = st
    out[n, :] = 0
    line_data[n] = 0
    resp_data[n] = 0
    ctrl_data[n] = 0
    fsm, cur = st[ST_FSM], st[ST_CUR_VC]
    cur_end, cur_last = heads[n, cur, V_END] != 0, heads[n, cur, V_LAST] != 0
    if fsm == S_IDLE:
        _idle(n, st, nx, heads, head_data, inputs, out, resp_data, P, F, H)
    elif fsm == S_BODY:
        out[n, O_POP] = 1 << cur
        out[n, O_LINE_VALID], out[n, O_LINE_ADD], out[n, O_LINE_FP] = 1, st[ST_ADD], st[ST_FP]
        out[n, O_LINE_ADDR] = st[ST_ADDR] & amask
        line_data[n] = head_data[n, cur]
        out[n, O_SRAM_EN], out[n, O_SRAM_ADDR] = st[ST_ADD], st[ST_ADDR] & amask
        nx[ST_ADDR] = (st[ST_ADDR] + 1) & space_mask
        if cur_end:
            out[n, O_SEM_INC], out[n, O_SEM] = st[ST_SEM_INC], st[ST_SEM]
            if st[ST_ACK]:
                _set_done(n, out, st[ST_SRC_X], st[ST_SRC_Y], st[ST_TAG], st[ST_OP], st[ST_START])
            nx[ST_FSM] = S_IDLE
    elif fsm == S_READ:
        reg_space = st[ST_ADDR] >> A
        if st[ST_PENDING]:
            out[n, O_RESP_EN], out[n, O_RESP_LAST] = 1, st[ST_PEND_LAST]
            if st[ST_PEND_REG]:
                resp_data[n, 0] = inputs[n, I_REG_DATA]
            else:
                resp_data[n] = sram_data[n]
        room = inputs[n, I_RESP_LEVEL] + st[ST_PENDING] < P[P_RESP_DEPTH]
        can = st[ST_LEFT] != 0 and (room or P[P_MUTANT] == 1)
        nx[ST_PENDING] = 1 if can else 0
        if can:
            out[n, O_SRAM_EN], out[n, O_SRAM_ADDR] = 1 - reg_space, st[ST_ADDR] & amask
            nx[ST_LEFT] = (st[ST_LEFT] - 1) & _COUNT_MASK
            nx[ST_PEND_LAST] = 1 if st[ST_LEFT] == 1 else 0
            nx[ST_PEND_REG] = reg_space
            nx[ST_ADDR] = (st[ST_ADDR] + 1) & space_mask
        if st[ST_PENDING] and st[ST_PEND_LAST]:
            nx[ST_FSM] = S_IDLE
    elif fsm == S_CTRL:
        out[n, O_POP] = 1 << cur
        out[n, O_CTRL_WR] = 1
        ctrl_data[n] = head_data[n, cur]
        if st[ST_ACK]:
            _set_done(n, out, st[ST_SRC_X], st[ST_SRC_Y], st[ST_TAG], _WRITE, st[ST_START])
        nx[ST_FSM] = S_IDLE
    elif fsm == S_DESC:
        out[n, O_POP] = 1 << cur
        out[n, O_DESC_WR] = 1
        nx[ST_DESC_I] = st[ST_DESC_I] + 1
        if cur_end:
            nx[ST_FSM] = S_CHECK
    elif fsm == S_CHECK:
        exe = st[ST_OP] == _EXEC
        free = inputs[n, I_EXEC_FREE] if exe else inputs[n, I_DMA_FREE]
        if free:
            if inputs[n, I_EXEC_OK] if exe else inputs[n, I_DMA_OK]:
                out[n, O_EXEC_START if exe else O_DMA_START] = 1
            else:
                out[n, O_ERROR] = 1
            nx[ST_FSM] = S_IDLE
    elif fsm == S_DRAIN:
        out[n, O_POP] = 1 << cur
        if cur_end:
            out[n, O_DRAINED] = 1 if st[ST_DRAIN_RESP] and cur_last else 0
            nx[ST_FSM] = S_IDLE
    out[n, O_RESP_HOLD] = 1 if fsm == S_READ else 0
    out[n, O_DMA_WANT] = 1 if fsm == S_CHECK and st[ST_OP] == _PUSH else 0
    out[n, O_EXEC_WANT] = 1 if fsm == S_CHECK and st[ST_OP] == _EXEC else 0
    out[n, O_SRC_X], out[n, O_SRC_Y] = st[ST_SRC_X], st[ST_SRC_Y]
    out[n, O_TAG], out[n, O_ACK] = st[ST_TAG], st[ST_ACK]
    out[n, O_REG_ADDR] = st[ST_ADDR] & amask


@njit(cache=True, inline="always")
def rp_clock(n, state, nxt, out, head_data, desc, P):
    """Node ``n``'s clock edge, after :func:`rp_outputs` of the same cycle."""
    i = state[n, ST_DESC_I]
    if out[n, O_DESC_WR] and i < P[P_DESC_WORDS]:
        desc[n, i] = head_data[n, state[n, ST_CUR_VC]]
    state[n] = nxt[n]


@njit(cache=True)
def _outputs_all(state, nxt, heads, head_data, inputs, sram_data, out, line_data, resp_data,
                 ctrl_data, P, F, H):
    for n in range(state.shape[0]):
        rp_outputs(n, state, nxt, heads, head_data, inputs, sram_data, out, line_data,
                   resp_data, ctrl_data, P, F, H)


@njit(cache=True)
def _clock_all(state, nxt, out, head_data, desc, P):
    for n in range(state.shape[0]):
        rp_clock(n, state, nxt, out, head_data, desc, P)


class RequestParsers:
    """The request parsers of ``nodes`` NIs.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    vcs, max_packet_flits, resp_depth : int
        As :class:`rtl.node.request_parser.RequestParser`'s.
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    heads : ndarray (nodes, request VCs, len(.rx_buffer.HEAD_OUT)); head_data : (..., words)
    inputs : ndarray (nodes, len(INPUTS)); sram_data : (nodes, words)
        The inputs of the cycle.
    out : ndarray (nodes, len(OUTPUTS)); line_data, resp_data, ctrl_data : (nodes, words)
        After :meth:`outputs`.
    desc : ndarray (nodes, descriptor flits, words)
        The descriptor register: the PUSH/EXEC descriptor's body flits, least significant
        first (a field may straddle two flits, as in the command processor's ``lines_in``).
    """

    def __init__(self, *, nodes, layouts, vcs, max_packet_flits, resp_depth=4, mutant="none"):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        lay, W = layouts, layouts.fmt.flit_bits
        words = -(-W // 64)
        rx_vcs = max(1, vcs // 2)
        desc_words = max(lay.push_flits, lay.exec_flits)
        self.params = tuple(int(v) for v in (
            vcs, rx_vcs, max_packet_flits, resp_depth, lay.lines, lay.addr_bits,
            len(lay.registers), lay.registers.index("cmd_ctrl"), lay.push_flits,
            lay.exec_flits, desc_words, W, MUTANTS[mutant]))
        self.request_fields, self.resp_fields = request_fields(lay), resp_head_fields(lay)
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.state[:, ST_MASK] = (1 << rx_vcs) - 1      # the VC arbiter's reset
        self.nxt = self.state.copy()
        self.heads = np.zeros((nodes, rx_vcs, len(VC_OUTPUTS)), np.int64)
        self.head_data = np.zeros((nodes, rx_vcs, words), np.uint64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.sram_data = np.zeros((nodes, words), np.uint64)
        self.out = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.line_data = np.zeros((nodes, words), np.uint64)
        self.resp_data = np.zeros((nodes, words), np.uint64)
        self.ctrl_data = np.zeros((nodes, words), np.uint64)
        self.desc = np.zeros((nodes, desc_words, words), np.uint64)

    def outputs(self):
        """Every node's outputs and next state from its state and the inputs of the cycle."""
        _outputs_all(self.state, self.nxt, self.heads, self.head_data, self.inputs,
                     self.sram_data, self.out, self.line_data, self.resp_data, self.ctrl_data,
                     self.params, self.request_fields, self.resp_fields)

    def clock(self):
        """Every node's clock edge."""
        _clock_all(self.state, self.nxt, self.out, self.head_data, self.desc, self.params)
