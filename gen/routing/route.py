"""Choosing the tables of a dead-router map: dimension order, the best repair, or up*/down*.

:func:`route_tables` is what the generator, the fast model and the traffic tests call.
With nothing dead the tables are dimension order. Otherwise, up to
:data:`REPAIR_MAX_ROUTERS` routers, dimension order repaired around the dead routers
(:mod:`gen.routing.repair`): every strategy of
:data:`gen.routing.repair.REPAIR_CANDIDATES` is tried and the checked tables with the
highest uniform channel-load bound kept (:func:`repair_candidates`); if all get stuck,
the strategies of :data:`gen.routing.repair.RETRY_STRATEGIES` in turn. Above that size
(the dependency searches in the large graph take minutes), or if every repair gets stuck,
up*/down* (:mod:`gen.routing.updown`). Whatever is returned has passed
:func:`gen.routing.check.check_tables`.
"""

from .check import check_tables, refuse_cut
from .dor import xy_tables
from .format import MeshShape, RoutingTables, check_count
from .live import LiveGraph, check_dead
from .repair import REPAIR_CANDIDATES, RETRY_STRATEGIES, repair_tables
from .updown import central_routers, updown_tables

__all__ = ["REPAIR_MAX_ROUTERS", "route_tables", "repair_candidates"]

#: the mesh size (routers) up to which the repair is tried (and VC planes computed)
REPAIR_MAX_ROUTERS = 1024


def _copy(tables):
    """A copy the caller may change without changing a cached table set."""
    t = tables
    return RoutingTables(shape=t.shape, dead=t.dead, die=t.die.copy(), node=t.node.copy(),
                         algorithm=t.algorithm, root=t.root, info=dict(t.info))


def route_tables(shape, dead=(), *, routing="xy", vcs=2, roots=1):
    """Checked tables for a dead-router map (module docstring): dimension order
    (``routing``) when nothing is dead, else the best repair, else up*/down* (global order,
    then hierarchical; with ``roots > 1`` the ``roots`` live routers nearest the centre are
    tried and the lowest mean stretch kept). Deterministic, and cached per map (a copy is
    returned). Raises ValueError naming the unreachable live routers if the mesh is cut,
    or why the map cannot be routed."""
    if not isinstance(shape, MeshShape):
        raise TypeError(f"shape must be a MeshShape, not {shape!r}")
    dead = check_dead(shape, dead)
    if not dead:
        tables = xy_tables(shape, routing)
        check_tables(tables, vcs=vcs)
        return tables
    check_count("roots", roots)
    key = (shape, dead, routing, vcs, roots)
    if key not in _CACHE:
        if len(_CACHE) >= 64:
            _CACHE.pop(next(iter(_CACHE)))
        refuse_cut(shape, dead)
        _CACHE[key] = (_first_repair(shape, dead, routing, vcs)
                       or _best_updown(shape, dead, vcs, roots))
    return _copy(_CACHE[key])


#: route_tables of dead-router maps, by (shape, dead, routing, vcs, roots): deterministic,
#: and a sweep builds the same map's tables for every point
_CACHE = {}


def repair_candidates(shape, dead, *, routing="xy", vcs=2):
    """The checked repairs of :func:`route_tables` (one per strategy of
    :data:`gen.routing.repair.REPAIR_CANDIDATES` that does not get stuck), best first:
    highest uniform channel-load bound, then lowest mean stretch. Empty above
    :data:`REPAIR_MAX_ROUTERS` routers. Cached per map."""
    dead = check_dead(shape, dead)
    key = (shape, dead, routing, vcs)
    if key not in _CANDIDATES:
        if len(_CANDIDATES) >= 64:
            _CANDIDATES.pop(next(iter(_CANDIDATES)))
        refuse_cut(shape, dead)
        found = []
        for strategy in (REPAIR_CANDIDATES if shape.routers <= REPAIR_MAX_ROUTERS else ()):
            try:
                t = repair_tables(shape, dead, strategy, routing=routing)
            except ValueError:
                continue
            report = check_tables(t, vcs=vcs)
            found.append(((report["uniform_bound"], -report["stretch_mean"]), t))
        found.sort(key=lambda f: f[0], reverse=True)
        _CANDIDATES[key] = [t for _, t in found]
    return [_copy(t) for t in _CANDIDATES[key]]


#: repair_candidates by (shape, dead, routing, vcs)
_CANDIDATES = {}


def _first_repair(shape, dead, routing, vcs):
    """The best candidate repair, else the first retry that does not get stuck, else None
    (and None above :data:`REPAIR_MAX_ROUTERS` routers)."""
    if shape.routers > REPAIR_MAX_ROUTERS:
        return None
    found = repair_candidates(shape, dead, routing=routing, vcs=vcs)
    if found:
        return found[0]
    for strategy in RETRY_STRATEGIES:
        try:
            return repair_tables(shape, dead, strategy, routing=routing)
        except ValueError:
            continue
    return None


def _best_updown(shape, dead, vcs, roots):
    """Up*/down* tables with the lowest mean stretch over the ``roots`` live routers
    nearest the centre, in the global order, else in the hierarchical order; ValueError
    with the last reason when neither order fits."""
    g = LiveGraph(shape, dead)
    candidates = central_routers(g, roots)
    best, reasons = None, []
    for order in ("global", "hierarchical"):
        for r in candidates:
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
