"""VC planes: one routing table set per VC, and each source's choice of VC per destination.

The router's VCs are static (a flit leaves on the VC it arrived on), so each VC is a
network of its own: a *plane*. With one table set for every VC, every destination has one
in-tree and all its traffic crosses the same links; around a dead router those trees pile
the detours onto a few links. Here each VC ``v`` gets its own tables, repaired from its
own dimension order (even planes from ``router.table_base``, odd planes from the other
order), and every source picks, per destination, the plane whose route is least loaded:
two routes per pair instead of one, chosen to balance the links (BENCHMARKS.md, "Dead
routers", measures what it gains).

Deadlock freedom needs nothing new: each plane's tables are a complete table set that
:func:`gen.routing.check.check_tables` proves connected and acyclic, a flit never changes
plane, and any subset of a plane's routes keeps its dependency graph acyclic. Order: a
source uses one plane and one route per destination, so packets of a pair arrive in order.

:class:`VcPlanes` holds ``tables[v]`` (a :class:`gen.routing.format.RoutingTables` per VC)
and the choice, hierarchical like the tables: ``select_node[y, x, l]`` is the VC router
``(x, y)``'s source uses toward node ``l`` of its own die, ``select_die[y, x, d]`` toward
any node of an other die ``d``. :func:`source_vc` is the rule (the RTL generator and the
fast model apply the same). Dead routers' entries are zero.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

from .bounds import loads_bound
from .check import check_tables
from .format import MeshShape, RoutingTables, check_count, neighbour, output_port
from .live import check_dead, live_nodes
from .route import REPAIR_MAX_ROUTERS, repair_candidates, route_tables
from .walk import flat_ids, walk_all

__all__ = ["VcPlanes", "route_planes", "source_vc", "check_planes", "planes_bound",
           "plane_routes", "one_plane"]

#: greedy passes of the choice (each visits every (source, key) once)
_PASSES = 8
#: candidate repairs per base order whose pairs are tried, on meshes up to _PAIR_ROUTERS
_PAIR_CANDIDATES = 4
_PAIR_ROUTERS = 100


@dataclass(frozen=True, eq=False)
class VcPlanes:
    """Per-VC tables and the sources' VC choice (module docstring)."""
    tables: tuple
    select_die: np.ndarray
    select_node: np.ndarray

    @property
    def shape(self):
        return self.tables[0].shape

    @property
    def dead(self):
        return self.tables[0].dead

    @property
    def vcs(self):
        return len(self.tables)


def source_vc(planes, src, dst):
    """The VC a source at ``src`` uses for ``dst`` (global coordinates)."""
    (x, y), (dx, dy) = src, dst
    s = planes.shape
    d = s.die_of(dx, dy)
    if d == s.die_of(x, y):
        return int(planes.select_node[y, x, s.node_of(dx, dy)])
    return int(planes.select_die[y, x, d])


def plane_routes(tables, live):
    """``{(src, dst): [channel, ...]}`` of one plane over the pairs of ``live`` (the routes
    may cross any router that is not dead), a channel being
    ``router_id * 4 + port - 1`` (walked with :func:`gen.routing.format.output_port`)."""
    W = tables.shape.mesh_x
    routers = live_nodes(tables.shape, tables.dead)       # every router that forwards
    nxt = {}
    for d in live:
        for u in routers:
            if u != d:
                p = output_port(tables, u, d)
                nxt[u, d] = (p, neighbour(u, p))
    routes = {}
    for d in live:
        for s in live:
            if s == d:
                continue
            chans, u = [], s
            while u != d:
                p, v = nxt[u, d]
                chans.append((u[1] * W + u[0]) * 4 + p - 1)
                u = v
            routes[s, d] = chans
    return routes


def _keys(shape, live):
    """The choice's keys per source: ``(src, "node", l)`` -> destinations of its own die with
    local index ``l``, ``(src, "die", d)`` -> the live nodes of die ``d``."""
    by_die = {}
    for t in live:
        by_die.setdefault(shape.die_of(*t), []).append(t)
    keys = {}
    for s in live:
        own = shape.die_of(*s)
        for t in by_die[own]:
            if t != s:
                keys[s, "node", shape.node_of(*t)] = [t]
        for d, ts in by_die.items():
            if d != own:
                keys[s, "die", d] = ts
    return keys


def _choose(shape, live, keys, routes):
    """Each key's plane among the distinct table sets whose ``routes`` are given (module
    docstring of :func:`route_planes`): ``(choice {key: index}, most loaded link)``.

    The keys' channel lists are flattened into one array (CSR: the channels of key ``k``
    on plane ``i`` are ``flat[start[k * n + i]:start[k * n + i + 1]]``, a channel repeated
    once per route that crosses it) and the greedy passes run in :func:`_greedy_passes`."""
    n = len(routes)
    key_list = sorted(keys)
    lists = [np.concatenate([routes[i][k[0], t] for t in keys[k]]).astype(np.int64)
             for k in key_list for i in range(n)]
    start = np.zeros(len(lists) + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(c) for c in lists])
    flat = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    first = np.array([(k[0][0] + k[0][1] + sum(keys[k][0])) % n for k in key_list],
                     dtype=np.int64)
    chosen, peak = _greedy_passes(flat, start, first, n, shape.routers * 4, _PASSES)
    return dict(zip(key_list, chosen.tolist())), float(peak)


@njit(cache=True)
def _greedy_passes(flat, start, first, n, channels, passes):
    """The greedy passes of :func:`_choose` over CSR channel lists: every key starts on
    plane ``first[k]``; a pass takes each key off its plane and puts it on the plane with
    the lowest (most loaded link after, most loaded link of that plane after, summed load
    after), the current plane winning ties, the lowest index otherwise; up to ``passes``
    passes, until nothing moves. Loads are counts (integers: the float costs of the
    reference formulation compare the same). Returns (choice per key, most loaded link)."""
    keys = len(first)
    load = np.zeros(channels, dtype=np.int64)
    vload = np.zeros(channels * n, dtype=np.int64)       # per (channel, plane)
    choice = first.copy()
    for k in range(keys):
        _place(flat, start, load, vload, k * n + choice[k], choice[k] * channels, 1)
    for _ in range(passes):
        moved = 0
        for k in range(keys):
            cur = choice[k]
            _place(flat, start, load, vload, k * n + cur, cur * channels, -1)
            best = cur
            best_peak, best_vpeak, best_sum = -1, -1, -1      # none yet
            for i in range(n):
                peak, vpeak, total = 0, 0, 0
                for j in range(start[k * n + i], start[k * n + i + 1]):
                    ch = flat[j]
                    peak = max(peak, load[ch] + 1)
                    vpeak = max(vpeak, vload[ch + i * channels] + 1)
                    total += load[ch] + 1
                if best_peak < 0:
                    better = True
                elif peak != best_peak:
                    better = peak < best_peak
                elif vpeak != best_vpeak:
                    better = vpeak < best_vpeak
                elif total != best_sum:
                    better = total < best_sum
                else:
                    better = i == cur
                if better:
                    best, best_peak, best_vpeak, best_sum = i, peak, vpeak, total
            _place(flat, start, load, vload, k * n + best, best * channels, 1)
            if best != cur:
                moved += 1
            choice[k] = best
        if moved == 0:
            break
    return choice, load.max() if channels else 0


@njit(cache=True, inline="always")
def _place(flat, start, load, vload, row, plane_offset, delta):
    """Add ``delta`` to the loads of the channels of CSR row ``row`` (one key on one
    plane), in ``load`` and in that plane's part of ``vload``."""
    for j in range(start[row], start[row + 1]):
        load[flat[j]] += delta
        vload[flat[j] + plane_offset] += delta


def route_planes(shape, dead, *, routing="xy", vcs=2):
    """Checked VC planes for a dead-router map (cached per map).

    Candidates: for each base order (``routing`` for even VCs, the other order for odd
    VCs) the repairs of :func:`gen.routing.route.repair_candidates` (best first; the first
    :data:`_PAIR_CANDIDATES` of each on meshes up to :data:`_PAIR_ROUTERS` routers, else
    the best only), or :func:`gen.routing.route.route_tables` where there is none (up*/down*).
    For each pair of candidates, each source's choice per key (a node of its own die, or
    an other die): greedy passes that move a key to the plane whose route has the lowest
    (most loaded link, most loaded link of that plane, summed load) given everything
    else, until nothing moves (the second term keeps a link's traffic spread over its
    VCs: a link whose flits all ride one VC loses the other VC's buffer). The pair with
    the least loaded worst link is kept; VCs of one base share its tables and its keys,
    round-robin. Only for ``vcs >= 2`` and up to 1024 routers (ValueError otherwise: the
    caller keeps one table set). Deterministic."""
    if not isinstance(shape, MeshShape):
        raise TypeError(f"shape must be a MeshShape, not {shape!r}")
    check_count("vcs", vcs)
    if vcs < 2:
        raise ValueError(f"VC planes need at least 2 VCs, not {vcs}")
    if shape.routers > REPAIR_MAX_ROUTERS:
        raise ValueError(f"VC planes are computed up to {REPAIR_MAX_ROUTERS} routers, "
                         f"not {shape.routers}")
    if routing not in ("xy", "yx"):
        raise ValueError(f"routing must be 'xy' or 'yx', not {routing!r}")
    dead = check_dead(shape, dead)
    key = (shape, dead, routing, vcs)
    if key not in _CACHE:
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _route_planes(shape, dead, routing, vcs)
    return _CACHE[key]


#: route_planes by (shape, dead, routing, vcs): a sweep builds the same map for every point
_CACHE = {}


def _route_planes(shape, dead, routing, vcs):
    other = "yx" if routing == "xy" else "xy"
    bases = [routing if v % 2 == 0 else other for v in range(vcs)]
    distinct = [routing, other]
    many = shape.routers <= _PAIR_ROUTERS
    cands = []
    for b in distinct:
        found = repair_candidates(shape, dead, routing=b, vcs=vcs)
        found = found[:_PAIR_CANDIDATES if many else 1]
        cands.append(found or [route_tables(shape, dead, routing=b, vcs=vcs)])
    live = live_nodes(shape, dead)
    keys = _keys(shape, live)
    routes = [[plane_routes(t, live) for t in c] for c in cands]
    best = None
    for i, a in enumerate(cands[0]):
        for j, b in enumerate(cands[1]):
            choice, peak = _choose(shape, live, keys, [routes[0][i], routes[1][j]])
            if best is None or peak < best[0]:
                best = (peak, (a, b), choice)
    _, pair, choice = best
    tables = tuple(pair[distinct.index(b)] for b in bases)
    s = shape
    sel_die = np.zeros((s.mesh_y, s.mesh_x, s.dies), dtype=np.uint8)
    sel_node = np.zeros((s.mesh_y, s.mesh_x, s.die_nodes), dtype=np.uint8)
    spread = {}
    for (src, kind, idx), i in sorted(choice.items()):
        vs = [v for v in range(vcs) if bases[v] == distinct[i]]
        n = spread.get((src, i), 0)
        spread[src, i] = n + 1
        (sel_node if kind == "node" else sel_die)[src[1], src[0], idx] = vs[n % len(vs)]
    planes = VcPlanes(tables=tables, select_die=sel_die, select_node=sel_node)
    check_planes(planes, vcs=vcs)
    return planes


def check_planes(planes, *, vcs):
    """Prove every plane with :func:`gen.routing.check.check_tables`, and the choice in range
    (zero at dead routers). Returns ``{"planes": [check reports], "uniform_bound"}``."""
    if not isinstance(planes, VcPlanes):
        raise TypeError(f"planes must be VcPlanes, not {planes!r}")
    if len(planes.tables) != vcs:
        raise ValueError(f"{len(planes.tables)} table sets for {vcs} VCs")
    s = planes.shape
    for t in planes.tables:
        if not isinstance(t, RoutingTables) or t.shape != s or t.dead != planes.dead:
            raise ValueError("every plane must be RoutingTables of the same shape and map")
    want = {"select_die": (s.mesh_y, s.mesh_x, s.dies),
            "select_node": (s.mesh_y, s.mesh_x, s.die_nodes)}
    for name, shp in want.items():
        a = getattr(planes, name)
        if a.shape != shp:
            raise ValueError(f"{name} must have shape {shp}, not {a.shape}")
        if a.max(initial=0) >= vcs:
            raise ValueError(f"{name} names VC {int(a.max())}, not below {vcs}")
        for (x, y) in planes.dead:
            if a[y, x].any():
                raise ValueError(f"dead router {(x, y)} has a non-zero {name} entry")
    reports = [check_tables(t, vcs=vcs) for t in planes.tables]
    return {"planes": reports, "uniform_bound": planes_bound(planes)}


def one_plane(tables):
    """``tables`` as VC planes of one table set that every source uses (for the bound)."""
    s = tables.shape
    return VcPlanes(tables=(tables,), select_die=np.zeros((s.mesh_y, s.mesh_x, s.dies), np.uint8),
                    select_node=np.zeros((s.mesh_y, s.mesh_x, s.die_nodes), np.uint8))


def planes_bound(planes, *, live=None, die_ratio=1):
    """Channel-load bound of uniform traffic over the live nodes (flits per live node per
    cycle) when every source follows its choice: live nodes / the most loaded link
    (:func:`gen.routing.bounds.loads_bound`; it equals
    :func:`gen.routing.bounds.uniform_bound` for :func:`one_plane`). ``live``: the nodes
    that send and receive (default: every router not dead; disabled nodes are not live);
    ``die_ratio``: a link that crosses a die boundary carries one flit every ``die_ratio``
    cycles, so its load counts ``die_ratio`` times.

    Vectorised: each distinct table set is walked once for every destination at a time
    (:func:`gen.routing.walk.walk_all`), each source weighted 1 where it is live, not the
    destination and its choice (:func:`source_vc`) names a VC of that table set."""
    s = planes.shape
    live = live_nodes(s, planes.dead) if live is None else [tuple(p) for p in live]
    ids, xs, ys = flat_ids(s)
    is_live = np.zeros(s.routers, dtype=bool)
    for x, y in live:
        is_live[y * s.mesh_x + x] = True
    die_of, node_of = (ys // s.nodes_y) * s.dies_x + xs // s.nodes_x, \
        (ys % s.nodes_y) * s.nodes_x + xs % s.nodes_x
    sel_node = planes.select_node.reshape(s.routers, s.die_nodes)
    sel_die = planes.select_die.reshape(s.routers, s.dies)
    load = np.zeros(s.routers * 4)
    for t in {id(t): t for t in planes.tables}.values():
        mine = np.array([v for v, other in enumerate(planes.tables) if other is t])

        def weight(T, mine=mine):
            vc = np.where(die_of[None, :] == die_of[T][:, None], sel_node[:, node_of[T]].T,
                          sel_die[:, die_of[T]].T)
            return (is_live[None, :] & is_live[T][:, None] & (ids[None, :] != T[:, None])
                    & np.isin(vc, mine)).astype(np.float64)

        load += walk_all(t, weight=weight)["loads"]
    return loads_bound(s, load, len(live), die_ratio=die_ratio)
