"""The NI's response writer: READ_RESP flits first, else one pending DONE."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.packet import MsgClass, Opcode
from rtl.net.signature import ParamSignature
from rtl.node.layouts import TAG_BITS, NodeLayouts, head_flit
from rtl.node.link_tx import TxChannelSignature

__all__ = ["DoneSlotSignature", "ResponseWriter"]


class DoneSlotSignature(ParamSignature):
    """One DONE source of a :class:`ResponseWriter`, seen from the source.

    Members
    -------
    load : Out(1)
        Sample ``x``, ``y``, ``tag``, ``opcode`` and ``addr`` this cycle.
    x, y, tag, opcode, addr : Out
        Destination and ``resp_info`` fields of the DONE.
    arm : Out(1)
        The DONE is owed: ``pending`` rises the next cycle.
    pending : In(1)
        Owed and not yet written; the source must not ``arm`` again before
        it falls (registered).
    """

    def __init__(self, layouts):
        cb = layouts.fmt.coord_bits
        super().__init__({"load": Out(1), "x": Out(cb), "y": Out(cb), "tag": Out(TAG_BITS),
                          "opcode": Out(Opcode), "addr": Out(layouts.space_bits),
                          "arm": Out(1), "pending": In(1)}, layouts=layouts)



class ResponseWriter(wiring.Component):
    """Writes the response queue: the request parser's READ_RESP flits, else DONEs.

    A READ_RESP flit (``rx_en``) is written at once (its writer has checked the
    room). Otherwise, while ``rx_hold`` is low and the queue has room, the
    first pending DONE slot (in index order) is written as a one-flit DONE
    packet and its ``pending`` falls the next cycle.

    Parameters
    ----------
    layouts : NodeLayouts
    slots : int
        Number of DONE sources.
    queue_depth : int
        Depth of the response queue.

    Members
    -------
    rx_en : In(1)
        Write ``rx_data`` this cycle.
    rx_data : In(flit_bits + 1)
        A READ_RESP flit with its ``last`` bit on top.
    rx_hold : In(1)
        A READ_RESP is under way: DONEs wait (a packet stays contiguous).
    done : In(DoneSlotSignature).array(slots)
        The DONE sources, highest priority first.
    x, y : In(coord_bits)
        Own coordinates (source of the DONEs).
    q : Out(TxChannelSignature)
        The response queue.
    """

    def __init__(self, *, layouts, slots, queue_depth=4):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        if not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots must be a positive integer, not {slots!r}")
        self._lay = layouts
        fmt = layouts.fmt
        W = fmt.flit_bits
        super().__init__({
            "x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
            "rx_en": In(1), "rx_data": In(W + 1), "rx_hold": In(1),
            "done": In(DoneSlotSignature(layouts)).array(slots),
            "q": Out(TxChannelSignature(width=W, depth=queue_depth)),
        })

    def elaborate(self, platform):
        m = Module()
        lay, fmt = self._lay, self._lay.fmt
        q = self.q
        regs = []
        for i, port in enumerate(self.done):
            slot = {"pending": Signal(name=f"slot{i}_pending"),
                    "x": Signal(fmt.coord_bits, name=f"slot{i}_x"),
                    "y": Signal(fmt.coord_bits, name=f"slot{i}_y"),
                    "tag": Signal(TAG_BITS, name=f"slot{i}_tag"),
                    "opcode": Signal(Opcode, name=f"slot{i}_op"),
                    "addr": Signal(lay.space_bits, name=f"slot{i}_addr")}
            with m.If(port.load):
                m.d.sync += [slot[k].eq(getattr(port, k))
                             for k in ("x", "y", "tag", "opcode", "addr")]
            with m.If(port.arm):
                m.d.sync += slot["pending"].eq(1)
            m.d.comb += port.pending.eq(slot["pending"])
            regs.append(slot)
        with m.If(self.rx_en):
            m.d.comb += [q.en.eq(1), q.data.eq(self.rx_data)]
        with m.Elif(~self.rx_hold & q.rdy):
            for i, slot in enumerate(regs):
                with (m.If(slot["pending"]) if i == 0 else m.Elif(slot["pending"])):
                    dinfo = Signal(lay.resp_info, name=None)
                    m.d.comb += [dinfo.tag.eq(slot["tag"]), dinfo.req_op.eq(slot["opcode"]),
                                 dinfo.addr.eq(slot["addr"])]
                    dh = head_flit(m, fmt, src_x=self.x, src_y=self.y, dst_x=slot["x"],
                                   dst_y=slot["y"], mclass=MsgClass.RESPONSE,
                                   opcode=Opcode.DONE, length=1, info=dinfo.as_value())
                    m.d.comb += [q.en.eq(1), q.data.eq(Cat(dh.as_value(), Const(1, 1)))]
                    m.d.sync += slot["pending"].eq(0)
        return m
