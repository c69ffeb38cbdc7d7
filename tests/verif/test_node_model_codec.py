""":class:`verif.node_model.LayoutCodec` against Amaranth's own constants, and
:class:`verif.node_model.FieldDecoder` against :class:`rtl.net.packet.FlatCodec`.

The command-processor descriptors the workloads compile (thousands per GEMM) are encoded
by shift and mask tables read once from ``rtl.node.layouts``; here every descriptor kind,
with random values for every field (nested descriptors and negative steps included), gives
the lines :meth:`rtl.node.layouts.NodeLayouts.cmd` builds through Amaranth, at two flit
widths. A codec whose table is one bit off in one field fails the same comparison.

The hosts decode every packet they receive through :meth:`NodeModel.decode` (its
``FieldDecoder``s): random heads and info fields decode to what ``FlatCodec`` gives
(undefined enum values raising the same ValueError), and a decoder with two enum members
swapped in its table fails the comparison.
"""

import enum
import random

import pytest
from amaranth.hdl import Shape
from amaranth.lib import data

from rtl.net.packet import PacketFormat
from rtl.node.layouts import CmdOp
from rtl.net.packet import FlatCodec
from verif.node_model import FieldDecoder, LayoutCodec, NodeModel


def _model(flit_bits):
    fmt = PacketFormat(flit_bits=flit_bits, coord_bits=4, timestamp_bits=16)
    return NodeModel(fmt=fmt, lines=512, vcs=2, max_packet_flits=16, matrix_p=4)


def _random_fields(layout, rng):
    """Random in-range values for every field of ``layout`` (nested dicts for nested ones)."""
    out = {}
    for name, member in layout:
        shape = member.shape
        if isinstance(shape, data.Layout):
            out[name] = _random_fields(shape, rng)
        elif isinstance(shape, type) and issubclass(shape, enum.Enum):
            out[name] = rng.choice(list(shape))
        else:
            s = Shape.cast(shape)
            low = -(1 << (s.width - 1)) if s.signed else 0
            out[name] = rng.randrange(low, low + (1 << s.width))
    return out


def _first_difference(mdl, cmd, rng, rounds=40):
    """The first random descriptor whose lines ``cmd`` encodes differently from Amaranth's
    (``NodeLayouts.cmd``), as one line; None when all agree."""
    for _ in range(rounds):
        for op in CmdOp:
            args = _random_fields(mdl.lay.cmd_args[op.name.lower()].shape, rng)
            want, got = mdl.lay.cmd(op, **args), cmd(op, **args)
            if want != got:
                return f"{op.name} {args}: Amaranth {want}, codec {got}"
    return None


@pytest.mark.parametrize("flit_bits", [64, 128])
def test_the_codec_gives_amaranths_descriptor_lines(flit_bits):
    mdl = _model(flit_bits)
    assert _first_difference(mdl, mdl.cmd, random.Random(flit_bits)) is None


def test_a_codec_one_bit_off_fails_the_comparison():
    mdl = _model(64)
    wrong = LayoutCodec(mdl.lay.cmd_desc)
    push = wrong.fields["args"][2].fields["push"][2]
    offset, mask, sub, kind = push.fields["dst_step"]
    push.fields["dst_step"] = (offset + 1, mask, sub, kind)
    mdl._cmd_codec = wrong
    line = _first_difference(mdl, mdl.cmd, random.Random(1))
    assert line is not None and line.startswith("PUSH "), line


def test_an_unknown_field_is_named():
    with pytest.raises(KeyError, match="bogus"):
        _model(64).cmd("WAIT", sem=0, bogus=1)


def _flat_decode(codec, bits):
    try:
        return codec.decode(bits)
    except ValueError as e:
        return f"ValueError: {e}"


def _decode_difference(mdl, rng, rounds=3000):
    """The first random value one of the model's decoders (head, resp_info, store_info)
    decodes differently from ``FlatCodec``, as one line; None when all agree."""
    cases = [(mdl._head, mdl.fmt.head), (mdl._info["resp_info"][0], mdl.lay.resp_info),
             (mdl._info["store_info"][0], mdl.lay.store_info)]
    for _ in range(rounds):
        for fast, layout in cases:
            bits = rng.getrandbits(layout.size)
            want, got = _flat_decode(FlatCodec(layout), bits), _flat_decode(fast, bits)
            if want != got:
                return f"{bits:#x}: FlatCodec {want}, FieldDecoder {got}"
    return None


@pytest.mark.parametrize("flit_bits", [64, 128])
def test_the_hosts_decoders_give_flatcodecs_fields(flit_bits):
    mdl = _model(flit_bits)
    assert _decode_difference(mdl, random.Random(flit_bits)) is None
    head = mdl.head(dst=(1, 2), src=(3, 0), opcode=1, length=1, info=5)
    assert mdl.decode_head(head) == mdl.fmt.decode_head(head)


def test_a_decoder_with_two_enum_members_swapped_fails_the_comparison():
    mdl = _model(64)
    wrong = FieldDecoder(mdl.fmt.head)
    i = next(i for i, f in enumerate(wrong.fields) if f[0] == "opcode")
    name, offset, mask, members, kind, signed, width = wrong.fields[i]
    a, b = list(members)[:2]
    members = {**members, a: members[b], b: members[a]}
    wrong.fields[i] = (name, offset, mask, members, kind, signed, width)
    mdl._head = wrong
    line = _decode_difference(mdl, random.Random(2))
    assert line is not None and "FieldDecoder" in line, line


def test_an_enum_field_takes_its_member_name_or_value_alike():
    """The codec's enum table (made once, not the enum called per field) gives a member, its
    name and its value the same bits, and an undefined value raises as the enum does."""
    mdl = _model(64)
    codec = LayoutCodec(mdl.lay.cmd_desc)
    for op in CmdOp:
        bits = {codec.encode({"op": v}) for v in (op, op.name, op.value)}
        assert len(bits) == 1, op
        assert mdl.cmd(op) == mdl.cmd(op.name) == mdl.cmd(op.value)
    with pytest.raises(ValueError):
        codec.encode({"op": max(o.value for o in CmdOp) + 1})
    with pytest.raises(KeyError):
        codec.encode({"op": "NO_SUCH_OP"})
