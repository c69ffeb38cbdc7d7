"""The NI's PUSH engine: SRAM lines to a remote node as WRITE/ADD packets."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.packet import MsgClass, Opcode
from rtl.node.layouts import COUNT_BITS, TAG_BITS, NodeLayouts, head_flit
from rtl.node.link_tx import TxChannelSignature
from rtl.node.sram import ReadPortSignature

__all__ = ["PushDma"]


class PushDma(wiring.Component):
    """Reads ``count`` lines at ``src_addr`` and sends them as packets of at most
    ``max_packet_flits - 1`` lines to ``(dst_x, dst_y)`` at ``dst_addr``.

    Each packet is a WRITE (``add=0``) or an ADD of ``dtype`` lanes; the last
    carries ``sem_inc``/``sem``. ``count`` 0 with ``sem_inc`` is a *signal*: one
    WRITE of no lines that only increments the remote counter. With ``read`` (a PULL)
    it sends head-only READs of at most ``max_packet_flits - 1`` lines of node
    ``(dst_x, dst_y)`` at ``src_addr`` instead; the answers are the response sink's. A head is written when the queue has room, then
    one line per cycle, the SRAM reads issued ahead only as far as the queue has
    room (a line is written into the queue the cycle after its read).

    Parameters
    ----------
    layouts : NodeLayouts
    max_packet_flits : int
        Longest packet sent (2..255).
    mesh_x, mesh_y : int
        Global mesh size (a descriptor's destination must lie inside).
    queue_depth : int
        Depth of the queue behind ``q``.

    Members
    -------
    x, y : In(coord_bits)
        Own coordinates (source of the packets).
    desc : In(layouts.push_desc)
        The descriptor, sampled with ``start``.
    desc_ok : Out(1)
        ``desc`` is valid: ``count`` 1.. (or 0 with ``sem_inc``), both line ranges
        inside the SRAM, destination inside the mesh (combinational).
    tag : In(TAG_BITS)
        Tag of the PUSH (carried by the packets), sampled with ``start``.
    ack : In(1)
        Pulse ``done`` at the end, sampled with ``start``.
    read : In(1)
        Send READs (a PULL), sampled with ``start``.
    start : In(1)
        One-cycle pulse, only while ``busy`` is low: begin (the first head is
        written at the earliest the next cycle).
    busy : Out(1)
        Sending (low the cycle of ``start``).
    done : Out(1)
        One-cycle pulse as the last line enters the queue, if ``ack`` was set.
    sram : Out(ReadPortSignature)
        The SRAM read port (always granted: data one cycle after ``en``).
    q : Out(TxChannelSignature)
        The request queue (flit and ``last``).
    """

    def __init__(self, *, layouts, max_packet_flits, mesh_x, mesh_y, queue_depth=4):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        if not isinstance(max_packet_flits, int) or not 2 <= max_packet_flits <= 255:
            raise ValueError(f"max_packet_flits must be an integer in 2..255, "
                             f"not {max_packet_flits!r}")
        self._lay, self._max_len, self._mesh = layouts, max_packet_flits, (mesh_x, mesh_y)
        fmt = layouts.fmt
        W = fmt.flit_bits
        super().__init__({
            "x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
            "desc": In(layouts.push_desc), "desc_ok": Out(1), "tag": In(TAG_BITS),
            "ack": In(1), "read": In(1), "start": In(1), "busy": Out(1), "done": Out(1),
            "sram": Out(ReadPortSignature(addr_bits=layouts.addr_bits, width=W)),
            "q": Out(TxChannelSignature(width=W, depth=queue_depth)),
        })

    def elaborate(self, platform):
        m = Module()
        lay, fmt = self._lay, self._lay.fmt
        W, lines, max_len = fmt.flit_bits, lay.lines, self._max_len
        q = self.q
        pd = self.desc
        m.d.comb += self.desc_ok.eq(((pd.count != 0) | pd.sem_inc)
                                    & (pd.src_addr + pd.count <= lines)
                                    & (pd.dst_addr + pd.count <= lines)
                                    & (pd.dst_x < self._mesh[0]) & (pd.dst_y < self._mesh[1]))
        d = Signal(lay.push_desc)                # the fields that stay
        d_src, d_dst = Signal(lay.addr_bits), Signal(lay.addr_bits)
        d_left = Signal(COUNT_BITS)              # lines still to packetize
        d_chunk = Signal(COUNT_BITS)             # lines of this packet still to read
        d_tag = Signal(TAG_BITS)
        d_ack, d_read = Signal(), Signal()
        with m.If(self.start):
            m.d.sync += [d.eq(pd), d_src.eq(pd.src_addr), d_dst.eq(pd.dst_addr),
                         d_left.eq(pd.count), d_tag.eq(self.tag), d_ack.eq(self.ack),
                         d_read.eq(self.read)]
        d_pend, d_pend_last = Signal(), Signal()
        with m.FSM(name="dma"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += self.busy.eq(1)
                chunk = Signal(COUNT_BITS)
                m.d.comb += chunk.eq(Mux(d_left > max_len - 1, max_len - 1, d_left))
                with m.If(q.rdy & d_read):
                    # a PULL: one head-only READ per chunk, from the remote's src_addr on
                    rinfo = Signal(lay.read_info)
                    m.d.comb += [rinfo.addr.eq(d_src), rinfo.count.eq(chunk), rinfo.tag.eq(d_tag)]
                    rh = head_flit(m, fmt, src_x=self.x, src_y=self.y, dst_x=d.dst_x,
                                   dst_y=d.dst_y, mclass=MsgClass.REQUEST, opcode=Opcode.READ,
                                   length=1, info=rinfo.as_value())
                    m.d.comb += [q.en.eq(1), q.data.eq(Cat(rh.as_value(), Const(1, 1)))]
                    m.d.sync += [d_left.eq(d_left - chunk), d_src.eq(d_src + chunk)]
                    with m.If(d_left == chunk):
                        m.d.comb += self.done.eq(d_ack)
                        m.next = "IDLE"
                with m.Elif(q.rdy):
                    info = Signal(lay.store_info)
                    m.d.comb += [info.addr.eq(d_dst), info.tag.eq(d_tag),
                                 info.sem_inc.eq(d.sem_inc & (d_left == chunk)),
                                 info.sem.eq(d.sem), info.dtype.eq(d.dtype)]
                    dh = head_flit(m, fmt, src_x=self.x, src_y=self.y, dst_x=d.dst_x,
                                   dst_y=d.dst_y, mclass=MsgClass.REQUEST,
                                   opcode=Mux(d.add, Opcode.ADD, Opcode.WRITE),
                                   length=chunk + 1, info=info.as_value())
                    # a signal (no lines) is a head that is also the tail
                    m.d.comb += [q.en.eq(1), q.data.eq(Cat(dh.as_value(), chunk == 0))]
                    m.d.sync += [d_chunk.eq(chunk), d_left.eq(d_left - chunk),
                                 d_dst.eq(d_dst + chunk), d_pend.eq(0)]
                    with m.If(chunk == 0):
                        m.d.comb += self.done.eq(d_ack)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += self.busy.eq(1)
                with m.If(d_pend):
                    m.d.comb += [q.en.eq(1), q.data.eq(Cat(self.sram.data, d_pend_last))]
                can = (d_chunk != 0) & (q.level + d_pend < q.signature.depth)
                m.d.sync += d_pend.eq(can)
                with m.If(can):
                    m.d.comb += [self.sram.en.eq(1), self.sram.addr.eq(d_src)]
                    m.d.sync += [d_chunk.eq(d_chunk - 1), d_pend_last.eq(d_chunk == 1),
                                 d_src.eq(d_src + 1)]
                with m.If(d_pend & d_pend_last):
                    with m.If(d_left == 0):
                        m.d.comb += self.done.eq(d_ack)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "HEAD"
        return m
