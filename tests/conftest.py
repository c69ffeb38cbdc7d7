"""Test tiers, order and shared settings (docs/testing.md).

- ``make test``: every test. ``make check`` (``--quick``): the quick tier, every test
  but the slow ones, plus the slow ones marked ``quick`` (one correlation configuration
  per block of the fast engine).
- ``slow``: simulator-bound or long. A test parametrized by ``sim`` is slow without being
  marked; so is any test that builds a simulator model: under ``--quick`` such a test
  that is not marked (slow or quick) is skipped at its first build, with the reason.
- Order: slow tests first (proofs, then the rest as collected), so that under
  ``pytest -n 2`` the long ones start early and the unit tests fill the end; tests that
  share a simulator build are grouped (``xdist_group``: ``--dist loadgroup`` runs a group
  on one worker, so two workers never wait for the same build).
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def base_raw():
    """A small, valid config dict built on the default preset."""
    import yaml
    return yaml.safe_load((CONFIGS / "default.yaml").read_text())


# Verilator builds the traffic/bare node once as a hierarchical block and compiles the
# model at -O0 (sim.runner: about half the build time of a mesh, slower simulation, the
# same cycles): the suite builds many small configurations and runs each for a few
# thousand cycles
os.environ.setdefault("DOJO_FAST_BUILD", "1")


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="the quick tier (make check): skip slow tests not marked quick")


def pytest_configure(config):
    config.addinivalue_line("markers", "quick: a slow test that the quick tier (make check) "
                                       "runs too: one per block of the fast engine")
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        _warm_fast_model()


def _warm_fast_model():
    """Compile the fast model's loops (serial and threaded) into numba's disk cache once, in
    the xdist controller before the workers start: the workers then load them instead of
    compiling the same cache entries at the same time (on a cold cache two concurrent
    compiles once failed inside numba). Costs the one compile the first worker would pay."""
    from gen.config import load_config
    from sim.sweep import run_sweep
    cfg = load_config(str(CONFIGS / "default.yaml"), [])
    for threads in (1, 2):
        run_sweep(cfg, engine="model", rates=[0.1], threads=threads, progress=False,
                  timing={"warmup": 20, "measure": 20, "drain_limit": 200, "final_drain": 50})


def is_slow(item):
    """Marked slow, or parametrized by the simulator."""
    callspec = getattr(item, "callspec", None)
    return item.get_closest_marker("slow") is not None or \
        (callspec is not None and "sim" in callspec.params)


def _order(item):
    """Proofs first (long, one core each), then the other slow tests, then the rest."""
    if not is_slow(item):
        return 2
    return 0 if item.get_closest_marker("proof") else 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        if is_slow(item) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
    if config.getoption("quick"):
        keep, drop = [], []
        for item in items:
            (drop if is_slow(item) and not item.get_closest_marker("quick") else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    items.sort(key=_order)              # stable: collection order within a class


@pytest.fixture(autouse=True)
def _quick_tier_guard(request, monkeypatch):
    """Under ``--quick``, a test not marked slow or quick that builds a simulator model
    is skipped at that point (make test runs it): the quick tier stays quick when a new
    simulator-bound test forgets its marker."""
    if not request.config.getoption("quick") or request.node.get_closest_marker("quick"):
        yield
        return
    import sim.runner

    def guarded(build):
        pytest.skip(f"runs a {build.sim} model: simulator-bound, so make test runs it "
                    "(mark it slow, or quick if it is a block's one representative)")
    monkeypatch.setattr(sim.runner, "_compile", guarded)
    yield
