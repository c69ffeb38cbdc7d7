"""make bench's report assembly: a partial run keeps the other sections' results."""

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
