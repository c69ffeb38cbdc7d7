"""The NI's PUSH engine (:class:`rtl.node.push_dma.PushDma`) in the fast engine: SRAM lines
to a remote node as WRITE/ADD packets, a signal (a WRITE of no lines), or a PULL's READs.

:func:`dma_outputs` (combinational): ``desc_ok`` of the descriptor input, ``busy``,
``done``, the SRAM read request, the queue write (``q_en``, ``q_last``) and its flit: a head
built from the latched descriptor with the bit positions of the RTL's own layouts
(:func:`head_fields`), or the line read the cycle before (the data half).
:func:`dma_clock`: the FSM (IDLE, HEAD, DATA) at the edge, from ``start`` and the queue's
``rdy``/``level``. A head goes out when the queue has room, then one line per cycle, the
SRAM reads issued ahead only as far as the queue has room.

State: control in ``state[node, M_*]`` (the latched descriptor, addresses, lines left, the
read in flight); heads are control (the network routes them in a timing-only run); body
lines are data (``sram_data[node]`` in, ``flit[node]`` out).
"""

import numpy as np
from numba import njit

from rtl.net.packet import MsgClass, Opcode
from sim.netmodel.node.fields import copy_row, define, layout_fields, put_bits

__all__ = ["dma_quiescent", "PushDmas", "dma_outputs", "dma_clock", "head_fields", "MUTANTS", "INPUTS",
           "OUTPUTS", "PUSH_DESC"]

MUTANTS = {"none": 0,
           "reads_ahead_of_room": 1}     # an SRAM read issued when the queue is full

PUSH_DESC = ("src_addr", "count", "dst_x", "dst_y", "dst_addr", "add", "dtype", "sem_inc",
             "sem")
define(globals(), ("idle", "head", "data"), "S_")
define(globals(), ("lines", "addr_bits", "max_len", "mesh_x", "mesh_y", "depth", "width",
                   "mutant"), "P_")
#: control state: the FSM, the latched descriptor (DS_), source / destination addresses,
#: lines left, lines of this packet still to read, tag, ack, read (a PULL), a line read last
#: cycle, and whether it is the packet's last
STATE = define(globals(), ("fsm",) + tuple("ds_" + f for f in PUSH_DESC)
               + ("src", "dst", "left", "chunk", "tag", "ack", "read", "pend", "pend_last"),
               "M_")
INPUTS = define(globals(), ("x", "y") + tuple("d_" + f for f in PUSH_DESC)
                + ("tag", "ack", "read", "start", "q_rdy", "q_level"), "I_")
OUTPUTS = define(globals(), ("desc_ok", "busy", "done", "sram_en", "sram_addr", "q_en",
                             "q_last"), "O_")
#: head bit fields (``(offset, width, signed)`` at ``3 * H_NAME``): the head, the store_info
#: and the read_info fields (at the info field's offset)
HEAD = ("dst_x", "dst_y", "src_x", "src_y", "mclass", "opcode", "length")
STORE_INFO = ("addr", "tag", "sem_inc", "sem", "dtype")
READ_INFO = ("addr", "count", "tag")
define(globals(), HEAD + tuple("store_" + f for f in STORE_INFO)
       + tuple("read_" + f for f in READ_INFO), "H_")
_REQUEST = MsgClass.REQUEST.value
_READ, _WRITE, _ADD = Opcode.READ.value, Opcode.WRITE.value, Opcode.ADD.value


def head_fields(layouts):
    """The :data:`HEAD`, store_info and read_info bit fields of ``layouts``, one tuple."""
    info = layout_fields(layouts.fmt.head, ("info",))[0]
    out = layout_fields(layouts.fmt.head, HEAD)
    for layout, names in ((layouts.store_info, STORE_INFO), (layouts.read_info, READ_INFO)):
        fields = layout_fields(layout, names)
        out += tuple(v + info if i % 3 == 0 else v for i, v in enumerate(fields))
    return out


@njit(cache=True, _nrt=False, inline="always")
def _put(flit, n, H, field, value):
    """Field ``field`` (an ``H_`` constant) of the flit ``flit[n]`` <- ``value``."""
    put_bits(flit[n], H[3 * field], H[3 * field + 1], value)


@njit(cache=True, _nrt=False, inline="always")
def _chunk(st, n, P):
    return min(st[n, M_LEFT], P[P_MAX_LEN] - 1)


@njit(cache=True, _nrt=False, forceinline=True)
def dma_outputs(n, st, inputs, out, flit, sram_data, data, P, H):
    """Node ``n``'s combinational outputs and the flit of the cycle (see the docstring)."""
    lines, amask = P[P_LINES], (1 << P[P_ADDR_BITS]) - 1
    out[n, :] = 0
    flit[n, :] = 0
    count = inputs[n, I_D_COUNT]
    out[n, O_DESC_OK] = ((count != 0 or inputs[n, I_D_SEM_INC] != 0)
                         and inputs[n, I_D_SRC_ADDR] + count <= lines
                         and inputs[n, I_D_DST_ADDR] + count <= lines
                         and inputs[n, I_D_DST_X] < P[P_MESH_X]
                         and inputs[n, I_D_DST_Y] < P[P_MESH_Y])
    fsm = st[n, M_FSM]
    if fsm == S_HEAD:
        out[n, O_BUSY] = 1
        chunk = _chunk(st, n, P)
        if inputs[n, I_Q_RDY]:
            out[n, O_Q_EN] = 1
            for f, v in ((H_DST_X, st[n, M_DS_DST_X]), (H_DST_Y, st[n, M_DS_DST_Y]),
                         (H_SRC_X, inputs[n, I_X]), (H_SRC_Y, inputs[n, I_Y]),
                         (H_MCLASS, _REQUEST)):
                _put(flit, n, H, f, v)
            if st[n, M_READ]:
                for f, v in ((H_OPCODE, _READ), (H_LENGTH, 1), (H_READ_ADDR, st[n, M_SRC]),
                             (H_READ_COUNT, chunk), (H_READ_TAG, st[n, M_TAG])):
                    _put(flit, n, H, f, v)
                out[n, O_Q_LAST] = 1
                if st[n, M_LEFT] == chunk:
                    out[n, O_DONE] = st[n, M_ACK]
            else:
                last = 1 if st[n, M_LEFT] == chunk else 0
                for f, v in ((H_OPCODE, _ADD if st[n, M_DS_ADD] else _WRITE),
                             (H_LENGTH, chunk + 1), (H_STORE_ADDR, st[n, M_DST]),
                             (H_STORE_TAG, st[n, M_TAG]),
                             (H_STORE_SEM_INC, st[n, M_DS_SEM_INC] & last),
                             (H_STORE_SEM, st[n, M_DS_SEM]), (H_STORE_DTYPE, st[n, M_DS_DTYPE])):
                    _put(flit, n, H, f, v)
                out[n, O_Q_LAST] = 1 if chunk == 0 else 0
                if chunk == 0:
                    out[n, O_DONE] = st[n, M_ACK]
    elif fsm == S_DATA:
        out[n, O_BUSY] = 1
        if st[n, M_PEND]:
            out[n, O_Q_EN], out[n, O_Q_LAST] = 1, st[n, M_PEND_LAST]
            if data:
                copy_row(flit[n], sram_data[n])
            if st[n, M_PEND_LAST] and st[n, M_LEFT] == 0:
                out[n, O_DONE] = st[n, M_ACK]
        room = inputs[n, I_Q_LEVEL] + st[n, M_PEND] < P[P_DEPTH] or P[P_MUTANT] == 1
        if st[n, M_CHUNK] != 0 and room:
            out[n, O_SRAM_EN], out[n, O_SRAM_ADDR] = 1, st[n, M_SRC] & amask


@njit(cache=True, _nrt=False, forceinline=True)
def dma_clock(n, st, inputs, out, P):
    """Node ``n``'s clock edge, after :func:`dma_outputs` of the cycle."""
    amask = (1 << P[P_ADDR_BITS]) - 1
    fsm = st[n, M_FSM]
    if fsm == S_HEAD and inputs[n, I_Q_RDY]:
        chunk = _chunk(st, n, P)
        left = st[n, M_LEFT]
        st[n, M_LEFT] = left - chunk
        if st[n, M_READ]:
            st[n, M_SRC] = (st[n, M_SRC] + chunk) & amask
            if left == chunk:
                st[n, M_FSM] = S_IDLE
        else:
            st[n, M_CHUNK] = chunk
            st[n, M_DST] = (st[n, M_DST] + chunk) & amask
            st[n, M_PEND] = 0
            st[n, M_FSM] = S_IDLE if chunk == 0 else S_DATA
    elif fsm == S_DATA:
        pend, pend_last = st[n, M_PEND], st[n, M_PEND_LAST]
        st[n, M_PEND] = out[n, O_SRAM_EN]
        if out[n, O_SRAM_EN]:
            st[n, M_PEND_LAST] = 1 if st[n, M_CHUNK] == 1 else 0
            st[n, M_CHUNK] -= 1
            st[n, M_SRC] = (st[n, M_SRC] + 1) & amask
        if pend and pend_last:
            st[n, M_FSM] = S_IDLE if st[n, M_LEFT] == 0 else S_HEAD
    elif fsm == S_IDLE and inputs[n, I_START]:
        st[n, M_FSM] = S_HEAD
    if inputs[n, I_START]:                       # the descriptor is latched in any state
        for f in range(len(PUSH_DESC)):
            st[n, M_DS_SRC_ADDR + f] = inputs[n, I_D_SRC_ADDR + f]
        st[n, M_SRC], st[n, M_DST] = inputs[n, I_D_SRC_ADDR], inputs[n, I_D_DST_ADDR]
        st[n, M_LEFT], st[n, M_TAG] = inputs[n, I_D_COUNT], inputs[n, I_TAG]
        st[n, M_ACK], st[n, M_READ] = inputs[n, I_ACK], inputs[n, I_READ]


@njit(cache=True, _nrt=False, inline="always")
def dma_quiescent(n, st):
    """Idle: only a ``start`` moves it."""
    return st[n, M_FSM] == S_IDLE


@njit(cache=True, _nrt=False)
def _outputs_all(st, inputs, out, flit, sram_data, data, P, H):
    for n in range(st.shape[0]):
        dma_outputs(n, st, inputs, out, flit, sram_data, data, P, H)


@njit(cache=True, _nrt=False)
def _clock_all(st, inputs, out, P):
    for n in range(st.shape[0]):
        dma_clock(n, st, inputs, out, P)


class PushDmas:
    """The push DMAs of ``nodes`` nodes (the parameters of
    :class:`rtl.node.push_dma.PushDma`; ``data``: False for timing only, body lines zero;
    ``words``: uint64 words kept of each flit, the whole flit by default).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); sram_data : (nodes, words)
        The inputs of the cycle (the descriptor's fields as ``d_<field>``).
    outputs : ndarray (nodes, len(OUTPUTS)); flit : (nodes, words)
        After :meth:`outputs_of_cycle`.
    """

    def __init__(self, *, nodes, layouts, max_packet_flits, mesh_x, mesh_y, queue_depth=4,
                 data=True, words=None, mutant="none"):
        if tuple(name for name, _ in layouts.push_desc) != PUSH_DESC:
            raise ValueError("push_desc's members changed: update the model's copy")
        W = layouts.fmt.flit_bits
        words = words or -(-W // 64)
        self.params = tuple(int(v) for v in (layouts.lines, layouts.addr_bits,
                                             max_packet_flits, mesh_x, mesh_y, queue_depth, W,
                                             MUTANTS[mutant]))
        self.heads = head_fields(layouts)
        self.data = data
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.flit = np.zeros((nodes, words), np.uint64)
        self.sram_data = np.zeros((nodes if data else 1, words), np.uint64)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.inputs, self.outputs, self.flit, self.sram_data,
                     self.data, self.params, self.heads)

    def clock(self):
        _clock_all(self.state, self.inputs, self.outputs, self.params)
