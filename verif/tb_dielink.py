"""cocotb: one die link (``rtl.fabric.dielink_layer.ReliableDieLinkChannel``) alone.

The sender honours the link's credits and sends the scenario's flits in order
(``[vc, data, last]``); the receiver takes every flit and returns its credit the next
cycle. The result: every delivered flit with the cycle it was seen on ``o``, and the
link's counters read from ``stats`` after a quiet tail.
"""

import cocotb
from cocotb.triggers import FallingEdge

from rtl.fabric.dielink_layer import STAT_NAMES
from verif.tb_common import scenario, start_clock_and_reset, write_result

__all__ = []


@cocotb.test()
async def dielink(dut):
    sc = scenario()
    flits, vcs, tx_depth = sc["flits"], sc["vcs"], sc["tx_depth"]
    dut.index.value = sc.get("index", 0)
    dut.window.value = 1                 # the window counters count the whole run
    dut.i__valid.value = 0
    dut.o__credit.value = 0
    await start_clock_and_reset(dut)
    credits = [tx_depth] * vcs
    queue = list(flits)
    got, cycle, tail = [], 0, 0
    while (queue or len(got) < len(flits)) and cycle < sc["limit"]:
        # drive this cycle's inputs at the falling edge, sample the outputs there too
        dut.i__valid.value = 0
        if queue and credits[queue[0][0]]:
            vc, data, last = queue.pop(0)
            credits[vc] -= 1
            dut.i__valid.value, dut.i__vc.value = 1, vc
            dut.i__data.value, dut.i__last.value = data, last
        pulse = 0
        if int(dut.o__valid.value):
            vc = int(dut.o__vc.value)
            got.append([cycle, vc, int(dut.o__data.value), int(dut.o__last.value)])
            pulse = 1 << vc
        dut.o__credit.value = pulse
        await FallingEdge(dut.clk)
        cycle += 1
        back = int(dut.i__credit.value)
        for v in range(vcs):
            credits[v] += back >> v & 1
    dut.i__valid.value = 0
    dut.o__credit.value = 0
    while tail < 300:
        await FallingEdge(dut.clk)
        tail += 1
    word = int(dut.stats.value)
    stats = {n: word >> (32 * k) & 0xFFFFFFFF for k, n in enumerate(STAT_NAMES)}
    write_result("dielink", {"got": got, "stats": stats, "overflow": int(dut.overflow.value)})
