"""cocotb: node programs on the tile with the command processors watched every cycle.

The ``programs`` test of :mod:`verif.tb_tile` (load, start every node, await every
DONE, read back, read the counters) plus a monitor that samples, at every falling edge
of the run, each node's

- ``cmd_status`` of both queues (the command processor's ``q<q>_status`` port: state,
  program counter, code), and
- the NI's ``status`` (bit 0 the engine busy, bit 1 the DMA busy), and
- the valid bits of its router's four mesh outputs,

and records every change with its cycle: the cycle records the training step's timeline
is built from (:mod:`sim.step.timeline`). Run it under Icarus, which shows every signal:
Verilator builds the node as a hierarchical block, whose internal signals VPI does not
reach even when declared public (:data:`STEP_SIGNALS`, tried: ``die_0_0.node_0_0`` has no
child ``ni``), so :func:`sim.step.run.run_step` refuses a Verilator-watched run.
"""

import cocotb

from rtl.net.directions import MESH_PORTS
from verif.tb_common import write_result
from verif.host_programs import halts_of, load_programs, read_back, run_programs
from verif.host_programs import read_counters as _read_counters
from verif.tb_tile import _started

#: ``(module, var)`` a Verilator build makes public (``sim.runner.run_cocotb(public_signals=)``)
STEP_SIGNALS = (("dojo_compute_node.ni.cmd", "q0_status"),
                ("dojo_compute_node.ni.cmd", "q1_status"),
                ("dojo_compute_node", "status"),
                *(("dojo_compute_node", f"out_{p}__valid") for p in MESH_PORTS))


def node_path(manifest, node):
    """The hierarchical instance name of a node below the tile's top."""
    x, y = node
    shape = manifest.get("die_shape")
    if shape:
        nx, ny = shape
        return f"die_{x // nx}_{y // ny}.node_{x % nx}_{y % ny}"
    return f"node_{x}_{y}"


def _handle(dut, path):
    h = dut
    for part in path.split("."):
        h = getattr(h, part)
    return h


class StatusMonitor:
    """Per node: the changes of (q0 status, q1 status, NI status, mesh valid bits), each
    ``[cycle, value]``, while ``on``. A :class:`verif.link.LinkBench` monitor (``step``
    at every falling edge)."""

    def __init__(self, dut, manifest, nodes):
        self.prefix = "status monitor"
        self.violations, self.partial = [], []
        self.on = False
        self.nodes = nodes
        self.handles = []
        for n in nodes:
            base = node_path(manifest, n)
            self.handles.append(
                [_handle(dut, f"{base}.ni.cmd.q0_status"), _handle(dut, f"{base}.ni.cmd.q1_status"),
                 _handle(dut, f"{base}.status")]
                + [_handle(dut, f"{base}.out_{p}__valid") for p in MESH_PORTS])
        self.last = [None] * len(nodes)
        self.records = [[] for _ in nodes]      # [cycle, q0, q1, ni, valid bits N E S W]
        self.flits = [[0] * len(MESH_PORTS) for _ in nodes]

    def step(self, cycle):
        if not self.on:
            return
        for i, hs in enumerate(self.handles):
            q0, q1, ni = int(hs[0].value), int(hs[1].value), int(hs[2].value) & 3
            valid = 0
            for k, h in enumerate(hs[3:]):
                if int(h.value):
                    valid |= 1 << k
                    self.flits[i][k] += 1
            now = (q0, q1, ni, valid)
            if now != self.last[i]:
                self.records[i].append([cycle, *now])
                self.last[i] = now


@cocotb.test()
async def step_timeline(dut):
    """As ``verif.tb_tile.programs`` (scenario ``programs``), with :class:`StatusMonitor`
    on from the first start write to the last DONE; adds ``t0`` (the cycle of the first
    start write), ``t_end``, ``records`` and ``link_flits`` (the valid flits it saw on
    each mesh output, N E S W, per node) to the result."""
    tb, pr = await _started(dut, "programs")
    if tb is None:
        return
    t_load = tb.bench.cycle
    starts = await load_programs(tb, pr)
    mon = StatusMonitor(dut, tb.man, tb.nodes)
    tb.bench.monitors.append(mon)
    t0 = tb.bench.cycle
    mon.on = True
    halts = await run_programs(tb, starts)
    mon.on = False
    t_end = tb.bench.cycle
    t_read = tb.bench.cycle
    reads = await read_back(tb, pr)
    write_result("programs", {"cycles": t_end - t0, "load_cycles": t0 - t_load,
                              "read_cycles": tb.bench.cycle - t_read, "reads": reads,
                              **await _read_counters(tb), "problems": tb.problems(),
                              "t0": t0, "t_end": t_end,
                              "nodes": [list(n) for n in tb.nodes],
                              "records": mon.records, "link_flits": mon.flits,
                              "halts": halts_of(starts, halts)})
