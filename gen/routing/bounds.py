"""Throughput bounds of uniform traffic: the channel-load bound of routes, and the cut bound
of a map.

The channel-load bound (Dally & Towles) is the one definition every caller uses: the
link loads come from the walked tables (:func:`uniform_bound`, the VC planes'
:func:`gen.routing.planes.planes_bound`), from dimension order in closed form
(:func:`gen.routing.dor.dor_uniform_loads`) or from a traffic pattern
(:func:`sim.sweep.channel_load_bound`); :func:`worst_link_load` weighs the links that
cross a die boundary and :func:`loads_bound` turns the most loaded link into flits per
node per cycle. :func:`cut_bound` needs no routes: no routing can beat it.
"""

import numpy as np

from .format import DX, DY
from .live import live_nodes
from .walk import walk_all

__all__ = ["worst_link_load", "loads_bound", "uniform_bound", "cut_bound"]


def worst_link_load(shape, loads, *, die_ratio=1):
    """The most loaded link of ``loads`` (an array over the channels of ``shape``,
    ``router_id * 4 + port - 1``); a link that crosses a die boundary carries one flit every
    ``die_ratio`` cycles, so its load counts ``die_ratio`` times."""
    if die_ratio != 1:
        ch = np.arange(shape.routers * 4)
        x, y, port = (ch // 4) % shape.mesh_x, (ch // 4) // shape.mesh_x, ch % 4 + 1
        nx_, ny_ = x + DX[port], y + DY[port]
        crossing = (x // shape.nodes_x != nx_ // shape.nodes_x) | \
            (y // shape.nodes_y != ny_ // shape.nodes_y)
        loads = np.where(crossing, loads * die_ratio, loads)
    return loads.max(initial=0.0)


def loads_bound(shape, loads, live, *, die_ratio=1):
    """Channel-load bound from link ``loads`` (one unit per ordered pair of ``live`` nodes):
    ``live`` / the most loaded link (:func:`worst_link_load`), at most 1 (ejection)."""
    worst = worst_link_load(shape, loads, die_ratio=die_ratio)
    return min(1.0, live / worst) if worst else 1.0


def uniform_bound(tables):
    """Channel-load bound of uniform random traffic over the live nodes on these tables
    (flits per live node per cycle): live nodes / the load of the most loaded link, one
    unit per ordered live pair, walked with the tables (ejection caps it at 1). XY on a
    k x k mesh: 4 / k."""
    walked = walk_all(tables)
    return loads_bound(tables.shape, walked["loads"], walked["live"])


def cut_bound(shape, dead):
    """The straight-cut bound of a dead-router map (uniform traffic over the live routers,
    flits per live node per cycle): over every cut between two adjacent columns or rows,
    live nodes x the links across it (those with both ends live) / the ordered pairs that
    cross it one way; the tightest, at most 1. A cut with no live node on one side bounds
    nothing."""
    dead = set(map(tuple, dead))
    live = live_nodes(shape, dead)
    worst = 1.0
    for axis, cuts, across in ((0, shape.mesh_x, shape.mesh_y), (1, shape.mesh_y, shape.mesh_x)):
        for c in range(cuts - 1):
            low = sum(1 for p in live if p[axis] <= c)
            if not 0 < low < len(live):
                continue
            ends = (lambda j: {(c, j), (c + 1, j)}) if axis == 0 else \
                (lambda j: {(j, c), (j, c + 1)})
            links = sum(1 for j in range(across) if not ends(j) & dead)
            worst = min(worst, len(live) * links / (low * (len(live) - low)))
    return worst
