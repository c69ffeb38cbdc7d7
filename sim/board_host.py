"""Host side of the board's UART register bridge (protocol in :mod:`rtl.board.uart`).

The pyserial client (:class:`BoardClient`) speaks the protocol through the
encoders and decoders of :mod:`verif.board_protocol`, which the cocotb UART
testbench (:mod:`verif.tb_uart`) uses too. ``dojo board`` wires :func:`run_board` to the
command line.
"""

import time

from rtl.board.uart import ACK, NAK
from verif.board_protocol import (ProtocolError, decode_global, decode_word, encode_ctrl,
                                  encode_global, encode_read, encode_write, reply_length)

__all__ = ["BoardClient", "run_board"]


class BoardClient:
    """Talks to the board over a serial port (pyserial) or any object with
    ``write(bytes)`` and ``read(n) -> bytes``.

    Parameters
    ----------
    port : str or file-like
        ``/dev/ttyUSB0`` (opened with pyserial at ``baud``, 8N1) or an open port.
    fields : list of str
        Control field names in protocol order (the manifest's ``ctrl_fields``).
    stat_names : list of str
        Statistics word names (the manifest's ``stat_names``).
    """

    def __init__(self, port, *, fields, stat_names=(), baud=115200, timeout=1.0):
        if isinstance(port, str):
            import serial
            port = serial.Serial(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                 timeout=timeout)
        self._port, self.fields, self.stat_names = port, list(fields), list(stat_names)

    def _xfer(self, command):
        self._port.write(command)
        n = reply_length(command)
        reply = self._port.read(n)
        if reply[:1] == bytes([NAK]) or len(reply) != n:
            raise ProtocolError(f"command {command!r}: reply {reply!r}")
        return reply

    def write(self, field, value):
        reply = self._xfer(encode_write(self.fields.index(field), value))
        if reply != bytes([ACK]):
            raise ProtocolError(f"write {field}: reply {reply!r}")

    def ctrl(self, field):
        return decode_word(self._xfer(encode_ctrl(self.fields.index(field))))

    def stat(self, node, name):
        index = self.stat_names.index(name) if isinstance(name, str) else name
        return decode_word(self._xfer(encode_read(node, index)))

    def counters(self):
        return decode_global(self._xfer(encode_global()))

    def node_stats(self, node):
        return {name: self.stat(node, i) for i, name in enumerate(self.stat_names)}


def run_board(port, manifest, *, rate, pattern=0, packet_len=1, seed=1, warmup_s=0.1,
              measure_s=0.5, drain_s=5.0, baud=115200):
    """One measured run on the board: warm-up, marked window, drain; returns counters
    and per-node statistics. ``manifest`` is the board design's JSON manifest."""
    c = BoardClient(port, fields=manifest["ctrl_fields"], stat_names=manifest["stat_names"],
                    baud=baud)
    for field, value in (("enable", 0), ("mark", 0), ("seed", seed), ("pattern", pattern),
                         ("packet_len", packet_len), ("rate", rate)):
        c.write(field, value)
    c.write("enable", 1)
    time.sleep(warmup_s)
    c.write("mark", 1)
    time.sleep(measure_s)
    c.write("mark", 0)
    deadline = time.monotonic() + drain_s
    while True:
        g = c.counters()
        if g["marked_received"] == g["marked_generated"] or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    c.write("enable", 0)
    return {"counters": g, "drained": g["marked_received"] == g["marked_generated"],
            "nodes": [c.node_stats(n) for n in range(len(manifest["nodes"]))]}
