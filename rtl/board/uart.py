"""UART (8N1) receiver and transmitter, and a register bridge for the board top.

Bridge protocol (host to FPGA, bytes; multi-byte values little-endian)
-----------------------------------------------------------------------
``'W' field value[4]``
    Write control field number ``field`` (the order of
    :func:`rtl.measure.traffic.control_layout`, see :func:`ctrl_fields`); the value is
    truncated to the field's width. Answer: ``'K'``.
``'C' field``
    Read control field ``field`` back. Answer: 4 bytes.
``'R' node[2] index``
    Read statistics word ``index`` of node ``node`` (row-major, the mesh's
    ``stat_node``/``stat_index``). Answer: 4 bytes.
``'G'``
    Global counters. Answer: 13 bytes: ``marked_generated[4]``,
    ``marked_received[4]``, ``cycle[4]``, ``error[1]``.
anything else
    Answer: ``'?'``.

The host side is :mod:`sim.board_host`; the simulation model
:mod:`verif.tb_uart`.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "UartBridge", "ctrl_fields", "CMD_WRITE", "CMD_CTRL",
           "CMD_READ", "CMD_GLOBAL", "ACK", "NAK", "GLOBAL_BYTES"]

CMD_WRITE, CMD_CTRL, CMD_READ, CMD_GLOBAL = b"W"[0], b"C"[0], b"R"[0], b"G"[0]
ACK, NAK = b"K"[0], b"?"[0]
GLOBAL_BYTES = 13


def _check_divisor(owner, divisor):
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        owner._MustUse__silence = True          # never built: no "unused" warning
        raise ValueError(f"divisor must be an integer of at least 4 clock cycles per bit, "
                         f"not {divisor!r}")


class UartRx(wiring.Component):
    """8N1 receiver, sampling each bit in its middle.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (``f_clk / baud``), at least 4.

    Members
    -------
    rx : In(1)
        The serial line (idle high); synchronised inside (two flops).
    data : Out(8)
        The last byte received.
    valid : Out(1)
        One-cycle pulse when ``data`` holds a new byte (stop bit seen high).
    """

    rx: In(1, init=1)
    data: Out(8)
    valid: Out(1)

    def __init__(self, *, divisor):
        _check_divisor(self, divisor)
        self._divisor = divisor
        super().__init__()

    divisor = property(lambda self: self._divisor)

    def elaborate(self, platform):
        m = Module()
        D = self._divisor
        s1, s2 = Signal(init=1), Signal(init=1)
        m.d.sync += [s1.eq(self.rx), s2.eq(s1)]
        count = Signal(range(D))
        bit = Signal(range(8))
        shreg = Signal(8)
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~s2):
                    m.d.sync += count.eq(D // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [count.eq(D - 1), bit.eq(0)]
                    m.next = "BITS"
                    with m.If(s2):
                        m.next = "IDLE"             # a glitch, not a start bit
            with m.State("BITS"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [count.eq(D - 1), shreg.eq(Cat(shreg[1:], s2)), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    with m.If(s2):
                        m.d.sync += [self.data.eq(shreg), self.valid.eq(1)]
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter.

    Members
    -------
    data : In(8)
        Byte to send, taken when ``valid & ready``.
    valid : In(1)
    ready : Out(1)
        Idle: a byte can be taken this cycle.
    tx : Out(1)
        The serial line (idle high).
    """

    data: In(8)
    valid: In(1)
    ready: Out(1)
    tx: Out(1, init=1)

    def __init__(self, *, divisor):
        _check_divisor(self, divisor)
        self._divisor = divisor
        super().__init__()

    divisor = property(lambda self: self._divisor)

    def elaborate(self, platform):
        m = Module()
        D = self._divisor
        count = Signal(range(D))
        left = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += [self.ready.eq(left == 0), self.tx.eq(shreg[0])]
        with m.If(left == 0):
            with m.If(self.valid):
                m.d.sync += [shreg.eq(Cat(Const(0, 1), self.data, Const(1, 1))),
                             left.eq(10), count.eq(D - 1)]
        with m.Else():
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [count.eq(D - 1), shreg.eq(Cat(shreg[1:], Const(1, 1))),
                             left.eq(left - 1)]
        return m


def ctrl_fields(layout):
    """``[(name, offset, width)]`` of a control layout, in protocol order."""
    return [(name, field.offset, field.width) for name, field in layout]


class UartBridge(wiring.Component):
    """Register bridge: the :mod:`rtl.board.uart` protocol onto a traffic mesh's ports.

    Parameters
    ----------
    ctrl_layout : data.StructLayout
        The mesh's control layout (:func:`rtl.measure.traffic.control_layout`).
    divisor : int
        Clock cycles per UART bit.

    Members
    -------
    rx : In(1), tx : Out(1)
        The serial lines.
    ctrl : Out(ctrl_layout)
        Control registers (reset: all zero, generators disabled).
    stat_node : Out(16), stat_index : Out(8), stat_data : In(32)
        Statistics read-out of the mesh (``stat_data`` registered there: the
        bridge waits two cycles after selecting).
    marked_generated, marked_received, cycle : In(32), error : In(1)
        Global counters of the mesh.
    busy : Out(1)
        A command is in progress (for a LED).
    """

    def __init__(self, *, ctrl_layout, divisor):
        if not isinstance(ctrl_layout, data.StructLayout):
            self._MustUse__silence = True
            raise TypeError(f"ctrl_layout must be a data.StructLayout, not {ctrl_layout!r}")
        _check_divisor(self, divisor)
        self._layout, self._divisor = ctrl_layout, divisor
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "ctrl": Out(ctrl_layout),
            "stat_node": Out(16), "stat_index": Out(8), "stat_data": In(32),
            "marked_generated": In(32), "marked_received": In(32), "cycle": In(32),
            "error": In(1), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UartRx(divisor=self._divisor)
        m.submodules.tx = tx = UartTx(divisor=self._divisor)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        fields = ctrl_fields(self._layout)
        ctrl = self.ctrl.as_value()

        cmd = Signal(8)
        args = Signal(40)           # bytes shift in at the top
        need = Signal(range(6))     # argument bytes still to receive
        resp = Signal(8 * GLOBAL_BYTES)
        left = Signal(range(GLOBAL_BYTES + 1))
        wait = Signal(2)

        m.d.comb += [tx.data.eq(resp[:8]), tx.valid.eq(left != 0)]
        with m.If(tx.valid & tx.ready):
            m.d.sync += [resp.eq(resp >> 8), left.eq(left - 1)]

        def field_value(idx):
            value = Signal(32, name="field_value")
            m.d.comb += value.eq(0)
            with m.Switch(idx):
                for k, (_, off, width) in enumerate(fields):
                    with m.Case(k):
                        m.d.comb += value.eq(ctrl[off:off + width])
            return value

        with m.FSM():
            with m.State("IDLE"):
                with m.If(rx.valid):
                    m.d.sync += cmd.eq(rx.data)
                    with m.Switch(rx.data):
                        with m.Case(CMD_WRITE):
                            m.d.sync += need.eq(5)
                            m.next = "ARGS"
                        with m.Case(CMD_CTRL):
                            m.d.sync += need.eq(1)
                            m.next = "ARGS"
                        with m.Case(CMD_READ):
                            m.d.sync += need.eq(3)
                            m.next = "ARGS"
                        with m.Case(CMD_GLOBAL):
                            m.d.sync += [resp.eq(Cat(self.marked_generated, self.marked_received,
                                                     self.cycle, self.error)),
                                         left.eq(GLOBAL_BYTES)]
                            m.next = "SEND"
                        with m.Default():
                            m.d.sync += [resp.eq(NAK), left.eq(1)]
                            m.next = "SEND"
            with m.State("ARGS"):
                with m.If(rx.valid):
                    m.d.sync += [args.eq(Cat(args[8:], rx.data)), need.eq(need - 1)]
                    with m.If(need == 1):
                        m.next = "EXEC"
            with m.State("EXEC"):
                with m.Switch(cmd):
                    with m.Case(CMD_WRITE):
                        with m.Switch(args[:8]):
                            for k, (_, off, width) in enumerate(fields):
                                with m.Case(k):
                                    m.d.sync += ctrl[off:off + width].eq(args[8:8 + width])
                        m.d.sync += [resp.eq(ACK), left.eq(1)]
                        m.next = "SEND"
                    with m.Case(CMD_CTRL):
                        m.d.sync += [resp.eq(field_value(args[32:])), left.eq(4)]
                        m.next = "SEND"
                    with m.Default():          # CMD_READ
                        m.d.sync += [self.stat_node.eq(args[16:32]), self.stat_index.eq(args[32:]),
                                     wait.eq(3)]
                        m.next = "STAT"
            with m.State("STAT"):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += [resp.eq(self.stat_data), left.eq(4)]
                    m.next = "SEND"
            with m.State("SEND"):
                with m.If(left == 0):
                    m.next = "IDLE"
        m.d.comb += self.busy.eq(left != 0)
        return m
