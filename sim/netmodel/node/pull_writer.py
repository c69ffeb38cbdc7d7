"""The NI's response sink (:class:`rtl.node.pull_writer.PullWriter`) in the fast engine: it
drains the response VCs, and writes the lines of the READ_RESPs of the PULL under way into
the SRAM.

:func:`pull_outputs` (combinational): the VC served (the lowest non-empty one when a head is
due, then held to the packet's end), its ``pop``, the SRAM write (``wr_en``, ``wr_addr``;
the line is the flit at the VC's head, :func:`pull_write_line`), ``busy``, ``done``,
``done_sem``, ``drained``. :func:`pull_clock`: the edge (HEAD, DATA), from the write's
grant and a ``start``. A head is read for its opcode and ``resp_info`` address with the bit
positions of the RTL's layouts, so the head flits are control (a timing-only run keeps
them); the body lines are data.
"""

import numpy as np
from numba import njit

from rtl.net.packet import Opcode
from sim.netmodel.node.fields import copy_row, define, get_bits, layout_fields

__all__ = ["PullWriters", "pull_outputs", "pull_write_line", "pull_clock", "MUTANTS",
           "INPUTS", "OUTPUTS", "VC_INPUTS"]

MUTANTS = {"none": 0,
           "highest_vc_first": 1}        # the last non-empty VC is served first

define(globals(), ("head", "data"), "S_")
define(globals(), ("addr_bits", "vcs", "mutant"), "P_")
#: control state: the PULL (active, remote base, local base, lines left, semaphore), the
#: FSM, the VC held, the packet's lines go to the SRAM, the next line's address
STATE = define(globals(), ("active", "src", "dst", "left", "sem", "fsm", "held", "writing",
                           "addr"), "W_")
INPUTS = define(globals(), ("start", "src", "dst", "count", "sem", "wr_grant"), "I_")
#: per VC inputs (``vc_in[node, vc, V_*]``; the flit itself in ``flits[node, vc]``)
VC_INPUTS = define(globals(), ("nonempty", "last"), "V_")
OUTPUTS = define(globals(), ("busy", "done", "done_sem", "drained", "wr_en", "wr_addr", "cur",
                             "pop"), "O_")
#: head fields read (``(offset, width, signed)`` at ``3 * F_NAME``)
define(globals(), ("opcode", "addr"), "F_")
_READ_RESP = Opcode.READ_RESP.value


def head_fields(layouts):
    """The opcode and the resp_info address of a head, one tuple."""
    info = layout_fields(layouts.fmt.head, ("info",))[0]
    addr = layout_fields(layouts.resp_info, ("addr",))
    return layout_fields(layouts.fmt.head, ("opcode",)) + (addr[0] + info,) + addr[1:]


@njit(cache=True, _nrt=False, inline="always")
def _head_field(flits, n, v, H, field):
    return get_bits(flits[n, v], H[3 * field], H[3 * field + 1])


@njit(cache=True, _nrt=False, forceinline=True)
def pull_outputs(n, st, inputs, vc_in, out, P):
    """Node ``n``'s combinational outputs (see the module docstring)."""
    amask = (1 << P[P_ADDR_BITS]) - 1
    out[n, :] = 0
    out[n, O_BUSY], out[n, O_DONE_SEM] = st[n, W_ACTIVE], st[n, W_SEM]
    at_head = st[n, W_FSM] == S_HEAD
    cur = st[n, W_HELD]
    if at_head:
        cur = 0
        for k in range(P[P_VCS]):
            v = k if P[P_MUTANT] == 1 else P[P_VCS] - 1 - k
            if vc_in[n, v, V_NONEMPTY]:
                cur = v                       # the last one set: the lowest non-empty VC
    out[n, O_CUR] = cur
    nonempty, last = vc_in[n, cur, V_NONEMPTY] != 0, vc_in[n, cur, V_LAST] != 0
    pop = False
    if at_head:
        if nonempty:
            pop = True
            out[n, O_DRAINED] = 1 if last else 0
    elif nonempty:
        if st[n, W_WRITING]:
            out[n, O_WR_EN], out[n, O_WR_ADDR] = 1, st[n, W_ADDR] & amask
            pop = inputs[n, I_WR_GRANT] != 0
        else:
            pop = True
        if pop and st[n, W_WRITING] and st[n, W_LEFT] == 1:
            out[n, O_DONE] = 1
        if pop and last:
            out[n, O_DRAINED] = 1
    out[n, O_POP] = 1 if pop else 0


@njit(cache=True, _nrt=False, forceinline=True)
def pull_write_line(n, flits, out, wr_line):
    """The SRAM write's line: the flit at the served VC's head (zero when not writing)."""
    if out[n, O_WR_EN]:
        copy_row(wr_line[n], flits[n, out[n, O_CUR]])
    else:
        wr_line[n] = 0


@njit(cache=True, _nrt=False, forceinline=True)
def pull_clock(n, st, inputs, vc_in, flits, out, P, H):
    """Node ``n``'s clock edge, after :func:`pull_outputs` of the cycle. Everything reads
    the state before the edge; where a ``start`` and the FSM both write (``active``,
    ``left``), the FSM's write wins, as in the RTL."""
    A = P[P_ADDR_BITS]
    cur, pop = out[n, O_CUR], out[n, O_POP] != 0
    active, left = st[n, W_ACTIVE], st[n, W_LEFT]
    src, dst = st[n, W_SRC], st[n, W_DST]
    new_left, finished = -1, False
    if st[n, W_FSM] == S_HEAD:
        if pop:
            st[n, W_HELD] = cur
            st[n, W_WRITING] = (1 if active and _head_field(flits, n, cur, H, F_OPCODE)
                                == _READ_RESP else 0)
            resp = _head_field(flits, n, cur, H, F_ADDR) & ((1 << A) - 1)
            st[n, W_ADDR] = (dst + resp - src) & ((1 << (A + 1)) - 1)
            if not vc_in[n, cur, V_LAST]:
                st[n, W_FSM] = S_DATA
    else:
        if pop and st[n, W_WRITING]:
            st[n, W_ADDR] = (st[n, W_ADDR] + 1) & ((1 << (A + 1)) - 1)
            new_left, finished = (left - 1) & 0xFF, out[n, O_DONE] != 0
        if pop and vc_in[n, cur, V_LAST]:
            st[n, W_FSM] = S_HEAD
    if inputs[n, I_START] and not active:
        st[n, W_ACTIVE], st[n, W_SRC], st[n, W_DST] = 1, inputs[n, I_SRC], inputs[n, I_DST]
        st[n, W_LEFT], st[n, W_SEM] = inputs[n, I_COUNT], inputs[n, I_SEM]
    if new_left >= 0:
        st[n, W_LEFT] = new_left
    if finished:
        st[n, W_ACTIVE] = 0


@njit(cache=True, _nrt=False)
def _outputs_all(st, inputs, vc_in, flits, out, wr_line, data, P):
    for n in range(st.shape[0]):
        pull_outputs(n, st, inputs, vc_in, out, P)
        if data:
            pull_write_line(n, flits, out, wr_line)


@njit(cache=True, _nrt=False)
def _clock_all(st, inputs, vc_in, flits, out, P, H):
    for n in range(st.shape[0]):
        pull_clock(n, st, inputs, vc_in, flits, out, P, H)


class PullWriters:
    """The response sinks of ``nodes`` nodes serving ``vcs`` response VCs.

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); vc_in : (nodes, vcs, len(VC_INPUTS));
    flits : (nodes, vcs, words)
        The inputs of the cycle: the PULL to start, the write's grant, each VC's head.
    outputs : ndarray (nodes, len(OUTPUTS)); wr_line : (nodes, words)
        After :meth:`outputs_of_cycle` (``pop`` pops VC ``cur``).
    """

    def __init__(self, *, nodes, layouts, vcs, data=True, words=None, mutant="none"):
        words = words or -(-layouts.fmt.flit_bits // 64)
        self.params = (layouts.addr_bits, vcs, MUTANTS[mutant])
        self.heads = head_fields(layouts)
        self.data = data
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.vc_in = np.zeros((nodes, vcs, len(VC_INPUTS)), np.int64)
        self.flits = np.zeros((nodes, vcs, words), np.uint64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.wr_line = np.zeros((nodes, words), np.uint64)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.inputs, self.vc_in, self.flits, self.outputs,
                     self.wr_line, self.data, self.params)

    def clock(self):
        _clock_all(self.state, self.inputs, self.vc_in, self.flits, self.outputs, self.params,
                   self.heads)
