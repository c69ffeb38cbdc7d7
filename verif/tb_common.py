"""Shared testbench plumbing: scenario in, result out, clock and reset."""

import json
import os

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from rtl.net.packet import PacketFormat

__all__ = ["scenario", "write_result", "start_clock_and_reset", "packet_format"]

#: the clock period of every testbench (ns); the one definition
CLOCK_NS = 2


def scenario():
    with open(os.environ["DOJO_SCENARIO"]) as f:
        return json.load(f)


def write_result(test, result):
    """Merge ``result`` under the key ``test`` into the run's result file."""
    path = os.environ["DOJO_RESULT"]
    merged = {}
    if os.path.exists(path):
        with open(path) as f:
            merged = json.load(f)
    merged[test] = result
    with open(path, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)


def packet_format(manifest):
    f = manifest["format"]
    return PacketFormat(flit_bits=f["flit_bits"], coord_bits=f["coord_bits"],
                        timestamp_bits=f["timestamp_bits"])


async def start_clock_and_reset(dut, cycles=3, during_reset=None):
    """Start the clock, hold reset for ``cycles`` cycles and release it at a falling edge;
    ``during_reset`` (an awaitable) runs while reset is held, e.g. a table load."""
    # the C++ (GPI) clock: no Python callback per half cycle
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    if during_reset is not None:
        await during_reset
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
