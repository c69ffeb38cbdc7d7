"""NX x NY mesh of nodes, emitted hierarchically (one node module, many instances).

A mesh is the building block of both levels of the hierarchy: a die
(:class:`rtl.fabric.die.Die`, a mesh whose origin is an input and whose boundary is
ports) and a single-die network top. :class:`rtl.fabric.tile.Tile` joins dies.
"""

import operator

from amaranth import Array, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.net.directions import NEIGHBOUR
from rtl.node.training_node import NODE_PORT_ROLES
from rtl.net.link import LinkPipe, LinkSignature

__all__ = ["Mesh", "InlineModules", "KINDS", "PORT_ROLES", "check_kind", "kind_ports", "reduce_outputs", "tie_off", "tree"]


#: node kinds: ``bare`` routers (local ports exposed), ``traffic`` nodes
#: (router + generator + sink), ``compute`` training nodes (router + NI + SRAM + engine)
KINDS = ("bare", "traffic", "compute")

#: outputs a parent reduces over its children (nodes of a mesh, dies of a tile);
#: the last one of each kind also collects die-link overflows
_REDUCED = {
    "traffic": (("marked_generated", operator.add), ("marked_received", operator.add),
                ("error", operator.or_)),
    "compute": (("errors", operator.add), ("busy", operator.or_), ("overflow", operator.or_)),
    "bare": (),
}


#: what each non-link port of a mesh, die or tile of any kind is for (for the manifest)
PORT_ROLES = {
    "x0": "x of the die's node (0, 0) (tie off)", "y0": "y of the die's node (0, 0) (tie off)",
    "ctrl": "traffic generator runtime registers", "stat_node": "statistics: node select",
    "stat_index": "statistics: word select", "stat_data": "statistics: selected word",
    "marked_generated": "marked packets generated (sum)",
    "marked_received": "marked packets delivered (sum)", "cycle": "cycle counter",
    "error": "any sink error or buffer overflow",
    "cfg": "routing tables and live list load port (table / live mode)",
    **NODE_PORT_ROLES,
}


class InlineModules:
    """The module-set protocol of :class:`gen.emit.ModuleLibrary`, without emission.

    A mesh, die or tile asks its ``lib`` for node modules: ``add(name, build)``
    registers one and returns a component of it (for its signature), ``instance(m,
    name, build, inst_name=..., **ties)`` puts one in ``m`` and returns what to wire.
    Here every instance is the component itself (the first one is the component
    ``add`` returned), so a mesh simulates in amaranth.sim with no generator at all;
    gen's library instead emits each module once and instantiates it.
    """

    def __init__(self):
        self._builds, self._spare = {}, {}

    def __contains__(self, name):
        return name in self._builds

    def add(self, name, build):
        if name not in self._builds:
            self._builds[name] = build
            self._spare[name] = build()
        spare = self._spare.get(name)
        return spare if spare is not None else self._builds[name]()

    def instance(self, m, name, build, *, inst_name, **ties):
        if name not in self._builds:
            self.add(name, build)
        component = self._spare.pop(name, None)
        if component is None:
            component = self._builds[name]()
        for port, value in ties.items():
            m.d.comb += getattr(component, port).eq(value)
        m.submodules[inst_name] = component
        return component


def check_kind(kind, boundary):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if boundary not in ("ports", "tie"):
        raise ValueError(f"boundary must be 'ports' or 'tie', not {boundary!r}")


def config_shape(kind, params):
    """The table shape of the config port of a mesh of ``kind`` nodes with ``params``,
    or ``None`` when it has none (plain dimension order, every node live)."""
    if kind == "compute":
        return None
    if params.get("routing") == "table" or (kind == "traffic" and params.get("live")):
        return tuple(params["table_shape"])
    return None


def kind_ports(kind, fmt, link, local_coords, cfg_shape=None):
    """Signature members of a mesh or tile of ``kind`` nodes (edge ports aside)."""
    cfg = {}
    if cfg_shape is not None:
        from rtl.net.routing_table import config_layout
        cfg = {"cfg": In(config_layout(fmt.coord_bits, cfg_shape))}
    if kind == "traffic":
        from rtl.measure.traffic import control_layout
        return {"ctrl": In(control_layout(fmt.coord_bits)),
                "stat_node": In(16), "stat_index": In(8), "stat_data": Out(32),
                "marked_generated": Out(32), "marked_received": Out(32),
                "error": Out(1), "cycle": Out(32), **cfg}
    if kind == "compute":
        return {"errors": Out(32), "busy": Out(1), "overflow": Out(1)}
    ports = dict(cfg)
    for x, y in local_coords:
        ports[f"in_local_{x}_{y}"] = In(link)
        ports[f"out_local_{x}_{y}"] = Out(link)
    return ports


def reduce_outputs(m, top, kind, children, link_errors=()):
    """Drive ``top``'s reduced outputs from the same-named outputs of ``children``."""
    reduced = _REDUCED[kind]
    for i, (name, op) in enumerate(reduced):
        values = [getattr(c, name) for c in children]
        if i == len(reduced) - 1:
            values += list(link_errors)
        m.d.comb += getattr(top, name).eq(tree(op, values)[:len(getattr(top, name))])


def tie_off(m, inp, out):
    """Nothing routes over this link: no flits in, no credits back."""
    m.d.comb += [inp.valid.eq(0), inp.last.eq(0), inp.vc.eq(0), inp.data.eq(0),
                 out.credit.eq(0)]


def edge_ports(nx, ny, origin=(0, 0)):
    """``(port name, node (x, y), direction)`` of every link leaving an ``nx`` x ``ny``
    rectangle at ``origin``; ports are named by the coordinate along the edge."""
    ox, oy = origin
    out = []
    for x in range(ox, ox + nx):
        out.append((f"edge_north_{x}", (x, oy), "north"))
        out.append((f"edge_south_{x}", (x, oy + ny - 1), "south"))
    for y in range(oy, oy + ny):
        out.append((f"edge_west_{y}", (ox, y), "west"))
        out.append((f"edge_east_{y}", (ox + nx - 1, y), "east"))
    return out


#: the Verilog module of one node, per network kind
NODE_MODULES = {"bare": "dojo_router", "traffic": "dojo_traffic_node",
                "compute": "dojo_compute_node"}


def register_node(lib, kind, fmt, params):
    """Emit the node module of ``kind`` once; returns ``(module name, component)``."""
    name = NODE_MODULES[kind]
    if kind == "bare":
        from rtl.net.router import Router
        table = ({"table_shape": tuple(params["table_shape"])}
                 if params["routing"] == "table" else {})
        return name, lib.add(name, lambda: Router(
            fmt=fmt, vcs=params["vcs"], buffer_depth=params["buffer_depth"],
            routing=params["routing"], **table))
    if kind == "traffic":
        from rtl.measure.traffic_node import TrafficNode
        return name, lib.add(name, lambda: TrafficNode(fmt=fmt, **params))
    from rtl.node.training_node import TrainingNode
    return name, lib.add(name, lambda: TrainingNode(**params))


class Mesh(wiring.Component):
    """A rectangle of nodes.

    Parameters
    ----------
    lib : gen.emit.ModuleLibrary or None
        Where the node module is emitted once; ``None`` (an :class:`InlineModules`)
        puts the node components themselves in the mesh, e.g. for amaranth.sim.
    fmt : PacketFormat
    nodes_x, nodes_y : int
        Size of this mesh.
    origin : (int, int) or None
        Global coordinates of node (0, 0); ``None`` makes them inputs ``x0``/``y0``
        (one die module serves every die of a tile).
    kind : ``"traffic"``, ``"compute"`` or ``"bare"``
        ``traffic``: every node is a :class:`rtl.measure.traffic_node.TrafficNode` (generator + sink
        on the local port), with shared runtime registers and a statistics read-out
        (``stat_node`` indexes :meth:`coords`; ``stat_data`` follows ``stat_node`` and
        ``stat_index`` by two cycles; ``ctrl`` is registered here and again in every
        generator, so a change reaches the generators' logic two cycles after it is set
        on the mesh port).
        ``compute``: every node is a :class:`rtl.node.training_node.TrainingNode`; ``errors``
        sums their dropped requests, ``busy`` and ``overflow`` OR their flags.
        ``bare``: routers only; each local port is a mesh port
        ``in_local_<x>_<y>`` / ``out_local_<x>_<y>`` (x, y relative to the origin).
    boundary : ``"ports"`` or ``"tie"``
        Expose the links at the mesh edge as ports ``in_edge_<dir>_<i>``/``out_edge_<dir>_<i>``
        (``i`` = coordinate along the edge, relative to the origin), or tie them off.
    pipeline_stages : int
        Link registers per hop (from the physical derivation).
    node_params : dict
        Parameters of the node component.
    """

    PORT_ROLES = PORT_ROLES

    def __init__(self, *, lib=None, fmt, nodes_x, nodes_y, origin=(0, 0), kind="traffic",
                 boundary="tie", pipeline_stages=0, node_params):
        check_kind(kind, boundary)
        lib = InlineModules() if lib is None else lib
        if nodes_x < 1 or nodes_y < 1:
            raise ValueError(f"mesh must have at least 1x1 nodes, not {nodes_x}x{nodes_y}")
        self._lib, self._fmt = lib, fmt
        self._nx, self._ny, self._origin = nodes_x, nodes_y, origin
        self._kind, self._boundary, self._stages = kind, boundary, pipeline_stages
        self._np = dict(node_params)
        self._node_module, node = register_node(lib, kind, fmt, self._np)
        self.stat_names = getattr(node, "stat_names", [])
        self._vcs = self._np["vcs"]
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=self._vcs)
        ports = {}
        if origin is None:
            ports.update({"x0": In(fmt.coord_bits), "y0": In(fmt.coord_bits)})
        self._cfg_shape = config_shape(kind, self._np)
        ports.update(kind_ports(kind, fmt, link, self.local_coords(), self._cfg_shape))
        if boundary == "ports":
            for name, _, _ in self.edge_ports():
                ports[f"in_{name}"] = In(link)
                ports[f"out_{name}"] = Out(link)
        super().__init__(ports)

    # -- geometry -----------------------------------------------------------------

    def local_coords(self):
        """Coordinates relative to the origin, row-major."""
        return [(x, y) for y in range(self._ny) for x in range(self._nx)]

    def coords(self):
        """Global coordinates of every node, row-major (relative if the origin is an input)."""
        ox, oy = self._origin or (0, 0)
        return [(ox + x, oy + y) for x, y in self.local_coords()]

    def edge_ports(self):
        """``(port name, node (x, y) relative to the origin, direction)`` of every link
        leaving the mesh."""
        return edge_ports(self._nx, self._ny)

    def internal_links(self):
        """``(name, (src (x, y), out direction), (dst (x, y), in direction))`` of every
        directed link between two nodes of the mesh (coordinates relative to the origin)."""
        out = []
        coords = set(self.local_coords())
        for x, y in self.local_coords():
            for direction in ("east", "south"):
                dx, dy, opposite = NEIGHBOUR[direction]
                peer = (x + dx, y + dy)
                if peer not in coords:
                    continue
                out.append(((x, y), direction, peer, opposite))
                out.append((peer, opposite, (x, y), direction))
        return [(f"pipe{i}", (a, da), (b, db)) for i, (a, da, b, db) in enumerate(out)]

    stages = property(lambda self: self._stages)
    kind = property(lambda self: self._kind)
    fmt = property(lambda self: self._fmt)
    vcs = property(lambda self: self._vcs)

    @property
    def node_module(self):
        return self._node_module

    def elaborate(self, platform):
        m = Module()
        cb = self._fmt.coord_bits
        nodes = {}
        for lx, ly in self.local_coords():
            if self._origin is None:
                x = Signal(cb, name=f"x_{lx}_{ly}")
                y = Signal(cb, name=f"y_{lx}_{ly}")
                m.d.comb += [x.eq(self.x0 + lx), y.eq(self.y0 + ly)]
            else:
                x, y = Const(self._origin[0] + lx, cb), Const(self._origin[1] + ly, cb)
            nodes[lx, ly] = self._lib.instance(m, self._node_module, lambda: None,
                                               inst_name=f"node_{lx}_{ly}", x=x, y=y)

        for name, (src, d_out), (dst, d_in) in self.internal_links():
            self._join(m, getattr(nodes[src], f"out_{d_out}"), getattr(nodes[dst], f"in_{d_in}"),
                       name)

        for name, xy, direction in self.edge_ports():
            node = nodes[xy]
            if self._boundary == "ports":
                wiring.connect(m, wiring.flipped(getattr(self, f"in_{name}")),
                               getattr(node, f"in_{direction}"))
                wiring.connect(m, getattr(node, f"out_{direction}"),
                               wiring.flipped(getattr(self, f"out_{name}")))
            else:
                tie_off(m, getattr(node, f"in_{direction}"), getattr(node, f"out_{direction}"))

        if self._cfg_shape is not None:
            # registered once per mesh (like ctrl): one cycle from the port to the nodes
            cfg = Signal.like(self.cfg, reset_less=True)
            m.d.sync += cfg.eq(self.cfg)
            for node in nodes.values():
                m.d.comb += node.cfg.eq(cfg)
        if self._kind == "bare":
            for (x, y), node in nodes.items():
                wiring.connect(m, wiring.flipped(getattr(self, f"in_local_{x}_{y}")), node.in_local)
                wiring.connect(m, node.out_local, wiring.flipped(getattr(self, f"out_local_{x}_{y}")))
        elif self._kind == "traffic":
            self._elaborate_traffic(m, nodes)
        reduce_outputs(m, self, self._kind, nodes.values())
        return m

    def _join(self, m, src, dst, name):
        if self._stages:
            pipe = self._lib.instance(m, "dojo_link_pipe", lambda: LinkPipe(
                flit_bits=self._fmt.flit_bits, vcs=self._vcs, stages=self._stages),
                inst_name=name)
            wiring.connect(m, src, pipe.i)
            wiring.connect(m, pipe.o, dst)
        else:
            wiring.connect(m, src, dst)

    def _elaborate_traffic(self, m, nodes):
        fmt = self._fmt
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        m.d.comb += self.cycle.eq(cycle)
        # The runtime inputs are registered (without reset) before they fan out (so
        # ctrl, registered again in TrafficGen, acts two cycles after the port): the
        # generators' and the statistics muxes' logic then depends on registers only,
        # so Verilator evaluates it once per clock edge instead of in the input-combo
        # region on every eval() (which also re-ran every router fed by a generator).
        ctrl = Signal.like(self.ctrl, reset_less=True)
        stat_node = Signal.like(self.stat_node, reset_less=True)
        stat_index = Signal.like(self.stat_index, reset_less=True)
        m.d.sync += [ctrl.eq(self.ctrl), stat_node.eq(self.stat_node),
                     stat_index.eq(self.stat_index)]
        for node in nodes.values():
            m.d.comb += [node.now.eq(cycle[:fmt.timestamp_bits]), node.ctrl.eq(ctrl),
                         node.stat_index.eq(stat_index)]
        # node i of stat_node is coords()[i]; stat_data is the word selected two
        # cycles before (input register, then the output register)
        table = Array(node.stat_data for node in nodes.values())
        with m.If(stat_node < len(nodes)):
            m.d.sync += self.stat_data.eq(table[stat_node])


def tree(op, values):
    """Balanced reduction: shallow logic, and no deep recursion in the Verilog backend."""
    values = list(values)
    while len(values) > 1:
        values = [op(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]
