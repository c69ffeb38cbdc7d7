"""The suite's own machinery (tests/conftest.py): the numba compile lock of xdist workers."""

import subprocess
import sys
import threading

from numba import njit
from numba.core.dispatcher import Dispatcher

from tests import conftest


def test_a_numba_compile_waits_while_another_process_holds_the_lock(tmp_path, monkeypatch):
    """A worker's compile waits for the warm-up process (or another worker) holding the
    lock, then runs: two processes never compile at the same time."""
    lock = tmp_path / "numba.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); "
                               "sys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    # numba's own compile (an xdist worker's is wrapped already, with the suite's lock)
    unlocked = getattr(Dispatcher._compile_for_args, "__wrapped__", Dispatcher._compile_for_args)
    monkeypatch.setattr(Dispatcher, "_compile_for_args", unlocked)
    conftest._lock_numba_compiles(lock)
    result = []
    compiling = threading.Thread(target=lambda: result.append(njit(lambda x: x + 1)(1)))
    compiling.start()
    compiling.join(timeout=2)
    assert compiling.is_alive() and not result         # waiting for the lock
    holder.stdin.close()
    holder.wait(timeout=30)
    compiling.join(timeout=60)
    assert result == [2]
