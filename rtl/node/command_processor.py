"""The command processor of a training node: descriptor queues that run without the host.

Dojo's nodes run their own communication and compute threads, with block DMA and a
list parser that launches transfer sequences. Here each node has ``QUEUES`` (2)
independent queues, typically one for communication and one for compute, that read
descriptors from the node's own SRAM and synchronise only through the node's
semaphores (the completion counters ``sem0..``), so transfers overlap compute.

Descriptors
-----------
A descriptor is ``cmd_lines`` SRAM lines (2 at 64-bit flits): an opcode
(:class:`~rtl.node.layouts.CmdOp`) and one argument layout of
``NodeLayouts.cmd_args``:

=======  =====================================================================
HALT     ``code`` (0..127): stop; a DONE goes to the node that started the queue
PUSH     a ``push_desc`` (as the host's PUSH: ``count`` lines at ``src_addr`` to a
         node's ``dst_addr`` as WRITE or ADD, the last packet incrementing one of its
         semaphores) and signed ``src_step``/``dst_step``
EXEC     an ``exec_desc`` (a GEMM on the engine) and ``a_step``/``b_step``/``c_step``;
         the queue goes on when the engine has written C back
WAIT     ``sem``, ``n``: until local semaphore ``sem`` holds ``n``, then take ``n`` off it
SIGNAL   ``dst_x``, ``dst_y``, ``sem``: add 1 to a semaphore of a node (itself too),
         a WRITE of no lines
PULL     ``src_x``, ``src_y``, ``src_addr``, ``count``, ``dst_addr``, ``sem`` and steps:
         ``count`` lines of that node into the local ``dst_addr``, through READs and
         their READ_RESPs (:mod:`rtl.node.pull_writer`); local semaphore ``sem`` is
         incremented when the last line is in. One PULL at a time per node (a second
         waits); needs the response class (2 VCs or more).
LOOP     ``count``, ``body``: run the next ``body`` descriptors ``count`` times; in
         iteration ``i`` (0-based) every address of a PUSH, PULL or EXEC of the body is
         its field plus ``i`` times its step (so a ring or a Cannon shift is one loop,
         not N descriptors). No loop inside a loop.
=======  =====================================================================

Start, status, abort
--------------------
The host writes one line to register ``cmd_ctrl`` (``NodeLayouts.cmd_ctrl``:
per queue a ``start`` bit and start address ``pc<q>``, an ``abort`` bit); that
is the only register a WRITE may target. A queue that halts, stops on an error
or is aborted sends one DONE to the node that started it: ``req_op`` EXEC,
``addr`` its status register, ``tag`` the HALT code, or ``0x80 | CmdError``
(``ABORT`` for an abort). Register ``cmd_status<q>`` (``NodeLayouts.cmd_status``)
shows the state (:class:`~rtl.node.layouts.CmdState`: a WAIT that is short shows
as WAITING, with its ``pc``), the code and the address of the current or last
descriptor. A start of a running queue is ignored and counted in ``errors``.

Safety: a malformed descriptor (unknown opcode; a PUSH/SIGNAL whose lines lie
outside the SRAM, also after its steps, or whose destination lies outside the
mesh; an EXEC the engine refuses; a WAIT of 0; a LOOP of 0 or nested; a queue
running off the SRAM) stops only its own queue, before anything is sent: nothing
reaches the network that a host PUSH could not send, and the other queue goes on.
An abort stops a queue at once when it is fetching or waiting; a PUSH already
handed to the DMA is sent whole, an EXEC already started completes.

Micro-architecture and timing
-----------------------------
Per queue an FSM: FETCH reads the descriptor's lines through one SRAM read client
(issued back to back, the last line decoded as it arrives), then one state per
operation; the next descriptor is fetched the cycle after an operation is handed
on. A descriptor costs ``cmd_lines + 2`` cycles of its own (4 at 64-bit flits)
besides what it waits for. The queues share the SRAM client, the DMA, the engine
and the semaphore decrement with fixed priority (queue 0 first; at the DMA a SIGNAL
goes before a PUSH or PULL of either queue); the NI gives the
host's PUSH and EXEC priority over the queues'. Steps are applied with 8 x 8-bit
multipliers in the decode cycle.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.packet import Opcode
from rtl.node.layouts import (COUNT_BITS, QUEUES, REG_BITS, CmdError, CmdOp, CmdState,
                              NodeLayouts)
from rtl.node.response_writer import DoneSlotSignature
from rtl.node.sram import ReadPortSignature

__all__ = ["CommandProcessor"]


class CommandProcessor(wiring.Component):
    """``QUEUES`` descriptor queues (see the module docstring).

    Parameters
    ----------
    layouts : NodeLayouts
    mesh_x, mesh_y : int
        Global mesh size (PUSH and SIGNAL destinations must lie inside).
    pull : bool
        PULLs are possible (the NI has a response class to receive them on).

    Members
    -------
    ctrl_wr : In(1)
        The host wrote ``ctrl`` (a ``cmd_ctrl`` line) from node ``ctrl_x, ctrl_y``.
    ctrl_error : Out(1)
        Pulse: the write started a queue that was running (ignored).
    sram : Out(ReadPortSignature)
        Descriptor fetch (a client that may be refused: ``grant``).
    dma_req, dma_desc, dma_read : Out
        A queue asks the DMA to send ``dma_desc`` (as READs of a PULL with ``dma_read``).
    dma_seen, dma_ok, dma_go : In(1)
        ``dma_desc`` is the one the DMA checks this cycle; it is valid; the DMA
        takes it this cycle.
    exec_req, exec_desc, exec_seen, exec_ok, exec_go :
        The same for the engine.
    exec_done : In(1)
        The engine finished the EXEC this processor started last.
    sems : In(32) x sems
        The semaphores.
    sem_dec, sem_dec_idx, sem_dec_n : Out
        Take ``sem_dec_n`` off semaphore ``sem_dec_idx`` this cycle.
    halt : Out(DoneSlotSignature) x QUEUES
        The DONE of each queue.
    status : Out(32) x QUEUES
        The ``cmd_status<q>`` registers.
    """

    def __init__(self, *, layouts, mesh_x, mesh_y, pull=True):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        self._lay, self._mesh, self._pull = layouts, (mesh_x, mesh_y), bool(pull)
        lay, fmt = layouts, layouts.fmt
        cb = fmt.coord_bits
        super().__init__({
            "ctrl_wr": In(1), "ctrl": In(lay.cmd_ctrl), "ctrl_x": In(cb), "ctrl_y": In(cb),
            "ctrl_error": Out(1),
            "sram": Out(ReadPortSignature(addr_bits=lay.addr_bits, width=fmt.flit_bits)),
            "dma_req": Out(1), "dma_desc": Out(lay.push_desc), "dma_read": Out(1),
            "dma_seen": In(1),
            "dma_ok": In(1), "dma_go": In(1),
            "exec_req": Out(1), "exec_desc": Out(lay.exec_desc), "exec_seen": In(1),
            "exec_ok": In(1), "exec_go": In(1), "exec_done": In(1),
            "sems": In(REG_BITS).array(lay.sems),
            "sem_dec": Out(1), "sem_dec_idx": Out(range(lay.sems)),
            "sem_dec_n": Out(COUNT_BITS),
            "halt": Out(DoneSlotSignature(lay)).array(QUEUES),
            "status": Out(REG_BITS).array(QUEUES),
        })

    def _stepped(self, m, base, step, it, name):
        """``base + it * step`` as a signed value wide enough not to wrap."""
        A = self._lay.addr_bits
        out = Signal(signed(A + 2 + COUNT_BITS + 1), name=name)
        m.d.comb += out.eq(base + Cat(it, Const(0, 1)).as_signed() * step)
        return out

    def elaborate(self, platform):
        m = Module()
        lay, A = self._lay, self._lay.addr_bits

        # shared resources, queue 0 first: who asks for what this cycle
        want_fetch = [Signal(name=f"q{q}_want_fetch") for q in range(QUEUES)]
        want_dma = [Signal(name=f"q{q}_want_dma") for q in range(QUEUES)]
        want_exec = [Signal(name=f"q{q}_want_exec") for q in range(QUEUES)]
        want_dec = [Signal(name=f"q{q}_want_dec") for q in range(QUEUES)]

        def first(wants):
            """One-hot: the first queue that wants (fixed priority)."""
            out, before = [], Const(0, 1)
            for w in wants:
                out.append(w & ~before)
                before = before | w
            return out

        fetch_addr = [Signal(A + 1, name=f"q{q}_fetch_addr") for q in range(QUEUES)]
        push_desc = [Signal(lay.push_desc, name=f"q{q}_push") for q in range(QUEUES)]
        push_read = [Signal(name=f"q{q}_pull") for q in range(QUEUES)]
        got_fetch, got_exec, got_dec = (first(w) for w in (want_fetch, want_exec, want_dec))
        # the DMA: a SIGNAL (one head flit) before any PUSH or PULL, so a semaphore
        # handshake of the compute queue slips in between the communication queue's
        # block transfers instead of waiting for all of them
        want_sig = [w & (d.count == 0) & ~r for w, d, r in zip(want_dma, push_desc, push_read)]
        got_sig, got_any = first(want_sig), first(want_dma)
        any_sig = Cat(want_sig).any()
        got_dma = [Mux(any_sig, gs, ga) for gs, ga in zip(got_sig, got_any)]
        exec_owner = Signal(range(QUEUES))           # the queue whose EXEC runs
        exec_desc = [Signal(lay.exec_desc, name=f"q{q}_exec") for q in range(QUEUES)]
        dec_idx = [Signal(range(lay.sems), name=f"q{q}_dec_idx") for q in range(QUEUES)]
        dec_n = [Signal(COUNT_BITS, name=f"q{q}_dec_n") for q in range(QUEUES)]
        for q in range(QUEUES):
            with m.If(got_fetch[q]):
                m.d.comb += [self.sram.en.eq(1), self.sram.addr.eq(fetch_addr[q][:A])]
            with m.If(got_dma[q]):
                m.d.comb += [self.dma_req.eq(1), self.dma_desc.eq(push_desc[q]),
                             self.dma_read.eq(push_read[q])]
            with m.If(got_exec[q]):
                m.d.comb += [self.exec_req.eq(1), self.exec_desc.eq(exec_desc[q])]
            with m.If(got_dec[q]):
                m.d.comb += [self.sem_dec.eq(1), self.sem_dec_idx.eq(dec_idx[q]),
                             self.sem_dec_n.eq(dec_n[q])]
            with m.If(self.exec_go & got_exec[q]):
                m.d.sync += exec_owner.eq(q)

        ctrl_error = []
        for q in range(QUEUES):
            ctrl_error.append(self._queue(m, q, want_fetch[q], got_fetch[q], fetch_addr[q],
                                          want_dma[q], got_dma[q], push_desc[q], push_read[q],
                                          want_exec[q], got_exec[q], exec_desc[q],
                                          exec_owner, want_dec[q], got_dec[q], dec_idx[q],
                                          dec_n[q]))
        m.d.comb += self.ctrl_error.eq(Cat(ctrl_error).any())
        return m

    def _queue(self, m, q, want_fetch, got_fetch, fetch_addr, want_dma, got_dma, push_desc,
               push_read, want_exec, got_exec, exec_desc, exec_owner, want_dec, got_dec, dec_idx, dec_n):
        """Queue ``q``'s FSM; returns its ``ctrl_error`` pulse."""
        lay = self._lay
        W, A, L = lay.fmt.flit_bits, lay.addr_bits, lay.cmd_lines
        lines, (mx, my) = lay.lines, self._mesh
        ctrl, halt = self.ctrl, self.halt[q]
        cb = lay.fmt.coord_bits
        name = f"q{q}"

        pc = Signal(A + 1, name=f"{name}_pc")              # the descriptor being run
        words = Signal(L * W, name=f"{name}_words")
        issued = Signal(range(L + 1), name=f"{name}_issued")
        pend = Signal(name=f"{name}_pend")                 # a line read last cycle
        pend_k = Signal(range(L), name=f"{name}_pend_k")
        in_loop = Signal(name=f"{name}_in_loop")
        loop_start = Signal(A + 1, name=f"{name}_loop_start")
        loop_end = Signal(A + 1 + COUNT_BITS, name=f"{name}_loop_end")
        loop_left = Signal(COUNT_BITS, name=f"{name}_loop_left")    # iterations after this
        it = Signal(COUNT_BITS, name=f"{name}_iter")
        owner_x, owner_y = Signal(cb, name=f"{name}_owner_x"), Signal(cb, name=f"{name}_owner_y")
        state = Signal(CmdState, name=f"{name}_state")
        code = Signal(8, name=f"{name}_code")
        abort = Signal(name=f"{name}_abort")
        wait_sem = Signal(range(lay.sems), name=f"{name}_wait_sem")
        wait_n = Signal(COUNT_BITS, name=f"{name}_wait_n")

        status = Signal(lay.cmd_status, name=f"{name}_status")
        m.d.comb += [status.state.eq(state), status.code.eq(code), status.pc.eq(pc[:A]),
                     self.status[q].eq(status.as_value())]

        start = self.ctrl_wr & ctrl.start[q]
        start_pc = getattr(ctrl, f"pc{q}")
        running = (state == CmdState.RUNNING) | (state == CmdState.WAITING)
        with m.If(self.ctrl_wr & ctrl.abort[q] & running):
            m.d.sync += abort.eq(1)
        halt_tag = Signal(8, name=f"{name}_halt_tag")

        # the next descriptor's address (the loop's end jumps back while iterations remain)
        after = Signal(A + 1 + COUNT_BITS, name=f"{name}_after")
        m.d.comb += after.eq(pc + L)
        next_pc = Signal(A + 1 + COUNT_BITS, name=f"{name}_next_pc")
        back = in_loop & (after == loop_end) & (loop_left != 0)
        m.d.comb += next_pc.eq(Mux(back, loop_start, after))

        def advance():
            """Go on with the next descriptor (the loop's bookkeeping included)."""
            with m.If(in_loop & (after == loop_end)):
                with m.If(loop_left != 0):
                    m.d.sync += [loop_left.eq(loop_left - 1), it.eq(it + 1)]
                with m.Else():
                    m.d.sync += [in_loop.eq(0), it.eq(0)]
            m.d.sync += [pc.eq(next_pc), issued.eq(0), pend.eq(0)]
            with m.If(next_pc + L > lines):
                stop(CmdState.ERROR, 0x80 | CmdError.PC)
            with m.Else():
                m.next = "FETCH"

        def stop(kind, tag):
            """End the queue: its DONE (``tag``) goes out from state DONE; the status
            code is the HALT code or the :class:`CmdError`."""
            m.d.sync += [state.eq(kind), code.eq(tag & 0x7F), halt_tag.eq(tag), abort.eq(0)]
            m.next = "DONE"

        # the descriptor as it is complete: the lines fetched so far and the one arriving
        arriving = Signal(L * W, name=f"{name}_arriving")
        m.d.comb += arriving.eq(words)
        with m.If(pend):
            m.d.comb += arriving.word_select(pend_k, W).eq(self.sram.data)
        d = lay.cmd_desc(arriving[:lay.cmd_desc.size])
        args = d.args
        pa, ea, pl = args.push, args.exec, args.pull

        # decoded operands, registered in the decode cycle
        src = self._stepped(m, pa.desc.src_addr, pa.src_step, it, f"{name}_src")
        dst = self._stepped(m, pa.desc.dst_addr, pa.dst_step, it, f"{name}_dst")
        a = self._stepped(m, ea.desc.a_addr, ea.a_step, it, f"{name}_a")
        b = self._stepped(m, ea.desc.b_addr, ea.b_step, it, f"{name}_b")
        c = self._stepped(m, ea.desc.c_addr, ea.c_step, it, f"{name}_c")
        pl_src = self._stepped(m, pl.src_addr, pl.src_step, it, f"{name}_pull_src")
        pl_dst = self._stepped(m, pl.dst_addr, pl.dst_step, it, f"{name}_pull_dst")
        pull_ok = (Const(int(self._pull), 1) & (pl.count != 0) & (pl_src >= 0)
                   & (pl_src + pl.count <= lines) & (pl_dst >= 0) & (pl_dst + pl.count <= lines)
                   & (pl.src_x < mx) & (pl.src_y < my))
        count = pa.desc.count
        push_ok = ((src >= 0) & (src + count <= lines) & (dst >= 0) & (dst + count <= lines)
                   & (pa.desc.dst_x < mx) & (pa.desc.dst_y < my))
        signal_ok = (args.signal.dst_x < mx) & (args.signal.dst_y < my)
        exec_ok = (a >= 0) & (a < lines) & (b >= 0) & (b < lines) & (c >= 0) & (c < lines)

        with m.FSM(name=name) as fsm:
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [pc.eq(start_pc), issued.eq(0),
                                 pend.eq(0), in_loop.eq(0), it.eq(0), abort.eq(0),
                                 owner_x.eq(self.ctrl_x), owner_y.eq(self.ctrl_y),
                                 state.eq(CmdState.RUNNING), code.eq(0)]
                    with m.If(start_pc + L > lines):
                        m.d.sync += [state.eq(CmdState.ERROR), code.eq(CmdError.PC),
                                     halt_tag.eq(0x80 | CmdError.PC)]
                        m.next = "DONE"
                    with m.Else():
                        m.next = "FETCH"

            with m.State("FETCH"):
                # lines issued back to back; the last one is decoded as it arrives
                m.d.comb += [want_fetch.eq((issued != L) & ~abort),
                             fetch_addr.eq(pc + issued)]
                m.d.sync += pend.eq(got_fetch & self.sram.grant)
                with m.If(got_fetch & self.sram.grant):
                    m.d.sync += [issued.eq(issued + 1), pend_k.eq(issued)]
                with m.If(pend):
                    m.d.sync += words.word_select(pend_k, W).eq(self.sram.data)
                with m.If(abort & ~pend):
                    stop(CmdState.ABORTED, 0x80 | CmdError.ABORT)
                with m.Elif(pend & (pend_k == L - 1)):
                    m.d.sync += pend.eq(0)
                    with m.Switch(d.op):
                        with m.Case(CmdOp.HALT):
                            stop(CmdState.HALTED, args.halt.code & 0x7F)
                        with m.Case(CmdOp.PULL):
                            m.d.sync += [push_desc.eq(0), push_read.eq(1),
                                         push_desc.src_addr.eq(pl_src),
                                         push_desc.dst_addr.eq(pl_dst),
                                         push_desc.count.eq(pl.count),
                                         push_desc.dst_x.eq(pl.src_x), push_desc.dst_y.eq(pl.src_y),
                                         push_desc.sem.eq(pl.sem)]
                            with m.If(pull_ok):
                                m.next = "PUSH"
                            with m.Else():
                                stop(CmdState.ERROR, 0x80 | CmdError.PULL)
                        with m.Case(CmdOp.PUSH):
                            m.d.sync += [push_desc.eq(pa.desc), push_read.eq(0)]
                            m.d.sync += [push_desc.src_addr.eq(src), push_desc.dst_addr.eq(dst)]
                            with m.If(push_ok):
                                m.next = "PUSH"
                            with m.Else():
                                stop(CmdState.ERROR, 0x80 | CmdError.PUSH)
                        with m.Case(CmdOp.SIGNAL):
                            m.d.sync += [push_desc.eq(0), push_read.eq(0),
                                         push_desc.dst_x.eq(args.signal.dst_x),
                                         push_desc.dst_y.eq(args.signal.dst_y),
                                         push_desc.sem_inc.eq(1),
                                         push_desc.sem.eq(args.signal.sem)]
                            with m.If(signal_ok):
                                m.next = "PUSH"
                            with m.Else():
                                stop(CmdState.ERROR, 0x80 | CmdError.PUSH)
                        with m.Case(CmdOp.EXEC):
                            m.d.sync += [exec_desc.eq(ea.desc), exec_desc.a_addr.eq(a),
                                         exec_desc.b_addr.eq(b), exec_desc.c_addr.eq(c)]
                            with m.If(exec_ok):
                                m.next = "EXEC"
                            with m.Else():
                                stop(CmdState.ERROR, 0x80 | CmdError.EXEC)
                        with m.Case(CmdOp.WAIT):
                            m.d.sync += [wait_sem.eq(args.wait.sem), wait_n.eq(args.wait.n)]
                            with m.If(args.wait.n != 0):
                                m.next = "WAIT"
                            with m.Else():
                                stop(CmdState.ERROR, 0x80 | CmdError.WAIT)
                        with m.Case(CmdOp.LOOP):
                            lp = args.loop
                            with m.If(in_loop | (lp.count == 0) | (lp.body == 0)):
                                stop(CmdState.ERROR, 0x80 | CmdError.LOOP)
                            with m.Else():
                                m.d.sync += [in_loop.eq(1), loop_start.eq(pc + L),
                                             loop_end.eq(pc + L + lp.body * L),
                                             loop_left.eq(lp.count - 1), it.eq(0)]
                                advance()
                        with m.Default():
                            stop(CmdState.ERROR, 0x80 | CmdError.OPCODE)

            with m.State("PUSH"):
                m.d.comb += want_dma.eq(~abort)
                with m.If(abort):
                    stop(CmdState.ABORTED, 0x80 | CmdError.ABORT)
                with m.Elif(got_dma & self.dma_go):
                    advance()
                with m.Elif(got_dma & self.dma_seen & ~self.dma_ok):
                    stop(CmdState.ERROR, 0x80 | CmdError.PUSH)

            with m.State("EXEC"):
                m.d.comb += want_exec.eq(~abort)
                with m.If(abort):
                    stop(CmdState.ABORTED, 0x80 | CmdError.ABORT)
                with m.Elif(got_exec & self.exec_go):
                    m.next = "EXEC_RUN"
                with m.Elif(got_exec & self.exec_seen & ~self.exec_ok):
                    stop(CmdState.ERROR, 0x80 | CmdError.EXEC)

            with m.State("EXEC_RUN"):
                with m.If(self.exec_done & (exec_owner == q)):
                    with m.If(abort):
                        stop(CmdState.ABORTED, 0x80 | CmdError.ABORT)
                    with m.Else():
                        advance()

            with m.State("WAIT"):
                level = Signal(REG_BITS, name=f"{name}_level")
                with m.Switch(wait_sem):
                    for i in range(lay.sems):
                        with m.Case(i):
                            m.d.comb += level.eq(self.sems[i])
                m.d.comb += [want_dec.eq((level >= wait_n) & ~abort), dec_idx.eq(wait_sem),
                             dec_n.eq(wait_n)]
                m.d.sync += state.eq(Mux(got_dec, CmdState.RUNNING, CmdState.WAITING))
                with m.If(abort):
                    stop(CmdState.ABORTED, 0x80 | CmdError.ABORT)
                with m.Elif(got_dec):
                    advance()

            with m.State("DONE"):
                # the DONE to the starter: armed once the slot is free
                m.d.comb += [halt.load.eq(1), halt.x.eq(owner_x), halt.y.eq(owner_y),
                             halt.tag.eq(halt_tag), halt.opcode.eq(Opcode.EXEC),
                             halt.addr.eq(lay.reg_base + lay.registers.index(f"cmd_status{q}"))]
                with m.If(~halt.pending):
                    m.d.comb += halt.arm.eq(1)
                    m.next = "IDLE"
        # a start of a queue that is not idle (running, or still sending its DONE) is ignored
        ctrl_error = Signal(name=f"{name}_ctrl_error")
        m.d.comb += ctrl_error.eq(start & ~fsm.ongoing("IDLE"))
        return ctrl_error

