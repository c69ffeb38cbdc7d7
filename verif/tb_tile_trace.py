"""cocotb: node programs on a compute tile with every mesh link register recorded per cycle.

The ``programs`` test of :mod:`verif.tb_tile` (:func:`verif.host_programs.programs`:
load, start every node, await every DONE, read back, read the counters) plus a
:class:`TileTracer`, the first monitor of the bench, that samples at every falling edge
the links :func:`tile_links` names: every router's four mesh inputs (flit and the credit
the router returns), and, where the link leaves the die (a DieLink or a host), the
router's output flit and the credit it gets back. Local ports stay inside the node module, a Verilator hierarchical block whose
signals VPI does not reach; the die module's wires to its nodes are public in this build
(:data:`TILE_TRACE_SIGNALS`).

Cycles are the bench's (``LinkBench.cycle``, the fast engine's cycle numbers): a register
driven by the design is sampled in its own cycle; one the testbench drives (a host's flit
and its credits, the tied-off edges) at the falling edge after the one that drove it, and
recorded at the cycle it was driven for.

Result ``programs``: that of :func:`verif.host_programs.programs` and ``trace``
(``{link: [[cycle, vc, last, data], ...]}`` for flits, ``[[cycle, credit bits], ...]`` for
credits), ``end`` (the cycle the run ended: the trace covers cycles ``1 .. end - 1``),
``halt_log`` (per host ``[node, queue, DONE tag, cycle]``), ``problems``.
"""

import cocotb

from rtl.net.directions import MESH_PORTS, NEIGHBOUR
from verif.host_programs import programs
from verif.tb_common import write_result
from verif.tb_tile import _started

__all__ = ["TILE_TRACE_SIGNALS", "tile_links", "TileTracer"]

#: ``(module, var)`` the Verilator build makes readable: the die module's wires to its nodes
TILE_TRACE_SIGNALS = (("dojo_die_compute", "node_*"),)


def tile_links(manifest):
    """``[(name, (x, y), port, kind, driven by the testbench)]`` of every traced link.

    ``kind``: ``"in"`` the flit into router (x, y)'s input ``port``, ``"in.credit"`` the
    credit that router returns for it, ``"out"`` the router's output flit and
    ``"out.credit"`` the credit it gets back (these two only where the link leaves the die:
    inside a die they are a neighbour's ``in`` and ``in.credit``)."""
    if not manifest.get("die_shape"):
        raise ValueError("tile_links needs a tile of dies (the manifest's die_shape): the "
                         "traced wires are the die module's")
    nx, ny = manifest["die_shape"]
    mx, my = manifest["mesh_x"], manifest["mesh_y"]
    out = []
    for x, y in sorted((tuple(n) for n in manifest["nodes"]), key=lambda c: (c[1], c[0])):
        for p in MESH_PORTS:
            dx, dy, _ = NEIGHBOUR[p]
            px, py = x + dx, y + dy
            edge = not (0 <= px < mx and 0 <= py < my)
            leaves = edge or (px // nx, py // ny) != (x // nx, y // ny)
            out.append((f"r{x}_{y}.in_{p}", (x, y), p, "in", edge))
            out.append((f"r{x}_{y}.in_{p}.credit", (x, y), p, "in.credit", False))
            if leaves:
                out.append((f"r{x}_{y}.out_{p}", (x, y), p, "out", False))
                out.append((f"r{x}_{y}.out_{p}.credit", (x, y), p, "out.credit", edge))
    return out


def _wire(dut, manifest, node, port, kind, field):
    nx, ny = manifest["die_shape"]
    x, y = node
    die = getattr(dut, f"die_{x // nx}_{y // ny}")
    side = "in" if kind.startswith("in") else "out"
    return getattr(die, f"node_{x % nx}_{y % ny}__{side}_{port}__{field}")


class TileTracer:
    """A :class:`verif.link.LinkBench` monitor recording :func:`tile_links` every cycle."""

    def __init__(self, dut, manifest):
        self.prefix = "tile tracer"
        self.violations, self.partial = [], []
        self.flits, self.credits = [], []
        self.trace = {}
        for name, node, port, kind, tb_driven in tile_links(manifest):
            entries = self.trace[name] = []
            if kind.endswith("credit"):
                self.credits.append((_wire(dut, manifest, node, port, kind, "credit"),
                                     tb_driven, entries))
            else:
                self.flits.append(tuple(_wire(dut, manifest, node, port, kind, f)
                                        for f in ("valid", "vc", "last", "data"))
                                  + (tb_driven, entries))

    def step(self, cycle):
        for valid, vc, last, data, tb_driven, entries in self.flits:
            if int(valid.value):
                entries.append([cycle - tb_driven, int(vc.value), int(last.value),
                                int(data.value)])
        for credit, tb_driven, entries in self.credits:
            bits = int(credit.value)
            if bits:
                entries.append([cycle - tb_driven, bits])


@cocotb.test()
async def programs_traced(dut):
    """:mod:`verif.tb_tile`'s ``programs`` with the :class:`TileTracer` on (see the module
    docstring)."""
    tb, pr = await _started(dut, "programs")
    if tb is None:
        return
    tracer = TileTracer(dut, tb.man)
    tb.bench.monitors.insert(0, tracer)
    result = await programs(tb, pr)
    write_result("programs", {
        **result, "end": tb.bench.cycle, "trace": tracer.trace, "problems": tb.problems(),
        "halt_log": [[list(node), q, tag, c] for h in tb.hosts
                     for node, q, tag, c in h.halt_log]})
