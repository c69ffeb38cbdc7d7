"""Host model: what Dojo's interface processors do at the tile edge, as a cocotb driver.

A :class:`Host` attaches to one link of the DUT (a tile-edge port, or the
exposed port of a node row), has a global address, and talks to training nodes
with the packets of :class:`verif.node_model.NodeModel`: WRITE/ADD, READ, PUSH
and EXEC requests go out on the request VC through a credit-honouring
:class:`~verif.link.LinkDriver` (a queue: backpressure holds packets back, never
drops them); responses come back on the response VC through a
:class:`~verif.link.LinkMonitor` and are matched to requests by tag.

Addresses: hosts sit just outside the tile's south edge (``edge_south_<x>`` is
host ``(x, mesh_y)``) with XY routing, or outside the east edge
(``edge_east_<y>`` is host ``(mesh_x, y)``) with YX routing: dimension-order
routing then brings every response to the port the host is on. Coordinates
cover that extra row and column (``gen.derive``). The same routing rule limits
what a host reaches: a packet that enters from the south edge travels north
only (a Y-to-X turn is illegal under XY), so the host on ``edge_south_<x>``
serves the nodes of column x (row y for ``edge_east_<y>`` under YX). A tile
has one host per column; :meth:`Host.send` refuses an unreachable node.
"""

import random

from cocotb.triggers import Event, with_timeout

from rtl.node.layouts import COUNTER_NAMES
from rtl.net.packet import MsgClass, Opcode
from verif.link import LinkDriver, LinkMonitor, Packet
from verif.node_model import Dtype
from verif.tb_common import CLOCK_NS

__all__ = ["Host", "HOST_EDGE", "host_ports", "host_address", "host_reaches", "tie_unused_edges"]

#: routing -> the tile edge whose ports hosts can use
HOST_EDGE = {"xy": "south", "yx": "east"}


def host_address(manifest, port):
    """Global address of the host on tile-edge ``port`` (e.g. ``edge_south_2``)."""
    routing = manifest["node"]["routing"]
    edge = HOST_EDGE[routing]
    parts = port.split("_")
    names = [p[0] for p in manifest["edge_ports"]]
    if port not in names or parts[1] != edge:
        allowed = [n for n in names if n.split("_")[1] == edge]
        raise ValueError(f"host port {port!r}: with {routing.upper()} routing responses reach "
                         f"hosts on the {edge} edge only (allowed: {', '.join(allowed)})")
    i = int(parts[2])
    return (i, manifest["mesh_y"]) if edge == "south" else (manifest["mesh_x"], i)


def host_ports(manifest):
    """Every tile-edge port a host can use, in order along the edge."""
    edge = HOST_EDGE[manifest["node"]["routing"]]
    return [p[0] for p in manifest["edge_ports"] if p[0].split("_")[1] == edge]


def host_reaches(manifest, address):
    """Which nodes the host at ``address`` can address (see the module doc)."""
    axis = 0 if HOST_EDGE[manifest["node"]["routing"]] == "south" else 1
    return lambda node: node[axis] == address[axis]


def tie_unused_edges(dut, manifest, used):
    """Drive idle values on edge ports no host uses (no flits in, no credits out)."""
    for name, _, _ in manifest["edge_ports"]:
        if name in used:
            continue
        getattr(dut, f"in_{name}__valid").value = 0
        getattr(dut, f"in_{name}__last").value = 0
        getattr(dut, f"in_{name}__vc").value = 0
        getattr(dut, f"in_{name}__data").value = 0
        getattr(dut, f"out_{name}__credit").value = 0


class Host:
    """One host on one DUT link.

    Parameters
    ----------
    dut, bench : the DUT and the :class:`~verif.link.LinkBench` that steps the links.
    model : NodeModel
    address : (int, int)
        The host's global coordinates (responses are addressed there).
    inp, out : str
        DUT port prefixes: the link into the DUT (the host drives it) and out of it.
    vcs, depth : VCs and the DUT's buffer depth (the host's credits), and the host's
        own receive buffer.
    reaches : callable or None
        ``reaches(node)`` is true for the nodes dimension-order routing lets this
        host address (``None``: every node).
    idle, stall : probabilities of an idle cycle between sent flits and of holding a
        credit back another cycle (random backpressure from the host).
    """

    def __init__(self, dut, bench, model, *, address, inp, out, vcs, depth, idle=0.0,
                 stall=0.0, rng=None, reaches=None):
        rng = rng or random.Random(0)
        drv = LinkDriver(dut, inp, vcs=vcs, credits=depth, idle=idle,
                         rng=random.Random(rng.random()))
        self.mon = LinkMonitor(dut, out, vcs=vcs, depth=depth, stall=stall,
                               rng=random.Random(rng.random()), on_packet=self._on_packet)
        bench.drivers.append(drv)
        bench.monitors.append(self.mon)
        self.bench = bench
        self._attach(model, address, reaches, drv)

    def _attach(self, model, address, reaches, drv):
        """The protocol's state: what the fast engine's host (:mod:`sim.netmodel.host`)
        shares with this one, on its own link driver."""
        self.model, self.address = model, tuple(address)
        self.reaches = reaches or (lambda node: True)
        self.drv = drv
        self.tag = 0
        self.waiting = {}           # tag -> [expected count, packets, Event]
        self.halts = {}             # (node, queue) -> [DONE or None, Event]
        self.halt_log = []          # (node, queue, DONE's tag, cycle its tail arrived)
        self.unexpected = []

    # -- how a coroutine waits (the fast engine's host has its own) ------------------------

    @staticmethod
    def _event():
        return Event()

    @staticmethod
    async def _until(event, timeout_cycles):
        await with_timeout(event.wait(), timeout_cycles * CLOCK_NS, "ns")

    def _on_packet(self, pkt):
        d = self.model.decode(pkt.flits)
        d["vc"] = pkt.vc
        queue = self.model.halt_queue(d) if d["opcode"] == Opcode.DONE else None
        if queue is not None and (d["src"], queue) in self.halts \
                and self.halts[d["src"], queue][0] is None:
            self.halts[d["src"], queue][0] = d      # a command queue has stopped
            self.halts[d["src"], queue][1].set()
            self.halt_log.append((d["src"], queue, d["tag"], pkt.received))
            return
        w = self.waiting.get(d.get("tag"))
        if d["mclass"] != MsgClass.RESPONSE or d["dst"] != self.address or w is None \
                or pkt.vc != self.model.resp_vc:
            self.unexpected.append(d)
            return
        w[1].append(d)
        if len(w[1]) == w[0]:
            w[2].set()

    def new_tag(self, expect):
        """A tag for a request answered by ``expect`` responses."""
        for _ in range(256):
            self.tag = (self.tag + 1) % 256
            if self.tag not in self.waiting:
                self.waiting[self.tag] = [expect, [], self._event()]
                return self.tag
        raise RuntimeError("more than 255 requests outstanding")

    async def wait(self, tag, timeout_cycles=400000):
        """The responses to ``tag`` (waits until all have arrived)."""
        w = self.waiting[tag]
        if len(w[1]) < w[0]:
            await self._until(w[2], timeout_cycles)
        del self.waiting[tag]
        return w[1]

    def send(self, packets):
        for p in packets:
            dst = self.model.decode_head(p[0])["dst"]
            if not self.reaches(dst):
                raise ValueError(f"host {self.address} cannot address node {dst}: "
                                 f"dimension-order routing never turns there from its port")
            self.drv.send(Packet(p, self.model.req_vc))

    # -- operations ---------------------------------------------------------------------

    async def store(self, node, addr, data, *, add=False, dtype=Dtype.INT32, sem=None,
                    wait=True):
        """WRITE/ADD lines; with ``wait``, every packet is acknowledged (DONE)."""
        tag = self.new_tag(0) if wait else 0
        pkts = self.model.store(dst=node, src=self.address, addr=addr, data=data, add=add,
                                dtype=dtype, tag=tag, ack=wait, sem=sem)
        self.send(pkts)
        if wait:
            self.waiting[tag][0] = len(pkts)
            if not pkts:
                self.waiting[tag][2].set()
            dones = await self.wait(tag)
            assert all(d["opcode"] == Opcode.DONE and d["src"] == tuple(node)
                       for d in dones), (node, dones)

    async def read(self, node, addr, count):
        """``count`` SRAM lines from ``addr`` (READ packets of at most max_len - 1 lines,
        all in flight at once)."""
        chunk = self.model.max_len - 1
        tags = []
        for a in range(addr, addr + count, chunk):
            n = min(chunk, addr + count - a)
            tag = self.new_tag(1)
            self.send([self.model.read(dst=node, src=self.address, addr=a, count=n, tag=tag)])
            tags.append((tag, a, n))
        out = []
        for tag, a, n in tags:
            (resp,) = await self.wait(tag)
            assert resp["opcode"] == Opcode.READ_RESP and resp["addr"] == a, resp
            assert resp["src"] == tuple(node) and len(resp["data"]) == n, resp
            out += resp["data"]
        return out

    async def regs(self, node, first, count=1):
        tag = self.new_tag(1)
        self.send([self.model.read_regs(dst=node, src=self.address, first=first, count=count,
                                        tag=tag)])
        (resp,) = await self.wait(tag)
        return resp["data"]

    async def reg(self, node, name):
        return (await self.regs(node, name))[0]

    async def counters(self, node):
        """The node's event counters (``{name: value}`` of
        :data:`rtl.node.layouts.COUNTER_NAMES`), in READs of at most max_len - 1 registers.
        The reads are traffic too: read every node's counters after the work they measure."""
        names, chunk = list(COUNTER_NAMES), self.model.max_len - 1
        values = []
        for i in range(0, len(names), chunk):
            values += await self.regs(node, names[i], len(names[i:i + chunk]))
        return dict(zip(names, values))

    def push_request(self, node, **kw):
        """Queue a PUSH (acknowledged); returns the tag to :meth:`wait_done` on."""
        tag = self.new_tag(1)
        self.send([self.model.push(dst=node, src=self.address, tag=tag, ack=True, **kw)])
        return tag

    def exec_request(self, node, **kw):
        """Queue an EXEC (acknowledged); returns the tag to :meth:`wait_done` on."""
        tag = self.new_tag(1)
        self.send([self.model.exec(dst=node, src=self.address, tag=tag, **kw)])
        return tag

    async def wait_done(self, tag, opcode):
        (done,) = await self.wait(tag)
        assert done["opcode"] == Opcode.DONE and done["req_op"] == opcode, done
        return done

    async def push(self, node, **kw):
        await self.wait_done(self.push_request(node, **kw), Opcode.PUSH)

    async def load_gemm(self, node, a, b, c0, dtype, *, base=0):
        """Queue the WRITEs of A, B (and C0) for ``node``; returns the SRAM layout."""
        mdl = self.model
        m, k = a.shape
        lay = mdl.gemm_layout(m=m, n=b.shape[1], k=k, dtype=dtype, base=base)
        await self.store(node, lay["a"], mdl.pack_a(a, dtype), wait=False)
        await self.store(node, lay["b"], mdl.pack_b(b, dtype), wait=False)
        if c0 is not None:
            await self.store(node, lay["c"], mdl.pack_c(c0), wait=False)
        return lay

    async def gemm(self, node, a, b, c0, dtype, *, accumulate, base=0):
        """Load A, B (and C0), EXEC, read C back. Returns (C uint32, exec_cycles, steps)."""
        mdl = self.model
        m, k = a.shape
        n = b.shape[1]
        lay = await self.load_gemm(node, a, b, c0 if accumulate else None, dtype, base=base)
        tag = self.exec_request(node, m=m, n=n, k=k, dtype=dtype, a_addr=lay["a"],
                                b_addr=lay["b"], c_addr=lay["c"], accumulate=accumulate)
        await self.wait_done(tag, Opcode.EXEC)
        cycles, steps = await self.regs(node, "exec_cycles", 2)
        c = mdl.unpack_c(await self.read(node, lay["c"], lay["c_lines"]), m, n)
        return c, cycles, steps

    # -- command queues (rtl/node/command_processor.py) ----------------------------------

    async def start_program(self, node, pcs):
        """Start command queues of ``node``: ``pcs`` ``{queue: address of its first
        descriptor}``, one acknowledged WRITE of ``cmd_ctrl``. Expect each queue's DONE
        (:meth:`wait_halt`)."""
        for q in pcs:
            self.halts[tuple(node), q] = [None, self._event()]
        await self.store(node, self.model.reg_addr("cmd_ctrl"),
                         [self.model.ctrl_line(start=pcs)])

    async def abort_program(self, node, queues):
        await self.store(node, self.model.reg_addr("cmd_ctrl"),
                         [self.model.ctrl_line(abort=queues)])

    async def wait_halt(self, node, queue, timeout_cycles=400000):
        """The DONE of a queue started by :meth:`start_program`: its ``tag`` is the HALT
        code, or ``0x80 | CmdError`` for an error or an abort."""
        slot = self.halts[tuple(node), queue]
        if slot[0] is None:
            await self._until(slot[1], timeout_cycles)
        del self.halts[tuple(node), queue]
        return slot[0]

    async def queue_status(self, node, queue):
        return self.model.status(await self.reg(node, f"cmd_status{queue}"))

    def problems(self):
        return [f"{self.address}: unexpected packet {d}" for d in self.unexpected[:5]]
