"""RTL runs shared between the tests of one pytest run (the fixture ``shared_rtl_runs`` of
tests/conftest.py).

Two tests that ask the simulator for the same run (the same build, testbench, test case,
scenario and run tag) get one run's result: the training step's MLP on the default tile
under Verilator, for one, is the timeline test's reference run (``test_step_rtl.py``) and
the record the fast engine is compared with (``test_step_on_the_model.py``). A cocotb run
of a given build and scenario is deterministic, so the second test checks what it checked
before against the same numbers; it only does not simulate them again.

The memo lives in the run's pytest base directory (shared by its xdist workers, removed by
pytest's rotation of old base directories), never across runs: a changed testbench or
runner between two runs simulates again. A file lock per run makes the second asker wait
for the first one's result instead of simulating the same run beside it. A failed run
(:class:`sim.runner.SimFailure`) stores nothing.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
from pathlib import Path

__all__ = ["RunMemo", "run_key"]


def run_key(build, *, test_module, scenario=None, testcase=None, tag=""):
    """The SHA-256 of everything a run of :func:`sim.runner.run_build` depends on: the
    whole :class:`sim.runner.Build` (its directory names the simulator, the top, the
    Verilog digest and the build flags; its manifest and public signals), the testbench
    module and test case, the scenario and the run tag."""
    what = [dataclasses.asdict(build), test_module, testcase, scenario, tag]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=repr).encode()).hexdigest()


class RunMemo:
    """Results of :func:`sim.runner.run_build` kept in ``folder`` by :func:`run_key`;
    :meth:`wrap` gives a ``run_build`` that runs each distinct run once."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.runs = 0                   #: runs this memo simulated (the rest were read)

    @contextlib.contextmanager
    def _locked(self, key):
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{key}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def wrap(self, run_build):
        def shared_run_build(build, *, test_module, scenario=None, testcase=None, tag=""):
            key = run_key(build, test_module=test_module, scenario=scenario,
                          testcase=testcase, tag=tag)
            path = self.folder / f"{key}.json"
            with self._locked(key):
                if path.exists():
                    return json.loads(path.read_text())
                result = run_build(build, test_module=test_module, scenario=scenario,
                                   testcase=testcase, tag=tag)
                self.runs += 1
                tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(result))
                os.replace(tmp, path)
                return json.loads(path.read_text())     # the same value a reader gets
        return shared_run_build
