"""The hosts' part of a node-program workload: load, start, await every DONE, read back.

The steps of :mod:`verif.tb_tile`'s ``programs`` test, written once for both engines: a
``tb`` offers ``host_for(node)`` (the :class:`verif.host.Host` that serves a node),
``hosts``, ``nodes``, ``cycle`` (the bench's cycle) and ``gather(*coroutines)`` (cocotb's
under the RTL, the host model's own in the fast engine, :mod:`sim.netmodel.host`), so the
hosts send the same packets in the same cycles whichever engine runs the tile.
"""

__all__ = ["programs", "load_programs", "run_programs", "read_back", "read_counters",
           "halts_of"]


async def programs(tb, pr):
    """The whole ``programs`` scenario ``pr`` (``loads``, ``starts``, ``reads``): load,
    start every node and await every DONE, read back, read every node's counters; -> the
    result of :mod:`verif.tb_tile`'s ``programs`` test but its ``problems``: ``cycles``
    (the first start write leaving a host to the last DONE arriving), ``load_cycles``,
    ``read_cycles``, ``reads``, ``counters``, ``counters_cycle``, ``halts``."""
    t_load = tb.cycle
    starts = await load_programs(tb, pr)
    t0 = tb.cycle
    halts = await run_programs(tb, starts)
    cycles = tb.cycle - t0
    t_read = tb.cycle
    reads = await read_back(tb, pr)
    return {"cycles": cycles, "load_cycles": t0 - t_load, "read_cycles": tb.cycle - t_read,
            "reads": reads, **await read_counters(tb), "halts": halts_of(starts, halts)}


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
