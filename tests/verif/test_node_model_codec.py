""":class:`verif.node_model.LayoutCodec` against Amaranth's own constants.

The command-processor descriptors the workloads compile (thousands per GEMM) are encoded
by shift and mask tables read once from ``rtl.node.layouts``; here every descriptor kind,
with random values for every field (nested descriptors and negative steps included), gives
the lines :meth:`rtl.node.layouts.NodeLayouts.cmd` builds through Amaranth, at two flit
widths. A codec whose table is one bit off in one field fails the same comparison.
"""

import enum
import random

import pytest
from amaranth.hdl import Shape
from amaranth.lib import data

from rtl.net.packet import PacketFormat
from rtl.node.layouts import CmdOp
from verif.node_model import LayoutCodec, NodeModel


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
