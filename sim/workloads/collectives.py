"""The collective entries: the all-reduce driven by the hosts (:mod:`sim.allreduce`), and the
node-driven ring and 2D all-reduces and the broadcast (:mod:`sim.collectives`)."""

from dataclasses import dataclass

from .base import Result, Workload, engine_label, verdict

__all__ = ["HostAllreduce", "NodeCollective", "Vector", "CollectiveResult"]


@dataclass(frozen=True)
class Vector:
    """A checked collective: the vector every node holds, in SRAM lines."""
    lines: int


@dataclass(frozen=True, eq=False)
class CollectiveResult(Result):
    algo: str
    title: str
    nodes: int
    lines: int
    dtype: str
    match: bool | None          #: None: a timing-only run (no vectors computed)
    engine: str
    cycles: int
    model: dict | None
    measured_over_model: float | None

    BRIEF = ("algo", "nodes", "lines", "dtype", "match", "engine", "cycles", "model_cycles",
             "measured_over_model")

    @property
    def model_cycles(self):
        return self.model["cycles"] if self.model else None

    def summary(self):
        model = (f" (alpha-beta model {self.model_cycles}, measured/model "
                 f"{self.measured_over_model:.2f})" if self.model_cycles else "")
        return (f"  {self.title:32s} {self.lines} lines {self.dtype}, {self.nodes} nodes: "
                f"{self.cycles} cycles{model}, "
                f"{verdict(self.match, 'exact')}")


def _result(record, algo, title):
    return CollectiveResult.of(record, algo=algo, title=title, model=record.get("model"),
                               measured_over_model=record.get("measured_over_model"))


class HostAllreduce(Workload):
    """The hosts drive a ring over every node (:func:`sim.allreduce.run_allreduce`)."""
    name, bench, algo, label, folder = "allreduce-host", "allreduce", "host", \
        "allreduce --algo host", "host"
    title = "the host-driven all-reduce"
    faults = "none"
    engines = ("rtl", "model")
    summary_group = "collectives"

    def plan(self, cfg, derived, options):
        from sim.allreduce import check_allreduce
        try:
            return Vector(check_allreduce(cfg, lines=options.lines, dtype=options.lanes,
                                          derived=derived))
        except ValueError as exc:
            raise self.refusal(exc)

    def run(self, plan, job, out_dir=None):
        from sim.allreduce import run_allreduce
        kind = plan.options.lanes
        job.say(f"\nall-reduce, host-driven: ring over every node, {kind} "
                f"({engine_label(plan.options, job)})")
        record = run_allreduce(plan.cfg, lines=plan.params.lines, dtype=kind, sim=job.sim,
                               out_dir=self.out_dir(job, out_dir), seed=plan.options.seed,
                               derived=plan.derived, engine=plan.options.engine,
                               timing_only=plan.options.timing_only)
        mdl = record["model"]
        job.say(f"  {verdict(record['match'], 'exact')} on every node; "
                f"{record['nodes']} nodes, {record['lines']} lines; {record['cycles']} cycles; "
                f"model 2(N-1)(alpha + beta F) = {mdl['steps']} x ({mdl['alpha']} + "
                f"{mdl['beta']} x {mdl['flits_per_step']}) = {mdl['cycles']} cycles")
        res = _result(record, "host", "all-reduce, host-driven ring")
        job.say(res.energy_report().lstrip("\n"))
        return res


class NodeCollective(Workload):
    """A collective run by the nodes' own programs (:func:`sim.collectives.run_collective`):
    the all-reduces ``ring`` and ``2d`` (against their alpha-beta models, with the step
    latency measured once per job, :func:`sim.collectives.measure_alpha`) and the
    ``broadcast``."""
    summary_group = "collectives"
    engines = ("rtl", "model")
    preloads = True

    def __init__(self, algo):
        self.collective = self.algo = self.name = self.folder = algo
        if algo == "broadcast":
            self.bench, self.algo, self.label, self.title = "broadcast", None, "broadcast", \
                "the broadcast"
            self.faults = "disabled_nodes"
        else:
            self.bench, self.label = "allreduce", f"allreduce --algo {algo}"
            self.name = f"allreduce-{algo}"
            self.title = f"the node-driven {'ring' if algo == 'ring' else '2D'} all-reduce"
            self.faults = "disabled_nodes" if algo == "ring" else "none"

    def plan(self, cfg, derived, options):
        from sim.collectives import check_collective, live_ring
        lines = options.lines or 2 * len(live_ring(cfg, derived))
        try:
            return Vector(check_collective(cfg, self.collective, lines=lines, derived=derived))
        except ValueError as exc:
            raise self.refusal(exc)

    def run(self, plan, job, out_dir=None):
        from sim.collectives import measure_alpha, run_collective
        kind, algo = plan.options.lanes, self.collective
        if algo != "broadcast":
            job.once("alpha", lambda: self._alpha(plan, job, measure_alpha))
        alpha = job.shared.get("alpha")
        label = "broadcast down a binary tree" if algo == "broadcast" else \
            f"all-reduce, node-driven {algo}"
        job.say(f"\n{label}, {kind} ({engine_label(plan.options, job)})")
        record = run_collective(plan.cfg, algo, lines=plan.params.lines, dtype=kind,
                                sim=job.sim, out_dir=self.out_dir(job, out_dir),
                                seed=plan.options.seed, derived=plan.derived,
                                alpha=alpha["alpha"] if alpha else None,
                                engine=plan.options.engine,
                                timing_only=plan.options.timing_only,
                                preload_data=plan.options.preload)
        extra = ""
        if "model" in record:
            terms = " + ".join(f"{ph['steps']} x ({ph['alpha']} + {ph['beta']} x {ph['flits']})"
                               for ph in record["model"]["phases"])
            extra = f"; model {terms} = {record['model']['cycles']} cycles"
        job.say(f"  {verdict(record['match'], 'exact')} on every node; "
                f"{record['nodes']} nodes, {record['lines']} lines; {record['cycles']} "
                f"cycles{extra}; programs of at most {record['program_descriptors']} "
                f"descriptors")
        title = "broadcast" if algo == "broadcast" else f"all-reduce, node-driven {algo}"
        res = _result(record, algo, title)
        job.say(res.energy_report().lstrip("\n"))
        return res

    @staticmethod
    def _alpha(plan, job, measure_alpha):
        alpha = measure_alpha(plan.cfg, sim=job.sim, derived=plan.derived,
                              engine=plan.options.engine,
                              timing_only=plan.options.timing_only)
        job.say(f"\nnode programs: zero-load step latency (a token round the ring) "
                f"{alpha['alpha']} cycles ({engine_label(plan.options, job)})")
        return alpha
