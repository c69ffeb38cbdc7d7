"""One function maps a config to hardware; another writes Verilog + manifest.

Generating and building are separate steps (as in LiteX's builder): ``design()``
elaborates nothing heavier than the module library, ``write()`` emits the
Verilog and a JSON manifest of ports and parameters next to it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import wiring

from rtl.net.link import LinkSignature
from rtl.net.packet import PacketFormat
from .derive import derive
from .emit import ModuleLibrary, digest, port_name
from .structural import die_writer

__all__ = ["Design", "derived_of", "fault_setup", "cut_map_problem", "live_uniform_bound", "fault_manifest", "table_base", "fmt_manifest", "packet_format", "port_role", "network_design", "noc_design", "router_design", "write", "GENERATOR_VERSION"]

GENERATOR_VERSION = "0.1.0"


@dataclass
class Design:
    """A top component, its module library and everything a testbench needs to know."""
    top_name: str
    top: object
    lib: ModuleLibrary
    params: dict
    extra: dict = field(default_factory=dict)
    #: the physical derivation the design was built from (computed once, handed down)
    derived: dict = None
    _verilog: str = None

    @property
    def verilog(self):
        if self._verilog is None:
            self._verilog = self.lib.verilog(self.top_name, self.top)
        return self._verilog

    def manifest(self):
        text = self.verilog             # first: emitting the top completes the library
        roles = {"clk": "clock", "rst": "reset (synchronous, active high)"}
        ports = [{"name": n, "direction": "input", "width": 1,
                  "role": roles[kind] if domain == "sync" else f"{roles[kind]} of {domain}"}
                 for n, kind, domain in self.lib.top_clock_ports(self.top_name)]
        for path, member, _ in self.top.signature.flatten(self.top):
            ports.append({"name": port_name(path),
                          "direction": "input" if member.flow == wiring.In else "output",
                          "width": Shape.cast(member.shape).width, "role": port_role(self.top, path)})
        return {"generator": "dojo-fabric", "generator_version": GENERATOR_VERSION,
                "top": self.top_name, "modules": self.lib.names + [self.top_name],
                "verilog_sha256_16": digest(text), "ports": ports,
                "params": self.params, **self.extra}


def port_role(top, path):
    """What a top-level port is for, from the component's own signature: a link member
    from :attr:`LinkSignature.MEMBER_ROLES` and its flow, any other port from the
    component's ``PORT_ROLES``."""
    head, leaf = str(path[0]), str(path[-1])
    member = top.signature.members[head]
    if member.is_signature and isinstance(member.signature, LinkSignature):
        kind = "link in" if member.flow == wiring.In else "link out"
        where = head.removeprefix("in_").removeprefix("out_")
        return f"{kind} {where}: {LinkSignature.MEMBER_ROLES.get(leaf, leaf)}"
    roles = getattr(top, "PORT_ROLES", {})
    if head not in roles:
        raise ValueError(f"{type(top).__name__} declares no role for its port {head!r} "
                         f"(add it to {type(top).__name__}.PORT_ROLES)")
    return roles[head]


def derived_of(cfg, derived=None):
    """``derived`` when the caller already has the derivation of ``cfg``, else derive it.

    Every design function takes ``derived=`` so a command derives once and hands the
    result down; each design records it (:attr:`Design.derived`)."""
    return derive(cfg) if derived is None else derived


def packet_format(cfg, derived=None):
    d = derived_of(cfg, derived)
    return PacketFormat(flit_bits=cfg.router.flit_bits, coord_bits=d["tile"]["coord_bits"],
                        timestamp_bits=cfg.traffic.timestamp_bits)


def _node_params(cfg):
    return {"vcs": cfg.router.vcs, "buffer_depth": cfg.router.buffer_depth,
            "routing": cfg.router.routing}


def table_base(cfg):
    """``router.table_base`` (absent: ``"xy"``)."""
    return getattr(cfg.router, "table_base", None) or "xy"


def cut_map_problem(cfg, derived=None):
    """The one line refusing a fault map whose dead routers cut the mesh (no routing can
    reach every live node: :func:`gen.routing.cut_problem`), or ``None``. Every command
    that routes the map asks it (:func:`fault_setup`), and ``dojo derive`` and ``dojo sim``
    before their report."""
    from .faults import fault_map
    from .routing import MeshShape, cut_problem
    d = derived_of(cfg, derived)
    fmap = fault_map(cfg, d)
    if not fmap.dead_routers:
        return None
    t = d["tile"]
    problem = cut_problem(MeshShape(t["dies_x"], t["dies_y"], d["die"]["nodes_x"],
                                    d["die"]["nodes_y"]), fmap.dead_routers)
    if problem is None:
        return None
    return (f"die.dead_routers: the fault map cannot be routed: {problem}; allowed: dead "
            f"routers that leave every live router connected")


def fault_setup(cfg, derived=None, *, kind="traffic"):
    """The fault-map mode of a network design (docs/table_mode.md), or ``None`` when it is
    off (no fault map and ``router.routing`` not ``table``: everything as plain XY/YX).

    Returns ``{"routing", "live", "fault_map", "tables", "report", "shape", "planes"}``:
    routing tables from :func:`gen.routing.route_tables` (table mode), checked again with
    :func:`gen.routing.check_tables` (its report: stretch, CDG edges); ``planes``: in table
    mode with dead routers, at least 2 VCs, traffic nodes and up to 1024 routers, the VC
    planes of :func:`gen.vc_planes.route_planes` (one table set per VC and the sources' VC
    choice, which then replace ``tables``: ``tables`` is plane 0; ``router.vc_planes: false``
    turns them off, ``true`` where they cannot apply is an error), else ``None``. Raises
    :class:`gen.config.ConfigError` naming the key: dead routers without
    ``router.routing: table``, an unroutable map, or training nodes (``kind="compute"``,
    whose routers route by dimension order) with dead routers or table routing. Disabled
    nodes never change a training-node design (the map is run-time data); whether a
    workload can run on them is the workload registry's question (``sim.workloads``).
    """
    from .config import ConfigError
    from .faults import fault_map
    from .routing import REPAIR_MAX_ROUTERS as _SMALL
    from .routing import MeshShape, check_planes, check_tables, route_planes, route_tables
    d = derived_of(cfg, derived)
    routing = cfg.router.routing
    fmap = fault_map(cfg, d)
    if fmap.empty and routing != "table":
        return None
    if kind == "compute" and fmap.dead_routers:
        raise ConfigError([f"die.dead_routers: not allowed with training nodes (kind "
                           f"'compute'): their routers route by dimension order and cannot "
                           f"route around a dead router ({len(fmap.dead_routers)} in the "
                           f"fault map); allowed: no dead routers (disabled nodes are "
                           f"supported)"])
    if kind == "compute" and routing == "table":
        raise ConfigError([f"router.routing: 'table' is not allowed with training nodes "
                           f"(kind 'compute'): their routers route by dimension order; must "
                           f"be 'xy' or 'yx'"])
    if fmap.dead_routers and routing != "table":
        raise ConfigError([f"router.routing: {routing!r} is not allowed with dead routers "
                           f"({len(fmap.dead_routers)} in the fault map, e.g. "
                           f"{sorted(fmap.dead_routers, key=lambda p: (p[1], p[0]))[0]}): must "
                           f"be 'table' (routes around them)"])
    problem = cut_map_problem(cfg, d)
    if problem:
        raise ConfigError([problem])
    shape = (d["tile"]["dies_x"], d["tile"]["dies_y"], d["die"]["nodes_x"], d["die"]["nodes_y"])
    # the live-node rules only where some node is not live: with an empty map every
    # pattern draws exactly as plain XY/YX (same sweep numbers)
    out = {"routing": routing, "live": not fmap.empty, "fault_map": fmap, "tables": None,
           "report": None, "shape": shape, "planes": None}
    if routing == "table":
        mesh, vcs = MeshShape(*shape), cfg.router.vcs
        want = getattr(cfg.router, "vc_planes", None)
        why = [w for bad, w in ((vcs < 2, f"at least 2 VCs (router.vcs is {vcs})"),
                                (kind != "traffic", f"traffic nodes (not {kind!r})"),
                                (mesh.routers > _SMALL, f"at most {_SMALL} routers (the mesh "
                                                        f"has {mesh.routers})")) if bad]
        if want and why:
            raise ConfigError([f"router.vc_planes: true needs {' and '.join(why)}; allowed: "
                               f"false, or leave it out"])
        try:
            if want is not False and fmap.dead_routers and not why:
                planes = route_planes(mesh, fmap.dead_routers, routing=table_base(cfg),
                                      vcs=vcs)
                checked = check_planes(planes, vcs=vcs)
                tables = planes.tables[0]
                report = dict(checked["planes"][0], uniform_bound=checked["uniform_bound"],
                              vc_planes=vcs)
                out["planes"] = planes
            else:
                tables = route_tables(mesh, fmap.dead_routers, routing=table_base(cfg),
                                      vcs=vcs)
                report = check_tables(tables, vcs=vcs)
        except ValueError as exc:
            raise ConfigError([f"die.dead_routers: the fault map cannot be routed: {exc}"])
        out.update(tables=tables, report=report)
    return out


def live_uniform_bound(cfg, derived=None, *, die_ratio=1):
    """Channel-load bound of uniform traffic over the live nodes, per live node, on the
    routes the RTL and the fast model take (VC planes, one table set, or dimension order
    around disabled nodes), die-link crossings counted ``die_ratio`` times; ``None`` when
    every node is live (the analytic bound of :func:`sim.sweep.channel_load_bound` holds).
    Dimension order around disabled nodes in closed form
    (:func:`gen.routing.dor_uniform_loads`), tables walked vectorised
    (:func:`gen.vc_planes.planes_bound`): a D1 tile's 78M live pairs cost a second."""
    from .routing import MeshShape, dor_uniform_loads, loads_bound, one_plane, planes_bound
    setup = fault_setup(cfg, derived, kind="traffic")
    if setup is None or not setup["live"]:
        return None
    live, shape = setup["fault_map"].live_nodes, MeshShape(*setup["shape"])
    if setup["tables"] is None:         # dimension order: disabled nodes only
        return loads_bound(shape, dor_uniform_loads(shape, live, cfg.router.routing),
                           len(live), die_ratio=die_ratio)
    planes = setup["planes"] or one_plane(setup["tables"])
    return planes_bound(planes, live=live, die_ratio=die_ratio)


def fault_manifest(setup):
    """Manifest keys of the fault-map mode (docs/table_mode.md); ``{}`` when off."""
    if setup is None:
        return {}
    fmap = setup["fault_map"]
    by_id = lambda pts: [list(p) for p in sorted(pts, key=lambda p: (p[1], p[0]))]
    out = {"routing": setup["routing"], "live_mode": setup["live"],
           "live_nodes": [list(p) for p in fmap.live_nodes],
           "dead_routers": by_id(fmap.dead_routers), "disabled_nodes": by_id(fmap.disabled_nodes)}
    t = setup["tables"]
    if t is not None:
        r = setup["report"]
        out["routing_tables"] = {
            "shape": list(setup["shape"]), "algorithm": t.algorithm,
            "root": list(t.root) if t.root is not None else None,
            "die": t.die.tolist(), "node": t.node.tolist(),
            "stretch_mean": r["stretch_mean"], "stretch_worst": r["stretch_worst"],
            "cdg_edges": r["cdg_edges"]}
        planes = setup.get("planes")
        if planes is not None:
            # VC planes: every VC's tables and the sources' VC choice (docs/table_mode.md)
            out["routing_tables"]["vc_planes"] = {
                "die": [p.die.tolist() for p in planes.tables],
                "node": [p.node.tolist() for p in planes.tables],
                "select_die": planes.select_die.tolist(),
                "select_node": planes.select_node.tolist()}
    return out


def fmt_manifest(fmt):
    return {"flit_bits": fmt.flit_bits, "coord_bits": fmt.coord_bits,
            "timestamp_bits": fmt.timestamp_bits}


#: the keys of ``derive()["dielink"]["link_layer"]`` that parametrise the RTL link layer
LINK_LAYER_PARAMS = ("crc_bits", "error_threshold", "reverse_error_threshold", "burst_len", "seed",
                     "lane_fail_cycle", "lane_fail_link", "ratio_degraded")


def network_design(cfg, *, kind, top, boundary, top_name=None, structural_dies=False,
                   derived=None):
    """Config -> a die or the whole tile of ``kind`` nodes (see :mod:`rtl.fabric.mesh`).

    ``top="die"``: one die, its origin as inputs ``x0``/``y0`` and its boundary as
    ports. ``top="tile"``: the tile as one global mesh of
    ``tile.dies_x * die.nodes_x`` by ``tile.dies_y * die.nodes_y`` nodes; with
    more than one die it is a :class:`rtl.fabric.tile.Tile` (one die module, die-to-die
    links with the derived or overridden ratio and latency), with one die a
    :class:`rtl.fabric.mesh.Mesh` at the origin. ``structural_dies`` writes dies of
    training nodes with :mod:`gen.structural` even when Amaranth could convert them
    (it always does for dies too wide for Amaranth). A fault map is run-time data: a
    disabled training node is still elaborated (its router forwards), a workload simply
    never gives it work or data (which workloads can: the workload registry, ``sim.workloads``).
    """
    from rtl.fabric.die import Die
    from rtl.fabric.mesh import NODE_MODULES, Mesh
    from rtl.fabric.tile import Tile
    d = derived_of(cfg, derived)
    params = _node_params(cfg)
    faults = fault_setup(cfg, d, kind=kind)
    if faults is not None:
        params["table_shape"] = faults["shape"]
        if faults["planes"] is not None:
            # VC planes: the table shape's fifth element (rtl.net.routing_table)
            params["table_shape"] = tuple(faults["shape"]) + (faults["planes"].vcs,)
        if kind == "traffic":
            params["live"] = faults["live"]
    if kind == "compute":
        from .node_build import compute_params
        lay, params, node_manifest = compute_params(cfg, d)
        fmt = lay.fmt
        params = {**params, "layouts": lay}
    else:
        fmt = packet_format(cfg, d)
        if kind == "traffic":
            params.update(mesh_x=d["tile"]["mesh_x"], mesh_y=d["tile"]["mesh_y"],
                          queue_depth=cfg.traffic.source_queue,
                          max_packet_flits=cfg.router.max_packet_flits,
                          histogram_bins=d["traffic"]["histogram_bins"],
                          bin_cycles=d["traffic"]["histogram_bin_cycles"])
    lib = ModuleLibrary(writers=[die_writer(always=structural_dies)])
    nx, ny = d["die"]["nodes_x"], d["die"]["nodes_y"]
    stages = d["link"]["pipeline_stages"]
    dielink = {"ratio": d["dielink"]["ratio"], "latency": d["dielink"]["latency"]}
    ll = d["dielink"]["link_layer"]
    if ll:
        dielink["layer"] = {k: ll[k] for k in LINK_LAYER_PARAMS}
    die_shape = None
    if top == "die":
        net = Die(lib=lib, fmt=fmt, nodes_x=nx, nodes_y=ny, kind=kind,
                  pipeline_stages=stages, node_params=params)
        mx, my, dielink = nx, ny, None
    elif d["tile"]["dies"] > 1:
        net = Tile(lib=lib, fmt=fmt, dies_x=cfg.tile.dies_x, dies_y=cfg.tile.dies_y,
                   die_nodes=(nx, ny), kind=kind, boundary=boundary, pipeline_stages=stages,
                   node_params=params, dielink=dielink)
        mx, my, die_shape = d["tile"]["mesh_x"], d["tile"]["mesh_y"], (nx, ny)
    else:
        net = Mesh(lib=lib, fmt=fmt, nodes_x=nx, nodes_y=ny, kind=kind, boundary=boundary,
                   pipeline_stages=stages, node_params=params)
        mx, my, dielink = nx, ny, None
    name = top_name or f"dojo_{top}_{kind}"
    node = {k: v for k, v in params.items() if k != "layouts"}
    extra = {"mesh_x": mx, "mesh_y": my, "kind": kind, "top_kind": top,
             "boundary": "ports" if top == "die" else boundary,
             "nodes": [list(c) for c in net.coords()], "stat_names": net.stat_names,
             "edge_ports": [[n, list(xy), dr] for n, xy, dr in net.edge_ports()],
             "format": fmt_manifest(fmt), "pipeline_stages": stages,
             "die_shape": die_shape, "dielink": dielink, **fault_manifest(faults)}
    if dielink and "layer" in dielink:
        from rtl.fabric.dielink_layer import STAT_NAMES
        extra["dielink_stat_names"] = list(STAT_NAMES)
        extra["dielink_ends"] = [[list(a), list(b)] for a, b in net.dielink_ends()]
    if kind == "compute":
        node = extra["node"] = node_manifest
        # Verilator builds the training node once instead of inlining every instance
        extra["hier_blocks"] = [NODE_MODULES[kind]]
    else:
        # the same for a traffic or bare node in a fast build only (sim.runner: half the
        # build time, slower simulation)
        extra["fast_build_blocks"] = [NODE_MODULES[kind]]
    return Design(name, net, lib, {"config": cfg.raw, "node": node}, extra, derived=d)


def noc_design(cfg, *, kind="traffic", boundary="tie", top_name=None, derived=None):
    """The network of the whole tile: ``kind="traffic"`` in-RTL generators and sinks at
    every node (sweeps), ``kind="bare"`` routers with local ports exposed (Python-driven
    tests). See :func:`network_design`."""
    return network_design(cfg, kind=kind, top="tile", boundary=boundary,
                          top_name=top_name or f"dojo_mesh_{kind}", derived=derived)


def router_design(cfg, *, top_name="dojo_router_top", derived=None):
    """One router alone (its own top, for router-level tests and FPGA runs). With
    ``router.routing: table`` its tables are sized by the tile; ``router.vc_planes: true``
    gives it one table set per VC (as a fault map's traffic design has, :mod:`gen.vc_planes`):
    the router alone has no fault map, so only an explicit ``true`` turns planes on."""
    from rtl.net.router import Router
    d = derived_of(cfg, derived)
    fmt = packet_format(cfg, d)
    table = {}
    if cfg.router.routing == "table":
        table["table_shape"] = (d["tile"]["dies_x"], d["tile"]["dies_y"], d["die"]["nodes_x"],
                                d["die"]["nodes_y"])
        if getattr(cfg.router, "vc_planes", None) is True:
            table["table_shape"] += (cfg.router.vcs,)
    router = Router(fmt=fmt, vcs=cfg.router.vcs, buffer_depth=cfg.router.buffer_depth,
                    routing=cfg.router.routing, **table)
    lib = ModuleLibrary()
    extra = {"format": fmt_manifest(fmt)}
    return Design(top_name, router, lib, {"config": cfg.raw}, extra, derived=d)


def write(design, out_dir, *, provenance=None):
    """Write ``<top>.v`` and ``<top>.json``; returns the Verilog path. The manifest records
    ``provenance`` (:func:`gen.provenance.provenance`; default: the design's resolved
    config with no overrides known; none for a block built without a config, as a test
    builds one)."""
    from .provenance import provenance as provenance_of
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v = out / f"{design.top_name}.v"
    text = design.verilog
    if not v.exists() or v.read_text() != text:       # keep mtimes stable for build caches
        v.write_text(text)
    if provenance is None and "config" in design.params:
        provenance = provenance_of(design.params["config"])
    man = {**design.manifest(), **({"provenance": provenance} if provenance else {})}
    (out / f"{design.top_name}.json").write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
    return v
