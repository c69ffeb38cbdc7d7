"""What a workload entry is: its declarations, the options it reads, its plan and its result.

An entry declares what it supports (``engines``, ``faults``, ``grid``, ``dtypes``,
``matrices``); :meth:`Workload.check` refuses everything else from those declarations
before its own checks, so an entry cannot forget a refusal its declarations imply. A
refusal is a :class:`gen.config.ConfigError` of one line naming the option or key, the
value and what is allowed.
"""

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from gen.config import ConfigError

__all__ = ["Options", "Job", "Plan", "Result", "Workload", "FAULTS", "ENTRIES", "fault_problem",
           "engine_label", "verdict"]

#: what an entry does with a fault map: runs on any (dead routers too, under table
#: routing), skips disabled nodes (addresses only the live ones), or needs every node
FAULTS = ("any", "disabled_nodes", "none")


@dataclass(frozen=True)
class Options:
    """What the user asks of the workloads (``dojo sim``'s arguments); ``None``: the
    entry's default. ``dtype`` is the GEMM operand type; the all-reduces and the
    broadcast take fp32 lanes for ``bf16``, int32 for ``int8``."""
    m: int | None = None
    n: int | None = None
    k: int | None = None
    dtype: str = "bf16"
    lines: int | None = None
    a: str | None = None            #: A as a .npy file (the host-driven GEMM only)
    b: str | None = None
    c_out: str | None = None        #: where the host-driven GEMM copies C
    engine: str = "rtl"
    timing_only: bool = False       #: the model without data values (``--timing-only``)
    preload: bool = False           #: timing only: data and programs written into the SRAM
    workload: str | None = None     #: a training step's workload file (``dojo run``)
    threads: int | None = None
    seed: int = 0

    @property
    def lanes(self):
        """The vector lanes of an all-reduce or broadcast for this ``dtype``."""
        return "fp32" if self.dtype == "bf16" else "int32"


def engine_label(options, job):
    """What runs a workload, as its progress line says: the RTL's simulator, or the fast
    model (timing only)."""
    if options.engine == "rtl":
        return job.sim
    return "fast model, timing only" if options.timing_only else "fast model"


def verdict(match, exact="bit-exact"):
    """A result's ``match`` in words; ``None`` is a timing-only run's: no data computed,
    nothing compared."""
    if match is None:
        return "no data (timing only: values not computed, not compared)"
    return f"{exact} vs golden" if match else "MISMATCH vs golden"


def _quiet(*_args, **_kwargs):
    pass


@dataclass
class Job:
    """What the workloads of one run share: the simulator, the report directory (each
    entry writes to its ``folder`` in it), the provenance, where progress is printed
    (``say``; default: nowhere), and what one workload measured for the next
    (:meth:`once`: the all-reduces' measured step latency)."""
    sim: str = "verilator"
    out: Path = Path("build/sim")
    provenance: dict | None = None
    say: Callable = _quiet
    shared: dict = field(default_factory=dict)

    def once(self, key, measure):
        """``measure()``, run the first time ``key`` is asked for in this job only."""
        if key not in self.shared:
            self.shared[key] = measure()
        return self.shared[key]


@dataclass(frozen=True, eq=False)
class Plan:
    """A checked workload: the config, its derivation, the options and what the entry's
    check worked out (``params``: its resolved sizes and operands, a dataclass of the
    entry's)."""
    workload: "Workload"
    cfg: object
    derived: dict
    options: Options
    params: object


@dataclass(frozen=True, eq=False)
class Result:
    """A workload's result: the fields the reports read, typed, and ``record``, the whole
    ``result.json`` it wrote (its JSON form). Subclasses list the fields of their
    ``summary.json`` entry in ``BRIEF``."""
    record: dict

    BRIEF = ()

    @classmethod
    def of(cls, record, **extra):
        """The result of ``record`` (``result.json``): every field read from it by name,
        except those given in ``extra``."""
        names = [f.name for f in fields(cls) if f.name != "record" and f.name not in extra]
        return cls(record=record, **{name: record[name] for name in names}, **extra)

    def to_json(self):
        return self.record

    def brief(self):
        """This result's entry of ``summary.json``."""
        return {key: getattr(self, key) for key in self.BRIEF}

    def energy_report(self):
        """The run's energy as one report line (:func:`sim.energy.energy_text`), or ``""``
        for a record without one."""
        from sim.energy import energy_text
        energy = self.record.get("energy")
        return f"\n  {energy_text(energy)}" if energy else ""

    @property
    def ok(self):
        """Whether the result matches its golden model (a workload without one, or a
        timing-only run that computed no data: True)."""
        return getattr(self, "match", True) is not False

    def summary(self):
        """The result's line(s) under ``summary`` in ``dojo sim``'s output."""
        raise NotImplementedError


class Workload:
    """One entry of the registry. Subclasses set the declarations and implement
    :meth:`plan` (their own checks -> ``params``) and :meth:`run`.

    Declarations: ``bench`` and ``algo`` (how ``dojo sim --bench B --algo A`` selects it;
    ``algo`` ``None``: the bench has one workload), ``label`` (how its refusals name it),
    ``title`` (how a fault-map refusal names it), ``folder`` and ``files`` (what it writes
    under the report directory), ``engines``, ``faults`` (one of :data:`FAULTS`), ``grid``
    (``"any"`` or ``"square"``), ``dtypes`` (the ``--dtype`` values it takes, ``None``: it
    has no data), ``matrices`` (whether it takes given A and B), ``summary_group`` (the
    list of ``summary.json`` its entry joins; ``None``: its own key, its ``name``),
    ``preloads`` (whether a timing-only run on the model may write its data and programs
    into the SRAM instead of the hosts' packets, ``--preload``).
    """
    name = None
    bench = None
    algo = None
    label = None
    title = None
    folder = None
    files = ("result.json",)
    engines = ("rtl",)
    faults = "none"
    grid = "any"
    dtypes = ("int8", "bf16")
    matrices = False
    summary_group = None
    preloads = False

    @property
    def selector(self):
        """The ``dojo sim`` arguments that run this entry alone (without ``--bench``)."""
        return self.bench if self.algo is None else f"{self.bench} --algo {self.algo}"

    def fits_grid(self, derived):
        t = derived.tile
        return self.grid == "any" or t.mesh_x == t.mesh_y

    def runs_by_default(self, derived):
        """Whether ``dojo sim`` runs it when its bench is asked for without ``--algo``."""
        return self.fits_grid(derived)

    def check(self, cfg, derived, options):
        """Every refusal before anything runs -> :class:`Plan`. Raises ConfigError, one
        line: first what the declarations exclude, then the entry's own checks."""
        problem = self.unsupported(cfg, derived, options)
        if problem:
            raise ConfigError([problem])
        return Plan(self, cfg, derived, options, self.plan(cfg, derived, options))

    def unsupported(self, cfg, derived, options):
        """The refusal the declarations imply for ``options`` on this config, or None."""
        if options.engine not in self.engines:
            return (f"--engine {options.engine}: not allowed with --bench {self.selector}; "
                    f"allowed: {', '.join(self.engines)}")
        if self.dtypes is not None and options.dtype not in self.dtypes:
            return (f"--dtype {options.dtype}: not allowed with --bench {self.selector}; "
                    f"allowed: {', '.join(self.dtypes)}")
        if options.preload and not (options.engine == "model" and options.timing_only):
            return ("--preload: not allowed without --engine model --timing-only; allowed: "
                    "with --engine model --timing-only (the hosts load the full model and "
                    "the RTL)")
        if options.preload and not self.preloads:
            return (f"--preload: not allowed with --bench {self.selector} (its hosts drive "
                    f"the work); allowed: with the node-program workloads (--bench "
                    f"allreduce --algo ring/2d, broadcast, gemm --algo summa)")
        if not self.matrices and (options.a or options.b):
            return "--a/--b: only the host-driven GEMM takes given matrices (--algo host)"
        if not self.fits_grid(derived):
            t = derived.tile
            return (f"{self.label}: the tile's grid of nodes is {t.mesh_x}x{t.mesh_y} "
                    f"(tile.dies_x/y x die.nodes_x/y); allowed: a square grid")
        problem = fault_problem(cfg, derived, [self])
        if problem or options.engine != "model" or self.faults == "any":
            return problem
        from sim.netmodel.host import model_problem        # the training nodes' model
        return model_problem(cfg, derived, timing_only=options.timing_only)

    def plan(self, cfg, derived, options):
        """The entry's own checks -> the parameters its run takes."""
        raise NotImplementedError

    def run(self, plan, job, out_dir=None):
        """Run a checked plan; writes under ``out_dir`` (default ``job.out / folder``),
        prints its progress through ``job.say`` -> a :class:`Result`."""
        raise NotImplementedError

    def out_dir(self, job, out_dir):
        return Path(out_dir) if out_dir is not None else Path(job.out) / self.folder

    def refusal(self, exc):
        """A ValueError of an algorithm's check as this entry's one-line refusal."""
        return ConfigError([f"{self.label}: {exc}"])


#: every entry of the registry, in its order (:mod:`sim.workloads.registry` fills it; kept
#: here so that the fault check below needs no import of the registry, which imports this)
ENTRIES = []


def _listed(items):
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def fault_problem(cfg, derived, workloads):
    """Why ``workloads`` (entries) cannot run on the config's fault map, as one line naming
    the key and what is allowed; ``None`` when they all can.

    The ``allowed`` part lists every registered entry (:data:`ENTRIES`, filled by
    :mod:`sim.workloads.registry`). Training-node workloads (every entry but those whose ``faults`` is ``"any"``) need a
    training-node design for the map (:func:`gen.build.fault_setup` with ``kind="compute"``:
    no dead routers, no table routing), and those that address every node
    (``faults="none"``) no disabled node either."""
    from gen.build import fault_setup
    from gen.faults import fault_map
    nodes = [w for w in workloads if w.faults != "any"]
    fmap = fault_map(cfg, derived)
    if not nodes or fmap.empty and cfg.router.routing != "table":
        return None
    entries = ENTRIES

    def selectors(faults):
        return ", ".join(f"--bench {w.selector}" for w in entries if w.faults == faults)

    allowed = f"; allowed: {selectors('any')}, or with disabled nodes only " \
              f"{selectors('disabled_nodes')}"
    try:
        fault_setup(cfg, derived, kind="compute")
    except ConfigError as exc:
        return exc.problems[0] + allowed
    blocked = [w.selector for w in nodes if w.faults == "none"]
    if not blocked:
        return None
    who = "it addresses" if len(blocked) == 1 else "they address"
    skipping = _listed([w.title for w in entries if w.faults == "disabled_nodes"])
    return (f"die.disabled_nodes: {', '.join(blocked)} cannot run with "
            f"{len(fmap.disabled_nodes)} disabled nodes: {who} every node ({skipping} skip "
            f"disabled nodes){allowed}, or -s 'die.disabled_nodes=[]' for the full array")
