"""The checks: a dead-router map that cuts the mesh, and tables that would lose, loop or
deadlock a flit.

:func:`check_tables` runs on every table set before anything is emitted or simulated:

* format: shapes, entry ranges, dead routers' tables zero;
* every live pair is connected *by walking the tables* with
  :func:`gen.routing.format.combine` (:func:`gen.routing.walk.walk_all`): each hop stays
  on the mesh and never enters a dead router, ``local`` only at the destination, no loop;
* the channel dependency graph of each message class, built from the walked routes, is
  acyclic (a cycle is reported channel by channel, :func:`gen.routing.cdg.cdg_cycle`);
* requests and responses stay on their VCs: a flit leaves on the VC it arrived on (the
  router's static VCs), so each class's VCs map into themselves, and the classes' VC sets
  (``rtl.node.layouts.request_vcs``/``response_vcs``) are disjoint when ``vcs >= 2``.
  Every VC follows the same tables, so each VC's dependency graph is the physical one and
  deadlock freedom needs no escape VC.
"""

import numpy as np

from rtl.net.directions import OPPOSITE, PORTS
from rtl.node.layouts import request_vcs, response_vcs

from .bounds import loads_bound
from .cdg import cdg_cycle
from .format import DIE_ENTRY_BITS, PORT_MASK, RoutingTables, check_count
from .live import live_components
from .walk import walk_all

__all__ = ["cut_problem", "check_tables", "stretch"]


def cut_problem(shape, dead):
    """Why the live routers of a dead-router map are not connected (naming the ones cut off
    from the largest connected part), or ``None`` when they are: the one check behind
    :func:`gen.routing.route.route_tables`' refusal and the config's
    (``gen.derive.consistency_problems``)."""
    comps = live_components(shape, dead)
    if len(comps) <= 1:
        return None
    cut = sorted((c for comp in comps[1:] for c in comp), key=lambda c: (c[1], c[0]))
    return (f"the mesh is cut: live router{'s' if len(cut) > 1 else ''} "
            f"{', '.join(map(str, cut))} cannot reach the other {len(comps[0])} live routers "
            f"(e.g. {comps[0][0]})")


def refuse_cut(shape, dead):
    """Raise ValueError with :func:`cut_problem`'s line if the map cuts the mesh."""
    problem = cut_problem(shape, dead)
    if problem:
        raise ValueError(problem)


def _vc_rule(vc):
    """The VC a flit leaves on, given the VC it arrived on (static VCs)."""
    return vc


def check_tables(tables, *, vcs=2):
    """Prove ``tables`` route every live pair without loop or deadlock; raise ValueError
    otherwise (module docstring). Returns a report: pairs, stretch, per-class
    VCs and channel-dependency edges, turns used."""
    if not isinstance(tables, RoutingTables):
        raise TypeError(f"tables must be RoutingTables, not {tables!r}")
    check_count("vcs", vcs)
    s = tables.shape
    want = {"die": (s.mesh_y, s.mesh_x, s.dies), "node": (s.mesh_y, s.mesh_x, s.die_nodes)}
    for name, shp in want.items():
        a = getattr(tables, name)
        if a.shape != shp:
            raise ValueError(f"the {name} table must have shape {shp}, not {a.shape}")
    if (tables.die & PORT_MASK).max(initial=0) >= len(PORTS) \
            or tables.die.max(initial=0) >= 1 << DIE_ENTRY_BITS:
        raise ValueError(f"die entries must be a port index below {len(PORTS)} with "
                         f"take bits 3 and 4 only")
    if tables.node.max(initial=0) >= len(PORTS):
        raise ValueError(f"node entries must be port indices below {len(PORTS)}")
    for (x, y) in tables.dead:
        if tables.die[y, x].any() or tables.node[y, x].any():
            raise ValueError(f"dead router {(x, y)} has non-zero table entries")
    res = walk_all(tables)
    cyc = cdg_cycle(tables, res["deps"])
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
            "uniform_bound": loads_bound(s, res["loads"], res["live"]),
            "classes": {k: list(v) for k, v in classes.items()},
            "classes_separated": separated, "turns": turns}


def stretch(tables):
    """Path stretch over live pairs, hops / Manhattan distance: ``{"mean", "worst",
    "worst_pair": ((src, dst), hops, manhattan), "hops_per_manhattan"}``. Walks the tables
    (ValueError if a route is broken)."""
    res = walk_all(tables)
    return {"mean": res["stretch_mean"], "worst": res["stretch_worst"],
            "worst_pair": res["worst"],
            "hops_per_manhattan": res["hops_sum"] / max(1, res["manhattan_sum"])}
