"""A network node for measured traffic: router + traffic generator + sink + link counters."""

from amaranth import Array, ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from rtl.net.link import LinkSignature
from rtl.net.directions import MESH_PORTS, PORTS
from rtl.net.router import Router
from rtl.net.routing_table import config_layout
from rtl.measure.traffic import TrafficGen, TrafficSink, control_layout

__all__ = ["TrafficNode", "stat_words"]



def stat_words(prefix, view):
    """Flatten a stats view into ``(name, 32-bit value)`` words, wide fields split."""
    out = []
    layout = view.shape() if isinstance(view, data.View) else None
    if isinstance(layout, data.StructLayout):
        for name, _ in layout:
            out += stat_words(f"{prefix}.{name}", view[name])
    elif isinstance(layout, data.ArrayLayout):
        for i in range(layout.length):
            out += stat_words(f"{prefix}[{i}]", view[i])
    else:
        value = view.as_value() if isinstance(view, data.View) else view
        width = len(value)
        if width <= 32:
            out.append((prefix, value))
        else:
            for w in range((width + 31) // 32):
                out.append((f"{prefix}.w{w}", value[32 * w:32 * (w + 1)]))
    return out


class TrafficNode(wiring.Component):
    """Router with a traffic generator on its local input and a sink on its local output.

    Parameters
    ----------
    fmt : PacketFormat
    vcs, buffer_depth, routing :
        Router parameters.
    mesh_x, mesh_y : int
        Global mesh size (destination range of the generator).
    queue_depth, max_packet_flits, histogram_bins, bin_cycles :
        Traffic generator and sink parameters.
    table_shape : (dies_x, dies_y, nodes_x, nodes_y) or None
        The tile; needed with ``routing="table"`` or ``live``. A fifth element
        ``planes`` (= ``vcs``) turns on VC planes (:mod:`gen.routing.planes`): per-VC tables
        in the router, the generator's per-destination VC choice.
    live : bool
        The generator follows the live-node rules (fault maps, see
        :class:`rtl.measure.traffic.TrafficGen`).

    Members
    -------
    x, y : In(coord_bits)
        Global coordinates, tied off by the parent.
    now : In(timestamp_bits)
        Global cycle counter.
    ctrl : In(control_layout)
        Generator runtime registers, shared by every node.
    in_<dir>, out_<dir> : links of the four mesh directions.
    stat_index : In(8)
        Selects ``stat_data``; ``stat_names[i]`` names word ``i``.
    stat_data : Out(32)
        The selected statistics word (combinational).
    marked_generated, marked_received : Out(32)
        Marked packets generated here / delivered here (for the drain condition).
    error : Out(1)
        Any sink error counter non-zero or a router buffer overflow.
    cfg : In(config_layout(coord_bits, table_shape))
        Only in table or live mode: the router's table and the generator's live
        list load port (:mod:`rtl.net.routing_table`).
    """

    def __init__(self, *, fmt, vcs, buffer_depth, routing, mesh_x, mesh_y, queue_depth,
                 max_packet_flits, histogram_bins, bin_cycles, table_shape=None, live=False):
        if (routing == "table" or live) and table_shape is None:
            raise ValueError("routing='table' and live=True need table_shape")
        self._fmt = fmt
        self._table_shape = tuple(table_shape) if table_shape is not None else None
        self._live = bool(live)
        self._p = dict(vcs=vcs, buffer_depth=buffer_depth, routing=routing, mesh_x=mesh_x,
                       mesh_y=mesh_y, queue_depth=queue_depth,
                       max_packet_flits=max_packet_flits, histogram_bins=histogram_bins,
                       bin_cycles=bin_cycles)
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        ports = {"x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
                 "now": In(fmt.timestamp_bits), "ctrl": In(control_layout(fmt.coord_bits)),
                 "stat_index": In(8), "stat_data": Out(32),
                 "marked_generated": Out(32), "marked_received": Out(32), "error": Out(1)}
        for p in MESH_PORTS:
            ports[f"in_{p}"] = In(link)
            ports[f"out_{p}"] = Out(link)
        if routing == "table" or live:
            ports["cfg"] = In(config_layout(fmt.coord_bits, self._table_shape))
        super().__init__(ports)
        self._build()

    def _build(self):
        p, fmt = self._p, self._fmt
        table = {"table_shape": self._table_shape} if p["routing"] == "table" else {}
        live = {"live_shape": self._table_shape} if self._live else {}
        self.router = Router(fmt=fmt, vcs=p["vcs"], buffer_depth=p["buffer_depth"],
                             routing=p["routing"], **table)
        self.gen = TrafficGen(fmt=fmt, vcs=p["vcs"], mesh_x=p["mesh_x"], mesh_y=p["mesh_y"],
                              credits=p["buffer_depth"], queue_depth=p["queue_depth"],
                              max_packet_flits=p["max_packet_flits"], **live)
        self.sink = TrafficSink(fmt=fmt, vcs=p["vcs"], mesh_x=p["mesh_x"], mesh_y=p["mesh_y"],
                                histogram_bins=p["histogram_bins"], bin_cycles=p["bin_cycles"])
        self.flits_out = {port: Signal(32, name=f"flits_out_{port}") for port in PORTS}
        words = (stat_words("gen", self.gen.stats) + stat_words("sink", self.sink.stats)
                 + [(f"link.{port}", sig) for port, sig in self.flits_out.items()]
                 + [("router.overflow", self.router.overflow)])
        if len(words) > 256:
            raise ValueError(f"{len(words)} statistics words do not fit the 8-bit stat_index")
        self._words = words
        self.stat_names = [name for name, _ in words]

    def elaborate(self, platform):
        m = Module()
        # Every register of the node is in a local domain with an *asynchronous*
        # reset driven by the ``sync`` reset. At every clock edge this behaves exactly
        # like the synchronous reset (the reset is held over at least one edge and
        # released between edges), but the next-state logic no longer reads ``rst``:
        # in Verilator nothing then depends combinationally on the top-level reset
        # input, so the whole node's logic is not re-evaluated in the input-combo
        # ("ico") region on every ``eval()`` (about 40 % of the simulation time).
        m.domains.node = cd = ClockDomain("node", async_reset=True, local=True)
        m.d.comb += [cd.clk.eq(ClockSignal("sync")), cd.rst.eq(ResetSignal("sync"))]
        m.submodules.router = router = DomainRenamer("node")(self.router)
        m.submodules.gen = gen = DomainRenamer("node")(self.gen)
        m.submodules.sink = sink = DomainRenamer("node")(self.sink)
        router, gen, sink = self.router, self.gen, self.sink
        for blk in (router, gen, sink):
            m.d.comb += [blk.x.eq(self.x), blk.y.eq(self.y)]
        m.d.comb += [gen.now.eq(self.now), sink.now.eq(self.now), gen.ctrl.eq(self.ctrl)]
        if self._p["routing"] == "table":
            m.d.comb += router.cfg.eq(self.cfg)
        if self._live:
            m.d.comb += gen.cfg.eq(self.cfg)
        wiring.connect(m, gen.o, router.in_local)
        wiring.connect(m, router.out_local, sink.i)
        for port in MESH_PORTS:
            wiring.connect(m, wiring.flipped(getattr(self, f"in_{port}")), getattr(router, f"in_{port}"))
            wiring.connect(m, getattr(router, f"out_{port}"), wiring.flipped(getattr(self, f"out_{port}")))
        # link counters count the measurement window only (``ctrl.mark``), so they are
        # read once the network is idle instead of being sampled around the window
        for port, counter in self.flits_out.items():
            with m.If(getattr(router, f"out_{port}").valid & self.ctrl.mark):
                m.d.node += counter.eq(counter + 1)
        table = Array(value for _, value in self._words)
        with m.If(self.stat_index < len(self._words)):
            m.d.comb += self.stat_data.eq(table[self.stat_index])
        m.d.comb += [
            self.marked_generated.eq(gen.stats.generated_marked),
            self.marked_received.eq(sink.stats.marked_packets),
            self.error.eq((sink.stats.misroutes != 0) | (sink.stats.integrity_errors != 0)
                          | (sink.stats.order_errors != 0) | router.overflow),
        ]
        return m
