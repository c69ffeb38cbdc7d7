"""Host side of the board's UART register bridge (protocol in :mod:`rtl.board.uart`).

The byte encoders/decoders here are the only copy: the pyserial client
(:class:`BoardClient`) and the cocotb UART testbench (:mod:`verif.tb_uart`)
both use them. ``dojo board`` wires :func:`run_board` to the command line.
"""

import struct
import time

from rtl.board.uart import ACK, CMD_CTRL, CMD_GLOBAL, CMD_READ, CMD_WRITE, GLOBAL_BYTES, NAK

__all__ = ["encode_write", "encode_ctrl", "encode_read", "encode_global", "reply_length",
           "decode_word", "decode_global", "BoardClient", "run_board", "ProtocolError"]


class ProtocolError(RuntimeError):
    """The board answered something the protocol does not allow (or nothing)."""


def encode_write(field, value):
    return bytes([CMD_WRITE, field]) + struct.pack("<I", value & 0xFFFFFFFF)


def encode_ctrl(field):
    return bytes([CMD_CTRL, field])


def encode_read(node, index):
    return bytes([CMD_READ]) + struct.pack("<HB", node, index)


def encode_global():
    return bytes([CMD_GLOBAL])


def reply_length(command):
    """Bytes the board answers to ``command`` (its first byte)."""
    return {CMD_WRITE: 1, CMD_CTRL: 4, CMD_READ: 4, CMD_GLOBAL: GLOBAL_BYTES}.get(command[0], 1)


def decode_word(reply):
    if len(reply) != 4:
        raise ProtocolError(f"expected 4 bytes, got {reply!r}")
    return struct.unpack("<I", reply)[0]


def decode_global(reply):
    if len(reply) != GLOBAL_BYTES:
        raise ProtocolError(f"expected {GLOBAL_BYTES} bytes, got {reply!r}")
    gen, rec, cycle = struct.unpack("<III", reply[:12])
    return {"marked_generated": gen, "marked_received": rec, "cycle": cycle,
            "error": bool(reply[12] & 1)}


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
