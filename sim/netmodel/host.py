"""The hosts at the tile edge in the fast engine: verif/host.py's hosts on the kernel's rings.

A :class:`Host` is :class:`verif.host.Host` itself (its tags, requests, awaited
responses and DONEs, :mod:`verif.node_model`'s packets) on a :class:`RingPort` instead of
a cocotb link driver and monitor: the port reads the router's tile-edge output ring and
writes the router's edge input ring (``NetworkModel(edge_rings=True)``), with
:mod:`verif.link`'s timing, cycle for cycle:

* per cycle ``c`` (the RTL testbench's ``LinkBench.cycle``: the falling edge inside the
  kernel's cycle ``c``), every host's monitor, then every host's driver, then the
  coroutines their packets woke, as cocotb runs them (:class:`Loop`);
* the monitor takes the router's output register of cycle ``c`` (flit ring, tag ``c``) and
  returns a credit for it in the same cycle (credit ring ``6 n + o``, tag ``c``: the host
  never stalls, as :mod:`verif.tb_tile`'s node-program hosts);
* the driver reads the router's credit register of cycle ``c`` for its input (the edge
  ring's credit ring), starts the next queued packet when idle, sends a flit on a VC with
  a credit (ring ``6 n + p``, tag ``c``: the router reads it in its step ``c``) and adds the
  credits it read after that decision (usable from cycle ``c + 1``, as the LinkDriver's).

Flits of at most 64 bits (the node kernel's: ``w0`` = the head's destination, ``last``
and ``vc``, ``w1`` the flit), or, on a timing-only tile, wider ones as their control slices
(:class:`RingPort`'s ``control_bits``: bits 64 and up in ``w0``, as the node kernel carries
a timing-only core's flits): the hosts then send and receive no data value, and what they
read back is the control slice of each line (its payload bits zero), which the workloads'
records leave out (:func:`sim.workloads.runners.record_engine`). Held to the RTL at 128-bit
flits by ``tests/sim/netmodel/test_node_tile_wide.py``.

:class:`Tile` runs a coroutine of the hosts (the :mod:`verif.host_programs` steps, the
same code the RTL testbench awaits) against a :class:`sim.netmodel.nodekernel.NodeKernel`.
The coroutines act only when a packet reaches a host, so the hosts' link ends (their
queues of flits, :class:`EdgeLinks`) are stepped with the kernel in compiled code,
:func:`sim.netmodel.edge.advance`, from one such cycle to the next; only then do the
coroutines run, in Python, building and decoding packets from
:class:`verif.node_model.NodeModel`'s layouts as the RTL testbench's do (by the code
:class:`sim.netmodel.host_codec.HostModel` generates from them: this part runs per packet
a host receives). A watched tile (``watch``, the link-trace tests) takes the same path one
cycle per call.
"""

import collections

import numpy as np

from sim.netmodel import kernel
from sim.netmodel.host_codec import HostModel
from verif.host import Host as _ProtocolHost
from verif.host import host_address, host_ports, host_reaches
from verif.link import Packet

__all__ = ["Loop", "Event", "EdgeLinks", "RingPort", "Host", "Tile", "model_problem", "tile_model",
           "HOST_MUTANTS", "run_scenario", "RUN_CYCLES", "direct_counters", "READ_MUTANTS"]

#: the cycles a workload run may take before it is called stuck (the RTL testbench's hosts
#: give up a wait after 400000 cycles; a whole run is several waits long)
RUN_CYCLES = 4_000_000

_M64 = (1 << 64) - 1

#: the SRAM pages the node kernel's page pool is grown by, at most, before the hosts' link
#: ends and the kernel run several cycles in one call (:meth:`Tile._edge_until`): at D1
#: tile scale a cycle may write a page per node and write port (27075 on the 5x5 tile),
#: and a call of one cycle returns to Python every cycle (a 3x3 D1 tile's 2D all-reduce:
#: 98.9 s CPU at 16384 pages, 87.4 s at 2^18, peak memory 0.37 -> 0.61 GB)
EDGE_PAGES = 1 << 18

#: deliberately wrong hosts (tests only): ``high_bits_dropped`` sends a timing-only flit's
#: control bits 64 and up as zeros
HOST_MUTANTS = ("none", "high_bits_dropped")


class Event:
    """cocotb's ``Event`` for :class:`Loop`'s coroutines: ``await event`` until ``set()``."""

    __slots__ = ("loop", "fired", "waiters")

    def __init__(self, loop):
        self.loop, self.fired, self.waiters = loop, False, []

    def set(self):
        self.fired = True
        self.loop.ready.extend(self.waiters)        # resumed in the order they were woken
        self.waiters.clear()

    def __await__(self):
        if not self.fired:
            yield self


class _Task:
    __slots__ = ("coro", "loop", "done", "result", "callbacks")

    def __init__(self, coro, loop):
        self.coro, self.loop, self.done, self.result, self.callbacks = coro, loop, False, None, []

    def step(self):
        try:
            event = self.coro.send(None)
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            for callback in self.callbacks:
                callback()
            return
        event.waiters.append(self)


class Loop:
    """The coroutines of the hosts, run as cocotb runs them within one time step: a woken
    coroutine after the bench's step of the cycle, in the order woken; ``gather``'s
    coroutines started before any other scheduled one, in their order."""

    def __init__(self):
        self.ready = collections.deque()

    def spawn(self, coro):
        task = _Task(coro, self)
        self.ready.append(task)
        return task

    def run_ready(self):
        while self.ready:
            self.ready.popleft().step()

    async def gather(self, *coros):
        tasks = [_Task(c, self) for c in coros]
        if not tasks:
            return ()
        complete = Event(self)
        left = [len(tasks)]

        def one_done():
            left[0] -= 1
            if not left[0]:
                complete.set()

        for task in tasks:
            task.callbacks.append(one_done)
        self.ready.extendleft(reversed(tasks))
        await complete
        return tuple(t.result for t in tasks)


class EdgeLinks:
    """The hosts' link ends of a tile, as the arrays :func:`sim.netmodel.edge.advance`
    steps (one row per :class:`RingPort`, in the order the ports were added): rings,
    credits, the monitors' held credits, the drivers' queues of flits (ring words), and the
    records of received flits."""

    def __init__(self, net, *, vcs, depth):
        from sim.netmodel.edge import REC_CAP
        self.net, self.vcs, self.depth = net, vcs, depth
        self.ports = []
        self.rec = np.zeros((REC_CAP, 4), np.int64)
        self.version = 0        # bumped when an array is replaced (the Tile binds them anew)
        self._rows(0, 64)

    def _rows(self, hosts, cap):
        i64 = np.int64
        self.edge, self.into, self.node = (np.zeros(hosts, i64) for _ in range(3))
        self.credits = np.full((hosts, self.vcs), self.depth, i64)
        self.held = np.zeros((hosts, self.vcs), i64)
        self.qw0, self.qw1 = np.zeros((hosts, cap), i64), np.zeros((hosts, cap), i64)
        self.qhead, self.qtail = np.zeros(hosts, i64), np.zeros(hosts, i64)
        self.dropped = np.zeros(hosts, i64)     # flits sent before the queue was compacted
        self._replaced()

    def _replaced(self):
        """After an array was replaced: the Tile binds them anew (:attr:`version`), and the
        queues' flat views are made again (an element set or read through a memoryview
        costs a fraction of numpy's indexing, paid per packet sent)."""
        self.version += 1
        self._flat_w0, self._flat_w1 = (memoryview(q.reshape(-1)) for q in (self.qw0, self.qw1))
        self._tail, self._dropped = memoryview(self.qtail), memoryview(self.dropped)

    def add(self, port):
        """A new row for ``port`` (before any flit is queued); -> its index."""
        if self.qtail.any():
            raise RuntimeError("a port is added before any flit is queued")
        self.ports.append(port)
        h = len(self.ports)
        old = (self.edge, self.into, self.node)
        self._rows(h, self.qw0.shape[1])
        for new, was in zip((self.edge, self.into, self.node), old):
            new[:h - 1] = was
        self.edge[h - 1], self.into[h - 1], self.node[h - 1] = port.edge, port.into, port.n
        return h - 1

    def enqueue(self, h, w0, w1):
        """Append flits (ring words ``w0``, ``w1``) to row ``h``'s queue; -> the flits
        queued on it so far (sent ones included)."""
        n, tail, cap = len(w0), self._tail[h], self.qw0.shape[1]
        if tail + n > cap:
            live = self.qtail - self.qhead          # drop the flits sent, then grow if full
            need = int(max(live.max(), live[h] + n))
            cap = max(self.qw0.shape[1], 2 * need)
            qw0, qw1 = np.zeros((len(live), cap), np.int64), np.zeros((len(live), cap), np.int64)
            for r in range(len(live)):
                qw0[r, :live[r]] = self.qw0[r, self.qhead[r]:self.qtail[r]]
                qw1[r, :live[r]] = self.qw1[r, self.qhead[r]:self.qtail[r]]
            self.dropped += self.qhead
            self.qw0, self.qw1, self.qhead, self.qtail = qw0, qw1, self.qhead * 0, live
            self._replaced()
            tail = int(live[h])
        at = h * cap + tail
        flat_w0, flat_w1 = self._flat_w0, self._flat_w1
        for i in range(n):
            flat_w0[at + i] = w0[i]
            flat_w1[at + i] = w1[i]
        self._tail[h] = tail + n
        return self._dropped[h] + tail + n

    def deliver(self, filled):
        """Hand the first ``filled`` records (received flits) to their ports, in order."""
        ports = self.ports
        for h, w0, w1, c in self.rec[:filled].tolist():      # edge.REC_* order
            ports[h].received(w0, w1, c)


class RingPort:
    """A host's end of one tile-edge link: :class:`verif.link.LinkDriver` and
    :class:`~verif.link.LinkMonitor` (no idles, no stalls) on the kernel's rings, stepped by
    :func:`sim.netmodel.edge.advance` (its row of ``links``).

    Parameters
    ----------
    net : NetworkModel
        With ``edge_rings=True``.
    links : EdgeLinks
        The tile's host link ends; this port adds its row.
    node : (int, int)
        The router at the edge; ``direction`` its side the host is on.
    coord_bits : int
        The packet format's (where a head's destination is).
    on_packet : callable
        Called with every received :class:`verif.link.Packet` (``received``: its tail's cycle).
    control_bits : int or None
        A timing-only tile's (:func:`sim.netmodel.node.fields.control_bits`): every flit
        sent is cut to its control slice, bits ``0 .. control_bits - 1``, and bits 64 and up
        of it ride in ``w0`` from :data:`sim.netmodel.nodekernel.W0_HIGH`, as the node
        kernel carries a timing-only core's flits; a received flit is rebuilt from the same
        bits (the rest of it is zero: no data value). ``None``: flits of at most 64 bits,
        whole.
    """

    def __init__(self, net, links, node, direction, *, coord_bits, on_packet,
                 control_bits=None, mutant="none"):
        from sim.netmodel.nodekernel import W0_HIGH, W0_HIGH_BITS
        from rtl.net.directions import PORTS
        self.net, self.links, self.vcs = net, links, links.vcs
        self.n = net.node(*node)
        p = PORTS.index(direction)
        self.edge = net.edge_ring[(*node, direction)]   # its output's flits, its input's credits
        self.into = 6 * self.n + p                      # the router's input ring, output credits
        self.mask = (1 << coord_bits) - 1
        self.cb = coord_bits
        self.partial = [[] for _ in range(self.vcs)]
        self.on_packet = on_packet
        self.cmask = None if control_bits is None else (1 << control_bits) - 1
        self.wide = control_bits is not None and control_bits > 64
        if self.wide and control_bits > 64 + W0_HIGH_BITS:
            raise ValueError(f"control_bits={control_bits}: a ring carries at most "
                             f"{64 + W0_HIGH_BITS} bits of a flit")
        self.high_at, self.high_mask = W0_HIGH, (1 << W0_HIGH_BITS) - 1
        if mutant not in HOST_MUTANTS:
            raise ValueError(f"mutant must be one of {', '.join(HOST_MUTANTS)}, not {mutant!r}")
        self.drop_high = mutant == "high_bits_dropped"
        self.row = links.add(self)
        self._tails = collections.deque()       # queue index past each queued packet's tail

    def send(self, packet):
        """Queue ``packet``'s flits (:meth:`send_flits`)."""
        self.send_flits(packet.flits, packet.vc)

    def send_flits(self, flits, vc):
        """Queue a packet of ``flits`` on ``vc`` as the ring words the driver writes: ``w0``
        its destination, high control bits, ``last`` and VC; ``w1`` the flit (bits 0..63)."""
        head = flits[0]
        word = (head & self.mask) | ((head >> self.cb) & self.mask) << 12 | vc << 58
        if self.cmask is None:
            w0 = [word] * len(flits)
            w1 = [data - (data >> 63 << 64) for data in flits]
        else:
            w0, w1 = [], []
            for data in flits:
                data &= self.cmask
                high, data = (0 if self.drop_high else data >> 64), data & _M64
                w0.append(word | high << self.high_at)
                w1.append(data - (data >> 63 << 64))
        w0[-1] |= 1 << 57                               # last
        self._tails.append(self.links.enqueue(self.row, w0, w1))

    @property
    def queued(self):
        """Packets not yet sent whole."""
        head = int(self.links.dropped[self.row] + self.links.qhead[self.row])
        while self._tails and self._tails[0] <= head:
            self._tails.popleft()
        return len(self._tails)

    @property
    def busy(self):
        return self.queued > 0

    def received(self, w0, w1, c):
        """The router's output flit of cycle ``c`` (its ring words), as the monitor saw it."""
        w1 &= _M64
        if self.wide:
            w1 |= ((w0 >> self.high_at) & self.high_mask) << 64
        vc = (w0 >> 58) & 7
        self.partial[vc].append(w1)
        if (w0 >> 57) & 1:
            pkt = Packet(self.partial[vc], vc)
            pkt.received = c
            self.partial[vc] = []
            self.on_packet(pkt)


class Host(_ProtocolHost):
    """:class:`verif.host.Host` on a :class:`RingPort`: the same requests, tags and DONEs."""

    def __init__(self, loop, net, links, model, *, address, node, direction, coord_bits,
                 reaches=None, control_bits=None, mutant="none"):
        self.loop = loop
        port = RingPort(net, links, node, direction, coord_bits=coord_bits,
                        on_packet=self._on_packet, control_bits=control_bits, mutant=mutant)
        self.port = port
        self._attach(model, address, reaches, port)

    def _event(self):
        return Event(self.loop)

    def send(self, packets):
        """:meth:`verif.host.Host.send` (the packets queued on the request VC) without a
        :class:`verif.link.Packet` per packet (this runs per request); a node this host
        cannot reach is refused by verif.host's own ``send``."""
        reaches, dst_of, port = self.reaches, self.model.dst_of, self.port
        try:
            for p in packets:
                if not reaches(dst_of(p[0])):
                    return super().send(packets)
        except ValueError:              # an undefined field: raised where verif.host raises
            return super().send(packets)
        vc = self.model.req_vc
        for p in packets:
            port.send_flits(p, vc)

    async def _until(self, event, timeout_cycles):
        await event          # the run's cycle limit (Tile.run) stands for the timeout


class Tile:
    """The hosts of a tile on a node kernel: ``tb`` for :mod:`verif.host_programs`.

    Parameters
    ----------
    nodes : NodeKernel
        Its network built with ``edge_rings=True``.
    manifest : dict
        The RTL design's manifest (``gen.build.network_design(cfg, kind="compute",
        top="tile", boundary="ports")``): its host ports, as :class:`verif.tb_tile.TileTB`
        attaches its hosts.
    model : NodeModel
        The hosts' (:func:`tile_model` gives a :class:`~sim.netmodel.host_codec.HostModel`).
    watch : callable or None
        ``watch(cycle)`` after the hosts' part of every cycle (before the kernel's step):
        the rings then hold every link register of the cycle.
    """

    def __init__(self, nodes, manifest, model, *, watch=None, host_mutant="none"):
        self.nodes_kernel, self.net = nodes, nodes.net
        self.man, self.model = manifest, model
        self.nodes = [tuple(c) for c in manifest["nodes"]]
        self.loop = Loop()
        self.gather = self.loop.gather
        self.watch = watch
        edge = {name: (tuple(node), direction) for name, node, direction
                in manifest["edge_ports"]}
        n = manifest["node"]
        cores = nodes.cores
        # a timing-only tile of flits wider than 64 bits: the hosts send and read control
        # slices (RingPort's control_bits)
        wide = cores.timing_only and manifest["format"]["flit_bits"] > 64
        self.hosts = []
        self.links = EdgeLinks(self.net, vcs=n["vcs"], depth=n["buffer_depth"])
        for p in host_ports(manifest):
            address = host_address(manifest, p)
            node, direction = edge[p]
            self.hosts.append(Host(self.loop, self.net, self.links, model, address=address,
                                   node=node, direction=direction,
                                   coord_bits=manifest["format"]["coord_bits"],
                                   reaches=host_reaches(manifest, address),
                                   control_bits=cores.control_bits if wide else None,
                                   mutant=host_mutant))
        self.cycle = 0
        self._bound = self._bound_key = None    # edge.advance's arguments (_edge_until)
        # imported here, once: the hosts' part of a cycle runs per packet a host receives
        from sim.netmodel.edge import TWO_CREDITS, advance, bind
        from sim.netmodel.node.sram import POOL_OVERFLOWS
        self._advance, self._bind, self._two_credits = advance, bind, TWO_CREDITS
        self._overflows = POOL_OVERFLOWS
        s = cores.sram
        # the most cycles one edge.advance call may step (_edge_until), and the SRAM pages
        # its cycles may claim
        self._pages_per_cycle = s.nodes * s.wr_en.shape[1] if s.data else 0
        self._chunk = max(1, EDGE_PAGES // self._pages_per_cycle) if s.data else 1 << 20

    def host_for(self, node):
        for h in self.hosts:
            if h.reaches(node):
                return h
        raise ValueError(f"no host on this tile edge reaches node {node}")

    def run(self, coro, *, cycles):
        """Run ``coro`` (a coroutine of the hosts) from reset to its end, the tile stepped
        with it; returns its result. Cycle 0 is the reset's (the RTL testbench starts its
        coroutine there and its bench at cycle 1). Raises TimeoutError if it has not ended
        within ``cycles`` cycles (:attr:`cycle` is then the last cycle run)."""
        main = self.loop.spawn(coro)
        self.loop.run_ready()
        # self.watch is read every cycle: a recorder starts and stops watching mid-run
        # (sim/step/records.py, at the step's first start write and last DONE)
        chunk, run_ready = self._chunk, self.loop.run_ready
        self.nodes_kernel.run(1)
        stepped = True      # the kernel's step of the last cycle whose hosts' part ran
        while not main.done:
            c = self.cycle = self.net.t + (not stepped)
            if c >= cycles:
                if not stepped:
                    self.nodes_kernel.run(1)
                raise TimeoutError(f"the hosts' coroutine did not end within {cycles} cycles")
            # the hosts' link ends and the kernel up to the next packet a host receives
            # (every cycle when watched: the watch sees each cycle's rings); that cycle's
            # kernel step is left to the next call (one call fewer per packet)
            c = self.cycle = self._edge_until(c + 1 if self.watch is not None
                                              else min(cycles, c + chunk),
                                              step_first=not stepped)
            stepped = False
            run_ready()
            if self.watch is not None:
                self.watch(c)
        if not stepped:
            self.nodes_kernel.run(1)
        return main.result

    def _edge_until(self, stop, *, step_first):
        """The hosts' link ends from cycle :attr:`net.t` on (``step_first``: after the
        kernel's step of that cycle, from the next), each cycle's kernel step after them,
        until a host receives a packet's tail or cycle ``stop - 1``; the flits received
        handed to the hosts (their coroutines not run). -> the last cycle whose hosts' part
        ran (its kernel step not run)."""
        nk, net, links = self.nodes_kernel, self.net, self.links
        cores = nk.cores
        sram = cores.sram
        if self._pages_per_cycle and len(sram.pool) < sram.table.size:  # else all there
            sram.reserve(self._pages_per_cycle * (stop - net.t))
        # the arguments bound once, again when an array was replaced (the Bound holds
        # them, so an id is not reused while it lives) or a switch changed
        key = (links.version, id(sram.pool), cores.mutant, nk.mutant, nk.idle_shortcut)
        if self._bound_key != key:
            self._bound, self._bound_key = self._bind(links, net, nk, cores), key
            self._call = self._entry(self._bound)
        t, filled = self._call(net.t, stop, step_first, self._bound)
        net.t = t
        # what cores.check() raises on, tested first (this runs per packet a host receives;
        # only a timing-only core counts uncomputed lines)
        if sram.used[self._overflows] or cores.timing_only and cores.uncomputed.any():
            cores.check()
        if filled == self._two_credits:
            raise AssertionError("the credit ring holds one VC a cycle")
        links.deliver(filled)
        return t

    def _entry(self, bound):
        """:func:`sim.netmodel.edge.advance` compiled for ``bound``'s type, called
        without the dispatcher's look-up of its arguments' types (about a third of a call's
        cost, paid per packet a host receives); the same compiled code (numba's cache
        loads it, or compiles it, here)."""
        from numba import typeof, types
        return self._advance.compile((types.int64, types.int64, types.boolean, typeof(bound)))

    def problems(self):
        out = [f"{h.address}: unexpected packet {d}" for h in self.hosts for d in h.unexpected[:5]]
        out += [f"{h.address}: partial packet left on VC {v}" for h in self.hosts
                for v, part in enumerate(h.port.partial) if part]
        out += [f"{h.address}: stuck with {h.port.queued} queued" for h in self.hosts
                if h.port.busy]
        return out


def model_problem(cfg, derived, *, timing_only=False):
    """Why the fast engine's compute tile (:func:`tile_model`) cannot run ``cfg`` yet, as
    one line naming the key, its value and what is allowed; ``None`` when it can.
    ``timing_only``: the run keeps no data values (flits wider than 64 bits are then
    carried as their control slices, :data:`WIDE_TIMING_ONLY`)."""
    from gen.faults import fault_map
    flit = cfg.router.flit_bits
    if flit > 64 and not timing_only:
        return (f"router.flit_bits: {flit} is not modelled by --engine model on training "
                f"nodes with data values (its hosts and data-carrying cores hold flits of at "
                f"most 64 bits); "
                f"allowed: at most 64, or --timing-only, or --engine rtl")
    # disabled nodes are modelled as the RTL has them (whole nodes no workload gives work,
    # gen.build.network_design); dead routers and routing tables are not
    fmap = fault_map(cfg, derived)
    if fmap.dead_routers or cfg.router.routing == "table":
        return (f"die.disabled_nodes/dead_routers: a fault map ({len(fmap.disabled_nodes)} "
                f"disabled nodes, {len(fmap.dead_routers)} dead routers, router.routing "
                f"{cfg.router.routing}) is not modelled by --engine model on training nodes "
                f"(the node kernel steps a core on every router and has no routing tables "
                f"or VC planes); allowed: disabled nodes only, with xy or yx routing, or "
                f"--engine rtl")
    stages = derived.link.pipeline_stages
    if stages:
        return (f"node.pitch_mm: {cfg.node.pitch_mm} gives {stages} link pipeline stage(s), "
                f"not modelled by --engine model at the tile edge's hosts; allowed: a pitch "
                f"within one cycle's reach (0 stages), or --engine rtl")
    return None


def tile_model(design, cfg, derived, *, watch=None, timing_only=False, net_mutant="none",
               nk_mutant="none", host_mutant="none", idle_shortcut=True, **core_mutants):
    """The fast engine's compute tile of ``design`` (``gen.build.network_design(cfg,
    kind="compute", top="tile", boundary="ports")``): the network with edge rings, a
    training node's core on every router (``timing_only``: without data values,
    :class:`sim.netmodel.node.core.NodeCores`), the node kernel, and the hosts; a
    :class:`Tile`. The mutants are the network's, the node kernel's, the hosts'
    (:data:`HOST_MUTANTS`) and the core's (tests only); ``idle_shortcut`` False steps every
    core every cycle (tests only: the shortcut held to the stepped run). A disabled node of
    the fault map keeps its core, as the RTL keeps the whole node (its compute fused off
    means only that no workload gives it work or data)."""
    from gen.node_build import compute_params
    from sim.netmodel.network import NetworkModel
    from sim.netmodel.node.core import NodeCores
    from sim.netmodel.nodekernel import NodeKernel
    problem = model_problem(cfg, derived, timing_only=timing_only)
    if problem:
        raise ValueError(problem)
    man = design.manifest()
    lay, params, _ = compute_params(cfg, derived)
    net = NetworkModel(cfg, derived, edge_rings=True, mutant=net_mutant)
    cores = NodeCores(nodes=net.n_nodes, layouts=lay, timing_only=timing_only,
                      **{k: v for k, v in params.items() if k != "routing"}, **core_mutants)
    disabled = [net.node(x, y) for x, y in net.fault_map.disabled_nodes]
    nodes = NodeKernel(net, cores, range(net.n_nodes), coord_bits=lay.fmt.coord_bits,
                       mutant=nk_mutant, idle_shortcut=idle_shortcut, disabled=disabled)
    node = man["node"]
    # the cores' layouts serve the hosts too when the manifest describes the same node
    same = (lay.fmt.flit_bits, lay.fmt.coord_bits, lay.fmt.timestamp_bits, lay.lines,
            lay.sems) == (man["format"]["flit_bits"], man["format"]["coord_bits"],
                          man["format"]["timestamp_bits"], node["lines"], node["sems"])
    model = (HostModel(fmt=lay.fmt, lines=node["lines"], vcs=node["vcs"],
                       max_packet_flits=node["max_packet_flits"], matrix_p=node["matrix_p"],
                       sems=node["sems"], layouts=lay)
             if same else HostModel.from_manifest(man))
    return Tile(nodes, man, model, watch=watch, host_mutant=host_mutant)


def preload(tile, loads):
    """Write ``loads`` (``[node, addr, lines]``, a ``programs`` scenario's) straight into
    the SRAM of a timing-only tile's cores, each line as the hosts' WRITEs would land it
    (its control slice: the whole flit at 64-bit flits, else the bits a host sends,
    :class:`RingPort`'s ``control_bits``); a zero line is not written (a line never written
    reads as zero, and its page stays unallocated)."""
    cores = tile.nodes_kernel.cores
    if not cores.timing_only:
        raise ValueError("preload: only a timing-only tile is loaded without packets")
    wide = tile.man["format"]["flit_bits"] > 64
    mask = (1 << (cores.control_bits if wide else 64)) - 1
    for node, addr, lines in loads:
        kept = [(addr + i, value & mask) for i, value in enumerate(lines) if value & mask]
        if kept:
            addrs, values = zip(*kept)
            cores.sram.write_lines(tile.net.node(*node), addrs, values)


#: deliberately wrong direct reads (tests only): ``first_node_writes_dropped`` reads the
#: first node's ``sram_writes`` as 0
READ_MUTANTS = ("none", "first_node_writes_dropped")


def direct_counters(tile, *, mutant="none"):
    """Every node's event counters read straight from the model's state, no packet sent:
    ``{"x,y": {name: value}}`` of :data:`rtl.node.layouts.COUNTER_NAMES`, what the node's
    counter registers hold after the last cycle run (the cores' ``counters`` and the
    ``router_flits`` the node kernel keeps two cycles late, as the RTL's registers add
    them), the form :func:`verif.host_programs.read_counters` gives; and, with the
    die-link layer, ``dielink``: ``{stat: [value per die link]}`` of its counters, which on a
    compute tile count every cycle from reset (``rtl.fabric.tile``: no measurement window
    there; held to the RTL's by ``tests/sim/test_energy_dielinks.py``), else None."""
    from rtl.node.layouts import COUNTER_NAMES
    from rtl.net.directions import PORTS
    from sim.netmodel.node.core import COUNTERS
    if mutant not in READ_MUTANTS:
        raise ValueError(f"mutant must be one of {', '.join(READ_MUTANTS)}, not {mutant!r}")
    cores, m32 = tile.nodes_kernel.cores, 0xFFFFFFFF
    out = {}
    for n, (x, y) in enumerate(tile.net.coords()):
        values = {f"flits_{p}": int(cores.router_flits[n, i]) & m32 for i, p in enumerate(PORTS)}
        values.update({c: int(cores.counters[n, i]) & m32 for i, c in enumerate(COUNTERS)})
        out[f"{x},{y}"] = {name: values[name] for name in COUNTER_NAMES}
    if mutant == "first_node_writes_dropped":
        out[next(iter(out))]["sram_writes"] = 0
    return {"counters": out, "dielink": tile.net.dielink_stats()}


async def _with_dielink_counters(tile, flow):
    """``flow``'s result and the die links' counters when it ended (``dielink_counters``:
    the start of that cycle, where :mod:`verif.tb_tile_dielinks` reads the RTL's)."""
    result = await flow
    return {**result, "dielink_counters": tile.net.dielink_stats()}


def run_scenario(design, testcase, scenario, *, cfg, derived, cycles=None,
                 timing_only=False, preload_data=False):
    """:mod:`verif.tb_tile`'s test ``testcase`` (``programs``, ``gemm`` or ``allreduce``,
    :data:`verif.host_programs.FLOWS`) on the fast engine's tile of ``design``, its
    scenario ``scenario[testcase]``; -> that test's result (its ``problems`` the hosts'),
    cycle for cycle the RTL's (``timing_only``: the cycles, DONEs and registers; the
    lines read back are control slices, not data). Raises TimeoutError if the run has not
    ended within ``cycles`` cycles (default :data:`RUN_CYCLES`).

    ``preload_data`` (timing-only ``programs`` only): the scenario's loads, data and
    programs, are written into the SRAM before cycle 0 (:func:`preload`) instead of sent
    by the hosts, and nothing is read back, not even the counters (on a 5x5 tile each host
    reads 95 nodes' counters one round trip after another, longer than the workload): the
    run is the start writes and the programs to their DONEs. The workload's cycles (the
    first start write to the last DONE) are the host-loaded run's (``tests/sim/test_workloads_on_the_model.py``
    holds them equal on the default tile: the load leaves every node and link idle, the
    start writes and the programs then meet the same network); the load's and the
    read-back's cycles, and the events they count, are not run. Its ``counters`` are then
    read directly (:func:`direct_counters`, ``counters_read: "direct"``) after the run's
    last cycle, ``counters_cycle`` the cycles run from reset: the events of the start
    writes, the programs and their DONEs, which are the host-loaded run's between its
    first start write and its last DONE (``tests/sim/test_energy_preloaded.py``).

    With the die-link layer a host-loaded ``programs`` run also gives
    ``dielink_counters``, its links' counters when the flow ended, as the RTL's testbench
    reads them (:func:`sim.workloads.runners.run_tile`)."""
    from verif.host_programs import FLOWS
    if preload_data and not (timing_only and testcase == "programs"):
        raise ValueError("preload_data: only timing-only runs of node programs are "
                         "preloaded")
    tile = tile_model(design, cfg, derived, timing_only=timing_only)
    if preload_data:
        preload(tile, scenario["programs"]["loads"])
        scenario = {"programs": {**scenario["programs"], "loads": [], "reads": [],
                                 "counters": False}}
    flow = FLOWS[testcase](tile, scenario[testcase])
    if tile.net.link_layer and testcase == "programs" and not preload_data:
        flow = _with_dielink_counters(tile, flow)
    result = tile.run(flow, cycles=cycles or RUN_CYCLES)
    if preload_data:
        read = direct_counters(tile)
        result.update(counters=read["counters"], counters_cycle=tile.net.t,
                      counters_read="direct", dielink_counters=read["dielink"])
    return {**result, "problems": tile.problems()}

