# amaranth: UnusedElaboratable=no
"""sim.runner's build directories: one per simulator, digest and build kind, named for what
the build is (hierarchical blocks, extra public signals, C++ at -O0)."""

from pathlib import Path

import pytest

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


def test_only_an_unoptimised_build_compiles_its_model_as_one_file():
    from sim.runner import verilator_args
    assert verilator_args(fast=True)[-2:] == ["--output-split", "0"]
    assert "--output-split" not in verilator_args(fast=False)


@pytest.mark.slow
def test_the_suites_builds_compile_one_file_and_no_precompiled_header():
    """The suite's builds (-O0): the model is one translation unit, so no precompiled header
    of about 70 MB is compiled and loaded per part (the router of the random-traffic test:
    the same Verilog, so the same build)."""
    from gen.build import router_design
    from sim.runner import build_design
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=4", "tile.dies_y=4",
                                                 "router.vcs=2", "router.buffer_depth=4"])
    build = build_design(router_design(cfg), sim="verilator")
    build_dir = Path(build.build_dir)
    assert build.fast and build_dir.name.endswith("-O0")
    assert (build_dir / "Vtop__ALL.o").exists()
    assert not list(build_dir.glob("*.gch"))
    assert not list(build_dir.glob("Vtop___024root__*.o"))
