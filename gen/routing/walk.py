"""Walking the tables: one head hop by hop, or every live pair at once.

:func:`walk` follows :func:`gen.routing.format.output_port` from a source to a
destination and says where a broken route goes wrong. :func:`walk_all` walks every live
pair at once (vectorised, pointer doubling: after ``2**k >= routers`` steps every walk
must sit at its destination) and returns what the checks and the bounds need: the
channel dependencies of the routes, the uniform-traffic load of every link and the
stretch.
"""

import math

import numpy as np

from rtl.net.directions import LOCAL, PORTS

from .format import DX, DY, combine, neighbour, output_port

__all__ = ["walk", "walk_all", "flat_ids"]


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


def flat_ids(shape):
    """Router ids ``y * mesh_x + x`` and their x and y, as arrays."""
    W = shape.mesh_x
    ids = np.arange(shape.routers)
    xs, ys = ids % W, ids // W
    return ids, xs, ys


def walk_all(tables, chunk=None, weight=None):
    """Walk the tables from every live router to every live destination at once.

    Returns a dict of aggregates; raises ValueError on the first broken route. The
    per-hop decision is :func:`combine` applied to the tables, the same rule as
    :func:`output_port`. ``loads`` counts one unit per ordered live pair; with ``weight``
    (``weight(T)`` -> a float array ``[len(T), routers]``: what each router sends toward
    each destination id of ``T``) the units are those weights instead (routes still cross
    every router that is not dead)."""
    s = tables.shape
    N = s.routers
    ids, xs, ys = flat_ids(s)
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
        nx_, ny_ = xs[None, :] + DX[P], ys[None, :] + DY[P]
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


