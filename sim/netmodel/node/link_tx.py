"""The NI's output (:class:`rtl.node.link_tx.LinkTx`) in the fast engine: a request and a
response flit queue sent round-robin onto one credit-honouring link.

:func:`tx_outputs` (combinational): each queue's ``rdy`` and ``level``, the registered link
outputs, and the round-robin grant between the queues that have a flit and a credit on
their VC (requests on the first request VC, responses on the first response VC; with one
VC a packet holds the link until its tail). :func:`tx_clock`: the edge: queue writes and
the granted read, credit counters, the arbiter's pointer, the link registers.

State: control in ``state[node, T_*]`` (queue levels and pointers, credits per VC, the
arbiter's mask, the one-VC lock, the link's valid/last/VC registers) and each queued flit's
``last`` bit in ``lasts[node, queue, slot]``; the flits in ``slots[node, queue, slot]`` and
the link's data register in ``link_data[node]``. The queues are rings that keep their old
contents, as the RTL's FIFO memory does: with nothing granted the link's data register
loads the request queue's slot at its read pointer, whatever it holds.
"""

import numpy as np
from numba import njit

from rtl.node.layouts import request_vcs, response_vcs
from sim.netmodel.node.fields import copy_row, define

__all__ = ["tx_quiescent", "LinkTxs", "tx_outputs", "tx_clock", "MUTANTS", "STATE", "INPUTS", "OUTPUTS"]

MUTANTS = {"none": 0,
           "pointer_stays": 1}           # the round-robin pointer never moves: requests win

define(globals(), ("depth", "vcs", "req_vc", "resp_vc", "mutant"), "P_")
#: control state: per queue (Q0 = requests, then responses, ``QW`` words each) level, read
#: and write pointers; then the credits per VC, the arbiter's mask, the lock, the link's
#: registers
QW = len(define(globals(), ("level", "rptr", "wptr"), "QF_"))
STATE = define(globals(), ("q0", "q0_rptr", "q0_wptr", "q1", "q1_rptr", "q1_wptr", "mask",
                           "lock", "valid", "last", "vc", "credit0"), "T_")
#: inputs: per queue (request, response) its write and the write's last bit; credits per VC
INPUTS = define(globals(), ("en0", "last0", "en1", "last1", "credit0"), "I_")
#: outputs: per queue rdy and level, the link, the grant (one-hot over the two queues)
OUTPUTS = define(globals(), ("rdy0", "level0", "rdy1", "level1", "valid", "last", "vc",
                             "grant"), "O_")


@njit(cache=True, _nrt=False, forceinline=True)
def tx_outputs(n, st, lasts, out, P):
    """Node ``n``'s combinational outputs (see the module docstring)."""
    D = P[P_DEPTH]
    one_vc = P[P_REQ_VC] == P[P_RESP_VC]
    cand = 0
    for i in range(2):
        level = st[n, T_Q0 + QW * i + QF_LEVEL]
        out[n, O_RDY0 + 2 * i], out[n, O_LEVEL0 + 2 * i] = (1 if level != D else 0), level
        vc = P[P_REQ_VC] if i == 0 else P[P_RESP_VC]
        ok = level != 0 and st[n, T_CREDIT0 + vc] != 0
        if one_vc:
            ok = ok and (st[n, T_LOCK] == 0 or st[n, T_LOCK] >> i & 1)
        if ok:
            cand |= 1 << i
    hi = cand & st[n, T_MASK]
    pick = hi if hi else cand
    out[n, O_GRANT] = pick & -pick              # the lowest at or above the pointer
    out[n, O_VALID], out[n, O_LAST], out[n, O_VC] = st[n, T_VALID], st[n, T_LAST], st[n, T_VC]


@njit(cache=True, _nrt=False, forceinline=True)
def tx_clock(n, st, lasts, inputs, out, P, data, slots, flits_in, link_data):
    """Node ``n``'s clock edge, after :func:`tx_outputs` of the cycle (``flits_in[n, queue]``:
    the flits written this cycle)."""
    D, grant = P[P_DEPTH], out[n, O_GRANT]
    # the link registers: the granted queue's head (with none, the request queue's slot)
    src = 1 if grant == 2 else 0
    head = st[n, T_Q0 + QW * src + QF_RPTR]
    st[n, T_VALID] = 1 if grant else 0
    st[n, T_LAST] = lasts[n, src, head]
    st[n, T_VC] = P[P_RESP_VC] if grant == 2 else P[P_REQ_VC]
    if data:
        copy_row(link_data[n], slots[n, src, head])
    for v in range(P[P_VCS]):
        sent = ((grant == 1 and v == P[P_REQ_VC]) or (grant == 2 and v == P[P_RESP_VC]))
        credit = inputs[n, I_CREDIT0] >> v & 1
        if sent and not credit:
            st[n, T_CREDIT0 + v] -= 1
        elif credit and not sent:
            st[n, T_CREDIT0 + v] += 1
    if P[P_REQ_VC] == P[P_RESP_VC] and grant:
        st[n, T_LOCK] = 0 if lasts[n, src, head] else grant
    if grant and P[P_MUTANT] != 1:
        st[n, T_MASK] = 2 if grant == 1 else 0      # strictly above the grant
    for i in range(2):
        q = T_Q0 + QW * i
        level = st[n, q + QF_LEVEL]
        if inputs[n, I_EN0 + 2 * i] and level != D:
            w = st[n, q + QF_WPTR]
            lasts[n, i, w] = inputs[n, I_LAST0 + 2 * i]
            if data:
                copy_row(slots[n, i, w], flits_in[n, i])
            st[n, q + QF_WPTR] = (w + 1) % D
            level += 1
        if grant >> i & 1:
            st[n, q + QF_RPTR] = (st[n, q + QF_RPTR] + 1) % D
            level -= 1
        st[n, q + QF_LEVEL] = level


@njit(cache=True, _nrt=False, inline="always")
def tx_quiescent(n, st):
    """Both queues empty: nothing granted, so the link registers reload the same values
    every edge (after the flit of the cycle, if any); an arriving credit is an input that
    changes a counter, so the core is stepped for it."""
    return st[n, T_Q0 + QF_LEVEL] == 0 and st[n, T_Q0 + QW + QF_LEVEL] == 0


@njit(cache=True, _nrt=False)
def _outputs_all(st, lasts, out, P):
    for n in range(st.shape[0]):
        tx_outputs(n, st, lasts, out, P)


@njit(cache=True, _nrt=False)
def _clock_all(st, lasts, inputs, out, P, data, slots, flits_in, link_data):
    for n in range(st.shape[0]):
        tx_clock(n, st, lasts, inputs, out, P, data, slots, flits_in, link_data)


class LinkTxs:
    """The link TX blocks of ``nodes`` nodes (the parameters of
    :class:`rtl.node.link_tx.LinkTx`; ``data``: False for timing only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); flits_in : (nodes, 2, words)
        The queue writes and the credits of the cycle.
    outputs : ndarray (nodes, len(OUTPUTS)); link_data : (nodes, words)
        After :meth:`outputs_of_cycle` (the link's data register).
    """

    def __init__(self, *, nodes, flit_bits, vcs, credits, depth=4, data=True, words=None,
                 mutant="none"):
        words, rows = words or -(-flit_bits // 64), (nodes if data else 1)
        self.params = (depth, vcs, request_vcs(vcs)[0], response_vcs(vcs)[0], MUTANTS[mutant])
        self.data = data
        self.state = np.zeros((nodes, len(STATE) + vcs - 1), np.int64)
        self.state[:, STATE["mask"]] = 3
        self.state[:, STATE["credit0"]:] = credits
        self.lasts = np.zeros((nodes, 2, depth), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.slots = np.zeros((rows, 2, depth, words), np.uint64)
        self.flits_in = np.zeros((rows, 2, words), np.uint64)
        self.link_data = np.zeros((rows, words), np.uint64)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.lasts, self.outputs, self.params)

    def clock(self):
        _clock_all(self.state, self.lasts, self.inputs, self.outputs, self.params, self.data,
                   self.slots, self.flits_in, self.link_data)
