"""Test tiers, order and shared settings (docs/testing.md).

- ``make test``: every test. ``make check`` (``--quick``): the quick tier, every test
  but the slow ones, plus the slow ones marked ``quick`` (one correlation configuration
  per block of the fast engine).
- ``slow``: simulator-bound or long. A test parametrized by ``sim`` is slow without being
  marked; so is any test that builds a simulator model: under ``--quick`` such a test
  that is not marked (slow or quick) is skipped at its first build, with the reason.
- ``quick_first``: of a parametrized test, the first parameter set is in the quick tier
  and the others are slow (a block's second and third configurations, the further seeds
  of a property: ``make test`` runs them).
- Order: slow tests first (proofs, then the longest xdist group, then the rest as
  collected, those that wait for the numba warm-up last), so that under
  ``pytest -n 2`` the long ones start early and the unit tests fill the end; tests that
  share a simulator build are grouped (``xdist_group``: ``--dist loadgroup`` runs a group
  on one worker, so two workers never wait for the same build).
- The fast model's numba loops: under xdist a process of their own compiles them into the
  disk cache while the workers start on other tests; every numba compile holds a lock per
  function, so no two processes compile the same function at the same time.
"""

import contextlib
import functools
import os
import re
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
# thousand cycles; the flat builds some tests ask for are compiled at -O0 too
os.environ.setdefault("DOJO_FAST_BUILD", "1")
os.environ.setdefault("DOJO_CXX_O0", "1")
# Yosys's Verilog of each distinct RTLIL text, shared by the workers and the ``dojo``
# commands the tests start (gen.emit; make clean removes it)
os.environ.setdefault("DOJO_YOSYS_CACHE", str(ROOT / "build" / "yosys-cache"))


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="the quick tier (make check): skip slow tests not marked quick")


#: held by the warm-up process while it compiles the fast model's serial loop
NUMBA_LOCK = ROOT / "build" / "numba-compile.lock"
#: test modules that run the fast model (its serial loop) in processes of their own (a Dask
#: cluster): their tests wait for :data:`NUMBA_LOCK`, as those processes take no locks
#: (:func:`_lock_numba_compiles`); so does a test
#: marked ``model_in_subprocess`` (tests/dojo/test_cli.py marks the ``dojo`` commands that
#: run the model: its Verilog test used to wait 40 s at set-up for a compile it never uses)
MODEL_IN_SUBPROCESSES = ("tests/sim/explore/",)


def pytest_configure(config):
    config.addinivalue_line("markers", "quick: a slow test that the quick tier (make check) "
                                       "runs too: one per block of the fast engine")
    config.addinivalue_line("markers", "quick_first: of a parametrized test, only the first "
                                       "parameter set is in the quick tier, the others are slow")
    config.addinivalue_line("markers", "model_in_subprocess: runs the fast model in a process "
                                       "of its own (waits for the numba warm-up)")
    if hasattr(config, "workerinput"):
        _lock_numba_compiles()
    elif getattr(config.option, "numprocesses", None):
        config._fast_model_warmup = _start_fast_model_warmup()


def pytest_unconfigure(config):
    warmup = getattr(config, "_fast_model_warmup", None)
    if warmup is not None:
        warmup.wait()


def _start_fast_model_warmup():
    """Compile the fast model's loops into numba's disk cache in a process of its own,
    started by the xdist controller while the workers start on proof and simulator tests:
    no core waits for the compile. It takes each function's lock as the workers do
    (:func:`_lock_numba_compiles`: a worker's first model run waits for the loop and then
    loads it from the cache), and holds the controller's locked :data:`NUMBA_LOCK`, for the
    tests whose model runs take no locks, until the serial loop, which they use, is
    compiled. The threaded loop follows."""
    import fcntl
    import subprocess
    NUMBA_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(NUMBA_LOCK, "a") as lock, open(NUMBA_LOCK.with_suffix(".log"), "w") as log:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.Popen(
            [sys.executable, "-c", "from tests.conftest import warm_fast_model; "
                                   f"warm_fast_model(held={lock.fileno()})"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(lock.fileno(),))


def warm_fast_model(held):
    """One short model sweep with each loop, serial then threaded (numba caches both);
    ``held`` is the descriptor of the locked :data:`NUMBA_LOCK`, released after the serial
    loop."""
    import fcntl
    from gen.config import load_config
    from sim.sweep import run_sweep
    _lock_numba_compiles()
    cfg = load_config(str(CONFIGS / "default.yaml"), [])
    timing = {"warmup": 20, "measure": 20, "drain_limit": 200, "final_drain": 50}
    run_sweep(cfg, engine="model", rates=[0.1], threads=1, progress=False, timing=timing)
    fcntl.flock(held, fcntl.LOCK_UN)
    run_sweep(cfg, engine="model", rates=[0.1], threads=2, progress=False, timing=timing)


@contextlib.contextmanager
def _numba_lock(path=NUMBA_LOCK):
    """Hold the lock ``path`` (waits while the warm-up or another worker compiles)."""
    import fcntl
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: one lock file per jitted function (:func:`numba_lock_path`)
NUMBA_LOCKS = ROOT / "build" / "numba-locks"


def numba_lock_path(dispatcher, folder=NUMBA_LOCKS):
    """The lock file of a jitted function: its module and qualified name."""
    func = dispatcher.py_func
    name = f"{getattr(func, '__module__', None)}.{func.__qualname__}"
    return Path(folder) / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock")


def _lock_numba_compiles(folder=NUMBA_LOCKS):
    """In an xdist worker and the warm-up process: every numba compile of a function, or
    load of it from the disk cache, holds that function's lock (:func:`numba_lock_path`),
    so two processes never compile one function at once (numba numbers a function's cache
    files from its index as it read it: two processes adding different signatures at once
    both write file 1, and one of them later loads the other's code), while different
    functions compile side by side: the node models' kernels beside the warm-up's threaded
    loop (one lock for every compile held a worker idle up to two minutes at the start of
    a cold run). A callee's compile inside its caller's takes the callee's lock too; the
    call graph has no cycles, so no two processes wait for each other; the threads of one
    process (Dask's threaded workers compile in-process) take turns."""
    import threading
    from numba.core.dispatcher import Dispatcher
    compile_ = Dispatcher.compile
    in_process = threading.RLock()
    held = set()
    Path(folder).mkdir(parents=True, exist_ok=True)

    @functools.wraps(compile_)
    def locked(self, sig):
        path = numba_lock_path(self, folder)
        with in_process:
            if path in held:                # a compile of this function inside its own
                return compile_(self, sig)
            with _numba_lock(path):
                held.add(path)
                try:
                    return compile_(self, sig)
                finally:
                    held.discard(path)
    Dispatcher.compile = locked


def pytest_runtest_setup(item):
    """A test of :data:`MODEL_IN_SUBPROCESSES`, or marked ``model_in_subprocess``, starts
    once no numba compile is running."""
    if hasattr(item.config, "workerinput") and waits_for_warmup(item):
        with _numba_lock():
            pass


def is_slow(item):
    """Marked slow, or parametrized by the simulator."""
    callspec = getattr(item, "callspec", None)
    return item.get_closest_marker("slow") is not None or \
        (callspec is not None and "sim" in callspec.params)


def waits_for_warmup(item):
    """Runs the fast model in processes of its own: waits for the numba warm-up at set-up
    (:func:`pytest_runtest_setup`)."""
    return item.nodeid.startswith(MODEL_IN_SUBPROCESSES) or \
        item.get_closest_marker("model_in_subprocess") is not None


#: xdist groups that start right after the proofs: the node models' group (the node kernel's
#: cold numba compile, the compute tile's lockstep runs, every workload and the training
#: step on the model: about 400 s on one worker by docs/testing.md's figures, the run's
#: longest unit) started as the 138th of about 230 slow tests, so on a fresh clone it can
#: end after the other worker has run out of tests
FIRST_GROUPS = ("netmodel-node-core",)


def _group(item):
    """The ``xdist_group`` of ``item`` (None if it has none)."""
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return mark.args[0] if mark.args else mark.kwargs.get("name")


def _order(item):
    """Proofs first (long, one core each), then the longest groups (:data:`FIRST_GROUPS`),
    then the other slow tests, then the slow tests that wait for the numba warm-up (started
    among the first, ``test_sweep_writes_json_and_plots`` held its worker idle 33-55 s at
    set-up; last among the slow ones, the warm-up is long done), then the rest."""
    if _group(item) in FIRST_GROUPS:
        return 1                        # its unit tests run with it: one xdist scope
    if not is_slow(item):
        return 4
    if item.get_closest_marker("proof"):
        return 0
    return 3 if waits_for_warmup(item) else 2


def mark_tiers(items):
    """Mark ``slow`` what is slow without the marker: a test parametrized by ``sim``, and
    every parameter set but the first (in collection order) of a test marked
    ``quick_first``."""
    firsts = set()
    for item in items:
        later = False
        if item.get_closest_marker("quick_first") and getattr(item, "callspec", None):
            function = item.nodeid.split("[")[0]
            later = function in firsts
            firsts.add(function)
        if (later or is_slow(item)) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


def pytest_collection_modifyitems(config, items):
    mark_tiers(items)
    if config.getoption("quick"):
        keep, drop = [], []
        for item in items:
            (drop if is_slow(item) and not item.get_closest_marker("quick") else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    items.sort(key=_order)              # stable: collection order within a class


@pytest.fixture(scope="module")
def shared_rtl_runs(tmp_path_factory):
    """The tests of a module that uses it share their simulator runs with every other
    such test: a run (build, testbench, scenario, tag) another test of this pytest run
    made is read, not simulated again (tests/shared_runs.py). The memo is in the run's
    base directory, which the xdist workers of one run share."""
    import sim.runner
    from tests.shared_runs import RunMemo
    base = tmp_path_factory.getbasetemp()
    if base.name.startswith("popen-gw"):        # an xdist worker's: the run's is its parent
        base = base.parent
    memo = RunMemo(base / "shared-rtl-runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim.runner, "run_build", memo.wrap(sim.runner.run_build))
        yield memo


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
