"""Run-time routing tables of the table router, and the configuration port that loads them.

Micro-architecture
------------------
Hierarchical tables (the format of :mod:`gen.routing`, whose :func:`gen.routing.combine`
is the golden model of the lookup below):

* ``die[d]`` for destination die ``d = (dst_y // nodes_y) * dies_x + dst_x // nodes_x``,
  :data:`DIE_ENTRY_BITS` = 5 bits: port ``[2:0]``, ``take_x`` ``[3]``, ``take_y`` ``[4]``;
  absent when the tile has one die (the destination die is then always the own die);
* ``node[l]`` for the destination's node within its die,
  ``l = (dst_y % nodes_y) * nodes_x + dst_x % nodes_x``, :data:`NODE_ENTRY_BITS` = 3 bits.

Both are ``lib.memory`` arrays with one write port (the config port) and one
asynchronous read port per lookup (the router has five: one per input), so a lookup
is combinational: destination -> constant divisions (slices for power-of-two dies,
reciprocal multiplies otherwise) -> two table reads -> the combine rule -> a port
index, in the cycle the head arrives. The combine rule::

    port = node[l]        if d == own die
                          or take_x(die[d]) and node[l] in (east, west)
                          or take_y(die[d]) and node[l] in (north, south)
           port(die[d])   otherwise

A destination outside the mesh reads as ``local`` (the flit is ejected; the sink
counts it as a misroute).

VC planes (:mod:`gen.routing.planes`; a fifth element ``planes`` of the table shape): one die
and one node table per VC in the same memories (VC ``v`` at ``v * dies + d`` and
``v * nodes_x * nodes_y + l``), the lookup addressed by the arriving flit's VC. Plane 0's
writes also carry the router's own source's VC choice for that key in the bits above the
entry (``data[3:]`` of a NODE write, ``data[5:]`` of a DIE write), which the traffic
generator at the same ``(x, y)`` keeps (:class:`rtl.measure.traffic.TrafficGen`); the
tables store only the entry.

Configuration port
------------------
:func:`config_layout`: one write per cycle, broadcast to every router and generator
of a mesh (``valid`` high for one cycle, no backpressure, no reset needed):

==========  =============================================================
``target``  effect
==========  =============================================================
``DIE``     router ``(x, y)``: ``die[addr] = data[4:0]``
``NODE``    router ``(x, y)``: ``node[addr] = data[2:0]``
``COUNT``   every traffic generator: live count ``L = data``, live bitmap cleared
``LIVE``    every traffic generator: ``live[addr] = data`` (``{y, x}``, ``x`` in the low
            ``coord_bits``) and the bitmap bit of node ``y * mesh_x + x`` set
==========  =============================================================

The tables have no reset: they survive a reset (a sweep resets between points and
loads once, while the first reset is held).

Size: the tables are ``dies * 5 + nodes_x * nodes_y * 3`` bits of distributed RAM
per router (2x2 dies of 3x3 nodes: 47 bits) plus five read multiplexers; ``planes`` times
that with VC planes (an 8x8 die with 2 VCs: 384 bits), and the traffic generator's choice
table adds ``nodes_x * nodes_y`` (plus ``dies`` in a tile) entries of ``log2(planes)``
bits. The table router's ECP5 size and Fmax, with and without VC planes, are measured by
``make bench SECTIONS=fpga`` (BENCHMARKS.md); the generator's choice table is not
synthesised alone.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.net.arith import divmod_const
from rtl.net.directions import EAST, LOCAL, NORTH, SOUTH, WEST

__all__ = ["DIE_ENTRY_BITS", "NODE_ENTRY_BITS", "TAKE_X", "TAKE_Y", "ConfigTarget",
           "config_layout", "check_table_shape", "table_planes", "select_bits", "RoutingTable"]

#: bits of a die-table entry: port [2:0], take_x [3], take_y [4] (gen.routing writes them)
DIE_ENTRY_BITS = 5
#: bits of a node-table entry: a port index
NODE_ENTRY_BITS = 3
TAKE_X = 1 << 3
TAKE_Y = 1 << 4


class ConfigTarget(enum.Enum, shape=2):
    """What a write on the configuration port addresses (see the module docstring)."""
    DIE = 0
    NODE = 1
    COUNT = 2
    LIVE = 3


def check_table_shape(shape):
    """``shape = (dies_x, dies_y, nodes_x, nodes_y)`` or, with VC planes,
    ``(dies_x, dies_y, nodes_x, nodes_y, planes)`` (``planes`` 2..4, one table set per VC),
    each a positive integer."""
    if not (isinstance(shape, tuple) and len(shape) in (4, 5) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
            and (len(shape) == 4 or 2 <= shape[4] <= 4)):
        raise ValueError(f"table_shape must be (dies_x, dies_y, nodes_x, nodes_y) of positive "
                         f"integers, or with a fifth element planes in 2..4, not {shape!r}")
    return shape


def table_planes(shape):
    """VC planes of a table shape: its fifth element, 1 without one."""
    return check_table_shape(shape)[4] if len(shape) == 5 else 1


def select_bits(shape):
    """Bits of a source's VC choice carried in plane-0 writes (0 without VC planes)."""
    planes = table_planes(shape)
    return max(1, (planes - 1).bit_length()) if planes > 1 else 0


def config_layout(coord_bits, shape):
    """The configuration port of a mesh of ``shape`` (see the module docstring)."""
    dx, dy, nx, ny = check_table_shape(shape)[:4]
    planes = table_planes(shape)
    mesh_nodes = dx * nx * dy * ny
    return data.StructLayout({
        "valid": 1,
        "target": ConfigTarget,
        "x": coord_bits,
        "y": coord_bits,
        "addr": max(1, (mesh_nodes - 1).bit_length(), (planes * nx * ny - 1).bit_length(),
                    (planes * dx * dy - 1).bit_length()),
        "data": max(DIE_ENTRY_BITS + select_bits(shape), 2 * coord_bits,
                    mesh_nodes.bit_length()),
    })


class RoutingTable(wiring.Component):
    """A router's die and node tables with ``lookups`` combinational lookup ports.

    Parameters
    ----------
    coord_bits : int
        Width of coordinates.
    shape : (dies_x, dies_y, nodes_x, nodes_y) or (..., planes)
        The tile (one die: ``(1, 1, mesh_x, mesh_y)``); with ``planes`` (VC planes) one
        table set per VC, VC ``v``'s entries at ``v * depth + index``.
    lookups : int
        Number of lookup ports.

    Attributes
    ----------
    node_memory, die_memory : Memory, Memory or None
        The node and die tables (no die table with one die).

    Members
    -------
    x, y : In(coord_bits)
        The router's own global coordinates (tie off): writes for ``(x, y)`` land here.
    cfg : In(config_layout(coord_bits, shape))
        The configuration port; ``DIE``/``NODE`` writes take effect at the clock edge.
    dst : In(ArrayLayout({x, y}, lookups))
        Destinations to look up.
    vc : In(ArrayLayout(vc_bits(planes), lookups))
        Only with VC planes: the VC (plane) of each lookup.
    port : Out(ArrayLayout(3, lookups))
        ``port[k]``: the output port index (``PORTS`` order) for ``dst[k]``,
        combinational from ``dst[k]`` and the table contents.
    """

    def __init__(self, *, coord_bits, shape, lookups):
        self._cb = coord_bits
        self._shape = check_table_shape(shape)
        self._lookups = lookups
        self._planes = table_planes(self._shape)
        dst = data.StructLayout({"x": coord_bits, "y": coord_bits})
        members = {
            "x": In(coord_bits), "y": In(coord_bits),
            "cfg": In(config_layout(coord_bits, shape)),
            "dst": In(data.ArrayLayout(dst, lookups)),
            "port": Out(data.ArrayLayout(NODE_ENTRY_BITS, lookups)),
        }
        if self._planes > 1:
            members["vc"] = In(data.ArrayLayout(select_bits(self._shape), lookups))
        super().__init__(members)

        dies_x, dies_y, nx, ny = self._shape[:4]
        P = self._planes
        #: the tables (created here so that a proof harness can add read ports to probe them)
        self.node_memory = Memory(shape=NODE_ENTRY_BITS, depth=P * nx * ny, init=[])
        self.die_memory = (Memory(shape=DIE_ENTRY_BITS, depth=P * dies_x * dies_y, init=[])
                           if dies_x * dies_y > 1 else None)

    shape = property(lambda self: self._shape)
    planes = property(lambda self: self._planes)

    def elaborate(self, platform):
        m = Module()
        dies_x, dies_y, nx, ny = self._shape[:4]
        P = self._planes
        mx, my = dies_x * nx, dies_y * ny
        top = (1 << self._cb) - 1
        cfg = self.cfg
        mine = Signal()
        m.d.comb += mine.eq(cfg.valid & (cfg.x == self.x) & (cfg.y == self.y))

        node = self.node_memory
        m.submodules.node_table = node
        wp = node.write_port()
        m.d.comb += [wp.en.eq(mine & (cfg.target == ConfigTarget.NODE)),
                     wp.addr.eq(cfg.addr), wp.data.eq(cfg.data[:NODE_ENTRY_BITS])]
        dies = dies_x * dies_y
        if dies > 1:
            die = self.die_memory
            m.submodules.die_table = die
            wp = die.write_port()
            m.d.comb += [wp.en.eq(mine & (cfg.target == ConfigTarget.DIE)),
                         wp.addr.eq(cfg.addr), wp.data.eq(cfg.data[:DIE_ENTRY_BITS])]
            own = Signal(range(dies))
            qx, _ = divmod_const(self.x, nx, top)
            qy, _ = divmod_const(self.y, ny, top)
            m.d.comb += own.eq(qy * dies_x + qx)

        for k in range(self._lookups):
            dst = self.dst[k]
            qx, rx = divmod_const(dst.x, nx, top)
            qy, ry = divmod_const(dst.y, ny, top)
            inside = Signal(name=f"inside_{k}")
            m.d.comb += inside.eq((dst.x < mx) & (dst.y < my))
            rd = node.read_port(domain="comb")
            plane = self.vc[k] if P > 1 else None
            l_addr = ry * nx + rx
            m.d.comb += rd.addr.eq(l_addr if plane is None else plane * (nx * ny) + l_addr)
            n = Signal(NODE_ENTRY_BITS, name=f"node_entry_{k}")
            m.d.comb += n.eq(rd.data)
            out = Signal(NODE_ENTRY_BITS, name=f"port_{k}")
            if dies > 1:
                drd = die.read_port(domain="comb")
                d = Signal(range(dies), name=f"die_{k}")
                m.d.comb += [d.eq(qy * dies_x + qx),
                             drd.addr.eq(d if plane is None else plane * dies + d)]
                e = Signal(DIE_ENTRY_BITS, name=f"die_entry_{k}")
                m.d.comb += e.eq(drd.data)
                along_x = (n == EAST) | (n == WEST)
                along_y = (n == NORTH) | (n == SOUTH)
                use_node = (d == own) | (e[3] & along_x) | (e[4] & along_y)
                m.d.comb += out.eq(Mux(use_node, n, e[:3]))
            else:
                m.d.comb += out.eq(n)
            m.d.comb += self.port[k].eq(Mux(inside, out, LOCAL))
        return m
