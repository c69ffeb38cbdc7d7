"""The NI's sink pipeline (:class:`rtl.node.add_pipeline.AddPipeline`) in the fast engine:
WRITE, and ADD as a read-modify-write with forwarding.

Three stages at one line per cycle: stage 0 is the cycle a line arrives (the caller reads
the stored line then), stage 1 adds the stored line (or, when stage 2 writes the same
address in that cycle, the line stage 2 writes: back-to-back lines to one address add up)
in 32-bit lanes, FP32 (:func:`.numerics.fp32_add`, the adder's output register) or INT32
wrapping, stage 2 writes.

:func:`add_outputs` gives the write of the cycle (``wr_en``, ``wr_addr``; the line from the
data half, :func:`add_write_line`); :func:`add_clock` moves the stages at the edge, from the
arriving line (``inputs[node, I_*]``, ``line_in[node]``) and the stored line
(``rdata[node]``). Control (valid bits, addresses, the lane format) is in
``state[node, A_*]``; the lines in ``lines[node, L_*, word]``. The timing does not depend on
the values: a timing-only run (``data`` False) computes no sum; its lines (of the words a
timing-only model keeps, :func:`.fields.control_words`) still move through the stages,
because a WRITE's line may be a command program the command processor fetches later; an
ADD writes the mark :data:`.fields.UNCOMPUTED` in place of its sum.
"""

import numpy as np
from numba import njit, uint64

from sim.netmodel.node.fields import copy_row, define, mark_uncomputed
from sim.netmodel.node.numerics import fp32_add

__all__ = ["add_quiescent", "AddPipelines", "add_outputs", "add_write_line", "add_clock", "MUTANTS", "INPUTS",
           "OUTPUTS"]

MUTANTS = {"none": 0,
           "no_forwarding": 1}          # stage 1 adds the stored line even when stage 2
#                                         writes the same address

#: control state: stage 1 (valid, add, fp lanes, address), stage 2 (valid, fp result,
#: address)
STATE = define(globals(), ("v1", "add1", "f1", "a1", "v2", "f2", "a2"), "A_")
#: the lines: stage 1's arriving line, stage 2's int sum or line, stage 2's fp sum
define(globals(), ("d1", "r2i", "fp2"), "L_")
INPUTS = define(globals(), ("valid", "add", "fp", "addr"), "I_")
OUTPUTS = define(globals(), ("wr_en", "wr_addr"), "O_")
_M32 = 0xFFFFFFFF


@njit(cache=True, _nrt=False, forceinline=True)
def add_outputs(n, st, out):
    out[n, O_WR_EN], out[n, O_WR_ADDR] = st[n, A_V2], st[n, A_A2]


@njit(cache=True, _nrt=False, forceinline=True)
def add_write_line(n, st, lines, wr_line):
    """Stage 2's line (``wr.data``): the fp sum, or the int sum or written line."""
    copy_row(wr_line[n], lines[n, L_FP2] if st[n, A_F2] else lines[n, L_R2I])


@njit(cache=True, _nrt=False, inline="always")
def _lanes(n, st, lines, rdata, wr_line, su, sf, mutant):
    """Stage 1 -> stage 2 of the data: the sums of the stored (or forwarded) line and d1."""
    forward = mutant != 1 and st[n, A_V2] and st[n, A_A2] == st[n, A_A1]
    old = wr_line if forward else rdata          # wr_line: stage 2's line of this cycle
    add = st[n, A_ADD1]
    for w in range(lines.shape[2]):
        o, d = old[n, w], lines[n, L_D1, w]
        fp = uint64(0)
        it = uint64(0)
        for half in range(2):
            shift = uint64(32 * half)
            a, b = np.int64((o >> shift) & uint64(_M32)), np.int64((d >> shift) & uint64(_M32))
            if st[n, A_F1] and add:
                fp |= uint64(fp32_add(n, a, b, su, sf, True)) << shift
            it |= uint64((a + b) & _M32) << shift
        lines[n, L_FP2, w] = fp
        lines[n, L_R2I, w] = it if add else d


@njit(cache=True, _nrt=False, inline="always")
def _passed(n, st, lines):
    """Stage 1 -> stage 2 without arithmetic (timing only): a WRITE's line as it is, an
    ADD's as the mark of a value not computed."""
    for line in (L_R2I, L_FP2):
        if st[n, A_ADD1]:
            mark_uncomputed(lines[n, line])
        else:
            copy_row(lines[n, line], lines[n, L_D1])


@njit(cache=True, _nrt=False, forceinline=True)
def add_clock(n, st, inputs, data, lines, line_in, rdata, wr_line, su, sf, mutant):
    """Node ``n``'s clock edge (after :func:`add_outputs` and :func:`add_write_line` of the
    cycle; ``data`` False: timing only, no sums, see the module docstring)."""
    if data:
        _lanes(n, st, lines, rdata, wr_line, su, sf, mutant)
    else:
        _passed(n, st, lines)
    copy_row(lines[n, L_D1], line_in[n])
    st[n, A_V2], st[n, A_F2], st[n, A_A2] = st[n, A_V1], st[n, A_F1] & st[n, A_ADD1], st[n, A_A1]
    st[n, A_V1], st[n, A_ADD1] = inputs[n, I_VALID], inputs[n, I_ADD]
    st[n, A_F1], st[n, A_A1] = inputs[n, I_FP], inputs[n, I_ADDR]


@njit(cache=True, _nrt=False, inline="always")
def add_quiescent(n, st):
    """Both stages empty: with no line coming (the parser idle) two edges leave every
    field and line zero (a stage's fields and line are loaded with its ``valid``, and the
    parser's line and fields are zero when not valid)."""
    return st[n, A_V1] == 0 and st[n, A_V2] == 0


@njit(cache=True, _nrt=False)
def _outputs_all(st, out, data, lines, wr_line):
    for n in range(st.shape[0]):
        add_outputs(n, st, out)
        add_write_line(n, st, lines, wr_line)


@njit(cache=True, _nrt=False)
def _clock_all(st, inputs, data, lines, line_in, rdata, wr_line, su, sf, mutant):
    for n in range(st.shape[0]):
        add_clock(n, st, inputs, data, lines, line_in, rdata, wr_line, su, sf, mutant)


class AddPipelines:
    """The sink pipelines of ``nodes`` nodes (``width``-bit lines, a multiple of 64, of
    which ``words`` uint64 words are kept, all by default; ``data``: False for timing only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); line_in, rdata : (nodes, words)
        The arriving line and the stored line of the cycle.
    outputs : ndarray (nodes, len(OUTPUTS)); wr_line : (nodes, words)
        The write of the cycle, after :meth:`outputs_of_cycle`.
    """

    def __init__(self, *, nodes, width, data=True, words=None, mutant="none"):
        if width % 64:
            raise ValueError(f"the model needs lines of whole 64-bit words, not {width}")
        rows, words = (nodes if data else 1), words or width // 64
        self.data, self.mutant = data, MUTANTS[mutant]
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.lines = np.zeros((nodes, 3, words), np.uint64)
        self.line_in, self.rdata, self.wr_line = (np.zeros((nodes, words), np.uint64)
                                                  for _ in range(3))
        self._su = np.zeros((rows, 4), np.uint32)
        self._sf = self._su.view(np.float32)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.outputs, self.data, self.lines, self.wr_line)

    def clock(self):
        _clock_all(self.state, self.inputs, self.data, self.lines, self.line_in, self.rdata,
                   self.wr_line, self._su, self._sf, self.mutant)
