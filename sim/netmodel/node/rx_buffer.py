"""The NI's input buffer (:class:`rtl.node.rx_buffer.RxBuffer`) in the fast engine: one
store-and-forward queue per VC behind the link, segments with their length check, and the
credit return.

A queue cuts its flits into segments (a segment ends at a tail, or when it fills the queue:
a packet too long to store) and marks each one ``bad`` unless it is a whole packet whose
tail came exactly at its head's ``length``; a segment is ``ready`` when it is completely in
the queue. A credit is owed for every flit that arrives and returned, one per VC and cycle,
as soon as the free space still covers every credit the router may hold.

:func:`rx_outputs` (combinational): each VC's ``ready``, ``nonempty``, head flit (its
``last`` and end-of-segment bits, its segment's ``bad``), ``overflow``, the registered
credit pulses. :func:`rx_clock`: the edge, from the arriving flit (``inputs``,
``flit_in[node]``) and each VC's ``pop``. Control in ``state[node, vc, R_*]`` (the ring's
pointers and level, the segment ring with its bad bits, the segment being cut, credits
owed) and each slot's ``last``/end bits in ``marks[node, vc, slot, K_*]``; the flits in
``slots[node, vc, slot]`` (heads are control: their ``length`` is read on arrival, so a
timing-only run must keep at least the head flits' length field).
"""

import numpy as np
from numba import njit

from sim.netmodel.node.fields import copy_row, define, get_bits, layout_fields

__all__ = ["rx_quiescent", "RxBuffers", "rx_outputs", "rx_clock", "MUTANTS", "STATE", "INPUTS", "OUTPUTS",
           "VC_OUTPUTS"]

MUTANTS = {"none": 0,
           "length_off_by_one": 1}       # a packet is whole when its tail comes one flit late

define(globals(), ("vcs", "credits", "depth", "owed_mask", "len_offset", "len_width",
                   "mutant"), "P_")
#: a VC's control state: the flit ring (level, read and write pointers), the segment ring
#: (level, pointers, one bad bit per slot as a mask), the segment being cut (flits so far,
#: its head's length, it continues a segment that filled the queue), credits owed, the
#: registered credit pulse, overflow (sticky)
STATE = define(globals(), ("count", "rptr", "wptr", "scount", "srptr", "swptr", "sbad",
                           "segcnt", "hlen", "in_cont", "owed", "credit", "overflow"), "R_")
define(globals(), ("last", "end"), "K_")
#: the arriving flit (its VC, valid, last) and per VC (``pop0 + vc``) the pops
INPUTS = define(globals(), ("valid", "vc", "last") + tuple(f"pop{v}" for v in range(4)), "I_")
OUTPUTS = define(globals(), ("overflow", "credit"), "O_")
#: per VC outputs (``vc_out[node, vc, V_*]``; the head flit in ``head[node, vc]``)
VC_OUTPUTS = define(globals(), ("ready", "nonempty", "last", "end", "bad"), "V_")


@njit(cache=True, _nrt=False, forceinline=True)
def rx_outputs(n, st, marks, slots, out, vc_out, head, data, P):
    """Node ``n``'s combinational outputs (see the module docstring)."""
    overflow = credit = 0
    for v in range(P[P_VCS]):
        r = st[n, v, R_RPTR]
        vc_out[n, v, V_READY] = 1 if st[n, v, R_SCOUNT] != 0 else 0
        vc_out[n, v, V_NONEMPTY] = 1 if st[n, v, R_COUNT] != 0 else 0
        vc_out[n, v, V_LAST], vc_out[n, v, V_END] = marks[n, v, r, K_LAST], marks[n, v, r, K_END]
        vc_out[n, v, V_BAD] = st[n, v, R_SBAD] >> st[n, v, R_SRPTR] & 1
        if data:
            copy_row(head[n, v], slots[n, v, r])
        overflow |= st[n, v, R_OVERFLOW]
        credit |= st[n, v, R_CREDIT] << v
    out[n, O_OVERFLOW], out[n, O_CREDIT] = overflow, credit


@njit(cache=True, _nrt=False, forceinline=True)
def rx_clock(n, st, marks, slots, inputs, flit_in, data, P):
    """Node ``n``'s clock edge, after :func:`rx_outputs` of the cycle."""
    D, C = P[P_DEPTH], P[P_CREDITS]
    for v in range(P[P_VCS]):
        count, segcnt = st[n, v, R_COUNT], st[n, v, R_SEGCNT]
        arrive = inputs[n, I_VALID] != 0 and inputs[n, I_VC] == v
        write = arrive and count != D
        popped = inputs[n, I_POP0 + v] != 0 and count != 0
        head_end = marks[n, v, st[n, v, R_RPTR], K_END]
        # the credit: owed, and the free space still covers what the router may hold
        owed = st[n, v, R_OWED]
        ret = (owed != 0 or arrive) and count - popped + C - owed + 1 <= D
        st[n, v, R_CREDIT] = 1 if ret else 0
        st[n, v, R_OWED] = (owed + arrive - ret) & P[P_OWED_MASK]
        if arrive and not write:
            st[n, v, R_OVERFLOW] = 1
        spush = False
        if write:
            last = inputs[n, I_LAST]
            length = get_bits(flit_in[n], P[P_LEN_OFFSET], P[P_LEN_WIDTH])
            first = segcnt == 0
            hl = length if first else st[n, v, R_HLEN]
            seg_end = last or segcnt == D - 1
            whole = segcnt + 1 == hl - (1 if P[P_MUTANT] == 1 else 0)
            bad = st[n, v, R_IN_CONT] or not last or not whole
            w = st[n, v, R_WPTR]
            marks[n, v, w, K_LAST], marks[n, v, w, K_END] = last, 1 if seg_end else 0
            if data:
                copy_row(slots[n, v, w], flit_in[n])
            st[n, v, R_WPTR] = 0 if w == D - 1 else w + 1
            if first and not st[n, v, R_IN_CONT]:
                st[n, v, R_HLEN] = length
            if seg_end:
                spush = True
                st[n, v, R_SEGCNT] = 0
                st[n, v, R_IN_CONT] = 0 if last else 1
                sw = st[n, v, R_SWPTR]
                st[n, v, R_SBAD] = (st[n, v, R_SBAD] & ~(1 << sw)) | ((1 if bad else 0) << sw)
                st[n, v, R_SWPTR] = 0 if sw == D - 1 else sw + 1
            else:
                st[n, v, R_SEGCNT] = segcnt + 1
        if popped:
            st[n, v, R_RPTR] = 0 if st[n, v, R_RPTR] == D - 1 else st[n, v, R_RPTR] + 1
        st[n, v, R_COUNT] = count + write - popped
        spop = popped and head_end
        if spop:
            st[n, v, R_SRPTR] = 0 if st[n, v, R_SRPTR] == D - 1 else st[n, v, R_SRPTR] + 1
        st[n, v, R_SCOUNT] += (1 if spush else 0) - (1 if spop else 0)


@njit(cache=True, _nrt=False, inline="always")
def rx_quiescent(n, st, P):
    """No flit held and no credit owed on any VC: without an arriving flit the edge
    changes nothing but the credit pulse, which it clears (the node kernel's idle
    shortcut, :func:`sim.netmodel.node.core.core_quiescent`)."""
    for v in range(P[P_VCS]):
        if st[n, v, R_COUNT] != 0 or st[n, v, R_SCOUNT] != 0 or st[n, v, R_OWED] != 0:
            return False
    return True


@njit(cache=True, _nrt=False)
def _outputs_all(st, marks, slots, out, vc_out, head, data, P):
    for n in range(st.shape[0]):
        rx_outputs(n, st, marks, slots, out, vc_out, head, data, P)


@njit(cache=True, _nrt=False)
def _clock_all(st, marks, slots, inputs, flit_in, data, P):
    for n in range(st.shape[0]):
        rx_clock(n, st, marks, slots, inputs, flit_in, data, P)


class RxBuffers:
    """The input buffers of ``nodes`` nodes (the parameters of
    :class:`rtl.node.rx_buffer.RxBuffer`; ``data``: False for timing only, when
    ``flit_in`` still carries the heads' length field; ``words``: uint64 words kept of
    each flit, the whole flit by default).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); flit_in : (nodes, words)
        The arriving flit and the pops of the cycle.
    outputs : ndarray (nodes, len(OUTPUTS)); vc_out : (nodes, vcs, len(VC_OUTPUTS));
    head : (nodes, vcs, words)
        After :meth:`outputs_of_cycle` (``credit``: one bit per VC).
    """

    def __init__(self, *, nodes, fmt, vcs, credits, depth, data=True, words=None,
                 mutant="none"):
        if not 1 <= vcs <= 4:
            raise ValueError(f"vcs must be 1..4, not {vcs!r}")
        words = words or -(-fmt.flit_bits // 64)
        offset, width, _ = layout_fields(fmt.head, ("length",))
        self.params = (vcs, credits, depth, (1 << credits.bit_length()) - 1, offset, width,
                       MUTANTS[mutant])
        self.data = data
        rows = nodes if data else 1
        self.state = np.zeros((nodes, vcs, len(STATE)), np.int64)
        self.marks = np.zeros((nodes, vcs, depth, 2), np.int64)
        self.slots = np.zeros((rows, vcs, depth, words), np.uint64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.flit_in = np.zeros((nodes, words), np.uint64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.vc_out = np.zeros((nodes, vcs, len(VC_OUTPUTS)), np.int64)
        self.head = np.zeros((rows, vcs, words), np.uint64)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.marks, self.slots, self.outputs, self.vc_out, self.head,
                     self.data, self.params)

    def clock(self):
        _clock_all(self.state, self.marks, self.slots, self.inputs, self.flit_in, self.data,
                   self.params)
