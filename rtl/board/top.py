"""FPGA board top: a traffic mesh behind a UART register bridge (ULX3S, iCEBreaker).

A PC starts a run and reads the counters over the board's USB serial port
(protocol in :mod:`rtl.board.uart`, host side in :mod:`sim.board_host`).
"""

from amaranth.hdl import Cat, ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from rtl.board.uart import UartBridge

__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """Board pins around a traffic :class:`rtl.fabric.mesh.Mesh` and a :class:`rtl.board.uart.UartBridge`.

    Parameters
    ----------
    noc : rtl.fabric.mesh.Mesh
        A mesh of kind ``traffic`` (its ``ctrl``/``stat_*``/counter ports are used).
    divisor : int
        Board clock cycles per UART bit.

    Members
    -------
    clk_in : In(1)
        The board oscillator; the whole design runs on it (``sync`` domain).
    rst_n : In(1)
        Reset button, active low, asynchronous: asserted at once, released
        through a two-flop synchroniser (so the mesh's asynchronously reset
        registers and its synchronous ones leave reset on the same edge).
    uart_rx : In(1), uart_tx : Out(1)
        USB serial lines, 8N1.
    led : Out(8)
        0 heartbeat, 1 generators enabled, 2 measurement window, 3 error,
        4 bridge busy, 7..5 marked packets received (low bits).
    """

    #: what each port is for (for the manifest)
    PORT_ROLES = {"clk_in": "board clock", "rst_n": "reset button (active low)",
                  "uart_rx": "UART from the host PC", "uart_tx": "UART to the host PC",
                  "led": "status LEDs"}

    clk_in: In(1)
    rst_n: In(1, init=1)
    uart_rx: In(1, init=1)
    uart_tx: Out(1, init=1)
    led: Out(8)

    def __init__(self, *, noc, divisor):
        if "ctrl" not in noc.signature.members:
            raise ValueError("noc must be a Mesh of kind 'traffic' (it has no ctrl port)")
        self._noc, self._divisor = noc, divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync")
        m.d.comb += cd.clk.eq(self.clk_in)
        m.submodules.reset_sync = ResetSynchronizer(~self.rst_n, domain="sync")
        noc = self._noc
        m.submodules.noc = noc
        m.submodules.bridge = br = UartBridge(ctrl_layout=noc.ctrl.shape(), divisor=self._divisor)
        m.d.comb += [
            br.rx.eq(self.uart_rx), self.uart_tx.eq(br.tx),
            noc.ctrl.eq(br.ctrl), noc.stat_node.eq(br.stat_node),
            noc.stat_index.eq(br.stat_index), br.stat_data.eq(noc.stat_data),
            br.marked_generated.eq(noc.marked_generated),
            br.marked_received.eq(noc.marked_received),
            br.cycle.eq(noc.cycle), br.error.eq(noc.error),
        ]
        beat = Signal(24)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += self.led.eq(Cat(beat[-1], br.ctrl.enable, br.ctrl.mark, noc.error, br.busy,
                                    noc.marked_received[:3]))
        return m
