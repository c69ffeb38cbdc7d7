"""Packet formats: the one source of truth for every field position.

RTL uses the layouts directly; testbenches and golden models encode and decode
through :class:`PacketFormat`, which derives everything from the same layouts.

Head flit (least significant field first)::

    dst_x dst_y src_x src_y | mclass | opcode | length | info (opcode-specific)

``length`` counts the flits of the packet including the head. Coordinates are
**global** mesh coordinates, so a tile is one mesh to XY routing.
"""

from amaranth.hdl import Shape
from amaranth.lib import data, enum

__all__ = ["Opcode", "MsgClass", "PacketFormat", "FlatCodec", "enum_member", "coord_bits_for",
           "SEQ_BITS", "HEAD_FIXED_BITS"]

OPCODE_BITS = 4
LENGTH_BITS = 8
SEQ_BITS = 16
#: bits of the head outside the coordinates: mclass + opcode + length
HEAD_FIXED_BITS = 1 + OPCODE_BITS + LENGTH_BITS


class Opcode(enum.Enum, shape=OPCODE_BITS):
    WRITE = 0       # payload to SRAM
    READ = 1        # reply with READ_RESP
    READ_RESP = 2
    ADD = 3         # element-wise accumulate into SRAM
    PUSH = 4        # DMA push of a local block to a remote node
    EXEC = 5        # start a matrix operation
    DONE = 6        # completion to the requester
    TRAFFIC = 7     # measured traffic from the in-RTL generators


class MsgClass(enum.Enum, shape=1):
    """Requests and responses travel on disjoint VCs (protocol-deadlock freedom)."""
    REQUEST = 0
    RESPONSE = 1


def coord_bits_for(mesh_x, mesh_y):
    """Bits of one global coordinate for a mesh of ``mesh_x`` x ``mesh_y`` nodes."""
    return max(1, (max(mesh_x, mesh_y) - 1).bit_length())


def enum_member(enum_cls, value):
    """``enum_cls(value)`` without the enum metaclass's call for a member or a known value
    (a dict lookup: packets are built and decoded per flit in the testbenches' hosts)."""
    if type(value) is enum_cls:
        return value
    member = enum_cls._value2member_map_.get(value)
    return enum_cls(value) if member is None else member


class FlatCodec:
    """Python-side encoding of a flat :class:`~amaranth.lib.data.StructLayout` (fields of
    plain or enum shape) with integer shifts at the layout's own offsets.

    The same ints and fields as ``layout.const(...).as_value().value`` and
    ``layout.from_bits(...)``: a value is truncated to its field's width (two's complement
    for negative ones) and enum fields are given as members; decoding sign-extends signed
    fields and returns enum members (an undefined enum value raises ``ValueError``, as
    Amaranth does). It exists for speed: Amaranth's constant builder costs about 0.4 ms a
    head, which was two thirds of the fast model's link-trace comparison against the RTL
    (``tests/rtl/net/test_packet.py`` holds both equal). A layout with a nested layout
    field is refused (TypeError): use Amaranth's for those."""

    def __init__(self, layout):
        self.layout = layout
        self.fields = []
        for name, member in layout:
            shape = member.shape
            is_enum = isinstance(shape, type) and issubclass(shape, enum.Enum)
            if not is_enum and not isinstance(shape, (int, Shape)):
                raise TypeError(f"field {name!r} of shape {shape!r} is not a plain or enum "
                                f"field")
            signed = not is_enum and Shape.cast(shape).signed
            self.fields.append((name, member.offset, (1 << member.width) - 1,
                                shape if is_enum else None, signed, member.width))

    def encode(self, values):
        """``{field: int or enum member}`` (missing fields zero) -> int."""
        out = 0
        for name, offset, mask, enum_cls, _, _ in self.fields:
            v = values.get(name, 0)
            if enum_cls is not None:
                v = enum_member(enum_cls, v).value
            out |= (int(v) & mask) << offset
        return out

    def decode(self, bits):
        """int -> ``{field: int or enum member}``."""
        out = {}
        for name, offset, mask, enum_cls, signed, width in self.fields:
            v = (bits >> offset) & mask
            if enum_cls is not None:
                v = enum_member(enum_cls, v)
            elif signed and v >> (width - 1):
                v -= 1 << width
            out[name] = v
        return out


class PacketFormat:
    """Layouts of one fabric: head flit and traffic-packet info.

    Parameters
    ----------
    flit_bits : int
        Flit payload width.
    coord_bits : int
        Width of one global coordinate.
    timestamp_bits : int
        Width of the injection timestamp in traffic heads.

    Attributes
    ----------
    head : data.StructLayout
        The head flit, ``flit_bits`` wide.
    traffic_info : data.StructLayout
        The ``info`` field of a TRAFFIC head: ``marked``, ``seq``, ``timestamp``.

    Raises
    ------
    ValueError
        If ``flit_bits`` cannot hold the head fields.
    """

    def __init__(self, *, flit_bits, coord_bits, timestamp_bits=16):
        need = self.min_flit_bits(coord_bits=coord_bits, timestamp_bits=timestamp_bits)
        if flit_bits < need:
            raise ValueError(f"flit_bits must be at least {need} to hold the head fields "
                             f"with {coord_bits}-bit coordinates and {timestamp_bits}-bit "
                             f"timestamps, not {flit_bits}")
        self.flit_bits = flit_bits
        self.coord_bits = coord_bits
        self.timestamp_bits = timestamp_bits
        info_bits = flit_bits - 4 * coord_bits - HEAD_FIXED_BITS
        self.head = data.StructLayout({
            "dst_x": coord_bits, "dst_y": coord_bits,
            "src_x": coord_bits, "src_y": coord_bits,
            "mclass": MsgClass,
            "opcode": Opcode,
            "length": LENGTH_BITS,
            "info": info_bits,
        })
        self.traffic_info = data.StructLayout({
            "marked": 1,
            "seq": SEQ_BITS,
            "timestamp": timestamp_bits,
            "pad": info_bits - 1 - SEQ_BITS - timestamp_bits,
        })
        self._head, self._traffic_info = FlatCodec(self.head), FlatCodec(self.traffic_info)

    @staticmethod
    def min_flit_bits(*, coord_bits, timestamp_bits=16):
        return 4 * coord_bits + HEAD_FIXED_BITS + 1 + SEQ_BITS + timestamp_bits

    # -- Python-side encoders/decoders (testbenches, golden models) ---------------

    def encode_head(self, *, dst, src, opcode, length, mclass=MsgClass.REQUEST, info=0):
        """Head flit as an int; ``dst``/``src`` are ``(x, y)``."""
        return self._head.encode({
            "dst_x": dst[0], "dst_y": dst[1], "src_x": src[0], "src_y": src[1],
            "mclass": enum_member(MsgClass, mclass), "opcode": enum_member(Opcode, opcode),
            "length": length,
            "info": info,
        })

    def decode_head(self, flit):
        """Head flit int -> dict of fields."""
        c = self._head.decode(flit)
        return {"dst": (c["dst_x"], c["dst_y"]), "src": (c["src_x"], c["src_y"]),
                "mclass": c["mclass"], "opcode": c["opcode"], "length": c["length"],
                "info": c["info"]}

    def encode_traffic_info(self, *, marked, seq, timestamp):
        return self._traffic_info.encode({
            "marked": marked, "seq": seq & ((1 << SEQ_BITS) - 1),
            "timestamp": timestamp & ((1 << self.timestamp_bits) - 1),
        })

    def decode_traffic_info(self, info):
        c = self._traffic_info.decode(info)
        return {"marked": c["marked"], "seq": c["seq"], "timestamp": c["timestamp"]}
