"""The training step's cycle records on the fast engine: the RTL's watched run, on the model.

:class:`verif.tb_step.StatusMonitor` samples, at every falling edge of the RTL's step, each
node's command-processor status (both queues: state, code, pc), its NI status bits (engine
busy, DMA busy) and its router's four mesh-output valid bits, and records every change.
The fast engine (:mod:`sim.netmodel.host`) holds each of those signals in its state:

- ``cmd_status<q>``: the queue's ``state``, ``code`` and ``pc`` registers
  (``queues[node, q, Q_STATE | Q_CODE | Q_PC]`` of
  :mod:`sim.netmodel.node.command_processor`), packed with the RTL's ``cmd_status`` layout;
- engine busy: the engine's ``busy`` register (``E_BUSY``); DMA busy: the push DMA not
  idle (its FSM in HEAD or DATA, where its ``busy`` output is 1);
- a mesh output's valid: the router's output register of the cycle, the ring slot its
  output delivers to (``out_ring``) tagged with the cycle.

:class:`StatusRecorder` reads them for every node at once (numpy) where
:class:`sim.netmodel.host.Tile` calls its ``watch``: after the hosts' part of a cycle,
before the kernel's step of it, where the state is the registers the RTL's falling edge
shows; it keeps the nodes whose values changed, as the monitor does. :func:`run_watched` is
:mod:`verif.tb_step`'s ``step_timeline`` test on the model's tile (load, the recorder on
from the first start write to the last DONE, read back, counters), the same
:mod:`verif.host_programs` steps; the tile is stepped one cycle per call only while it
records. Held to the RTL's records of the Icarus run, cycle for cycle and node for node, by
``tests/sim/step/test_step_on_the_model.py`` (:func:`first_record_difference`), with a
recorder whose DMA busy is one cycle late (:data:`RECORD_MUTANTS`) that the comparison
catches.
"""

import numpy as np

from rtl.net.directions import MESH_PORTS, PORTS

__all__ = ["StatusRecorder", "run_watched", "run_preloaded", "settled_counters",
           "first_record_difference", "RECORD_MUTANTS", "SIGNALS", "COUNTER_LAG"]

#: deliberately wrong recorders (tests only): ``dma_busy_late`` shows each node's DMA busy
#: one cycle after the model has it
RECORD_MUTANTS = ("none", "dma_busy_late")

#: the recorded signals in a record's order after its cycle (the NI bits and the valid bits
#: split), as :func:`first_record_difference` names them
SIGNALS = ("q0 status", "q1 status", "engine busy", "DMA busy",
           *(f"{p} valid" for p in MESH_PORTS))


class StatusRecorder:
    """Every change of each node's ``(q0 status, q1 status, NI status bits, mesh valid
    bits)`` on a fast-engine tile, as :class:`verif.tb_step.StatusMonitor` records them on
    the RTL, and the valid flits per mesh output.

    Parameters
    ----------
    tile : sim.netmodel.host.Tile
    nodes : list of (int, int)
        The nodes recorded, in the records' order (the RTL testbench's ``tb.nodes``).
    mutant : str
        One of :data:`RECORD_MUTANTS` (tests only).
    """

    def __init__(self, tile, nodes, *, mutant="none"):
        from sim.netmodel import kernel
        from sim.netmodel.node import command_processor as cp
        from sim.netmodel.node import engine as en
        from sim.netmodel.node import push_dma as dm
        if mutant not in RECORD_MUTANTS:
            raise ValueError(f"mutant must be one of {', '.join(RECORD_MUTANTS)}, not {mutant!r}")
        self.mutant = mutant
        self.tile, self.nodes = tile, [tuple(n) for n in nodes]
        net, cores = tile.net, tile.nodes_kernel.cores
        # sampled in the network's node order (views of the state, no copies); a record's
        # row is mapped to the order of ``nodes`` when the records are read
        self.index = np.array([net.node(*n) for n in self.nodes], np.int64)
        self.queues = cores.ni.cmd.queues
        (self.state_at, _, _, self.code_at, _, _, self.pc_at, pc_bits, _) = _status_fields(tile)
        self.pc_mask = (1 << pc_bits) - 1
        self.engine, self.dma = cores.engine.state, cores.ni.dma.state
        self.q_state, self.q_code, self.q_pc = cp.Q_STATE, cp.Q_CODE, cp.Q_PC
        self.e_busy, self.m_fsm, self.dma_idle = en.E_BUSY, dm.M_FSM, dm.S_IDLE
        geo = dict(zip(kernel.Geometry._fields, net.geometry))
        # every mesh output that goes somewhere (a tile-edge output without a host is tied
        # off): its node, its bit in the node's valid bits, the first slot of its ring
        rings = geo["out_ring"].reshape(-1, 5)[:, [PORTS.index(p) for p in MESH_PORTS]]
        self.link_node, self.link_bit = np.nonzero(rings >= 0)
        self.link_base = rings[self.link_node, self.link_bit] * net.slots
        self.ring = net.state[kernel.ST_RING].reshape(-1, 3)
        self.slots = net.slots
        self.n = net.n_nodes
        self.last = None
        self.late_dma = None
        self.chunks = []                               # (cycle, node rows, values)
        self.on = np.zeros(len(self.link_node), bool)  # each output's valid, last sample
        self.valid = np.zeros(self.n, np.int64)        # each node's valid bits
        self.flit_counts = np.zeros(len(self.link_node), np.int64)
        self.t0 = None

    def values(self, c):
        """Every node's ``(q0, q1, ni, valid)`` in cycle ``c`` (four arrays in the network's
        node order; a node's valid bits: N E S W from bit 0), counting the valid flits."""
        q = self.queues
        status = [(q[:, k, self.q_state] << self.state_at) | (q[:, k, self.q_code] << self.code_at)
                  | ((q[:, k, self.q_pc] & self.pc_mask) << self.pc_at) for k in (0, 1)]
        dma = (self.dma[:, self.m_fsm] != self.dma_idle).astype(np.int64)
        if self.mutant == "dma_busy_late":
            dma, self.late_dma = (dma if self.late_dma is None else self.late_dma), dma
        ni = self.engine[:, self.e_busy] | dma << 1
        on = self.ring[self.link_base + (c & (self.slots - 1)), 0] == c
        self.flit_counts += on
        flipped = np.flatnonzero(on != self.on)       # an output's valid changed: its bit
        np.bitwise_xor.at(self.valid, self.link_node[flipped],
                          np.left_shift(1, self.link_bit[flipped]))
        self.on = on
        return status[0], status[1], ni, self.valid.copy()

    def __call__(self, c):
        """The tile's ``watch``: the sample of cycle ``c`` (the cycles after :attr:`t0`)."""
        if self.t0 is None or c <= self.t0:
            return
        now = self.values(c)
        if self.last is None:
            changed = np.arange(self.n)
        else:
            diff = now[0] != self.last[0]
            for a, b in zip(now[1:], self.last[1:]):
                diff |= a != b
            changed = np.flatnonzero(diff)
        if len(changed):
            self.chunks.append((c, changed, np.column_stack([v[changed] for v in now])))
        self.last = now

    def start(self, t0):
        """Record the cycles after ``t0`` (the first start write's), every cycle."""
        self.t0 = t0
        self.tile.watch = self

    def stop(self, t_end):
        """Take the sample of ``t_end`` (the last DONE's: the RTL's monitor samples it
        before the coroutine that sees the DONE ends) and stop recording."""
        self(t_end)
        self.tile.watch = None

    def records(self):
        """Per node of ``nodes`` its records ``[cycle, q0, q1, ni, valid]``, the monitor's
        format."""
        if not self.chunks:
            return [[] for _ in self.nodes]
        cycles = np.concatenate([np.full(len(rows), c, np.int64) for c, rows, _ in self.chunks])
        rows = np.concatenate([r for _, r, _ in self.chunks])
        vals = np.concatenate([v for _, _, v in self.chunks])
        order = np.argsort(rows, kind="stable")
        table = np.column_stack([cycles, vals])[order].tolist()
        bounds = np.searchsorted(rows[order], np.arange(self.n + 1))
        return [table[bounds[n]:bounds[n + 1]] for n in self.index]

    @property
    def link_flits(self):
        """Per node of ``nodes`` the valid flits on each mesh output (N E S W)."""
        flits = np.zeros((self.n, len(MESH_PORTS)), np.int64)
        flits[self.link_node, self.link_bit] = self.flit_counts
        return flits[self.index].tolist()


def _status_fields(tile):
    """``(offset, width, signed)`` of ``state``, ``code`` and ``pc`` in the RTL's
    ``cmd_status`` layout (the tile's :class:`rtl.node.layouts.NodeLayouts`)."""
    from sim.netmodel.node.fields import layout_fields
    return layout_fields(tile.model.lay.cmd_status, ("state", "code", "pc"))


async def _step_timeline(tile, pr, recorder, preloaded=False):
    """:func:`verif.tb_step.step_timeline` on the model's tile: the ``programs`` flow with
    ``recorder`` on from the first start write to the last DONE. ``preloaded``: the loads
    are already in the SRAM (``pr``'s ``loads`` and ``reads`` empty); the counters are
    read directly after the last DONE, as :func:`sim.netmodel.host.run_scenario` reads a
    preloaded run's."""
    from sim.netmodel.host import direct_counters
    from verif.host_programs import halts_of, load_programs, read_back, read_counters
    from verif.host_programs import run_programs as start_and_wait
    t_load = tile.cycle
    starts = await load_programs(tile, pr)
    t0 = tile.cycle
    recorder.start(t0)
    halts = await start_and_wait(tile, starts)
    t_end = tile.cycle
    recorder.stop(t_end)
    if preloaded:
        return {"cycles": t_end - t0, "load_cycles": t0 - t_load, "read_cycles": 0,
                "reads": [], "t0": t0, "t_end": t_end, "halts": halts_of(starts, halts)}
    reads = await read_back(tile, pr)
    out = {"cycles": t_end - t0, "load_cycles": t0 - t_load,
           "read_cycles": tile.cycle - t_end, "reads": reads, **await read_counters(tile),
           "t0": t0, "t_end": t_end, "halts": halts_of(starts, halts)}
    if tile.net.link_layer:
        # as sim.netmodel.host.run_scenario reads them after the programs flow
        out["dielink_counters"] = tile.net.dielink_stats()
    return out


def run_watched(design, scenario, *, cfg, derived, timing_only=False, mutant="none",
                cycles=None, preload_data=False):
    """The ``programs`` scenario (:func:`sim.workloads.runners.program_scenario`) on the
    fast engine's tile of ``design``, recorded as :mod:`verif.tb_step`'s watched run: the
    ``programs`` result (cycle for cycle the unwatched run's) with ``t0``, ``t_end``,
    ``nodes``, ``records`` and ``link_flits`` (:class:`StatusRecorder`'s). ``mutant``: the
    recorder's (:data:`RECORD_MUTANTS`, tests only). ``preload_data`` (timing only): the
    scenario's loads written into the SRAM before cycle 0 (:func:`sim.netmodel.host.preload`),
    nothing read back, the counters read directly (``counters_read: "direct"``), as
    :func:`sim.netmodel.host.run_scenario` runs a preloaded run; the records are then the
    host-loaded run's moved by the load's cycles (``t0``)."""
    from sim.netmodel import host
    if preload_data and not timing_only:
        raise ValueError("preload_data: only timing-only runs of node programs are preloaded")
    tile = host.tile_model(design, cfg, derived, timing_only=timing_only)
    if preload_data:
        host.preload(tile, scenario["loads"])
        scenario = {**scenario, "loads": [], "reads": []}
    recorder = StatusRecorder(tile, tile.nodes, mutant=mutant)
    result = tile.run(_step_timeline(tile, scenario, recorder, preloaded=preload_data),
                      cycles=cycles or host.RUN_CYCLES)
    if preload_data:
        result.update(settled_counters(tile))
    return {**result, "nodes": [list(n) for n in tile.nodes], "records": recorder.records(),
            "link_flits": recorder.link_flits, "problems": tile.problems()}


#: the cycles a node's link counters lag its router (:mod:`sim.netmodel.nodekernel`: the
#: RTL's counter registers add the router's counts two cycles late)
COUNTER_LAG = 2


def settled_counters(tile):
    """A preloaded run's counters, read directly (:func:`sim.netmodel.host.direct_counters`)
    once the flits of its last DONE have reached them: the tile stepped
    :data:`COUNTER_LAG` more cycles after the last DONE, the hosts idle (nothing is in
    flight). Read at the DONE itself, a link counter may miss the DONE's last flit, and a
    step's flits (its counters minus those of the idle run, :func:`sim.step.run.run_step`)
    then differ from the host-loaded run's, whose hosts read the counters long after
    (measured: one flit on two south links of the MLP on the default tile). -> the
    result's ``counters``, ``counters_cycle``, ``counters_read`` and ``dielink_counters``."""
    from sim.netmodel import host
    tile.nodes_kernel.run(COUNTER_LAG)
    read = host.direct_counters(tile)
    return {"counters": read["counters"], "counters_cycle": tile.net.t,
            "counters_read": "direct", "dielink_counters": read["dielink"]}


def run_preloaded(design, scenario, *, cfg, derived, cycles=None):
    """The ``programs`` scenario on the fast engine's timing-only tile of ``design``, not
    watched, preloaded: its loads written into the SRAM before cycle 0
    (:func:`sim.netmodel.host.preload`), the start writes and the programs to their DONEs,
    nothing read back, the counters :func:`settled_counters`; -> the ``programs`` result
    (``load_cycles`` and ``read_cycles`` 0: not run)."""
    from sim.netmodel import host
    from verif.host_programs import programs
    tile = host.tile_model(design, cfg, derived, timing_only=True)
    host.preload(tile, scenario["loads"])
    flow = programs(tile, {**scenario, "loads": [], "reads": [], "counters": False})
    result = tile.run(flow, cycles=cycles or host.RUN_CYCLES)
    return {**result, **settled_counters(tile), "problems": tile.problems()}


def first_record_difference(reference, model):
    """``None`` when two watched runs' records (``t0``, ``t_end``, ``nodes``, ``records``:
    :mod:`verif.tb_step`'s on the RTL, :func:`run_watched`'s on the model) are equal, else
    one line naming the first cycle, node and signal where they differ, with both values
    (``reference`` is the RTL)."""
    for key in ("t0", "t_end", "nodes"):
        if reference[key] != model[key]:
            return f"{key}: RTL {reference[key]}, model {model[key]}"
    first = None
    for node, a, b in zip(reference["nodes"], reference["records"], model["records"]):
        d = _node_difference(a, b)
        if d is not None and (first is None or d[0] < first[0]):
            first = (d[0], node, *d[1:])
    if first is None:
        return None
    cycle, node, signal, ra, mb = first
    return (f"cycle {cycle} (step cycle {cycle - reference['t0']}), node "
            f"({node[0]},{node[1]}), {signal}: RTL {ra}, model {mb}")


def _split(rec):
    """A record's values by :data:`SIGNALS`."""
    q0, q1, ni, valid = rec[1:5]
    return (q0, q1, ni & 1, ni >> 1 & 1, *(valid >> p & 1 for p in range(len(MESH_PORTS))))


def _node_difference(a, b):
    """The first ``(cycle, signal, RTL value, model value)`` at which two change lists of
    one node differ, or None."""
    i = j = 0
    va = vb = None
    while i < len(a) or j < len(b):
        c = min(a[i][0] if i < len(a) else 1 << 62, b[j][0] if j < len(b) else 1 << 62)
        while i < len(a) and a[i][0] == c:
            va, i = _split(a[i]), i + 1
        while j < len(b) and b[j][0] == c:
            vb, j = _split(b[j]), j + 1
        if va != vb:
            for k, name in enumerate(SIGNALS):
                x = None if va is None else va[k]
                y = None if vb is None else vb[k]
                if x != y:
                    return (c, name, _show(x), _show(y))
    return None


def _show(v):
    return "not recorded" if v is None else (f"{v:#x}" if v > 1 else str(v))
