"""One sweep point on the fast model, on the RTL testbench's exact cycle schedule.

:func:`run_point` replays what ``verif.tb_traffic`` does to the RTL, cycle for
cycle: reset (the ctrl word written before it stays in the mesh's input
register; in fault-map mode the testbench loads the tables and the live list while the
first reset is held, so the schedule is the same), enable at cycle 0, warm-up, the marked window, the drain checks
every 64 cycles, disable, the final drain, then the statistics read-out, one
word every 2 cycles through the registered ``stat_data`` mux (read ``k``
of the read-out samples the counters 2k + 1 cycles after it starts). While the
network still moves, the read-out is stepped through exactly; from the moment
it is quiescent nothing can change and the rest is taken at once. Both engines
hand the counters to ``verif.traffic_stats.point_summary``.
"""

import time

from rtl.measure.traffic import Pattern, rate_threshold
from verif.traffic_stats import STAT_READ, point_summary
from .network import ctrl_vector

__all__ = ["run_point", "point_difference", "DRAIN_CHECK_CYCLES"]

#: the testbench compares marked_received with marked_generated every so many cycles
DRAIN_CHECK_CYCLES = 64


def _ctrl_fields(spec):
    return {"pattern": Pattern[spec["pattern"].upper()], "packet_len": spec["packet_len"],
            "seed": spec.get("seed", 1), "hotspot_x": spec.get("hotspot", [0, 0])[0],
            "hotspot_y": spec.get("hotspot", [0, 0])[1],
            "hotspot_frac": spec.get("hotspot_frac", 64)}


def _readout_words(model, names):
    """``(stat name, word name)`` in the testbench's read order for one node."""
    out = []
    for name in names:
        if name in model.stat_names:
            out.append((name, name))
        else:                                   # a wide counter, read word by word
            for w in sorted(n for n in model.stat_names if n.startswith(name + ".w")):
                out.append((name, w))
    return out


def _snapshot(model, names):
    """``{name: [value per node in RTL order]}`` as the testbench's read-out sees them.

    Read ``k`` samples the counters after ``start + 2k + 1`` steps. Once the network is
    quiescent nothing changes any more, and the remaining words are taken at once (the
    model still advances the read-out's cycles, so the schedule stays the RTL's).
    """
    order = model.rtl_order()
    words = _readout_words(model, names)
    out = {n: [0] * len(order) for n in names}
    start = model.t
    total = len(order) * len(words)
    stats, k = None, 0
    for i, node in enumerate(order):
        for name, w in words:
            if stats is None:
                model.run(start + 2 * k + 1 - model.t)
                if k % 64 == 0 and model.quiescent():
                    stats = model.node_stats()
                value = int((stats or model.node_stats())[w][node])
            else:
                value = int(stats[w][node])
            shift = 32 * int(w.rsplit(".w", 1)[1]) if w != name else 0
            out[name][i] |= value << shift
            k += 1
    if stats is not None:
        model.run_idle(start + 2 * total - model.t)
    else:
        model.run(start + 2 * total - model.t)
    return out


def _dielink_snapshot(model):
    """The die-link counters as ``verif.tb_traffic.read_dielink_stats`` reads them after the
    node read-out: link by link, counter by counter, word ``j`` sampled after
    ``start + 2j + 1`` steps (the same registered path as a node's word); None without the
    link layer."""
    if not model.link_layer:
        return None
    start = model.t
    names = list(model.dielink_stats())
    out = {n: [] for n in names}
    j = 0
    for k in range(model.n_dielinks):
        for n in names:
            model.run(start + 2 * j + 1 - model.t)
            out[n].append(model.dielink_stats()[n][k])
            j += 1
    model.run(start + 2 * j - model.t)
    return out


def run_point(model, spec, timing):
    """Measure one point (``spec``: pattern, rate, packet_len, seed, ...) on ``model``.

    Returns ``(point, cycles, wall seconds)``: the ``sweep.json`` point, with the
    cycle of every action in ``point["schedule"]``, the simulated cycles the RTL
    testbench counts and the time the network simulation took.
    """
    fields = _ctrl_fields(spec)
    threshold = rate_threshold(spec["rate"], spec["packet_len"])
    model.reset(ctrl_vector(**fields))
    t0 = time.perf_counter()
    schedule = {"enable": model.t}
    model.run(timing["warmup"], ctrl_vector(enable=1, rate=threshold, **fields))
    c0 = schedule["mark"] = model.t
    model.run(timing["measure"], ctrl_vector(enable=1, mark=1, rate=threshold, **fields))
    c1 = schedule["unmark"] = model.t
    model.top[:] = ctrl_vector(enable=1, rate=threshold, **fields)
    cycles = timing["warmup"] + timing["measure"]
    drained, waited = False, 0
    schedule["checks"] = []
    while waited < timing["drain_limit"]:
        model.run(DRAIN_CHECK_CYCLES)
        cycles += DRAIN_CHECK_CYCLES
        waited += DRAIN_CHECK_CYCLES
        schedule["checks"].append(model.t)
        generated, received = model.marked_totals()
        if generated == received:
            drained = True
            break
    schedule["disable"] = model.t
    model.run(timing["final_drain"], ctrl_vector(enable=0, **fields))
    cycles += timing["final_drain"]
    wall = time.perf_counter() - t0
    schedule["snapshot"] = model.t
    link_names = [n for n in model.stat_names if n.startswith("link.")]
    extra_names = [n for n in ("gen.suppressed_dead",) if n in model.stat_names]
    bins = model.histogram_bins
    stats = _snapshot(model, STAT_READ + [f"sink.hist[{i}]" for i in range(bins)] + link_names
                      + extra_names)
    dl_stats = _dielink_snapshot(model)
    schedule["end"] = model.t
    point = point_summary(spec, threshold, c1 - c0, stats, model.n_nodes, bins,
                          model.bin_cycles, link_names, drained, waited, model.error_port(),
                          dielink_stats=dl_stats, live=model.live_flags())
    point["schedule"] = schedule
    return point, cycles, wall



#: what may differ between the engines: how fast they ran
_NOT_COMPARED = ("cycles_per_s",)


def _first_diff(path, a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in _NOT_COMPARED:
                continue
            if key not in a or key not in b:
                return f"{path}{key}", a.get(key, "missing"), b.get(key, "missing")
            found = _first_diff(f"{path}{key}.", a[key], b[key])
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path.rstrip('.')} (length)", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_diff(f"{path.rstrip('.')}[{i}].", x, y)
            if found:
                return found
        return None
    return None if a == b else (path.rstrip("."), a, b)


def point_difference(reference, model):
    """``None`` when two lists of sweep points are equal (but for their speed), else a
    sentence naming the first differing point and counter with both values; for per-node
    lists the index is the node's position in the RTL order."""
    if len(reference) != len(model):
        return f"{len(reference)} RTL points, {len(model)} model points"
    for i, (r, m) in enumerate(zip(reference, model)):
        found = _first_diff("", r, m)
        if found:
            where, a, b = found
            return (f"point {i} ({r.get('pattern')}, offered {r.get('offered')}): {where}: "
                    f"RTL {a}, model {b}")
    return None
