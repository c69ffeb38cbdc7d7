"""The registry: every workload in the order ``dojo sim`` runs them, how ``--bench`` and
``--algo`` select them; which can run on a fault map is decided from the entries'
``faults`` declarations by :func:`sim.workloads.base.fault_problem` alone."""

from gen.config import ConfigError

from .base import ENTRIES, fault_problem
from .collectives import HostAllreduce, NodeCollective
from .gemm import Cannon, HostGemm, Summa
from .step import TrainingStep
from .traffic import Traffic

__all__ = ["WORKLOADS", "STEPS", "BENCHES", "ALGOS", "select", "fault_problem"]

#: name -> entry, in the order ``dojo sim`` runs and reports them
WORKLOADS = {w.name: w for w in (Traffic(), HostGemm(), Cannon(), Summa(), HostAllreduce(),
                                 NodeCollective("ring"), NodeCollective("2d"),
                                 NodeCollective("broadcast"))}
ENTRIES.extend(WORKLOADS.values())          # what fault_problem's "allowed" lists

#: the entries that take a workload file (``dojo run``), apart from ``dojo sim``'s kernels
STEPS = {w.name: w for w in (TrainingStep(),)}

#: the benches ``dojo sim --bench`` takes (besides ``all``)
BENCHES = tuple(dict.fromkeys(w.bench for w in WORKLOADS.values()))
#: bench -> the ``--algo`` values it takes (benches of one workload take none)
ALGOS = {b: tuple(w.algo for w in WORKLOADS.values() if w.bench == b)
         for b in BENCHES if any(w.bench == b and w.algo for w in WORKLOADS.values())}


def select(bench, algo, derived):
    """The entries ``dojo sim --bench bench [--algo algo]`` runs: ``algo`` picks one; else
    every entry of the bench (``all``: of every bench) that runs by default on this grid.
    Raises ConfigError (one line) for an ``--algo`` the bench does not take."""
    if bench != "all" and bench not in BENCHES:
        raise ConfigError([f"--bench {bench}: not allowed; allowed: all, {', '.join(BENCHES)}"])
    if algo is not None:
        if algo not in ALGOS.get(bench, ()):
            allowed = "; ".join(f"--bench {b}: {', '.join(a)}" for b, a in ALGOS.items())
            raise ConfigError([f"--algo {algo}: not allowed with --bench {bench} ({allowed})"])
        return [w for w in WORKLOADS.values() if (w.bench, w.algo) == (bench, algo)]
    return [w for w in WORKLOADS.values()
            if bench in ("all", w.bench) and w.runs_by_default(derived)]
