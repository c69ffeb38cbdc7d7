"""The matrix engine of a training node: a P x P array of MAC units running GEMM.

``C += A x B`` (or ``C = A x B``) over SRAM operands, M, N, K multiples of P,
with the tiling loops in hardware; int8 x int8 -> int32 (wrapping) or
bf16 x bf16 -> fp32 per the numerical contract (sequential accumulation over k,
done by :class:`rtl.node.mac.MacUnit`).

SRAM layout (``W``-bit lines, elements little-endian: element ``e`` of a line
at bits ``[e*b, (e+1)*b)``; :class:`EngineGeometry` and
:mod:`verif.node_model` implement it)
--------------------------------------------------------------------------------
* **A** (M x K, b = 16 bf16 or 8 int8): *row panels*, column-major inside:
  panel ``ti`` holds rows ``ti*P .. ti*P+P-1``; element ``A[ti*P + r, k]`` is
  element ``k*P + r`` of the panel. A panel is ``panel_lines = ceil(K*P*b / W)``
  lines (padded to a whole line); panels follow each other from ``a_addr``.
* **B** (K x N): *column panels*, row-major inside: element ``B[k, tj*P + c]``
  is element ``k*P + c`` of panel ``tj`` (from ``b_addr``).
* **C** (M x N, 32-bit fp32 or int32): *tiles*, row-major inside and between:
  tile ``(ti, tj)`` at ``c_addr + (ti*(N/P) + tj) * tile_lines``,
  ``tile_lines = P*P*32 / W``, element ``C[ti*P + r, tj*P + c]`` is element
  ``r*P + c`` of the tile.

One step of the array consumes P values of A (one k of an A panel) and P of
B, so with 64-bit lines and P = 4 a bf16 step reads one line of each (a line
holds ``steps_per_line`` = W / (P*b) steps: 1 bf16, 2 int8).

Dataflow: output stationary. For each C tile (loop ``ti``, then ``tj``) the
array runs K steps; A and B lines are read on SRAM read ports 0 and 1 (below
the network interface, which has priority: the engine stalls a step when
either port is taken). With ``accumulate`` the first tile's C0 is read before
it starts (``tile_lines / 2`` cycles, on ports 0 and 1), and every later
tile's C0 is prefetched on read port 2 while the tile before it computes (one
line per cycle the DMA leaves the port free), into the same C0 buffer once
the MACs have loaded it; a prefetch that has not finished when its tile
starts (K < ``tile_lines``, or the DMA held the port) is completed as for the
first tile. Without ``accumulate`` the accumulators start from zero. When a
tile's last step has left the MAC pipeline, its P*P results are copied to a
write-back buffer and written (one line per cycle, below the NI and pull
writer) while the next tile computes. Utilisation is ``K / (K + overhead)``
per EXEC of T tiles: the overhead is the pipeline fill and final write-back,
plus ``tile_lines/2`` with ``accumulate`` (the first tile's C0); a tile with
K smaller than ``tile_lines`` waits for the write-back. This matters for
Cannon's algorithm (:mod:`sim.cannon`), where every EXEC after the first
accumulates: reloading C0 tile by tile cost ``kb / (kb + 4)`` of peak.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.node.mac import MacMode, MacUnit
from rtl.node.layouts import NodeLayouts
from rtl.node.sram import ReadPortSignature, WritePortSignature

__all__ = ["EngineGeometry", "MatrixEngine"]


def _pow2(n):
    return isinstance(n, int) and n >= 1 and n & (n - 1) == 0


class EngineGeometry:
    """Sizes of the SRAM layout for a P x P array on ``width``-bit lines.

    Raises
    ------
    ValueError
        If ``p`` or ``width`` is not a power of two, a bf16 step does not fit a
        line (``p * 16 > width``) or a C tile is not a whole number of lines
        (``p * p * 32 < width``).
    """

    BITS = {MacMode.BF16: 16, MacMode.INT8: 8}

    def __init__(self, *, p, width):
        if not _pow2(p):
            raise ValueError(f"matrix_p must be a power of two, not {p!r}")
        if not _pow2(width):
            raise ValueError(f"flit_bits must be a power of two for the matrix engine, "
                             f"not {width!r}")
        if p * 16 > width:
            raise ValueError(f"matrix_p={p} needs {p * 16}-bit lines for one bf16 step, "
                             f"flit_bits is {width}")
        if p * p * 32 < width:
            raise ValueError(f"a {p}x{p} C tile ({p * p * 32} bits) is smaller than one "
                             f"{width}-bit line; use matrix_p >= "
                             f"{next(q for q in (1, 2, 4, 8, 16, 32, 64) if q * q * 32 >= width)}")
        self.p, self.width = p, width
        self.tile_lines = p * p * 32 // width

    def steps_per_line(self, mode):
        return self.width // (self.p * self.BITS[MacMode(mode)])

    def panel_lines(self, k, mode):
        """Lines of one A or B panel for a K of ``k`` (padded to whole lines)."""
        s = self.steps_per_line(mode)
        return -(-k // s)

    def extent(self, *, m, n, k, mode):
        """Lines used by A, B and C for an (m x k) x (k x n) product."""
        p = self.p
        pl = self.panel_lines(k, mode)
        return {"a": (m // p) * pl, "b": (n // p) * pl, "c": (m // p) * (n // p) * self.tile_lines}


class MatrixEngine(wiring.Component):
    """P x P MAC array with hardware tiling loops over SRAM operands.

    Parameters
    ----------
    layouts : NodeLayouts
        Gives the descriptor layout, line width and SRAM size.
    p : int
        Array size P (power of two).

    Attributes
    ----------
    geometry : EngineGeometry

    Members
    -------
    desc : In(layouts.exec_desc)
        Descriptor; sampled when ``start`` is high.
    desc_ok : Out(1)
        ``desc`` is valid (all tile counts >= 1, A, B and C inside the SRAM);
        combinational.
    start : In(1)
        Start an operation (ignored while ``busy`` or if not ``desc_ok``).
    busy : Out(1)
        From the cycle after ``start`` until C is written back.
    done : Out(1)
        One-cycle pulse when an operation has completed (``busy`` falls with it).
    cycles, steps : Out(32)
        Busy cycles and array steps (P*P MACs each) of the current or last
        operation; MAC utilisation = steps / cycles.
    step : Out(1)
        One-cycle pulse per array step (the cycle ``steps`` counts it), in ``mode``.
    mode : Out(MacMode)
        The dtype of the current or last operation.
    rd_a, rd_b : Out(ReadPortSignature)
        Operand reads (SRAM read ports 0 and 1, below the network interface).
    rd_c : Out(ReadPortSignature)
        C prefetch of the next tile while a tile computes (SRAM read port 2, below
        the DMA: it only takes cycles the DMA leaves free).
    wr : Out(WritePortSignature)
        Result writes (SRAM write port, client 1).
    """

    def __init__(self, *, layouts, p):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        self._lay = layouts
        self.geometry = EngineGeometry(p=p, width=layouts.fmt.flit_bits)
        self._p = p
        W = layouts.fmt.flit_bits
        rsig = ReadPortSignature(addr_bits=layouts.addr_bits, width=W)
        wsig = WritePortSignature(addr_bits=layouts.addr_bits, width=W)
        super().__init__({
            "desc": In(layouts.exec_desc), "desc_ok": Out(1), "start": In(1),
            "busy": Out(1), "done": Out(1), "cycles": Out(32), "steps": Out(32),
            "step": Out(1), "mode": Out(MacMode),
            "rd_a": Out(rsig), "rd_b": Out(rsig), "rd_c": Out(rsig), "wr": Out(wsig),
        })

    p = property(lambda self: self._p)

    def _panel_lines(self, m, kt, mode, name):
        """Lines of a panel for ``kt`` k-tiles in ``mode`` (hardware)."""
        geo = self.geometry
        P = self._p
        out = Signal(len(kt) + P.bit_length() + 1, name=name)
        for md in (MacMode.BF16, MacMode.INT8):
            s = geo.steps_per_line(md)
            k_elems = kt * P
            val = (k_elems + (s - 1)) >> (s.bit_length() - 1)
            with m.If(mode == md):
                m.d.comb += out.eq(val)
        return out

    def _check_desc(self, m):
        """Drive ``desc_ok`` from ``desc``; returns the descriptor's panel lines."""
        d, lines, TL = self.desc, self._lay.lines, self.geometry.tile_lines
        pl_in = self._panel_lines(m, d.k_tiles, d.mode, "panel_lines_in")
        ext_a = Signal(32)
        ext_b = Signal(32)
        ext_c = Signal(40)
        m.d.comb += [ext_a.eq(d.a_addr + d.m_tiles * pl_in),
                     ext_b.eq(d.b_addr + d.n_tiles * pl_in),
                     ext_c.eq(d.c_addr + d.m_tiles * d.n_tiles * TL),
                     self.desc_ok.eq((d.m_tiles != 0) & (d.n_tiles != 0) & (d.k_tiles != 0)
                                     & (ext_a <= lines) & (ext_b <= lines) & (ext_c <= lines))]
        return pl_in

    def _write_back(self, m, cap, cap_addr, macs):
        """Capture a tile's results ``lat`` cycles after its last step (``cap``, C tile at
        ``cap_addr``) into the write-back buffer and write it one line per granted cycle.
        Returns ``(wb_busy, capturing)``: writing back; a capture is in flight."""
        P, W, TL, A = self._p, self._lay.fmt.flit_bits, self.geometry.tile_lines, \
            self._lay.addr_bits
        wbbuf = Signal(P * P * 32)
        wb_busy = Signal()
        wb_idx = Signal(range(TL))
        wb_addr = Signal(A)
        inflight = [cap]
        for i in range(macs[0][0].latency):
            cq, aq = Signal(name=f"cap_q{i}"), Signal(A, name=f"cap_addr_q{i}")
            m.d.sync += [cq.eq(cap), aq.eq(cap_addr)]
            cap, cap_addr = cq, aq
            inflight.append(cap)
        capturing = Signal()
        m.d.comb += capturing.eq(Cat(inflight).any())
        with m.If(wb_busy):
            m.d.comb += [self.wr.en.eq(1), self.wr.addr.eq(wb_addr + wb_idx),
                         self.wr.data.eq(wbbuf.word_select(wb_idx, W))]
            with m.If(self.wr.grant):
                m.d.sync += wb_idx.eq(wb_idx + 1)
                with m.If(wb_idx == TL - 1):
                    m.d.sync += wb_busy.eq(0)
        with m.If(cap):
            m.d.sync += [wbbuf.eq(Cat(macs[i // P][i % P].acc for i in range(P * P))),
                         wb_busy.eq(1), wb_idx.eq(0), wb_addr.eq(cap_addr)]
        return wb_busy, capturing

    def elaborate(self, platform):
        m = Module()
        lay, geo, P = self._lay, self.geometry, self._p
        W = lay.fmt.flit_bits
        TL = geo.tile_lines
        A = lay.addr_bits

        d = self.desc
        pl_in = self._check_desc(m)

        # -- latched operation ---------------------------------------------------------
        mode = Signal(MacMode)
        acc = Signal()
        mt, nt, kt = (Signal(8, name=n) for n in ("mt", "nt", "kt"))
        a_addr, b_addr = Signal(A), Signal(A)
        pl = Signal(A + 1)              # panel lines
        kmax = Signal(len(kt) + P.bit_length())      # K - 1
        s_max = Signal(range(geo.steps_per_line(MacMode.INT8)))   # steps per line - 1
        ti, tj = Signal(8), Signal(8)
        k = Signal(len(kmax))
        sub = Signal(len(s_max))
        a_base, a_ptr, b_ptr, c_ptr = Signal(A), Signal(A), Signal(A), Signal(A)
        b_base = Signal(A)

        # -- X stage (operands arrive), MAC array, write-back -------------------------
        x_valid, x_fresh, x_first, x_last = Signal(), Signal(), Signal(), Signal()
        x_sub = Signal(len(s_max))
        x_cptr = Signal(A)
        a_hold, b_hold = Signal(W), Signal(W)
        c0buf = Signal(P * P * 32)

        macs = [[MacUnit(mul_stages=1, adder_stages=1) for _ in range(P)] for _ in range(P)]
        a_line = Signal(W)
        b_line = Signal(W)
        m.d.comb += [a_line.eq(Mux(x_fresh, self.rd_a.data, a_hold)),
                     b_line.eq(Mux(x_fresh, self.rd_b.data, b_hold))]
        with m.If(x_valid & x_fresh):
            m.d.sync += [a_hold.eq(self.rd_a.data), b_hold.eq(self.rd_b.data)]

        def operands(line, name):
            v16 = Signal(P * 16, name=f"{name}16")
            v8 = Signal(P * 8, name=f"{name}8")
            m.d.comb += [v16.eq(line.word_select(x_sub, P * 16)),
                         v8.eq(line.word_select(x_sub, P * 8))]
            return [Mux(mode == MacMode.BF16, v16[16 * i:16 * i + 16], v8[8 * i:8 * i + 8])
                    for i in range(P)]

        a_ops = operands(a_line, "a_vec")
        b_ops = operands(b_line, "b_vec")
        for r in range(P):
            for c in range(P):
                mac = macs[r][c]
                m.submodules[f"mac_{r}_{c}"] = mac
                m.d.comb += [mac.mode.eq(mode), mac.a.eq(a_ops[r]), mac.b.eq(b_ops[c]),
                             mac.enable.eq(x_valid),
                             mac.clear.eq(x_valid & x_first & ~acc),
                             mac.load.eq(x_valid & x_first & acc),
                             mac.c_in.eq(c0buf.word_select(r * P + c, 32))]

        wb_busy, capturing = self._write_back(m, x_valid & x_last, x_cptr, macs)

        # -- control -------------------------------------------------------------------------
        fire = Signal()
        m.d.sync += x_valid.eq(fire)
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(fire):
            m.d.sync += self.steps.eq(self.steps + 1)
        m.d.comb += [self.step.eq(fire), self.mode.eq(mode)]
        c0_idx = Signal(range(TL + 1))
        c0_pend = Signal()
        c0_pidx = Signal(range(TL + 1))
        with m.If(c0_pend):
            m.d.sync += c0buf.word_select(c0_pidx, W).eq(self.rd_a.data)
            if TL > 1:
                m.d.sync += c0buf.word_select(c0_pidx + 1, W).eq(self.rd_b.data)
        m.d.sync += c0_pend.eq(0)
        # prefetch of the next tile's C0 on rd_c, one line per granted cycle, into c0buf:
        # only once this tile's first step has fired (k or sub non-zero), because the MAC
        # loads c0buf in that step's X stage, the cycle after it fires
        pf_idx = Signal(range(TL + 1))
        pf_pend = Signal()
        pf_pidx = Signal(range(TL))
        with m.If(pf_pend):
            m.d.sync += c0buf.word_select(pf_pidx, W).eq(self.rd_c.data)
        m.d.sync += pf_pend.eq(0)
        pf_grant = Signal()
        pf_next = Signal(range(TL + 2))
        m.d.comb += pf_next.eq(pf_idx + pf_grant)

        last_tile = (ti == mt - 1) & (tj == nt - 1)
        with m.FSM(name="engine"):
            with m.State("IDLE"):
                with m.If(self.start & self.desc_ok):
                    m.d.sync += [mode.eq(d.mode), acc.eq(d.accumulate), mt.eq(d.m_tiles),
                                 nt.eq(d.n_tiles), kt.eq(d.k_tiles), a_addr.eq(d.a_addr),
                                 b_addr.eq(d.b_addr), pl.eq(pl_in),
                                 kmax.eq(d.k_tiles * P - 1),
                                 s_max.eq(Mux(d.mode == MacMode.BF16,
                                              geo.steps_per_line(MacMode.BF16) - 1,
                                              geo.steps_per_line(MacMode.INT8) - 1)),
                                 ti.eq(0), tj.eq(0), k.eq(0), sub.eq(0),
                                 a_base.eq(d.a_addr), a_ptr.eq(d.a_addr),
                                 b_base.eq(d.b_addr), b_ptr.eq(d.b_addr),
                                 c_ptr.eq(d.c_addr), c0_idx.eq(0), pf_idx.eq(0),
                                 self.busy.eq(1), self.cycles.eq(0), self.steps.eq(0)]
                    with m.If(d.accumulate):
                        m.next = "C0"
                    with m.Else():
                        m.next = "RUN"
            with m.State("C0"):
                m.d.comb += [self.rd_a.en.eq(1), self.rd_a.addr.eq(c_ptr + c0_idx)]
                go = self.rd_a.grant
                if TL > 1:
                    m.d.comb += [self.rd_b.en.eq(1), self.rd_b.addr.eq(c_ptr + c0_idx + 1)]
                    go = go & self.rd_b.grant
                with m.If(go):
                    step = 2 if TL > 1 else 1
                    m.d.sync += [c0_pend.eq(1), c0_pidx.eq(c0_idx), c0_idx.eq(c0_idx + step)]
                    with m.If(c0_idx + step >= TL):
                        m.d.sync += c0_idx.eq(0)
                        m.next = "RUN"
            with m.State("RUN"):
                need = sub == 0
                is_last = k == kmax
                hold = is_last & (wb_busy | capturing)
                with m.If(acc & ~last_tile & (pf_idx < TL) & ((k != 0) | (sub != 0))):
                    m.d.comb += [self.rd_c.en.eq(1), self.rd_c.addr.eq(c_ptr + TL + pf_idx),
                                 pf_grant.eq(self.rd_c.grant)]
                with m.If(pf_grant):
                    m.d.sync += [pf_pend.eq(1), pf_pidx.eq(pf_idx), pf_idx.eq(pf_idx + 1)]
                m.d.comb += [self.rd_a.en.eq(need & ~hold), self.rd_a.addr.eq(a_ptr),
                             self.rd_b.en.eq(need & ~hold), self.rd_b.addr.eq(b_ptr),
                             fire.eq(~hold & (~need | (self.rd_a.grant & self.rd_b.grant)))]
                with m.If(fire):
                    m.d.sync += [x_fresh.eq(need), x_sub.eq(sub), x_first.eq(k == 0),
                                 x_last.eq(is_last), x_cptr.eq(c_ptr)]
                    with m.If(is_last):
                        m.d.sync += [k.eq(0), sub.eq(0), c_ptr.eq(c_ptr + TL)]
                        with m.If(tj == nt - 1):
                            m.d.sync += [tj.eq(0), ti.eq(ti + 1), a_base.eq(a_base + pl),
                                         a_ptr.eq(a_base + pl), b_base.eq(b_addr),
                                         b_ptr.eq(b_addr)]
                        with m.Else():
                            m.d.sync += [tj.eq(tj + 1), a_ptr.eq(a_base),
                                         b_base.eq(b_base + pl), b_ptr.eq(b_base + pl)]
                        m.d.sync += pf_idx.eq(0)
                        with m.If(last_tile):
                            m.next = "FLUSH"
                        with m.Elif(acc & (pf_next < TL)):
                            # prefetch incomplete (a short K, or the DMA held port 2):
                            # read the rest, from an even line, two per cycle
                            m.d.sync += c0_idx.eq(pf_next & ~1)
                            m.next = "C0"
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                        with m.If(sub == s_max):
                            m.d.sync += [sub.eq(0), a_ptr.eq(a_ptr + 1), b_ptr.eq(b_ptr + 1)]
                        with m.Else():
                            m.d.sync += sub.eq(sub + 1)
            with m.State("FLUSH"):
                with m.If(~x_valid & ~capturing & ~wb_busy):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.busy.eq(0)
                    m.next = "IDLE"
        return m
