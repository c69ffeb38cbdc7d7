"""The registry: every workload in the order ``dojo sim`` runs them, how ``--bench`` and
``--algo`` select them, and which can run on a fault map (decided here alone, from the
entries' ``faults`` declarations)."""

from gen.config import ConfigError

from .collectives import HostAllreduce, NodeCollective
from .gemm import Cannon, HostGemm, Summa
from .traffic import Traffic

__all__ = ["WORKLOADS", "BENCHES", "ALGOS", "select", "fault_problem"]

#: name -> entry, in the order ``dojo sim`` runs and reports them
WORKLOADS = {w.name: w for w in (Traffic(), HostGemm(), Cannon(), Summa(), HostAllreduce(),
                                 NodeCollective("ring"), NodeCollective("2d"),
                                 NodeCollective("broadcast"))}

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


def _listed(items):
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def fault_problem(cfg, derived, workloads):
    """Why ``workloads`` (entries) cannot run on the config's fault map, as one line naming
    the key and what is allowed; ``None`` when they all can.

    Training-node workloads (every entry but those whose ``faults`` is ``"any"``) need a
    training-node design for the map (:func:`gen.build.fault_setup` with ``kind="compute"``:
    no dead routers, no table routing), and those that address every node
    (``faults="none"``) no disabled node either."""
    from gen.build import fault_setup
    from gen.faults import fault_map
    nodes = [w for w in workloads if w.faults != "any"]
    fmap = fault_map(cfg, derived)
    if not nodes or fmap.empty and cfg.router.routing != "table":
        return None
    entries = list(WORKLOADS.values())

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
            f"disabled nodes){allowed}")
