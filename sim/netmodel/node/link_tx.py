"""The NI's output (:class:`rtl.node.link_tx.LinkTx`) in the fast engine: a request and a
response flit queue sent round-robin onto one credit-honouring link.

One cycle is two step functions, as in the RTL:

* :func:`tx_outputs` (combinational, from the state alone): each queue's room and level,
  which its writers (the push DMA, the response writer, the request parser) read before
  they write.
* :func:`tx_clock` (the edge): the writes of the cycle enter the queues; the heads whose
  VC holds a credit (with one VC, only the queue that owns the link mid-packet) are
  arbitrated round-robin (:mod:`rtl.net.arbiter`, request queue first after reset), the
  winner is registered onto the link (``tx[node, T_VALID..T_VC]`` and ``out_data[node]``,
  which the router sees next cycle), and the credit counters count the sent flit and the
  returned credit.

The link's data register loads the request queue's head whenever the response queue does
not win, a flit sent or not, as the RTL's does.

State: ``tx[node, T_*]`` (the link registers, the arbiter's thermometer mask, the one-VC
lock), ``credits[node, vc]``, per queue ``chan[node, queue, C_*]`` (level and pointers) and
its flits ``chan_last[node, queue, slot]`` and ``chan_flits[node, queue, slot, word]``.
Inputs: ``writes[node, queue, W_*]`` with ``write_data[node, queue, word]``, the link's
``credit_in[node]`` (one bit per VC). The timing does not depend on the flits' values
(only on their ``last`` bits).
"""

import numpy as np
from numba import njit

from rtl.node.layouts import request_vcs, response_vcs
from sim.netmodel.node.fields import define

__all__ = ["LinkTxs", "tx_outputs", "tx_clock", "round_robin", "MUTANTS", "TX", "CHAN", "WRITE", "PORT",
           "REQ", "RESP"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "requests_first": 1,         # fixed priority instead of round-robin
           "credit_ignored": 2}         # a queue sends with its VC's counter at zero

#: the two queues
REQ, RESP = 0, 1
#: parameters (``params`` tuple)
define(globals(), ("depth", "req_vc", "resp_vc", "mutant"), "P_")
#: the link registers and the arbitration state
TX = define(globals(), ("valid", "last", "vc", "mask", "lock"), "T_")
#: a queue's level and pointers
CHAN = define(globals(), ("level", "produce", "consume"), "C_")
#: a queue's write of the cycle
WRITE = define(globals(), ("en", "last"), "W_")
#: a queue's outputs to its writers
PORT = define(globals(), ("rdy", "level"), "X_")


@njit(cache=True, inline="always")
def tx_outputs(n, chan, ports, P):
    """Node ``n``'s ``ports[n, queue, X_*]`` (room and level of each queue)."""
    for c in range(2):
        ports[n, c, X_RDY] = 1 if chan[n, c, C_LEVEL] != P[P_DEPTH] else 0
        ports[n, c, X_LEVEL] = chan[n, c, C_LEVEL]


@njit(cache=True, inline="always")
def round_robin(requests, mask, n):
    """A :class:`rtl.net.arbiter.RoundRobinArbiter` of ``n`` inputs: the one-hot grant of
    ``requests`` (bit masks) under the thermometer ``mask`` (reset: all ``n`` bits set) and
    the mask after an advance on it (every bit above the grant; unchanged on no request)."""
    hi = requests & mask
    pick = hi if hi else requests
    grant = pick & -pick
    if n == 1:
        return requests, mask
    return grant, (((1 << n) - 1) & ~((grant << 1) - 1)) if requests else mask


@njit(cache=True, inline="always")
def tx_clock(n, tx, credits, chan, chan_last, chan_flits, out_data, writes, write_data,
             credit_in, P):
    """Node ``n``'s clock edge from the writes and the returned credits of the cycle."""
    D, shared = P[P_DEPTH], P[P_REQ_VC] == P[P_RESP_VC]
    cand = 0
    for c in range(2):
        vc = P[P_REQ_VC] if c == REQ else P[P_RESP_VC]
        ok = chan[n, c, C_LEVEL] != 0 and (credits[n, vc] != 0 or P[P_MUTANT] == 2)
        if shared:
            ok = ok and (tx[n, T_LOCK] == 0 or tx[n, T_LOCK] >> c & 1 == 1)
        if ok:
            cand |= 1 << c
    grant, mask = round_robin(cand, tx[n, T_MASK], 2)
    if P[P_MUTANT] == 1:
        grant = cand & -cand
    # the link registers: the response queue's head if it won, else the request queue's
    c = RESP if grant == 2 else REQ
    head = chan[n, c, C_CONSUME]
    tx[n, T_VALID] = 1 if grant else 0
    tx[n, T_LAST] = chan_last[n, c, head]
    tx[n, T_VC] = P[P_RESP_VC] if grant == 2 else P[P_REQ_VC]
    out_data[n] = chan_flits[n, c, head]
    if shared and grant:
        tx[n, T_LOCK] = 0 if chan_last[n, c, head] else grant
    tx[n, T_MASK] = mask
    for v in range(credits.shape[1]):
        sent = grant and tx[n, T_VC] == v
        back = credit_in[n] >> v & 1 == 1
        if sent and not back:
            credits[n, v] -= 1
        elif back and not sent:
            credits[n, v] += 1
    for c in range(2):
        level = chan[n, c, C_LEVEL]
        read = grant >> c & 1 == 1
        write = writes[n, c, W_EN] != 0 and level != D
        if write:
            slot = chan[n, c, C_PRODUCE]
            chan_flits[n, c, slot] = write_data[n, c]
            chan_last[n, c, slot] = writes[n, c, W_LAST]
            chan[n, c, C_PRODUCE] = 0 if slot == D - 1 else slot + 1
        if read:
            consume = chan[n, c, C_CONSUME]
            chan[n, c, C_CONSUME] = 0 if consume == D - 1 else consume + 1
        chan[n, c, C_LEVEL] = level + (1 if write else 0) - (1 if read else 0)


@njit(cache=True)
def _outputs_all(chan, ports, P):
    for n in range(chan.shape[0]):
        tx_outputs(n, chan, ports, P)


@njit(cache=True)
def _clock_all(tx, credits, chan, chan_last, chan_flits, out_data, writes, write_data,
               credit_in, P):
    for n in range(tx.shape[0]):
        tx_clock(n, tx, credits, chan, chan_last, chan_flits, out_data, writes, write_data,
                 credit_in, P)


class LinkTxs:
    """The link outputs of ``nodes`` NIs.

    Parameters
    ----------
    nodes : int
    flit_bits, vcs, credits, depth : int
        As :class:`rtl.node.link_tx.LinkTx`'s.
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    writes : ndarray (nodes, 2, len(WRITE)); write_data : (nodes, 2, words)
        The queues' writes of the cycle (:data:`REQ`, :data:`RESP`).
    credit_in : ndarray (nodes,)
        The credits returned this cycle (bit ``v``: VC ``v``).
    ports : ndarray (nodes, 2, len(PORT))
        After :meth:`outputs`.
    tx : ndarray (nodes, len(TX)); out_data : (nodes, words)
        The link registers (valid, last, vc; the flit).
    """

    def __init__(self, *, nodes, flit_bits, vcs, credits, depth=4, mutant="none"):
        words = -(-flit_bits // 64)
        self.params = (depth, request_vcs(vcs)[0], response_vcs(vcs)[0], MUTANTS[mutant])
        self.tx = np.zeros((nodes, len(TX)), np.int64)
        self.tx[:, T_MASK] = 3                   # the arbiter's reset: every input at or above
        self.credits = np.full((nodes, vcs), credits, np.int64)
        self.chan = np.zeros((nodes, 2, len(CHAN)), np.int64)
        self.chan_last = np.zeros((nodes, 2, depth), np.int64)
        self.chan_flits = np.zeros((nodes, 2, depth, words), np.uint64)
        self.out_data = np.zeros((nodes, words), np.uint64)
        self.writes = np.zeros((nodes, 2, len(WRITE)), np.int64)
        self.write_data = np.zeros((nodes, 2, words), np.uint64)
        self.credit_in = np.zeros(nodes, np.int64)
        self.ports = np.zeros((nodes, 2, len(PORT)), np.int64)

    def outputs(self):
        """Every node's queue outputs from its state."""
        _outputs_all(self.chan, self.ports, self.params)

    def clock(self):
        """Every node's clock edge from the inputs of the cycle."""
        _clock_all(self.tx, self.credits, self.chan, self.chan_last, self.chan_flits,
                   self.out_data, self.writes, self.write_data, self.credit_in, self.params)
