"""The NI's response writer (:class:`rtl.node.response_writer.ResponseWriter`) in the fast
engine: the request parser's READ_RESP flits go into the response queue at once, else the
first pending DONE slot (in index order) as a one-flit DONE packet.

One cycle is two step functions, as in the RTL:

* :func:`rw_outputs` (combinational, from the slots and the inputs of the cycle): the write
  into the response queue (``q_write[node, W_EN/W_LAST]`` and ``q_data[node]``; pass the
  link output's :data:`~.link_tx.RESP` rows to write it in place), and which slot's DONE it
  is (``written[node]``, -1 for none). A slot's ``pending`` is ``slots[node, slot,
  K_PENDING]`` (registered).
* :func:`rw_clock` (the edge): each slot samples its DONE's fields on ``load`` and becomes
  pending on ``arm``; the slot written this cycle stops being pending.

Inputs: ``inputs[node, I_*]`` (the READ_RESP flit's ``en``, ``last`` and ``hold``, the
queue's room, own coordinates) with the flit ``rx_data[node]``, and per slot
``slot_in[node, slot, S_*]``. The DONE's head is built at the positions of the RTL's layouts
(:func:`.flits.put_head`); the timing does not depend on any value.
"""

import numpy as np
from numba import njit

from rtl.net.packet import MsgClass, Opcode
from rtl.node.layouts import NodeLayouts
from sim.netmodel.node.fields import define
from sim.netmodel.node.flits import (I_RESP_ADDR, I_RESP_REQ_OP, I_RESP_TAG, head_fields,
                                     info_fields, put_head)
from sim.netmodel.node.link_tx import W_EN, W_LAST, WRITE

__all__ = ["ResponseWriters", "rw_outputs", "rw_clock", "done_info", "MUTANTS", "INPUTS",
           "SLOT_IN", "SLOT"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "done_ignores_hold": 1,      # a DONE cuts into a READ_RESP under way
           "last_slot_first": 2}        # the highest pending slot goes first

#: parameters (``params`` tuple)
define(globals(), ("mutant",), "P_")
#: inputs per node
INPUTS = define(globals(), ("rx_en", "rx_last", "rx_hold", "q_rdy", "x", "y"), "I_")
#: a DONE source's inputs (``load`` samples x..addr; ``arm``: pending from the next cycle)
SLOT_IN = define(globals(), ("load", "x", "y", "tag", "opcode", "addr", "arm"), "S_")
#: a slot's registers
SLOT = define(globals(), ("pending", "x", "y", "tag", "opcode", "addr"), "K_")
#: the fields a ``load`` samples (x .. addr, in the same order in SLOT_IN and SLOT)
_LOADED = len(SLOT) - 1

_RESPONSE, _DONE = MsgClass.RESPONSE.value, Opcode.DONE.value


@njit(cache=True, inline="always")
def done_info(IF, tag, req_op, addr):
    """A ``resp_info`` field as an int (``IF``: :func:`.flits.info_fields`)."""
    return ((tag << IF[3 * I_RESP_TAG]) | (req_op << IF[3 * I_RESP_REQ_OP])
            | (addr << IF[3 * I_RESP_ADDR]))


@njit(cache=True, inline="always")
def rw_outputs(n, slots, inputs, rx_data, q_write, q_data, written, P, H, IF):
    """Node ``n``'s write into the response queue this cycle (see the module docstring)."""
    written[n] = -1
    q_write[n, W_EN] = 0
    q_write[n, W_LAST] = 0
    q_data[n] = 0                                  # the RTL drives zero when not writing
    if inputs[n, I_RX_EN]:
        q_write[n, W_EN] = 1
        q_write[n, W_LAST] = inputs[n, I_RX_LAST]
        q_data[n] = rx_data[n]
    elif (inputs[n, I_RX_HOLD] == 0 or P[P_MUTANT] == 1) and inputs[n, I_Q_RDY]:
        count = slots.shape[1]
        for k in range(count):
            s = count - 1 - k if P[P_MUTANT] == 2 else k
            if slots[n, s, K_PENDING]:
                written[n] = s
                q_write[n, W_EN] = 1
                q_write[n, W_LAST] = 1
                put_head(q_data[n], H, slots[n, s, K_X], slots[n, s, K_Y], inputs[n, I_X],
                         inputs[n, I_Y], _RESPONSE, _DONE, 1,
                         done_info(IF, slots[n, s, K_TAG], slots[n, s, K_OPCODE],
                                   slots[n, s, K_ADDR]))
                break


@njit(cache=True, inline="always")
def rw_clock(n, slots, slot_in, written):
    """Node ``n``'s clock edge, after :func:`rw_outputs` of the same cycle."""
    for s in range(slots.shape[1]):
        if slot_in[n, s, S_LOAD]:
            for f in range(_LOADED):
                slots[n, s, K_X + f] = slot_in[n, s, S_X + f]
        if slot_in[n, s, S_ARM]:
            slots[n, s, K_PENDING] = 1
    if written[n] >= 0:
        slots[n, written[n], K_PENDING] = 0


@njit(cache=True)
def _outputs_all(slots, inputs, rx_data, q_write, q_data, written, P, H, IF):
    for n in range(slots.shape[0]):
        rw_outputs(n, slots, inputs, rx_data, q_write, q_data, written, P, H, IF)


@njit(cache=True)
def _clock_all(slots, slot_in, written):
    for n in range(slots.shape[0]):
        rw_clock(n, slots, slot_in, written)


class ResponseWriters:
    """The response writers of ``nodes`` NIs.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    slots : int
        As :class:`rtl.node.response_writer.ResponseWriter`'s.
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); rx_data : (nodes, words)
    slot_in : ndarray (nodes, slots, len(SLOT_IN))
        The inputs of the cycle.
    q_write : ndarray (nodes, len(WRITE)); q_data : (nodes, words); written : (nodes,)
        After :meth:`outputs`.
    slots : ndarray (nodes, slots, len(SLOT))
        The slots' registers (``pending`` at ``K_PENDING``).
    """

    def __init__(self, *, nodes, layouts, slots, mutant="none"):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        words = -(-layouts.fmt.flit_bits // 64)
        self.params = (MUTANTS[mutant],)
        self.head_fields, self.info_fields = head_fields(layouts.fmt), info_fields(layouts)
        self.slots = np.zeros((nodes, slots, len(SLOT)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.rx_data = np.zeros((nodes, words), np.uint64)
        self.slot_in = np.zeros((nodes, slots, len(SLOT_IN)), np.int64)
        self.q_write = np.zeros((nodes, len(WRITE)), np.int64)
        self.q_data = np.zeros((nodes, words), np.uint64)
        self.written = np.zeros(nodes, np.int64)

    def outputs(self):
        """Every node's queue write of the cycle."""
        _outputs_all(self.slots, self.inputs, self.rx_data, self.q_write, self.q_data,
                     self.written, self.params, self.head_fields, self.info_fields)

    def clock(self):
        """Every node's clock edge."""
        _clock_all(self.slots, self.slot_in, self.written)
