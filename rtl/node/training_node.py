"""A training node (DESIGN.md section 6): router + network interface + SRAM + matrix engine."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.node.engine import MatrixEngine
from rtl.net.link import LinkSignature
from rtl.node.ni import NetworkInterface, NodeLayouts
from rtl.net.directions import MESH_PORTS, PORTS
from rtl.node.layouts import COUNTER_NAMES, REG_BITS
from rtl.node.mac import MacMode
from rtl.net.router import Router
from rtl.node.sram import Scratchpad

__all__ = ["TrainingNode", "NodeRow", "NODE_PORT_ROLES"]



class TrainingNode(wiring.Component):
    """Router, network interface, SRAM scratchpad and P x P matrix engine.

    The NI is on the router's local port; the SRAM has three read ports and one
    write port per bank (``sram_banks``): read port 0 serves the NI's request sink
    (client 0), the command processor's descriptor fetch (client 1) and the engine's
    A operand (client 2),
    read port 1 the engine's B operand, read port 2 the NI's DMA (client 0) and the
    engine's C prefetch (client 1), the write ports the NI's request sink (client 0),
    its PULL answers (client 1) and the engine's results (client 2). The DMA's own port is
    Dojo's "one read packet per cycle besides the engine's operands": a PUSH
    streaming out of a buffer never stalls an EXEC on the next one (Cannon's shifts
    overlap its multiplies; with a shared port the engine lost a cycle per line sent).

    Parameters
    ----------
    layouts : NodeLayouts
        Message layouts (packet format, SRAM lines, counters).
    vcs, buffer_depth, routing :
        Router parameters.
    max_packet_flits : int
        Longest packet the NI accepts and sends.
    matrix_p : int
        Size of the MAC array.
    sram_banks : int
        Write banks of the SRAM (:class:`rtl.node.sram.Scratchpad`).
    mesh_x, mesh_y : int
        Global mesh size.

    Members
    -------
    x, y : In(coord_bits)
        Global coordinates, tied off by the parent.
    in_<dir>, out_<dir> : links of the four mesh directions (``north``,
        ``east``, ``south``, ``west``), see :class:`rtl.net.router.Router`.
    errors : Out(32)
        Malformed requests dropped by the NI.
    busy : Out(1)
        The engine or the DMA is busy.

    The node counts its events for the energy model (flits out of each router port, SRAM
    line reads and writes, array steps per dtype: :data:`rtl.node.layouts.COUNTER_NAMES`)
    in 32-bit registers at the end of its register space, read like any other.
    overflow : Out(1)
        A router or NI buffer overflowed (a credit-protocol violation).
    """

    def __init__(self, *, layouts, vcs, buffer_depth, routing, max_packet_flits, matrix_p,
                 mesh_x, mesh_y, sram_banks=1):
        self._lay = layouts
        fmt = layouts.fmt
        self._engine = MatrixEngine(layouts=layouts, p=matrix_p)     # validates P first
        self._ni = NetworkInterface(layouts=layouts, vcs=vcs, credits=buffer_depth,
                                    max_packet_flits=max_packet_flits, mesh_x=mesh_x,
                                    mesh_y=mesh_y)
        # port 0 has three clients: fetches of the command processor rank above the
        # engine, which stalls for them as it does for the NI; port 2 serves the DMA and,
        # in the cycles it leaves free, the engine's C0 prefetch
        self._sram = Scratchpad(lines=layouts.lines, width=fmt.flit_bits, read_ports=3,
                                read_clients=3, write_clients=3, banks=sram_banks)
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        ports = {"x": In(fmt.coord_bits), "y": In(fmt.coord_bits)}
        for p in MESH_PORTS:
            ports[f"in_{p}"] = In(link)
            ports[f"out_{p}"] = Out(link)
        ports.update({"errors": Out(32), "busy": Out(1), "overflow": Out(1)})
        super().__init__(ports)
        self._params = dict(vcs=vcs, buffer_depth=buffer_depth, routing=routing,
                            max_packet_flits=max_packet_flits, matrix_p=matrix_p,
                            mesh_x=mesh_x, mesh_y=mesh_y)

    layouts = property(lambda self: self._lay)
    ni = property(lambda self: self._ni)
    engine = property(lambda self: self._engine)
    sram = property(lambda self: self._sram)

    def elaborate(self, platform):
        m = Module()
        p = self._params
        # the NI's deeper store-and-forward buffer hands out credits as if it had
        # ``buffer_depth`` slots, like every other downstream of the router
        m.submodules.router = router = Router(
            fmt=self._lay.fmt, vcs=p["vcs"], buffer_depth=p["buffer_depth"],
            routing=p["routing"])
        m.submodules.ni = ni = self._ni
        m.submodules.sram = sram = self._sram
        m.submodules.engine = eng = self._engine
        m.d.comb += [router.x.eq(self.x), router.y.eq(self.y), ni.x.eq(self.x), ni.y.eq(self.y)]
        wiring.connect(m, ni.o, router.in_local)
        wiring.connect(m, router.out_local, ni.i)
        for port in MESH_PORTS:
            wiring.connect(m, wiring.flipped(getattr(self, f"in_{port}")),
                           getattr(router, f"in_{port}"))
            wiring.connect(m, getattr(router, f"out_{port}"),
                           wiring.flipped(getattr(self, f"out_{port}")))
        wiring.connect(m, ni.sram_rx, sram.read[0][0])
        wiring.connect(m, ni.sram_cmd, sram.read[0][1])
        wiring.connect(m, eng.rd_a, sram.read[0][2])
        wiring.connect(m, eng.rd_b, sram.read[1][0])
        wiring.connect(m, ni.sram_dma, sram.read[2][0])
        wiring.connect(m, eng.rd_c, sram.read[2][1])
        wiring.connect(m, ni.sram_wr, sram.write[0])
        wiring.connect(m, ni.sram_pull, sram.write[1])
        wiring.connect(m, eng.wr, sram.write[2])
        m.d.comb += [eng.desc.eq(ni.exec_desc), ni.exec_ok.eq(eng.desc_ok),
                     eng.start.eq(ni.exec_start), ni.exec_busy.eq(eng.busy),
                     ni.exec_done.eq(eng.done), ni.exec_cycles.eq(eng.cycles),
                     ni.exec_steps.eq(eng.steps),
                     ni.counters.eq(self._counters(m, router, sram, eng)),
                     self.errors.eq(ni.errors),
                     self.busy.eq(ni.status[0] | ni.status[1]),
                     self.overflow.eq(router.overflow | ni.status[2])]
        return m

    def _counters(self, m, router, sram, eng):
        """The event counters of :data:`rtl.node.layouts.COUNTER_NAMES`, in that order:
        what the energy model prices, counted where it happens (32 bits, wrapping)."""
        reads = [c.en & c.grant for port in sram.read for c in port]
        writes = [c.en & c.grant for c in sram.write]
        incs = ([getattr(router, f"out_{p}").valid for p in PORTS]
                + [sum(reads), sum(writes), eng.step & (eng.mode == MacMode.BF16),
                   eng.step & (eng.mode == MacMode.INT8)])
        assert len(incs) == len(COUNTER_NAMES)
        counters = [Signal(REG_BITS, name=f"count_{n}") for n in COUNTER_NAMES]
        for counter, inc in zip(counters, incs):
            m.d.sync += counter.eq(counter + inc)
        return Cat(counters)


#: what the reduced outputs of training nodes are for (a row, a mesh, a tile of them)
NODE_PORT_ROLES = {"errors": "malformed requests dropped (sum over nodes)",
                   "busy": "any engine or DMA busy",
                   "overflow": Router.PORT_ROLES["overflow"]}


class NodeRow(wiring.Component):
    """``nodes`` compute nodes in a row, the west port of the first one exposed.

    A test or host model acts as the node at ``(x0 - 1, y)``: it drives
    ``in_west`` as a neighbouring router would (credits = the router's buffer
    depth) and receives responses on ``out_west``. Node ``i`` sits at
    ``(x0 + i, y)``; neighbours are joined east-west; every other port is tied
    off (nothing routes there: hosts must address nodes of the row only).

    Parameters
    ----------
    lib : gen.emit.ModuleLibrary
        The compute node is emitted once (module ``name``) and instantiated.
    name : str
        Module name of the compute node.
    build : callable
        Returns the :class:`TrainingNode` (called once by the library).
    fmt : PacketFormat
    vcs : int
    nodes : int
        Nodes in the row (1 or more).
    x0, y : int
        Coordinates of the first node.

    Members
    -------
    in_west, out_west : links of the first node's west port.
    errors : Out(32)
        Malformed requests dropped, summed over the nodes.
    busy : Out(1)
        Any engine or DMA busy.
    overflow : Out(1)
        Any buffer overflow (credit-protocol violation).
    """

    PORT_ROLES = NODE_PORT_ROLES

    def __init__(self, *, lib, name, build, fmt, vcs, nodes, x0=1, y=0):
        if not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"nodes must be a positive integer, not {nodes!r}")
        if x0 + nodes - 1 >= 1 << fmt.coord_bits:
            raise ValueError(f"a row of {nodes} nodes from x={x0} needs more than "
                             f"{fmt.coord_bits}-bit coordinates")
        self._lib, self._name, self._build = lib, name, build
        self._fmt, self._nodes, self._x0, self._y = fmt, nodes, x0, y
        lib.add(name, build)
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        super().__init__({"in_west": In(link), "out_west": Out(link), "errors": Out(32),
                          "busy": Out(1), "overflow": Out(1)})

    def coords(self):
        return [(self._x0 + i, self._y) for i in range(self._nodes)]

    def elaborate(self, platform):
        from amaranth.hdl import Const
        m = Module()
        cb = self._fmt.coord_bits
        nodes = [self._lib.instance(m, self._name, self._build, inst_name=f"node_{x}_{y}",
                                    x=Const(x, cb), y=Const(y, cb))
                 for x, y in self.coords()]
        wiring.connect(m, wiring.flipped(self.in_west), nodes[0].in_west)
        wiring.connect(m, nodes[0].out_west, wiring.flipped(self.out_west))
        for a, b in zip(nodes, nodes[1:]):
            wiring.connect(m, a.out_east, b.in_west)
            wiring.connect(m, b.out_west, a.in_east)
        for i, node in enumerate(nodes):
            tied = ["north", "south"] + (["east"] if i == len(nodes) - 1 else [])
            for d in tied:
                inp, out = getattr(node, f"in_{d}"), getattr(node, f"out_{d}")
                m.d.comb += [inp.valid.eq(0), inp.last.eq(0), inp.vc.eq(0), inp.data.eq(0),
                             out.credit.eq(0)]
        errors = Const(0, 32)
        for node in nodes:
            errors = (errors + node.errors)[:32]
        m.d.comb += [self.errors.eq(errors),
                     self.busy.eq(Cat(n.busy for n in nodes).any()),
                     self.overflow.eq(Cat(n.overflow for n in nodes).any())]
        return m
