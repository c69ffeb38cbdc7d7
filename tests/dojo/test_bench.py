"""make bench's report assembly: a partial run keeps the other sections' results; the
dead-router table's rows and bounds."""

import pytest

from dojo import bench


def test_partial_run_keeps_sections_of_the_previous_report(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)          # build/bench/ under tmp_path
    monkeypatch.setitem(bench.SECTIONS, "fpga", lambda outdir: ["## FPGA", "", "old fpga"])
    monkeypatch.setitem(bench.SECTIONS, "scale", lambda outdir: ["## Scale", "", "old scale"])
    out = tmp_path / "BENCHMARKS.md"
    bench.bench(out, sections=["fpga", "scale"])
    # a fresh checkout: no build/bench/, only the committed report
    for f in (tmp_path / "build" / "bench").glob("*.md"):
        f.unlink()
    monkeypatch.setitem(bench.SECTIONS, "fpga", lambda outdir: ["## FPGA", "", "new fpga"])
    bench.bench(out, sections=["fpga"])
    text = out.read_text()
    assert "new fpga" in text and "old fpga" not in text
    assert "old scale" in text
    assert text.index("## Scale") < text.index("## FPGA")  # report keeps SECTIONS order
    bench.bench(out, sections=["fpga"])                     # idempotent: no nested markers
    assert out.read_text().count("bench:scale") == 2


def test_fault_row_says_n_a_for_a_missing_zero_load_latency():
    """A map whose sweep has no zero-load figure (None) gives "n/a" in the dead-router
    table instead of a TypeError; known figures are averaged as before."""
    ref = {"sat_live": 0.4}
    run = {"sat": 0.3, "sat_live": 0.32, "bound": 0.45, "errors": 0, "lost": 0}
    known = [dict(run, zero=12.0), dict(run, zero=13.0)]
    row = bench._fault_row("2", 2, known, ref)
    assert "| 12.50 (13.00) |" in row
    row = bench._fault_row("2", 2, [known[0], dict(run, zero=None)], ref)
    assert "| n/a (n/a) |" in row and "0.3000 (0.3000)" in row


def test_table_bound_of_a_full_mesh_is_the_dimension_order_bound():
    """Every node live: the bound is dimension order's (sim.sweep.channel_load_bound), which
    is 4/k only for even k (19 x 19: 19 * 19 / (9 * 10 * 19))."""
    from gen.config import load_config
    cfg = load_config(bench.ROOT / "configs" / "d1.yaml",
                      ["tile.dies_x=1", "tile.dies_y=1", "die.disabled_nodes=[]"])
    assert bench._table_bound(cfg, 19) == pytest.approx(19 / 90)
    cfg = load_config(bench.ROOT / "configs" / "noc8x8.yaml", ["router.routing=table"])
    assert bench._table_bound(cfg, 8) == 0.5
