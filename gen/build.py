"""One function maps a config to hardware; another writes Verilog + manifest.

Generating and building are separate steps (as in LiteX's builder): ``design()``
elaborates nothing heavier than the module library, ``write()`` emits the
Verilog and a JSON manifest of ports and parameters next to it.
"""

import collections
import json
from dataclasses import replace
from pathlib import Path

from .config import ConfigError
from .design import Design, FaultSetup, Network, derived_of, fmt_manifest, packet_format, port_role
from .emit import ModuleLibrary
from .faults import fault_map
from .node_build import compute_params
from .provenance import GENERATOR_VERSION, provenance as provenance_of
from .routing import REPAIR_MAX_ROUTERS as _SMALL
from .routing import (MeshShape, check_planes, check_tables, cut_problem, dor_uniform_loads,
                      loads_bound, one_plane, planes_bound, route_planes, route_tables)
from .structural import die_writer

__all__ = ["Design", "FaultSetup", "derived_of", "fault_setup", "cut_map_problem",
           "live_uniform_bound", "table_base", "fmt_manifest", "packet_format", "port_role",
           "network_design", "noc_design", "router_design", "write", "GENERATOR_VERSION",
           "TileDescription", "compute_tile"]


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
    d = derived_of(cfg, derived)
    fmap = fault_map(cfg, d)
    if not fmap.dead_routers:
        return None
    problem = cut_problem(MeshShape(d.tile.dies_x, d.tile.dies_y, d.die.nodes_x,
                                    d.die.nodes_y), fmap.dead_routers)
    if problem is None:
        return None
    return (f"die.dead_routers: the fault map cannot be routed: {problem}; allowed: dead "
            f"routers that leave every live router connected")



def fault_setup(cfg, derived=None, *, kind="traffic"):
    """The fault-map mode of a network design (docs/table_mode.md), or ``None`` when it is
    off (no fault map and ``router.routing`` not ``table``: everything as plain XY/YX).

    Returns a :class:`gen.design.FaultSetup`: its ``tables`` are the routing tables from :func:`gen.routing.route_tables` (table mode), checked again with
    :func:`gen.routing.check_tables` (its report: stretch, CDG edges); ``planes``: in table
    mode with dead routers, at least 2 VCs, traffic nodes and up to 1024 routers, the VC
    planes of :func:`gen.routing.planes.route_planes` (one table set per VC and the sources' VC
    choice, which then replace ``tables``: ``tables`` is plane 0; ``router.vc_planes: false``
    turns them off, ``true`` where they cannot apply is an error), else ``None``. Raises
    :class:`gen.config.ConfigError` naming the key: dead routers without
    ``router.routing: table``, an unroutable map, or training nodes (``kind="compute"``,
    whose routers route by dimension order) with dead routers or table routing. Disabled
    nodes never change a training-node design (the map is run-time data); whether a
    workload can run on them is the workload registry's question (``sim.workloads``).
    """
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
    shape = (d.tile.dies_x, d.tile.dies_y, d.die.nodes_x, d.die.nodes_y)
    # the live-node rules only where some node is not live: with an empty map every
    # pattern draws exactly as plain XY/YX (same sweep numbers)
    live = not fmap.empty
    if routing != "table":
        return FaultSetup(routing=routing, live=live, fault_map=fmap, shape=shape)
    mesh, vcs = MeshShape(*shape), cfg.router.vcs
    want = getattr(cfg.router, "vc_planes", None)
    why = [w for bad, w in ((vcs < 2, f"at least 2 VCs (router.vcs is {vcs})"),
                            (kind != "traffic", f"traffic nodes (not {kind!r})"),
                            (mesh.routers > _SMALL, f"at most {_SMALL} routers (the mesh "
                                                    f"has {mesh.routers})")) if bad]
    if want and why:
        raise ConfigError([f"router.vc_planes: true needs {' and '.join(why)}; allowed: "
                           f"false, or leave it out"])
    planes = None
    try:
        if want is not False and fmap.dead_routers and not why:
            planes = route_planes(mesh, fmap.dead_routers, routing=table_base(cfg), vcs=vcs)
            checked = check_planes(planes, vcs=vcs)
            tables = planes.tables[0]
            report = dict(checked["planes"][0], uniform_bound=checked["uniform_bound"],
                          vc_planes=vcs)
        else:
            tables = route_tables(mesh, fmap.dead_routers, routing=table_base(cfg), vcs=vcs)
            report = check_tables(tables, vcs=vcs)
    except ValueError as exc:
        raise ConfigError([f"die.dead_routers: the fault map cannot be routed: {exc}"])
    return FaultSetup(routing=routing, live=live, fault_map=fmap, tables=tables, report=report,
                      shape=shape, planes=planes)


def live_uniform_bound(cfg, derived=None, *, die_ratio=1):
    """Channel-load bound of uniform traffic over the live nodes, per live node, on the
    routes the RTL and the fast model take (VC planes, one table set, or dimension order
    around disabled nodes), die-link crossings counted ``die_ratio`` times; ``None`` when
    every node is live (the analytic bound of :func:`sim.sweep.channel_load_bound` holds).
    Dimension order around disabled nodes in closed form
    (:func:`gen.routing.dor_uniform_loads`), tables walked vectorised
    (:func:`gen.routing.planes.planes_bound`): a D1 tile's 78M live pairs cost a second."""
    setup = fault_setup(cfg, derived, kind="traffic")
    if setup is None or not setup.live:
        return None
    live, shape = setup.fault_map.live_nodes, MeshShape(*setup.shape)
    if setup.tables is None:         # dimension order: disabled nodes only
        return loads_bound(shape, dor_uniform_loads(shape, live, cfg.router.routing),
                           len(live), die_ratio=die_ratio)
    planes = setup.planes or one_plane(setup.tables)
    return planes_bound(planes, live=live, die_ratio=die_ratio)


#: the keys of ``derive().dielink.link_layer`` that parametrise the RTL link layer
LINK_LAYER_PARAMS = ("crc_bits", "error_threshold", "reverse_error_threshold", "burst_len", "seed",
                     "lane_fail_cycle", "lane_fail_link", "ratio_degraded")


#: the last designs :func:`network_design` made, by its arguments: a process (a test
#: worker, a sweep) that asks for the same network again gets the same :class:`Design`,
#: its Verilog included, instead of converting its node module again (the training node is
#: most of a compute tile's elaboration). Designs are never changed after they are made.
_DESIGNS = collections.OrderedDict()
_DESIGNS_KEPT = 4


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
    d = derived_of(cfg, derived)
    key = (json.dumps(cfg.raw, sort_keys=True, default=str), kind, top, boundary, top_name,
           structural_dies)
    design = _DESIGNS.get(key)
    if design is None or design.derived != d:
        design = _DESIGNS[key] = _network_design(cfg, d, kind=kind, top=top, boundary=boundary,
                                                 top_name=top_name,
                                                 structural_dies=structural_dies)
        while len(_DESIGNS) > _DESIGNS_KEPT:
            _DESIGNS.popitem(last=False)
    _DESIGNS.move_to_end(key)
    return design


def _network_design(cfg, d, *, kind, top, boundary, top_name, structural_dies):
    from rtl.fabric.die import Die
    from rtl.fabric.mesh import NODE_MODULES, Mesh
    from rtl.fabric.tile import Tile
    params = _node_params(cfg)
    faults = fault_setup(cfg, d, kind=kind)
    if faults is not None:
        params["table_shape"] = faults.shape
        if faults.planes is not None:
            # VC planes: the table shape's fifth element (rtl.net.routing_table)
            params["table_shape"] = tuple(faults.shape) + (faults.planes.vcs,)
        if kind == "traffic":
            params["live"] = faults.live
    node_manifest = None
    if kind == "compute":
        lay, params, node_manifest = compute_params(cfg, d)
        fmt = lay.fmt
        params = {**params, "layouts": lay}
    else:
        fmt = packet_format(cfg, d)
        if kind == "traffic":
            params.update(mesh_x=d.tile.mesh_x, mesh_y=d.tile.mesh_y,
                          queue_depth=cfg.traffic.source_queue,
                          max_packet_flits=cfg.router.max_packet_flits,
                          histogram_bins=d.traffic.histogram_bins,
                          bin_cycles=d.traffic.histogram_bin_cycles)
    lib = ModuleLibrary(writers=[die_writer(always=structural_dies)])
    nx, ny = d.die.nodes_x, d.die.nodes_y
    stages = d.link.pipeline_stages
    dielink = {"ratio": d.dielink.ratio, "latency": d.dielink.latency}
    ll = d.dielink.link_layer
    if ll:
        dielink["layer"] = {k: ll[k] for k in LINK_LAYER_PARAMS}
    die_shape = None
    if top == "die":
        net = Die(lib=lib, fmt=fmt, nodes_x=nx, nodes_y=ny, kind=kind,
                  pipeline_stages=stages, node_params=params)
        mx, my, dielink = nx, ny, None
    elif d.tile.dies > 1:
        net = Tile(lib=lib, fmt=fmt, dies_x=cfg.tile.dies_x, dies_y=cfg.tile.dies_y,
                   die_nodes=(nx, ny), kind=kind, boundary=boundary, pipeline_stages=stages,
                   node_params=params, dielink=dielink)
        mx, my, die_shape = d.tile.mesh_x, d.tile.mesh_y, (nx, ny)
    else:
        net = Mesh(lib=lib, fmt=fmt, nodes_x=nx, nodes_y=ny, kind=kind, boundary=boundary,
                   pipeline_stages=stages, node_params=params)
        mx, my, dielink = nx, ny, None
    name = top_name or f"dojo_{top}_{kind}"
    node = {k: v for k, v in params.items() if k != "layouts"}
    network = Network(mesh_x=mx, mesh_y=my, kind=kind, top_kind=top,
                      boundary="ports" if top == "die" else boundary,
                      stat_names=net.stat_names,
                      edge_ports=[[n, list(xy), dr] for n, xy, dr in net.edge_ports()],
                      pipeline_stages=stages, die_shape=die_shape, dielink=dielink)
    if dielink and "layer" in dielink:
        from rtl.fabric.dielink_layer import STAT_NAMES
        network = replace(network, dielink_stat_names=list(STAT_NAMES),
                          dielink_ends=[[list(a), list(b)] for a, b in net.dielink_ends()])
    if kind == "compute":
        # Verilator builds the training node once instead of inlining every instance
        blocks = {"node": node_manifest, "hier_blocks": (NODE_MODULES[kind],)}
    else:
        # the same for a traffic or bare node in a fast build only (sim.runner: half the
        # build time, slower simulation)
        blocks = {"fast_build_blocks": (NODE_MODULES[kind],)}
    params = {"config": cfg.raw, "node": node_manifest if kind == "compute" else node}
    return Design(name, net, lib, params, derived=d, fmt=fmt, network=network,
                  nodes=[list(c) for c in net.coords()], faults=faults, **blocks)


class TileDescription:
    """A compute tile with host ports (``network_design(cfg, kind="compute", top="tile",
    boundary="ports")``) as the fast engine needs it, computed from the config and its
    derivation without building a component: :meth:`manifest` is the design's
    :meth:`~gen.design.Design.description` (the manifest's keys that describe the design,
    equal to ``design.manifest()``'s: ``tests/gen/test_tile_description.py``), and
    ``derived``, ``fmt``, ``network``, ``nodes``, ``node``, ``faults`` are the design's.
    Building the components of a D1 die takes minutes (a 2048-bit link on every port of 361
    nodes), which a model run does not need: it never elaborates or emits anything.

    Attributes
    ----------
    params : dict
        The manifest's ``params`` (the resolved config and the node parameters).
    """

    host = board = None
    fast_build_blocks = ()

    def __init__(self, cfg, derived=None):
        from rtl.fabric.mesh import NODE_MODULES, edge_ports
        d = self.derived = derived_of(cfg, derived)
        lay, _, self.node = compute_params(cfg, d)
        self.fmt = lay.fmt
        self.faults = fault_setup(cfg, d, kind="compute")
        nx, ny = d.die.nodes_x, d.die.nodes_y
        dx, dy = (cfg.tile.dies_x, cfg.tile.dies_y) if d.tile.dies > 1 else (1, 1)
        mx, my = dx * nx, dy * ny
        # global coordinates die by die, row-major within a die (rtl.fabric.tile.Tile's
        # and, for one die, rtl.fabric.mesh.Mesh's order)
        self.nodes = [[i * nx + x, j * ny + y] for j in range(dy) for i in range(dx)
                      for y in range(ny) for x in range(nx)]
        dielink, die_shape = None, None
        if d.tile.dies > 1:
            dielink = {"ratio": d.dielink.ratio, "latency": d.dielink.latency}
            die_shape = (nx, ny)
            ll = d.dielink.link_layer
            if ll:
                dielink["layer"] = {k: ll[k] for k in LINK_LAYER_PARAMS}
        network = Network(mesh_x=mx, mesh_y=my, kind="compute", top_kind="tile",
                          boundary="ports", stat_names=[],
                          edge_ports=[[n, list(xy), dr] for n, xy, dr in edge_ports(mx, my)],
                          pipeline_stages=d.link.pipeline_stages, die_shape=die_shape,
                          dielink=dielink)
        if dielink and "layer" in dielink:
            from rtl.fabric.dielink_layer import STAT_NAMES
            network = replace(network, dielink_stat_names=list(STAT_NAMES),
                              dielink_ends=_dielink_ends(dx, dy, nx, ny))
        self.network = network
        self.hier_blocks = (NODE_MODULES["compute"],)
        self.params = {"config": cfg.raw, "node": self.node}

    description = Design.description

    def manifest(self):
        """The describing keys of the design's manifest (no ports, modules or digest: no
        Verilog is emitted)."""
        return {"params": self.params, **self.description()}


def _dielink_ends(dx, dy, nx, ny):
    """:meth:`rtl.fabric.tile.Tile.dielink_ends` of a tile of ``dx`` x ``dy`` dies of
    ``nx`` x ``ny`` nodes, on its geometry alone (the method run on a stand-in that has the
    tile's four numbers and its geometry methods)."""
    from rtl.fabric.tile import Tile

    class Geometry:
        dies, die_origin, dielink_ends = Tile.dies, Tile.die_origin, Tile.dielink_ends
        _dx, _dy, _nx, _ny = dx, dy, nx, ny

    return [[list(a), list(b)] for a, b in Geometry().dielink_ends()]


def compute_tile(cfg, *, engine="rtl", derived=None):
    """The compute tile with host ports a workload runs on: the design
    (``network_design(cfg, kind="compute", top="tile", boundary="ports")``) for the RTL,
    its :class:`TileDescription` for the fast engine (``engine="model"``), which needs no
    component built."""
    if engine == "model":
        return TileDescription(cfg, derived)
    return network_design(cfg, kind="compute", top="tile", boundary="ports", derived=derived)


def noc_design(cfg, *, kind="traffic", boundary="tie", top_name=None, derived=None):
    """The network of the whole tile: ``kind="traffic"`` in-RTL generators and sinks at
    every node (sweeps), ``kind="bare"`` routers with local ports exposed (Python-driven
    tests). See :func:`network_design`."""
    return network_design(cfg, kind=kind, top="tile", boundary=boundary,
                          top_name=top_name or f"dojo_mesh_{kind}", derived=derived)


def router_design(cfg, *, top_name="dojo_router_top", derived=None):
    """One router alone (its own top, for router-level tests and FPGA runs). With
    ``router.routing: table`` its tables are sized by the tile; ``router.vc_planes: true``
    gives it one table set per VC (as a fault map's traffic design has, :mod:`gen.routing.planes`):
    the router alone has no fault map, so only an explicit ``true`` turns planes on."""
    from rtl.net.router import Router
    d = derived_of(cfg, derived)
    fmt = packet_format(cfg, d)
    table = {}
    if cfg.router.routing == "table":
        table["table_shape"] = (d.tile.dies_x, d.tile.dies_y, d.die.nodes_x,
                                d.die.nodes_y)
        if getattr(cfg.router, "vc_planes", None) is True:
            table["table_shape"] += (cfg.router.vcs,)
    router = Router(fmt=fmt, vcs=cfg.router.vcs, buffer_depth=cfg.router.buffer_depth,
                    routing=cfg.router.routing, **table)
    lib = ModuleLibrary()
    return Design(top_name, router, lib, {"config": cfg.raw}, derived=d, fmt=fmt)


def write(design, out_dir, *, provenance=None):
    """Write ``<top>.v`` and ``<top>.json``; returns the Verilog path. The manifest records
    ``provenance`` (:func:`gen.provenance.provenance`; default: the design's resolved
    config with no overrides known; none for a block built without a config, as a test
    builds one)."""
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
