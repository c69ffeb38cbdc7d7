"""Collectives as node programs: ring and 2D all-reduce, broadcast, and their models.

Every node runs its own descriptor program (:mod:`rtl.node.command_processor`); the
hosts only load data and programs, start the nodes with one write each and wait for
their DONEs (``verif.tb_tile.programs``). A step is a WAIT for the predecessor's
chunk (its last packet increments a semaphore) and a PUSH of the next chunk; runs of
steps whose addresses move by a constant stride are one LOOP, so a program is a
dozen descriptors, not one per step.

Algorithms (``lines`` per node, ``N`` nodes):

``ring``
    the ring of :func:`sim.allreduce.ring_order` (one hop per step where the mesh
    has a Hamiltonian cycle): reduce-scatter in N - 1 steps of ADD pushes, then
    all-gather in N - 1 steps of WRITE pushes; node ``i`` sends chunk
    ``(i - t) mod N`` at step ``t``, after WAITing for it (its predecessor sent it at
    step ``t - 1``). The hosts' ring of :mod:`sim.allreduce`, driven by the nodes.
    Any ``lines``: the chunks are those of :func:`sim.allreduce.chunk_span` (the first
    ``lines mod N`` one line longer). With fewer lines than nodes some chunks are empty,
    and every node leaves out the steps of an empty chunk, its PUSH and the WAIT before
    it (the chunk a step sends is the one its WAIT waits for, so the pushes a node still
    receives pair with the WAITs it still runs, in order). An empty chunk costs nothing,
    and a small vector does not pay 2 (N - 1) pushes of empty chunks per node; a chunk's
    chain still walks round the ring, so the time stays 2 (N - 1) step latencies.
``2d``
    rows, then columns (each row and column a ring, closed by a link of several hops
    back along it): reduce-scatter along the rows (chunks of ``lines / mx``), a whole
    ring all-reduce of its row chunk along each column (chunks of ``1 / my`` of it),
    all-gather along the rows: ``2 (mx - 1) + 2 (my - 1)`` steps instead of
    ``2 (mx my - 1)``. Row steps count on semaphore 0, column steps on 1. Uneven and
    empty chunks as for ``ring``, in both dimensions: the column of the nodes whose row
    chunk is empty has nothing to do, and the columns' rings cut their own row chunk.
``broadcast``
    the root's vector down a binary tree of the ring order, each node forwarding
    to its children as soon as the vector has landed.

Fault maps: with disabled nodes (``die.disabled_nodes``, ``tile.fault_maps``: compute fused
off, the router still forwards) the ring and the broadcast run over the live nodes only,
in ring order with the disabled ones left out (their neighbours' step crosses them in two
hops); a disabled node gets no program and no data and is never addressed. The 2D
all-reduce needs every node of its rows and columns: its registry entry
(:mod:`sim.workloads`) refuses a map.

Numerics: int32 lanes wrap; fp32 sums in the order the algorithm adds (the golden
model, :func:`golden`, replays the same steps with the same adder), so results are
compared bit for bit.

Models: ``T = steps (alpha + beta F) + control`` per phase, with ``alpha`` the
measured zero-load step latency of the same mesh (a one-flit token passed round the
ring by the nodes' programs, :func:`measure_alpha`: a WAIT, a SIGNAL and the hop, per
node; for a phase on other rings, its nodes' part plus the phase's mean link latency),
``F`` the flits of the phase's longest chunk (its chain of steps ends last), ``beta``
the cycles per flit of the slowest link a step crosses (the die-link ``ratio`` when it
crosses a die boundary), and ``control`` the fetches of the descriptors a node runs
besides its steps' WAITs and PUSHes.
Large chunks pipeline: a node whose link is slow is still sending when the next chunk
has arrived, so a step costs ``beta F`` plus a few cycles, not ``alpha + beta F``, and
the model overestimates (it is the textbook model, not a fit).
"""

import json
from pathlib import Path

import numpy as np

from rtl.node.layouts import STEP_BITS
from sim.energy import workload_energy
from sim.workloads.runners import PROGRAM_LINES, record_engine, run_programs

__all__ = ["ALGORITHMS", "live_ring", "compile_pushes", "executed", "control_cycles", "ring_chunk",
           "ring_program", "allreduce_programs",
           "broadcast_programs", "golden", "measure_alpha", "collective_plan", "run_collective",
           "model_cycles"]

ALGORITHMS = ("ring", "2d")
_STEP = (-(1 << (STEP_BITS - 1)), (1 << (STEP_BITS - 1)) - 1)


def live_ring(cfg, derived=None):
    """:func:`sim.allreduce.ring_order` of the tile without the nodes that are not live
    (:func:`gen.faults.fault_map`): the members of the ring and the broadcast."""
    from gen.build import derived_of
    from gen.faults import fault_map
    from sim.allreduce import ring_order
    d = derived_of(cfg, derived)
    live = set(fault_map(cfg, d).live_nodes)
    return [n for n in ring_order(d.tile.mesh_x, d.tile.mesh_y) if n in live]


def compile_pushes(mdl, pushes, *, wait_sem):
    """Push actions -> descriptors. ``pushes``: dicts with ``wait`` (a WAIT of one on
    ``wait_sem`` first), ``src``, ``dst``, ``count``, ``to``, ``add``, ``dtype``,
    ``sem``. A run of actions alike but for addresses that move by constant strides
    (within the step field) becomes one LOOP."""
    out, j = [], 0

    def same(a, b):
        return all(a[k] == b[k] for k in ("wait", "count", "to", "add", "dtype", "sem"))

    while j < len(pushes):
        p, k, ds, dd = pushes[j], j + 1, 0, 0
        if k < len(pushes) and same(p, pushes[k]):
            ds, dd = pushes[k]["src"] - p["src"], pushes[k]["dst"] - p["dst"]
            if _STEP[0] <= ds <= _STEP[1] and _STEP[0] <= dd <= _STEP[1]:
                while (k < len(pushes) and k - j < 255 and same(p, pushes[k])
                       and pushes[k]["src"] - pushes[k - 1]["src"] == ds
                       and pushes[k]["dst"] - pushes[k - 1]["dst"] == dd):
                    k += 1
            else:
                ds = dd = 0
        body = ([mdl.cmd_wait(wait_sem, 1)] if p["wait"] else []) + [mdl.cmd_push(
            src_addr=p["src"], count=p["count"], to=p["to"], dst_addr=p["dst"], add=p["add"],
            dtype=p["dtype"], sem=p["sem"], src_step=ds, dst_step=dd)]
        if k - j > 1:
            out.append(mdl.cmd_loop(k - j, len(body)))
        out += body
        j = k
    return out


def executed(mdl, descs):
    """``(descriptors the command processor runs, counting loop iterations, the pushes
    they make)``: the program's control flow replayed (pushes as dicts like
    :func:`compile_pushes` takes, ``wait`` meaning a WAIT ran since the last push)."""
    runs, pushes = _replay(mdl, descs)
    return sum(runs.values()), pushes


def _desc_reader(lay):
    """``get(bits, "args.push.desc.count")``: a field of ``lay.cmd_desc`` read from its
    bits (its offset, width and sign found once per field in the nested layouts)."""
    from amaranth.hdl import Shape
    from amaranth.lib import data
    spots = {}

    def spot(path):
        offset, shape = 0, lay.cmd_desc
        for name in path.split("."):
            field = data.Layout.cast(shape)[name]
            offset, shape = offset + field.offset, field.shape
        s = Shape.cast(shape)
        return offset, (1 << s.width) - 1, (1 << (s.width - 1)) if s.signed else 0

    def get(bits, path):
        if path not in spots:
            spots[path] = spot(path)
        offset, mask, sign = spots[path]
        v = (bits >> offset) & mask
        return v - ((v & sign) << 1) if sign else v

    return get


def _replay(mdl, descs):
    """:func:`executed`, the runs counted per opcode (``{CmdOp: runs}``)."""
    from collections import Counter
    from rtl.node.layouts import CmdOp, Dtype

    get = _desc_reader(mdl.lay)

    def fields(bits):
        # the fields read straight from the bits (an Amaranth view costs a Const a field)
        out = {"op": CmdOp(get(bits, "op"))}
        if out["op"] == CmdOp.PUSH:
            out.update(src=get(bits, "args.push.desc.src_addr"),
                       src_step=get(bits, "args.push.src_step"),
                       dst=get(bits, "args.push.desc.dst_addr"),
                       dst_step=get(bits, "args.push.dst_step"),
                       count=get(bits, "args.push.desc.count"),
                       to=(get(bits, "args.push.desc.dst_x"), get(bits, "args.push.desc.dst_y")),
                       add=bool(get(bits, "args.push.desc.add")),
                       dtype=Dtype(get(bits, "args.push.desc.dtype")),
                       sem=get(bits, "args.push.desc.sem"))
        elif out["op"] == CmdOp.LOOP:
            out.update(body=get(bits, "args.loop.body"), count=get(bits, "args.loop.count"))
        return out

    decoded = [fields(sum(line << (mdl.width * i) for i, line in enumerate(d)))
               for d in descs]
    runs, pushes, waited, pc = Counter(), [], False, 0

    def run(d, it):
        nonlocal waited
        runs[d["op"]] += 1
        if d["op"] == CmdOp.WAIT:
            waited = True
        elif d["op"] == CmdOp.PUSH:
            pushes.append({"wait": waited, "src": d["src"] + it * d["src_step"],
                           "dst": d["dst"] + it * d["dst_step"], "count": d["count"],
                           "to": d["to"], "add": d["add"], "dtype": d["dtype"],
                           "sem": d["sem"]})
            waited = False

    while pc < len(decoded):
        d = decoded[pc]
        if d["op"] == CmdOp.LOOP:
            runs[CmdOp.LOOP] += 1
            body = decoded[pc + 1:pc + 1 + d["body"]]
            for it in range(d["count"]):
                for b in body:
                    run(b, it)
            pc += 1 + len(body)
        else:
            run(d, 0)
            pc += 1
    return runs, pushes


def ring_chunk(n, i, t, lines):
    """``(first line, lines)`` of the chunk node ``i`` of an ``n``-node ring all-reducing
    ``lines`` lines sends at step ``t`` (:func:`sim.allreduce.chunk_span`'s chunk
    ``(i - t) mod n``); the WAIT before step ``t`` waits for the same chunk."""
    from sim.allreduce import chunk_span
    return chunk_span(lines, n, (i - t) % n)


def _step_waits(n, i, t, lines):
    """Whether node ``i`` WAITs before ring step ``t`` (step ``2 (n - 1)`` being the
    WAIT for the last chunk): every step but the first, unless its chunk is empty."""
    return t > 0 and ring_chunk(n, i, t, lines)[1] > 0


def _busy_steps(n, i, lines, first_t, steps):
    """The ring steps ``first_t .. first_t + steps - 1`` of node ``i`` whose chunk is not
    empty, in order: all of them unless there are fewer lines than nodes, then those of
    the ``lines`` chunks of one line, found in ``lines`` operations, not ``steps`` (a ring
    of 919 replicas and a dW of 64 lines: 128 of 1836 steps)."""
    if lines >= n:
        return range(first_t, first_t + steps)
    out = []
    for c in range(lines):
        t = first_t + (i - c - first_t) % n
        out += range(t, first_t + steps, n)
    return sorted(out)


def _ring_pushes(members, i, *, base, lines, steps, first_t=0, sem, dtype, first_wait):
    """The pushes of node ``members[i]`` for ring steps ``first_t .. first_t + steps - 1``
    of an all-reduce of ``lines`` lines at ``base`` (reduce-scatter ADDs for ``t < N - 1``,
    all-gather WRITEs after); the steps of empty chunks are left out, their WAITs too."""
    n = len(members)
    out = []
    for t in _busy_steps(n, i, lines, first_t, steps):
        start, count = ring_chunk(n, i, t, lines)
        out.append({"wait": first_wait or t > first_t, "src": base + start,
                    "dst": base + start, "count": count, "to": members[(i + 1) % n],
                    "add": t < n - 1, "dtype": dtype, "sem": sem})
    return out


def ring_program(mdl, members, i, *, base, lines, dtype):
    """Node ``members[i]``'s ring all-reduce of ``lines`` lines at ``base``."""
    n = len(members)
    pushes = _ring_pushes(members, i, base=base, lines=lines, steps=2 * (n - 1), sem=0,
                          dtype=dtype, first_wait=False)
    last = [mdl.cmd_wait(0, 1)] if _step_waits(n, i, 2 * (n - 1), lines) else []
    return compile_pushes(mdl, pushes, wait_sem=0) + last + [mdl.cmd_halt(0)]


def _2d_program(mdl, node, rows, cols, *, base, lines, dtype):
    """Node ``node``'s 2D all-reduce (see the module docstring)."""
    x, y = node
    row, col = rows[y], cols[x]
    mx, my = len(row), len(col)
    i, j = row.index(node), col.index(node)
    # the row chunk this node reduces last, then all-reduces along its column
    start, mine = ring_chunk(mx, i, mx - 1, lines)
    descs = compile_pushes(mdl, _ring_pushes(row, i, base=base, lines=lines, steps=mx - 1,
                                             sem=0, dtype=dtype, first_wait=False), wait_sem=0)
    if _step_waits(mx, i, mx - 1, lines):
        descs.append(mdl.cmd_wait(0, 1))          # the row chunk is reduced along the row
    if my > 1 and mine:
        descs += compile_pushes(mdl, _ring_pushes(col, j, base=base + start, lines=mine,
                                                  steps=2 * (my - 1), sem=1, dtype=dtype,
                                                  first_wait=False), wait_sem=1)
        if _step_waits(my, j, 2 * (my - 1), mine):
            descs.append(mdl.cmd_wait(1, 1))      # ... and along the column
    descs += compile_pushes(mdl, _ring_pushes(row, i, base=base, lines=lines, steps=mx - 1,
                                              first_t=mx - 1, sem=0, dtype=dtype,
                                              first_wait=False), wait_sem=0)
    last = [mdl.cmd_wait(0, 1)] if _step_waits(mx, i, 2 * (mx - 1), lines) else []
    return descs + last + [mdl.cmd_halt(0)]


def grid_rings(mx, my):
    """Rows (west to east) and columns (north to south) as rings of coordinates."""
    rows = [[(x, y) for x in range(mx)] for y in range(my)]
    cols = [[(x, y) for y in range(my)] for x in range(mx)]
    return rows, cols


def allreduce_programs(mdl, algo, mx, my, *, base, lines, dtype, ring=None):
    """``{node: descriptors}`` of an all-reduce of ``lines`` lines at ``base`` (``ring``:
    the members of the ring all-reduce, default every node in ring order)."""
    from sim.allreduce import ring_order
    if algo == "ring":
        ring = ring_order(mx, my) if ring is None else ring
        return {node: ring_program(mdl, ring, i, base=base, lines=lines, dtype=dtype)
                for i, node in enumerate(ring)}
    rows, cols = grid_rings(mx, my)
    return {(x, y): _2d_program(mdl, (x, y), rows, cols, base=base, lines=lines, dtype=dtype)
            for y in range(my) for x in range(mx)}


def broadcast_programs(mdl, mx, my, *, base, lines, root_index=0, ring=None):
    """``{node: descriptors}``: the vector at ``base`` of ring node ``root_index`` to
    every node (of ``ring``, default every node in ring order), down a binary tree over
    the ring order (node ``k`` of the order forwards to ``2k + 1`` and ``2k + 2`` once
    its copy has landed)."""
    from sim.allreduce import ring_order
    order = ring_order(mx, my) if ring is None else list(ring)
    order = order[root_index:] + order[:root_index]
    progs = {}
    for k, node in enumerate(order):
        descs = [] if k == 0 else [mdl.cmd_wait(0, 1)]
        for child in (2 * k + 1, 2 * k + 2):
            if child < len(order):
                descs.append(mdl.cmd_push(src_addr=base, count=lines, to=order[child],
                                          dst_addr=base, sem=0))
        progs[node] = descs + [mdl.cmd_halt(0)]
    return progs


def golden(mdl, algo, vectors, mx, my, *, lines, dtype, ring=None):
    """The final vector of every node (``{node: lines}``), replaying the algorithm's
    steps in order with the node's adder (``vectors``: ``{node: lines}``; ``ring``: the
    ring all-reduce's members, default every node in ring order)."""
    from sim.allreduce import ring_order
    from verif.node_model import Dtype
    dt = Dtype.FP32 if dtype == "fp32" else Dtype.INT32
    mem = {node: list(v) for node, v in vectors.items()}

    def ring_steps(members, base, lines, t_from, t_to):
        n = len(members)
        for t in range(t_from, t_to):
            moves = []
            for i, node in enumerate(members):
                start, count = ring_chunk(n, i, t, lines)
                for line in range(base + start, base + start + count):
                    moves.append((members[(i + 1) % n], line, mem[node][line]))
            # a step's moves land on distinct lines (each member receives one chunk), so
            # their adds are one batch
            if t < n - 1 and moves:
                sums = mdl.add_many([mem[dst][line] for dst, line, _ in moves],
                                    [value for _, _, value in moves], dt)
            else:
                sums = [value for _, _, value in moves]
            for (dst, line, _), value in zip(moves, sums):
                mem[dst][line] = value

    if algo == "ring":
        ring = ring_order(mx, my) if ring is None else ring
        ring_steps(ring, 0, lines, 0, 2 * (len(ring) - 1))
        return mem
    rows, cols = grid_rings(mx, my)
    for row in rows:
        ring_steps(row, 0, lines, 0, mx - 1)
    for x, col in enumerate(cols):
        ring_steps(col, *ring_chunk(mx, x, mx - 1, lines), 0, 2 * (my - 1))
    for row in rows:
        ring_steps(row, 0, lines, mx - 1, 2 * (mx - 1))
    return mem


def check_collective(cfg, algo, *, lines, derived=None):
    """Validate before anything is built; raises ValueError naming what is wrong."""
    from gen.build import derived_of
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    if algo not in ALGORITHMS + ("broadcast",):
        raise ValueError(f"algorithm {algo!r}: not allowed (host, {', '.join(ALGORITHMS)}, "
                         f"broadcast)")
    n = len(live_ring(cfg, d))
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
        raise ValueError(f"lines={lines!r}: not allowed (a whole number of lines, at least 1)")
    chunk = -(-lines // (mx if algo == "2d" else n))          # the longest chunk
    if algo != "broadcast" and chunk > 255:
        where = f"{mx} nodes of a row" if algo == "2d" else \
            f"{n} nodes" + (" (live)" if n < mx * my else "")
        raise ValueError(f"lines={lines}: {chunk} lines per chunk over the {where}, at most "
                         f"255 (one PUSH); allowed: at most {255 * (mx if algo == '2d' else n)}")
    if algo == "broadcast" and lines > 255:
        raise ValueError(f"lines={lines}: a broadcast PUSH carries at most 255 lines")
    sram = NodeModel.from_config(cfg, d).lines
    if lines + PROGRAM_LINES > sram:
        raise ValueError(f"lines={lines}: the SRAM holds {sram} lines, {PROGRAM_LINES} of "
                         f"them kept for the program")
    return lines


def measure_alpha(cfg, *, sim="verilator", derived=None, engine="rtl", timing_only=False):
    """The zero-load step latency of the nodes' programs on the tile: a one-flit token
    (SIGNAL) passed once round the ring, each node WAITing for it and SIGNALling the
    next. Returns ``{"alpha": cycles per step, "cycles", "nodes"}`` (the hosts' start
    and DONE are outside the token's round: the root starts when every other node waits).
    ``engine``, ``timing_only``: :func:`sim.workloads.runners.run_tile`'s (the token carries no
    data, so a timing-only model measures the same)."""
    from gen.build import compute_tile
    from verif.node_model import NodeModel
    design = compute_tile(cfg, engine=engine, derived=derived)
    mdl = NodeModel.from_manifest(design.manifest())
    ring = live_ring(cfg, derived)
    n = len(ring)
    rounds = 4
    progs = {}
    for i, node in enumerate(ring):
        nxt = ring[(i + 1) % n]
        if i == 0:
            body = [mdl.cmd_signal(nxt, 0), mdl.cmd_wait(0, 1)]
        else:
            body = [mdl.cmd_wait(0, 1), mdl.cmd_signal(nxt, 0)]
        progs[node] = [mdl.cmd_loop(rounds, 2)] + body + [mdl.cmd_halt(0)]
    res = run_programs(design, progs, {}, sim=sim, tag="alpha", reads=[], cfg=cfg,
                       engine=engine, timing_only=timing_only)
    one = run_programs(design, {ring[0]: [mdl.cmd_halt(0)]}, {}, sim=sim, tag="alpha-empty",
                       reads=[], cfg=cfg, engine=engine, timing_only=timing_only)
    token = res["cycles"] - one["cycles"]         # the hosts' start and DONE taken off
    return {"alpha": round(token / (rounds * n), 2), "cycles": token, "nodes": n,
            "rounds": rounds}


def _ring_latency(members, die_shape, dielink):
    """Mean :func:`sim.allreduce.link_latency` over a ring's links."""
    from sim.allreduce import link_latency
    n = len(members)
    return sum(link_latency(members[k], members[(k + 1) % n], die_shape, dielink)
               for k in range(n)) / n


def model_cycles(algo, mx, my, *, lines, alpha, max_packet_flits, die_shape, dielink,
                 control=0.0, ring=None):
    """``sum over phases of steps (alpha_phase + beta F)`` (see the module docstring).

    ``alpha`` is the measured step latency of the ring of :func:`sim.allreduce.ring_order`;
    it is split into the nodes' own part and the mean link latency of that ring, and a
    phase's ``alpha_phase`` is the nodes' part plus the mean link latency of the phase's
    slowest ring (a row ring is closed by a link of ``mx - 1`` hops). ``control``: the
    cycles of the descriptors a node runs beyond a WAIT and a PUSH per step (LOOPs,
    waits between phases), averaged over the nodes (:func:`control_cycles`). ``ring``:
    the members of the ring (default every node in ring order); ``alpha`` is then
    measured on that ring."""
    from sim.allreduce import chunk_flits, ring_beta, ring_order

    def flits(chunk):
        return chunk_flits(chunk, max_packet_flits)

    def beta(members):
        return ring_beta(members, die_shape, dielink)

    ring = ring_order(mx, my) if ring is None else ring
    node_part = alpha - _ring_latency(ring, die_shape, dielink)
    # a phase's chunk is its longest (sim.allreduce.chunk_span): the chain of steps that
    # carries it is the last to end
    if algo == "ring":
        phases = [(2 * (len(ring) - 1), -(-lines // len(ring)), [ring])]
    else:
        rows, cols = grid_rings(mx, my)
        cr = -(-lines // mx)
        phases = [(2 * (mx - 1), cr, rows)] + ([(2 * (my - 1), -(-cr // my), cols)]
                                               if my > 1 else [])
    out, total = [], 0.0
    for steps, chunk, rings in phases:
        a = node_part + max(_ring_latency(r, die_shape, dielink) for r in rings)
        b = max(beta(r) for r in rings)
        total += steps * (a + b * flits(chunk))
        out.append({"steps": steps, "chunk_lines": chunk, "flits": flits(chunk), "beta": b,
                    "alpha": round(a, 2)})
    return {"phases": out, "alpha_ring": alpha, "alpha_nodes": round(node_part, 2),
            "control": round(control, 1), "cycles": round(total + control)}


def control_cycles(mdl, programs):
    """Mean over the nodes of the descriptors each runs besides its steps' WAITs and
    PUSHes and its HALT (the LOOPs), at ``cmd_lines + 1`` cycles each: the fetch of a
    descriptor and its decode, on the chain of steps whenever it runs between two of
    them."""
    from rtl.node.layouts import CmdOp
    extra = []
    for descs in programs.values():
        runs = _replay(mdl, descs)[0]
        extra.append(sum(k for op, k in runs.items()
                         if op not in (CmdOp.WAIT, CmdOp.PUSH, CmdOp.HALT)))
    return (mdl.cmd_lines + 1) * sum(extra) / len(extra)


def collective_plan(cfg, algo, *, lines, dtype="int32", seed=0, derived=None, engine="rtl",
                    timing_only=False):
    """What a collective loads and runs, for either engine: ``{"design"`` (the compute
    tile with host ports), ``"model"`` (its NodeModel), ``"nodes"`` (the live nodes,
    row-major), ``"skipped"`` (the others), ``"programs"``, ``"data"`` (the arguments of
    :func:`sim.workloads.runners.run_programs`), ``"expected"`` (every node's final vector,
    :func:`golden`), ``"dtype"`` (``"int32"`` or ``"fp32"``)``}``. ``timing_only``: no data
    values are made (every vector line zero, the control slice a timing-only model keeps of
    a data line being payload) and no golden model is run (``"expected"`` None), which at
    D1 scale would take hours in Python."""
    from gen.build import compute_tile, derived_of
    from verif import golden as numerics
    from verif.node_model import Dtype, NodeModel
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    ring = live_ring(cfg, d)
    check_collective(cfg, algo, lines=lines, derived=d)
    design = compute_tile(cfg, engine=engine, derived=d)
    mdl = NodeModel.from_manifest(design.manifest())
    rng = np.random.default_rng(seed)
    lanes = mdl.width // 32
    nodes = sorted(ring, key=lambda n: (n[1], n[0]))          # the live nodes, row-major
    members = set(ring)
    skipped = [(x, y) for y in range(my) for x in range(mx) if (x, y) not in members]
    vectors = {}
    for node in nodes:
        if timing_only:
            vectors[node] = [0] * lines
            continue
        if dtype == "fp32":
            v = numerics.float_to_f32_bits(rng.standard_normal(lines * lanes).astype(np.float32))
        else:
            v = rng.integers(0, 2**32, lines * lanes, dtype=np.uint64)
        vectors[node] = mdl.pack_elements([int(x) for x in v], 32)
    kind = "fp32" if dtype == "fp32" else "int32"
    lane = Dtype.FP32 if kind == "fp32" else Dtype.INT32
    if algo == "broadcast":
        root = ring[0]
        programs = broadcast_programs(mdl, mx, my, base=0, lines=lines, ring=ring)
        data = {root: (0, vectors[root])}
        expected = None if timing_only else {node: vectors[root] for node in nodes}
    else:
        programs = allreduce_programs(mdl, algo, mx, my, base=0, lines=lines, dtype=lane,
                                      ring=ring)
        data = {node: (0, vectors[node]) for node in nodes}
        expected = None if timing_only else golden(mdl, algo, vectors, mx, my, lines=lines,
                                                   dtype=kind, ring=ring)
    return {"design": design, "model": mdl, "nodes": nodes, "skipped": skipped,
            "programs": programs, "data": data, "expected": expected, "dtype": kind}


def run_collective(cfg, algo, *, lines=None, dtype="int32", sim="verilator", out_dir,
                   seed=0, derived=None, alpha=None, engine="rtl", timing_only=False,
                   preload_data=False):
    """A node-driven all-reduce (``ring`` or ``2d``) or ``broadcast``, checked bit for
    bit against :func:`golden`; returns the result dict (also ``out_dir/result.json``).
    ``engine``, ``timing_only`` and ``preload_data``:
    :func:`sim.workloads.runners.run_tile`'s."""
    from gen.build import derived_of
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    ring = live_ring(cfg, d)
    lines = lines if lines is not None else 2 * len(ring)
    p = collective_plan(cfg, algo, lines=lines, dtype=dtype, seed=seed, derived=d,
                        engine=engine, timing_only=timing_only)
    design, mdl, kind = p["design"], p["model"], p["dtype"]
    nodes, skipped, programs, data, expected = (p[k] for k in (
        "nodes", "skipped", "programs", "data", "expected"))
    # the skipped nodes are read back too: nothing may have written their SRAM (it
    # starts at zero)
    res = run_programs(design, programs, data, sim=sim, tag=f"{algo}-{lines}-{kind}-{seed}",
                       cfg=cfg, engine=engine, timing_only=timing_only,
                       preload_data=preload_data,
                       reads=[[list(n), 0, lines] for n in nodes + skipped])
    wrong = [] if expected is None else \
        [list(n) for n, got in zip(nodes, res["reads"]) if got != expected[n]]
    touched = [list(n) for n, got in zip(skipped, res["reads"][len(nodes):]) if any(got)]
    bad_halts = [h for h in res["halts"] if any(t != 0 for t in h[1].values())]
    out = {"algo": algo, "nodes": len(nodes), "mesh": [mx, my], "lines": lines, "dtype": kind,
           "sim": sim, "cycles": res["cycles"],
           "match": not wrong and not bad_halts and not touched,
           "wrong_nodes": wrong, "bad_halts": bad_halts, "problems": res["problems"],
           "skipped_nodes": [list(n) for n in skipped], "skipped_nodes_written": touched,
           "program_descriptors": max(len(p) for p in programs.values()),
           "energy": None if res["counters"] is None else workload_energy(cfg, d, res)}
    if algo != "broadcast" and alpha is not None:
        mdl_t = model_cycles(algo, mx, my, lines=lines, alpha=alpha,
                             max_packet_flits=mdl.max_len, die_shape=design.network.die_shape,
                             dielink=design.network.dielink,
                             control=control_cycles(mdl, programs), ring=ring)
        out["model"] = mdl_t
        out["measured_over_model"] = res["cycles"] / mdl_t["cycles"]
    record_engine(out, sim=sim, engine=engine, timing_only=timing_only,
                  data_keys=("wrong_nodes", "skipped_nodes_written"), preloaded=preload_data,
                  load_keys=("energy",))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(out, indent=1) + "\n")
    return out
