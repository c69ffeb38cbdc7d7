"""What a generator hands to a writer and a testbench: the typed records of a design.

:class:`Design` is a top component with its module library and the named facts a
testbench needs (the packet format, where the nodes are, the die links, the fault map,
which modules Verilator builds as hierarchical blocks); :meth:`Design.manifest` turns
them into the JSON manifest written next to the Verilog. :class:`FaultSetup` is the
fault-map mode of a network design (:func:`gen.build.fault_setup`). The module sits
below :mod:`gen.build` and :mod:`gen.node_build` so both can use it.
"""

from dataclasses import dataclass, field

from amaranth.hdl import Shape
from amaranth.lib import wiring

from rtl.net.link import LinkSignature
from rtl.net.packet import PacketFormat
from .derive import Derivation, derive
from .emit import ModuleLibrary, digest, port_name
from .faults import FaultMap
from .provenance import GENERATOR_VERSION

__all__ = ["Design", "Network", "Board", "FaultSetup", "derived_of", "packet_format",
           "fmt_manifest", "port_role"]


@dataclass(frozen=True)
class FaultSetup:
    """The fault-map mode of a network design (docs/table_mode.md).

    Attributes
    ----------
    routing : str
        ``router.routing`` (``"xy"``, ``"yx"`` or ``"table"``).
    live : bool
        Some node is not live: sources and sinks follow the live-node rules.
    fault_map : gen.faults.FaultMap
    tables : gen.routing.RoutingTables or None
        Table mode: the routing tables (with VC planes, plane 0).
    report : dict or None
        Table mode: :func:`gen.routing.check_tables`'s report (stretch, CDG edges).
    shape : tuple
        ``(dies_x, dies_y, nodes_x, nodes_y)``.
    planes : gen.vc_planes.VcPlanes or None
        The VC planes, where they apply.
    """
    routing: str
    live: bool
    fault_map: FaultMap
    tables: object = None
    report: dict = None
    shape: tuple = ()
    planes: object = None

    def manifest(self):
        """The manifest keys of the fault-map mode."""
        fmap = self.fault_map
        by_id = lambda pts: [list(p) for p in sorted(pts, key=lambda p: (p[1], p[0]))]
        out = {"routing": self.routing, "live_mode": self.live,
               "live_nodes": [list(p) for p in fmap.live_nodes],
               "dead_routers": by_id(fmap.dead_routers),
               "disabled_nodes": by_id(fmap.disabled_nodes)}
        t = self.tables
        if t is not None:
            r = self.report
            out["routing_tables"] = {
                "shape": list(self.shape), "algorithm": t.algorithm,
                "root": list(t.root) if t.root is not None else None,
                "die": t.die.tolist(), "node": t.node.tolist(),
                "stretch_mean": r["stretch_mean"], "stretch_worst": r["stretch_worst"],
                "cdg_edges": r["cdg_edges"]}
            if self.planes is not None:
                # VC planes: every VC's tables and the sources' VC choice (docs/table_mode.md)
                out["routing_tables"]["vc_planes"] = {
                    "die": [p.die.tolist() for p in self.planes.tables],
                    "node": [p.node.tolist() for p in self.planes.tables],
                    "select_die": self.planes.select_die.tolist(),
                    "select_node": self.planes.select_node.tolist()}
        return out


@dataclass(frozen=True)
class Network:
    """A die, mesh or tile of nodes: its shape, statistics and boundary (manifest keys of
    the same names).

    Attributes
    ----------
    mesh_x, mesh_y : int
        The nodes of the top, per axis.
    kind : str
        ``"traffic"``, ``"bare"`` or ``"compute"`` nodes.
    top_kind : str
        ``"die"`` or ``"tile"``.
    boundary : str
        What the mesh edge is: ``"ports"`` (a die), ``"tie"`` or ``"ports"``.
    stat_names : list
        The statistics words, in the order the top reads them out.
    edge_ports : list
        ``[name, [x, y], direction]`` of every boundary port.
    pipeline_stages : int
        Link pipeline registers per hop.
    die_shape : tuple or None
        ``(nodes_x, nodes_y)`` of a die when the top is a tile of several dies.
    dielink : dict or None
        The die links' ``ratio`` and ``latency`` (and ``layer``, the link layer's
        parameters) when the top is a tile of several dies.
    dielink_stat_names, dielink_ends : list or None
        With the link layer: its statistics words, and the two ends of every die link.
    """
    mesh_x: int
    mesh_y: int
    kind: str
    top_kind: str
    boundary: str
    stat_names: list
    edge_ports: list
    pipeline_stages: int
    die_shape: tuple = None
    dielink: dict = None
    dielink_stat_names: list = None
    dielink_ends: list = None

    def manifest(self):
        out = {"mesh_x": self.mesh_x, "mesh_y": self.mesh_y, "kind": self.kind,
               "top_kind": self.top_kind, "boundary": self.boundary,
               "stat_names": self.stat_names, "edge_ports": self.edge_ports,
               "pipeline_stages": self.pipeline_stages, "die_shape": self.die_shape,
               "dielink": self.dielink}
        if self.dielink_stat_names is not None:
            out.update(dielink_stat_names=self.dielink_stat_names,
                       dielink_ends=self.dielink_ends)
        return out


@dataclass(frozen=True)
class Board:
    """The board top's UART bridge (:func:`gen.fpga.board_design`).

    Attributes
    ----------
    board : str
        The board's name (``gen.fpga.targets``).
    uart : dict
        ``baud``, ``clk_hz`` and the clock ``divisor``.
    ctrl_fields : list
        The names of the control word's fields.
    protocol : str
        The bridge's class, whose docstring describes the protocol.
    """
    board: str
    uart: dict
    ctrl_fields: list
    protocol: str = "rtl.board.uart.UartBridge"

    def manifest(self):
        return {"board": self.board, "uart": self.uart, "ctrl_fields": self.ctrl_fields,
                "protocol": self.protocol}


@dataclass
class Design:
    """A top component, its module library and everything a testbench needs to know.

    Attributes
    ----------
    top_name : str
        The Verilog module name of the top.
    top : amaranth.lib.wiring.Component
    lib : gen.emit.ModuleLibrary
    params : dict
        The manifest's ``params``: the resolved config (``config``) and the node
        parameters (``node``).
    derived : gen.derive.Derivation or None
        The physical derivation the design was built from (computed once, handed down).
    fmt : rtl.net.packet.PacketFormat or None
        The packet format on the top's links.
    network : Network or None
        A die, mesh or tile: its shape and boundary.
    nodes : list or None
        ``[x, y]`` of every node, in the order the top's statistics list them.
    node : dict or None
        The training node's parameters (a design of training nodes).
    host : list or None
        ``[x, y]`` of the host (a row of training nodes).
    faults : FaultSetup or None
        The fault-map mode (a network design with a fault map or table routing).
    board : Board or None
        The board top's UART bridge.
    hier_blocks : tuple
        Modules Verilator always builds as hierarchical blocks.
    fast_build_blocks : tuple
        Modules Verilator builds as hierarchical blocks in a fast build only
        (:mod:`sim.runner`).
    public_signals : tuple
        ``(module, var)`` pairs a Verilator build makes readable by VPI (not in the
        manifest: a simulator option, not a property of the hardware).
    """
    top_name: str
    top: object
    lib: ModuleLibrary
    params: dict
    derived: Derivation = None
    fmt: PacketFormat = None
    network: Network = None
    nodes: list = None
    node: dict = None
    host: list = None
    faults: FaultSetup = None
    board: Board = None
    hier_blocks: tuple = ()
    fast_build_blocks: tuple = ()
    public_signals: tuple = ()
    _verilog: str = field(default=None, init=False, repr=False)

    @property
    def verilog(self):
        if self._verilog is None:
            self._verilog = self.lib.verilog(self.top_name, self.top)
        return self._verilog

    def description(self):
        """The manifest's keys that describe the design (all but the ports, modules and
        digest), without emitting Verilog."""
        out = {}
        if self.fmt is not None:
            out["format"] = fmt_manifest(self.fmt)
        if self.network is not None:
            out.update(self.network.manifest())
        for key in ("nodes", "node", "host"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.faults is not None:
            out.update(self.faults.manifest())
        if self.board is not None:
            out.update(self.board.manifest())
        for key in ("hier_blocks", "fast_build_blocks"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        return out

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
                "params": self.params, **self.description()}


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
    return PacketFormat(flit_bits=cfg.router.flit_bits, coord_bits=d.tile.coord_bits,
                        timestamp_bits=cfg.traffic.timestamp_bits)


def fmt_manifest(fmt):
    return {"flit_bits": fmt.flit_bits, "coord_bits": fmt.coord_bits,
            "timestamp_bits": fmt.timestamp_bits}
