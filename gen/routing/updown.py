"""Up*/down* routing as hierarchical tables: the fallback where the repair gets stuck or the
mesh is too large for it.

The live routers get a total order: a breadth-first search from the live router nearest
the mesh centre (``"global"``), or, if that does not fit the tables, dies in breadth-first
order, each searched from a gateway router next to an earlier die (``"hierarchical"``).
A link ``u -> v`` is *up* if ``v`` comes before ``u``; a route takes up links, then down
links, never an up link after a down link. For a destination die ``d``:

- ``E_d``: the routers of ``d`` from which every live router of ``d`` is reachable by down
  links inside ``d``;
- routers outside ``d`` that reach ``E_d`` by down links through routers outside ``d``
  go down that way (die entry: the first hop of a shortest such path); the others go up,
  to the up neighbour from which entering ``d`` takes the fewest hops. This is one port
  per die, whatever the node;
- inside ``d``, for destination ``l``: a router from which ``l`` is reachable by down links
  inside ``d`` goes down (any such path is shortest: down links add one BFS level each);
  the others go up to the neighbour (inside or outside ``d``) with the shortest remaining
  route, computed exactly by dynamic programming in the order (the route outside ``d``
  does not depend on ``l``).

A router labelled *down* for a destination only forwards to routers labelled down for it
(``E_d`` is down for every ``l``), so every route is up* then down*: the channel
dependency graph has up -> up, up -> down and down -> down edges and no down -> up edge,
hence no cycle. The order fits when every die has a non-empty ``E_d`` and the root is
labelled down for every die. The hierarchical order always fits when each die's live
routers are connected inside the die and the dies are connected; a die whose live
routers fall apart inside the die cannot be served by per-die entries outside it (they
cannot tell its parts apart) and is refused with that message.
"""

from collections import deque

import numpy as np

from rtl.net.directions import EAST, LOCAL, WEST

from .check import refuse_cut
from .format import RoutingTables
from .live import LiveGraph, check_dead

__all__ = ["updown_tables"]


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


def central_routers(g, count):
    """The ``count`` live router ids nearest the mesh centre (Manhattan distance; ties:
    lowest id first)."""
    cx, cy = (g.shape.mesh_x - 1) / 2, (g.shape.mesh_y - 1) / 2
    live_ids = [i for i in range(g.shape.routers) if g.live[i]]
    return sorted(live_ids, key=lambda i: (abs(g.coord(i)[0] - cx) + abs(g.coord(i)[1] - cy),
                                           i))[:count]


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
    """Tables from a connected order (module docstring), or (None, reason)."""
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


def updown_tables(shape, dead, *, root=None, order="global"):
    """Up*/down* tables for a dead-router map (module docstring). ``root``: global (x, y)
    of the root (default: the live router nearest the mesh centre); ``order``: ``"global"``
    (breadth-first over the mesh) or ``"hierarchical"`` (dies first). Raises ValueError
    when the map cannot be routed with this order."""
    dead = check_dead(shape, dead)
    refuse_cut(shape, dead)
    g = LiveGraph(shape, dead)
    if root is None:
        r = central_routers(g, 1)[0]
    else:
        if tuple(root) in dead or not shape.contains(*root):
            raise ValueError(f"root {tuple(root)} is not a live router")
        r = root[1] * shape.mesh_x + root[0]
    if order == "global":
        ords, level = _bfs_order(g, r)
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
