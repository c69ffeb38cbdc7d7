"""The live routers of a dead-router map: the map's validation, its graph, its connected parts."""

from collections import deque

from rtl.net.directions import PORTS

from .format import neighbour

__all__ = ["live_nodes", "check_dead", "live_components", "LiveGraph"]


def live_nodes(shape, dead):
    """Every router of ``shape`` that is not in ``dead``, row by row."""
    return [(x, y) for y in range(shape.mesh_y) for x in range(shape.mesh_x)
            if (x, y) not in dead]


def check_dead(shape, dead):
    """``dead`` as a frozenset of (x, y) on ``shape``; TypeError or ValueError naming the
    first bad entry (not a pair, off the mesh, listed twice), or when every router is dead."""
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


class LiveGraph:
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
