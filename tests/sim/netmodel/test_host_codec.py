"""The fast engine's hosts' generated packet code (:class:`sim.netmodel.host_codec.HostModel`)
against :class:`verif.node_model.NodeModel`'s: every packet kind a host builds or decodes,
random fields, bit for bit and field for field, at two flit widths; and a decoder one bit
off is caught by the same comparison."""

import random

import pytest

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import Dtype
from sim.netmodel.host_codec import HostModel
from verif.node_model import NodeModel


def _models(flit_bits, mutant="none"):
    params = dict(fmt=PacketFormat(flit_bits=flit_bits, coord_bits=4, timestamp_bits=16),
                  lines=512, vcs=2, max_packet_flits=8, matrix_p=4)
    return NodeModel(**params), HostModel(mutant=mutant, **params)


def _outcome(call):
    try:
        return call()
    except ValueError as e:
        return f"ValueError: {e}"


def _built_difference(slow, fast, rng, rounds=500):
    """The first random request whose flits the two models build differently, as one line;
    None when all agree."""
    coord = lambda: (rng.randrange(16), rng.randrange(16))      # noqa: E731
    for _ in range(rounds):
        dst, src, tag = coord(), coord(), rng.randrange(256)
        cases = {
            "head": dict(dst=dst, src=src, opcode=rng.choice(list(Opcode)),
                         length=rng.randrange(32), info=rng.getrandbits(40),
                         mclass=rng.choice(list(MsgClass))),
            "read": dict(dst=dst, src=src, addr=rng.randrange(1024), count=rng.randrange(256),
                         tag=tag),
            "read_regs": dict(dst=dst, src=src, first=rng.choice(slow.lay.registers),
                              count=rng.randrange(1, 4), tag=tag),
            "store": dict(dst=dst, src=src, addr=rng.randrange(512), tag=tag,
                          data=[rng.getrandbits(64) for _ in range(rng.randrange(12))],
                          add=rng.random() < 0.5, dtype=rng.choice(list(Dtype)),
                          ack=rng.random() < 0.5, sem=rng.choice([None, 0, 1, 3])),
            "push": dict(dst=dst, src=src, src_addr=rng.randrange(512),
                         count=rng.randrange(256), to=coord(), dst_addr=rng.randrange(512),
                         add=rng.random() < 0.5, dtype=rng.choice(list(Dtype)),
                         sem=rng.choice([None, 0, 2]), tag=tag, ack=rng.random() < 0.5),
        }
        cases["reg_addr"] = dict(name=rng.choice(slow.lay.registers + ["bogus"]))
        for name, args in cases.items():
            want = _outcome(lambda: getattr(slow, name)(**args))
            got = _outcome(lambda: getattr(fast, name)(**args))
            if want != got:
                return f"{name}({args}): NodeModel {want}, HostModel {got}"
    return None


def _decoded_difference(slow, fast, rng, rounds=3000):
    """The first packet the two models decode differently (random heads of every opcode,
    undefined enum values included, and responses as the nodes send them), as one line."""
    width = slow.width
    for _ in range(rounds):
        op = rng.choice(list(Opcode))
        info = slow.lay.encode("resp_info", tag=rng.randrange(256),
                               req_op=rng.choice(list(Opcode)), addr=rng.randrange(1024))
        heads = [rng.getrandbits(width),
                 slow.head(dst=(1, 4), src=(rng.randrange(16), 2), opcode=op, length=2,
                           info=info, mclass=MsgClass.RESPONSE)]
        for head in heads:
            flits = [head] + [rng.getrandbits(width) for _ in range(rng.randrange(3))]
            for name, arg in (("decode", flits), ("decode_head", head), ("dst_of", head)):
                want = _outcome(lambda: slow.decode_head(arg)["dst"] if name == "dst_of"
                                else getattr(slow, name)(arg))
                got = _outcome(lambda: getattr(fast, name)(arg))
                if want != got or list(map(str, want)) != list(map(str, got)):
                    return f"{name}({arg}): NodeModel {want}, HostModel {got}"
    return None


@pytest.mark.parametrize("flit_bits", [64, 128])
def test_the_generated_codec_builds_and_decodes_as_the_node_model(flit_bits):
    slow, fast = _models(flit_bits)
    assert _built_difference(slow, fast, random.Random(flit_bits)) is None
    assert _decoded_difference(slow, fast, random.Random(flit_bits)) is None


def test_a_response_tag_read_one_bit_off_fails_the_comparison():
    slow, fast = _models(64, mutant="resp_tag_one_bit_off")
    line = _decoded_difference(slow, fast, random.Random(3))
    assert line is not None and line.startswith("decode("), line


def test_an_unknown_mutant_is_named():
    with pytest.raises(ValueError, match="mutant must be one of none, resp_tag_one_bit_off, "
                                         "push_count_one_bit_off, not 'bogus'"):
        _models(64, mutant="bogus")


def test_a_push_count_written_one_bit_off_fails_the_comparison():
    slow, fast = _models(64, mutant="push_count_one_bit_off")
    line = _built_difference(slow, fast, random.Random(4))
    assert line is not None and line.startswith("push("), line


def test_layouts_made_elsewhere_are_shared_and_must_match():
    """The fast engine's tile hands its cores' layouts to the hosts' model (no second copy):
    the same packets; layouts of another node are refused."""
    from rtl.node.layouts import NodeLayouts
    slow, _ = _models(64)
    lay = NodeLayouts(fmt=slow.fmt, lines=512)
    shared = HostModel(fmt=slow.fmt, lines=512, vcs=2, max_packet_flits=8, matrix_p=4,
                       layouts=lay)
    assert shared.lay is lay
    assert _built_difference(slow, shared, random.Random(5), rounds=50) is None
    with pytest.raises(ValueError, match="layouts are of 256 lines"):
        HostModel(fmt=slow.fmt, lines=512, vcs=2, max_packet_flits=8, matrix_p=4,
                  layouts=NodeLayouts(fmt=slow.fmt, lines=256))
