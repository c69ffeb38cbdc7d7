"""Energy of what the engines counted: sweep points and workload runs.

:mod:`gen.energy` gives the energy of each event; this module turns counters into events.
A flit sent on a mesh output is a flit-hop, or a die-link flit when the link crosses a die
boundary; a flit sent on any output, the local one too, is a router traversal; static power
is charged for every router over the cycles counted.
"""

from gen.energy import energy_of
from rtl.net.directions import MESH_PORTS, PORTS, STEP

__all__ = ["links", "point_links", "price_flits", "point_energy", "run_energy", "workload_energy",
           "energy_text"]


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


def price_flits(energy, nodes, present, die_shape, flits_out, *, cycles, counts=None):
    """Joules by component of the flits counted per output port, plus ``counts`` (other
    :data:`gen.energy.EVENTS`), and static power for every present router over ``cycles``."""
    counts = dict(counts or {})
    counts.update(flit_hops=0, dielink_flits=0)
    for *_, flits, crossing in links(nodes, present, die_shape, flits_out):
        counts["dielink_flits" if crossing else "flit_hops"] += flits
    alive = [i for i, n in enumerate(nodes) if n in present]
    counts["router_flits"] = sum(flits_out.get(port, [0] * len(nodes))[i]
                                 for port in PORTS for i in alive)
    return energy_of(energy, counts, cycles=cycles, nodes=len(alive))


def _summary(energy, joules, cycles, delivered):
    total = sum(joules.values())
    dynamic = total - joules["clock"] - joules["leakage"]
    return {"joules": joules, "total_j": total,
            "watts": total * energy.f_hz / cycles if cycles else None,
            "delivered_flits": delivered,
            "pj_per_delivered_flit": total * 1e12 / delivered if delivered else None,
            "dynamic_pj_per_delivered_flit": dynamic * 1e12 / delivered if delivered else None}


def point_energy(result, point, energy):
    """The energy of a sweep point's marked window, priced by ``energy``
    (:func:`gen.energy.energy_model`) from the link counters both engines count. Replays of
    the die-link layer are counted over the whole point, not the window: they are priced
    apart (``replay_j_point``)."""
    nodes, present, flits_out = _point_geometry(result, point)
    joules = price_flits(energy, nodes, present, result.get("die_shape"), flits_out,
                         cycles=point["window"])
    alive = [i for i, n in enumerate(nodes) if n in present]
    delivered = sum(flits_out.get("local", [0] * len(nodes))[i] for i in alive)
    replayed = (point.get("dielink") or {}).get("totals", {}).get("replayed_flits", 0)
    return {**_summary(energy, joules, point["window"], delivered),
            "replay_j_point": replayed * energy.dielink_pj_per_flit * 1e-12}


def run_energy(energy, counters, *, die_shape, cycles, matrix_p, flops=None):
    """The energy of a workload run from every node's event counters
    (``{(x, y): {name: value}}``, names of :data:`rtl.node.layouts.COUNTER_NAMES`, counted
    from reset) over ``cycles``: joules by component, watts, and with ``flops`` (the
    workload's useful operations) TFLOPS per watt."""
    nodes = sorted(counters, key=lambda n: (n[1], n[0]))
    flits_out = {port: [counters[n][f"flits_{port}"] for n in nodes] for port in PORTS}
    macs = matrix_p * matrix_p
    counts = {"sram_reads": sum(counters[n]["sram_reads"] for n in nodes),
              "sram_writes": sum(counters[n]["sram_writes"] for n in nodes),
              "macs_bf16": macs * sum(counters[n]["mac_steps_bf16"] for n in nodes),
              "macs_int8": macs * sum(counters[n]["mac_steps_int8"] for n in nodes)}
    joules = price_flits(energy, nodes, set(nodes), die_shape, flits_out, cycles=cycles,
                         counts=counts)
    out = _summary(energy, joules, cycles, sum(flits_out["local"]))
    out["counts"] = {**counts, "flits_out": {p: sum(v) for p, v in flits_out.items()}}
    if flops is not None and out["total_j"]:
        seconds = cycles / energy.f_hz
        out["tflops_per_w"] = flops / seconds / 1e12 / out["watts"] if out["watts"] else None
    return out


def workload_energy(cfg, derived, res, *, flops=None):
    """The energy of a workload run on the RTL, from the event counters its testbench read
    from every node after the run (``res["counters"]``, ``res["counters_cycle"]``:
    :mod:`verif.tb_tile`): the whole run, from reset to the last counter read, the loading
    and reading back by the hosts included (the hosts themselves are outside the tile and
    not counted). ``flops``: the workload's useful operations, for TFLOPS per watt."""
    from gen.energy import energy_model
    counters = {tuple(int(v) for v in key.split(",")): c for key, c in res["counters"].items()}
    die, tile = derived.die, derived.tile
    die_shape = [die.nodes_x, die.nodes_y] if tile.dies > 1 else None
    out = run_energy(energy_model(cfg, derived), counters, die_shape=die_shape,
                     cycles=res["counters_cycle"], matrix_p=cfg.node.matrix_p, flops=flops)
    return {**out, "cycles": res["counters_cycle"]}


def energy_text(energy):
    """One line of a workload's energy for its report."""
    tflops = energy.get("tflops_per_w")
    return (f"energy {energy['total_j'] * 1e6:.3g} uJ over the run's {energy['cycles']} "
            f"cycles, {energy['watts']:.3g} W average"
            + (f", {tflops:.3g} TFLOPS/W" if tflops is not None else ""))
