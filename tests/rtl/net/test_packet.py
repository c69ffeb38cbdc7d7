"""The Python-side codec of the packet and node layouts (rtl.net.packet.FlatCodec) gives
Amaranth's own constants: the same int for the same fields (truncation and negative values
included) and the same fields back (signed fields, enum members, undefined enum values)."""

import random

import pytest
from amaranth.hdl import signed
from amaranth.lib import data, enum

from rtl.net.packet import FlatCodec, MsgClass, Opcode, PacketFormat
from rtl.node.layouts import NodeLayouts


def _amaranth_encode(layout, values):
    return layout.const(values).as_value().value


def _amaranth_decode(layout, bits):
    c = layout.from_bits(bits)
    return {name: getattr(c, name) for name, _ in layout}


def _random_fields(rng, layout):
    out = {}
    for name, member in layout:
        shape = member.shape
        if isinstance(shape, type) and issubclass(shape, enum.Enum):
            out[name] = rng.choice(list(shape))
        else:                                   # in range, too wide, or negative
            w = member.width
            out[name] = rng.choice([rng.randrange(1 << w), rng.randrange(1 << (w + 3)),
                                    -rng.randrange(1, 2 << w)])
    return out


def _flat_layouts():
    for flit_bits, coord_bits in ((64, 2), (128, 9), (2048, 9), (50, 1)):
        fmt = PacketFormat(flit_bits=flit_bits, coord_bits=coord_bits)
        yield f"head{flit_bits}/{coord_bits}", fmt.head
        yield f"traffic_info{flit_bits}/{coord_bits}", fmt.traffic_info
        lay = NodeLayouts(fmt=fmt, lines=512)
        for name in dir(lay):
            value = getattr(lay, name, None) if not name.startswith("_") else None
            if isinstance(value, data.StructLayout):
                try:
                    FlatCodec(value)
                except TypeError:
                    continue                    # nested: Amaranth's encoder serves it
                yield f"{name}{flit_bits}/{coord_bits}", value


FLAT = list(_flat_layouts())


def test_the_node_layouts_that_are_flat_are_covered():
    names = {n.rstrip("0123456789/") for n, _ in FLAT}
    assert {"head", "traffic_info", "store_info"} <= names, names


@pytest.mark.parametrize("name, layout", FLAT, ids=[n for n, _ in FLAT])
def test_codec_equals_amaranths_constants(name, layout):
    rng = random.Random(name)
    codec = FlatCodec(layout)
    for _ in range(300):
        fields = _random_fields(rng, layout)
        assert codec.encode(fields) == _amaranth_encode(layout, fields), fields
        bits = rng.randrange(1 << layout.size)
        try:
            want = _amaranth_decode(layout, bits)
        except ValueError:                      # an undefined enum value: both refuse
            with pytest.raises(ValueError):
                codec.decode(bits)
            continue
        assert codec.decode(bits) == want


def test_signed_fields_are_sign_extended():
    layout = data.StructLayout({"a": 3, "b": signed(5)})
    codec = FlatCodec(layout)
    for bits in range(1 << 8):
        assert codec.decode(bits) == _amaranth_decode(layout, bits)
    assert codec.encode({"b": -3}) == _amaranth_encode(layout, {"b": -3})


def test_packet_format_encodes_through_the_codec():
    fmt = PacketFormat(flit_bits=64, coord_bits=2)
    head = fmt.encode_head(dst=(1, 3), src=(2, 0), opcode=Opcode.TRAFFIC, length=5,
                           mclass=MsgClass.RESPONSE, info=fmt.encode_traffic_info(
                               marked=1, seq=70000, timestamp=-1))
    assert head == _amaranth_encode(fmt.head, {
        "dst_x": 1, "dst_y": 3, "src_x": 2, "src_y": 0, "mclass": MsgClass.RESPONSE,
        "opcode": Opcode.TRAFFIC, "length": 5,
        "info": _amaranth_encode(fmt.traffic_info, {"marked": 1, "seq": 70000 & 0xFFFF,
                                                    "timestamp": 0xFFFF})})
    got = fmt.decode_head(head)
    assert got["dst"] == (1, 3) and got["opcode"] is Opcode.TRAFFIC and got["length"] == 5
    assert fmt.decode_traffic_info(got["info"]) == {"marked": 1, "seq": 70000 & 0xFFFF,
                                                    "timestamp": 0xFFFF}


def test_a_nested_layout_is_refused():
    inner = data.StructLayout({"a": 2})
    with pytest.raises(TypeError, match="'x'"):
        FlatCodec(data.StructLayout({"x": inner, "y": 3}))
