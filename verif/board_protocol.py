"""Byte encoders and decoders of the board's UART register protocol (:mod:`rtl.board.uart`).

The only copy: the cocotb UART testbench (:mod:`verif.tb_uart`) and the pyserial
host (:mod:`sim.board_host`) both use them.
"""

import struct

from rtl.board.uart import CMD_CTRL, CMD_GLOBAL, CMD_READ, CMD_WRITE, GLOBAL_BYTES

__all__ = ["encode_write", "encode_ctrl", "encode_read", "encode_global", "reply_length",
           "decode_word", "decode_global", "ProtocolError"]


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
