"""The node-size trade-off: the same training step on nodes of different pitch, at constant
die area and clock (``dojo study nodesize``).

The derivation (:mod:`gen.derive`) makes a node as wide as a signal travels in one clock
(``reach_mm``) and fits ``n_ref = floor(usable edge / reach)`` of them on each die edge.
A point of this sweep puts ``n`` nodes on each die edge instead, on the same dies, clock
and wire:

- **pitch**: the largest that fits ``n`` nodes, ``node.pitch_mm = usable edge / n``
  (the config key that forces the pitch); at ``n = n_ref`` the derivation's own pitch
  (the reach). A pitch beyond the reach costs the derivation's link pipeline registers,
  ``ceil(pitch / reach) - 1`` per hop, and the routers' buffers are deepened to the credit
  round trip the derivation asks for (``router.buffer_depth``), so larger nodes pay
  slower hops and smaller nodes pay more hops and more nodes to synchronise;
- **scaling rule**: a node's SRAM and multiply-accumulate units are proportional to its
  area, ``(n_ref / n)^2`` times the config's node, so the die's SRAM, MACs per cycle and
  FP32 FLOP per cycle stay those of the config: ``node.sram_kb`` and
  ``node.fp32_flops_per_cycle`` times the area ratio, ``node.matrix_p`` times
  ``n_ref / n`` (the RTL node has one P x P engine). A point where one of these is not
  a whole value the hardware can take (``matrix_p`` a power of two, SRAM whole lines,
  and every check of the config) is **refused** with the reason; nothing is rounded;
- **the step**: the same layers and global batch; each replica keeps its share of the
  die area, so ``parallel.grid`` is scaled by ``n / n_ref``; where a replica would be
  smaller than one node (grid ``g * n / n_ref = 1 / k``) one node holds ``k`` replicas'
  tokens (the same global batch and gradient with ``k`` times fewer replicas). The
  compiler's checks decide whether a point runs: a point they refuse is reported as
  refused with the compiler's reason.

Every point runs on the RTL (up to :data:`sim.step.study.MAX_RTL_NODES` nodes) as one Dask
task with resume, through the scale-out study's machinery (:func:`sim.step.study.run_points`).
"""

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from gen.config import ConfigError

from .study import MAX_RTL_NODES, plot_breakdown, point_status, run_points

__all__ = ["NodeSizePoint", "default_per_edge", "nodesize_points", "run_nodesize",
           "plot_nodesize"]


@dataclass(frozen=True)
class NodeSizePoint:
    """One node size: ``per_edge`` nodes on each die edge, the config overrides that make
    it (None when refused), the step it runs (None when refused), and the hand-checkable
    die totals of the scaling rule."""
    per_edge: int
    pitch_mm: float
    overrides: tuple
    step: object
    refused: str
    node: dict


def _check_shape(cfg, derived):
    """The sweep derives the die's node array from the pitch: a config that fixes it or
    keeps spares is refused (one line, before any work)."""
    if cfg.die.nodes_x is not None or cfg.die.nodes_y is not None:
        raise ConfigError([f"die.nodes_x/die.nodes_y: {cfg.die.nodes_x}x{cfg.die.nodes_y} "
                           f"is not allowed for the node-size sweep: it derives the node "
                           f"array from the pitch; allowed: null (derived)"])
    if cfg.die.spare_rows or cfg.die.spare_cols:
        raise ConfigError([f"die.spare_rows/die.spare_cols: {cfg.die.spare_rows}/"
                           f"{cfg.die.spare_cols} is not allowed for the node-size sweep "
                           f"(spares of a different node size are a different die); "
                           f"allowed: 0"])
    if derived.die.nodes_x < 1:
        raise ConfigError([f"die.edge_mm: {cfg.die.edge_mm} holds no node at the derived "
                           f"pitch {derived.node.pitch_mm:.3f} mm; allowed: a die with nodes"])


def default_per_edge(cfg, derived):
    """Every node count per die edge from 1 up to the largest whose fabric the RTL runs."""
    _check_shape(cfg, derived)
    dies = cfg.tile.dies_x * cfg.tile.dies_y
    return [n for n in range(1, 65) if dies * n * n <= MAX_RTL_NODES]


def _scaled_grid(step, n, n_ref):
    """``(grid, merge)``: the replica grid at ``n`` nodes per edge and how many replicas
    one node holds along each axis, or a reason (str) why the grid does not scale."""
    grid, merge = [], []
    for g in step.grid:
        s = Fraction(g * n, n_ref)
        if s.denominator == 1:
            grid.append(int(s))
            merge.append(1)
        elif s.numerator == 1:
            grid.append(1)
            merge.append(s.denominator)
        else:
            return (f"parallel.grid {list(step.grid)} scaled by {n}/{n_ref} is not a whole "
                    f"number of nodes ({s}); allowed: grids that scale to whole nodes")
    return tuple(grid), tuple(merge)


def _micrometres(pitch):
    """``pitch`` (mm) to the micrometre, so the override and the JSON read cleanly (2.6, not
    2.5999999999999996); the derivation floors ``usable / pitch`` with a tolerance of 1e-9,
    so a pitch rounded up by a float's last bit still gives the same nodes per edge (the
    derived point is checked against it)."""
    return round(pitch, 6)


def _compiler_refusal(cfg, derived, step):
    """The compiler's reason (one line) not to run ``step`` on ``cfg``, or None: its checks
    (SRAM, semaphores, program lines, the engine's shape) run here, before any build."""
    from sim.step.compiler import compile_step
    from verif.node_model import NodeModel
    try:
        compile_step(cfg, derived, step, NodeModel.from_config(cfg, derived), data=False)
    except ValueError as exc:
        return str(exc)
    return None


def _scaled_node(cfg, n, n_ref, pitch):
    """The node of ``n`` per die edge under the scaling rule: ``(sizes, overrides)`` with
    the die totals in ``sizes``, or ``(sizes, reason)`` when the rule gives a size the
    hardware cannot take."""
    from rtl.node.sram import sram_lines
    node = cfg.node
    area = Fraction(n_ref, n) ** 2
    p = Fraction(node.matrix_p * n_ref, n)
    sram = Fraction(node.sram_kb).limit_denominator(1 << 20) * area
    fp32 = node.fp32_flops_per_cycle * area
    sizes = {"pitch_mm": pitch, "matrix_p": float(p), "sram_kb": float(sram),
             "fp32_flops_per_cycle": float(fp32),
             "die_macs_per_cycle": float(p * p * node.matrix_units * n * n),
             "die_sram_kb": float(sram * n * n),
             "die_fp32_flops_per_cycle": float(fp32 * n * n)}
    if p.denominator != 1 or p.numerator & (p.numerator - 1):
        return sizes, (f"node.matrix_p: {node.matrix_p} x {n_ref}/{n} = {p} is not a power "
                       f"of two; allowed: node sizes whose MACs the P x P engine can hold")
    if fp32.denominator != 1:
        return sizes, (f"node.fp32_flops_per_cycle: {node.fp32_flops_per_cycle} x "
                       f"({n_ref}/{n})^2 = {fp32} is not whole; allowed: node sizes that "
                       f"split the die's FP32 rate into whole FLOP per cycle")
    try:
        sram_lines(float(sram), cfg.router.flit_bits)
    except ValueError as exc:
        return sizes, f"node.sram_kb: {node.sram_kb} x ({n_ref}/{n})^2 = {sram}: {exc}"
    overrides = [f"node.matrix_p={int(p)}", f"node.sram_kb={float(sram)!r}",
                 f"node.fp32_flops_per_cycle={int(fp32)}"]
    if n != n_ref:
        overrides.append(f"node.pitch_mm={pitch!r}")
    return sizes, overrides


def _derived_point(cfg, overrides, n):
    """``(config, derivation, overrides)`` of a point, the routers' buffers deepened to
    the credit round trip of its pipelined links (what the derivation asks for), or a
    reason (str)."""
    from gen.config import config_from_dict
    from gen.derive import derive
    rt = cfg.router
    try:
        if not rt.allow_shallow_buffers:
            # the derivation's own link registers and round trip for this pitch
            link = derive(config_from_dict(cfg.raw, overrides
                                           + ["router.allow_shallow_buffers=true"])).link
            if link.pipeline_stages:
                overrides = overrides + [f"router.buffer_depth="
                                         f"{max(rt.buffer_depth, link.credit_round_trip)}"]
        c = config_from_dict(cfg.raw, overrides)
    except ConfigError as exc:
        return "; ".join(exc.problems)
    d = derive(c)
    if (d.die.nodes_x, d.die.nodes_y) != (n, n):
        return (f"node.pitch_mm: {d.node.pitch_mm!r} gives {d.die.nodes_x}x{d.die.nodes_y} "
                f"nodes per die, not {n}x{n}")
    return c, d, overrides


def _scaled_step(step, n, n_ref):
    """The step at ``n`` nodes per die edge (the replica grid scaled, replicas merged where
    a node holds several), or a reason (str)."""
    grid = _scaled_grid(step, n, n_ref)
    if isinstance(grid, str):
        return grid
    g, (kx, ky) = grid
    if step.data % (kx * ky):
        return (f"parallel.data: {step.data} replicas cannot merge {kx * ky} to a node; "
                f"allowed: a multiple of {kx * ky}")
    return step.with_data(step.data // (kx * ky), kx * ky, grid=g)


def nodesize_points(cfg, step, derived, per_edge):
    """The sweep's points (:class:`NodeSizePoint`), one per entry of ``per_edge``; a count
    of nodes the RTL cannot run raises ConfigError (one line), a point the scaling rule,
    the config's checks or the compiler refuse is returned refused, with the reason."""
    _check_shape(cfg, derived)
    dies = cfg.tile.dies_x * cfg.tile.dies_y
    for n in per_edge:
        if not isinstance(n, int) or n < 1 or dies * n * n > MAX_RTL_NODES:
            raise ConfigError([f"--per-edge: {n!r} is not allowed: {dies} dies of {n}x{n} "
                               f"nodes; allowed: whole numbers >= 1 with at most "
                               f"{MAX_RTL_NODES} nodes on the RTL (the fast engine, which "
                               f"would run more, does not have the training node yet)"])
    n_ref = derived.die.nodes_x
    points = []
    for n in per_edge:
        pitch = (derived.node.pitch_mm if n == n_ref
                 else _micrometres(derived.die.usable_edge_mm / n))
        sizes, made = _scaled_node(cfg, n, n_ref, pitch)
        if not isinstance(made, str):
            made = _derived_point(cfg, made, n)
        if not isinstance(made, str):
            c, d, overrides = made
            sizes["hop_cycles"] = d.link.hop_cycles
            made = _scaled_step(step, n, n_ref)
            if not isinstance(made, str):
                made = _compiler_refusal(c, d, made) or made
        refused = made if isinstance(made, str) else None
        points.append(NodeSizePoint(per_edge=n, pitch_mm=pitch,
                                    overrides=None if refused else tuple(overrides),
                                    step=None if refused else made, refused=refused,
                                    node=sizes))
    return points


def run_nodesize(cfg, derived, step, *, per_edge, sim, out, client, fresh=False,
                 progress=True, point_fn=None):
    """Run every point on ``client`` (resuming from ``out/points``), write ``nodesize.json``
    and ``nodesize.png``; returns the sweep dict. ``point_fn`` replaces
    :func:`sim.step.study.run_point` (the tests' stand-in)."""
    out = Path(out)
    points = nodesize_points(cfg, step, derived, per_edge)
    live = [pt for pt in points if pt.refused is None]
    jobs = [(f"nodes-{pt.per_edge}x{pt.per_edge}", list(pt.overrides), pt.step, pt.per_edge)
            for pt in live]
    saved, failures = run_points(cfg, jobs, sim=sim, out=out, client=client, fresh=fresh,
                                 progress=progress, point_fn=point_fn)
    saved = dict(zip((pt.per_edge for pt in live), saved))
    dies = cfg.tile.dies_x * cfg.tile.dies_y
    rows = []
    for pt in points:
        row = {"per_edge": pt.per_edge, "nodes_per_die": pt.per_edge ** 2,
               "nodes": dies * pt.per_edge ** 2, **pt.node}
        if pt.refused is not None:
            row.update(status="refused", reason=pt.refused)
        else:
            row.update(grid=list(pt.step.grid), replicas=pt.step.data,
                       tokens_per_replica=pt.step.layers[0].tokens,
                       overrides=list(pt.overrides), **point_status(saved[pt.per_edge]))
        rows.append(row)
    sweep = {"workload": step.name, "config": cfg.raw.get("name"), "engine": "rtl",
             "sim": sim, "reference_per_edge": derived.die.nodes_x,
             "reach_mm": derived.node.reach_mm, "usable_edge_mm": derived.die.usable_edge_mm,
             "dies": [cfg.tile.dies_x, cfg.tile.dies_y], "points": rows,
             "failures": failures,
             "missing": "node counts beyond the RTL's (the fast engine's training node)"}
    out.mkdir(parents=True, exist_ok=True)
    (out / "nodesize.json").write_text(json.dumps(sweep, indent=1) + "\n")
    plot_nodesize(sweep, out / "nodesize.png")
    return sweep


def plot_nodesize(sweep, path):
    """Step time against node pitch, and the compute / exposed-communication split of
    every measured point."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ok = sorted((r for r in sweep["points"] if r["status"] == "ok"),
                key=lambda r: r["pitch_mm"])
    ax.plot([r["pitch_mm"] for r in ok], [r["step_seconds"] * 1e6 for r in ok], "o-",
            label="fabric (RTL)")
    for r in ok:
        ax.annotate(f"{r['per_edge']}x{r['per_edge']}/die, {r['hop_cycles']} cyc/hop",
                    (r["pitch_mm"], r["step_seconds"] * 1e6), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    for r in sweep["points"]:
        if r["status"] != "ok":
            ax.axvline(r["pitch_mm"], color="0.8", lw=1, ls=":")
    ax.axvline(sweep["reach_mm"], color="k", lw=1, ls="--", label="one-cycle reach")
    ax.set_xlabel("node pitch (mm); dotted: refused points")
    ax.set_ylabel("step time (us)")
    ax.set_ylim(0, 1.2 * max([r["step_seconds"] * 1e6 for r in ok], default=1))
    ax.set_title(f"{sweep['workload']}: node size at constant die area and clock")
    ax.legend(fontsize=7)
    plot_breakdown(bx, ok, [f"{r['per_edge']}x{r['per_edge']}, {r['pitch_mm']:.2f} mm"
                            for r in ok])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
