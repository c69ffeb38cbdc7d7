"""ParamSignature: equal by class and parameters, hashable, readable repr; connectable."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.signature import ParamSignature


class Bus(ParamSignature):
    def __init__(self, width):
        super().__init__({"data": Out(width), "ack": In(1)}, width=width)


class OtherBus(ParamSignature):
    def __init__(self, width):
        super().__init__({"data": Out(width), "ack": In(1)}, width=width)


def test_equality_hash_repr():
    assert Bus(8) == Bus(8) and hash(Bus(8)) == hash(Bus(8))
    assert Bus(8) != Bus(9)
    assert Bus(8) != OtherBus(8)          # same members, another kind of port
    assert repr(Bus(8)) == "Bus(width=8)"
    assert Bus(8).flip() == Bus(8).flip()


def test_connect():
    m = Module()
    a, b = Bus(4).create(), Bus(4).flip().create()
    wiring.connect(m, a, b)
