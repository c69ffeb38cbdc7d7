"""Network interface of a training node (DESIGN.md sections 5 and 6).

The NI sits on the router's local port. It sinks requests into the SRAM
scratchpad, answers them, runs block DMA pushes and hands matrix operations
to the engine.

Message layouts
---------------
Every opcode-specific field lives in a ``data.StructLayout`` of
:class:`NodeLayouts` (the one source of truth; :mod:`verif.node_model` derives
its encoders from it). Addresses are *space* addresses of ``addr_bits + 1``
bits: the top bit selects the register space (0: SRAM line, 1: register
index, see :data:`REGISTERS`).

===========  ======================================================  =========================
opcode       head ``info``                                           body flits
===========  ======================================================  =========================
WRITE        ``store_info``: addr, tag, ack, sem_inc, sem, dtype      one SRAM line each
ADD          ``store_info`` (``dtype``: INT32 or FP32 lanes)          one line each, added lane-wise
READ         ``read_info``: addr, count, tag                          none (length 1)
PUSH         ``ctl_info``: tag, ack                                   ``push_desc`` (``push_flits``)
EXEC         ``ctl_info``: tag, ack                                   ``exec_desc`` (``exec_flits``)
READ_RESP    ``resp_info``: tag, req_op READ, addr                    ``count`` lines
DONE         ``resp_info``: tag, req_op (the request), addr          none
===========  ======================================================  =========================

Descriptors that do not fit the head travel in body flits (least significant
bits in the first body flit), so the format scales to any flit width.

Semantics
---------
* WRITE/ADD of ``length - 1`` lines at ``addr``, ``addr + 1``...; with
  ``sem_inc`` the completion counter ``sem`` is incremented once the last
  line is accepted (a poller that reads the counter and then the data sees
  the data); with ``ack`` a DONE goes back to the source.
* ADD: a pipelined read-modify-write (read, add, write: 3 stages) at one
  flit per cycle; the value being written is forwarded to a flit that reads
  the same line (back-to-back flits to one line are exact). FP32 lanes add with
  :class:`rtl.node.fp.Fp32Adder` (round to nearest even, flush to zero, canonical
  NaN); INT32 lanes wrap.
* READ of ``count`` (1..max_packet_flits-1) lines or registers: a READ_RESP
  with the data (registers zero-extended), on the response class.
* PUSH: the DMA reads ``count`` (1..255) lines at ``src_addr`` and sends them
  to node ``(dst_x, dst_y)`` at ``dst_addr`` as WRITE (``add=0``) or ADD
  packets of at most ``max_packet_flits - 1`` lines; the last packet carries
  ``sem_inc``/``sem`` for the remote counter. DONE (``ack``) when the last flit
  has left the NI; delivery is observed on the remote counter. One PUSH at a
  time: a second waits for the first (and its DONE) to finish.
* EXEC: starts the matrix engine on ``exec_desc`` (see :mod:`rtl.node.engine`);
  DONE (``ack``) when C is written back. A second EXEC waits.

Malformed requests are dropped whole and counted in the ``errors`` register:
an unknown or response opcode on a request VC, a class/VC mismatch, a length
that disagrees with the opcode, the ``length`` field or the tail, a packet
longer than ``max_packet_flits`` (or than the input buffer), an address range
outside the SRAM or register space, a READ count of 0 or too many, an invalid
PUSH or EXEC descriptor. Whole-packet dropping is possible because the input
buffer is store-and-forward: a packet is processed only once its tail is in
(the length check happens as flits arrive).

Message classes and VCs
-----------------------
With ``vcs >= 2`` requests use VCs ``[0, vcs//2)`` and responses
``[vcs//2, vcs)``; the NI injects requests on VC 0 and responses on VC
``vcs//2``. Responses arriving at a node are always drained (counted in the
``responses`` register) by the response sink (:mod:`rtl.node.pull_writer`, which
writes the lines of a PULL's READ_RESPs into the SRAM), independently of request
processing, so a node waiting for a response credit never blocks the requests that
would drain it. With one VC both classes share it, the parser drains responses,
that guarantee is lost (documented) and there is no PULL.

Command processor
-----------------
:mod:`rtl.node.command_processor` runs descriptor programs from the SRAM: its PUSHes,
SIGNALs and PULLs go through the DMA after the host's PUSH (which has priority), its
EXECs to the engine after the host's; a write of register ``cmd_ctrl`` starts and
aborts its queues, which report through DONE slots 3 and 4 and ``cmd_status<q>``.

Registers (read-only; READ with the register-space bit set)
------------------------------------------------------------
``sem0..sem{n-1}`` completion counters (incremented by packets and PULLs, taken by
WAITs; a counter saturates at its maximum, 2**32 - 1, rather than wrap to a small
count that would hold back a WAIT it has satisfied, and every increment lost there
counts in ``errors``), ``errors``, ``responses``, ``execs``
(completed EXECs), ``exec_cycles`` and ``exec_steps`` (busy cycles and MAC
steps of the last EXEC), ``status`` (bit 0 engine busy, bit 1 DMA busy,
bit 2 input overflow). 32 bits each.
"""


from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from rtl.net.link import LinkSignature, check_vcs
from rtl.net.packet import Opcode
from rtl.node.add_pipeline import AddPipeline
from rtl.node.command_processor import CommandProcessor
from rtl.node.layouts import (COUNTER_NAMES, COUNT_BITS, DIM_BITS, QUEUES, REG_BITS, TAG_BITS, Dtype,
                              NodeLayouts, register_names, request_vcs, response_vcs)
from rtl.node.link_tx import LinkTx
from rtl.node.pull_writer import PullWriter
from rtl.node.push_dma import PushDma
from rtl.node.request_parser import RequestParser
from rtl.node.response_writer import ResponseWriter
from rtl.node.rx_buffer import RxBuffer
from rtl.node.sram import ReadPortSignature, WritePortSignature

__all__ = ["Dtype", "NodeLayouts", "NetworkInterface", "register_names", "request_vcs",
           "response_vcs", "TAG_BITS", "COUNT_BITS", "DIM_BITS"]


class NetworkInterface(wiring.Component):
    """Packetizer/depacketizer between the router's local port, the SRAM and the engine.

    Parameters
    ----------
    layouts : NodeLayouts
        Message layouts (also fixes ``fmt``, ``lines`` and the counters).
    vcs : int
        Virtual channels, 1..4.
    credits : int
        Depth per VC of the router's local input buffer (initial credits).
    max_packet_flits : int
        Longest packet the NI accepts or sends (2..255).
    mesh_x, mesh_y : int
        Global mesh size (PUSH destinations must lie inside).

    Attributes
    ----------
    depth : int
        Input buffer depth per VC (``max_packet_flits + 3``: a whole packet
        plus the credit round trip, at least ``credits``). The router still sees
        ``credits`` slots: a credit is returned as soon as the free space covers
        every credit the router may hold, so one router parameter serves all
        its outputs.

    Members
    -------
    x, y : In(coord_bits)
        Own global coordinates (source of everything sent).
    o : Out(LinkSignature)
        To the router's ``in_local``; registered, credit-honouring.
    i : In(LinkSignature)
        From the router's ``out_local`` (whose counters start at ``credits``);
        ``credit`` is a registered pulse, at the earliest the cycle after the
        flit arrived (see :attr:`depth`).
    sram_rx : Out(ReadPortSignature)
        Read port for ADD and READ (client 0 of SRAM read port 0: always granted).
    sram_dma : Out(ReadPortSignature)
        Read port for PUSH (SRAM read port 2, its own).
    sram_cmd : Out(ReadPortSignature)
        Descriptor fetch of the command processor (a client that may be refused).
    sram_pull : Out(WritePortSignature)
        Lines of a PULL's READ_RESPs (a write client that may be refused).
    sram_wr : Out(WritePortSignature)
        Write port for WRITE and ADD (client 0 of the SRAM write port).
    exec_desc : Out(layouts.exec_desc)
        Descriptor of the EXEC being started (held until the next PUSH/EXEC).
    exec_ok : In(1)
        The engine accepts ``exec_desc`` (combinational).
    exec_start : Out(1)
        One-cycle pulse: start the engine.
    exec_busy, exec_done : In(1)
        Engine busy; one-cycle pulse when an operation has completed.
    exec_cycles, exec_steps : In(32)
        Engine measurements (exposed as registers).
    counters : In(ArrayLayout(32, len(COUNTER_NAMES)))
        The node's event counters (:data:`rtl.node.layouts.COUNTER_NAMES`), exposed as
        the last registers.
    errors : Out(32)
        The ``errors`` register (malformed requests dropped).
    status : Out(32)
        The ``status`` register.
    """

    def __init__(self, *, layouts, vcs, credits, max_packet_flits, mesh_x, mesh_y):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        check_vcs(vcs)
        if not isinstance(credits, int) or credits < 1:
            raise ValueError(f"credits must be a positive integer, not {credits!r}")
        if not isinstance(max_packet_flits, int) or not 2 <= max_packet_flits <= 255:
            raise ValueError(f"max_packet_flits must be an integer in 2..255, "
                             f"not {max_packet_flits!r}")
        if layouts.fmt.flit_bits % 32:
            raise ValueError(f"flit_bits must be a multiple of 32 (32-bit ADD lanes), "
                             f"not {layouts.fmt.flit_bits}")
        self._lay, self._vcs, self._credits = layouts, vcs, credits
        self._max_len = max_packet_flits
        self._mesh = (mesh_x, mesh_y)
        self.depth = max(max_packet_flits + 3, credits)
        fmt = layouts.fmt
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        rsig = ReadPortSignature(addr_bits=layouts.addr_bits, width=fmt.flit_bits)
        wsig = WritePortSignature(addr_bits=layouts.addr_bits, width=fmt.flit_bits)
        super().__init__({
            "x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
            "o": Out(link), "i": In(link),
            "sram_rx": Out(rsig), "sram_dma": Out(rsig), "sram_cmd": Out(rsig),
            "sram_wr": Out(wsig), "sram_pull": Out(wsig),
            "exec_desc": Out(layouts.exec_desc), "exec_ok": In(1), "exec_start": Out(1),
            "exec_busy": In(1), "exec_done": In(1),
            "exec_cycles": In(32), "exec_steps": In(32),
            "counters": In(data.ArrayLayout(REG_BITS, len(COUNTER_NAMES))),
            "errors": Out(32), "status": Out(32),
        })

    layouts = property(lambda self: self._lay)
    vcs = property(lambda self: self._vcs)


    def elaborate(self, platform):
        m = Module()
        lay, fmt, V = self._lay, self._lay.fmt, self._vcs
        W = fmt.flit_bits
        resp_vcs = response_vcs(V)
        m.submodules.rx = rx = RxBuffer(fmt=fmt, vcs=V, credits=self._credits, depth=self.depth)
        m.submodules.parser = parser = RequestParser(layouts=lay, vcs=V,
                                                     max_packet_flits=self._max_len)
        m.submodules.sink = sink = AddPipeline(addr_bits=lay.addr_bits, width=W)
        m.submodules.dma = dma = PushDma(layouts=lay, max_packet_flits=self._max_len,
                                         mesh_x=self._mesh[0], mesh_y=self._mesh[1])
        m.submodules.cmd = cmd = CommandProcessor(layouts=lay, mesh_x=self._mesh[0],
                                                  mesh_y=self._mesh[1], pull=V >= 2)
        # DONE priority: RX, DMA, engine, then the command queues
        m.submodules.writer = writer = ResponseWriter(layouts=lay, slots=3 + QUEUES)
        m.submodules.tx = tx = LinkTx(flit_bits=W, vcs=V, credits=self._credits)
        rx_slot, dma_slot, eng_slot = writer.done[0], writer.done[1], writer.done[2]
        for q in range(QUEUES):
            wiring.connect(m, cmd.halt[q], writer.done[3 + q])
        wiring.connect(m, cmd.sram, wiring.flipped(self.sram_cmd))

        wiring.connect(m, wiring.flipped(self.i), rx.i)
        wiring.connect(m, tx.o, wiring.flipped(self.o))
        for v in range(len(parser.vc)):
            wiring.connect(m, rx.vc[v], parser.vc[v])
        wiring.connect(m, parser.line, sink.i)
        wiring.connect(m, parser.done, rx_slot)
        wiring.connect(m, dma.q, tx.req)
        wiring.connect(m, writer.q, tx.resp)
        wiring.connect(m, parser.sram, wiring.flipped(self.sram_rx))
        wiring.connect(m, dma.sram, wiring.flipped(self.sram_dma))
        wiring.connect(m, sink.wr, wiring.flipped(self.sram_wr))
        m.d.comb += [
            sink.rdata.eq(self.sram_rx.data),
            parser.x.eq(self.x), parser.y.eq(self.y), dma.x.eq(self.x), dma.y.eq(self.y),
            writer.x.eq(self.x), writer.y.eq(self.y),
            parser.resp_rdy.eq(tx.resp.rdy), parser.resp_level.eq(tx.resp.level),
            writer.rx_en.eq(parser.resp_en), writer.rx_data.eq(parser.resp_data),
            writer.rx_hold.eq(parser.resp_hold),
            # the command processor's start/abort line, from the register write
            cmd.ctrl_wr.eq(parser.ctrl_wr), cmd.ctrl.eq(parser.ctrl_data[:lay.cmd_ctrl.size]),
            cmd.ctrl_x.eq(parser.src_x), cmd.ctrl_y.eq(parser.src_y),
        ]
        # PUSH: the host's (with its DONE slot) before the command queues'; the DMA
        # checks whichever descriptor it is shown
        host_push = parser.dma_want
        cmd_push = Signal()
        pull_busy = Signal()            # a PULL's answers are still coming: a second waits
        m.d.comb += [
            dma.desc.eq(Mux(host_push, parser.desc[:lay.push_desc.size], cmd.dma_desc)),
            dma.tag.eq(Mux(host_push, parser.tag, 0)), dma.ack.eq(host_push & parser.ack),
            dma.read.eq(~host_push & cmd.dma_read),
            cmd_push.eq(cmd.dma_req & ~host_push & ~dma.busy & dma.desc_ok
                        & ~(cmd.dma_read & pull_busy)),
            dma.start.eq(parser.dma_start | cmd_push),
            parser.dma_ok.eq(dma.desc_ok), parser.dma_free.eq(~dma.busy & ~dma_slot.pending),
            cmd.dma_seen.eq(~host_push), cmd.dma_ok.eq(dma.desc_ok), cmd.dma_go.eq(cmd_push),
        ]
        # EXEC: the same order; the engine's DONE slot serves the host's EXECs only
        host_exec = parser.exec_want
        cmd_exec, cmd_owns = Signal(), Signal()
        m.d.comb += [
            self.exec_desc.eq(Mux(host_exec, parser.desc[:lay.exec_desc.size], cmd.exec_desc)),
            cmd_exec.eq(cmd.exec_req & ~host_exec & ~self.exec_busy & self.exec_ok),
            self.exec_start.eq(parser.exec_start | cmd_exec), parser.exec_ok.eq(self.exec_ok),
            parser.exec_free.eq(~self.exec_busy & ~eng_slot.pending),
            cmd.exec_seen.eq(~host_exec), cmd.exec_ok.eq(self.exec_ok), cmd.exec_go.eq(cmd_exec),
            cmd.exec_done.eq(self.exec_done & cmd_owns),
        ]
        with m.If(self.exec_start):
            m.d.sync += cmd_owns.eq(cmd_exec)
        for slot, start, opcode in ((dma_slot, parser.dma_start, Opcode.PUSH),
                                    (eng_slot, parser.exec_start, Opcode.EXEC)):
            m.d.comb += [slot.load.eq(start), slot.x.eq(parser.src_x), slot.y.eq(parser.src_y),
                         slot.tag.eq(parser.tag), slot.opcode.eq(opcode), slot.addr.eq(0)]
        eng_ack = Signal()
        with m.If(self.exec_start):
            m.d.sync += eng_ack.eq(parser.exec_start & parser.ack)
        m.d.comb += [dma_slot.arm.eq(dma.done), eng_slot.arm.eq(self.exec_done & eng_ack)]

        # response VCs: the response sink drains them and writes a PULL's lines (with one
        # VC the parser drains them, and there is no PULL)
        pull_done, pull_sem = Const(0, 1), Const(0, 1)
        n_resp = Signal(2)              # response packets taken whole this cycle
        if V >= 2:
            m.submodules.pull = pull = PullWriter(layouts=lay, vcs=len(resp_vcs))
            for i, v in enumerate(resp_vcs):
                wiring.connect(m, rx.vc[v], pull.vc[i])
            wiring.connect(m, pull.wr, wiring.flipped(self.sram_pull))
            m.d.comb += [pull.start.eq(cmd_push & cmd.dma_read), pull.src.eq(cmd.dma_desc.src_addr),
                         pull.dst.eq(cmd.dma_desc.dst_addr), pull.count.eq(cmd.dma_desc.count),
                         pull.sem.eq(cmd.dma_desc.sem), pull_busy.eq(pull.busy)]
            pull_done, pull_sem = pull.done, pull.done_sem
            m.d.comb += n_resp.eq(pull.drained + parser.drained)
        else:
            m.d.comb += n_resp.eq(parser.drained)

        # -- registers ----------------------------------------------------------------
        cb = lay.counter_bits
        sems = [Signal(cb, name=f"sem{i}") for i in range(lay.sems)]
        errors = Signal(REG_BITS)
        responses = Signal(REG_BITS)
        execs = Signal(REG_BITS)
        status = Signal(REG_BITS)
        m.d.comb += [status.eq(Cat(self.exec_busy, dma.busy, rx.overflow)),
                     self.errors.eq(errors), self.status.eq(status)]
        reg_values = (sems + [errors, responses, execs, self.exec_cycles, self.exec_steps, status,
                              Const(0, REG_BITS)] + [cmd.status[q] for q in range(QUEUES)]
                      + [self.counters[i] for i in range(len(COUNTER_NAMES))])
        assert len(reg_values) == len(lay.registers)
        with m.If(self.exec_done):
            m.d.sync += execs.eq(execs + 1)
        m.d.sync += responses.eq(responses + n_resp)
        lost = []
        for i, s in enumerate(sems):
            # a packet's increment and a WAIT's take in the same cycle both count; the
            # take never exceeds the count, so only the top can be passed: saturate there
            inc = (parser.sem_inc & (parser.sem == i)) + (pull_done & (pull_sem == i))
            dec = Mux(cmd.sem_dec & (cmd.sem_dec_idx == i), cmd.sem_dec_n, 0)
            nxt = Signal(max(cb, len(dec)) + 2, name=f"sem{i}_next")
            top = (1 << cb) - 1
            m.d.comb += nxt.eq(s + inc - dec)
            m.d.sync += s.eq(Mux(nxt > top, top, nxt))
            lost.append(Mux(nxt > top, nxt - top, 0)[:2])
            m.d.comb += cmd.sems[i].eq(s)
        m.d.sync += errors.eq(errors + parser.error + cmd.ctrl_error + sum(lost))
        # register-space reads, aligned with the SRAM's one-cycle latency
        reg_q = Signal(REG_BITS)
        with m.Switch(parser.reg_addr):
            for i, val in enumerate(reg_values):
                with m.Case(i):
                    m.d.sync += reg_q.eq(val)
        m.d.comb += parser.reg_data.eq(reg_q)

        return m
