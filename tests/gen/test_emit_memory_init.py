# amaranth: UnusedElaboratable=no
"""gen.emit.memory_init_as_text: the same RTLIL as Amaranth's own memory emission.

The fast emission writes a memory's initial contents from its rows (the D1 node's SRAMs
are 10.5 million bits); the text must be byte for byte what Amaranth writes, for zero,
arbitrary, signed (negative) and one-bit contents, one row or many, with the read and
write ports around them.
"""

import random

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from gen.emit import memory_init_as_text


class Mems(wiring.Component):
    def __init__(self, memories):
        self._memories = memories
        super().__init__({"addr": In(8), "data": In(64), "we": In(1),
                          **{f"q{i}": Out(64) for i in range(len(memories))}})

    def elaborate(self, platform):
        m = Module()
        for i, (shape, depth, init) in enumerate(self._memories):
            m.submodules[f"mem{i}"] = mem = Memory(shape=shape, depth=depth, init=init)
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            m.d.comb += [wp.addr.eq(self.addr), wp.data.eq(self.data), wp.en.eq(self.we),
                         rp.addr.eq(self.addr), getattr(self, f"q{i}").eq(rp.data)]
        return m


def _memories():
    rng = random.Random(29)
    return [(16, 8, []),                                                # all zero
            (12, 5, [rng.getrandbits(12) for _ in range(5)]),           # arbitrary
            (signed(9), 6, [-1, -256, 255, 0, 7, -3]),                  # negative rows
            (1, 3, [1, 0, 1]),                                          # one bit wide
            (37, 1, [rng.getrandbits(37)]),                             # one row
            (64, 40, [rng.getrandbits(64) for _ in range(17)])]         # init shorter


@pytest.mark.parametrize("memories", [_memories(), _memories()[:1]], ids=["mixed", "zero"])
def test_same_rtlil_as_amaranth(memories):
    amaranth_text = rtlil.convert(Mems(memories), name="top", emit_src=False)
    with memory_init_as_text():
        fast_text = rtlil.convert(Mems(memories), name="top", emit_src=False)
    assert "$meminit_v2" in amaranth_text
    assert fast_text == amaranth_text


def test_restores_amaranths_method():
    before = rtlil.ModuleEmitter.emit_memory
    with pytest.raises(RuntimeError):
        with memory_init_as_text():
            assert rtlil.ModuleEmitter.emit_memory is not before
            raise RuntimeError
    assert rtlil.ModuleEmitter.emit_memory is before
