"""cocotb: a host UART model drives the board top (traffic mesh + UART bridge).

The scenario's manifest gives the UART divisor, the control fields and the
statistics names; the protocol bytes come from :mod:`verif.board_protocol`, the one
encoder the real host uses too.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from rtl.board.uart import ACK, NAK
from verif.board_protocol import (decode_global, decode_word, encode_ctrl, encode_global,
                                  encode_read, encode_write, reply_length)
from verif.tb_common import CLOCK_NS, scenario, write_result


class UartHost:
    """8N1 host model on the board's ``uart_rx`` (driven) and ``uart_tx`` (sampled)."""

    def __init__(self, dut, divisor):
        self.dut, self.div = dut, divisor
        dut.uart_rx.value = 1

    async def send(self, payload):
        for byte in payload:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.dut.uart_rx.value = bit
                await ClockCycles(self.dut.clk_in, self.div)

    async def recv_byte(self, timeout_bits=400):
        for _ in range(timeout_bits * self.div):
            await RisingEdge(self.dut.clk_in)
            if int(self.dut.uart_tx.value) == 0:
                break
        else:
            raise AssertionError("no start bit from the board")
        await ClockCycles(self.dut.clk_in, self.div // 2)
        assert int(self.dut.uart_tx.value) == 0, "start bit glitch"
        value = 0
        for i in range(8):
            await ClockCycles(self.dut.clk_in, self.div)
            value |= int(self.dut.uart_tx.value) << i
        await ClockCycles(self.dut.clk_in, self.div)
        assert int(self.dut.uart_tx.value) == 1, "missing stop bit"
        return value

    async def xfer(self, command):
        await self.send(command)
        return bytes([await self.recv_byte() for _ in range(reply_length(command))])


async def _start(dut):
    Clock(dut.clk_in, CLOCK_NS, unit="ns").start()
    dut.rst_n.value = 0
    dut.uart_rx.value = 1
    await ClockCycles(dut.clk_in, 5)
    await FallingEdge(dut.clk_in)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk_in, 5)


@cocotb.test()
async def bridge(dut):
    man = scenario()["manifest"]
    fields, names = man["ctrl_fields"], man["stat_names"]
    host = UartHost(dut, man["uart"]["divisor"])
    await _start(dut)

    # write every control field and read it back (values within each field's width)
    values = {"seed": 0x1234, "pattern": 0, "packet_len": 2, "rate": 0x4000,
              "hotspot_frac": 0x5A, "hotspot_x": 1, "hotspot_y": 1, "mark": 0, "enable": 0}
    for name, value in values.items():
        assert await host.xfer(encode_write(fields.index(name), value)) == bytes([ACK])
    readback = {name: decode_word(await host.xfer(encode_ctrl(fields.index(name))))
                for name in values}
    assert readback == values, readback
    assert await host.xfer(b"Z") == bytes([NAK])

    g0 = decode_global(await host.xfer(encode_global()))
    assert g0["marked_generated"] == 0 and not g0["error"]

    # a short run: enable, mark a window, stop marking, drain
    fid = fields.index
    await host.xfer(encode_write(fid("enable"), 1))
    await host.xfer(encode_write(fid("mark"), 1))
    await ClockCycles(dut.clk_in, 300)
    await host.xfer(encode_write(fid("mark"), 0))
    for _ in range(50):
        g = decode_global(await host.xfer(encode_global()))
        if g["marked_received"] == g["marked_generated"]:
            break
    await host.xfer(encode_write(fid("enable"), 0))
    gen0 = {n: decode_word(await host.xfer(encode_read(0, names.index(n))))
            for n in ("gen.generated", "gen.suppressed", "gen.injected_flits")}
    dut._log.info(f"global {g}; node 0 {gen0}")
    assert g["marked_generated"] > 0, (g, gen0)
    assert g["marked_received"] == g["marked_generated"], g
    assert not g["error"]
    assert g["cycle"] > g0["cycle"]

    # per-node statistics: the marked packets the sinks counted add up
    idx = names.index("sink.marked_packets")
    per_node = [decode_word(await host.xfer(encode_read(n, idx))) for n in range(len(man["nodes"]))]
    assert sum(per_node) == g["marked_received"], (per_node, g)
    write_result("bridge", {"global": g, "marked_per_node": per_node, "ctrl": readback})
