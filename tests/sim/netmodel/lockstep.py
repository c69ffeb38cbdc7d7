"""Lockstep of a node block's RTL (Amaranth's simulator) and its fast model, cycle by cycle.

A test drives the RTL block and the model with the same stimulus and, every cycle, hands
:func:`compare` the outputs of both; the first difference fails with the cycle, the
signal and both values.
"""

import pytest
from amaranth.sim import Simulator

__all__ = ["simulate", "compare", "one_worker"]


def one_worker(block):
    """The mark that runs a block's tests in one xdist worker: they compile the block's
    model, and numba's disk cache is not safe against two processes compiling the same
    functions at once."""
    return pytest.mark.xdist_group(f"netmodel-node-{block}")


def simulate(dut, bench):
    """Run the async testbench ``bench(ctx)`` on ``dut`` with a clock."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def compare(cycle, outputs, labels=("RTL", "model")):
    """``outputs``: (signal name, RTL value, model value) triples of one cycle (``labels``:
    what the two values are called in the message, the reference first)."""
    for name, rtl, model in outputs:
        if int(rtl) != int(model):
            raise AssertionError(f"cycle {cycle}: {name}: {labels[0]} {int(rtl):#x}, "
                                 f"{labels[1]} {int(model):#x}")
