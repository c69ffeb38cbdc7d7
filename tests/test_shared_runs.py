"""The suite's shared RTL runs (tests/shared_runs.py): a run asked for twice is simulated
once, and anything that makes two runs differ makes them two runs."""

import dataclasses

import pytest

from sim.runner import Build, SimFailure
from tests.shared_runs import RunMemo

BUILD = Build(sim="verilator", top="dojo_tile_compute", manifest={"top": "dojo_tile_compute"},
              build_dir="build/cocotb/verilator/dojo_tile_compute-0123-r4-hier-O0",
              src="dojo_tile_compute.v", hier=("dojo_compute_node",), public=(), waves=False,
              fast=True)
ASK = {"test_module": "verif.tb_tile", "scenario": {"programs": {"loads": [[0, 0, [1]]]}},
       "testcase": "programs", "tag": "step-mlp-0"}


def _simulator():
    """A stand-in for sim.runner.run_build that counts its runs."""
    runs = []

    def run_build(build, **ask):
        runs.append((build, ask))
        return {"cycles": 100 + len(runs), "reads": [[1, 2]], "problems": []}
    return run_build, runs


def test_the_same_run_twice_is_simulated_once(tmp_path):
    run_build, runs = _simulator()
    shared = RunMemo(tmp_path).wrap(run_build)
    first = shared(BUILD, **ASK)
    assert shared(BUILD, **ASK) == first == {"cycles": 101, "reads": [[1, 2]], "problems": []}
    assert len(runs) == 1
    # another process of the run (another xdist worker) reads the same folder
    assert RunMemo(tmp_path).wrap(run_build)(BUILD, **ASK) == first and len(runs) == 1


@pytest.mark.parametrize("change", [
    {"scenario": {"programs": {"loads": [[0, 0, [2]]]}}}, {"testcase": "step_timeline"},
    {"test_module": "verif.tb_step"}, {"tag": "step-mlp-1"},
    {"build": dataclasses.replace(BUILD, build_dir=BUILD.build_dir.replace("0123", "4567"))},
    {"build": dataclasses.replace(BUILD, sim="icarus")},
    {"build": dataclasses.replace(BUILD, public=("dut.node.busy",))},
], ids=["scenario", "testcase", "test_module", "tag", "verilog", "simulator", "public"])
def test_a_run_that_differs_in_anything_is_simulated_again(tmp_path, change):
    run_build, runs = _simulator()
    shared = RunMemo(tmp_path).wrap(run_build)
    first = shared(BUILD, **ASK)
    ask = {**ASK, **change}
    build = ask.pop("build", BUILD)
    assert shared(build, **ask) != first and len(runs) == 2


def test_a_failed_run_is_not_kept(tmp_path):
    calls = []

    def failing_once(build, **ask):
        calls.append(ask)
        if len(calls) == 1:
            raise SimFailure("1 of 1 cocotb test(s) failed")
        return {"cycles": 7}
    shared = RunMemo(tmp_path).wrap(failing_once)
    with pytest.raises(SimFailure):
        shared(BUILD, **ASK)
    assert shared(BUILD, **ASK) == {"cycles": 7} and len(calls) == 2
