"""The NI's response writer (:class:`rtl.node.response_writer.ResponseWriter`) in the fast
engine: READ_RESP flits into the response queue first, else one pending DONE.

Each DONE source has a slot (``slots[node, slot, D_*]``: pending, destination, tag, the
request's opcode and address), loaded by the source's ``load`` and armed by its ``arm``.
:func:`resp_outputs` (combinational): every slot's ``pending`` and the queue write: the
READ_RESP flit when ``rx_en``, else, while ``rx_hold`` is low and the queue has room, the
first pending slot as a one-flit DONE packet (a head built with the bit positions of the
RTL's layouts; heads are control, a timing-only run keeps them). :func:`resp_clock`: the
slots at the edge.
"""

import numpy as np
from numba import njit

from rtl.net.packet import MsgClass, Opcode
from sim.netmodel.node.fields import copy_row, define, layout_fields, put_bits

__all__ = ["resp_quiescent", "ResponseWriters", "resp_outputs", "resp_clock", "head_fields", "MUTANTS", "SLOT",
           "SLOT_INPUTS", "INPUTS", "OUTPUTS"]

MUTANTS = {"none": 0,
           "done_through_hold": 1}       # a DONE written in the middle of a READ_RESP

#: a slot's registers, and a source's inputs (``slot_in[node, slot, S_*]``)
SLOT = define(globals(), ("pending", "x", "y", "tag", "opcode", "addr"), "D_")
SLOT_INPUTS = define(globals(), ("load", "arm", "x", "y", "tag", "opcode", "addr"), "S_")
INPUTS = define(globals(), ("x", "y", "rx_en", "rx_last", "rx_hold", "q_rdy"), "I_")
OUTPUTS = define(globals(), ("q_en", "q_last", "slot"), "O_")
HEAD = ("dst_x", "dst_y", "src_x", "src_y", "mclass", "opcode", "length")
RESP_INFO = ("tag", "req_op", "addr")
define(globals(), HEAD + tuple("info_" + f for f in RESP_INFO), "H_")
_RESPONSE, _DONE = MsgClass.RESPONSE.value, Opcode.DONE.value


def head_fields(layouts):
    """The :data:`HEAD` and resp_info bit fields of ``layouts``, one tuple."""
    info = layout_fields(layouts.fmt.head, ("info",))[0]
    fields = layout_fields(layouts.resp_info, RESP_INFO)
    return layout_fields(layouts.fmt.head, HEAD) + tuple(
        v + info if i % 3 == 0 else v for i, v in enumerate(fields))


@njit(cache=True, _nrt=False, forceinline=True)
def resp_outputs(n, slots, inputs, out, flit, rx_flit, data, P, H):
    """Node ``n``'s queue write (``slot``: the DONE slot written, or -1) into ``out`` and
    ``flit[n]``; the slots' ``pending`` are ``slots[n, :, D_PENDING]``."""
    out[n, O_Q_EN], out[n, O_Q_LAST], out[n, O_SLOT] = 0, 0, -1
    flit[n, :] = 0
    if inputs[n, I_RX_EN]:
        out[n, O_Q_EN], out[n, O_Q_LAST] = 1, inputs[n, I_RX_LAST]
        if data:
            copy_row(flit[n], rx_flit[n])
    elif (not inputs[n, I_RX_HOLD] or P[0] == 1) and inputs[n, I_Q_RDY]:
        for s in range(slots.shape[1]):
            if slots[n, s, D_PENDING]:
                out[n, O_Q_EN], out[n, O_Q_LAST], out[n, O_SLOT] = 1, 1, s
                for f, v in ((H_DST_X, slots[n, s, D_X]), (H_DST_Y, slots[n, s, D_Y]),
                             (H_SRC_X, inputs[n, I_X]), (H_SRC_Y, inputs[n, I_Y]),
                             (H_MCLASS, _RESPONSE), (H_OPCODE, _DONE), (H_LENGTH, 1),
                             (H_INFO_TAG, slots[n, s, D_TAG]),
                             (H_INFO_REQ_OP, slots[n, s, D_OPCODE]),
                             (H_INFO_ADDR, slots[n, s, D_ADDR])):
                    put_bits(flit[n], H[3 * f], H[3 * f + 1], v)
                break


@njit(cache=True, _nrt=False, forceinline=True)
def resp_clock(n, slots, slot_in, out):
    """Node ``n``'s slots at the edge: loads, arms, the DONE written."""
    for s in range(slots.shape[1]):
        if slot_in[n, s, S_LOAD]:
            for f in range(5):                   # x, y, tag, opcode, addr
                slots[n, s, D_X + f] = slot_in[n, s, S_X + f]
        if slot_in[n, s, S_ARM]:
            slots[n, s, D_PENDING] = 1
    if out[n, O_SLOT] >= 0:
        slots[n, out[n, O_SLOT], D_PENDING] = 0


@njit(cache=True, _nrt=False, inline="always")
def resp_quiescent(n, slots):
    """No DONE pending (a READ's answer needs the parser, a slot's load or arm a block
    that is not idle)."""
    for s in range(slots.shape[1]):
        if slots[n, s, D_PENDING]:
            return False
    return True


@njit(cache=True, _nrt=False)
def _outputs_all(slots, inputs, out, flit, rx_flit, data, P, H):
    for n in range(slots.shape[0]):
        resp_outputs(n, slots, inputs, out, flit, rx_flit, data, P, H)


@njit(cache=True, _nrt=False)
def _clock_all(slots, slot_in, out):
    for n in range(slots.shape[0]):
        resp_clock(n, slots, slot_in, out)


class ResponseWriters:
    """The response writers of ``nodes`` nodes with ``slots`` DONE sources each
    (``data``: False for timing only, READ_RESP lines not copied).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); slot_in : (nodes, slots, len(SLOT_INPUTS));
    rx_flit : (nodes, words)
        The inputs of the cycle.
    slots : ndarray (nodes, slots, len(SLOT))
        The slots (``pending`` is the sources' input).
    outputs : ndarray (nodes, len(OUTPUTS)); flit : (nodes, words)
        After :meth:`outputs_of_cycle`.
    """

    def __init__(self, *, nodes, layouts, slots, data=True, words=None, mutant="none"):
        words = words or -(-layouts.fmt.flit_bits // 64)
        self.params = (MUTANTS[mutant],)
        self.heads = head_fields(layouts)
        self.data = data
        self.slots = np.zeros((nodes, slots, len(SLOT)), np.int64)
        self.slot_in = np.zeros((nodes, slots, len(SLOT_INPUTS)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.flit = np.zeros((nodes, words), np.uint64)
        self.rx_flit = np.zeros((nodes, words), np.uint64)

    def outputs_of_cycle(self):
        _outputs_all(self.slots, self.inputs, self.outputs, self.flit, self.rx_flit,
                     self.data, self.params, self.heads)

    def clock(self):
        _clock_all(self.slots, self.slot_in, self.outputs)
