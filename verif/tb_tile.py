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

from rtl.net.packet import Opcode
from verif import golden
from verif.host import Host, host_address, host_ports, host_reaches, tie_unused_edges
from verif.host_programs import programs as programs_flow
from verif.host_programs import read_counters as _read_counters
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
    """Distributed GEMM (scenario ``gemm``: m, n, k, dtype, a, b bit patterns; ``blocks``:
    ``[x, y, r0, r1, c0, c1]`` per live node, from :func:`sim.gemm.gemm_blocks`; ``skipped``:
    the nodes without a block, read back at the end).

    C is cut into ``mesh_y`` row bands and ``mesh_x`` column bands; a node computes rows
    ``r0..r1`` and columns ``c0..c1`` of them (by default node (x, y) band (y, x)). Every
    host scatters the A and B blocks of the nodes it serves (its requests never leave its
    line of nodes), then EXEC everywhere; C is gathered with READs.
    """
    tb, g = await _started(dut, "gemm")
    if tb is None:
        return
    mx, my = tb.man["mesh_x"], tb.man["mesh_y"]
    m, n, k, dtype = g["m"], g["n"], g["k"], g["dtype"]
    mb, nb = m // my, n // mx
    blocks = {(e[0], e[1]): tuple(e[2:]) for e in g["blocks"]} if "blocks" in g else \
        {(x, y): (y, y + 1, x, x + 1) for x, y in tb.nodes}
    a, b = NodeModel.gemm_operands(g)
    t0 = tb.bench.cycle
    layouts, execs = {}, {}
    for node, (r0, r1, c0, c1) in blocks.items():
        host = tb.host_for(node)
        layouts[node] = lay = await host.load_gemm(node, a[r0 * mb:r1 * mb],
                                                   b[:, c0 * nb:c1 * nb], None, dtype)
        # queued behind the node's loads on the same path and VC: runs once they are in
        execs[node] = host.exec_request(node, m=(r1 - r0) * mb, n=(c1 - c0) * nb, k=k,
                                        dtype=dtype, a_addr=lay["a"], b_addr=lay["b"],
                                        c_addr=lay["c"])
    done_at = {}
    stats, c = {}, np.zeros((m, n), np.uint32)

    async def finish(node):
        # gather a node's C as soon as its engine is done, while others still compute
        host = tb.host_for(node)
        r0, r1, c0, c1 = blocks[node]
        await host.wait_done(execs[node], Opcode.EXEC)
        done_at[node] = tb.bench.cycle
        stats[node] = await host.regs(node, "exec_cycles", 2)
        lines = await host.read(node, layouts[node]["c"], layouts[node]["c_lines"])
        c[r0 * mb:r1 * mb, c0 * nb:c1 * nb] = tb.model.unpack_c(lines, (r1 - r0) * mb,
                                                                (c1 - c0) * nb)

    await gather(*(finish(nd) for nd in blocks))
    t_compute = max(done_at.values())
    t_end = tb.bench.cycle
    # a node without a block must be untouched: its SRAM (zero from reset) is read back
    # over every line any layout used
    used = max(lay["end"] for lay in layouts.values())
    skipped = [tuple(nd) for nd in g.get("skipped", [])]
    skipped_reads = [await tb.host_for(nd).read(nd, 0, used) for nd in skipped]
    key = lambda nd: f"{nd[0]},{nd[1]}"           # noqa: E731
    write_result("gemm", {
        "c": c.astype(np.uint32).tolist(),
        "load_and_compute_cycles": t_compute - t0, "gather_cycles": t_end - t_compute,
        "total_cycles": t_end - t0,
        "exec_cycles": {key(nd): stats[nd][0] for nd in blocks},
        "steps": {key(nd): stats[nd][1] for nd in blocks},
        "exec_done_cycle": {key(nd): done_at[nd] - t0 for nd in blocks},
        "skipped_reads": skipped_reads, **await _read_counters(tb),
        "problems": tb.problems()})


@cocotb.test()
async def allreduce(dut):
    """Ring all-reduce (scenario ``allreduce``: ring, lines, dtype, vectors, base).

    ``vectors[i]`` (``lines`` SRAM lines) starts at ``base`` in node ``ring[i]``;
    the vector is cut into N chunks of ``lines / N`` lines. Reduce-scatter: at
    step s node ``ring[i]`` PUSHes chunk ``(i - s) mod N`` to ``ring[i + 1]`` as
    ADD; after N - 1 steps node ``ring[i]`` holds the sum of chunk ``(i + 1) mod
    N``. All-gather: at step s it PUSHes chunk ``(i + 1 - s) mod N`` as WRITE.
    Every PUSH increments completion counter 0 of its receiver; a node starts step
    s once its counter says s chunks have arrived (its host polls it), so there
    is no global barrier: the nodes run as a dataflow pipeline.
    """
    tb, ar = await _started(dut, "allreduce")
    if tb is None:
        return
    ring = [tuple(c) for c in ar["ring"]]
    nr, lines, base = len(ring), ar["lines"], ar["base"]
    chunk = lines // nr
    dtype = Dtype.FP32 if ar["dtype"] == "fp32" else Dtype.INT32
    for i, node in enumerate(ring):
        await tb.host_for(node).store(node, base, ar["vectors"][i])
    sem0 = {node: await tb.host_for(node).reg(node, "sem0") for node in ring}
    t0 = tb.bench.cycle
    polls = {node: 0 for node in ring}
    steps = 2 * (nr - 1)

    async def wait_count(node, count):
        host = tb.host_for(node)
        while await host.reg(node, "sem0") - sem0[node] < count:
            polls[node] += 1

    async def run(i):
        node, host = ring[i], tb.host_for(ring[i])
        for s in range(steps):
            await wait_count(node, s)
            reduce = s < nr - 1
            c = (i - s) % nr if reduce else (i + 1 - (s - nr + 1)) % nr
            await host.push(node, src_addr=base + c * chunk, count=chunk,
                            to=ring[(i + 1) % nr], dst_addr=base + c * chunk, add=reduce,
                            dtype=dtype, sem=0)
        await wait_count(node, steps)

    await gather(*(run(i) for i in range(nr)))
    cycles = tb.bench.cycle - t0
    result = [await tb.host_for(node).read(node, base, lines) for node in ring]
    write_result("allreduce", {"cycles": cycles, "result": result,
                               "polls": sum(polls.values()), **await _read_counters(tb),
                               "problems": tb.problems()})



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
