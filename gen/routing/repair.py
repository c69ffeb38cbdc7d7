"""Dimension order repaired around dead routers: the default tables of a dead-router map.

Each routing key -- a destination node inside its die (node entries), and in a tile a
destination die (die entries, for the routers outside it) -- gets an in-tree over the
live routers (inside the die for a node key; outside the die, rooted at its live routers,
for a die key), grown by Dijkstra from the destination: a router attaches to an already
attached neighbour ``v`` at cost hops + a penalty for a turn at ``v`` that the base turn
model forbids (odd-even, Chiu 2000, in one of four orientations) + in the rip-up passes a
congestion cost (the link's uniform-traffic load so far and its history); ties go to the
dimension-order port, then to the least loaded link. An attachment ``u -> v`` adds the
channel dependency ``(u -> v) -> (v -> next(v))`` (for a die key entering its die at
``v``: one to each port ``v``'s node entries use) and is taken **only if the channel
dependency graph stays acyclic** (:class:`gen.routing.cdg.DynamicOrder`). Dies without a
dead router keep dimension order inside (their dependencies go forward in the initial
order, no search).

A key that gets stuck (some router can attach nowhere) is moved to the front and the
construction restarted; then rip-up passes reroute each node key's tree with congestion
costs (negotiated congestion, as in FPGA routers), and full rebuilds (``rounds``) are
weighted by the previous round's loads; the tables with the lowest most-loaded link are
kept. How hard to try and which turn model to steer toward is a :class:`RepairStrategy`;
:data:`REPAIR_CANDIDATES` are the ones :func:`gen.routing.route.route_tables` compares.

Deadlock freedom does not rest on the heuristics: every dependency of every route is in
the graph that was kept acyclic, and :func:`gen.routing.check.check_tables` proves it
again from the walked tables. Routes are destination-based trees, so they are loop-free
by construction.
"""

import functools
import heapq
from dataclasses import dataclass, replace

import numpy as np

from rtl.net.directions import EAST, LOCAL, NORTH, OPPOSITE, PORTS, SOUTH, WEST

from .cdg import DynamicOrder, NoOrder, dimension_rank
from .check import refuse_cut
from .dor import xy_tables
from .format import DX, DY, RoutingTables, neighbour
from .live import LiveGraph, check_dead
from .walk import walk_all

__all__ = ["RepairStrategy", "PLAIN", "ODD_EVEN", "ODD_EVEN_SWAPPED",
           "ODD_EVEN_SWAPPED_TRANSPOSED", "ODD_EVEN_NEAR_DEAD", "REPAIR_CANDIDATES",
           "RETRY_STRATEGIES", "repair_tables"]

#: congestion cost of the rip-up passes: _HW * history + _CW * (load / ref) ** _CE
_HW, _CW, _CE = 1.0, 1.0, 2
#: weight of the previous round's loads in a full rebuild (``rounds``)
_PW = 1.0
#: columns (rows) either side of a dead router's where the odd-even rules apply
#: (:attr:`RepairStrategy.near_dead_only`)
_WINDOW = 1
#: the port a flit arriving on port ``p`` came from, seen from the router it came from
_OPPOSITE_PORT = {p: PORTS.index(OPPOSITE[PORTS[p]]) for p in range(1, len(PORTS))}
#: a turn transposed (rows for columns)
_TRANSPOSED = {EAST: SOUTH, SOUTH: EAST, WEST: NORTH, NORTH: WEST}


@dataclass(frozen=True)
class RepairStrategy:
    """How the repair builds its trees.

    Attributes
    ----------
    turn_penalty : int
        Cost added for a turn the odd-even turn model forbids; 0: no turn model (hops
        and congestion only).
    parity_swapped : bool
        Odd-even with the column parity swapped.
    transposed : bool
        Odd-even on rows instead of columns.
    near_dead_only : bool
        The odd-even rules only within :data:`_WINDOW` columns (rows) of a dead router's;
        elsewhere dimension order's turns (no turn from y back to x).
    key_order : int
        0: the node keys in index order; else the seed of a shuffled order (node keys and
        dies).
    restarts : int
        Constructions tried per round, each with the key the last one got stuck on first.
    passes : int
        Rip-up and reroute passes over the node trees after a construction.
    rounds : int
        Full rebuilds, each weighted by the previous rounds' loads; the round with the
        least loaded worst link is kept.
    acyclic : bool
        Keep the channel dependency graph acyclic. False is an analysis only (what the
        constraint costs): :func:`gen.routing.check.check_tables` refuses such tables.
    """
    turn_penalty: int = 0
    parity_swapped: bool = False
    transposed: bool = False
    near_dead_only: bool = False
    key_order: int = 0
    restarts: int = 40
    passes: int = 0
    rounds: int = 1
    acyclic: bool = True

    def __post_init__(self):
        for name, low in (("turn_penalty", 0), ("key_order", 0), ("restarts", 1),
                          ("passes", 0), ("rounds", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
            if value < low:
                raise ValueError(f"{name} must be at least {low}, not {value!r}")
        for name in ("parity_swapped", "transposed", "near_dead_only", "acyclic"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")


#: hop count only: no turn model, no rip-up
PLAIN = RepairStrategy()
#: the odd-even turn model, six rip-up passes, three rounds
ODD_EVEN = RepairStrategy(turn_penalty=4, passes=6, rounds=3)
ODD_EVEN_SWAPPED = replace(ODD_EVEN, parity_swapped=True)
ODD_EVEN_SWAPPED_TRANSPOSED = replace(ODD_EVEN_SWAPPED, transposed=True)
ODD_EVEN_NEAR_DEAD = replace(ODD_EVEN, near_dead_only=True)
#: the repairs route_tables builds and ranks (in this order: the first of equals is kept)
REPAIR_CANDIDATES = (ODD_EVEN_SWAPPED, ODD_EVEN_SWAPPED_TRANSPOSED, ODD_EVEN_NEAR_DEAD, ODD_EVEN)
#: when every candidate gets stuck: shuffled key orders and harder turn penalties, tried in
#: turn before falling back to up*/down*
RETRY_STRATEGIES = tuple(replace(base, key_order=seed, turn_penalty=penalty, restarts=15,
                                 passes=2, rounds=1)
                         for seed in (1, 2, 3) for base in (ODD_EVEN_SWAPPED, ODD_EVEN)
                         for penalty in (4, 8))


def _turn_ok(strategy, col, din, dout, in_window):
    """Odd-even turn model (Chiu 2000): no east->north/south turn in an even column, no
    north/south->west turn in an odd column, in the strategy's orientation (``col``: the
    router's column, its row when transposed); outside the window of
    :attr:`RepairStrategy.near_dead_only`, dimension order's turns."""
    if strategy.transposed:
        din, dout = _TRANSPOSED[din], _TRANSPOSED[dout]
    if not in_window:
        return not (din in (NORTH, SOUTH) and dout in (EAST, WEST))
    even = (col % 2 == 0) != strategy.parity_swapped
    if din == EAST and dout in (NORTH, SOUTH):
        return not even
    if din in (NORTH, SOUTH) and dout == WEST:
        return even
    return True


@functools.lru_cache(maxsize=64)
def _forbidden_turns(shape, strategy, window, windowed):
    """Per router id, the set of ``din * 8 + dout`` turns :func:`_turn_ok` refuses: the
    tree looks a turn up in it instead of evaluating the model at every push (the same for
    every construction of a strategy on a shape, hence cached)."""
    W = shape.mesh_x
    out = []
    for v in range(shape.routers):
        col = v // W if strategy.transposed else v % W
        in_window = not windowed or col in window
        out.append(frozenset(din * 8 + dout for din in range(1, len(PORTS))
                             for dout in range(1, len(PORTS))
                             if not _turn_ok(strategy, col, din, dout, in_window)))
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _node_preferences(shape, routing):
    """``[t][u]``: the dimension-order (``routing``) port from router id ``u`` toward
    router id ``t`` (0 at ``t``), the tie-break of every node key's tree; computed once
    per shape for all keys."""
    N, W = shape.routers, shape.mesh_x
    ids = np.arange(N)
    ux, uy = ids % W, ids // W
    tx, ty = ux[:, None], uy[:, None]
    mx = np.where(tx > ux, EAST, np.where(tx < ux, WEST, 0))
    my = np.where(ty > uy, SOUTH, np.where(ty < uy, NORTH, 0))
    a, b = (mx, my) if routing == "xy" else (my, mx)
    return tuple(tuple(row) for row in np.where(a != 0, a, b).tolist())


@dataclass(frozen=True)
class _Attempt:
    """One construction: the tables (flat ``[router, entry]``), or why it failed and, when
    a node key got stuck, that key (a restart puts it first)."""
    die_tab: np.ndarray = None
    node_tab: np.ndarray = None
    why: str = None
    stuck: int = None


@dataclass(frozen=True)
class _Tree:
    """One key's in-tree: next hop per router, the dependencies it added to the CDG and
    the loads it added per channel."""
    nxt: dict
    edges: list
    contributions: list


class _Construction:
    """The state of one construction (module docstring): the tables being written, the
    CDG kept acyclic, the uniform loads per channel and their history; its steps run in
    :meth:`run`'s order."""

    def __init__(self, g, routing, strategy, prior):
        s = self.shape = g.shape
        self.g, self.routing, self.strategy, self.prior = g, routing, strategy, prior
        N, W = s.routers, s.mesh_x
        self.cdg = self._new_cdg()
        self.load = [0.0] * (N * 4)
        self.hist = [0.0] * (N * 4)
        self.die_tab = np.zeros((N, s.dies), dtype=np.uint8)
        self.node_tab = np.zeros((N, s.die_nodes), dtype=np.uint8)
        self.members = [[] for _ in range(s.dies)]
        for i in range(N):
            if g.live[i]:
                self.members[g.die[i]].append(i)
        self.faulty = [len(self.members[d]) < s.die_nodes for d in range(s.dies)]
        self.port_to = [{v: p for p, v in g.nbrs[i]} for i in range(N)]
        self.rng = np.random.default_rng(strategy.key_order) if strategy.key_order else None
        self.congestion = False             # load-aware costs (the rip-up passes)
        self.window = None
        if strategy.near_dead_only:
            cols = {(i // W if strategy.transposed else i % W) for i in range(N)
                    if not g.live[i]}
            self.window = {c + k for c in cols for k in range(-_WINDOW, _WINDOW + 1)}
        self.ref = max(1.0, (sum(g.live) / 2) ** 2 / max(s.mesh_x, s.mesh_y))
        # per construction constants of the tree's costs: the turns the strategy forbids
        # and the previous rounds' congestion cost per channel
        self.forbidden_turns = (_forbidden_turns(s, strategy, frozenset(self.window or ()),
                                                 self.window is not None)
                                if strategy.turn_penalty else None)
        self.prior_cost = (None if prior is None else
                           [_PW * (p / self.ref) ** _CE for p in prior])

    def _new_cdg(self):
        return (DynamicOrder(dimension_rank(self.shape, self.routing)) if self.strategy.acyclic
                else NoOrder())

    def run(self, front):
        """The construction with the node keys of ``front`` first: an :class:`_Attempt`."""
        self.keep_dimension_order_in_fault_free_dies()
        targets = self.node_keys(front)
        stuck = self.build_node_trees(targets)
        if stuck is not None:
            d = self.g.die[stuck]
            return _Attempt(stuck=stuck, why=f"no acyclic repair inside die "
                            f"({d % self.shape.dies_x}, {d // self.shape.dies_x}) toward "
                            f"{self.g.coord(stuck)}")
        if self.strategy.passes:
            self.rip_up_and_reroute(targets)
        why = self.route_into_dies() if self.shape.dies > 1 else None
        if why is not None:
            return _Attempt(why=why)
        return _Attempt(die_tab=self.die_tab, node_tab=self.node_tab)

    def tree(self, root_set, region, pref, weight, entry_deps):
        """Grow the in-tree of one key from ``root_set`` over ``region`` (ids): Dijkstra
        (hops, or in the rip-up passes hops plus a congestion cost), ties to the preferred
        (dimension-order) port, then to the least loaded channel; an attachment u -> v is
        taken only if its dependency keeps the CDG acyclic. Returns a :class:`_Tree` with
        its loads added, or None (nothing left added).

        The heap holds candidate attachments ``(cost, not preferred, load, push count, u,
        v)``; a cost is summed in a fixed order (hop, congestion, previous rounds, turn),
        so equal routes cost exactly equal floats and the push count breaks the last ties
        in push order. The hot loop reads everything through locals."""
        nbrs, cdg_add, load, port_to = self.g.nbrs, self.cdg.add, self.load, self.port_to
        turn_cost = self.strategy.turn_penalty
        forbidden = self.forbidden_turns
        hist = self.hist if self.congestion else None
        prior_cost, ref = self.prior_cost, self.ref
        heappush, heappop = heapq.heappush, heapq.heappop
        dist, nxt, heap, edges = {}, {}, [], []
        count = 0

        def push(c0, u, v, q):
            nonlocal count
            ch = u * 4 + q - 1
            c = c0 + 1
            if hist is not None:
                c += _HW * hist[ch] + _CW * (load[ch] / ref) ** _CE
            if prior_cost is not None:
                c += prior_cost[ch]
            if turn_cost and v in nxt and q * 8 + port_to[v][nxt[v]] in forbidden[v]:
                c += turn_cost
            heappush(heap, (c, q != pref(u), load[ch], count, u, v))
            count += 1

        for r in root_set:
            dist[r] = 0
        for r in root_set:
            for p, u in nbrs[r]:
                if u in region and u not in dist:
                    push(0, u, r, _OPPOSITE_PORT[p])
        while heap:
            c, _, _, _, u, v = heappop(heap)
            if u in dist:
                continue
            a = u * 4 + port_to[u][v] - 1
            if v in nxt:
                b = v * 4 + port_to[v][nxt[v]] - 1
                if not cdg_add(a, b):
                    continue
                edges.append((a, b))
            elif entry_deps is not None:
                ok = True
                for b in entry_deps(v):
                    if cdg_add(a, b):
                        edges.append((a, b))
                    else:
                        ok = False
                        break
                if not ok:
                    continue
            dist[u] = c
            nxt[u] = v
            for p, w in nbrs[u]:
                if w in region and w not in dist:
                    push(c, w, u, _OPPOSITE_PORT[p])
        if len(nxt) < len(region):
            for e in edges:
                self.cdg.remove(*e)
            return None
        # loads of uniform traffic toward this key: each router's subtree, times weight
        size = {u: 1 for u in nxt}
        contributions = []
        for u in sorted(nxt, key=dist.__getitem__, reverse=True):
            v = nxt[u]
            if v in size:
                size[v] += size[u]
            ch = u * 4 + port_to[u][v] - 1
            load[ch] += size[u] * weight
            contributions.append((ch, size[u] * weight))
        return _Tree(nxt, edges, contributions)

    def unmake(self, tree):
        for e in tree.edges:
            self.cdg.remove(*e)
        for ch, w in tree.contributions:
            self.load[ch] -= w

    def write(self, t, tree):
        lt = self.g.local[t]
        self.node_tab[t, lt] = LOCAL
        for u, v in tree.nxt.items():
            self.node_tab[u, lt] = self.port_to[u][v]

    def node_tree(self, t):
        """The in-tree of node key ``t`` inside its die."""
        prefs = _node_preferences(self.shape, self.routing)[t]
        return self.tree([t], set(self.members[self.g.die[t]]) - {t}, prefs.__getitem__, 1,
                         None)

    def keep_dimension_order_in_fault_free_dies(self):
        """Dies without a dead router keep dimension order inside: their dependencies go
        forward in the initial rank, so they are added without a search, before any
        repair."""
        s, N, W = self.shape, self.shape.routers, self.shape.mesh_x
        if all(self.faulty):
            return
        base = xy_tables(s, self.routing).node.reshape(N, s.die_nodes)
        for d in range(s.dies):
            if self.faulty[d]:
                continue
            ids = np.array(self.members[d])
            self.node_tab[ids] = base[ids]
            lts = np.array([self.g.local[t] for t in self.members[d]])
            P = base[ids][:, lts].astype(np.int64)            # [u, t]
            tgt = ids[None, :]
            move = ids[:, None] != tgt
            V = ids[:, None] + DX[P] + W * DY[P]
            go = move & (V != tgt)
            Pv = base[np.where(go, V, ids[:, None]), lts[None, :]].astype(np.int64)
            a = (ids[:, None] * 4 + P - 1)[go]
            b = (V * 4 + Pv - 1)[go]
            for ea, eb in set(zip(a.tolist(), b.tolist())):
                if not self.cdg.add(ea, eb):
                    raise AssertionError("dimension order refused")

    def node_keys(self, front):
        """The node keys of the dies with a dead router, in the strategy's order, those of
        ``front`` first."""
        s = self.shape
        targets = [t for d in range(s.dies) if self.faulty[d] for t in self.members[d]]
        if self.rng is not None:
            self.rng.shuffle(targets)
        if front:
            fs = set(front)
            targets = ([t for t in front if t in set(targets)]
                       + [t for t in targets if t not in fs])
        return targets

    def build_node_trees(self, targets):
        """Every node key's tree, in order: the key that got stuck, or None."""
        self.records = {}
        for t in targets:
            tree = self.node_tree(t)
            if tree is None:
                return t
            self.records[t] = tree
            self.write(t, tree)
        return None

    def rip_up_and_reroute(self, targets):
        """The strategy's rip-up passes over the node trees (most loaded first), with
        congestion costs; the node tables of the pass with the least loaded worst link are
        kept (and the CDG rebuilt from them for the die trees)."""
        N = self.shape.routers
        load, hist, records = self.load, self.hist, self.records
        best = (max(load), self.node_tab.copy())
        for _ in range(self.strategy.passes):
            peak = max(load)
            for ch in range(N * 4):
                if load[ch] > 0.8 * peak:
                    hist[ch] += load[ch] / peak
            self.congestion = True
            for t in sorted(targets, key=lambda t: -max(load[ch] for ch, _ in
                                                        records[t].contributions)
                            if records[t].contributions else 0):
                self.unmake(records[t])
                tree = self.node_tree(t)
                if tree is None:
                    self._remake(records[t])
                    continue
                records[t] = tree
                self.write(t, tree)
            if max(load) < best[0]:
                best = (max(load), self.node_tab.copy())
        self.congestion = False
        if not np.array_equal(best[1], self.node_tab):
            self.node_tab[:] = best[1]
            self._rebuild_cdg_from_node_tables()

    def _remake(self, tree):
        for e in tree.edges:
            if not self.cdg.add(*e):
                raise AssertionError("a tree's own dependencies closed a cycle")
        for ch, w in tree.contributions:
            self.load[ch] += w

    def _rebuild_cdg_from_node_tables(self):
        """The CDG of the node tables' routes, for the die trees (the loads start again
        from zero)."""
        g, s, W = self.g, self.shape, self.shape.mesh_x
        self.cdg = self._new_cdg()
        self.load = [0.0] * (s.routers * 4)
        for t in (t for d in range(s.dies) for t in self.members[d]):
            lt = g.local[t]
            for u in self.members[g.die[t]]:
                if u == t:
                    continue
                p = int(self.node_tab[u, lt])
                v = neighbour(g.coord(u), p)
                v = v[1] * W + v[0]
                if v != t:
                    pv = int(self.node_tab[v, lt])
                    if not self.cdg.add(u * 4 + p - 1, v * 4 + pv - 1):
                        raise AssertionError("the best node trees closed a cycle")

    def route_into_dies(self):
        """Every die key's tree over the routers outside the die: None, or why one got
        stuck."""
        g, s = self.g, self.shape
        dies = list(range(s.dies))
        if self.rng is not None:
            self.rng.shuffle(dies)
        for d in dies:
            inside = set(self.members[d])
            region = {i for i in range(s.routers) if g.live[i] and i not in inside}
            ddx, ddy = d % s.dies_x, d // s.dies_x
            tree = self.tree(self.members[d], region, self._die_preference(ddx, ddy),
                             len(self.members[d]), self._entry_dependencies(inside))
            if tree is None:
                return f"no acyclic route into die ({ddx}, {ddy}) from every router"
            for u, v in tree.nxt.items():
                self.die_tab[u, d] = self.port_to[u][v]
        return None

    def _die_preference(self, ddx, ddy):
        """Router id -> the dimension-order port toward die ``(ddx, ddy)``."""
        g, s = self.g, self.shape

        def pref(u):
            x, y = g.coord(u)
            rx, ry = x // s.nodes_x, y // s.nodes_y
            mx = EAST if ddx > rx else WEST if ddx < rx else None
            my = SOUTH if ddy > ry else NORTH if ddy < ry else None
            first, second = (mx, my) if self.routing == "xy" else (my, mx)
            return first if first is not None else second
        return pref

    def _entry_dependencies(self, inside):
        """Router id ``v`` of the die ``inside`` -> the channels its node entries use: a die
        key entering at ``v`` depends on each."""
        g, node_tab, memo = self.g, self.node_tab, {}

        def entry_deps(v):
            if v not in memo:
                outs = {int(node_tab[v, g.local[l]]) for l in inside if l != v}
                memo[v] = [v * 4 + p - 1 for p in sorted(outs)]
            return memo[v]
        return entry_deps


def repair_tables(shape, dead, strategy=PLAIN, *, routing="xy"):
    """Dimension order (``routing``) repaired around the dead routers (module docstring),
    with ``strategy``. Raises ValueError when the map is cut or the construction gets
    stuck."""
    if not isinstance(strategy, RepairStrategy):
        raise TypeError(f"strategy must be a RepairStrategy, not {strategy!r}")
    dead = check_dead(shape, dead)
    refuse_cut(shape, dead)
    key = (shape, dead, strategy, routing)
    if key not in _CACHE:
        if len(_CACHE) >= 256:
            _CACHE.pop(next(iter(_CACHE)))
        try:
            _CACHE[key] = _repair_tables(shape, dead, strategy, routing)
        except ValueError as e:
            _CACHE[key] = str(e)
    found = _CACHE[key]
    if isinstance(found, str):
        raise ValueError(found)
    t = found
    return RoutingTables(shape=t.shape, dead=t.dead, die=t.die.copy(), node=t.node.copy(),
                         algorithm=t.algorithm, root=t.root, info=dict(t.info))


#: repair_tables by (shape, dead, strategy, routing): the tables, or the ValueError's
#: message. Deterministic; route_tables, repair_candidates (per vcs) and the VC planes
#: ask for the same repairs of one map again and again.
_CACHE = {}


def _repair_tables(shape, dead, strategy, routing):
    """:func:`repair_tables` without the cache: the rounds of constructions."""
    g = LiveGraph(shape, dead)
    front, prior, best, why = [], None, None, None
    for _ in range(strategy.rounds):
        attempt, front = _construct(g, routing, strategy, front, prior)
        if attempt.why is not None:
            why = attempt.why
            break
        if strategy.rounds > 1:
            walked = walk_all(_tables(shape, dead, attempt, routing, strategy))
            load = walked["loads"].tolist()
            peak = max(load)
            if best is None or peak < best[0]:
                best = (peak, attempt)
            prior = load if prior is None else [0.5 * a + 0.5 * b for a, b in zip(prior, load)]
        else:
            best = (None, attempt)
    if best is None:
        raise ValueError(f"cannot repair {routing} routing around this map: {why}")
    return _tables(shape, dead, best[1], routing, strategy)


def _tables(shape, dead, attempt, routing, strategy):
    s = shape
    return RoutingTables(shape=s, dead=dead,
                         die=attempt.die_tab.reshape(s.mesh_y, s.mesh_x, s.dies),
                         node=attempt.node_tab.reshape(s.mesh_y, s.mesh_x, s.die_nodes),
                         algorithm="repair", info={"base": routing, "variant": strategy.key_order})


def _construct(g, routing, strategy, front, prior):
    """Up to ``strategy.restarts`` constructions, each with the key the last one got
    stuck on moved to the front: ``(the first that does not get stuck on a node key, or
    the last; the front then)``."""
    for _ in range(strategy.restarts):
        attempt = _Construction(g, routing, strategy, prior).run(front)
        if attempt.why is None or attempt.stuck is None:
            break
        front = [attempt.stuck] + [t for t in front if t != attempt.stuck]
    return attempt, front
