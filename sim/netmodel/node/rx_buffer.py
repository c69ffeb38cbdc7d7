"""The NI's input buffer (:class:`rtl.node.rx_buffer.RxBuffer`) in the fast engine: one
store-and-forward flit queue per VC, cut into segments with the arrival-side length check,
and the credit return.

One cycle is two step functions, as in the RTL:

* :func:`rx_outputs` (combinational, from the state alone): per VC ``ready`` (a whole
  segment is stored), ``nonempty``, the head's ``last``, end-of-segment and ``bad`` bits,
  and ``overflow``; the head flit itself is ``flits[node, vc, rx[node, vc, Q_RPTR]]``
  (:func:`rx_head`).
* :func:`rx_clock` (the edge): the arriving flit is stored (its segment closed at its tail
  or when it fills the queue, the segment's ``bad`` bit from the head's ``length``), the
  pops of the cycle are taken, and each VC's credit (``rx[node, vc, Q_CREDIT]``, the
  registered pulse the router sees next cycle) is returned as soon as the free space covers
  every credit the router may hold.

State: control in ``rx[node, vc, Q_*]`` and the per-slot bits ``slot_bits[node, vc, slot,
B_*]`` (``last``, end of segment) and ``seg_bad[node, vc, slot]`` (the segment FIFO); the
flits in ``flits[node, vc, slot, word]``. Inputs: ``link[node, L_*]`` (valid, last, vc) with
the flit ``link_data[node, word]``, and ``pop[node, vc]``.

Timing that depends on data: the ``length`` field of a segment's first flit decides its
``bad`` bit (whether the parser drops the packet), so a timing-only run keeps head flits.
"""

import numpy as np
from numba import njit

from rtl.net.packet import PacketFormat
from sim.netmodel.node.fields import define, get_bits, layout_fields

__all__ = ["RxBuffers", "rx_outputs", "rx_clock", "rx_head", "MUTANTS", "QUEUE", "LINK",
           "HEAD_OUT"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "credit_on_arrival": 1,      # a credit goes back with every flit, room or not
           "length_off_by_one": 2}      # a packet of length + 1 flits passes the check

#: parameters (``params`` tuple)
define(globals(), ("depth", "credits", "owed_mask", "mutant"), "P_")
#: a VC's control state
QUEUE = define(globals(), ("count", "rptr", "wptr", "scount", "srptr", "swptr", "segcnt",
                           "hlen", "in_cont", "overflow", "owed", "credit"), "Q_")
#: bits stored with each flit
define(globals(), ("last", "end"), "B_")
#: the arriving link's control (``link[node, L_*]``)
LINK = define(globals(), ("valid", "last", "vc"), "L_")
#: a VC head's outputs (``heads[node, vc, R_*]``)
HEAD_OUT = define(globals(), ("ready", "nonempty", "last", "end", "bad"), "R_")


@njit(cache=True, inline="always")
def _step(ptr, depth):
    return 0 if ptr == depth - 1 else ptr + 1


@njit(cache=True, inline="always")
def rx_outputs(n, rx, slot_bits, seg_bad, heads):
    """Node ``n``'s head outputs ``heads[n, vc, R_*]``; returns ``overflow``."""
    overflow = 0
    for v in range(rx.shape[1]):
        rptr = rx[n, v, Q_RPTR]
        heads[n, v, R_READY] = 1 if rx[n, v, Q_SCOUNT] != 0 else 0
        heads[n, v, R_NONEMPTY] = 1 if rx[n, v, Q_COUNT] != 0 else 0
        heads[n, v, R_LAST] = slot_bits[n, v, rptr, B_LAST]
        heads[n, v, R_END] = slot_bits[n, v, rptr, B_END]
        heads[n, v, R_BAD] = seg_bad[n, v, rx[n, v, Q_SRPTR]]
        overflow |= rx[n, v, Q_OVERFLOW]
    return overflow


@njit(cache=True, inline="always")
def rx_head(n, v, rx, flits):
    """The flit at the head of node ``n``'s VC ``v`` (a view of its words)."""
    return flits[n, v, rx[n, v, Q_RPTR]]


@njit(cache=True, inline="always")
def rx_clock(n, rx, slot_bits, seg_bad, flits, link, link_data, pop, P, H):
    """Node ``n``'s clock edge from the arriving flit and the pops of the cycle (``H``: the
    head's ``length`` field, ``(offset, width, signed)``)."""
    D, C = P[P_DEPTH], P[P_CREDITS]
    for v in range(rx.shape[1]):
        count = rx[n, v, Q_COUNT]
        arrive = link[n, L_VALID] != 0 and link[n, L_VC] == v
        write = arrive and count != D
        popped = pop[n, v] != 0 and count != 0
        if arrive and count == D:
            rx[n, v, Q_OVERFLOW] = 1
        owed = rx[n, v, Q_OWED]
        room = count - (1 if popped else 0) + C - owed + 1 <= D
        ret = (owed != 0 or arrive) and (room or P[P_MUTANT] == 1)
        rx[n, v, Q_OWED] = (owed + (1 if arrive else 0) - (1 if ret else 0)) & P[P_OWED_MASK]
        rx[n, v, Q_CREDIT] = 1 if ret else 0
        spop = popped and slot_bits[n, v, rx[n, v, Q_RPTR], B_END] != 0
        spush = False
        if write:
            segcnt, last = rx[n, v, Q_SEGCNT], link[n, L_LAST] != 0
            first = segcnt == 0
            length = get_bits(link_data[n], H[0], H[1])
            hl = length if first else rx[n, v, Q_HLEN]
            seg_end = last or segcnt == D - 1
            bad = rx[n, v, Q_IN_CONT] != 0 or not last or segcnt + 1 != hl
            if P[P_MUTANT] == 2 and last and rx[n, v, Q_IN_CONT] == 0 and segcnt == hl:
                bad = False
            wptr = rx[n, v, Q_WPTR]
            flits[n, v, wptr] = link_data[n]
            slot_bits[n, v, wptr, B_LAST] = 1 if last else 0
            slot_bits[n, v, wptr, B_END] = 1 if seg_end else 0
            rx[n, v, Q_WPTR] = _step(wptr, D)
            if first and rx[n, v, Q_IN_CONT] == 0:
                rx[n, v, Q_HLEN] = length
            if seg_end:
                spush = True
                rx[n, v, Q_SEGCNT] = 0
                rx[n, v, Q_IN_CONT] = 0 if last else 1
                seg_bad[n, v, rx[n, v, Q_SWPTR]] = 1 if bad else 0
                rx[n, v, Q_SWPTR] = _step(rx[n, v, Q_SWPTR], D)
            else:
                rx[n, v, Q_SEGCNT] = segcnt + 1
        if popped:
            rx[n, v, Q_RPTR] = _step(rx[n, v, Q_RPTR], D)
        rx[n, v, Q_COUNT] = count + (1 if write else 0) - (1 if popped else 0)
        if spop:
            rx[n, v, Q_SRPTR] = _step(rx[n, v, Q_SRPTR], D)
        rx[n, v, Q_SCOUNT] += (1 if spush else 0) - (1 if spop else 0)


@njit(cache=True)
def _outputs_all(rx, slot_bits, seg_bad, heads, overflow):
    for n in range(rx.shape[0]):
        overflow[n] = rx_outputs(n, rx, slot_bits, seg_bad, heads)


@njit(cache=True)
def _clock_all(rx, slot_bits, seg_bad, flits, link, link_data, pop, P, H):
    for n in range(rx.shape[0]):
        rx_clock(n, rx, slot_bits, seg_bad, flits, link, link_data, pop, P, H)


class RxBuffers:
    """The input buffers of ``nodes`` NIs.

    Parameters
    ----------
    nodes : int
    fmt : PacketFormat
    vcs, credits, depth : int
        As :class:`rtl.node.rx_buffer.RxBuffer`'s.
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    link : ndarray (nodes, len(LINK)); link_data : (nodes, words)
        The arriving flit of the cycle.
    pop : ndarray (nodes, vcs)
        The pops of the cycle.
    heads : ndarray (nodes, vcs, len(HEAD_OUT)); overflow : (nodes,)
        After :meth:`outputs`.
    rx : ndarray (nodes, vcs, len(QUEUE))
        The state; ``rx[:, :, Q_CREDIT]`` is the link's credit output.
    """

    def __init__(self, *, nodes, fmt, vcs, credits, depth, mutant="none"):
        if not isinstance(fmt, PacketFormat):
            raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
        words = -(-fmt.flit_bits // 64)
        # the owed counter wraps at its width, as the RTL's ``range(credits + 1)`` signal
        self.params = (depth, credits, (1 << credits.bit_length()) - 1, MUTANTS[mutant])
        self.fields = layout_fields(fmt.head, ("length",))
        self.rx = np.zeros((nodes, vcs, len(QUEUE)), np.int64)
        self.slot_bits = np.zeros((nodes, vcs, depth, 2), np.int64)
        self.seg_bad = np.zeros((nodes, vcs, depth), np.int64)
        self.flits = np.zeros((nodes, vcs, depth, words), np.uint64)
        self.link = np.zeros((nodes, len(LINK)), np.int64)
        self.link_data = np.zeros((nodes, words), np.uint64)
        self.pop = np.zeros((nodes, vcs), np.int64)
        self.heads = np.zeros((nodes, vcs, len(HEAD_OUT)), np.int64)
        self.overflow = np.zeros(nodes, np.int64)

    def outputs(self):
        """Every node's head outputs from its state."""
        _outputs_all(self.rx, self.slot_bits, self.seg_bad, self.heads, self.overflow)

    def clock(self):
        """Every node's clock edge from the inputs of the cycle."""
        _clock_all(self.rx, self.slot_bits, self.seg_bad, self.flits, self.link,
                   self.link_data, self.pop, self.params, self.fields)
