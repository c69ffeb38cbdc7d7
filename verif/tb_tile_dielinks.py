"""cocotb: node programs on a compute tile, and its die links' link-layer counters.

A compute tile has no path for its die links' counters to its hosts (a traffic tile reads
them through ``stat_node``, ``rtl.fabric.tile``), so this testbench reads them through the
simulator's hierarchy (``dielink<k>.stats``: :data:`rtl.fabric.dielink_layer.STAT_NAMES`,
32 bits each) once :func:`verif.host_programs.programs` has ended, as the fast engine's
direct read does (:func:`sim.netmodel.host.direct_counters`). On a compute tile the
layer counts every cycle from reset. Icarus shows the hierarchy; a Verilator build needs
:data:`DIELINK_SIGNALS` public.
"""

import cocotb

from rtl.fabric.dielink_layer import STAT_NAMES
from verif.host_programs import programs as programs_flow
from verif.tb_common import write_result
from verif.tb_tile import _started

__all__ = ["DIELINK_SIGNALS", "dielink_counters", "programs"]

#: ``(module, var)`` a Verilator build makes readable: every die link's counters
DIELINK_SIGNALS = (("dojo_dielink", "stats"),)


def dielink_counters(dut):
    """``{stat: [value per die link]}`` of every die link's layer, in the tile's link
    order (``dielink0``, ``dielink1``, ...), or None if the tile has none."""
    words = []
    while True:
        try:
            handle = getattr(dut, f"dielink{len(words)}")
        except AttributeError:
            break
        words.append(int(handle.stats.value))
    if not words:
        return None
    return {name: [(w >> (32 * i)) & 0xFFFFFFFF for w in words]
            for i, name in enumerate(STAT_NAMES)}


@cocotb.test()
async def programs(dut):
    """Node programs (``verif.tb_tile``'s ``programs``), then the die links' counters."""
    tb, pr = await _started(dut, "programs")
    if tb is None:
        return
    result = await programs_flow(tb, pr)
    write_result("programs", {**result, "dielink_counters": dielink_counters(dut),
                              "problems": tb.problems()})
