"""Routing tables for the table router: generation from a dead-router map, and the checks.

What it computes
----------------
For a tile of ``dies_x`` x ``dies_y`` dies of ``nodes_x`` x ``nodes_y`` nodes (one global
mesh, DESIGN.md section 5) and a set of dead routers (global ``(x, y)``: nothing enters or
leaves them), one routing table per live router such that following the tables delivers
every flit between live nodes without loops and without deadlock. With no dead router the
tables are exactly dimension-order routing (XY, or YX), the router's fixed function today.

Table format (hierarchical)
---------------------------
Each router ``r`` holds two tables, not one entry per node of the tile:

* ``die[r][d]``, indexed by the destination **die** ``d = die_y * dies_x + die_x``
  (``dies_x * dies_y`` entries of :data:`DIE_ENTRY_BITS` = 5 bits): bits ``[2:0]`` a port
  index (``rtl.net.directions.PORTS`` order: local, north, east, south, west), bit 3
  ``take_x``, bit 4 ``take_y``;
* ``node[r][l]``, indexed by the destination's position **within its die**
  ``l = (y % nodes_y) * nodes_x + x % nodes_x`` (``nodes_x * nodes_y`` entries of
  :data:`NODE_ENTRY_BITS` = 3 bits): a port index.

A full 95 x 95 tile (5 x 5 dies of 19 x 19) needs 25 + 361 entries per router, not 9025.

The combination rule (:func:`combine`, the one definition; :func:`output_port` applies it
to a router and a destination)::

    n = node[r][l]
    if d == die(r):                                  port = n
    elif take_x(die[r][d]) and n in (east, west):    port = n
    elif take_y(die[r][d]) and n in (north, south):  port = n
    else:                                            port = port(die[r][d])

The output is one port; the router's route is its one-hot (:func:`onehot`, bit order of
``PORTS``). The same tables serve every VC and both message classes (see VCs below).

Why ``take_x``/``take_y``: global XY needs the destination's x within its die whenever the
destination die is in the router's own die column (go east/west until the column is right,
then north/south); the node table already holds exactly that x decision (an own-die XY
entry is east/west iff the x within the die differs), so the die entry says "south, unless
the node table says east or west". YX is the mirror (``take_y`` in the own die row). With
faults the generated die entries are plain ports (both bits clear).

Dead destinations: their entries are ``local`` (a misaddressed flit is ejected at once;
traffic never addresses a dead node). Dead routers' tables are all zero and never read.

Which table is read
-------------------
Each router reads its own table, for the head's destination, in the cycle the head
arrives (:mod:`rtl.net.router`: the read sits before the bypass request, one asynchronous
read port per input), and the network interface reads its router's table for what it
injects. The tables and the rule are the same whatever the storage: :func:`output_port`
is what an RTL table router, the fast network model and the walker of
:func:`check_tables` are tested against.

Algorithm
---------
* **No dead router**: :func:`xy_tables` writes dimension-order tables (``take_x`` in the
  own die column for XY, ``take_y`` in the own die row for YX). The tests compare
  :func:`output_port` with XY/YX for every (router, destination) pair.
* **Dead routers** (default, :func:`repair_tables`): dimension order *repaired* around the
  dead routers. Each routing key -- a destination node inside its die (node entries), and
  in a tile a destination die (die entries, for the routers outside it) -- gets an in-tree
  over the live routers (inside the die for a node key; outside the die, rooted at its
  live routers, for a die key), grown by Dijkstra from the destination: a router attaches
  to an already attached neighbour ``v``, at cost hops + a penalty for a turn at ``v``
  outside a base turn model (odd-even, Chiu 2000, in one of four orientations) + in the
  rip-up passes a congestion cost (the link's uniform-traffic load so far and its
  history); ties go to the dimension-order port, then to the least loaded link. An
  attachment ``u -> v`` adds the channel dependency ``(u -> v) -> (v -> next(v))`` (for a
  die key entering its die at ``v``: one to each port ``v``'s node entries use) and is
  taken **only if the channel dependency graph stays acyclic**: the graph of all keys so
  far is kept with a topological order of the channels, updated on each insertion
  (Pearce & Kelly's dynamic topological sort; an insertion that closes a cycle is
  refused, and removals -- rip-up -- keep the order valid). Dies without a dead router
  keep XY inside (their dependencies go forward in the initial order: dimension order's
  channel ranking, no search). A key that gets stuck (some router can attach nowhere) is
  moved to the front and the construction restarted (up to 40 times); then a few passes
  rip up and reroute each node key's tree with congestion costs (negotiated congestion,
  as in FPGA routers), and a few full rebuilds weighted by the previous round's loads;
  the tables with the lowest most-loaded link are kept. :func:`route_tables` tries
  several base orientations on small meshes and keeps the tables with the highest
  uniform channel-load bound (:func:`uniform_bound`).
  Deadlock freedom does not rest on the heuristics: every dependency of every route is
  in the graph that was kept acyclic, and :func:`check_tables` proves it again from the
  walked tables before anything is returned. Routes are destination-based trees, so
  they are loop-free by construction (and walked to prove it).
* **Dead routers, fallback** (if the repair gets stuck on every candidate):
  up*/down* routing on a total order of the live routers, made
  destination-based and hierarchical. A link ``u -> v`` is *up* if ``v`` comes before ``u``
  in the order; a route may take up links and then down links, never an up link after a
  down link. The order is a breadth-first search over the live routers from the one
  nearest the mesh centre (down = one hop farther from the root); if that order does not
  fit the tables (below), a hierarchical order (dies in breadth-first order, each die
  searched from a gateway router next to an earlier die) is tried instead.
  For a destination die ``d``:

  - ``E_d``: the routers of ``d`` from which every live router of ``d`` is reachable by
    down links inside ``d``;
  - routers outside ``d`` that reach ``E_d`` by down links through routers outside ``d``
    go down that way (die entry: the first hop of a shortest such path); the others go up,
    to the up neighbour from which entering ``d`` takes the fewest hops. This is one port
    per die, whatever the node;
  - inside ``d``, for destination ``l``: a router from which ``l`` is reachable by down links
    inside ``d`` goes down (any such path is shortest: down links add one BFS level each);
    the others go up to the neighbour (inside or outside ``d``) with the shortest
    remaining route, computed exactly by dynamic programming in the order (the route
    outside ``d`` does not depend on ``l``).

  A router labelled *down* for a destination only forwards to routers labelled down for
  it (``E_d`` is down for every ``l``), so every route is up* then down*: the channel
  dependency graph has up -> up (strictly decreasing order), up -> down and down -> down
  (strictly increasing) edges and no down -> up edge, hence no cycle, for any set of such
  routes. The order fits when every die has a non-empty ``E_d`` and the root is labelled
  down for every die (it has no up link). The hierarchical order always fits when each
  die's live routers are connected inside the die and the dies are connected; a die whose
  live routers fall apart inside the die cannot be served by per-die entries outside it
  (they cannot tell its parts apart) and is refused with that message.

VCs
---
No VC changes: a flit on VC ``v`` leaves on VC ``v`` (the router's static VCs), requests on
``rtl.node.layouts.request_vcs``, responses on ``response_vcs``. Since every VC follows
the same tables, each VC's channel dependency graph is the physical one, which the check
proves acyclic; deadlock freedom needs no escape VC, so ``vcs = 2`` (one per class) is
enough, as today. Traffic meshes with dead routers use one table set *per VC* instead
(:mod:`gen.vc_planes`): each is a complete table set from this module, checked here.

Checks (:func:`check_tables`, before anything is emitted)
---------------------------------------------------------
* format: shapes, entry ranges, dead routers' tables zero;
* every live pair is connected *by walking the tables* with :func:`combine`, the rule above:
  each hop stays on the mesh and never enters a dead router, ``local`` only at the
  destination, no loop (pointer doubling over all pairs at once: after ``2**k >= routers``
  steps every walk must sit at its destination);
* the channel dependency graph of each message class, built from the walked routes
  (channel = (router, output port, VC); an edge for every pair of consecutive hops of a
  route) is acyclic (Kahn's algorithm; a cycle is reported channel by channel);
* requests and responses stay on their VCs (the VC rule maps each class's VCs into
  themselves, and the classes' VC sets are disjoint when ``vcs >= 2``).

An unroutable map (the live routers are not connected) is refused by :func:`route_tables`
naming the live routers cut off from the largest connected part.

Above 1024 routers the tables are not repaired (the dependency searches in the large graph
take minutes there): they get up*/down*. The routes' bounds, stretch and generation times
of both algorithms are recorded in docs/results.md; the saturation of repaired maps
against the fault-free mesh is measured by ``make bench`` (BENCHMARKS.md, faults section).
"""

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from rtl.net.directions import EAST, LOCAL, NORTH, OPPOSITE, PORTS, SOUTH, STEP, WEST
# the table-entry format is the hardware's: one definition, in rtl.net.routing_table
from rtl.net.routing_table import DIE_ENTRY_BITS, NODE_ENTRY_BITS, TAKE_X, TAKE_Y
from rtl.node.layouts import request_vcs, response_vcs

__all__ = ["DIE_ENTRY_BITS", "NODE_ENTRY_BITS", "TAKE_X", "TAKE_Y", "MeshShape",
           "RoutingTables", "die_entry", "combine", "onehot", "output_port",
           "walk", "xy_tables", "updown_tables", "repair_tables", "repair_candidates", "route_tables",
           "uniform_bound", "check_tables", "stretch",
           "live_components", "dor_uniform_loads", "loads_bound"]

_PORT_MASK = 0b111

#: port index -> (dx, dy)
_DX = np.array([STEP[p][0] for p in PORTS], dtype=np.int64)
_DY = np.array([STEP[p][1] for p in PORTS], dtype=np.int64)


def _check_count(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value!r}")


@dataclass(frozen=True)
class MeshShape:
    """A tile of ``dies_x`` x ``dies_y`` dies of ``nodes_x`` x ``nodes_y`` nodes (global mesh)."""
    dies_x: int
    dies_y: int
    nodes_x: int
    nodes_y: int

    def __post_init__(self):
        for name in ("dies_x", "dies_y", "nodes_x", "nodes_y"):
            _check_count(name, getattr(self, name))

    mesh_x = property(lambda self: self.dies_x * self.nodes_x)
    mesh_y = property(lambda self: self.dies_y * self.nodes_y)
    routers = property(lambda self: self.mesh_x * self.mesh_y)
    dies = property(lambda self: self.dies_x * self.dies_y)
    die_nodes = property(lambda self: self.nodes_x * self.nodes_y)

    def die_of(self, x, y):
        """Index of the die holding global node ``(x, y)`` (row-major over dies)."""
        return (y // self.nodes_y) * self.dies_x + x // self.nodes_x

    def node_of(self, x, y):
        """Index of ``(x, y)`` within its die (row-major over the die's nodes)."""
        return (y % self.nodes_y) * self.nodes_x + x % self.nodes_x

    def contains(self, x, y):
        return 0 <= x < self.mesh_x and 0 <= y < self.mesh_y


@dataclass(frozen=True, eq=False)
class RoutingTables:
    """Per-router hierarchical tables.

    Attributes
    ----------
    shape : MeshShape
    dead : frozenset of (x, y)
        Dead routers, global coordinates.
    die : numpy.ndarray, uint8, shape ``(mesh_y, mesh_x, dies)``
        ``die[y, x, d]``: the die entry of router ``(x, y)`` for destination die ``d``.
    node : numpy.ndarray, uint8, shape ``(mesh_y, mesh_x, die_nodes)``
        ``node[y, x, l]``: the node entry of router ``(x, y)`` for node ``l`` of a die.
    algorithm : str
        ``"xy"``, ``"yx"``, ``"repair"`` or ``"updown"``.
    root : (x, y) or None
        The up*/down* root (``None`` for dimension order).
    """
    shape: MeshShape
    dead: frozenset
    die: np.ndarray
    node: np.ndarray
    algorithm: str
    root: tuple = None
    info: dict = field(default_factory=dict)

    @property
    def entries_per_router(self):
        """Table entries one router holds: dies + nodes of a die."""
        return self.die.shape[2] + self.node.shape[2]

    def is_live(self, x, y):
        return self.shape.contains(x, y) and (x, y) not in self.dead


def die_entry(port, *, take_x=False, take_y=False):
    """Encode a die-table entry (``port`` a ``PORTS`` index or name)."""
    if isinstance(port, str):
        port = PORTS.index(port)
    return port | (TAKE_X if take_x else 0) | (TAKE_Y if take_y else 0)


def combine(die_ent, node_ent, same_die):
    """THE lookup rule: the output port (``PORTS`` index) from a router's die entry for the
    destination die, its node entry for the destination's node-within-die and whether the
    destination die is the router's own. Element-wise: ints or numpy arrays."""
    die_ent = np.asarray(die_ent)
    node_ent = np.asarray(node_ent)
    along_x = (node_ent == EAST) | (node_ent == WEST)
    along_y = (node_ent == NORTH) | (node_ent == SOUTH)
    use_node = (np.asarray(same_die, dtype=bool)
                | (((die_ent & TAKE_X) != 0) & along_x)
                | (((die_ent & TAKE_Y) != 0) & along_y))
    out = np.where(use_node, node_ent, die_ent & _PORT_MASK)
    return int(out) if out.ndim == 0 else out


def onehot(port):
    """One-hot route (bit order of ``PORTS``) of a port index."""
    return 1 << port


def output_port(tables, router, dst):
    """Port index through which ``router`` (global ``(x, y)``) sends a head for ``dst``."""
    (x, y), (dx, dy) = router, dst
    s = tables.shape
    d, l = s.die_of(dx, dy), s.node_of(dx, dy)
    return combine(int(tables.die[y, x, d]), int(tables.node[y, x, l]), d == s.die_of(x, y))


def neighbour(router, port):
    """The router on ``port`` of ``router`` (``port`` a ``PORTS`` index)."""
    return router[0] + int(_DX[port]), router[1] + int(_DY[port])


def walk(tables, src, dst, limit=None):
    """The routers a head visits from ``src`` to ``dst`` following the tables (both ends
    included). Raises ValueError if it leaves the mesh, enters a dead router, is ejected
    early or exceeds ``limit`` hops (default: the number of routers: a loop)."""
    limit = tables.shape.routers if limit is None else limit
    path = [tuple(src)]
    here = tuple(src)
    while True:
        p = output_port(tables, here, dst)
        if p == LOCAL:
            if here != tuple(dst):
                raise ValueError(f"a head from {src} to {dst} is ejected at {here}")
            return path
        here = neighbour(here, p)
        if not tables.is_live(*here):
            what = "off the mesh" if not tables.shape.contains(*here) else "into dead router"
            raise ValueError(f"a head from {src} to {dst} goes {what} {here} "
                             f"(from {path[-1]}, port {PORTS[p]})")
        path.append(here)
        if len(path) > limit + 1:
            raise ValueError(f"a head from {src} to {dst} loops: "
                             + " -> ".join(map(str, path[:12])) + " ...")


# -- validation ----------------------------------------------------------------------------

def _check_dead(shape, dead):
    out = set()
    for c in dead:
        if (not isinstance(c, (tuple, list)) or len(c) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in c)):
            raise TypeError(f"a dead router must be an (x, y) pair of integers, not {c!r}")
        c = (c[0], c[1])
        if not shape.contains(*c):
            raise ValueError(f"dead router {c} is outside the {shape.mesh_x} x {shape.mesh_y} mesh")
        if c in out:
            raise ValueError(f"dead router {c} is listed twice")
        out.add(c)
    if len(out) == shape.routers:
        raise ValueError("every router is dead")
    return frozenset(out)


def live_components(shape, dead):
    """Connected groups of live routers (lists of (x, y)), largest first."""
    dead = frozenset(dead)
    seen, comps = set(), []
    for y in range(shape.mesh_y):
        for x in range(shape.mesh_x):
            if (x, y) in dead or (x, y) in seen:
                continue
            comp, queue = [], deque([(x, y)])
            seen.add((x, y))
            while queue:
                u = queue.popleft()
                comp.append(u)
                for p in range(1, len(PORTS)):
                    v = neighbour(u, p)
                    if shape.contains(*v) and v not in dead and v not in seen:
                        seen.add(v)
                        queue.append(v)
            comps.append(sorted(comp, key=lambda c: (c[1], c[0])))
    comps.sort(key=lambda c: (-len(c), c[0][1], c[0][0]))
    return comps


# -- dimension order --------------------------------------------------------------------------

def xy_tables(shape, routing="xy"):
    """Tables that reproduce dimension-order routing (``"xy"`` or ``"yx"``) exactly."""
    if routing not in ("xy", "yx"):
        raise ValueError(f"routing must be 'xy' or 'yx', not {routing!r}")
    s = shape
    X, Y = np.meshgrid(np.arange(s.mesh_x), np.arange(s.mesh_y))        # router coordinates
    lx, ly = (X % s.nodes_x)[..., None], (Y % s.nodes_y)[..., None]
    rdx, rdy = (X // s.nodes_x)[..., None], (Y // s.nodes_y)[..., None]
    L = np.arange(s.die_nodes)
    tx, ty = L % s.nodes_x, L // s.nodes_x                              # destination in die
    D = np.arange(s.dies)
    ddx, ddy = D % s.dies_x, D // s.dies_x                              # destination die

    def pick(dim_a, dim_b):
        """Dimension order over two (plus, minus, port+, port-) tuples, else local."""
        out = np.full(np.broadcast_shapes(dim_a[0].shape, dim_b[0].shape), LOCAL)
        for plus, minus, pp, pm in reversed((dim_a, dim_b)):
            out = np.where(plus, pp, np.where(minus, pm, out))
        return out

    nx_dim = (tx > lx, tx < lx, EAST, WEST)
    ny_dim = (ty > ly, ty < ly, SOUTH, NORTH)
    node = pick(nx_dim, ny_dim) if routing == "xy" else pick(ny_dim, nx_dim)
    dx_dim = (ddx > rdx, ddx < rdx, EAST, WEST)
    dy_dim = (ddy > rdy, ddy < rdy, SOUTH, NORTH)
    if routing == "xy":
        die = pick(dx_dim, dy_dim) | np.where(ddx == rdx, TAKE_X, 0)
    else:
        die = pick(dy_dim, dx_dim) | np.where(ddy == rdy, TAKE_Y, 0)
    die = np.where((ddx == rdx) & (ddy == rdy), 0, die)                # own die: unused
    return RoutingTables(shape=s, dead=frozenset(), die=die.astype(np.uint8),
                         node=node.astype(np.uint8), algorithm=routing)


# -- up*/down* ---------------------------------------------------------------------------------

class _Graph:
    """Live routers as flat ids ``y * mesh_x + x`` with their live neighbours."""

    def __init__(self, shape, dead):
        self.shape = shape
        W = shape.mesh_x
        self.live = [(i % W, i // W) not in dead for i in range(shape.routers)]
        self.nbrs = []
        for i in range(shape.routers):
            u = (i % W, i // W)
            out = []
            if self.live[i]:
                for p in range(1, len(PORTS)):
                    v = neighbour(u, p)
                    if shape.contains(*v) and v not in dead:
                        out.append((p, v[1] * W + v[0]))
            self.nbrs.append(out)
        self.die = [shape.die_of(i % W, i // W) for i in range(shape.routers)]
        self.local = [shape.node_of(i % W, i // W) for i in range(shape.routers)]

    def coord(self, i):
        return i % self.shape.mesh_x, i // self.shape.mesh_x


def _bfs_order(g, root, allowed=None):
    """Breadth-first visiting order (ids) and levels from ``root`` over ``allowed`` ids."""
    order, level = [root], {root: 0}
    k = 0
    while k < len(order):
        u = order[k]
        k += 1
        for _, v in g.nbrs[u]:
            if v not in level and (allowed is None or v in allowed):
                level[v] = level[u] + 1
                order.append(v)
    return order, level


def _central(g, ids):
    """The id in ``ids`` nearest the mesh centre (ties: lowest id)."""
    cx, cy = (g.shape.mesh_x - 1) / 2, (g.shape.mesh_y - 1) / 2
    return min(ids, key=lambda i: (abs(g.coord(i)[0] - cx) + abs(g.coord(i)[1] - cy), i))


def _global_order(g, root):
    order, level = _bfs_order(g, root)
    return order, level


def _hierarchical_order(g, root):
    """Dies in breadth-first order from the root's die; inside each die a breadth-first
    search from a gateway next to an earlier die. None (and a reason) if a die's live
    routers are not connected inside the die."""
    s = g.shape
    members = [[] for _ in range(s.dies)]
    for i in range(s.routers):
        if g.live[i]:
            members[g.die[i]].append(i)
    pos, order, level = {}, [], {}

    def add_die(d, gateway):
        part, lv = _bfs_order(g, gateway, allowed=set(members[d]))
        if len(part) != len(members[d]):
            missing = sorted(set(members[d]) - set(part))
            return ("the live routers of die ({}, {}) are not connected inside the die: {} "
                    "cannot be reached from {} without leaving it".format(
                        d % s.dies_x, d // s.dies_x, ", ".join(str(g.coord(i)) for i in missing),
                        g.coord(gateway)))
        for i in part:
            pos[i] = len(order)
            order.append(i)
            level[i] = lv[i]
        return None

    why = add_die(g.die[root], root)
    if why:
        return None, None, why
    done = {g.die[root]}
    while len(done) < sum(1 for m in members if m):
        # the next die: one with a live router next to an ordered router (earliest first)
        best = None
        for i in order:
            for _, v in g.nbrs[i]:
                if g.die[v] not in done and (best is None or pos[i] < best[0]):
                    best = (pos[i], v)
            if best is not None:
                break
        if best is None:          # cannot happen for a connected mesh
            return None, None, "the dies are not connected"
        d = g.die[best[1]]
        why = add_die(d, best[1])
        if why:
            return None, None, why
        done.add(d)
    return order, level, None


def _updown_from_order(g, order, level):
    """Tables from a connected order (see the module docstring), or (None, reason)."""
    s = g.shape
    N = s.routers
    O = [-1] * N
    for k, i in enumerate(order):
        O[i] = k
    m = order[0]
    die_tab = np.zeros((N, s.dies), dtype=np.uint8)
    node_tab = np.zeros((N, s.die_nodes), dtype=np.uint8)
    members = [[] for _ in range(s.dies)]
    for i in order:                       # in order: members sorted by O
        members[g.die[i]].append(i)
    outside_all = order                   # sorted by O
    up = [[(p, v) for p, v in g.nbrs[u] if O[v] < O[u]] for u in range(N)]
    down = [[(p, v) for p, v in g.nbrs[u] if O[v] > O[u]] for u in range(N)]

    for d in range(s.dies):
        inside = members[d]
        if not inside:
            continue
        inset = set(inside)
        bit = {q: 1 << g.local[q] for q in inside}
        full = 0
        for q in inside:
            full |= bit[q]
        # reach[q]: nodes of d reachable from q by down links inside d (decreasing order)
        reach = {}
        for q in reversed(inside):
            r = bit[q]
            for _, v in down[q]:
                if v in inset:
                    r |= reach[v]
            reach[q] = r
        E = [q for q in inside if reach[q] == full]
        if not E:
            return None, (f"die ({d % s.dies_x}, {d // s.dies_x}): no live router reaches all "
                          f"of its die going away from the root")
        # S_d: outside routers with a down path into E through outside routers
        distS = {q: 0 for q in E}
        queue = deque(E)
        while queue:
            v = queue.popleft()
            for _, u in up[v]:                   # u -> v is a down link
                if u not in inset and u not in distS:
                    distS[u] = distS[v] + 1
                    queue.append(u)
        if (m in inset and m not in E) or (m not in inset and m not in distS):
            return None, (f"die ({d % s.dies_x}, {d // s.dies_x}): the root cannot reach it "
                          f"going down only")
        # outside next hops, in increasing order (up choices depend on earlier routers)
        h, nxt = {}, {}
        for u in outside_all:
            if u in inset:
                continue
            if u in distS:
                p, v = min(((p, v) for p, v in down[u]
                            if v in distS and distS[v] == distS[u] - 1),
                           key=lambda pv: (pv[0] not in (EAST, WEST), pv[0]))
                h[u] = distS[u]
            else:
                p, v = min(up[u], key=lambda pv: (0 if pv[1] in inset else h[pv[1]], pv[0]))
                h[u] = 1 + (0 if v in inset else h[v])
            nxt[u] = v
            die_tab[u, d] = p
        # entry into d and hops to it, for every outside router (shared by all l)
        entry, hops = {}, {}
        for u in outside_all:
            if u in inset or u in entry:
                continue
            chain = []
            v = u
            while v not in inset and v not in entry:
                chain.append(v)
                v = nxt[v]
            e, n = (v, 0) if v in inset else (entry[v], hops[v])
            for w in reversed(chain):
                n += 1
                entry[w], hops[w] = e, n
        # inside, per destination l
        for l in inside:
            lb, li = bit[l], g.local[l]
            cost = {}
            for q in inside:
                if reach[q] & lb:
                    cost[q] = level[l] - level[q]
            for q in inside:
                if q == l:
                    node_tab[q, li] = LOCAL
                elif reach[q] & lb:
                    p = min((p for p, v in down[q] if v in inset and reach[v] & lb),
                            key=lambda p: (p not in (EAST, WEST), p))
                    node_tab[q, li] = p
                else:
                    best = None
                    for p, v in up[q]:
                        c = 1 + cost[v] if v in inset else 1 + hops[v] + cost[entry[v]]
                        if best is None or (c, p) < best:
                            best = (c, p)
                    cost[q] = best[0]
                    node_tab[q, li] = best[1]
    return (die_tab, node_tab), None


def cut_problem(shape, dead):
    """Why the live routers of a dead-router map are not connected (naming the ones cut off
    from the largest connected part), or ``None`` when they are: the one check behind
    :func:`route_tables`' refusal and the config's (``gen.derive.consistency_problems``)."""
    comps = live_components(shape, dead)
    if len(comps) <= 1:
        return None
    cut = sorted((c for comp in comps[1:] for c in comp), key=lambda c: (c[1], c[0]))
    return (f"the mesh is cut: live router{'s' if len(cut) > 1 else ''} "
            f"{', '.join(map(str, cut))} cannot reach the other {len(comps[0])} live routers "
            f"(e.g. {comps[0][0]})")


def _refuse_cut(shape, dead):
    problem = cut_problem(shape, dead)
    if problem:
        raise ValueError(problem)


def updown_tables(shape, dead, *, root=None, order="global"):
    """Up*/down* tables for a dead-router map (module docstring). ``root``: global (x, y)
    of the root (default: the live router nearest the mesh centre); ``order``: ``"global"``
    (breadth-first over the mesh) or ``"hierarchical"`` (dies first). Raises ValueError
    when the map cannot be routed with this order."""
    dead = _check_dead(shape, dead)
    _refuse_cut(shape, dead)
    g = _Graph(shape, dead)
    live_ids = [i for i in range(shape.routers) if g.live[i]]
    if root is None:
        r = _central(g, live_ids)
    else:
        if tuple(root) in dead or not shape.contains(*root):
            raise ValueError(f"root {tuple(root)} is not a live router")
        r = root[1] * shape.mesh_x + root[0]
    if order == "global":
        ords, level = _global_order(g, r)
        why = None
    elif order == "hierarchical":
        ords, level, why = _hierarchical_order(g, r)
    else:
        raise ValueError(f"order must be 'global' or 'hierarchical', not {order!r}")
    if why is None:
        tabs, why = _updown_from_order(g, ords, level)
    if why is not None:
        raise ValueError(f"cannot route this map with the {order} up*/down* order: {why}")
    die_tab, node_tab = tabs
    s = shape
    return RoutingTables(shape=s, dead=dead,
                         die=die_tab.reshape(s.mesh_y, s.mesh_x, s.dies),
                         node=node_tab.reshape(s.mesh_y, s.mesh_x, s.die_nodes),
                         algorithm="updown", root=g.coord(r), info={"order": order})


#: candidate base turn models of the repair (model bits: 2 odd-even penalty, 4 parity swapped,
#: 8 transposed, 16 odd-even only next to dead columns, else XY; 1 congestion from the start),
#: rip-up passes, and the mesh size (routers) up to which the repair is tried: beyond it
#: (a 57 x 57 tile takes ~90 s, mostly the dependency searches in the large graph) the
#: tables are up*/down*
_MODELS = (6, 14, 18, 2)
_PASSES = 6
_ROUNDS = 3
#: when every candidate gets stuck: (model, shuffled key order, turn penalty) tried in turn
#: before falling back to up*/down*
_RETRIES = tuple((m, v, p) for v in (1, 2, 3) for m in (6, 2) for p in (4, 8))
_SMALL = 1024
#: congestion cost of the rip-up passes: _HW * history + _CW * (load / ref) ** _CE
_HW, _CW, _CE = 1.0, 1.0, 2
#: weight of the previous round's loads in a full rebuild (``rounds``)
_PW = 1.0
#: columns (rows) either side of a dead router's where the odd-even rules apply (model 16)
_WINDOW = 1


def route_tables(shape, dead=(), *, routing="xy", vcs=2, roots=1):
    """Checked tables for a dead-router map: dimension order (``routing``) when nothing is
    dead; else, up to :data:`_SMALL` routers, dimension order repaired around the dead
    routers (:func:`repair_tables`, the candidates of :data:`_MODELS`, the one with the
    highest :func:`uniform_bound` kept); else, or if every repair gets stuck, up*/down*
    (global order, then hierarchical; with ``roots > 1`` the ``roots`` live routers
    nearest the centre are tried and the lowest mean stretch kept). Deterministic, and
    cached per map (a copy is returned).
    :func:`check_tables` has passed on what is returned. Raises ValueError naming the
    unreachable live routers if the mesh is cut, or why the map cannot be routed."""
    if not isinstance(shape, MeshShape):
        raise TypeError(f"shape must be a MeshShape, not {shape!r}")
    dead = _check_dead(shape, dead)
    if not dead:
        tables = xy_tables(shape, routing)
        check_tables(tables, vcs=vcs)
        return tables
    _check_count("roots", roots)
    key = (shape, dead, routing, vcs, roots)
    if key not in _CACHE:
        if len(_CACHE) >= 64:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _route_faulty(shape, dead, routing, vcs, roots)
    t = _CACHE[key]
    return RoutingTables(shape=t.shape, dead=t.dead, die=t.die.copy(), node=t.node.copy(),
                         algorithm=t.algorithm, root=t.root, info=dict(t.info))


#: route_tables of dead-router maps, by (shape, dead, routing, vcs, roots): deterministic,
#: and a sweep builds the same map's tables for every point
_CACHE = {}


def repair_candidates(shape, dead, *, routing="xy", vcs=2):
    """The checked repairs of :func:`route_tables` (one per base turn model of
    :data:`_MODELS` that does not get stuck), best first: highest :func:`uniform_bound`,
    then lowest mean stretch. Empty above :data:`_SMALL` routers. Cached per map."""
    dead = _check_dead(shape, dead)
    key = (shape, dead, routing, vcs)
    if key not in _CANDIDATES:
        if len(_CANDIDATES) >= 64:
            _CANDIDATES.pop(next(iter(_CANDIDATES)))
        _refuse_cut(shape, dead)
        found = []
        opts = dict(passes=_PASSES, rounds=_ROUNDS)
        for model in (_MODELS if shape.routers <= _SMALL else ()):
            try:
                t = repair_tables(shape, dead, routing=routing, model=model, **opts)
            except ValueError:
                continue
            report = check_tables(t, vcs=vcs)
            found.append(((report["uniform_bound"], -report["stretch_mean"]), model, t))
        found.sort(key=lambda f: f[0], reverse=True)
        _CANDIDATES[key] = [t for _, _, t in found]
    return [RoutingTables(shape=t.shape, dead=t.dead, die=t.die.copy(), node=t.node.copy(),
                          algorithm=t.algorithm, root=t.root, info=dict(t.info))
            for t in _CANDIDATES[key]]


#: repair_candidates by (shape, dead, routing, vcs)
_CANDIDATES = {}


def _route_faulty(shape, dead, routing, vcs, roots):
    _refuse_cut(shape, dead)
    best = None
    small = shape.routers <= _SMALL
    found = repair_candidates(shape, dead, routing=routing, vcs=vcs) if small else []
    if found:
        best = (None, found[0])
    for model, variant, penalty in (_RETRIES if best is None and small else ()):
        try:
            best = (None, repair_tables(shape, dead, routing=routing, model=model,
                                        variant=variant, turn_penalty=penalty, restarts=15,
                                        passes=2))
            break
        except ValueError:
            continue
    if best is not None:
        return best[1]
    g = _Graph(shape, dead)
    live_ids = [i for i in range(shape.routers) if g.live[i]]
    cx, cy = (shape.mesh_x - 1) / 2, (shape.mesh_y - 1) / 2
    cands = sorted(live_ids, key=lambda i: (abs(g.coord(i)[0] - cx) + abs(g.coord(i)[1] - cy),
                                            i))[:roots]
    best, reasons = None, []
    for order in ("global", "hierarchical"):
        for r in cands:
            try:
                t = updown_tables(shape, dead, root=g.coord(r), order=order)
            except ValueError as e:
                if str(e).startswith("the mesh is cut"):
                    raise
                reasons.append(str(e))
                continue
            report = check_tables(t, vcs=vcs)
            if best is None or report["stretch_mean"] < best[0]:
                best = (report["stretch_mean"], t)
        if best is not None:
            return best[1]
    raise ValueError(reasons[-1])


# -- XY repair (default with dead routers) ------------------------------------------------------

class _DynamicOrder:
    """The channel dependency graph under construction, kept acyclic: a topological order of
    the channels maintained under edge insertions (Pearce & Kelly, "A dynamic topological
    sort algorithm for directed acyclic graphs", JEA 2006). :meth:`add` inserts ``a -> b``
    unless it would close a cycle (then the graph is left unchanged and False returned).
    The initial order is dimension order's channel ranking, in which every dimension-order
    turn goes forward, so dimension-order dependencies never need a search."""

    def __init__(self, rank):
        self.ord = list(rank)                    # channel -> position
        C = len(self.ord)
        self.succ = [[] for _ in range(C)]
        self.pred = [[] for _ in range(C)]
        self.edges = set()
        self.count = {}
        self.refused = set()

    def add(self, a, b):
        key = (a, b)
        if key in self.edges:
            self.count[key] += 1
            return True
        if key in self.refused:
            return False
        o = self.ord
        lb, ub = o[b], o[a]
        if lb < ub:
            # forward search from b among channels not after a; reaching a closes a cycle
            fwd, stack, seen = [], [b], {b}
            while stack:
                n = stack.pop()
                fwd.append(n)
                for w in self.succ[n]:
                    if w == a:
                        self.refused.add(key)
                        return False
                    if w not in seen and o[w] < ub:
                        seen.add(w)
                        stack.append(w)
            bwd, stack, seen_b = [], [a], {a}
            while stack:
                n = stack.pop()
                bwd.append(n)
                for w in self.pred[n]:
                    if w not in seen_b and o[w] > lb:
                        seen_b.add(w)
                        stack.append(w)
            fwd.sort(key=o.__getitem__)
            bwd.sort(key=o.__getitem__)
            slots = sorted(o[n] for n in fwd + bwd)
            for n, pos in zip(bwd + fwd, slots):
                o[n] = pos
        self.edges.add(key)
        self.count[key] = 1
        self.succ[a].append(b)
        self.pred[b].append(a)
        return True

    def remove(self, a, b):
        """Drop one use of ``a -> b`` (the order stays topological when an edge goes)."""
        key = (a, b)
        self.count[key] -= 1
        if self.count[key] == 0:
            del self.count[key]
            self.edges.discard(key)
            self.succ[a].remove(b)
            self.pred[b].remove(a)
            self.refused.clear()


class _NoOrder:
    """Stands in for :class:`_DynamicOrder` when the repair is run without the deadlock
    constraint (``acyclic=False``: an analysis of what the constraint costs; such tables
    are never emitted, :func:`check_tables` refuses their cycles)."""

    def add(self, a, b):
        return True

    def remove(self, a, b):
        pass


def _dimension_rank(shape, routing):
    """Channel (router * 4 + port - 1) -> rank in which every dimension-order turn goes
    forward: the first dimension's channels (+ by coordinate, - by reversed coordinate),
    then the second's."""
    W, H = shape.mesh_x, shape.mesh_y
    keyed = []
    for i in range(shape.routers):
        x, y = i % W, i // W
        for p in range(1, len(PORTS)):
            if p == EAST:
                k = (0, 0, x)
            elif p == WEST:
                k = (0, 1, -x)
            elif p == SOUTH:
                k = (1, 0, y)
            else:
                k = (1, 1, -y)
            if routing == "yx":
                k = (1 - k[0],) + k[1:]
            keyed.append((k, i * 4 + p - 1))
    keyed.sort()
    rank = [0] * len(keyed)
    for pos, (_, c) in enumerate(keyed):
        rank[c] = pos
    return rank


def _dim_port(routing, u, t):
    """Dimension-order port from ``u`` toward ``t`` (global coordinates)."""
    (x, y), (tx, ty) = u, t
    mx = EAST if tx > x else WEST if tx < x else None
    my = SOUTH if ty > y else NORTH if ty < y else None
    first, second = (mx, my) if routing == "xy" else (my, mx)
    return first if first is not None else second if second is not None else LOCAL


def _repair_tables(g, routing, variant=0, front=(), stuck=None, passes=0, model=0,
                   turn_penalty=4, prior=None, out_load=None, acyclic=True):
    """Dimension order repaired around the dead routers (module docstring): ``(die_tab,
    node_tab, None)`` or ``(None, None, reason)`` when the greedy construction gets stuck
    (the key it got stuck on is appended to ``stuck``). ``passes`` rounds of rip-up and
    reroute of the node trees (load-aware costs) follow the first construction."""
    import heapq
    s = g.shape
    N, W = s.routers, s.mesh_x
    cdg = _DynamicOrder(_dimension_rank(s, routing)) if acyclic else _NoOrder()
    load = [0.0] * (N * 4)
    hist = [0.0] * (N * 4)
    die_tab = np.zeros((N, s.dies), dtype=np.uint8)
    node_tab = np.zeros((N, s.die_nodes), dtype=np.uint8)
    members = [[] for _ in range(s.dies)]
    for i in range(N):
        if g.live[i]:
            members[g.die[i]].append(i)
    faulty = [len(members[d]) < s.die_nodes for d in range(s.dies)]
    port_to = [{v: p for p, v in g.nbrs[i]} for i in range(N)]
    rng = np.random.default_rng(variant) if variant else None
    costly = [bool(model & 1)]  # load-aware edge costs (rip-up passes)
    turn_cost = turn_penalty if model & 2 else 0
    _T = {EAST: SOUTH, SOUTH: EAST, WEST: NORTH, NORTH: WEST}
    flip, transpose = bool(model & 4), bool(model & 8)
    window = None
    if model & 16:
        span = _WINDOW
        cols = {(i // W if transpose else i % W) for i in range(N) if not g.live[i]}
        window = {c + k for c in cols for k in range(-span, span + 1)}

    def turn_ok(v, din, dout):
        """Odd-even turn model (Chiu 2000): no east->north/south turn in an even column,
        no north/south->west turn in an odd column (``model`` bit 4: parity swapped; bit
        8: transposed, rows for columns)."""
        col = v // W if transpose else v % W
        if transpose:
            din, dout = _T[din], _T[dout]
        if window is not None and col not in window:
            return not (din in (NORTH, SOUTH) and dout in (EAST, WEST))
        even = (col % 2 == 0) != flip
        if din == EAST and dout in (NORTH, SOUTH):
            return not even
        if din in (NORTH, SOUTH) and dout == WEST:
            return even
        return True
    ref = [max(1.0, (sum(g.live) / 2) ** 2 / max(s.mesh_x, s.mesh_y))]

    def tree(root_set, region, pref, weight, entry_deps):
        """Grow the in-tree of one key from ``root_set`` over ``region`` (ids): Dijkstra
        (hops, or in the rip-up passes hops plus a congestion cost), ties to the preferred
        (dimension-order) port, then to the least loaded channel; an attachment u -> v is
        taken only if its dependency keeps the CDG acyclic. Returns ``(nxt, edges,
        contributions)`` with the tree's loads added, or None (nothing left added)."""
        dist, nxt, heap, cnt, edges = {}, {}, [], 0, []

        def push(c0, u, v, q):
            nonlocal cnt
            ch = u * 4 + q - 1
            c = c0 + 1
            if costly[0]:
                c += _HW * hist[ch] + _CW * (load[ch] / ref[0]) ** _CE
            if prior is not None:
                c += _PW * (prior[ch] / ref[0]) ** _CE
            if turn_cost and v in nxt and not turn_ok(v, q, port_to[v][nxt[v]]):
                c += turn_cost
            heap.append((c, q != pref(u), load[ch], cnt, u, v)) if c0 is None else \
                heapq.heappush(heap, (c, q != pref(u), load[ch], cnt, u, v))
            cnt += 1

        for r in root_set:
            dist[r] = 0
        for r in root_set:
            for p, u in g.nbrs[r]:
                if u in region and u not in dist:
                    push(0, u, r, OPPOSITE_P[p])
        heapq.heapify(heap)
        while heap:
            c, _, _, _, u, v = heapq.heappop(heap)
            if u in dist:
                continue
            a = u * 4 + port_to[u][v] - 1
            if v in nxt:
                b = v * 4 + port_to[v][nxt[v]] - 1
                if not cdg.add(a, b):
                    continue
                edges.append((a, b))
            elif entry_deps is not None:
                ok = True
                for b in entry_deps(v):
                    if cdg.add(a, b):
                        edges.append((a, b))
                    else:
                        ok = False
                        break
                if not ok:
                    continue
            dist[u] = c
            nxt[u] = v
            for p, w in g.nbrs[u]:
                if w in region and w not in dist:
                    push(c, w, u, OPPOSITE_P[p])
        if len(nxt) < len(region):
            for e in edges:
                cdg.remove(*e)
            return None
        # loads of uniform traffic toward this key: each router's subtree, times weight
        size = {u: 1 for u in nxt}
        contrib = []
        for u in sorted(nxt, key=dist.__getitem__, reverse=True):
            v = nxt[u]
            if v in size:
                size[v] += size[u]
            ch = u * 4 + port_to[u][v] - 1
            load[ch] += size[u] * weight
            contrib.append((ch, size[u] * weight))
        return nxt, edges, contrib

    def unmake(rec):
        for e in rec[1]:
            cdg.remove(*e)
        for ch, w in rec[2]:
            load[ch] -= w

    def remake(rec):
        for e in rec[1]:
            if not cdg.add(*e):
                raise AssertionError("a tree's own dependencies closed a cycle")
        for ch, w in rec[2]:
            load[ch] += w

    def write(t, nxt):
        lt = g.local[t]
        node_tab[t, lt] = LOCAL
        for u, v in nxt.items():
            node_tab[u, lt] = port_to[u][v]

    records = {}

    ux, uy = np.arange(N) % W, np.arange(N) // W

    def node_tree(t):
        tx, ty = t % W, t // W
        mx = np.where(tx > ux, EAST, np.where(tx < ux, WEST, 0))
        my = np.where(ty > uy, SOUTH, np.where(ty < uy, NORTH, 0))
        a, b = (mx, my) if routing == "xy" else (my, mx)
        prefs = np.where(a != 0, a, b).tolist()
        return tree([t], set(members[g.die[t]]) - {t}, prefs.__getitem__, 1, None)

    # dies without a dead router keep dimension order inside: their dependencies go
    # forward in the initial rank, so they are added without a search, before any repair
    if not all(faulty):
        base = xy_tables(s, routing).node.reshape(N, s.die_nodes)
        for d in range(s.dies):
            if faulty[d]:
                continue
            ids = np.array(members[d])
            node_tab[ids] = base[ids]
            lts = np.array([g.local[t] for t in members[d]])
            P = base[ids][:, lts].astype(np.int64)            # [u, t]
            tgt = ids[None, :]
            move = ids[:, None] != tgt
            V = ids[:, None] + _DX[P] + W * _DY[P]
            go = move & (V != tgt)
            Pv = base[np.where(go, V, ids[:, None]), lts[None, :]].astype(np.int64)
            a = (ids[:, None] * 4 + P - 1)[go]
            b = (V * 4 + Pv - 1)[go]
            for ea, eb in set(zip(a.tolist(), b.tolist())):
                if not cdg.add(ea, eb):
                    raise AssertionError("dimension order refused")
    targets = [t for d in range(s.dies) if faulty[d] for t in members[d]]
    if rng is not None:
        rng.shuffle(targets)
    if front:
        fs = set(front)
        targets = [t for t in front if t in set(targets)] + [t for t in targets if t not in fs]
    for t in targets:
        rec = node_tree(t)
        if rec is None:
            if stuck is not None:
                stuck.append(t)
            d = g.die[t]
            return None, None, (f"no acyclic repair inside die ({d % s.dies_x}, "
                                f"{d // s.dies_x}) toward {g.coord(t)}")
        records[t] = rec
        write(t, rec[0])
    if passes:
        best = (max(load), node_tab.copy())
        for _ in range(passes):
            peak = max(load)
            for ch in range(N * 4):
                if load[ch] > 0.8 * peak:
                    hist[ch] += load[ch] / peak
            costly[0] = True
            for t in sorted(targets, key=lambda t: -max(load[ch] for ch, _ in records[t][2])
                            if records[t][2] else 0):
                unmake(records[t])
                rec = node_tree(t)
                if rec is None:
                    remake(records[t])
                    continue
                records[t] = rec
                write(t, rec[0])
            if max(load) < best[0]:
                best = (max(load), node_tab.copy())
        costly[0] = False
        if not np.array_equal(best[1], node_tab):
            # rebuild the CDG of the best tables' node trees for the die trees below
            node_tab[:] = best[1]
            cdg = _DynamicOrder(_dimension_rank(s, routing)) if acyclic else _NoOrder()
            load = [0.0] * (N * 4)
            for t in (t for d in range(s.dies) for t in members[d]):
                lt = g.local[t]
                for u in members[g.die[t]]:
                    if u == t:
                        continue
                    p = int(node_tab[u, lt])
                    v = neighbour(g.coord(u), p)
                    v = v[1] * W + v[0]
                    if v != t:
                        pv = int(node_tab[v, lt])
                        if not cdg.add(u * 4 + p - 1, v * 4 + pv - 1):
                            raise AssertionError("the best node trees closed a cycle")
    if s.dies > 1:
        dies = list(range(s.dies))
        if rng is not None:
            rng.shuffle(dies)
        for d in dies:
            inside = set(members[d])
            region = {i for i in range(N) if g.live[i] and i not in inside}
            ddx, ddy = d % s.dies_x, d // s.dies_x

            def pref(u, ddx=ddx, ddy=ddy):
                x, y = g.coord(u)
                rx, ry = x // s.nodes_x, y // s.nodes_y
                mx = EAST if ddx > rx else WEST if ddx < rx else None
                my = SOUTH if ddy > ry else NORTH if ddy < ry else None
                first, second = (mx, my) if routing == "xy" else (my, mx)
                return first if first is not None else second

            def entry_deps(v, inside=inside, memo={}):
                if v not in memo:
                    outs = {int(node_tab[v, g.local[l]]) for l in inside if l != v}
                    memo[v] = [v * 4 + p - 1 for p in sorted(outs)]
                return memo[v]

            rec = tree(members[d], region, pref, len(members[d]), entry_deps)
            if rec is None:
                return None, None, f"no acyclic route into die ({ddx}, {ddy}) from every router"
            for u, v in rec[0].items():
                die_tab[u, d] = port_to[u][v]
    if out_load is not None:
        out_load[:] = load
    return die_tab, node_tab, None


OPPOSITE_P = {p: PORTS.index(OPPOSITE[PORTS[p]]) for p in range(1, len(PORTS))}


def repair_tables(shape, dead, *, routing="xy", variant=0, restarts=40, passes=0, model=0,
                  turn_penalty=4, rounds=1, acyclic=True):
    """Dimension order repaired around the dead routers (module docstring, "Algorithm").
    ``variant`` 0 builds the keys in index order, others in a seeded shuffled order.
    ``acyclic=False`` drops the deadlock constraint (analysis only: what it costs).
    Raises ValueError when the map is cut or the construction gets stuck."""
    dead = _check_dead(shape, dead)
    _refuse_cut(shape, dead)
    g = _Graph(shape, dead)
    front, prior, best = [], None, None
    for rnd in range(rounds):
        for attempt in range(restarts):
            stuck, load = [], []
            die_tab, node_tab, why = _repair_tables(g, routing, variant, front, stuck, passes,
                                                    model, turn_penalty, prior, load, acyclic)
            if why is None or not stuck:
                break
            front = [stuck[0]] + [t for t in front if t != stuck[0]]
        if why is not None:
            break
        if rounds > 1:
            s = shape
            load = _walk_all(RoutingTables(
                shape=s, dead=dead, die=die_tab.reshape(s.mesh_y, s.mesh_x, s.dies),
                node=node_tab.reshape(s.mesh_y, s.mesh_x, s.die_nodes),
                algorithm="repair"))["loads"].tolist()
        peak = max(load)
        if best is None or peak < best[0]:
            best = (peak, die_tab, node_tab)
        prior = load if prior is None else [0.5 * a + 0.5 * b for a, b in zip(prior, load)]
    if best is not None:
        why, die_tab, node_tab = None, best[1], best[2]
    if why is not None:
        raise ValueError(f"cannot repair {routing} routing around this map: {why}")
    s = shape
    return RoutingTables(shape=s, dead=dead,
                         die=die_tab.reshape(s.mesh_y, s.mesh_x, s.dies),
                         node=node_tab.reshape(s.mesh_y, s.mesh_x, s.die_nodes),
                         algorithm="repair", info={"base": routing, "variant": variant})


# -- the checks -------------------------------------------------------------------------------

def _flat_ids(shape):
    W = shape.mesh_x
    ids = np.arange(shape.routers)
    xs, ys = ids % W, ids // W
    return ids, xs, ys


def _walk_all(tables, chunk=None, weight=None):
    """Walk the tables from every live router to every live destination at once.

    Returns a dict of aggregates; raises ValueError on the first broken route. The
    per-hop decision is :func:`combine` applied to the tables, the same rule as
    :func:`output_port`. ``loads`` counts one unit per ordered live pair; with ``weight``
    (``weight(T)`` -> a float array ``[len(T), routers]``: what each router sends toward
    each destination id of ``T``) the units are those weights instead (routes still cross
    every router that is not dead)."""
    s = tables.shape
    N = s.routers
    ids, xs, ys = _flat_ids(s)
    live = np.ones(N, dtype=bool)
    for (x, y) in tables.dead:
        live[y * s.mesh_x + x] = False
    live_ids = ids[live]
    die_of = (ys // s.nodes_y) * s.dies_x + xs // s.nodes_x
    node_of = (ys % s.nodes_y) * s.nodes_x + xs % s.nodes_x
    die_flat = tables.die.reshape(N, s.dies).astype(np.int64)
    node_flat = tables.node.reshape(N, s.die_nodes).astype(np.int64)
    k_steps = max(1, math.ceil(math.log2(N)) + 1)
    if chunk is None:
        chunk = max(1, min(len(live_ids), 4_000_000 // N))
    deps = np.zeros(N * 16, dtype=bool)     # (router v, in port at u, out port at v)
    loads = np.zeros(N * 4)                  # uniform traffic, one unit per live pair
    hops_sum = 0
    manh_sum = 0
    ratio_sum = 0.0
    pairs = 0
    worst = (0.0, None)
    max_hops = 0
    for start in range(0, len(live_ids), chunk):
        T = live_ids[start:start + chunk]
        dt, lt = die_of[T], node_of[T]
        P = combine(die_flat[:, dt].T, node_flat[:, lt].T, die_of[None, :] == dt[:, None])
        nx_, ny_ = xs[None, :] + _DX[P], ys[None, :] + _DY[P]
        on = (nx_ >= 0) & (nx_ < s.mesh_x) & (ny_ >= 0) & (ny_ < s.mesh_y)
        nxt = np.where(on, ny_ * s.mesh_x + nx_, 0)
        here = ids[None, :] == T[:, None]
        lv = live[None, :]
        bad = lv & ~here & ((P == LOCAL) | ~on | ~live[nxt])
        bad |= here & (P != LOCAL)
        if bad.any():
            ti, u = np.argwhere(bad)[0]
            src = (int(xs[u]), int(ys[u]))
            dst = (int(xs[T[ti]]), int(ys[T[ti]]))
            if src == dst:
                raise ValueError(f"router {src} does not eject flits addressed to itself "
                                 f"(port {PORTS[int(P[ti, u])]})")
            walk(tables, src, dst)        # raises with the route
            raise AssertionError("walker disagrees with the vectorised walk")
        nxt = np.where(lv & ~here, nxt, ids[None, :])     # destinations and dead: fixed
        steps = (lv & ~here).astype(np.int64)
        jump = nxt
        for _ in range(k_steps):
            steps = steps + np.take_along_axis(steps, jump, axis=1)
            jump = np.take_along_axis(jump, jump, axis=1)
        stuck = lv & (jump != T[:, None])
        if stuck.any():
            ti, u = np.argwhere(stuck)[0]
            walk(tables, (int(xs[u]), int(ys[u])), (int(xs[T[ti]]), int(ys[T[ti]])))
            raise AssertionError("walker disagrees with the vectorised walk")
        # channel dependencies: hop u -> v (port P[u]) followed by v -> w (port P[v])
        Pv = np.take_along_axis(P, nxt, axis=1)
        dep = lv & ~here & (nxt != T[:, None])
        keys = nxt[dep] * 16 + (P[dep] - 1) * 4 + (Pv[dep] - 1)
        deps[np.unique(keys)] = True
        # uniform link loads: a live router's subtree toward T (itself and every live
        # router whose walk passes it) crosses its outgoing channel; levels from the farthest
        pair = lv & ~here
        size = pair.astype(np.float64) if weight is None else np.where(pair, weight(T), 0.0)
        rows = np.arange(len(T))[:, None] * N
        for h in range(int(steps.max()), 1, -1):
            m = pair & (steps == h)
            if m.any():
                np.add.at(size.reshape(-1), (rows + nxt)[m], size[m])
        loads += np.bincount((ids[None, :] * 4 + P - 1)[pair], weights=size[pair],
                             minlength=N * 4)
        # stretch over live pairs
        manh = np.abs(xs[None, :] - xs[T][:, None]) + np.abs(ys[None, :] - ys[T][:, None])
        h, mh = steps[pair], manh[pair]
        hops_sum += int(h.sum())
        manh_sum += int(mh.sum())
        r = h / mh
        ratio_sum += float(r.sum())
        pairs += int(pair.sum())
        max_hops = max(max_hops, int(h.max()) if h.size else 0)
        if r.size and r.max() > worst[0]:
            flat = np.flatnonzero(pair)[int(r.argmax())]
            ti, u = divmod(int(flat), N)
            worst = (float(r.max()), ((int(xs[u]), int(ys[u])), (int(xs[T[ti]]), int(ys[T[ti]]))),
                     int(steps[ti, u]), int(manh[ti, u]))
    return {"deps": deps, "pairs": pairs, "hops_sum": hops_sum, "manhattan_sum": manh_sum,
            "stretch_mean": ratio_sum / pairs if pairs else 1.0,
            "stretch_worst": worst[0] if pairs else 1.0,
            "worst": worst[1:] if pairs else None, "max_hops": max_hops,
            "loads": loads, "live": len(live_ids)}


def _cdg_cycle(tables, deps):
    """A cycle of the channel dependency graph (list of (router, port)), or None."""
    s = tables.shape
    N = s.routers
    W = s.mesh_x
    keys = np.flatnonzero(deps)
    v = keys // 16
    pin = (keys // 4) % 4 + 1            # port at u of the hop into v
    pout = keys % 4 + 1
    ux = v % W - _DX[pin]
    uy = v // W - _DY[pin]
    src = (uy * W + ux) * 4 + (pin - 1)  # channel (u, pin)
    dst = v * 4 + (pout - 1)             # channel (v, pout)
    C = N * 4
    indeg = np.bincount(dst, minlength=C)
    succ = [[] for _ in range(C)]
    for a, b in zip(src.tolist(), dst.tolist()):
        succ[a].append(b)
    queue = deque(np.flatnonzero(indeg == 0).tolist())
    indeg = indeg.tolist()
    removed = 0
    while queue:
        a = queue.popleft()
        removed += 1
        for b in succ[a]:
            indeg[b] -= 1
            if indeg[b] == 0:
                queue.append(b)
    if removed == C:
        return None
    # the channels left all have a predecessor left: walk predecessors until one repeats
    pred = {}
    for a, b in zip(src.tolist(), dst.tolist()):
        if indeg[a] > 0 and indeg[b] > 0:
            pred.setdefault(b, a)
    c = next(iter(pred))
    seen = []
    while c not in seen:
        seen.append(c)
        c = pred[c]
    cyc = seen[seen.index(c):][::-1]
    return [((c // 4) % W, (c // 4) // W, PORTS[c % 4 + 1]) for c in cyc]


def _vc_rule(vc):
    """The VC a flit leaves on, given the VC it arrived on (static VCs)."""
    return vc


def check_tables(tables, *, vcs=2):
    """Prove ``tables`` route every live pair without loop or deadlock; raise ValueError
    otherwise (module docstring: "Checks"). Returns a report: pairs, stretch, per-class
    VCs and channel-dependency edges, turns used."""
    if not isinstance(tables, RoutingTables):
        raise TypeError(f"tables must be RoutingTables, not {tables!r}")
    _check_count("vcs", vcs)
    s = tables.shape
    want = {"die": (s.mesh_y, s.mesh_x, s.dies), "node": (s.mesh_y, s.mesh_x, s.die_nodes)}
    for name, shp in want.items():
        a = getattr(tables, name)
        if a.shape != shp:
            raise ValueError(f"the {name} table must have shape {shp}, not {a.shape}")
    if (tables.die & _PORT_MASK).max(initial=0) >= len(PORTS) \
            or tables.die.max(initial=0) >= 1 << DIE_ENTRY_BITS:
        raise ValueError(f"die entries must be a port index below {len(PORTS)} with "
                         f"take bits 3 and 4 only")
    if tables.node.max(initial=0) >= len(PORTS):
        raise ValueError(f"node entries must be port indices below {len(PORTS)}")
    for (x, y) in tables.dead:
        if tables.die[y, x].any() or tables.node[y, x].any():
            raise ValueError(f"dead router {(x, y)} has non-zero table entries")
    res = _walk_all(tables)
    cyc = _cdg_cycle(tables, res["deps"])
    classes = {"request": request_vcs(vcs), "response": response_vcs(vcs)}
    for name, vs in classes.items():
        if cyc is not None:
            route = " -> ".join(f"({x}, {y}) {p}" for x, y, p in cyc)
            raise ValueError(f"the channel dependency graph of the {name} class (VC {vs[0]}) "
                             f"has a cycle of {len(cyc)} channels: {route}")
        for v in vs:
            if _vc_rule(v) not in vs:
                raise ValueError(f"a {name} on VC {v} would leave on VC {_vc_rule(v)}, "
                                 f"outside its class's VCs {vs}")
    separated = not set(classes["request"]) & set(classes["response"])
    keys = np.flatnonzero(res["deps"])
    turns = sorted({(OPPOSITE[PORTS[k // 4 % 4 + 1]], PORTS[k % 4 + 1]) for k in keys.tolist()})
    return {"pairs": res["pairs"], "stretch_mean": res["stretch_mean"],
            "stretch_worst": res["stretch_worst"], "worst": res["worst"],
            "hops_per_manhattan": res["hops_sum"] / max(1, res["manhattan_sum"]),
            "max_hops": res["max_hops"], "cdg_edges": int(len(keys)),
            "uniform_bound": _bound(res),
            "classes": {k: list(v) for k, v in classes.items()},
            "classes_separated": separated, "turns": turns}


def _bound(res):
    return loads_bound(None, res["loads"], res["live"])


def loads_bound(shape, loads, live, *, die_ratio=1):
    """Channel-load bound from link ``loads`` (one unit per ordered pair of ``live`` nodes,
    channel ``router_id * 4 + port - 1``): ``live`` / the most loaded link, at most 1
    (ejection). ``die_ratio``: a link of ``shape`` that crosses a die boundary carries one
    flit every ``die_ratio`` cycles, so its load counts ``die_ratio`` times."""
    if die_ratio != 1:
        ch = np.arange(shape.routers * 4)
        x, y, port = (ch // 4) % shape.mesh_x, (ch // 4) // shape.mesh_x, ch % 4 + 1
        nx_, ny_ = x + _DX[port], y + _DY[port]
        crossing = (x // shape.nodes_x != nx_ // shape.nodes_x) | \
            (y // shape.nodes_y != ny_ // shape.nodes_y)
        loads = np.where(crossing, loads * die_ratio, loads)
    worst = loads.max(initial=0.0)
    return min(1.0, live / worst) if worst else 1.0


def dor_uniform_loads(shape, live=None, routing="xy"):
    """Link loads of uniform traffic over ``live`` nodes (default: every node) under
    dimension-order routing, one unit per ordered live pair, channel
    ``router_id * 4 + port - 1`` (as :func:`_walk_all`'s). In closed form: a node that is not
    live still forwards, so the routes are the full mesh's and a link's load is a product
    of counts of live nodes. Under XY the east link leaving ``(x, y)`` carries the pairs
    whose source is in row ``y`` at column ``<= x`` and whose destination is at a column
    ``> x``; the south link leaving ``(x, y)`` those whose destination is in column ``x``
    below row ``y`` and whose source is at a row ``<= y``; west and north mirrored, YX
    transposed. Cost ``O(routers)``, whatever the number of pairs."""
    if routing not in ("xy", "yx"):
        raise ValueError(f"routing must be 'xy' or 'yx', not {routing!r}")
    W, H = shape.mesh_x, shape.mesh_y
    L = np.zeros((H, W), dtype=np.int64)
    if live is None:
        L[:] = 1
    else:
        for x, y in live:
            L[y, x] = 1
    row_le = np.cumsum(L, axis=1)                  # [y, x]: live in row y at columns <= x
    row_ge = L.sum(axis=1)[:, None] - row_le + L   # at columns >= x
    col_le = np.cumsum(L, axis=0)                  # [y, x]: live in column x at rows <= y
    col_ge = L.sum(axis=0)[None, :] - col_le + L
    cols_le = np.cumsum(L.sum(axis=0))             # [x]: live at columns <= x
    rows_le = np.cumsum(L.sum(axis=1))             # [y]: live at rows <= y
    total = int(L.sum())
    cols_lt, rows_lt = cols_le - L.sum(axis=0), rows_le - L.sum(axis=1)
    cols_gt, rows_gt = total - cols_le, total - rows_le
    loads = np.zeros((H, W, 4))
    if routing == "xy":        # along the source's row, then down the destination's column
        loads[:, :, EAST - 1] = row_le * cols_gt[None, :]
        loads[:, :, WEST - 1] = row_ge * cols_lt[None, :]
        loads[:, :, SOUTH - 1] = rows_le[:, None] * (col_ge - L)
        loads[:, :, NORTH - 1] = (total - rows_lt)[:, None] * (col_le - L)
    else:                      # down the source's column, then along the destination's row
        loads[:, :, SOUTH - 1] = col_le * rows_gt[:, None]
        loads[:, :, NORTH - 1] = col_ge * rows_lt[:, None]
        loads[:, :, EAST - 1] = cols_le[None, :] * (row_ge - L)
        loads[:, :, WEST - 1] = (total - cols_lt)[None, :] * (row_le - L)
    return loads.reshape(-1)


def uniform_bound(tables):
    """Channel-load bound of uniform random traffic over the live nodes on these tables
    (flits per live node per cycle): live nodes / the load of the most loaded link, one
    unit per ordered live pair, walked with the tables (Dally & Towles; ejection caps it
    at 1). XY on a k x k mesh: 4 / k."""
    return _bound(_walk_all(tables))


def stretch(tables):
    """Path stretch over live pairs, hops / Manhattan distance: ``{"mean", "worst",
    "worst_pair": ((src, dst), hops, manhattan), "hops_per_manhattan"}``. Walks the tables
    (ValueError if a route is broken)."""
    res = _walk_all(tables)
    return {"mean": res["stretch_mean"], "worst": res["stretch_worst"],
            "worst_pair": res["worst"],
            "hops_per_manhattan": res["hops_sum"] / max(1, res["manhattan_sum"])}
