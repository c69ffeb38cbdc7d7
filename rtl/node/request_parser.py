"""The NI's request parser: takes whole packets from the input buffer and acts on them."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.arbiter import RoundRobinArbiter
from rtl.net.link import check_vcs
from rtl.net.packet import MsgClass, Opcode
from rtl.node.add_pipeline import LineSignature
from rtl.node.layouts import COUNT_BITS, REG_BITS, TAG_BITS, Dtype, NodeLayouts, head_flit
from rtl.node.response_writer import DoneSlotSignature
from rtl.node.rx_buffer import RxHeadSignature
from rtl.node.sram import ReadPortSignature

__all__ = ["RequestParser"]


class RequestParser(wiring.Component):
    """Request processing of the NI (see :mod:`rtl.node.ni` for the semantics).

    Round-robin over the request VCs whose queue holds a complete segment; a
    head is checked in the cycle it is taken (the whole packet is in the
    buffer), then the packet is consumed at one flit per cycle: WRITE/ADD
    lines into ``line``, a READ answered through ``resp_*``, a PUSH/EXEC
    descriptor collected and handed on, anything malformed dropped whole
    (``error``). With one VC, responses share the request VC and are drained
    here (``drained``).

    Parameters
    ----------
    layouts : NodeLayouts
    vcs : int
        Virtual channels, 1..4.
    max_packet_flits : int
        Longest packet accepted (2..255).
    resp_depth : int
        Depth of the response queue (READ lines are issued only as far as it
        has room).

    Members
    -------
    x, y : In(coord_bits)
        Own coordinates (source of the READ_RESP).
    vc : In(RxHeadSignature).array(request VCs)
        The heads of the request queues (VC 0 alone with one VC).
    sram : Out(ReadPortSignature)
        SRAM read port for ADD and READ (always granted: data the next cycle).
    line : Out(LineSignature)
        Lines of a WRITE/ADD, one per cycle (to :class:`~rtl.node.add_pipeline.AddPipeline`).
    resp_en, resp_data : Out
        A READ_RESP flit (with ``last`` on top) for the response queue.
    resp_hold : Out(1)
        A READ is being answered (DONEs must wait).
    resp_rdy, resp_level : In
        Room and fill level of the response queue.
    done : Out(DoneSlotSignature)
        DONE of a WRITE/ADD with ``ack`` (``load`` and ``arm`` together).
    src_x, src_y, tag, ack : Out
        Source, tag and ``ack`` of the request last taken (registered, held).
    desc : Out(descriptor words x flit_bits)
        The PUSH/EXEC descriptor last collected (registered, held).
    dma_start : Out(1)
        One-cycle pulse: start the PUSH in ``desc`` (only with ``dma_free``
        and ``dma_ok``).
    dma_free, dma_ok : In(1)
        The DMA can take a PUSH; ``desc`` is a valid PUSH descriptor.
    exec_start : Out(1)
        One-cycle pulse: start the EXEC in ``desc``.
    exec_free, exec_ok : In(1)
        The engine can take an EXEC; it accepts ``desc``.
    error : Out(1)
        Pulse: a malformed request was dropped.
    sem_inc : Out(1)
        Pulse: increment completion counter ``sem``.
    sem : Out(range(sems))
    drained : Out(1)
        Pulse (one VC only): a response packet was drained.
    reg_addr : Out(addr_bits)
        Register index of the READ under way (combinational).
    reg_data : In(32)
        The register at ``reg_addr`` one cycle earlier (like the SRAM's latency).
    ctrl_wr, ctrl_data : Out
        Pulse with the line of a WRITE of one line to register ``cmd_ctrl`` (the
        only writable register); its source is ``src_x, src_y``.
    dma_want, exec_want : Out(1)
        A PUSH / an EXEC collected here waits to be handed on (its ``desc`` is the
        one the DMA / engine must check).
    """

    def __init__(self, *, layouts, vcs, max_packet_flits, resp_depth=4):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        check_vcs(vcs)
        if not isinstance(max_packet_flits, int) or not 2 <= max_packet_flits <= 255:
            raise ValueError(f"max_packet_flits must be an integer in 2..255, "
                             f"not {max_packet_flits!r}")
        self._lay, self._vcs, self._max_len = layouts, vcs, max_packet_flits
        self._resp_depth = resp_depth
        fmt, lay = layouts.fmt, layouts
        W, cb = fmt.flit_bits, fmt.coord_bits
        self._rx_vcs = list(range(max(1, vcs // 2)))
        self._desc_words = max(lay.push_flits, lay.exec_flits)
        super().__init__({
            "x": In(cb), "y": In(cb),
            "vc": In(RxHeadSignature(W)).array(len(self._rx_vcs)),
            "sram": Out(ReadPortSignature(addr_bits=lay.addr_bits, width=W)),
            "line": Out(LineSignature(addr_bits=lay.addr_bits, width=W)),
            "resp_en": Out(1), "resp_data": Out(W + 1), "resp_hold": Out(1),
            "resp_rdy": In(1), "resp_level": In(range(resp_depth + 1)),
            "done": Out(DoneSlotSignature(lay)),
            "src_x": Out(cb), "src_y": Out(cb), "tag": Out(TAG_BITS), "ack": Out(1),
            "desc": Out(self._desc_words * W),
            "dma_start": Out(1), "dma_free": In(1), "dma_ok": In(1),
            "exec_start": Out(1), "exec_free": In(1), "exec_ok": In(1),
            "error": Out(1), "sem_inc": Out(1), "sem": Out(range(lay.sems)), "drained": Out(1),
            "reg_addr": Out(lay.addr_bits), "reg_data": In(REG_BITS),
            "ctrl_wr": Out(1), "ctrl_data": Out(W), "dma_want": Out(1), "exec_want": Out(1),
        })

    def _checks(self, m, h, bad):
        """The checks of a request head ``h`` (a ``fmt.head`` view) whose segment is ``bad``."""
        lay, V, max_len = self._lay, self._vcs, self._max_len
        A, lines, n_regs = lay.addr_bits, lay.lines, len(lay.registers)
        si = lay.store_info(h.info[:lay.store_info.size])
        ri = lay.read_info(h.info[:lay.read_info.size])
        length = h.length
        body = Signal(9)
        m.d.comb += body.eq(length - 1)
        ok_common = ~bad & (length <= max_len) & (h.mclass == MsgClass.REQUEST)
        store_ok = ~si.addr[A] & (si.addr[:A] + body <= lines)
        read_sram_ok = ~ri.addr[A] & (ri.addr[:A] + ri.count <= lines)
        read_reg_ok = ri.addr[A] & (ri.addr[:A] + ri.count <= n_regs)
        read_ok = (length == 1) & (ri.count >= 1) & (ri.count <= max_len - 1) \
            & (read_sram_ok | read_reg_ok)
        op = h.opcode
        ctrl_index = lay.registers.index("cmd_ctrl")
        return {
            "resp": (h.mclass == MsgClass.RESPONSE) if V == 1 else Const(0),
            "store": ok_common & ((op == Opcode.WRITE) | (op == Opcode.ADD)) & store_ok,
            "ctrl": ok_common & (op == Opcode.WRITE) & si.addr[A]
                    & (si.addr[:A] == ctrl_index) & (length == 2),
            "read": ok_common & (op == Opcode.READ) & read_ok,
            "ctl": ok_common & (((op == Opcode.PUSH) & (length == 1 + lay.push_flits))
                                | ((op == Opcode.EXEC) & (length == 1 + lay.exec_flits))),
        }

    def _select(self, m):
        """The request VC whose head is taken (``sel``, round-robin among complete
        segments) and the VC of the packet being consumed (``cur``, a register)."""
        W, rx_vcs, heads = self._lay.fmt.flit_bits, self._rx_vcs, self.vc
        m.submodules.rx_arb = rx_arb = RoundRobinArbiter(n=len(rx_vcs))
        go = Signal()               # a head is taken this cycle
        m.d.comb += [rx_arb.requests.eq(Cat(heads[v].ready for v in rx_vcs)),
                     rx_arb.advance.eq(go)]
        cur_vc = Signal(range(self._vcs))
        sel = {"any": rx_arb.grant.any(), "vc": Signal(range(self._vcs), name="sel_vc"),
               "head": Signal(W, name="sel_head"), "end": Signal(name="sel_end"),
               "bad": Signal(name="sel_bad")}
        cur = {"vc": cur_vc, "head": Signal(W, name="cur_head"), "end": Signal(name="cur_end"),
               "last": Signal(name="cur_last")}
        for i, v in enumerate(rx_vcs):
            with m.If(rx_arb.grant[i]):
                m.d.comb += [sel["head"].eq(heads[v].head), sel["end"].eq(heads[v].end),
                             sel["bad"].eq(heads[v].bad), sel["vc"].eq(v)]
        for v in rx_vcs:
            with m.If(cur_vc == v):
                m.d.comb += [cur["head"].eq(heads[v].head), cur["end"].eq(heads[v].end),
                             cur["last"].eq(heads[v].last)]
        pop_sel = Signal()          # pop the selected VC's head (IDLE)
        pop_cur = Signal()          # pop VC ``cur``'s head (later states)
        for i, v in enumerate(rx_vcs):
            m.d.comb += heads[v].pop.eq((pop_sel & rx_arb.grant[i]) | (pop_cur & (cur_vc == v)))
        return sel, cur, go, pop_sel, pop_cur

    def elaborate(self, platform):
        m = Module()
        lay, fmt = self._lay, self._lay.fmt
        W, A = fmt.flit_bits, lay.addr_bits
        sel, cur, go, pop_sel, pop_cur = self._select(m)
        cur_head, cur_end, cur_last = cur["head"], cur["end"], cur["last"]
        sel_head, sel_end = sel["head"], sel["end"]

        h = fmt.head(sel_head)
        si = lay.store_info(h.info[:lay.store_info.size])
        ri = lay.read_info(h.info[:lay.read_info.size])
        ci = lay.ctl_info(h.info[:lay.ctl_info.size])
        op = h.opcode
        ok = self._checks(m, h, sel["bad"])

        # latched request state
        r_op = Signal(Opcode)
        r_addr = Signal(lay.space_bits)
        r_start = Signal(lay.space_bits)
        r_add, r_fp = Signal(), Signal()
        r_sem_inc = Signal()
        r_sem = Signal(range(lay.sems))
        r_left = Signal(COUNT_BITS)
        r_pending, r_pend_last, r_pend_reg = Signal(), Signal(), Signal()
        desc_i = Signal(range(self._desc_words + 1))
        drain_resp = Signal()           # one VC: the packet being drained is a response
        m.d.comb += self.reg_addr.eq(r_addr[:A])

        def set_done(*, x, y, tag, opcode, addr):
            m.d.comb += [self.done.load.eq(1), self.done.arm.eq(1), self.done.x.eq(x),
                         self.done.y.eq(y), self.done.tag.eq(tag),
                         self.done.opcode.eq(opcode), self.done.addr.eq(addr)]

        with m.FSM(name="rx") as rx_fsm:
            with m.State("IDLE"):
                with m.If(sel["any"] & ~self.done.pending):
                    m.d.sync += [cur["vc"].eq(sel["vc"]), self.src_x.eq(h.src_x), self.src_y.eq(h.src_y),
                                 r_op.eq(op), drain_resp.eq(ok["resp"])]
                    with m.If(ok["read"]):
                        # the response head goes out now; wait for room
                        with m.If(self.resp_rdy):
                            rinfo = Signal(lay.resp_info)
                            m.d.comb += [rinfo.tag.eq(ri.tag), rinfo.req_op.eq(Opcode.READ),
                                         rinfo.addr.eq(ri.addr)]
                            rh = head_flit(m, fmt, src_x=self.x, src_y=self.y, dst_x=h.src_x,
                                           dst_y=h.src_y, mclass=MsgClass.RESPONSE,
                                           opcode=Opcode.READ_RESP, length=ri.count + 1,
                                           info=rinfo.as_value())
                            m.d.comb += [go.eq(1), pop_sel.eq(1), self.resp_en.eq(1),
                                         self.resp_data.eq(Cat(rh.as_value(), Const(0, 1)))]
                            m.d.sync += [r_addr.eq(ri.addr), r_left.eq(ri.count),
                                         r_pending.eq(0)]
                            m.next = "READ"
                    with m.Else():
                        m.d.comb += [go.eq(1), pop_sel.eq(1)]
                        with m.If(ok["resp"]):
                            # one VC: responses are drained (and counted) here
                            m.d.comb += self.drained.eq(sel_end)
                            with m.If(~sel_end):
                                m.next = "DRAIN"
                        with m.Elif(ok["store"]):
                            m.d.sync += [self.tag.eq(si.tag), self.ack.eq(si.ack),
                                         r_addr.eq(si.addr), r_start.eq(si.addr),
                                         r_add.eq(op == Opcode.ADD),
                                         r_fp.eq(si.dtype == Dtype.FP32),
                                         r_sem_inc.eq(si.sem_inc), r_sem.eq(si.sem)]
                            with m.If(sel_end):         # no body: completion only
                                m.d.comb += [self.sem_inc.eq(si.sem_inc), self.sem.eq(si.sem)]
                                with m.If(si.ack):
                                    set_done(x=h.src_x, y=h.src_y, tag=si.tag, opcode=op,
                                             addr=si.addr)
                            with m.Else():
                                m.next = "BODY"
                        with m.Elif(ok["ctrl"]):
                            m.d.sync += [self.tag.eq(si.tag), self.ack.eq(si.ack),
                                         r_start.eq(si.addr)]
                            m.next = "CTRL"
                        with m.Elif(ok["ctl"]):
                            m.d.sync += [self.tag.eq(ci.tag), self.ack.eq(ci.ack), desc_i.eq(0)]
                            m.next = "DESC"
                        with m.Else():
                            m.d.comb += self.error.eq(1)
                            with m.If(~sel_end):
                                m.next = "DRAIN"

            with m.State("BODY"):
                # the whole packet is buffered: one flit per cycle
                line = self.line
                m.d.comb += [pop_cur.eq(1), line.valid.eq(1), line.add.eq(r_add),
                             line.fp.eq(r_fp), line.addr.eq(r_addr[:A]), line.data.eq(cur_head),
                             self.sram.en.eq(r_add), self.sram.addr.eq(r_addr[:A])]
                m.d.sync += r_addr.eq(r_addr + 1)
                with m.If(cur_end):
                    m.d.comb += [self.sem_inc.eq(r_sem_inc), self.sem.eq(r_sem)]
                    with m.If(self.ack):
                        set_done(x=self.src_x, y=self.src_y, tag=self.tag, opcode=r_op,
                                 addr=r_start)
                    m.next = "IDLE"

            with m.State("READ"):
                reg_space = r_addr[A]
                with m.If(r_pending):
                    # the space of the line issued last cycle: r_addr has moved on (after
                    # the last SRAM line it already points into the register space)
                    m.d.comb += [self.resp_en.eq(1),
                                 self.resp_data.eq(Cat(Mux(r_pend_reg, self.reg_data,
                                                           self.sram.data), r_pend_last))]
                # issue ahead only as far as the response queue has room
                can = (r_left != 0) & (self.resp_level + r_pending < self._resp_depth)
                m.d.sync += r_pending.eq(can)
                with m.If(can):
                    m.d.comb += [self.sram.en.eq(~reg_space), self.sram.addr.eq(r_addr[:A])]
                    m.d.sync += [r_left.eq(r_left - 1), r_pend_last.eq(r_left == 1),
                                 r_pend_reg.eq(reg_space), r_addr.eq(r_addr + 1)]
                with m.If(r_pending & r_pend_last):
                    m.next = "IDLE"

            with m.State("CTRL"):
                # the one line of a cmd_ctrl write goes to the command processor
                m.d.comb += [pop_cur.eq(1), self.ctrl_wr.eq(1), self.ctrl_data.eq(cur_head)]
                with m.If(self.ack):
                    set_done(x=self.src_x, y=self.src_y, tag=self.tag, opcode=Opcode.WRITE,
                             addr=r_start)
                m.next = "IDLE"

            with m.State("DESC"):
                m.d.comb += pop_cur.eq(1)
                m.d.sync += [self.desc.word_select(desc_i, W).eq(cur_head),
                             desc_i.eq(desc_i + 1)]
                with m.If(cur_end):
                    m.next = "CHECK"

            with m.State("CHECK"):
                # a second PUSH/EXEC waits for the first (and its DONE)
                def hand_off(free, ok, start):
                    with m.If(free):
                        with m.If(ok):
                            m.d.comb += start.eq(1)
                        with m.Else():
                            m.d.comb += self.error.eq(1)
                        m.next = "IDLE"
                with m.If(r_op == Opcode.EXEC):
                    hand_off(self.exec_free, self.exec_ok, self.exec_start)
                with m.Else():
                    hand_off(self.dma_free, self.dma_ok, self.dma_start)

            with m.State("DRAIN"):
                m.d.comb += pop_cur.eq(1)
                with m.If(cur_end):
                    m.d.comb += self.drained.eq(drain_resp & cur_last)
                    m.next = "IDLE"

        m.d.comb += [self.resp_hold.eq(rx_fsm.ongoing("READ")),
                     self.dma_want.eq(rx_fsm.ongoing("CHECK") & (r_op == Opcode.PUSH)),
                     self.exec_want.eq(rx_fsm.ongoing("CHECK") & (r_op == Opcode.EXEC))]
        return m
