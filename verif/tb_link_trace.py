"""cocotb: record every link register of a traffic network, cycle by cycle.

For comparing a fast model of the network with the RTL cycle for cycle (see
:mod:`sim.link_trace`, which runs this testbench on a Verilator build that makes
the link registers readable).

Scenario ``params``:

``cycles``
    N: cycles recorded, ``c = int(dut.cycle.value) = 0 .. N-1``.
``ctrl``
    Schedule ``[[cycle, {fields of rtl.traffic.control_value}], ...]``: the word is
    written at the falling edge at which ``dut.cycle == cycle``, before that edge's
    sample. Each entry is a whole ctrl word (fields it does not give take
    ``control_value``'s idle defaults). ``pattern`` may be a name (``"uniform"``).
``ctrl_idle`` (optional)
    Fields of the ctrl word written before reset, ``enable`` forced to 0; by
    default the fields of the first schedule entry (as ``verif.tb_traffic`` does:
    the point's pattern, packet length and seed, disabled).
``links`` (optional)
    Names of :func:`link_paths` to trace; ``None``: all.

Reset as ``verif.tb_traffic``'s first point (:func:`start_clock_and_reset`); the
first sample is at the falling edge where reset is released (cycle 0). Every
falling edge, for every traced link whose ``valid`` is 1: ``[c, vc, last, data]``.
Result ``trace``: ``{"links": {name: [[c, vc, last, data], ...]}, "cycles": N}``.
"""

import time

import cocotb
from cocotb.triggers import FallingEdge

from rtl.measure.traffic import Pattern, control_value
from rtl.net.directions import NEIGHBOUR, PORTS
from verif.table_load import load_config_port
from verif.tb_common import packet_format, scenario, start_clock_and_reset, write_result

__all__ = ["link_paths", "link_ends", "dielink_count", "LINK_FIELDS", "ROUTER_PORTS", "ctrl_word"]

#: the fields of a link register, in the order of a trace entry after the cycle
LINK_FIELDS = ("valid", "vc", "last", "data")
#: router output ports, ``local`` = router to sink
ROUTER_PORTS = PORTS

# Signals in the node module ``dojo_traffic_node`` (its own ports and wires, so no
# escaped sub-module name is needed): the router's output registers reach the node's
# ports ``out_<dir>__*`` and, for the local port, the wire ``i__*`` (the sink's
# input ``i``); the generator's output register drives the wire ``in_local__*`` (the
# router's local input). The die link's output register is its port ``o__*``.
_NODE_SIGNAL = {"local": "i", "north": "out_north", "east": "out_east",
                "south": "out_south", "west": "out_west", "gen": "in_local"}


def dielink_count(manifest):
    """Die-link instances ``dielink0 ..`` at the top of a tile (0 for a single mesh):
    two (one per direction) per node along every edge shared by two dies."""
    shape = manifest.get("die_shape")
    if not shape:
        return 0
    nx, ny = shape
    dx, dy = manifest["mesh_x"] // nx, manifest["mesh_y"] // ny
    return 2 * ((dx - 1) * dy * ny + dx * (dy - 1) * nx)


def link_paths(manifest):
    """``{link name: {field: hierarchical path below the top}}`` of every link register.

    Names (the contract with :mod:`sim.netmodel`): ``r<x>_<y>.<port>`` the router
    output register of the node at global ``(x, y)``, port in :data:`ROUTER_PORTS`;
    ``g<x>_<y>`` the traffic generator's output register (into the router's local
    input); ``d<k>`` the output register ``o`` of the tile's instance ``dielink<k>``.
    Fields: :data:`LINK_FIELDS`. Node ``node_<lx>_<ly>`` of die ``die_<i>_<j>`` is
    at ``(i*NX + lx, j*NY + ly)``, ``(NX, NY) = manifest["die_shape"]``; in a single
    mesh ``node_<x>_<y>`` is at ``(x, y)``.
    """
    shape = manifest.get("die_shape")
    out = {}
    for x, y in sorted((tuple(n) for n in manifest["nodes"]), key=lambda c: (c[1], c[0])):
        if shape:
            nx, ny = shape
            node = f"die_{x // nx}_{y // ny}.node_{x % nx}_{y % ny}"
        else:
            node = f"node_{x}_{y}"
        for port in ROUTER_PORTS + ("gen",):
            name = f"g{x}_{y}" if port == "gen" else f"r{x}_{y}.{port}"
            out[name] = {f: f"{node}.{_NODE_SIGNAL[port]}__{f}" for f in LINK_FIELDS}
    for k in range(dielink_count(manifest)):
        out[f"d{k}"] = {f: f"dielink{k}.o__{f}" for f in LINK_FIELDS}
    return out


def link_ends(manifest):
    """``{link name: (source, destination)}`` of every link of :func:`link_paths`.

    Ends: ``("gen", x, y)``, ``("sink", x, y)``, ``("router", x, y, input or output
    port)``, ``("dielink", k)``, or ``None`` for a mesh-edge output (tied off). A
    router output crossing a die boundary feeds ``dielink<k>``, whose output ``d<k>``
    feeds the neighbour's router. The die links are numbered as :class:`rtl.tile.Tile`
    instantiates them: dies row-major, per die east then south, per shared edge
    position the forward then the backward channel.
    """
    nodes = {tuple(n) for n in manifest["nodes"]}
    shape = manifest.get("die_shape")
    nx, ny = shape if shape else (manifest["mesh_x"], manifest["mesh_y"])
    crossing = {}                    # (x, y, out port) -> k
    if shape:
        dx, dy = manifest["mesh_x"] // nx, manifest["mesh_y"] // ny
        k = 0
        for j in range(dy):
            for i in range(dx):
                for direction, peer in (("east", (i + 1, j)), ("south", (i, j + 1))):
                    if peer[0] >= dx or peer[1] >= dy:
                        continue
                    for e in range(ny if direction == "east" else nx):
                        # edge position e of die (i, j) on its east/south edge
                        x, y = ((i * nx + nx - 1, j * ny + e) if direction == "east"
                                else (i * nx + e, j * ny + ny - 1))
                        sx, sy, opposite = NEIGHBOUR[direction]
                        crossing[x, y, direction] = k
                        crossing[x + sx, y + sy, opposite] = k + 1
                        k += 2
        assert k == dielink_count(manifest)
    out = {}
    for x, y in sorted(nodes, key=lambda c: (c[1], c[0])):
        out[f"g{x}_{y}"] = (("gen", x, y), ("router", x, y, "local"))
        out[f"r{x}_{y}.local"] = (("router", x, y, "local"), ("sink", x, y))
        for port, (sx, sy, opposite) in NEIGHBOUR.items():
            src, peer = ("router", x, y, port), (x + sx, y + sy)
            if (x, y, port) in crossing:
                k = crossing[x, y, port]
                out[f"r{x}_{y}.{port}"] = (src, ("dielink", k))
                out[f"d{k}"] = (("dielink", k), ("router", *peer, opposite))
            else:
                out[f"r{x}_{y}.{port}"] = (src, ("router", *peer, opposite) if peer in nodes
                                           else None)
    return out


def ctrl_word(coord_bits, fields):
    """The ctrl word of a schedule entry (``pattern`` by name, number or :class:`Pattern`)."""
    fields = dict(fields)
    pat = fields.get("pattern")
    if isinstance(pat, str):
        fields["pattern"] = Pattern[pat.upper()]
    elif pat is not None and not isinstance(pat, Pattern):
        fields["pattern"] = Pattern(int(pat))
    return control_value(coord_bits, **fields)


def _handle(dut, path):
    h = dut
    for part in path.split("."):
        h = getattr(h, part)
    return h


@cocotb.test()
async def link_trace(dut):
    sc = scenario()
    man, p = sc["manifest"], sc["params"]
    fmt = packet_format(man)
    n_cycles = int(p["cycles"])
    schedule = {}
    for cycle, fields in p.get("ctrl", []):
        schedule.setdefault(int(cycle), []).append(ctrl_word(fmt.coord_bits, fields))
    idle = p.get("ctrl_idle")
    if idle is None:
        idle = p["ctrl"][0][1] if p.get("ctrl") else {}
    paths = link_paths(man)
    names = list(paths) if p.get("links") is None else list(p["links"])
    unknown = [n for n in names if n not in paths]
    assert not unknown, f"unknown links {unknown}; known: {list(paths)}"
    # handles once: (name, valid, vc, last, data, entries)
    traced = [(n, *(_handle(dut, paths[n][f]) for f in LINK_FIELDS), []) for n in names]

    dut.ctrl.value = ctrl_word(fmt.coord_bits, {**idle, "enable": 0})
    # fault-map mode: tables and live list loaded while reset is held (as verif.tb_traffic)
    await start_clock_and_reset(dut, during_reset=load_config_port(dut, man))
    fall = FallingEdge(dut.clk)
    cycle = dut.cycle
    t0 = time.perf_counter()
    c = int(cycle.value)
    assert c == 0, f"cycle {c} at the first sample after reset, not 0"
    for _ in range(n_cycles):
        for word in schedule.get(c, ()):
            dut.ctrl.value = word
        for _name, valid, vc, last, data, entries in traced:
            if valid.value:
                entries.append([c, int(vc.value), int(last.value), int(data.value)])
        await fall
        c = int(cycle.value)
    wall = time.perf_counter() - t0
    late = [k for k in schedule if not 0 <= k < n_cycles]
    if late:
        dut._log.warning(f"ctrl writes scheduled outside cycles 0..{n_cycles - 1} ignored: {late}")
    flits = sum(len(t[-1]) for t in traced)
    dut._log.info(f"traced {len(traced)} links x {n_cycles} cycles in {wall:.2f} s: {flits} flits")
    write_result("trace", {"links": {t[0]: t[-1] for t in traced}, "cycles": n_cycles,
                           "wall_s": wall})
