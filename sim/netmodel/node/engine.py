"""The matrix engine (:class:`rtl.node.engine.MatrixEngine`) in the fast engine: its timing
(the tiling loops, C0 load, C prefetch on read port 2, write-back) and its numerics (the P x P
MAC array, bf16 x bf16 -> fp32 and int8 x int8 -> int32, bit-exact with
:mod:`verif.golden`'s contract).

One cycle is two step functions, as in the RTL:

* :func:`engine_outputs` (combinational, from the state and the descriptor input):
  ``desc_ok``, ``busy``, ``done``, the counters, the read requests of ports A, B and C and
  the write request of the write-back (its line from the data half).
* :func:`engine_clock` (the edge, after the SRAM's grants and with its read data): the MAC
  pipeline (one operand stage, one accumulation stage: a step's result is on the
  accumulators two cycles later), the write-back capture and writes, the C0 buffer, the FSM
  (IDLE, C0, RUN, FLUSH).

State: control in ``state[node, E_*]`` (the FSM and its loop counters, pointers, the X stage,
the MAC control pipeline, the write-back and prefetch indices); data in per-node arrays of
the elements (``acc``, ``prod``, ``iprod``, ``c_in`` of every MAC, the C0 and write-back
buffers, the held operand lines). A timing-only run skips :func:`_mac_data` and the buffer
copies: the engine's timing does not depend on the values it computes.

Numerics: :mod:`.numerics` (the contract of :mod:`verif.golden`), one element at a time.
"""

import numpy as np
from numba import njit, uint64

from rtl.node.engine import EngineGeometry
from rtl.node.mac import MacMode
from sim.netmodel.node.fields import copy_row, define
from sim.netmodel.node.numerics import bf16_mul, fp32_add

__all__ = ["engine_quiescent", "MatrixEngines", "engine_outputs", "engine_clock", "MUTANTS", "STATE", "OUTPUTS",
           "EXEC_FIELDS"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "skips_c_prefetch": 1,        # the next tile's C0 is never prefetched on port C
           "int8_unsigned": 2,           # int8 operands read without their sign
           "nan_sum_not_canonical": 3}   # a NaN sum keeps the FPU's NaN (inf - inf: -NaN)

define(globals(), ("idle", "c0", "run", "flush"), "S_")
#: parameters (``params`` tuple)
define(globals(), ("lines", "width", "addr_bits", "p", "tile_lines", "spl_bf16", "spl_int8",
                   "mutant"), "P_")
#: the descriptor input fields (``desc[node, D_*]``), as the RTL's exec_desc
EXEC_FIELDS = ("mode", "accumulate", "m_tiles", "n_tiles", "k_tiles", "a_addr", "b_addr",
               "c_addr")
define(globals(), EXEC_FIELDS, "D_")
#: control state
STATE = define(globals(), (
    "fsm", "mode", "acc", "mt", "nt", "kt", "a_addr", "b_addr", "pl", "kmax", "s_max", "ti",
    "tj", "k", "sub", "a_base", "a_ptr", "b_base", "b_ptr", "c_ptr",
    # the X stage (operands arrive from the SRAM) and the MAC array's control pipeline
    "x_valid", "x_fresh", "x_first", "x_last", "x_sub", "x_cptr",
    "m_enable", "m_clear", "m_load", "m_mode",
    # the capture delay line (a tile's last step -> its results on the accumulators)
    "cap0", "cap_addr0", "cap1", "cap_addr1",
    "wb_busy", "wb_idx", "wb_addr", "c0_idx", "c0_pend", "c0_pidx", "pf_idx", "pf_pend",
    "pf_pidx", "busy", "cycles", "steps"), "E_")
#: outputs per node (``wr_data`` is the data half's ``wr_line``)
OUTPUTS = define(globals(), ("desc_ok", "busy", "done", "cycles", "steps", "rd_a_en",
                             "rd_a_addr", "rd_b_en", "rd_b_addr", "rd_c_en", "rd_c_addr",
                             "wr_en", "wr_addr"), "O_")
#: inputs per node besides the descriptor and the read data
INPUTS = define(globals(), ("start", "rd_a_grant", "rd_b_grant", "rd_c_grant", "wr_grant"),
                "I_")

_BF16 = MacMode.BF16.value
_M32 = 0xFFFFFFFF


@njit(cache=True, _nrt=False, inline="always")
def _element(line, n, index, bits):
    """Element ``index`` of ``bits`` bits of a line (uint64 words, little-endian)."""
    offset = index * bits
    return np.int64((line[n, offset // 64] >> uint64(offset % 64)) & uint64((1 << bits) - 1))


# ---------------------------------------------------------------- control


@njit(cache=True, _nrt=False, inline="always")
def _panel_lines(P, mode, k_tiles):
    spl = P[P_SPL_BF16] if mode == _BF16 else P[P_SPL_INT8]
    return (k_tiles * P[P_P] + spl - 1) // spl


@njit(cache=True, _nrt=False, inline="always")
def _capturing(st, n):
    return (st[n, E_X_VALID] and st[n, E_X_LAST]) or st[n, E_CAP0] or st[n, E_CAP1]


@njit(cache=True, _nrt=False, inline="always")
def _prefetching(st, n, P):
    """Port C asks for the next tile's C0 (RUN, accumulating, not the last tile, once this
    tile's first step has fired)."""
    last_tile = st[n, E_TI] == st[n, E_MT] - 1 and st[n, E_TJ] == st[n, E_NT] - 1
    return (P[P_MUTANT] != 1 and st[n, E_ACC] and not last_tile
            and st[n, E_PF_IDX] < P[P_TILE_LINES] and (st[n, E_K] != 0 or st[n, E_SUB] != 0))


@njit(cache=True, _nrt=False, forceinline=True)
def engine_outputs(n, st, desc, out, P):
    """Node ``n``'s combinational outputs (see the module docstring)."""
    lines, TL, amask = P[P_LINES], P[P_TILE_LINES], (1 << P[P_ADDR_BITS]) - 1
    out[n, :] = 0
    pl = _panel_lines(P, desc[n, D_MODE], desc[n, D_K_TILES])
    out[n, O_DESC_OK] = (desc[n, D_M_TILES] != 0 and desc[n, D_N_TILES] != 0
                         and desc[n, D_K_TILES] != 0
                         and desc[n, D_A_ADDR] + desc[n, D_M_TILES] * pl <= lines
                         and desc[n, D_B_ADDR] + desc[n, D_N_TILES] * pl <= lines
                         and desc[n, D_C_ADDR] + desc[n, D_M_TILES] * desc[n, D_N_TILES] * TL
                         <= lines)
    out[n, O_BUSY], out[n, O_CYCLES], out[n, O_STEPS] = st[n, E_BUSY], st[n, E_CYCLES], st[n, E_STEPS]
    fsm = st[n, E_FSM]
    if fsm == S_C0:
        out[n, O_RD_A_EN], out[n, O_RD_A_ADDR] = 1, (st[n, E_C_PTR] + st[n, E_C0_IDX]) & amask
        if TL > 1:
            out[n, O_RD_B_EN] = 1
            out[n, O_RD_B_ADDR] = (st[n, E_C_PTR] + st[n, E_C0_IDX] + 1) & amask
    elif fsm == S_RUN:
        need = st[n, E_SUB] == 0
        hold = st[n, E_K] == st[n, E_KMAX] and (st[n, E_WB_BUSY] or _capturing(st, n))
        if _prefetching(st, n, P):
            out[n, O_RD_C_EN] = 1
            out[n, O_RD_C_ADDR] = (st[n, E_C_PTR] + TL + st[n, E_PF_IDX]) & amask
        out[n, O_RD_A_EN] = out[n, O_RD_B_EN] = 1 if need and not hold else 0
        out[n, O_RD_A_ADDR], out[n, O_RD_B_ADDR] = st[n, E_A_PTR], st[n, E_B_PTR]
    elif fsm == S_FLUSH:
        out[n, O_DONE] = (not st[n, E_X_VALID] and not _capturing(st, n)
                          and not st[n, E_WB_BUSY])
    if st[n, E_WB_BUSY]:
        out[n, O_WR_EN] = 1
        out[n, O_WR_ADDR] = (st[n, E_WB_ADDR] + st[n, E_WB_IDX]) & amask


@njit(cache=True, _nrt=False, inline="always")
def _mac_data(n, st, P, rd_a, rd_b, a_hold, b_hold, acc, prod, iprod, c_in, c0buf, su, sf):
    """The MAC array's data at the edge: the accumulation stage from the operand stage's
    registers, then the operand stage from the X stage's operands (before their control
    registers move on)."""
    p, mutant = P[P_P], P[P_MUTANT]
    fp = st[n, E_M_ENABLE] and st[n, E_M_MODE] == _BF16
    for e in range(p * p):
        if st[n, E_M_LOAD]:
            base = np.int64(c_in[n, e])
        elif st[n, E_M_CLEAR]:
            base = 0
        else:
            base = np.int64(acc[n, e])
        if fp:
            acc[n, e] = fp32_add(n, base, np.int64(prod[n, e]), su, sf, mutant != 3)
        elif st[n, E_M_ENABLE]:
            acc[n, e] = (base + iprod[n, e]) & _M32
        else:
            acc[n, e] = base
    if not st[n, E_X_VALID]:
        return                                  # a bubble: the operand stage is not used
    fresh, x_sub = st[n, E_X_FRESH], st[n, E_X_SUB]
    bits = 16 if st[n, E_MODE] == _BF16 else 8
    a_line, b_line = (rd_a, rd_b) if fresh else (a_hold, b_hold)
    for r in range(p):
        a = _element(a_line, n, x_sub * p + r, bits)
        for c in range(p):
            b = _element(b_line, n, x_sub * p + c, bits)
            e = r * p + c
            if bits == 16:
                prod[n, e] = bf16_mul(n, a, b, su, sf)
            elif mutant == 2:
                iprod[n, e] = a * b
            else:
                iprod[n, e] = (a - ((a & 0x80) << 1)) * (b - ((b & 0x80) << 1))
            c_in[n, e] = c0buf[n, e]
    if fresh:
        copy_row(a_hold[n], rd_a[n])
        copy_row(b_hold[n], rd_b[n])


@njit(cache=True, _nrt=False, inline="always")
def _buffer_line(buf, n, line, words, data):
    """Line ``line`` of a buffer of 32-bit elements <- ``data[n]`` (uint64 words)."""
    for w in range(words):
        buf[n, line * 2 * words + 2 * w] = data[n, w] & uint64(_M32)
        buf[n, line * 2 * words + 2 * w + 1] = data[n, w] >> uint64(32)


@njit(cache=True, _nrt=False, forceinline=True)
def engine_clock(n, st, desc, inputs, out, P, data, rd_a, rd_b, rd_c, a_hold, b_hold, acc,
                 prod, iprod, c_in, c0buf, wbbuf, su, sf):
    """Node ``n``'s clock edge, after :func:`engine_outputs` and the SRAM's grants
    (``data``: keep the values; a timing-only run passes False and one-row dummies)."""
    TL, amask, p = P[P_TILE_LINES], (1 << P[P_ADDR_BITS]) - 1, P[P_P]
    words = P[P_WIDTH] // 64
    fsm, wb_busy = st[n, E_FSM], st[n, E_WB_BUSY]
    capturing = _capturing(st, n)
    if data and st[n, E_CAP1]:
        copy_row(wbbuf[n], acc[n])              # the tile's results, before this edge's step
    if data:
        _mac_data(n, st, P, rd_a, rd_b, a_hold, b_hold, acc, prod, iprod, c_in, c0buf, su, sf)
    # the MAC array's control pipeline
    x_valid = st[n, E_X_VALID]
    st[n, E_M_ENABLE] = x_valid
    st[n, E_M_CLEAR] = 1 if x_valid and st[n, E_X_FIRST] and not st[n, E_ACC] else 0
    st[n, E_M_LOAD] = 1 if x_valid and st[n, E_X_FIRST] and st[n, E_ACC] else 0
    st[n, E_M_MODE] = st[n, E_MODE]
    # write-back: one line per granted cycle; a capture (the delay line's end) restarts it
    if st[n, E_WB_BUSY] and inputs[n, I_WR_GRANT]:
        st[n, E_WB_IDX] += 1
        if st[n, E_WB_IDX] == TL:
            st[n, E_WB_BUSY] = 0
    if st[n, E_CAP1]:
        st[n, E_WB_BUSY], st[n, E_WB_IDX], st[n, E_WB_ADDR] = 1, 0, st[n, E_CAP_ADDR1]
    st[n, E_CAP1], st[n, E_CAP_ADDR1] = st[n, E_CAP0], st[n, E_CAP_ADDR0]
    st[n, E_CAP0] = 1 if x_valid and st[n, E_X_LAST] else 0
    st[n, E_CAP_ADDR0] = st[n, E_X_CPTR]
    # C0 buffer: a C0 load's pair of lines, a prefetched line
    if data and st[n, E_C0_PEND]:
        _buffer_line(c0buf, n, st[n, E_C0_PIDX], words, rd_a)
        if TL > 1:
            _buffer_line(c0buf, n, st[n, E_C0_PIDX] + 1, words, rd_b)
    if data and st[n, E_PF_PEND]:
        _buffer_line(c0buf, n, st[n, E_PF_PIDX], words, rd_c)
    st[n, E_C0_PEND] = st[n, E_PF_PEND] = 0
    if st[n, E_BUSY]:
        st[n, E_CYCLES] = (st[n, E_CYCLES] + 1) & _M32
    fire = False
    if fsm == S_IDLE:
        if inputs[n, I_START] and out[n, O_DESC_OK]:
            mode = desc[n, D_MODE]
            for f, v in ((E_MODE, mode), (E_ACC, desc[n, D_ACCUMULATE]),
                         (E_MT, desc[n, D_M_TILES]), (E_NT, desc[n, D_N_TILES]),
                         (E_KT, desc[n, D_K_TILES]), (E_A_ADDR, desc[n, D_A_ADDR]),
                         (E_B_ADDR, desc[n, D_B_ADDR]),
                         (E_PL, _panel_lines(P, mode, desc[n, D_K_TILES])),
                         (E_KMAX, desc[n, D_K_TILES] * p - 1),
                         (E_S_MAX, (P[P_SPL_BF16] if mode == _BF16 else P[P_SPL_INT8]) - 1),
                         (E_TI, 0), (E_TJ, 0), (E_K, 0), (E_SUB, 0),
                         (E_A_BASE, desc[n, D_A_ADDR]), (E_A_PTR, desc[n, D_A_ADDR]),
                         (E_B_BASE, desc[n, D_B_ADDR]), (E_B_PTR, desc[n, D_B_ADDR]),
                         (E_C_PTR, desc[n, D_C_ADDR]), (E_C0_IDX, 0), (E_PF_IDX, 0),
                         (E_BUSY, 1), (E_CYCLES, 0), (E_STEPS, 0)):
                st[n, f] = v
            st[n, E_FSM] = S_C0 if desc[n, D_ACCUMULATE] else S_RUN
    elif fsm == S_C0:
        go = inputs[n, I_RD_A_GRANT] and (TL == 1 or inputs[n, I_RD_B_GRANT])
        if go:
            step = 2 if TL > 1 else 1
            st[n, E_C0_PEND], st[n, E_C0_PIDX] = 1, st[n, E_C0_IDX]
            st[n, E_C0_IDX] += step
            if st[n, E_C0_IDX] >= TL:
                st[n, E_C0_IDX] = 0
                st[n, E_FSM] = S_RUN
    elif fsm == S_RUN:
        need = st[n, E_SUB] == 0
        is_last = st[n, E_K] == st[n, E_KMAX]
        hold = is_last and (wb_busy or capturing)
        pf_grant = out[n, O_RD_C_EN] and inputs[n, I_RD_C_GRANT]
        pf_next = st[n, E_PF_IDX] + (1 if pf_grant else 0)
        if pf_grant:
            st[n, E_PF_PEND], st[n, E_PF_PIDX] = 1, st[n, E_PF_IDX]
            st[n, E_PF_IDX] += 1
        fire = not hold and (not need or (inputs[n, I_RD_A_GRANT] and inputs[n, I_RD_B_GRANT]))
        if fire:
            st[n, E_X_FRESH], st[n, E_X_SUB] = need, st[n, E_SUB]
            st[n, E_X_FIRST], st[n, E_X_LAST] = st[n, E_K] == 0, is_last
            st[n, E_X_CPTR] = st[n, E_C_PTR]
            if is_last:
                last_tile = st[n, E_TI] == st[n, E_MT] - 1 and st[n, E_TJ] == st[n, E_NT] - 1
                st[n, E_K] = st[n, E_SUB] = 0
                st[n, E_C_PTR] = (st[n, E_C_PTR] + TL) & amask
                pl = st[n, E_PL]
                if st[n, E_TJ] == st[n, E_NT] - 1:
                    st[n, E_TJ], st[n, E_TI] = 0, (st[n, E_TI] + 1) & 0xFF
                    st[n, E_A_BASE] = st[n, E_A_PTR] = (st[n, E_A_BASE] + pl) & amask
                    st[n, E_B_BASE] = st[n, E_B_PTR] = st[n, E_B_ADDR]
                else:
                    st[n, E_TJ] += 1
                    st[n, E_A_PTR] = st[n, E_A_BASE]
                    st[n, E_B_BASE] = st[n, E_B_PTR] = (st[n, E_B_BASE] + pl) & amask
                st[n, E_PF_IDX] = 0
                if last_tile:
                    st[n, E_FSM] = S_FLUSH
                elif st[n, E_ACC] and pf_next < TL:
                    # prefetch incomplete: read the rest, from an even line, two per cycle
                    st[n, E_C0_IDX] = pf_next & ~1
                    st[n, E_FSM] = S_C0
            else:
                st[n, E_K] += 1
                if st[n, E_SUB] == st[n, E_S_MAX]:
                    st[n, E_SUB] = 0
                    st[n, E_A_PTR] = (st[n, E_A_PTR] + 1) & amask
                    st[n, E_B_PTR] = (st[n, E_B_PTR] + 1) & amask
                else:
                    st[n, E_SUB] += 1
    elif fsm == S_FLUSH:
        if out[n, O_DONE]:
            st[n, E_BUSY] = 0
            st[n, E_FSM] = S_IDLE
    st[n, E_X_VALID] = 1 if fire else 0
    if fire:
        st[n, E_STEPS] = (st[n, E_STEPS] + 1) & _M32


@njit(cache=True, _nrt=False, inline="always")
def engine_quiescent(n, st):
    """Idle and drained: no step in the X stage or the MAC array's pipeline, no capture,
    write-back or buffered line pending, not busy (``cycles`` counts busy cycles only).
    The delay lines (``m_mode``, ``cap_addr*``) reload constants, so two edges settle them."""
    return (st[n, E_FSM] == S_IDLE and st[n, E_BUSY] == 0 and st[n, E_X_VALID] == 0
            and st[n, E_M_ENABLE] == 0 and st[n, E_CAP0] == 0 and st[n, E_CAP1] == 0
            and st[n, E_WB_BUSY] == 0 and st[n, E_C0_PEND] == 0 and st[n, E_PF_PEND] == 0)


@njit(cache=True, _nrt=False, forceinline=True)
def engine_write_line(n, st, wbbuf, wr_line, P):
    """The write-back's line of the cycle (``wr.data``) into ``wr_line[n]``."""
    words = P[P_WIDTH] // 64
    base = st[n, E_WB_IDX] * 2 * words if st[n, E_WB_BUSY] else -1
    for w in range(words):
        if base < 0:
            wr_line[n, w] = 0
        else:
            wr_line[n, w] = (uint64(wbbuf[n, base + 2 * w])
                             | uint64(wbbuf[n, base + 2 * w + 1]) << uint64(32))


@njit(cache=True, _nrt=False)
def _outputs_all(st, desc, out, P, data, wbbuf, wr_line):
    for n in range(st.shape[0]):
        engine_outputs(n, st, desc, out, P)
        if data:
            engine_write_line(n, st, wbbuf, wr_line, P)


@njit(cache=True, _nrt=False)
def _clock_all(st, desc, inputs, out, P, data, rd_a, rd_b, rd_c, a_hold, b_hold, acc, prod,
               iprod, c_in, c0buf, wbbuf, su, sf):
    for n in range(st.shape[0]):
        engine_clock(n, st, desc, inputs, out, P, data, rd_a, rd_b, rd_c, a_hold, b_hold, acc,
                     prod, iprod, c_in, c0buf, wbbuf, su, sf)


class MatrixEngines:
    """The matrix engines of ``nodes`` nodes.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    p : int
        As :class:`rtl.node.engine.MatrixEngine`'s.
    data : bool
        Compute the values (False: timing only).
    mutant : str
        One of :data:`MUTANTS` (tests only).

    Attributes
    ----------
    desc : ndarray (nodes, len(EXEC_FIELDS)); inputs : (nodes, len(INPUTS))
        The descriptor and the start / grants of the cycle.
    rd_a, rd_b, rd_c : ndarray (nodes, words)
        The read ports' data of the cycle.
    outputs : ndarray (nodes, len(OUTPUTS)); wr_line : (nodes, words)
        After :meth:`outputs_of_cycle`.
    """

    def __init__(self, *, nodes, layouts, p, data=True, mutant="none"):
        W = layouts.fmt.flit_bits
        geo = EngineGeometry(p=p, width=W)
        if W % 64:
            raise ValueError(f"the engine's model needs lines of whole 64-bit words, not {W}")
        words, elems = W // 64, p * p
        self.params = tuple(int(v) for v in (
            layouts.lines, W, layouts.addr_bits, p, geo.tile_lines,
            geo.steps_per_line(MacMode.BF16), geo.steps_per_line(MacMode.INT8),
            MUTANTS[mutant]))
        if tuple(name for name, _ in layouts.exec_desc) != EXEC_FIELDS:
            raise ValueError("exec_desc's members changed: update the model's copy")
        self.data = data
        rows = nodes if data else 1
        self.state = np.zeros((nodes, len(STATE)), np.int64)
        self.desc = np.zeros((nodes, len(EXEC_FIELDS)), np.int64)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.rd_a, self.rd_b, self.rd_c, self.a_hold, self.b_hold, self.wr_line = (
            np.zeros((rows, words), np.uint64) for _ in range(6))
        self.acc, self.prod, self.c_in, self.c0buf, self.wbbuf = (
            np.zeros((rows, elems), np.uint32) for _ in range(5))
        self.iprod = np.zeros((rows, elems), np.int64)
        self._su = np.zeros((rows, 4), np.uint32)
        self._sf = self._su.view(np.float32)

    def outputs_of_cycle(self):
        _outputs_all(self.state, self.desc, self.outputs, self.params, self.data, self.wbbuf,
                     self.wr_line)

    def clock(self):
        _clock_all(self.state, self.desc, self.inputs, self.outputs, self.params, self.data,
                   self.rd_a, self.rd_b, self.rd_c, self.a_hold, self.b_hold, self.acc,
                   self.prod, self.iprod, self.c_in, self.c0buf, self.wbbuf, self._su,
                   self._sf)
