"""NX x NY mesh of nodes, emitted hierarchically (one node module, many instances)."""

import operator

from amaranth import Array, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .link import LinkPipe, LinkSignature
from .router import Router

__all__ = ["Mesh", "NEIGHBOUR"]

#: direction -> (dx, dy, opposite); east = x+1, south = y+1 (see rtl/router.py)
NEIGHBOUR = {"north": (0, -1, "south"), "east": (1, 0, "west"),
             "south": (0, 1, "north"), "west": (-1, 0, "east")}


class Mesh(wiring.Component):
    """A rectangle of nodes at global coordinates ``origin + (x, y)``.

    Parameters
    ----------
    lib : gen.emit.ModuleLibrary
        Where the node module is emitted once.
    fmt : PacketFormat
    nodes_x, nodes_y : int
        Size of this mesh.
    origin : (int, int)
        Global coordinates of node (0, 0).
    kind : ``"traffic"`` or ``"bare"``
        ``traffic``: every node is a :class:`rtl.node.TrafficNode` (generator + sink
        on the local port), with shared runtime registers and a statistics read-out.
        ``bare``: routers only; each local port is a mesh port
        ``local_<x>_<y>_in`` / ``local_<x>_<y>_out`` (x, y global) for testbench drivers.
    boundary : ``"ports"`` or ``"tie"``
        Expose the links at the mesh edge as ports ``edge_<dir>_<i>_in/_out``
        (``i`` = global coordinate along the edge), or tie them off.
    pipeline_stages : int
        Link registers per hop (from the physical derivation).
    die_shape : (int, int) or None
        Nodes per die; links that cross a die boundary become
        :class:`rtl.dielink.DieLinkChannel` pairs (a tile of dies as one global mesh).
    dielink : dict
        ``ratio`` and ``latency`` of the die-to-die links.
    node_params : dict
        Router (and, for ``traffic``, generator/sink) parameters.
    """

    def __init__(self, *, lib, fmt, nodes_x, nodes_y, origin=(0, 0), kind="traffic",
                 boundary="tie", pipeline_stages=0, node_params, die_shape=None, dielink=None):
        if kind not in ("traffic", "bare"):
            raise ValueError(f"kind must be 'traffic' or 'bare', not {kind!r}")
        if boundary not in ("ports", "tie"):
            raise ValueError(f"boundary must be 'ports' or 'tie', not {boundary!r}")
        if nodes_x < 1 or nodes_y < 1:
            raise ValueError(f"mesh must have at least 1x1 nodes, not {nodes_x}x{nodes_y}")
        self._lib, self._fmt = lib, fmt
        self._nx, self._ny, self._origin = nodes_x, nodes_y, tuple(origin)
        self._kind, self._boundary, self._stages = kind, boundary, pipeline_stages
        self._np = dict(node_params)
        if die_shape is not None and dielink is None:
            raise ValueError("die_shape needs dielink=dict(ratio=..., latency=...)")
        self._die_shape, self._dielink = die_shape, dielink
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=self._np["vcs"])
        ports = {}
        if kind == "traffic":
            from .traffic import control_layout
            ports.update({
                "ctrl": In(control_layout(fmt.coord_bits)),
                "stat_node": In(16), "stat_index": In(8), "stat_data": Out(32),
                "marked_generated": Out(32), "marked_received": Out(32),
                "error": Out(1), "cycle": Out(32),
            })
        else:
            for x, y in self.coords():
                ports[f"local_{x}_{y}_in"] = In(link)
                ports[f"local_{x}_{y}_out"] = Out(link)
        if boundary == "ports":
            for name, _, _ in self.edge_ports():
                ports[f"{name}_in"] = In(link)
                ports[f"{name}_out"] = Out(link)
        super().__init__(ports)
        self._node_module = self._register_node()

    # -- geometry -----------------------------------------------------------------

    def coords(self):
        """Global coordinates of every node, row-major."""
        ox, oy = self._origin
        return [(ox + x, oy + y) for y in range(self._ny) for x in range(self._nx)]

    def edge_ports(self):
        """``(port name, node (x, y), direction)`` of every link leaving the mesh."""
        ox, oy = self._origin
        out = []
        for x in range(ox, ox + self._nx):
            out.append((f"edge_north_{x}", (x, oy), "north"))
            out.append((f"edge_south_{x}", (x, oy + self._ny - 1), "south"))
        for y in range(oy, oy + self._ny):
            out.append((f"edge_west_{y}", (ox, y), "west"))
            out.append((f"edge_east_{y}", (ox + self._nx - 1, y), "east"))
        return out

    # -- node module --------------------------------------------------------------

    def _register_node(self):
        p, fmt = self._np, self._fmt
        if self._kind == "bare":
            name = "dojo_router"
            self._lib.add(name, lambda: Router(fmt=fmt, vcs=p["vcs"],
                                               buffer_depth=p["buffer_depth"],
                                               routing=p["routing"]))
            self.stat_names = []
            return name
        from .node import TrafficNode
        name = "dojo_traffic_node"
        node = self._lib.add(name, lambda: TrafficNode(fmt=fmt, **p))
        self.stat_names = node.stat_names
        return name

    @property
    def node_module(self):
        return self._node_module

    def _port(self, node, direction, side):
        if self._kind == "bare" or direction != "local":
            return getattr(node, f"{side}_{direction}")
        raise AssertionError("traffic nodes keep their local port inside")

    def elaborate(self, platform):
        m = Module()
        fmt, cb = self._fmt, self._fmt.coord_bits
        self._link_errors = []
        nodes = {}
        for x, y in self.coords():
            ties = {"x": Const(x, cb), "y": Const(y, cb)}
            nodes[x, y] = self._lib.instance(m, self._node_module, lambda: None,
                                             inst_name=f"node_{x}_{y}", **ties)

        link_index = 0
        for (x, y), node in nodes.items():
            for direction in ("east", "south"):
                dx, dy, opposite = NEIGHBOUR[direction]
                peer = nodes.get((x + dx, y + dy))
                if peer is None:
                    continue
                for src, dst in ((node, peer), (peer, node)):
                    d_out = direction if src is node else opposite
                    d_in = opposite if src is node else direction
                    crosses = self._crosses_die((x, y), (x + dx, y + dy))
                    self._join(m, getattr(src, f"out_{d_out}"), getattr(dst, f"in_{d_in}"),
                               f"{'dielink' if crosses else 'pipe'}{link_index}", crosses)
                    link_index += 1

        for name, xy, direction in self.edge_ports():
            node = nodes[xy]
            if self._boundary == "ports":
                wiring.connect(m, wiring.flipped(getattr(self, f"{name}_in")),
                               getattr(node, f"in_{direction}"))
                wiring.connect(m, getattr(node, f"out_{direction}"),
                               wiring.flipped(getattr(self, f"{name}_out")))
            else:
                # nothing routes off a tied mesh: no flits in, no credits back
                inp, out = getattr(node, f"in_{direction}"), getattr(node, f"out_{direction}")
                m.d.comb += [inp.valid.eq(0), inp.last.eq(0), inp.vc.eq(0), inp.data.eq(0),
                             out.credit.eq(0)]

        if self._kind == "bare":
            for (x, y), node in nodes.items():
                wiring.connect(m, wiring.flipped(getattr(self, f"local_{x}_{y}_in")), node.in_local)
                wiring.connect(m, node.out_local, wiring.flipped(getattr(self, f"local_{x}_{y}_out")))
        else:
            self._elaborate_traffic(m, nodes)
        return m

    def _crosses_die(self, a, b):
        if self._die_shape is None:
            return False
        nx, ny = self._die_shape
        return (a[0] // nx, a[1] // ny) != (b[0] // nx, b[1] // ny)

    def _join(self, m, src, dst, name, crosses_die=False):
        if crosses_die:
            from .dielink import DieLinkChannel
            link = DieLinkChannel(flit_bits=self._fmt.flit_bits, vcs=self._np["vcs"],
                                  ratio=self._dielink["ratio"], latency=self._dielink["latency"],
                                  downstream_depth=self._np["buffer_depth"],
                                  tx_depth=self._np["buffer_depth"])
            m.submodules[name] = link
            self._link_errors.append(link.overflow)
            wiring.connect(m, src, link.i)
            wiring.connect(m, link.o, dst)
        elif self._stages:
            pipe = LinkPipe(flit_bits=self._fmt.flit_bits, vcs=self._np["vcs"],
                            stages=self._stages)
            m.submodules[name] = pipe
            wiring.connect(m, src, pipe.i)
            wiring.connect(m, pipe.o, dst)
        else:
            wiring.connect(m, src, dst)

    def _elaborate_traffic(self, m, nodes):
        fmt = self._fmt
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        m.d.comb += self.cycle.eq(cycle)
        for node in nodes.values():
            m.d.comb += [node.now.eq(cycle[:fmt.timestamp_bits]), node.ctrl.eq(self.ctrl),
                         node.stat_index.eq(self.stat_index)]
        # node i of stat_node is coords()[i]; registered: read one cycle after selecting
        table = Array(node.stat_data for node in nodes.values())
        with m.If(self.stat_node < len(nodes)):
            m.d.sync += self.stat_data.eq(table[self.stat_node])
        m.d.comb += [
            self.marked_generated.eq(_tree(operator.add, [n.marked_generated for n in nodes.values()])),
            self.marked_received.eq(_tree(operator.add, [n.marked_received for n in nodes.values()])),
            self.error.eq(_tree(operator.or_, [n.error for n in nodes.values()]
                                + self._link_errors)),
        ]
        return m


def _tree(op, values):
    """Balanced reduction: shallow logic, and no deep recursion in the Verilog backend."""
    values = list(values)
    while len(values) > 1:
        values = [op(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]
