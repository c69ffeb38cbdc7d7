"""A training tile (DESIGN.md section 7): DX x DY dies joined by DieLinks into one mesh.

Every die is an instance of one die module (:class:`rtl.fabric.die.Die`) with its
origin tied off, so the Verilog holds one node module and one die module
whatever the tile size. Neighbouring dies are joined edge port to edge port by
a :class:`rtl.fabric.dielink.DieLinkChannel` in each direction; XY (or YX) routing
crosses die boundaries with no special case, because coordinates are global.
The links at the tile edge are the host ports.
"""

from amaranth import Array, Const, Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.fabric.die import Die
from rtl.fabric.dielink import DieLinkChannel
from rtl.fabric.dielink_layer import INDEX_BITS, STAT_NAMES as DIELINK_STATS, ReliableDieLinkChannel
from rtl.net.link import LinkSignature
from rtl.net.directions import NEIGHBOUR
from rtl.fabric.mesh import (PORT_ROLES, check_kind, config_shape, edge_ports, kind_ports,
                             reduce_outputs, tie_off)

__all__ = ["Tile"]


class Tile(wiring.Component):
    """DX x DY dies of NX x NY nodes; a global mesh of DX*NX x DY*NY nodes.

    Parameters
    ----------
    lib : gen.emit.ModuleLibrary
    fmt : PacketFormat
    dies_x, dies_y : int
        Dies in the tile.
    die_nodes : (int, int)
        Nodes per die (NX, NY).
    kind : ``"compute"``, ``"traffic"`` or ``"bare"`` (see :class:`rtl.fabric.mesh.Mesh`).
    boundary : ``"ports"`` or ``"tie"``
        Expose the tile-edge links as host ports ``in_edge_<dir>_<i>``/``out_edge_<dir>_<i>``
        (``i`` = global coordinate along the edge), or tie them off.
    pipeline_stages : int
        Link registers per on-die hop.
    node_params : dict
        Parameters of the node component.
    dielink : dict
        ``ratio`` and ``latency`` of the die-to-die links; with ``layer`` (the keyword
        arguments of :class:`rtl.fabric.dielink_layer.ReliableDieLinkChannel` beyond the
        link shape), every die link carries the reliable link layer.

    Members
    -------
    The members of a :class:`rtl.fabric.mesh.Mesh` of the same kind over global
    coordinates; for ``traffic``, ``stat_node`` indexes :meth:`coords` (die by
    die), ``error`` also reports a die-link buffer overflow; for ``compute``,
    so does ``overflow``. With the link layer and ``traffic``, ``stat_node = nodes + k``
    reads die link ``k``'s counters (``stat_index`` into
    :data:`rtl.fabric.dielink_layer.STAT_NAMES`), with the same two-cycle delay; their
    ``window_*`` counters count the cycles the nodes' link counters count (``ctrl.mark``,
    registered once as the dies register it). Without ``traffic`` they count every cycle.
    """

    PORT_ROLES = PORT_ROLES

    def __init__(self, *, lib, fmt, dies_x, dies_y, die_nodes, kind, boundary="tie",
                 pipeline_stages=0, node_params, dielink):
        check_kind(kind, boundary)
        if dies_x < 1 or dies_y < 1:
            raise ValueError(f"a tile needs at least 1x1 dies, not {dies_x}x{dies_y}")
        self._lib, self._fmt, self._kind, self._boundary = lib, fmt, kind, boundary
        self._dx, self._dy = dies_x, dies_y
        self._nx, self._ny = die_nodes
        self._vcs, self._depth = node_params["vcs"], node_params["buffer_depth"]
        self._dielink = dict(dielink)
        self._die_name = f"dojo_die_{kind}"
        die = lib.add(self._die_name, lambda: Die(
            lib=lib, fmt=fmt, nodes_x=self._nx, nodes_y=self._ny, kind=kind,
            pipeline_stages=pipeline_stages, node_params=node_params))
        self._die = die
        out_bits = sum(Shape.cast(mb.shape).width for _, mb, _ in die.signature.flatten(die)
                       if mb.flow == Out)
        if out_bits >= 1 << 16:
            raise ValueError(f"a die of {self._nx}x{self._ny} nodes has {out_bits} output bits; "
                             f"an instance of it in a tile is limited to 65535 by Amaranth: use "
                             f"narrower router.flit_bits or fewer nodes per die")
        self.stat_names = die.stat_names
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=self._vcs)
        self._cfg_shape = config_shape(kind, node_params)
        ports = kind_ports(kind, fmt, link, sorted(self.coords(), key=lambda c: (c[1], c[0])),
                           self._cfg_shape)
        if boundary == "ports":
            for name, _, _ in self.edge_ports():
                ports[f"in_{name}"] = In(link)
                ports[f"out_{name}"] = Out(link)
        super().__init__(ports)

    # -- geometry -----------------------------------------------------------------

    @property
    def die_module(self):
        return self._die_name

    def dies(self):
        """``(die x, die y)`` of every die, row-major."""
        return [(i, j) for j in range(self._dy) for i in range(self._dx)]

    def die_origin(self, die):
        return die[0] * self._nx, die[1] * self._ny

    def coords(self):
        """Global coordinates of every node, die by die (row-major within a die)."""
        out = []
        for die in self.dies():
            ox, oy = self.die_origin(die)
            out += [(ox + x, oy + y) for x, y in self._die.local_coords()]
        return out

    def edge_ports(self):
        """``(port name, node (x, y), direction)`` of every link leaving the tile."""
        return edge_ports(self._dx * self._nx, self._dy * self._ny)

    def dielink_ends(self):
        """``(sending node, receiving node)`` (global coordinates) of die link ``k``, in
        instance order (``dielink<k>``)."""
        out = []
        for (i, j) in self.dies():
            for direction in ("east", "south"):
                dx, dy, _ = NEIGHBOUR[direction]
                if not (i + dx < self._dx and j + dy < self._dy):
                    continue
                ox, oy = self.die_origin((i, j))
                for k in range(self._ny if direction == "east" else self._nx):
                    if direction == "east":
                        a, b = (ox + self._nx - 1, oy + k), (ox + self._nx, oy + k)
                    else:
                        a, b = (ox + k, oy + self._ny - 1), (ox + k, oy + self._ny)
                    out += [(a, b), (b, a)]
        return out

    def _build_dielink(self):
        common = dict(flit_bits=self._fmt.flit_bits, vcs=self._vcs,
                      ratio=self._dielink["ratio"], latency=self._dielink["latency"],
                      downstream_depth=self._depth, tx_depth=self._depth)
        if "layer" in self._dielink:
            return ReliableDieLinkChannel(**common, **self._dielink["layer"])
        return DieLinkChannel(**common)

    def elaborate(self, platform):
        m = Module()
        cb = self._fmt.coord_bits
        dies = {}
        for die in self.dies():
            ox, oy = self.die_origin(die)
            dies[die] = self._lib.instance(m, self._die_name, lambda: None,
                                           inst_name=f"die_{die[0]}_{die[1]}",
                                           x0=Const(ox, cb), y0=Const(oy, cb))
        link_errors = []
        channels = []
        index = 0
        window = Const(1, 1)
        if "layer" in self._dielink and self._kind == "traffic":
            # the die links' window counters count the cycles the nodes' link counters do:
            # ctrl.mark registered once, as every die's mesh registers ctrl for its nodes
            window = Signal(name="dielink_window", reset_less=True)
            m.d.sync += window.eq(self.ctrl.mark)
        for (i, j), die in dies.items():
            for direction in ("east", "south"):
                dx, dy, opposite = NEIGHBOUR[direction]
                peer = dies.get((i + dx, j + dy))
                if peer is None:
                    continue
                along = self._ny if direction == "east" else self._nx
                for k in range(along):
                    for src, d_out, dst, d_in in ((die, direction, peer, opposite),
                                                  (peer, opposite, die, direction)):
                        ties = ({"index": Const(index, INDEX_BITS), "window": window}
                                if "layer" in self._dielink else {})
                        ch = self._lib.instance(m, "dojo_dielink", self._build_dielink,
                                                inst_name=f"dielink{index}", **ties)
                        index += 1
                        link_errors.append(ch.overflow)
                        channels.append(ch)
                        wiring.connect(m, getattr(src, f"out_edge_{d_out}_{k}"), ch.i)
                        wiring.connect(m, ch.o, getattr(dst, f"in_edge_{d_in}_{k}"))

        gx, gy = self._dx * self._nx, self._dy * self._ny
        for name, (x, y), direction in self.edge_ports():
            die = dies[x // self._nx, y // self._ny]
            k = x % self._nx if direction in ("north", "south") else y % self._ny
            inp, out = getattr(die, f"in_edge_{direction}_{k}"), getattr(die, f"out_edge_{direction}_{k}")
            if self._boundary == "ports":
                wiring.connect(m, wiring.flipped(getattr(self, f"in_{name}")), inp)
                wiring.connect(m, out, wiring.flipped(getattr(self, f"out_{name}")))
            else:
                tie_off(m, inp, out)

        if self._cfg_shape is not None:
            for die in dies.values():       # each die registers it once (Mesh)
                m.d.comb += die.cfg.eq(self.cfg)
        if self._kind == "bare":
            for (i, j), die in dies.items():
                ox, oy = self.die_origin((i, j))
                for x, y in self._die.local_coords():
                    g = f"local_{ox + x}_{oy + y}"
                    wiring.connect(m, wiring.flipped(getattr(self, f"in_{g}")),
                                   getattr(die, f"in_local_{x}_{y}"))
                    wiring.connect(m, getattr(die, f"out_local_{x}_{y}"),
                                   wiring.flipped(getattr(self, f"out_{g}")))
        elif self._kind == "traffic":
            self._elaborate_traffic(m, list(dies.values()),
                                    channels if "layer" in self._dielink else [])
        reduce_outputs(m, self, self._kind, dies.values(), link_errors)
        return m

    def _elaborate_traffic(self, m, dies, channels):
        per_die = self._nx * self._ny
        m.d.comb += self.cycle.eq(dies[0].cycle)     # every die counts from the same reset
        # each die gives the word selected two cycles before; the tile delays which
        # die was asked by as much, so stat_data follows stat_node by two cycles
        which, which_q = Signal(range(len(dies) + 1)), Signal(range(len(dies) + 1))
        m.d.sync += which_q.eq(which)
        for d, die in enumerate(dies):
            base = d * per_die
            m.d.comb += [die.ctrl.eq(self.ctrl), die.stat_index.eq(self.stat_index),
                         die.stat_node.eq((self.stat_node - base)[:16])]
            lower = (self.stat_node >= base) if base else Const(1, 1)   # (no constant compare)
            with m.If(lower & (self.stat_node < base + per_die)):
                m.d.sync += which.eq(d)
        nodes = len(dies) * per_die
        with m.If(self.stat_node >= nodes):
            m.d.sync += which.eq(len(dies))
        extra = Const(0, 32)
        if channels:
            # die link counters: stat_node = nodes + k, two registers as the dies have
            n_st = len(DIELINK_STATS)
            words = Array([ch.stats.word_select(s, 32) for ch in channels for s in range(n_st)]
                          + [Const(0, 32)])
            sel = Signal(range(len(channels) * n_st + 1))
            k = Signal(16)
            m.d.comb += k.eq(self.stat_node - nodes)
            with m.If((self.stat_node >= nodes) & (k < len(channels))
                      & (self.stat_index < n_st)):
                m.d.comb += sel.eq(k * n_st + self.stat_index)
            with m.Else():
                m.d.comb += sel.eq(len(channels) * n_st)
            # select registered, then the word: the counters are sampled in the same cycle
            # as a node's (stat_node registered in the mesh, then the node's stat_data)
            sel_q, extra = Signal.like(sel), Signal(32)
            m.d.sync += [sel_q.eq(sel), extra.eq(words[sel_q])]
        table = Array([die.stat_data for die in dies] + [extra])
        m.d.comb += self.stat_data.eq(table[which_q])
