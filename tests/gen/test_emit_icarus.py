"""gen.emit.icarus_safe: one-statement ``always @*`` blocks also run once at time zero under Icarus."""

from gen.emit import icarus_safe


def test_single_statement_block_gets_a_time_zero_copy():
    text = "  always @*\n    w_data[20:5] = seq;\n  always @* begin\n    a = b;\n  end\n"
    out = icarus_safe(text)
    assert ("  always @*\n    w_data[20:5] = seq;\n`ifdef __ICARUS__\n"
            "  initial #0 w_data[20:5] = seq;\n`endif\n") in out
    assert out.count("initial #0") == 1               # the begin/end block is left alone
