"""Fault maps (which nodes are disabled, which routers are dead) and the die's yield.

A fault map is run-time data: one die module serves every die, each die may have its
own map. The config gives it three ways, combined per die:

- ``die.disabled_nodes`` / ``die.dead_routers``: die-local ``[x, y]`` lists, the map of
  every die;
- ``tile.fault_maps``: ``[{die: [dx, dy], disabled_nodes: [...], dead_routers: [...]}]``,
  an entry replaces the die-level lists for its die;
- ``die.defects``: a seeded defect model that draws failures on every die (added to the
  lists; ``draw: false`` keeps only the yield report).

A *disabled* node has its compute fused off; its router still forwards, so the mesh is
intact but the node is not addressable. A *dead router* is a node that is gone: nothing
enters or leaves it. Live nodes are the addressable ones: neither disabled nor dead.

Defect model (node level): defects land as a Poisson process of density ``D`` per cm^2;
a node of area ``a = pitch^2`` fails with probability ``1 - exp(-a D)``. In the clustered
model the density of each die is drawn from a gamma distribution of shape ``alpha`` and
mean ``D``, which makes the yield of an area ``A`` the negative binomial
``(1 + A D / alpha)^-alpha``. A die with ``N`` nodes of which it needs ``R`` live has
``s = N - R`` spares; its harvest yield is the probability that at most ``s`` nodes fail.
"""

import math
import random
from dataclasses import dataclass, field

__all__ = ["DieFaults", "FaultMap", "fault_map", "fault_problems", "has_faults",
           "poisson_yield", "negbin_yield", "harvest_yield", "expected_live",
           "defect_report", "cut_links"]


def _row_major(nodes):
    return tuple(sorted(nodes, key=lambda p: (p[1], p[0])))


@dataclass(frozen=True)
class DieFaults:
    """The fault map of one die, in die-local coordinates.

    Attributes
    ----------
    die : (dx, dy)
        Position of the die in the tile.
    origin : (x0, y0)
        Global coordinates of the die's node (0, 0).
    shape : (nx, ny)
        Nodes across and down the die (the physical array).
    disabled_nodes, dead_routers : frozenset of (x, y)
        Die-local coordinates.
    drawn : int
        How many of them the defect model drew (the rest were listed in the config).
    """

    die: tuple
    origin: tuple
    shape: tuple
    disabled_nodes: frozenset
    dead_routers: frozenset
    drawn: int = 0

    @property
    def physical_nodes(self):
        return self.shape[0] * self.shape[1]

    @property
    def live_nodes(self):
        """Addressable nodes, die-local, row-major (by y, then x)."""
        bad = self.disabled_nodes | self.dead_routers
        nx, ny = self.shape
        return tuple((x, y) for y in range(ny) for x in range(nx) if (x, y) not in bad)

    def to_global(self, xy):
        return (self.origin[0] + xy[0], self.origin[1] + xy[1])


@dataclass(frozen=True)
class FaultMap:
    """The fault map of the whole tile (see the module docstring).

    Attributes
    ----------
    mesh : (mesh_x, mesh_y)
        The global mesh.
    die_shape : (nx, ny)
        Nodes per die.
    dies : (dies_x, dies_y)
        Dies across and down the tile.
    dead_routers, disabled_nodes : frozenset of (x, y)
        Global mesh coordinates.
    live_nodes : tuple of (x, y)
        Addressable nodes, global, row-major (by y, then x: the order of node ids
        ``y * mesh_x + x``).
    per_die : dict
        ``(dx, dy)`` -> :class:`DieFaults`.
    """

    mesh: tuple
    die_shape: tuple
    dies: tuple
    dead_routers: frozenset
    disabled_nodes: frozenset
    live_nodes: tuple
    per_die: dict = field(repr=False)

    @property
    def empty(self):
        return not self.dead_routers and not self.disabled_nodes

    def is_live(self, x, y):
        """The node at global ``(x, y)`` is addressable."""
        return (0 <= x < self.mesh[0] and 0 <= y < self.mesh[1]
                and (x, y) not in self.dead_routers and (x, y) not in self.disabled_nodes)

    def has_router(self, x, y):
        """The router at global ``(x, y)`` forwards (the node may still be disabled)."""
        return 0 <= x < self.mesh[0] and 0 <= y < self.mesh[1] and (x, y) not in self.dead_routers

    def die_of(self, x, y):
        """``(dx, dy)`` of the die holding global node ``(x, y)``."""
        return (x // self.die_shape[0], y // self.die_shape[1])

    def live_ids(self):
        """Node ids ``y * mesh_x + x`` of the live nodes, ascending."""
        return tuple(y * self.mesh[0] + x for x, y in self.live_nodes)


# ---------------------------------------------------------------------------- config


def _raw_die(cfg):
    return cfg.raw.get("die", {})


def has_faults(cfg):
    """The config gives a fault map or a defect model (else everything derives as before)."""
    die = _raw_die(cfg)
    return bool(die.get("disabled_nodes") or die.get("dead_routers") or die.get("defects")
                or cfg.raw.get("tile", {}).get("fault_maps"))


def _list_problems(key, disabled, dead, nx, ny):
    problems = []
    seen = {}
    for name, coords in (("disabled_nodes", disabled), ("dead_routers", dead)):
        for i, xy in enumerate(coords):
            where = f"{key}.{name}[{i}]"
            x, y = xy
            if not (x < nx and y < ny):
                problems.append(f"{where}: {list(xy)} is not allowed: must be inside the "
                                f"{nx}x{ny} die (x < {nx}, y < {ny}; die-local coordinates)")
                continue
            if (x, y) in seen:
                other_name, other = seen[(x, y)]
                if other_name == name:
                    problems.append(f"{where}: {list(xy)} is not allowed: listed twice "
                                    f"(also {key}.{name}[{other}])")
                else:
                    problems.append(f"{where}: {list(xy)} is not allowed: also in "
                                    f"{key}.{other_name}[{other}] (a node is either disabled "
                                    f"or dead, not both)")
                continue
            seen[(x, y)] = (name, i)
    if not problems and len(seen) >= nx * ny:
        problems.append(f"{key}.disabled_nodes: {len(disabled)} disabled and {len(dead)} dead "
                        f"is not allowed: leaves no live node on the {nx}x{ny} die")
    return problems


def fault_problems(cfg, derived):
    """Cross-key checks of the fault maps against the derived shape; one message each."""
    die, tile = _raw_die(cfg), cfg.raw.get("tile", {})
    nx, ny = derived.die.nodes_x, derived.die.nodes_y
    dies_x, dies_y = derived.tile.dies_x, derived.tile.dies_y
    problems = _list_problems("die", die.get("disabled_nodes", []), die.get("dead_routers", []),
                              nx, ny)
    seen = {}
    for i, entry in enumerate(tile.get("fault_maps") or []):
        dx, dy = entry["die"]
        where = f"tile.fault_maps[{i}]"
        if not (dx < dies_x and dy < dies_y):
            problems.append(f"{where}.die: {[dx, dy]} is not allowed: must be inside the "
                            f"{dies_x}x{dies_y} tile (dx < {dies_x}, dy < {dies_y})")
            continue
        if (dx, dy) in seen:
            problems.append(f"{where}.die: {[dx, dy]} is not allowed: die listed twice (also "
                            f"tile.fault_maps[{seen[(dx, dy)]}])")
            continue
        seen[(dx, dy)] = i
        problems += _list_problems(where, entry.get("disabled_nodes", []),
                                   entry.get("dead_routers", []), nx, ny)
    defects = die.get("defects")
    if defects and defects.get("required_live") is not None and defects["required_live"] > nx * ny:
        problems.append(f"die.defects.required_live: {defects['required_live']} is not allowed: "
                        f"must be <= the {nx * ny} nodes of a {nx}x{ny} die")
    return problems


def _draw(defects, node_area_cm2, shape, die):
    """Seeded draw of (disabled, dead) die-local nodes for one die."""
    rng = random.Random(f"dojo-defects:{defects['seed']}:{die[0]},{die[1]}")
    density = defects["density_per_cm2"]
    if defects["model"] == "negbin" and density > 0:
        alpha = defects["alpha"]
        density = rng.gammavariate(alpha, density / alpha)     # this die's density
    f = defects["router_fraction"]
    p_router = 1 - math.exp(-f * node_area_cm2 * density)
    p_compute = 1 - math.exp(-(1 - f) * node_area_cm2 * density)
    disabled, dead = set(), set()
    nx, ny = shape
    for y in range(ny):
        for x in range(nx):
            u_router, u_compute = rng.random(), rng.random()     # two draws per node, always
            if u_router < p_router:
                dead.add((x, y))
            elif u_compute < p_compute:
                disabled.add((x, y))
    return disabled, dead


def _node_area_cm2(derived):
    return derived.node.pitch_mm ** 2 / 100.0


def fault_map(cfg, derived):
    """Config + its derivation -> :class:`FaultMap`; deterministic for a seed.

    ``derived`` is ``gen.derive.derive(cfg)`` (or its geometry part, which the derivation
    hands over while it adds the faults). The config must be valid (``load_config``
    checks the maps).
    """
    die_raw, tile_raw = _raw_die(cfg), cfg.raw.get("tile", {})
    nx, ny = derived.die.nodes_x, derived.die.nodes_y
    dies_x, dies_y = derived.tile.dies_x, derived.tile.dies_y
    overrides = {tuple(e["die"]): e for e in tile_raw.get("fault_maps") or []}
    defects = die_raw.get("defects")
    draw = bool(defects) and defects.get("draw", True)
    area = _node_area_cm2(derived)
    per_die, dead_g, disabled_g = {}, set(), set()
    for dy in range(dies_y):
        for dx in range(dies_x):
            src = overrides.get((dx, dy), die_raw)
            dead = {tuple(p) for p in src.get("dead_routers", [])}
            disabled = {tuple(p) for p in src.get("disabled_nodes", [])} - dead
            drawn = 0
            if draw:
                d_dis, d_dead = _draw(defects, area, (nx, ny), (dx, dy))
                new_dead = d_dead - dead
                new_dis = d_dis - dead - disabled - new_dead
                drawn = len(new_dead) + len(new_dis)
                dead |= new_dead
                disabled = (disabled | new_dis) - dead
            df = DieFaults(die=(dx, dy), origin=(dx * nx, dy * ny), shape=(nx, ny),
                           disabled_nodes=frozenset(disabled), dead_routers=frozenset(dead),
                           drawn=drawn)
            per_die[(dx, dy)] = df
            dead_g |= {df.to_global(p) for p in dead}
            disabled_g |= {df.to_global(p) for p in disabled}
    gx, gy = dies_x * nx, dies_y * ny
    bad = dead_g | disabled_g
    live = tuple((x, y) for y in range(gy) for x in range(gx) if (x, y) not in bad)
    return FaultMap(mesh=(gx, gy), die_shape=(nx, ny), dies=(dies_x, dies_y),
                    dead_routers=frozenset(dead_g), disabled_nodes=frozenset(disabled_g),
                    live_nodes=live, per_die=per_die)


# --------------------------------------------------------------------------- bisection


def cut_links(dead, nx, ny, cuts_x=None, cuts_y=None):
    """Links across the narrower middle cut of an ``nx`` x ``ny`` mesh whose two routers live.

    ``cuts_x`` / ``cuts_y``: the columns ``x`` (rows ``y``) where a vertical (horizontal)
    cut passes between ``x - 1`` and ``x``; the smallest count over them is returned.
    Default: the middle cut across the longer side (both when square), which with no dead
    router crosses ``min(nx, ny)`` links.
    """
    if cuts_x is None and cuts_y is None:
        cuts_x = [max(1, nx // 2)] if nx >= ny else []
        cuts_y = [max(1, ny // 2)] if ny >= nx else []
    counts = []
    for c in cuts_x or []:
        counts.append(sum(1 for y in range(ny)
                          if (c - 1, y) not in dead and (min(c, nx - 1), y) not in dead))
    for c in cuts_y or []:
        counts.append(sum(1 for x in range(nx)
                          if (x, c - 1) not in dead and (x, min(c, ny - 1)) not in dead))
    return min(counts)


# ------------------------------------------------------------------------------ yield


def poisson_yield(area_cm2, density):
    """Poisson yield ``exp(-A D)`` of an area ``A`` (cm^2) at ``D`` defects per cm^2."""
    return math.exp(-area_cm2 * density)


def negbin_yield(area_cm2, density, alpha):
    """Negative binomial (clustered) yield ``(1 + A D / alpha)^-alpha``."""
    return (1 + area_cm2 * density / alpha) ** -alpha


def _binom_cdf(s, n, p):
    """P(Binomial(n, p) <= s), summed in logs."""
    if s >= n or p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    lg = math.lgamma
    return math.fsum(math.exp(lg(n + 1) - lg(k + 1) - lg(n - k + 1) + k * lp + (n - k) * lq)
                     for k in range(s + 1))


def _gamma_mean(h, alpha, steps=4000):
    """E[h(x)] for x ~ Gamma(alpha, 1): trapezoid rule in t = ln x, weights renormalised."""
    spread = 12 * math.sqrt(alpha)
    t_lo = math.log(alpha - spread) if alpha > spread else math.log(1e-17) / alpha
    t_hi = math.log(alpha + spread + 60)
    peak = alpha * math.log(alpha) - alpha          # max of alpha t - e^t, at t = ln alpha
    dt = (t_hi - t_lo) / steps
    num = den = 0.0
    for i in range(steps + 1):
        t = t_lo + i * dt
        x = math.exp(t)
        w = math.exp(alpha * t - x - peak) * (0.5 if i in (0, steps) else 1.0)
        num += w * h(x)
        den += w
    return num / den


def harvest_yield(nodes, spares, node_area_cm2, density, model="poisson", alpha=2.0):
    """Probability that at most ``spares`` of ``nodes`` fail (each of area ``node_area_cm2``).

    Poisson: failures are Binomial(N, 1 - exp(-a D)). Negative binomial: the same binomial
    given the die's density, averaged over a gamma-distributed density (shape ``alpha``,
    mean ``D``). With no spares both reduce to :func:`poisson_yield` /
    :func:`negbin_yield` of the array's area ``N a``.
    """
    if spares >= nodes:
        return 1.0
    if model == "poisson":
        return _binom_cdf(spares, nodes, 1 - math.exp(-node_area_cm2 * density))
    if spares == 0:
        return negbin_yield(nodes * node_area_cm2, density, alpha)
    theta = density / alpha
    return _gamma_mean(lambda x: _binom_cdf(spares, nodes,
                                            -math.expm1(-node_area_cm2 * theta * x)), alpha)


def expected_live(nodes, node_area_cm2, density, model="poisson", alpha=2.0):
    """Expected working nodes of a fresh die: ``N`` times the yield of one node."""
    if model == "poisson":
        return nodes * poisson_yield(node_area_cm2, density)
    return nodes * negbin_yield(node_area_cm2, density, alpha)


def defect_report(cfg, derived, fmap):
    """The yield part of the derivation (``derived.faults.defects``), or None."""
    defects = _raw_die(cfg).get("defects")
    if not defects:
        return None
    model, density, alpha = defects["model"], defects["density_per_cm2"], defects["alpha"]
    a = _node_area_cm2(derived)
    n = derived.die.nodes
    die = _raw_die(cfg)
    listed = len(die.get("disabled_nodes", [])) + len(die.get("dead_routers", []))
    required = defects["required_live"] if defects["required_live"] is not None else n - listed
    spares = n - required

    def y(area):
        return poisson_yield(area, density) if model == "poisson" else negbin_yield(area, density, alpha)

    edge_cm = cfg.die.edge_mm / 10
    return {"model": model, "density_per_cm2": density,
            "alpha": alpha if model == "negbin" else None, "seed": defects["seed"],
            "draw": defects["draw"], "router_fraction": defects["router_fraction"],
            "node_area_mm2": a * 100, "array_nodes": n, "array_area_cm2": n * a,
            "die_area_cm2": edge_cm ** 2,
            "yield_die_area": y(edge_cm ** 2),
            "yield_no_spares": y(n * a),
            "required_live": required, "spares": spares,
            "yield_with_spares": harvest_yield(n, spares, a, density, model, alpha),
            "expected_live_nodes": expected_live(n, a, density, model, alpha),
            "drawn_failures": sum(d.drawn for d in fmap.per_die.values()),
            "dies_below_required": sum(1 for d in fmap.per_die.values()
                                       if len(d.live_nodes) < required)}
