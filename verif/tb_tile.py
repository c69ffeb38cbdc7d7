"""cocotb: a die or tile of training nodes driven by host models at its edge ports.

The design is ``gen.build.network_design(cfg, kind="compute", top="tile")``: a
global mesh of compute nodes whose tile-edge links are ports. One
:class:`verif.host.Host` sits on every host port (the south edge with XY
routing, the east edge with YX); the other edge ports are tied idle.

Tests (each does nothing unless the scenario asks for it by key):

``host_access``
    every host writes random blocks to random nodes (anywhere in the tile, so
    requests and responses cross die boundaries), all hosts at once with random
    idles and credit stalls; reads everything back; then PUSHes fp32 ADD blocks
    between nodes in different dies with a completion counter the host polls.
``gemm`` / ``allreduce``
    the host-driven workloads of :mod:`sim.gemm` and :mod:`sim.allreduce`.
``programs``
    node programs (:mod:`sim.collectives`): data and programs loaded, every node
    started, every DONE awaited, results read back (checked by the caller).
"""

import random

import cocotb
import numpy as np
from cocotb.triggers import gather

from verif import golden
from verif.host import Host, host_address, host_ports, host_reaches, tie_unused_edges
from verif.host_programs import allreduce as allreduce_flow
from verif.host_programs import gemm as gemm_flow
from verif.host_programs import programs as programs_flow
from verif.link import LinkBench
from verif.node_model import Dtype, NodeModel
from verif.tb_common import scenario, start_clock_and_reset, write_result


class TileTB:
    """Clock, reset, one host per host port, and the checks every test ends with."""

    gather = staticmethod(gather)      # how :mod:`verif.host_programs` runs hosts at once

    @property
    def cycle(self):
        return self.bench.cycle

    def __init__(self, dut, *, idle=0.0, stall=0.0, seed=0):
        self.dut = dut
        self.sc = scenario()
        man = self.sc["manifest"]
        self.man = man
        self.model = NodeModel.from_manifest(man)
        self.nodes = [tuple(c) for c in man["nodes"]]
        n = man["node"]
        rng = random.Random(seed)
        self.bench = LinkBench(dut.clk)
        ports = self.sc.get("host_ports") or host_ports(man)
        self.hosts = []
        for p in ports:
            address = host_address(man, p)
            self.hosts.append(Host(dut, self.bench, self.model, address=address,
                                   inp=f"in_{p}", out=f"out_{p}", vcs=n["vcs"],
                                   depth=n["buffer_depth"], idle=idle, stall=stall, rng=rng,
                                   reaches=host_reaches(man, address)))
        tie_unused_edges(dut, man, ports)

    async def start(self):
        await start_clock_and_reset(self.dut)
        cocotb.start_soon(self.bench.run())

    def host_for(self, node):
        """The host that serves a node (its column's; its row's under YX routing)."""
        for h in self.hosts:
            if h.reaches(node):
                return h
        raise ValueError(f"no host on this tile edge reaches node {node}")

    def problems(self):
        out = self.bench.problems()
        for h in self.hosts:
            out += h.problems()
        if int(self.dut.overflow.value):
            out.append("overflow flag set (a router, NI or die-link buffer overflowed)")
        if int(self.dut.errors.value):
            out.append(f"{int(self.dut.errors.value)} malformed requests dropped")
        return out


async def _started(dut, key, idle=0.0, stall=0.0):
    """``(started TileTB, scenario[key])``, or ``(None, None)`` if the scenario has no
    ``key`` (each test runs only when asked). ``idle``, ``stall`` and ``seed`` may be
    overridden by the scenario entry."""
    sc = scenario()
    if key not in sc:
        return None, None
    params = sc[key]
    tb = TileTB(dut, idle=params.get("idle", idle), stall=params.get("stall", stall),
                seed=params.get("seed", 1))
    await tb.start()
    return tb, params


@cocotb.test()
async def host_access(dut):
    tb, params = await _started(dut, "host_access", idle=0.2, stall=0.2)
    if tb is None:
        return
    mdl, W = tb.model, tb.model.width
    rng = random.Random(params.get("seed", 1))
    written = {}

    async def writer(host, jobs):
        for node, addr, data in jobs:
            await host.store(node, addr, data, wait=True)

    # random nodes of each host's column (requests and responses cross dies), all at once
    blocks = params.get("blocks", 3)
    jobs = {h: [] for h in tb.hosts}
    for hi, h in enumerate(tb.hosts):
        for _ in range(blocks):
            node = rng.choice([nd for nd in tb.nodes if h.reaches(nd)])
            addr = 16 * (hi * blocks + len(jobs[h])) % (mdl.lines - 16)
            data = [rng.getrandbits(W) for _ in range(rng.randint(1, 12))]
            jobs[h].append((node, addr, data))
            for i, v in enumerate(data):
                written[node, addr + i] = v
    await gather(*(writer(h, j) for h, j in jobs.items()))
    checked = 0
    for (node, addr), value in sorted(written.items()):
        (got,) = await tb.host_for(node).read(node, addr, 1)
        assert got == value, f"node {node} line {addr}: {got:#x} != {value:#x}"
        checked += 1

    # the top SRAM lines, read alone and in one READ with the line below
    node = tb.nodes[-1]
    top = [rng.getrandbits(W) for _ in range(3)]
    await tb.host_for(node).store(node, mdl.lines - 3, top)
    assert await tb.host_for(node).read(node, mdl.lines - 1, 1) == top[2:], "last SRAM line"
    assert await tb.host_for(node).read(node, mdl.lines - 3, 3) == top, "top SRAM lines"

    # PUSH fp32 ADD blocks between opposite corners (across dies), both ways, counter polled
    a, b = tb.nodes[0], tb.nodes[-1]
    nrng = np.random.default_rng(params.get("seed", 1))
    lanes = W // 32
    count = 2 * (mdl.max_len - 1) + 1
    base = mdl.lines - count
    blocks_ = {}
    for node in (a, b):
        blocks_[node] = mdl.pack_elements(golden.interesting_fp32(nrng, count * lanes).tolist(), 32)
        await tb.host_for(node).store(node, base, blocks_[node])
    # a -> b, then (once b's counter says it landed) b -> a: deterministic sums
    for src, dst in ((a, b), (b, a)):
        host = tb.host_for(dst)
        sem0 = await host.reg(dst, "sem1")
        await tb.host_for(src).push(src, src_addr=base, count=count, to=dst, dst_addr=base,
                                    add=True, dtype=Dtype.FP32, sem=1)
        polls = 0
        while await host.reg(dst, "sem1") != sem0 + 1:
            polls += 1
            assert polls < 200, f"completion counter of {dst} never incremented"
    got_a = await tb.host_for(a).read(a, base, count)
    got_b = await tb.host_for(b).read(b, base, count)
    exp_b = [mdl.add_lines(y, x, Dtype.FP32) for x, y in zip(blocks_[a], blocks_[b])]
    exp_a = [mdl.add_lines(x, y, Dtype.FP32) for x, y in zip(blocks_[a], exp_b)]
    assert got_b == exp_b, ("PUSH ADD a -> b differs",
                            [(i, hex(g), hex(e), hex(x), hex(y)) for i, (g, e, x, y) in enumerate(
                                zip(got_b, exp_b, blocks_[a], blocks_[b])) if g != e][:4])
    assert got_a == exp_a, "PUSH ADD b -> a differs"
    problems = tb.problems()
    write_result("host_access", {"lines_checked": checked, "pushed_lines": 2 * count,
                                 "hosts": [list(h.address) for h in tb.hosts],
                                 "problems": problems})
    assert not problems, problems


@cocotb.test()
async def gemm(dut):
    """The host-driven distributed GEMM (:func:`verif.host_programs.gemm`)."""
    tb, g = await _started(dut, "gemm")
    if tb is None:
        return
    write_result("gemm", {**await gemm_flow(tb, g), "problems": tb.problems()})


@cocotb.test()
async def allreduce(dut):
    """The host-driven ring all-reduce (:func:`verif.host_programs.allreduce`)."""
    tb, ar = await _started(dut, "allreduce")
    if tb is None:
        return
    write_result("allreduce", {**await allreduce_flow(tb, ar), "problems": tb.problems()})


@cocotb.test()
async def programs(dut):
    """Node programs (scenario ``programs``: ``loads``, ``starts``, ``reads``).

    ``loads``: ``[node, addr, lines]`` written first (data and the programs);
    ``starts``: ``[node, {queue: pc}]``, each node started by its host with one write
    of ``cmd_ctrl``, all hosts at once; then every queue's DONE is awaited. ``cycles``
    runs from the first start write leaving a host to the last DONE arriving, the
    hosts doing nothing else meanwhile (``load_cycles`` before, ``read_cycles`` after).
    ``reads``: ``[node, addr, count]`` read back, all hosts at once.
    """
    tb, pr = await _started(dut, "programs")
    if tb is None:
        return
    write_result("programs", {**await programs_flow(tb, pr), "problems": tb.problems()})
