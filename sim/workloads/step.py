"""The training-step entry: a workload file (:mod:`sim.step.spec`) compiled to node programs
(:mod:`sim.step.compiler`: SUMMA per replica, the collectives' all-reduce per layer) and run
on the RTL or the fast engine (:mod:`sim.step.run`, ``--engine model``: the same host flow
on :mod:`sim.netmodel.host`'s tile, its timeline from the model's own cycle records,
:mod:`sim.step.records`); ``dojo run CONFIG WORKLOAD`` is its
command, tested by ``tests/sim/step/``."""

from dataclasses import dataclass

from gen.config import ConfigError

from .base import Result, Workload, engine_label, verdict

__all__ = ["TrainingStep", "StepResult"]


@dataclass(frozen=True, eq=False)
class StepResult(Result):
    workload: str
    match: bool | None
    step_cycles: int
    step_seconds: float
    peak_fraction: float
    data_parallel: int

    BRIEF = ("workload", "match", "step_cycles", "step_seconds", "peak_fraction",
             "data_parallel")

    def summary(self):
        r = self.record
        return (f"  training step {self.workload!r}  "
                f"{verdict(self.match)}, "
                f"{self.step_cycles} cycles ({self.step_seconds * 1e6:.3g} us), "
                f"{100 * self.peak_fraction:.1f}% of peak MACs, exposed communication "
                f"(ASTRA-sim's: the step's cycles the engine is not busy) "
                f"{r['exposed_cycles']['mean']:.0f} cycles per node on average"
                + self.energy_report())


class TrainingStep(Workload):
    """A training step from a workload file (``options.workload``)."""
    name, bench, algo, label, folder = "step", "step", None, "dojo run", "step"
    title = "the training step"
    files = ("result.json", "astra.txt")
    engines = ("rtl", "model")
    faults = "disabled_nodes"          # the compiler places replicas around them
    dtypes = None
    preloads = True

    def runs_by_default(self, derived):
        return False                         # only ``dojo run`` runs it, with its file

    def plan(self, cfg, derived, options):
        from sim.step.compiler import compile_step
        from sim.step.spec import load_workload
        from verif.node_model import NodeModel
        if not options.workload:
            raise ConfigError(["WORKLOAD: missing; allowed: a workload file (workloads/)"])
        step = load_workload(options.workload)
        try:
            compile_step(cfg, derived, step, NodeModel.from_config(cfg, derived), data=False)
        except ValueError as exc:
            raise ConfigError([str(exc)]) from None
        return step

    def run(self, plan, job, out_dir=None):
        from sim.step.run import astra_lines, run_step
        step = plan.params
        job.say(f"\ntraining step {step.name!r}: {step.description} "
                f"({engine_label(plan.options, job)})")
        record = run_step(plan.cfg, step, sim=job.sim, out_dir=self.out_dir(job, out_dir),
                          seed=plan.options.seed, derived=plan.derived,
                          trace_sim=job.shared.get("trace_sim", "icarus"),
                          engine=plan.options.engine, timing_only=plan.options.timing_only,
                          preload=plan.options.preload)
        res = StepResult.of(record)
        job.say("\n".join(astra_lines(record)))
        job.say(self.report(record))
        return res

    @staticmethod
    def report(r):
        """The step's figures besides its ASTRA-sim lines."""
        lines = [f"  step {r['step_cycles']} cycles = {r['step_seconds'] * 1e6:.3g} us; "
                 f"{r['mac_steps']} MAC steps = {100 * r['peak_fraction']:.1f}% of peak; "
                 f"link utilisation mean {100 * r['link_utilisation']['mean']:.1f}%, max "
                 f"{100 * r['link_utilisation']['max']:.1f}% (links that carried flits)"]
        if r.get("preloaded"):
            lines.append("  preloaded: programs and operands written into the SRAM before "
                         "cycle 0; the load and read-back through the hosts not run (their "
                         "cycles not measured, not included)")
        if r.get("timeline"):
            c = r["communication_cycles"]["mean"]
            e = r["exposed_communication_cycles"]["mean"]
            lines.append(f"  per node (mean): compute {r['compute_cycles']['mean']:.0f}, "
                         f"communication (DMA busy) {c:.0f}, of it exposed {e:.0f} "
                         f"({100 * r['exposed_communication_fraction']:.0f}%), compute queue "
                         f"waiting {r['waiting_cycles']['mean']:.0f} cycles; timeline: "
                         f"trace.json (Perfetto, chrome://tracing)")
        return "\n".join(lines)
