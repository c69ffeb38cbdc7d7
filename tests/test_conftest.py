"""The suite's own machinery (tests/conftest.py): the numba compile lock of xdist workers."""

import subprocess
import sys
import threading

from numba import njit
from numba.core.dispatcher import Dispatcher

from tests import conftest


def _add_one(x):
    return x + 1


def _add_two(x):
    return x + 2


def test_a_numba_compile_waits_while_another_process_holds_its_functions_lock(tmp_path,
                                                                               monkeypatch):
    """A worker's compile of a function waits while another process (the warm-up, another
    worker) holds that function's lock, then runs; a different function compiles at once
    (one lock for every compile held a worker idle for minutes behind the warm-up)."""
    # numba's own compile (an xdist worker's is wrapped already, with the suite's locks)
    unlocked = getattr(Dispatcher.compile, "__wrapped__", Dispatcher.compile)
    monkeypatch.setattr(Dispatcher, "compile", unlocked)
    conftest._lock_numba_compiles(tmp_path)
    waits, free = njit(_add_one), njit(_add_two)
    lock = conftest.numba_lock_path(waits, tmp_path)
    assert lock != conftest.numba_lock_path(free, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); "
                               "sys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    other = []
    compiling = threading.Thread(target=lambda: other.append(free(1)))
    compiling.start()
    compiling.join(timeout=60)
    assert other == [3]                                 # another function: not waiting
    result = []
    compiling = threading.Thread(target=lambda: result.append(waits(1)))
    compiling.start()
    compiling.join(timeout=2)
    assert compiling.is_alive() and not result         # waiting for the lock
    holder.stdin.close()
    holder.wait(timeout=30)
    compiling.join(timeout=60)
    assert result == [2]


class _Item:
    """What tests/conftest.py's ordering and tiers read of a collected test (``params``:
    its parametrization, as ``item.callspec.params``)."""

    def __init__(self, nodeid, *marks, group=None, params=None):
        import pytest
        self.nodeid = nodeid
        self.marks = {m: getattr(pytest.mark, m)() for m in marks}
        if group:
            self.marks["xdist_group"] = pytest.mark.xdist_group(group)
        if params is not None:
            self.callspec = type("CallSpec", (), {"params": params})()

    def get_closest_marker(self, name):
        return self.marks.get(name)

    def add_marker(self, mark):
        self.marks[mark.name] = mark


def test_the_longest_group_starts_right_after_the_proofs():
    """The node models' xdist group (one scope under ``--dist loadgroup``: it starts where
    its first test is) comes after the proofs and before every other slow test, its unit
    tests with it; the tests that wait for the numba warm-up stay last among the slow ones."""
    core = conftest.FIRST_GROUPS[0]
    items = [_Item("tests/gen/test_config.py::test_unit"),
             _Item("tests/sim/netmodel/test_node_core.py::test_unit", group=core),
             _Item("tests/dojo/test_presets.py::test_slow", "slow"),
             _Item("tests/sim/explore/test_explore.py::test_dask", "slow"),
             _Item("tests/sim/netmodel/test_node_kernel.py::test_slow", "slow", group=core),
             _Item("tests/verif/formal/test_router.py::test_proof", "slow", "proof")]
    ordered = [i.nodeid.split("/")[-1] for i in sorted(items, key=conftest._order)]
    assert ordered == ["test_router.py::test_proof", "test_node_core.py::test_unit",
                       "test_node_kernel.py::test_slow", "test_presets.py::test_slow",
                       "test_explore.py::test_dask", "test_config.py::test_unit"]


def test_quick_first_keeps_one_parameter_set_per_test_in_the_quick_tier():
    """``quick_first``: the first parameter set of each marked test stays in the quick tier,
    the others become slow; a test parametrized by ``sim`` is slow, the rest unmarked."""
    items = [_Item("t.py::test_ni[v2]", "quick_first", params={"config": "v2"}),
             _Item("t.py::test_ni[v4]", "quick_first", params={"config": "v4"}),
             _Item("t.py::test_ni_mutant[a]", params={"mutant": "a"}),
             _Item("t.py::test_ni_mutant[b]", params={"mutant": "b"}),
             _Item("t.py::test_sram[l16]", "quick_first", params={"config": "l16"}),
             _Item("t.py::test_sram[l24]", "quick_first", params={"config": "l24"}),
             _Item("t.py::test_sram[l32]", "quick_first", params={"config": "l32"}),
             _Item("t.py::test_tile[verilator]", params={"sim": "verilator"}),
             _Item("t.py::test_plain", "quick_first")]
    conftest.mark_tiers(items)
    slow = [i.nodeid.split("::")[1] for i in items if i.get_closest_marker("slow")]
    assert slow == ["test_ni[v4]", "test_sram[l24]", "test_sram[l32]", "test_tile[verilator]"]

