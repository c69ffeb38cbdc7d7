"""Energy of what the engines counted: sweep points and workload runs.

:mod:`gen.energy` gives the energy of each event; this module turns counters into events.
A flit sent on a mesh output is a flit-hop, or a die-link flit when the link crosses a die
boundary; a flit sent on any output, the local one too, is a router traversal; static power
is charged for every router over the cycles counted. With the die-link layer, the layer's
own window counters replace the die-link flits: the codewords each link sent in the window
(its first transmissions and its replays, each carrying the sequence number and the CRC)
and the control words its reverse lane sent with news (an ACK, a NAK or a credit).
"""

from gen.energy import energy_of
from rtl.net.directions import MESH_PORTS, PORTS, STEP

__all__ = ["links", "point_links", "flit_counts", "price_flits", "point_counts", "point_energy",
           "run_energy", "workload_energy", "energy_text", "WORKLOAD_PARTS",
           "plot_workload_energy"]


def links(nodes, present, die_shape, flits_out):
    """``(x, y, port, flits, crossing)`` of every mesh link between present routers.

    ``nodes``: coordinates in counter order; ``flits_out``: ``{port: [flits per node]}``
    (a missing port: none); ``crossing``: the link joins two dies."""
    for i, (x, y) in enumerate(nodes):
        if (x, y) not in present:
            continue                    # a dead router has no links
        for port in MESH_PORTS:
            dx, dy = STEP[port]
            peer = (x + dx, y + dy)
            if peer not in present:
                continue
            flits = flits_out.get(port, [0] * len(nodes))[i]
            crossing = bool(die_shape) and ((x // die_shape[0], y // die_shape[1]) !=
                                            (peer[0] // die_shape[0], peer[1] // die_shape[1]))
            yield x, y, port, flits, crossing


def _point_geometry(result, point):
    nodes = [tuple(n) for n in result.get("nodes") or []] or \
        [(x, y) for y in range(result["mesh"][1]) for x in range(result["mesh"][0])]
    present = set(nodes) - {tuple(n) for n in result.get("dead_routers") or []}
    flits_out = {port: point["link_flits"][f"link.{port}"] for port in PORTS
                 if f"link.{port}" in point["link_flits"]}
    return nodes, present, flits_out


def point_links(result, point):
    """:func:`links` of a sweep point (its link counters count the marked window)."""
    nodes, present, flits_out = _point_geometry(result, point)
    return links(nodes, present, result.get("die_shape"), flits_out)


def flit_counts(nodes, present, die_shape, flits_out):
    """The network events of flits counted per output port: ``flit_hops`` (mesh links
    within a die), ``dielink_flits`` (links across a die boundary), ``router_flits`` (flits
    out of any port of a present router, the local one too)."""
    counts = {"flit_hops": 0, "dielink_flits": 0}
    for *_, flits, crossing in links(nodes, present, die_shape, flits_out):
        counts["dielink_flits" if crossing else "flit_hops"] += flits
    alive = [i for i, n in enumerate(nodes) if n in present]
    counts["router_flits"] = sum(flits_out.get(port, [0] * len(nodes))[i]
                                 for port in PORTS for i in alive)
    return counts


def price_flits(energy, nodes, present, die_shape, flits_out, *, cycles, counts=None):
    """Joules by component of the flits counted per output port (:func:`flit_counts`), plus
    ``counts`` (other :data:`gen.energy.EVENTS`), and static power for every present router
    over ``cycles``."""
    counts = {**(counts or {}), **flit_counts(nodes, present, die_shape, flits_out)}
    alive = sum(1 for n in nodes if n in present)
    return energy_of(energy, counts, cycles=cycles, nodes=alive)


def _summary(energy, joules, cycles, delivered):
    total = sum(joules.values())
    dynamic = total - joules["clock"] - joules["leakage"]
    return {"joules": joules, "total_j": total,
            "watts": total * energy.f_hz / cycles if cycles else None,
            "delivered_flits": delivered,
            "pj_per_delivered_flit": total * 1e12 / delivered if delivered else None,
            "dynamic_pj_per_delivered_flit": dynamic * 1e12 / delivered if delivered else None}


def point_counts(result, point, energy):
    """The events a sweep point counted, as both engines count them (the correlation test
    holds them equal), all over the marked window: :func:`flit_counts` and
    ``delivered_flits`` (flits out of the local ports); with the die-link layer, from its
    window counters, ``dielink_codewords`` (every codeword the links sent, replays
    included), ``dielink_replayed``, the lane bits and CRC bits the codewords carried,
    ``dielink_control_words`` (reverse-lane control words with news) and their bits."""
    nodes, present, flits_out = _point_geometry(result, point)
    if not flits_out:
        raise ValueError("point_energy: the point has no link counters (link.<port> in "
                         "link_flits); it cannot be priced")
    counts = flit_counts(nodes, present, result.get("die_shape"), flits_out)
    counts["delivered_flits"] = sum(flits_out.get("local", [0] * len(nodes))[i]
                                    for i, n in enumerate(nodes) if n in present)
    totals = (point.get("dielink") or {}).get("totals")
    if totals is not None:
        counts.update(_dielink_counts(energy, totals))
    return counts


def point_energy(result, point, energy):
    """The energy of a sweep point's marked window, priced by ``energy``
    (:func:`gen.energy.energy_model`) from the counters both engines count
    (:func:`point_counts`, in ``counts``). With the die-link layer its window's codewords
    (replays included) and control words are priced instead of the die-link flits
    (``joules``: ``dielink_codewords``, ``dielink_control_words``; ``dielink_flits`` is 0),
    and ``replay_j`` says how much of it the replays are."""
    counts = point_counts(result, point, energy)
    nodes, present, _ = _point_geometry(result, point)
    priced = ("flit_hops", "router_flits") + (
        ("dielink_codewords", "dielink_control_words") if "dielink_codewords" in counts
        else ("dielink_flits",))
    joules = energy_of(energy, {k: counts[k] for k in priced},
                       cycles=point["window"], nodes=sum(1 for n in nodes if n in present))
    return {**_summary(energy, joules, point["window"], counts["delivered_flits"]),
            "counts": counts,
            "replay_j": counts.get("dielink_replayed", 0) * energy.dielink_pj_per_flit * 1e-12}


def _dielink_counts(energy, totals):
    """The die-link layer's events from its counters' totals (``window_sent``,
    ``window_replayed``, ``window_control``): codewords (replays included), the replays,
    the lane and CRC bits they carried, control words with news and their bits."""
    sent, control = totals["window_sent"], totals["window_control"]
    return {"dielink_codewords": sent, "dielink_replayed": totals["window_replayed"],
            "dielink_lane_bits": sent * energy.dielink_bits_per_flit,
            "dielink_crc_bits": sent * energy.dielink_crc_bits,
            "dielink_control_words": control,
            "dielink_control_bits": control * energy.dielink_control_bits}


def run_energy(energy, counters, *, die_shape, cycles, matrix_p, flops=None, dielink=None):
    """The energy of a workload run from every node's event counters
    (``{(x, y): {name: value}}``, names of :data:`rtl.node.layouts.COUNTER_NAMES`, counted
    from reset) over ``cycles``: joules by component, watts, and with ``flops`` (the
    workload's useful operations) TFLOPS per watt. ``dielink``: the die-link layer's
    counters over the same cycles (``{stat: [value per link]}``,
    :data:`rtl.fabric.dielink_layer.STAT_NAMES`), priced as :func:`point_energy` prices a
    sweep point's (codewords with their replays, and control words, in place of the
    die-link flits); ``None``: the die-link flits the routers counted."""
    from rtl.node.layouts import COUNTER_NAMES
    nodes = sorted(counters, key=lambda n: (n[1], n[0]))
    for n in nodes:
        missing = [name for name in COUNTER_NAMES if name not in counters[n]]
        if missing:
            raise ValueError(f"run_energy: the counters of node {n} lack {', '.join(missing)}")
    flits_out = {port: [counters[n][f"flits_{port}"] for n in nodes] for port in PORTS}
    macs = matrix_p * matrix_p
    counts = {"sram_reads": sum(counters[n]["sram_reads"] for n in nodes),
              "sram_writes": sum(counters[n]["sram_writes"] for n in nodes),
              "macs_bf16": macs * sum(counters[n]["mac_steps_bf16"] for n in nodes),
              "macs_int8": macs * sum(counters[n]["mac_steps_int8"] for n in nodes)}
    present = set(nodes)
    network = flit_counts(nodes, present, die_shape, flits_out)
    layer = {} if dielink is None else \
        _dielink_counts(energy, {k: sum(v) for k, v in dielink.items()})
    priced = {**counts, **network}
    if layer:
        priced.pop("dielink_flits")
        priced.update(dielink_codewords=layer["dielink_codewords"],
                      dielink_control_words=layer["dielink_control_words"])
    joules = energy_of(energy, priced, cycles=cycles, nodes=len(nodes))
    out = _summary(energy, joules, cycles, sum(flits_out["local"]))
    out["counts"] = {**counts, **network, **layer,
                     "flits_out": {p: sum(v) for p, v in flits_out.items()}}
    if layer:
        out["replay_j"] = layer["dielink_replayed"] * energy.dielink_pj_per_flit * 1e-12
    if flops is not None and out["total_j"]:
        seconds = cycles / energy.f_hz
        out["tflops_per_w"] = flops / seconds / 1e12 / out["watts"] if out["watts"] else None
    return out


def workload_energy(cfg, derived, res, *, flops=None):
    """The energy of a workload run from every node's event counters (``res["counters"]``,
    ``res["counters_cycle"]``), ``read`` as they were read:

    * ``"hosts"`` (the RTL, and the model's host-loaded runs): the testbench's hosts read
      them from every node after the run (:mod:`verif.tb_tile`): the whole run, from reset
      to the last counter read, the loading and reading back by the hosts included (the
      hosts themselves are outside the tile and not counted);
    * ``"direct"`` (``res["counters_read"]``: a preloaded timing-only run on the model,
      :func:`sim.netmodel.host.run_scenario`): read from the model's state after the run,
      no packet sent: from reset to the last DONE, which is the start writes, the programs
      and their DONEs (no load, no read-back); with the die-link layer its counters over
      the same cycles (``res["dielink_counters"]``) price the die links.

    ``flops``: the workload's useful operations, for TFLOPS per watt."""
    from gen.energy import energy_model
    counters = {tuple(int(v) for v in key.split(",")): c for key, c in res["counters"].items()}
    die, tile = derived.die, derived.tile
    die_shape = [die.nodes_x, die.nodes_y] if tile.dies > 1 else None
    out = run_energy(energy_model(cfg, derived), counters, die_shape=die_shape,
                     cycles=res["counters_cycle"], matrix_p=cfg.node.matrix_p, flops=flops,
                     dielink=res.get("dielink_counters"))
    return {**out, "cycles": res["counters_cycle"], "read": res.get("counters_read", "hosts")}


def energy_text(energy):
    """One line of a workload's energy for its report."""
    tflops = energy.get("tflops_per_w")
    span = (f"the {energy['cycles']} cycles from reset to the last DONE (counters read "
            f"directly: no load, no read-back)" if energy.get("read") == "direct"
            else f"the run's {energy['cycles']} cycles")
    return (f"energy {energy['total_j'] * 1e6:.3g} uJ over {span}, "
            f"{energy['watts']:.3g} W average"
            + (f", {tflops:.3g} TFLOPS/W" if tflops is not None else ""))


#: the components of a workload's energy, bottom to top in :func:`plot_workload_energy`
WORKLOAD_PARTS = ("macs_bf16", "macs_int8", "sram_reads", "sram_writes", "flit_hops",
                  "router_flits", "dielink_flits", "dielink_codewords", "dielink_control_words",
                  "clock", "leakage")


def plot_workload_energy(runs, path, title):
    """Stacked bars of each workload run's energy by component: ``runs`` is a list of
    ``(label, energy)``, ``energy`` a workload's :func:`workload_energy`. Left, every
    component in uJ, the run's average power over its bar; right, the dynamic components
    alone (without the clock and leakage) in nJ, which static power can hide."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    if not runs:
        raise ValueError("plot_workload_energy needs at least one run")
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.4 * len(runs) + 3), 5.0))
    labels = [label for label, _ in runs]
    colours = dict(zip(WORKLOAD_PARTS, plt.get_cmap("tab20").colors))
    for ax, parts, scale, unit in ((axes[0], WORKLOAD_PARTS, 1e6, "uJ"),
                                   (axes[1], WORKLOAD_PARTS[:-2], 1e9, "nJ")):
        bottom = np.zeros(len(runs))
        for part in parts:
            vals = np.array([en["joules"].get(part, 0.0) * scale for _, en in runs])
            if not vals.any():
                continue
            ax.bar(labels, vals, bottom=bottom, label=part.replace("_", " "),
                   color=colours[part])
            bottom += vals
        ax.set_ylabel(f"energy of the run ({unit})")
        ax.tick_params(axis="x", labelrotation=35, labelsize=7)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7, ncol=2)
    for x, (_, en) in enumerate(runs):
        top = sum(en["joules"].get(part, 0.0) for part in WORKLOAD_PARTS) * 1e6
        axes[0].annotate(f"{en['watts']:.3g} W", (x, top), ha="center", va="bottom",
                         fontsize=7)
    axes[0].set_title("every component", fontsize=9)
    axes[1].set_title("dynamic only (no clock, no leakage)", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
