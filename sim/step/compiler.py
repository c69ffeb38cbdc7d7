"""The training step compiled to node programs, with its checks before anything runs.

Nothing here is a second copy of an algorithm: every GEMM is :func:`sim.summa.summa_programs`
on its replica's grid (on a 1 x 1 grid that is one EXEC), every gradient all-reduce
:func:`sim.collectives.allreduce_programs`. The compiler places them, strings them
together on the two queues and adds the synchronisation between them:

- queue 1 (compute) runs every GEMM's compute part in step order;
- queue 0 (communication) runs every GEMM's panel pushes in the same order and, one
  bucket per layer, the all-reduce of each layer's ``dW`` once it is computed (after
  the panels of the GEMM that follows it, so that GEMM is fed first; with replicas of
  several nodes after those of the one after, below).

Placement (:func:`placement`): the mesh is cut into ``floor(mx / gx) x floor(my / gy)``
blocks of the replica grid from ``(0, 0)`` (the nodes past the last whole block are
idle: a 19 x 19 D1 die holds 4 x 9 blocks of 4 x 2 nodes); a block holding a disabled
node (``die.disabled_nodes``, ``tile.fault_maps``: its router still forwards) is skipped;
the usable blocks are taken in the ring order of the block grid and the first
``parallel.data`` hold the replicas. Idle and disabled nodes get no program. Each GEMM
has its own SRAM region; a ``dW`` is all-reduced as it is, in chunks of floor or ceil
of its lines over the replicas (:mod:`sim.collectives`: no padding, so a ``dW`` of fewer
lines than replicas costs no more SRAM than its own lines).

Synchronisation (the node has 8 semaphores, :data:`gen.node_build.SEMS`):

- a replica of one node (``grid: [1, 1]``, pure data parallelism): SUMMA needs no
  semaphore; the compute queue SIGNALs ``SEM_DONE`` on its own node after each ``dW``;
  before an all-reduce the communication queue WAITs for it, SIGNALs ``SEM_READY`` to
  every node that will push into its ``dW`` and WAITs for one from each node it pushes
  to (a node may only ADD into a ``dW`` its owner has finished computing); the
  all-reduce keeps its own semaphores (0, and 1 for ``2d``, which needs a replica on
  every node of the mesh).
- a replica of several nodes: SUMMA's semaphores 0..5; after each GEMM the compute queue
  SIGNALs ``SEM_BAR`` to itself and to its row and column peers, and the communication
  queue WAITs for all of them before the next GEMM's first panel (a panel of the next
  GEMM must not be counted by this one). A GEMM signals it after its last WAIT, before
  its last EXEC (all its panels are counted; the next GEMM's land in their own region),
  so the next GEMM's first pushes overlap that EXEC; a ``dW`` with a GEMM two after it
  too, and its all-reduce goes after the panels of that GEMM (whose barrier is signalled
  after the next GEMM's last WAIT, so after the ``dW``'s last EXEC: it is written). The
  step's last GEMM and a ``dW`` without a GEMM two after it signal after their last
  EXEC (the all-reduce then follows the next GEMM's panels, or ends the step). The
  all-reduce is a ring over the replicas'
  nodes of the same position, on semaphore 7 alone (:func:`_ready_tokens`): first the
  readiness of every member's ``dW`` goes round the ring (``n - 1`` one-flit tokens,
  each node passing on what its predecessor sent), then the ring's chunks; every count
  on semaphore 7 of a node comes from its ring predecessor only, in the order that
  node's one communication queue sent it on the one request VC, so a token is never
  taken for a chunk. (The ``2d`` all-reduce would need a second semaphore: refused.)

Every region, the programs and the semaphores are checked here (:func:`check_step`);
a refusal is a ValueError of one line naming the key, the value and what is allowed.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CompiledStep", "check_step", "compile_step", "placement", "usable_blocks",
           "SEM_DONE", "SEM_READY", "SEM_BAR", "SEM_AR"]

#: semaphores of a one-node replica (the all-reduce keeps 0 and 1)
SEM_READY, SEM_DONE = 2, 3
#: semaphores of a replica of several nodes (SUMMA keeps 0..5)
SEM_BAR, SEM_AR = 6, 7


class _Placed:
    """A :class:`verif.node_model.NodeModel` whose PUSH and SIGNAL destinations are mapped
    by ``place`` and whose semaphores by ``sems`` (a dict; absent: unchanged): how a
    generator written for the whole mesh from ``(0, 0)`` runs on a replica's grid."""

    def __init__(self, mdl, place=None, sems=None):
        self._mdl, self._place, self._sems = mdl, place or (lambda c: tuple(c)), sems or {}

    def __getattr__(self, name):
        return getattr(self._mdl, name)

    def _s(self, sem):
        return self._sems.get(sem, sem)

    def cmd_push(self, *, to, sem, **kw):
        return self._mdl.cmd_push(to=self._place(to), sem=self._s(sem), **kw)

    def cmd_signal(self, to, sem):
        return self._mdl.cmd_signal(self._place(to), self._s(sem))

    def cmd_wait(self, sem, n=1):
        return self._mdl.cmd_wait(self._s(sem), n)


@dataclass
class GemmPlan:
    """One GEMM of the step placed in SRAM: its SUMMA layout (addresses from ``base``)."""
    gemm: object
    lay: dict
    base: int
    lines: int
    mac_steps: int = 0


@dataclass
class CompiledStep:
    """The step as node programs: ``programs`` ``{node: {0: comm, 1: compute}}`` (without
    the HALTs, added by :meth:`with_halts`), ``data`` ``{node: [(addr, lines)]}``,
    ``expected`` ``{(node, gemm label): lines}`` of every C after the step, ``reads``
    ``[(node, addr, count, gemm label)]``, and what the reports need."""
    step: object
    grid: tuple
    groups: list
    gemms: list
    programs: dict
    labels: dict = field(default_factory=dict)   #: ``{node: {queue: [label per descriptor]}}``
    data: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    reads: list = field(default_factory=list)
    program_lines: int = 0
    data_lines: int = 0
    allreduce: list = field(default_factory=list)
    mac_steps: int = 0
    idle: list = field(default_factory=list)     #: live nodes of no replica, row-major

    def start_pcs(self, mdl):
        """``{node: {queue: pc}}`` where :func:`sim.workloads.runners.run_programs` puts the
        programs of :meth:`with_halts` (queue 0 at the top region's start, queue 1 after)."""
        base = mdl.lines - self.program_lines
        return {n: {0: base, 1: base + (len(qs[0]) + 1) * mdl.cmd_lines}
                for n, qs in self.programs.items()}

    def with_halts(self, mdl):
        return {n: {q: d + [mdl.cmd_halt(0)] for q, d in qs.items()}
                for n, qs in self.programs.items()}


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


def _leaf_table(layout):
    """``{field: (offset, mask, sub-table or None, enum class or None)}`` of an Amaranth
    layout, nested layouts as sub-tables: what :func:`_encode` packs with integer shifts."""
    import enum
    from amaranth.lib import data
    out = {}
    for name, member in layout:
        shape = member.shape
        sub = _leaf_table(shape) if isinstance(shape, data.Layout) else None
        en = shape if isinstance(shape, type) and issubclass(shape, enum.Enum) else None
        out[name] = (member.offset, (1 << member.width) - 1, sub, en)
    return out


def _encode(table, values):
    """``values`` (nested dicts; enums by member, value or name; missing fields zero) ->
    the int Amaranth's ``layout.const(values).as_value().value`` gives (values truncated
    to their field, two's complement for negative ones)."""
    unknown = set(values) - set(table)
    if unknown:
        raise KeyError(f"no field(s) {sorted(unknown)} (allowed: {', '.join(table)})")
    out = 0
    for name, (offset, mask, sub, en) in table.items():
        v = values.get(name, 0)
        if sub is not None:
            v = _encode(sub, v or {})
        elif en is not None:
            v = (en[v] if isinstance(v, str) else en(v)).value
        out |= (int(v) & mask) << offset
    return out


class _MemoLayouts:
    """:class:`rtl.node.layouts.NodeLayouts` whose descriptors are packed with integer
    shifts at the layout's own offsets (:func:`_encode`) and decoded once per distinct
    value: Amaranth's constant builder takes milliseconds a descriptor and a step on a
    D1 die has about 10^5 of them (``tests/sim/step/test_spec_compiler.py`` holds both
    encoders equal)."""

    def __init__(self, lay):
        self._lay, self._enc, self._dec = lay, {}, {}
        self._table = _leaf_table(lay.cmd_desc)

    def __getattr__(self, name):
        return getattr(self._lay, name)

    def cmd(self, op, **args):
        """:meth:`rtl.node.layouts.NodeLayouts.cmd`, the same lines."""
        from rtl.node.layouts import CmdOp
        op = CmdOp[op] if isinstance(op, str) else CmdOp(op)
        key = (op, _freeze(args))
        if key not in self._enc:
            bits = _encode(self._table, {"op": op, "args": {op.name.lower(): args}})
            w = self._lay.fmt.flit_bits
            self._enc[key] = [(bits >> (w * i)) & ((1 << w) - 1)
                              for i in range(self._lay.cmd_lines)]
        return list(self._enc[key])

    def decode(self, layout, bits):
        key = (layout, bits)
        if key not in self._dec:
            self._dec[key] = self._lay.decode(layout, bits)
        return dict(self._dec[key])


def _memo(mdl):
    """``mdl`` (a :class:`verif.node_model.NodeModel`) with :class:`_MemoLayouts`."""
    import copy
    if isinstance(mdl.lay, _MemoLayouts):
        return mdl
    out = copy.copy(mdl)
    out.lay = _MemoLayouts(mdl.lay)
    return out


def _strip_halt(mdl, descs):
    halt = mdl.cmd_halt(0)
    if not descs or descs[-1] != halt:
        raise AssertionError("a generator's program does not end with HALT")
    return descs[:-1]


def usable_blocks(grid, mx, my, disabled=frozenset()):
    """The origins of the ``floor(mx / gx) x floor(my / gy)`` blocks of ``grid`` nodes
    that hold no disabled node, in the ring order of the block grid, and how many were
    skipped: ``(usable, holed)``. ValueError (one line) when the grid does not fit."""
    from sim.allreduce import ring_order
    gx, gy = grid
    bx, by = mx // gx, my // gy
    if not bx or not by:
        raise ValueError(f"parallel.grid: {[gx, gy]} is not allowed on the {mx}x{my} mesh: "
                         f"a replica must fit in it (x <= {mx}, y <= {my})")
    usable, holed = [], 0
    for cx, cy in ring_order(bx, by):
        o = (cx * gx, cy * gy)
        if any((o[0] + j, o[1] + i) in disabled for i in range(gy) for j in range(gx)):
            holed += 1
        else:
            usable.append(o)
    return usable, holed


def placement(step, mx, my, disabled=frozenset()):
    """Where the replicas go: ``(groups, blocks, idle)``.

    The mesh is cut into ``floor(mx / gx) x floor(my / gy)`` blocks of the replica grid
    from ``(0, 0)``; the nodes past the last whole block (right and bottom) are idle. A
    block holding a disabled node (``disabled``: global coordinates) is skipped. The
    usable blocks are taken in the ring order of the block grid
    (:func:`sim.allreduce.ring_order`: neighbouring replicas next to each other, so the
    gradient ring's steps are short) and the first ``parallel.data`` of them hold the
    replicas (``groups``, their origins). ``blocks``: how many were usable; ``idle``: the
    live nodes of no replica, row-major. ValueError (one line) when the grid does not
    fit the mesh or ``parallel.data`` exceeds the usable blocks."""
    gx, gy = step.grid
    usable, holed = usable_blocks(step.grid, mx, my, disabled)
    if step.data > len(usable):
        why = f"{mx // gx}x{my // gy} blocks of {gx}x{gy} nodes fit the {mx}x{my} mesh"
        if holed:
            why += f", {holed} of them holding a disabled node"
        allowed = f"1 to {len(usable)}" if usable else "a grid that fits between them"
        raise ValueError(f"parallel.data: {step.data} is not allowed with parallel.grid "
                         f"{[gx, gy]}: {why}; allowed: {allowed}")
    groups = usable[:step.data]
    used = {(ox + j, oy + i) for ox, oy in groups for i in range(gy) for j in range(gx)}
    idle = [(x, y) for y in range(my) for x in range(mx)
            if (x, y) not in used and (x, y) not in disabled]
    return groups, len(usable), idle


def check_step(cfg, derived, step):
    """Every refusal before anything is built -> ``(groups, [GemmPlan], data_lines,
    idle)`` (:func:`placement`'s groups and idle nodes). Raises ValueError, one line."""
    from gen.build import derived_of
    from gen.faults import fault_map
    from sim.summa import check_summa
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    step = step.for_config(cfg)
    fmap = fault_map(cfg, d)
    if fmap.dead_routers or cfg.router.routing == "table":
        raise ValueError(f"die.dead_routers: {len(fmap.dead_routers)} dead routers (router."
                         f"routing {cfg.router.routing}) are not allowed for a training step "
                         f"(its programs cross the mesh in dimension order); allowed: disabled "
                         f"nodes only (their routers forward), with xy or yx routing")
    groups, _, idle = placement(step, mx, my, fmap.disabled_nodes)
    gx, gy = step.grid
    whole = (gx, gy) == (1, 1) and len(groups) == mx * my
    if step.allreduce == "2d" and step.data > 1 and not whole:
        holes = f", {len(fmap.disabled_nodes)} disabled" if fmap.disabled_nodes else ""
        raise ValueError(f"allreduce.algo: '2d' is not allowed with parallel.grid {[gx, gy]} "
                         f"and {step.data} replicas on the {mx}x{my} mesh{holes}: it runs "
                         f"along every row and column of the mesh; allowed: 'ring', or '2d' "
                         f"with grid [1, 1] and a replica on every node")
    mdl = NodeModel.from_config(cfg, d)
    plans, at = [], 0
    for g in step.gemms():
        try:
            lay = check_summa(cfg, m=g.m, n=g.n, k=g.k, dtype=step.dtype, derived=d,
                              grid=(gx, gy))
        except ValueError as exc:
            raise ValueError(f"layers[{g.layer}] {g.kind} GEMM {g.m}x{g.n}x{g.k} on a "
                             f"{gx}x{gy} grid: {exc}") from None
        a_l, b_l, c_l = lay["a_lines"], lay["b_lines"], lay["c_lines"]
        res_a, res_b = len(lay["a_own"]), len(lay["b_own"])
        rel = {"a_own": [at + s * a_l for s in range(res_a)]}
        at2 = at + res_a * a_l
        rel["b_own"] = [at2 + s * b_l for s in range(res_b)]
        at2 += res_b * b_l
        rel["a_buf"] = [at2, at2 + a_l] if gx > 1 else [None, None]
        at2 += 2 * a_l if gx > 1 else 0
        rel["b_buf"] = [at2, at2 + b_l] if gy > 1 else [None, None]
        at2 += 2 * b_l if gy > 1 else 0
        rel["c"] = at2
        new = {**lay, **rel, "operand_lines": at2 - at, "ar_lines": c_l}
        bm, bn, kb = lay["block"]
        steps = lay["steps"]
        mac = gx * gy * steps * (bm // mdl.p) * (bn // mdl.p) * kb
        plans.append(GemmPlan(g, new, at, at2 + c_l - at, mac))
        at = at2 + c_l
        if step.data > 1 and g.kind == "backward_weight":
            # the longest chunk (sim.allreduce.chunk_span) is one PUSH
            parts = len(groups) if step.allreduce == "ring" else mx
            chunk = -(-c_l // parts)
            if chunk > 255:
                where = f"{step.data} replicas" if step.allreduce == "ring" else \
                    f"the {mx} nodes of a row"
                raise ValueError(f"layers[{g.layer}]: its dW is {c_l} SRAM lines per node; "
                                 f"the {step.allreduce} all-reduce over {where} cuts it in "
                                 f"chunks of up to {chunk} lines, at most 255 (one PUSH); "
                                 f"allowed: smaller in x out, or more replicas")
    if at > mdl.lines:                   # before the programs: they only add to it
        raise ValueError(_sram_refusal(cfg, step, at, None, mdl.lines))
    return groups, plans, at, idle


def _sram_refusal(cfg, step, data_lines, prog_lines, lines):
    progs = f" and its programs {prog_lines}" if prog_lines is not None else ""
    return (f"node.sram_kb: {cfg.node.sram_kb} is too small for workload {step.name!r}: its "
            f"operands and results take {data_lines} lines per node{progs}, the SRAM "
            f"has {lines}; allowed: smaller layers, fewer replicas or a larger node.sram_kb "
            f"(-s node.sram_kb=...)")


def _ready_tokens(mdl, succ, n):
    """The readiness all-gather before a ring all-reduce of ``n`` replicas, on one node of
    the ring (``succ``: the node it pushes to): a token to ``succ`` now (this node's dW is
    computed), then ``n - 2`` times a WAIT for one from its predecessor and that token
    passed on, then a WAIT for the last. The ``n - 1`` tokens a node takes are those of
    every other member, so after them its successor's dW is known to be computed (a node
    may only ADD into a dW its owner has finished). Every count on :data:`SEM_AR` comes
    from the predecessor alone (its tokens, then its chunks, in the order its one queue
    sent them on the one request VC): the ring's own WAITs on the same semaphore cannot
    take a token for a chunk. For two replicas this is a SIGNAL and a WAIT."""
    out = [mdl.cmd_signal(succ, SEM_AR)]
    left = n - 2
    while left > 0:
        c = min(left, 255)
        out += [mdl.cmd_loop(c, 2), mdl.cmd_wait(SEM_AR, 1), mdl.cmd_signal(succ, SEM_AR)]
        left -= c
    return out + [mdl.cmd_wait(SEM_AR, 1)]


def _replica_members(groups, gx, gy):
    """``{local (j, i): [global node of every replica]}``."""
    return {(j, i): [(ox + j, oy + i) for ox, oy in groups] for i in range(gy) for j in range(gx)}


def compile_step(cfg, derived, step, mdl, *, seed=0, data=True, golden=True):
    """The step's programs, operands and expected results (``data=False``: programs only;
    ``golden=False``: the operands, no expected results, which a timing-only run never
    compares: the golden model is most of a D1 die's compile, 167 of 218 s measured).
    Raises ValueError (one line) for what :func:`check_step` refuses or what does not fit."""
    from gen.build import derived_of
    from sim.cannon import block_operands
    from sim.collectives import allreduce_programs, executed, golden as ar_golden
    from sim.summa import summa_programs
    from verif.node_model import Dtype, NodeModel
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    step = step.for_config(cfg)
    groups, plans, data_lines, idle = check_step(cfg, d, step)
    mdl = _memo(mdl)
    gx, gy = step.grid
    one = (gx, gy) == (1, 1)
    # the nodes of a replica, row-major (the idle and the disabled get no program)
    nodes = sorted(((ox + j, oy + i) for ox, oy in groups for i in range(gy)
                    for j in range(gx)), key=lambda n: (n[1], n[0]))
    progs = {n: {0: [], 1: []} for n in nodes}
    labels = {n: {0: [], 1: []} for n in nodes}

    def put(n, q, descs, label):
        progs[n][q] += descs
        labels[n][q] += [label] * len(descs)
    members = _replica_members(groups, gx, gy)
    lane = Dtype.FP32 if step.dtype == "bf16" else Dtype.INT32
    kind = "fp32" if step.dtype == "bf16" else "int32"

    # the all-reduce of each dW: {gemm index: {node: descriptors}} and who pushes to whom
    ar_progs, ar_note = {}, []
    if step.data > 1:
        for gi, gp in enumerate(plans):
            if gp.gemm.kind != "backward_weight":
                continue
            lines = gp.lay["ar_lines"]
            if one and step.allreduce == "2d":       # every node (check_step)
                ar = allreduce_programs(mdl, "2d", mx, my, base=gp.lay["c"],
                                        lines=lines, dtype=lane)
            elif one:                                # the replicas in ring order
                ar = allreduce_programs(mdl, "ring", mx, my, base=gp.lay["c"],
                                        lines=lines, dtype=lane, ring=list(groups))
            else:
                ar = {}
                for local, ring in members.items():
                    placed = _Placed(mdl, sems={0: SEM_AR})
                    ar.update(allreduce_programs(placed, "ring", mx, my, base=gp.lay["c"],
                                                 lines=lines, dtype=lane, ring=ring))
            ar = {n: _strip_halt(mdl, p) for n, p in ar.items()}
            ar_progs[gi] = ar
            ar_note.append({"layer": gp.gemm.layer, "lines": lines, "algo": step.allreduce,
                            "gemm": gi, "replicas": len(groups)})

    # who pushes to whom: a ring's successor (every ring of the step), else (the 2d
    # all-reduce) read off the programs
    rings = [list(groups)] if one else list(members.values())
    ring_next = {r[k]: r[(k + 1) % len(r)] for r in rings for k in range(len(r))}

    def pushers_and_targets(ar):
        to_me = {n: set() for n in nodes}
        mine = {n: set() for n in nodes}
        for n, descs in ar.items():
            if step.allreduce == "ring":
                targets = [ring_next[n]]
            else:
                targets = [p["to"] for p in executed(mdl, descs + [mdl.cmd_halt(0)])[1]]
            for t in targets:
                to_me[t].add(n)
                mine[n].add(t)
        return to_me, mine

    def all_reduce(gi):
        """Queue 0's part for the all-reduce of GEMM ``gi``'s dW, on every node."""
        ar = ar_progs[gi]
        label = f"allreduce {plans[gi].gemm.layer}.dW"
        to_me, mine = pushers_and_targets(ar)
        for n in nodes:
            pre = []
            if one:
                pre.append(mdl.cmd_wait(SEM_DONE, 1))
                pre += [mdl.cmd_signal(src, SEM_READY) for src in sorted(to_me[n])]
                if mine[n]:
                    pre.append(mdl.cmd_wait(SEM_READY, len(mine[n])))
            else:
                (succ,) = mine[n]
                pre += _ready_tokens(mdl, succ, len(groups))
            put(n, 0, pre + ar[n], label)

    # after the panels of which GEMM each dW's all-reduce goes: the next one's (a replica
    # of one node, SEM_DONE says the dW is written; or a dW with no GEMM two after it,
    # whose barrier then waits for its last EXEC), else the one after that (its barrier,
    # signalled after the next GEMM's last WAIT, says the dW is written)
    last = len(plans) - 1
    deferred = {gi for gi in ar_progs if not one and gi + 2 <= last}
    due = {}
    for gi in ar_progs:
        due.setdefault(min(gi + (2 if gi in deferred else 1), last + 1), []).append(gi)
    peers = {}
    for (ox, oy) in groups:
        for i in range(gy):
            for j in range(gx):
                row = [(ox + jj, oy + i) for jj in range(gx) if jj != j]
                col = [(ox + j, oy + ii) for ii in range(gy) if ii != i]
                peers[(ox + j, oy + i)] = row + col
    for gi, gp in enumerate(plans):
        for (ox, oy) in groups:
            placed = _Placed(mdl, place=lambda c, o=(ox, oy): (o[0] + c[0], o[1] + c[1]))
            local = summa_programs(placed, gp.lay, dtype=step.dtype)
            for (j, i), qs in local.items():
                n = (ox + j, oy + i)
                label = gp.gemm.label
                if not one and gi > 0:
                    put(n, 0, [mdl.cmd_wait(SEM_BAR, len(peers[n]) + 1)], "barrier")
                put(n, 0, _strip_halt(mdl, qs[0]), label)
                compute = _strip_halt(mdl, qs[1])
                if one:
                    put(n, 1, compute, label)
                    if gi in ar_progs:
                        put(n, 1, [mdl.cmd_signal(n, SEM_DONE)], label)
                    continue
                bar = [mdl.cmd_signal(p, SEM_BAR) for p in [n] + peers[n]]
                if gi == last or (gi in ar_progs and gi not in deferred):
                    # the step's end, or this dW's all-reduce after the next GEMM's
                    # panels, waits for its last EXEC
                    put(n, 1, compute, label)
                    put(n, 1, bar, "barrier")
                else:
                    # after the GEMM's last WAIT, before its last EXEC: every panel of it
                    # has been counted here, so the next GEMM's may come (other SRAM
                    # regions), and its first pushes overlap this EXEC
                    put(n, 1, compute[:-1], label)
                    put(n, 1, bar, "barrier")
                    put(n, 1, compute[-1:], label)
        for g_ar in due.get(gi, []):
            all_reduce(g_ar)
    if not one:
        for n in nodes:
            put(n, 0, [mdl.cmd_wait(SEM_BAR, len(peers[n]) + 1)], "barrier")
    for g_ar in due.get(last + 1, []):
        all_reduce(g_ar)

    prog_lines = max(sum(len(qd) + 1 for qd in qs.values()) for qs in progs.values()) * \
        mdl.cmd_lines
    if data_lines + prog_lines > mdl.lines:
        raise ValueError(_sram_refusal(cfg, step, data_lines, prog_lines, mdl.lines))
    out = CompiledStep(step, (gx, gy), groups, plans, progs, labels, program_lines=prog_lines,
                       data_lines=data_lines, allreduce=ar_note, idle=idle,
                       mac_steps=sum(gp.mac_steps for gp in plans) * len(groups))
    if not data:
        return out

    # operands and the golden result of every GEMM on every replica
    rng = np.random.default_rng(seed)
    c_final = {}
    for gp in plans:
        bm, bn, kb = gp.lay["block"]
        t_steps = gp.lay["steps"]
        g = gp.gemm
        for (ox, oy) in sorted(groups, key=lambda o: (o[1], o[0])):    # row-major
            blk_a, blk_b = block_operands(rng, g.m, g.n, g.k, step.dtype, bm, bn, kb)
            for i in range(gy):
                for j in range(gx):
                    n = (ox + j, oy + i)
                    out.data.setdefault(n, [])
                    out.data[n] += [(gp.lay["a_own"][t // gx], mdl.pack_a(blk_a(i, t), step.dtype))
                                    for t in range(j, t_steps, gx)]
                    out.data[n] += [(gp.lay["b_own"][t // gy], mdl.pack_b(blk_b(t, j), step.dtype))
                                    for t in range(i, t_steps, gy)]
                    if not golden:
                        continue
                    c = None
                    for t in range(t_steps):
                        c = NodeModel.golden(blk_a(i, t), blk_b(t, j), c, step.dtype)
                    c_final[(n, g.label)] = mdl.pack_c(c)
    for gi, gp in enumerate(plans):
        label = gp.gemm.label
        if not golden:                       # the read-back, no expected lines
            out.reads += [(n, gp.lay["c"], gp.lay["c_lines"], label) for n in nodes]
            continue
        if gi in ar_progs:
            rings = [None] if one and step.allreduce == "2d" else \
                [list(groups)] if one else list(members.values())
            for ring in rings:
                vec = {n: c_final[(n, label)] for n in (ring or nodes)}
                red = ar_golden(mdl, step.allreduce, vec, mx, my, lines=gp.lay["ar_lines"],
                                dtype=kind, ring=ring)
                for n in (ring or nodes):
                    c_final[(n, label)] = red[n]
        for n in nodes:
            out.reads.append((n, gp.lay["c"], gp.lay["c_lines"], label))
            out.expected[(n, label)] = c_final[(n, label)]
    return out
