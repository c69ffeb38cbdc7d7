# amaranth: UnusedElaboratable=no
"""sim.runner's build directories: one per simulator, digest and build kind, named for what
the build is (hierarchical blocks, extra public signals, C++ at -O0)."""

from gen.build import noc_design
from gen.config import load_config
from sim.runner import BUILD_REVISION, build_dir_of
from tests.conftest import CONFIGS


def test_build_directories_say_how_the_model_is_compiled(monkeypatch):
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=1", "tile.dies_y=1"])
    design = noc_design(cfg, kind="traffic")
    key = design.manifest()["verilog_sha256_16"]
    base = f"{design.top_name}-{key}-r{BUILD_REVISION}"
    monkeypatch.setenv("DOJO_CXX_O0", "0")
    assert build_dir_of(design, "verilator", fast_build=True).name == base + "-hier-O0"
    assert build_dir_of(design, "verilator", fast_build=False).name == base
    # the test suite's setting: the flat build compiled at -O0 too, in a directory of its own
    monkeypatch.setenv("DOJO_CXX_O0", "1")
    assert build_dir_of(design, "verilator", fast_build=False).name == base + "-O0"
    assert build_dir_of(design, "verilator", fast_build=True).name == base + "-hier-O0"
    assert build_dir_of(design, "icarus", fast_build=False).name == base
