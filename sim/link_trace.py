"""Record every link register of a traffic network per cycle, from the RTL simulation.

``run_link_trace(design, cycles=..., ctrl_schedule=...)`` runs
:mod:`verif.tb_link_trace` on ``design`` (a ``noc_design(cfg, kind="traffic")``)
and returns ``{link name: [(cycle, vc, last, data), ...]}``, one entry per cycle
in which the link register holds a valid flit. Link names are those of
:func:`verif.tb_link_trace.link_paths`: ``r<x>_<y>.<port>`` (router output
register, port ``local/north/east/south/west``), ``g<x>_<y>`` (generator output
register), ``d<k>`` (die link ``dielink<k>``'s output register).

Under Verilator this is a build of its own (cached like every other build) in
which the link registers are made readable by VPI with ``public_flat_rd``
(:data:`TRACE_SIGNALS`); the normal build, with only the top's ports public, is
untouched. Icarus sees every signal without a special build.
"""

import hashlib
import json

from verif.tb_link_trace import LINK_FIELDS, ROUTER_PORTS, link_paths

__all__ = ["TRACE_SIGNALS", "run_link_trace", "link_names"]

#: ``(module, var)`` of every traced signal, for ``sim.runner.run_cocotb(public_signals=)``
#: (the node module's own ports and wires, and the die link's output port)
TRACE_SIGNALS = tuple(
    [("dojo_traffic_node", f"{sig}__{f}")
     for sig in ("in_local", "i") + tuple(f"out_{p}" for p in ROUTER_PORTS[1:])
     for f in LINK_FIELDS]
    + [("dojo_dielink", f"o__{f}") for f in LINK_FIELDS])


def link_names(design):
    """Every link name of ``design`` (the keys of :func:`run_link_trace`'s result)."""
    return list(link_paths(design.manifest()))


def run_link_trace(design, *, sim="verilator", cycles, ctrl_schedule, links=None,
                   ctrl_idle=None, tag=None):
    """Simulate ``cycles`` cycles after reset and return the valid flits of ``links``.

    ``ctrl_schedule``: ``[(cycle, {control_value fields}), ...]``, each written at the
    falling edge where ``dut.cycle == cycle`` (a whole ctrl word: fields not given are
    ``control_value``'s idle defaults; ``pattern`` by name or :class:`rtl.traffic.Pattern`).
    ``ctrl_idle``: fields of the word written before reset (``enable`` forced to 0),
    by default those of the first schedule entry. ``links=None``: every link.
    Returns ``{name: [(c, vc, last, data), ...]}`` in increasing ``c``, the value of
    ``dut.cycle`` at the falling edge where the registers were sampled (0 at the
    falling edge where reset is released, see :mod:`verif.tb_link_trace`).
    """
    from rtl.measure.traffic import Pattern
    from sim.runner import run_cocotb

    def plain(fields):
        return {k: (v.name.lower() if isinstance(v, Pattern) else v) for k, v in fields.items()}

    params = {"cycles": int(cycles),
              "ctrl": [[int(c), plain(f)] for c, f in ctrl_schedule],
              "ctrl_idle": None if ctrl_idle is None else plain(ctrl_idle),
              "links": None if links is None else list(links)}
    if tag is None:
        tag = "link_trace-" + hashlib.sha256(
            json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    res = run_cocotb(design, sim=sim, test_module="verif.tb_link_trace", tag=tag,
                     scenario={"params": params},
                     public_signals=TRACE_SIGNALS if sim == "verilator" else None)["trace"]
    return {name: [tuple(e) for e in entries] for name, entries in res["links"].items()}
