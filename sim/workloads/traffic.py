"""The traffic entry: ``dojo sim``'s latency-throughput sweep of the tile (uniform random,
single-flit packets) on the RTL or the fast model (:func:`sim.sweep.run_sweep`)."""

from dataclasses import dataclass

from .base import Result, Workload

__all__ = ["Traffic", "TrafficResult", "Schedule", "points_table"]


@dataclass(frozen=True)
class Schedule:
    """The offered loads (flits/node/cycle) and the warm-up and measurement window
    (cycles) of ``dojo sim``'s sweep."""
    rates: tuple = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8)
    warmup: int = 500
    measure: int = 2000


def _figure(value, spec):
    return "n/a" if value is None else format(value, spec)


def points_table(res):
    """The points of a sweep as table lines, then what is known of zero load and
    saturation."""
    from sim.sweep import THROTTLE_LIMIT
    lines = [f"{'offered':>8s} {'gen/off':>8s} {'accepted':>9s} {'min':>6s} {'lat avg':>8s} "
             f"{'p99':>7s} {'max':>5s} {'pJ/flit':>8s} {'dynamic':>8s} {'W':>7s}"]
    clipped = throttled = False
    for p in res["points"]:
        lat = "n/a" if p["latency_avg"] is None else f"{p['latency_avg']:8.1f}"
        if p["latency_p99"] is not None:
            p99 = f"{p['latency_p99']:7.1f}"
        elif p.get("latency_p99_clipped"):
            p99, clipped = f">{p['latency_p99_lower_bound']}", True
        else:
            p99 = "n/a"
        frac = p.get("generated_over_offered")
        gen = "n/a" if frac is None else f"{frac:.3f}" + ("T" if p.get("throttled") else " ")
        throttled |= bool(p.get("throttled"))
        e = p.get("energy") or {}
        pj, dyn, watts = (_figure(e.get(key), spec) for key, spec in (
            ("pj_per_delivered_flit", ".0f"), ("dynamic_pj_per_delivered_flit", ".0f"),
            ("watts", ".3g")))
        lines.append(f"{p['offered']:8.3f} {gen:>8s} {p['accepted_avg']:9.3f} "
                     f"{p['accepted_min']:6.3f} {lat:>8s} {p99:>7s} {p['latency_max']:5d} "
                     f"{pj:>8s} {dyn:>8s} {watts:>7s}"
                     + ("" if p["drained"] else "  (not drained)"))
    lines.append("(pJ/flit: energy of the measured window per flit delivered, static power "
                 "included; dynamic: without it; W: average power; gen/energy.py)")
    if throttled:
        lines.append(f"(T: throttled: the full source queues suppressed more than "
                     f"{1 - THROTTLE_LIMIT:.0%} of the packets drawn; the network did not see "
                     f"the offered load, so latency stops growing with it)")
    if clipped:
        lines.append("(>N: the p99 lies past the latency histogram's range, which ends at N "
                     "cycles; widen traffic.histogram_bins or traffic.histogram_bin_cycles)")
    return lines


@dataclass(frozen=True, eq=False)
class TrafficResult(Result):
    engine: str             #: what simulated it: the simulator's name or "fast model"
    zero_load_latency: float | None
    zero_load: dict | None
    saturated: bool
    saturation_throughput: float | None
    saturation_offered: float | None
    max_accepted: float
    channel_load_bound: float
    cycles_per_s: float | None

    BRIEF = ("zero_load_latency", "zero_load", "saturated", "saturation_throughput",
             "saturation_offered", "max_accepted", "channel_load_bound", "cycles_per_s")

    def summary(self):
        from sim.sweep import saturation_text, zero_load_text
        t, speed = self.brief(), self.cycles_per_s
        return "\n".join([
            f"  zero-load latency       {zero_load_text(t)}",
            f"  saturation throughput   {saturation_text(t)} "
            f"(channel-load bound {self.channel_load_bound:.3f})",
            f"  simulation speed        "
            + ("not measured" if speed is None else f"{speed:.0f} cycles/s")
            + f" ({self.engine})"])


class Traffic(Workload):
    """Uniform random traffic from the in-RTL generators at every node, swept over
    :class:`Schedule`; honours any fault map (dead routers too, under table routing)."""
    name = bench = label = folder = "traffic"
    title = "the traffic sweep"
    files = ("sweep.json", "sweep.png", "heatmap.png", "energy.png")
    engines = ("rtl", "model")
    faults = "any"
    dtypes = None

    def plan(self, cfg, derived, options):
        return Schedule()

    def run(self, plan, job, out_dir=None):
        from sim.sweep import run_sweep
        t, engine = plan.derived.tile, plan.options.engine
        label = job.sim if engine == "rtl" else "fast model"
        job.say(f"\ntraffic: {t.mesh_x}x{t.mesh_y} mesh, uniform random, single-flit "
                f"packets ({label})")
        schedule = plan.params
        res = run_sweep(plan.cfg, pattern="uniform", rates=list(schedule.rates), sim=job.sim,
                        engine=engine, threads=plan.options.threads,
                        out=self.out_dir(job, out_dir),
                        timing={"warmup": schedule.warmup, "measure": schedule.measure},
                        derived=plan.derived, provenance=job.provenance)
        job.say("\n".join(points_table(res)))
        return TrafficResult.of(res, engine=label)
