"""One measured sweep point from the traffic statistics: shared by the RTL testbench and the fast model.

Both engines read the same counters (``TrafficNode.stat_names``) at the end of a
point and hand them to :func:`point_summary`, so a point of ``sweep.json`` is
computed by one function whichever engine measured it.
"""

__all__ = ["STAT_READ", "point_summary", "percentile", "live_flags"]

#: the per-node counters a point reads (plus the histogram and the link counters)
STAT_READ = ["gen.generated_marked", "gen.suppressed", "sink.marked_packets",
             "sink.marked_flits", "sink.latency_max", "sink.misroutes",
             "sink.integrity_errors", "sink.order_errors", "sink.packets", "gen.generated",
             "sink.latency_sum", "router.overflow"]


def live_flags(man):
    """Per node (manifest ``nodes`` order): is it live; ``None`` without live rules."""
    if not man.get("live_mode"):
        return None
    live = {tuple(p) for p in man["live_nodes"]}
    return [tuple(n) in live for n in man["nodes"]]


def percentile(hist, bin_cycles, q, latency_max):
    """The ``q`` quantile of a latency histogram whose last bin is open-ended.

    Returns ``(value, clipped)``. Inside bin ``i`` (latencies ``[i b, (i+1) b)``) the
    value is interpolated linearly and never exceeds the measured maximum. When the
    quantile falls in the last bin and the maximum lies beyond the histogram's range,
    it is not known: ``(None, True)``; ``len(hist) - 1`` bins times ``bin_cycles`` is
    then a lower bound. No packet: ``(None, False)``.
    """
    total = sum(hist)
    if not total:
        return None, False
    target, acc = q * total, 0
    for i, count in enumerate(hist):
        if count and acc + count >= target:
            if i == len(hist) - 1 and latency_max >= len(hist) * bin_cycles:
                return None, True
            frac = (target - acc) / count
            return min((i + frac) * bin_cycles, float(latency_max)), False
        acc += count
    return None, True


def point_summary(spec, threshold, window, stats, n_nodes, hist_bins, bin_cycles, link_names,
                  drained, drain_cycles, error_port, dielink_stats=None, live=None):
    """The ``sweep.json`` point of one offered rate.

    ``stats`` maps every name of :data:`STAT_READ`, the histogram bins and
    ``link_names`` to a list of per-node values (RTL node order); the link
    counters count the marked window of ``window`` cycles. ``dielink_stats`` (with the
    die-link layer) maps every name of ``rtl.fabric.dielink_layer.STAT_NAMES`` to a list
    per die link (instance order), counted over the whole point: the point's
    ``dielink`` gets the totals and the per-link lists. ``live`` (live-node rules: one
    bool per node, :func:`live_flags`) restricts ``accepted_avg``/``accepted_min`` to the
    live nodes (the others neither send nor receive) and adds ``suppressed_dead`` and
    ``live_nodes``.
    """
    marked_flits = stats["sink.marked_flits"]
    per_node = [f / window for f in marked_flits]
    if live is not None:
        per_node = [a for a, ok in zip(per_node, live) if ok] or [0.0]
        extra_live = {"live_nodes": sum(live),
                      "suppressed_dead": sum(stats.get("gen.suppressed_dead", [0]))}
    else:
        extra_live = {}
    packets = sum(stats["sink.marked_packets"])
    hist = [sum(stats[f"sink.hist[{i}]"][n] for n in range(n_nodes)) for i in range(hist_bins)]
    latency_max = max(stats["sink.latency_max"])
    p99, clipped = percentile(hist, bin_cycles, 0.99, latency_max)
    # every marked packet was generated in the window: delivered marked flits per
    # node-cycle is the accepted throughput (the source queue bounds generation)
    extra = {}
    if dielink_stats is not None:
        extra["dielink"] = {"totals": {k: sum(v) for k, v in dielink_stats.items()},
                            "links": {k: list(v) for k, v in dielink_stats.items()}}
    return extra | {
        "pattern": spec["pattern"],
        "packet_len": spec["packet_len"],
        "offered": spec["rate"],
        "threshold": threshold,
        "accepted_avg": sum(per_node) / len(per_node),
        "accepted_min": min(per_node),
        "generated_marked": sum(stats["gen.generated_marked"]),
        "delivered_marked": packets,
        "suppressed": sum(stats["gen.suppressed"]),
        "latency_avg": sum(stats["sink.latency_sum"]) / packets if packets else None,
        "latency_max": latency_max,
        "latency_p99": p99,
        "latency_p99_clipped": clipped,
        "latency_p99_lower_bound": (hist_bins - 1) * bin_cycles if clipped else None,
        "histogram": hist,
        "drained": drained,
        "drain_cycles": drain_cycles,
        "errors": {k: sum(stats[k]) for k in ("sink.misroutes", "sink.integrity_errors",
                                               "sink.order_errors", "router.overflow")}
        | {"error_port": error_port},
        "generated_total": sum(stats["gen.generated"]),
        "delivered_total": sum(stats["sink.packets"]),
        "link_flits": {n: list(stats[n]) for n in link_names},
        "window": window,
    } | extra_live
