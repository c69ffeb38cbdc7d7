"""gen.emit runs Yosys once per distinct RTLIL text in a process: a module converted again
(the training node of another design of the same configuration) gets the same Verilog."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from gen import emit


class _Adder(wiring.Component):
    def __init__(self, width):
        super().__init__({"a": In(width), "b": In(width), "s": Out(width + 1)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.s.eq(self.a + self.b)
        return m


def test_yosys_runs_once_per_distinct_rtlil(monkeypatch):
    monkeypatch.delenv("DOJO_YOSYS_CACHE", raising=False)
    calls = []
    real = emit._AMARANTH_RTLIL_TO_VERILOG

    def counting(text, **options):
        calls.append(text)
        return real(text, **options)

    monkeypatch.setattr(emit, "_AMARANTH_RTLIL_TO_VERILOG", counting)
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    texts = [emit.ModuleLibrary()._convert(_Adder(w), "adder").text for w in (8, 8, 9, 8)]
    assert texts[0] == texts[1] == texts[3] != texts[2]
    assert len(calls) == 2                                  # 8 bits once, 9 bits once
    assert "module adder(" in texts[0]
    # the same text as Amaranth's own conversion, Yosys run anew
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    assert emit.ModuleLibrary()._convert(_Adder(8), "adder").text == texts[0]
    assert len(calls) == 3


def test_the_cache_keeps_its_last_entries(monkeypatch):
    monkeypatch.delenv("DOJO_YOSYS_CACHE", raising=False)
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL_KEPT", 2)
    for w in (4, 5, 6):
        emit.ModuleLibrary()._convert(_Adder(w), "adder")
    assert len(emit._VERILOG_OF_RTLIL) == 2


def test_a_process_reads_what_another_wrote(monkeypatch, tmp_path):
    """With DOJO_YOSYS_CACHE, another process (here: the memo emptied) gets the Verilog
    from the directory, and a damaged entry is converted again."""
    calls = []
    real = emit._AMARANTH_RTLIL_TO_VERILOG
    monkeypatch.setattr(emit, "_AMARANTH_RTLIL_TO_VERILOG",
                        lambda text, **o: calls.append(text) or real(text, **o))
    monkeypatch.setenv("DOJO_YOSYS_CACHE", str(tmp_path / "yosys"))
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    first = emit.ModuleLibrary()._convert(_Adder(7), "adder").text
    (entry,) = (tmp_path / "yosys").iterdir()
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    assert emit.ModuleLibrary()._convert(_Adder(7), "adder").text == first
    assert len(calls) == 1
    entry.write_bytes(b"not zlib")
    monkeypatch.setattr(emit, "_VERILOG_OF_RTLIL", type(emit._VERILOG_OF_RTLIL)())
    assert emit.ModuleLibrary()._convert(_Adder(7), "adder").text == first
    assert len(calls) == 2
