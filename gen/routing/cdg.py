"""The channel dependency graph (CDG): kept acyclic while the repair builds it, and searched
for a cycle when the checks walk the tables.

A channel is ``router_id * 4 + port - 1`` (one per output port of a router that leads to
a neighbour); a route that leaves ``u`` on channel ``a`` and then ``v`` on channel ``b``
adds the dependency ``a -> b``. Routes whose dependency graph is acyclic cannot deadlock
(Dally & Seitz), whatever the traffic.
"""

import functools
from collections import deque

import numpy as np

from rtl.net.directions import EAST, PORTS, SOUTH, WEST

from .format import DX, DY

__all__ = ["DynamicOrder", "NoOrder", "dimension_rank", "cdg_cycle"]


class DynamicOrder:
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
        self.count = {}                          # edge (a, b) -> uses; the graph's edges
        self.refused = set()

    def add(self, a, b):
        key = (a, b)
        count = self.count
        uses = count.get(key)
        if uses is not None:
            count[key] = uses + 1
            return True
        if key in self.refused:
            return False
        o = self.ord
        lb, ub = o[b], o[a]
        if lb < ub:
            # forward search from b among channels not after a; reaching a closes a cycle
            succ = self.succ
            fwd, stack, seen = [], [b], {b}
            while stack:
                n = stack.pop()
                fwd.append(n)
                for w in succ[n]:
                    if w == a:
                        self.refused.add(key)
                        return False
                    if w not in seen and o[w] < ub:
                        seen.add(w)
                        stack.append(w)
            pred = self.pred
            bwd, stack, seen_b = [], [a], {a}
            while stack:
                n = stack.pop()
                bwd.append(n)
                for w in pred[n]:
                    if w not in seen_b and o[w] > lb:
                        seen_b.add(w)
                        stack.append(w)
            fwd.sort(key=o.__getitem__)
            bwd.sort(key=o.__getitem__)
            slots = sorted(o[n] for n in fwd + bwd)
            for n, pos in zip(bwd + fwd, slots):
                o[n] = pos
        count[key] = 1
        self.succ[a].append(b)
        self.pred[b].append(a)
        return True

    def remove(self, a, b):
        """Drop one use of ``a -> b`` (the order stays topological when an edge goes)."""
        key = (a, b)
        count = self.count
        uses = count[key] - 1
        if uses:
            count[key] = uses
        else:
            del count[key]
            self.succ[a].remove(b)
            self.pred[b].remove(a)
            self.refused.clear()


class NoOrder:
    """Stands in for :class:`DynamicOrder` when the repair is run without the deadlock
    constraint (``acyclic=False``: an analysis of what the constraint costs; such tables
    are never emitted, :func:`check_tables` refuses their cycles)."""

    def add(self, a, b):
        return True

    def remove(self, a, b):
        pass


def dimension_rank(shape, routing):
    """Channel (router * 4 + port - 1) -> rank in which every dimension-order turn goes
    forward: the first dimension's channels (+ by coordinate, - by reversed coordinate),
    then the second's. A tuple, cached per (shape, routing): every construction of the
    repair starts from it."""
    return _dimension_rank(shape, routing)


@functools.lru_cache(maxsize=32)
def _dimension_rank(shape, routing):
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
    return tuple(rank)


def cdg_cycle(tables, deps):
    """A cycle of the channel dependency graph (list of (router, port)), or None."""
    s = tables.shape
    N = s.routers
    W = s.mesh_x
    keys = np.flatnonzero(deps)
    v = keys // 16
    pin = (keys // 4) % 4 + 1            # port at u of the hop into v
    pout = keys % 4 + 1
    ux = v % W - DX[pin]
    uy = v // W - DY[pin]
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

