"""The hosts' part of a tile workload: load, start, await every DONE, read back.

The steps of :mod:`verif.tb_tile`'s ``programs``, ``gemm`` and ``allreduce`` tests (the
node programs, the host-driven GEMM and all-reduce), written once for both engines: a
``tb`` offers ``host_for(node)`` (the :class:`verif.host.Host` that serves a node),
``hosts``, ``nodes``, ``cycle`` (the bench's cycle) and ``gather(*coroutines)`` (cocotb's
under the RTL, the host model's own in the fast engine, :mod:`sim.netmodel.host`), so the
hosts send the same packets in the same cycles whichever engine runs the tile.
"""

import numpy as np

from rtl.net.packet import Opcode
from verif.node_model import Dtype, NodeModel

__all__ = ["programs", "gemm", "allreduce", "FLOWS", "load_programs", "run_programs",
           "read_back", "read_counters", "halts_of"]


async def programs(tb, pr):
    """The whole ``programs`` scenario ``pr`` (``loads``, ``starts``, ``reads``): load,
    start every node and await every DONE, read back, read every node's counters (not when
    ``pr["counters"]`` is false: a preloaded timing-only run on the fast engine,
    :func:`sim.netmodel.host.run_scenario`; ``counters`` and ``counters_cycle`` are then
    None); -> the result of :mod:`verif.tb_tile`'s ``programs`` test but its ``problems``:
    ``cycles``
    (the first start write leaving a host to the last DONE arriving), ``load_cycles``,
    ``read_cycles``, ``reads``, ``counters``, ``counters_cycle``, ``halts``."""
    t_load = tb.cycle
    starts = await load_programs(tb, pr)
    t0 = tb.cycle
    halts = await run_programs(tb, starts)
    cycles = tb.cycle - t0
    t_read = tb.cycle
    reads = await read_back(tb, pr)
    t_end = tb.cycle
    counters = await read_counters(tb) if pr.get("counters", True) else \
        {"counters": None, "counters_cycle": None}
    return {"cycles": cycles, "load_cycles": t0 - t_load, "read_cycles": t_end - t_read,
            "reads": reads, **counters, "halts": halts_of(starts, halts)}


async def load_programs(tb, pr):
    """Write ``pr["loads"]`` (data and programs) through the nodes' hosts and wait until
    all landed; -> the starts ``[(node, {queue: pc})]``."""
    for node, addr, lines in pr["loads"]:
        await tb.host_for(tuple(node)).store(tuple(node), addr, lines, wait=False)
    for node in dict.fromkeys(tuple(n) for n, _, _ in pr["loads"]):
        await tb.host_for(node).reg(node, "errors")     # a read behind the writes: all landed
    return [(tuple(node), {int(q): pc for q, pc in pcs.items()}) for node, pcs in pr["starts"]]


async def run_programs(tb, starts):
    """Start every node's queues with one ``cmd_ctrl`` write each, all hosts at once, and
    await every queue's DONE; -> per start ``{queue: tag}``."""
    async def run(node, pcs):
        host = tb.host_for(node)
        await host.start_program(node, pcs)
        return {q: (await host.wait_halt(node, q))["tag"] for q in pcs}

    return await tb.gather(*(run(node, pcs) for node, pcs in starts))


async def read_back(tb, pr):
    """Read ``pr["reads"]`` (``[node, addr, count]``): every host reads its nodes one after
    another (a host has 255 tags), the hosts at once; -> the lines per read."""
    wanted = [(tuple(n), a, c) for n, a, c in pr["reads"]]
    reads = [None] * len(wanted)

    async def read_all(host):
        for i, (node, addr, count) in enumerate(wanted):
            if tb.host_for(node) is host:
                reads[i] = await host.read(node, addr, count)

    await tb.gather(*(read_all(h) for h in tb.hosts))
    return reads


async def read_counters(tb):
    """Every node's event counters (``{"x,y": {name: value}}``, its host reading them, all
    hosts at once), once the work they measure is over, and the cycle since reset when the
    last was read (the span their static energy is charged over)."""
    out = {}

    async def read_all(host):
        for node in tb.nodes:
            if tb.host_for(node) is host:
                out[f"{node[0]},{node[1]}"] = await host.counters(node)

    await tb.gather(*(read_all(h) for h in tb.hosts))
    return {"counters": out, "counters_cycle": tb.cycle}


def halts_of(starts, halts):
    """The result's ``halts``: ``[[node, {queue: tag}]]``."""
    return [[list(node), {str(q): t for q, t in h.items()}]
            for (node, _), h in zip(starts, halts)]


async def gemm(tb, g):
    """The host-driven distributed GEMM (scenario ``gemm``: m, n, k, dtype, a, b bit
    patterns; ``blocks``: ``[x, y, r0, r1, c0, c1]`` per live node, from
    :func:`sim.gemm.gemm_blocks`; ``skipped``: the nodes without a block, read back at the
    end); -> the result of :mod:`verif.tb_tile`'s ``gemm`` test but its ``problems``.

    C is cut into ``mesh_y`` row bands and ``mesh_x`` column bands; a node computes rows
    ``r0..r1`` and columns ``c0..c1`` of them (by default node (x, y) band (y, x)). Every
    host scatters the A and B blocks of the nodes it serves (its requests never leave its
    line of nodes), then EXEC everywhere; C is gathered with READs.
    """
    mx, my = tb.man["mesh_x"], tb.man["mesh_y"]
    m, n, k, dtype = g["m"], g["n"], g["k"], g["dtype"]
    mb, nb = m // my, n // mx
    blocks = {(e[0], e[1]): tuple(e[2:]) for e in g["blocks"]} if "blocks" in g else \
        {(x, y): (y, y + 1, x, x + 1) for x, y in tb.nodes}
    a, b = NodeModel.gemm_operands(g)
    t0 = tb.cycle
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
        done_at[node] = tb.cycle
        stats[node] = await host.regs(node, "exec_cycles", 2)
        lines = await host.read(node, layouts[node]["c"], layouts[node]["c_lines"])
        c[r0 * mb:r1 * mb, c0 * nb:c1 * nb] = tb.model.unpack_c(lines, (r1 - r0) * mb,
                                                                (c1 - c0) * nb)

    await tb.gather(*(finish(nd) for nd in blocks))
    t_compute = max(done_at.values())
    t_end = tb.cycle
    # a node without a block must be untouched: its SRAM (zero from reset) is read back
    # over every line any layout used
    used = max(lay["end"] for lay in layouts.values())
    skipped = [tuple(nd) for nd in g.get("skipped", [])]
    skipped_reads = [await tb.host_for(nd).read(nd, 0, used) for nd in skipped]
    key = lambda nd: f"{nd[0]},{nd[1]}"           # noqa: E731
    return {
        "c": c.astype(np.uint32).tolist(),
        "load_and_compute_cycles": t_compute - t0, "gather_cycles": t_end - t_compute,
        "total_cycles": t_end - t0,
        "exec_cycles": {key(nd): stats[nd][0] for nd in blocks},
        "steps": {key(nd): stats[nd][1] for nd in blocks},
        "exec_done_cycle": {key(nd): done_at[nd] - t0 for nd in blocks},
        "skipped_reads": skipped_reads, **await read_counters(tb)}


async def allreduce(tb, ar):
    """The host-driven ring all-reduce (scenario ``allreduce``: ring, lines, dtype,
    vectors, base); -> the result of :mod:`verif.tb_tile`'s ``allreduce`` test but its
    ``problems``.

    ``vectors[i]`` (``lines`` SRAM lines) starts at ``base`` in node ``ring[i]``;
    the vector is cut into N chunks of ``lines / N`` lines. Reduce-scatter: at
    step s node ``ring[i]`` PUSHes chunk ``(i - s) mod N`` to ``ring[i + 1]`` as
    ADD; after N - 1 steps node ``ring[i]`` holds the sum of chunk ``(i + 1) mod
    N``. All-gather: at step s it PUSHes chunk ``(i + 1 - s) mod N`` as WRITE.
    Every PUSH increments completion counter 0 of its receiver; a node starts step
    s once its counter says s chunks have arrived (its host polls it), so there
    is no global barrier: the nodes run as a dataflow pipeline.
    """
    ring = [tuple(c) for c in ar["ring"]]
    nr, lines, base = len(ring), ar["lines"], ar["base"]
    chunk = lines // nr
    dtype = Dtype.FP32 if ar["dtype"] == "fp32" else Dtype.INT32
    for i, node in enumerate(ring):
        await tb.host_for(node).store(node, base, ar["vectors"][i])
    sem0 = {node: await tb.host_for(node).reg(node, "sem0") for node in ring}
    t0 = tb.cycle
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

    await tb.gather(*(run(i) for i in range(nr)))
    cycles = tb.cycle - t0
    result = [await tb.host_for(node).read(node, base, lines) for node in ring]
    return {"cycles": cycles, "result": result, "polls": sum(polls.values()),
            **await read_counters(tb)}


#: the scenario key (and :mod:`verif.tb_tile`'s test) -> its hosts' flow
FLOWS = {"programs": programs, "gemm": gemm, "allreduce": allreduce}
