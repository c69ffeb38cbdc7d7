"""cocotb: a mesh of bare routers driven from Python at every local port.

Random multi-flit traffic with saturation bursts and random ejection stalls;
the scoreboard proves every packet reaches its destination's local port exactly
once, unmodified, in order per (source, destination, VC). A zero-load probe
checks one cycle per hop.
"""

import random

import cocotb
from cocotb.triggers import ClockCycles

from rtl.net.packet import Opcode
from verif.link import LinkBench, LinkDriver, LinkMonitor, Packet
from verif.noc import Scoreboard, xy_hops
from verif.tb_common import packet_format, scenario, start_clock_and_reset, write_result


def _bench(dut, man, p, rng):
    cfg = man["params"]["config"]["router"]
    vcs, depth = cfg["vcs"], cfg["buffer_depth"]
    bench = LinkBench(dut.clk)
    drivers, monitors = {}, {}
    for x, y in map(tuple, man["nodes"]):
        drivers[x, y] = LinkDriver(dut, f"in_local_{x}_{y}", vcs=vcs, credits=depth,
                                   idle=p.get("idle", 0.0), rng=random.Random(rng.random()))
        monitors[x, y] = LinkMonitor(dut, f"out_local_{x}_{y}", vcs=vcs, depth=depth,
                                     stall=p.get("stall", 0.0), rng=random.Random(rng.random()))
    bench.drivers += drivers.values()
    bench.monitors += monitors.values()
    return bench, drivers, monitors, vcs


@cocotb.test()
async def random_traffic(dut):
    sc = scenario()
    man, p = sc["manifest"], sc["params"]
    fmt = packet_format(man)
    rng = random.Random(p["seed"])
    await start_clock_and_reset(dut)
    bench, drivers, monitors, vcs = _bench(dut, man, p, rng)
    nodes = [tuple(n) for n in man["nodes"]]
    board = Scoreboard()
    cocotb.start_soon(bench.run())

    pid = 0
    for phase in p["phases"]:            # e.g. a saturation burst, then light traffic
        for drv in drivers.values():
            drv.idle = phase["idle"]
        for mon in monitors.values():
            mon.stall = phase["stall"]
        for src in nodes:
            for _ in range(phase["packets_per_node"]):
                dst = rng.choice(nodes)
                length = rng.randint(1, p["max_len"])
                vc = rng.randrange(vcs)
                head = fmt.encode_head(dst=dst, src=src, opcode=Opcode.WRITE, length=length,
                                       info=pid)
                flits = [head] + [rng.getrandbits(fmt.flit_bits) for _ in range(length - 1)]
                board.expect(pid, f"out_local_{dst[0]}_{dst[1]}", flits, (src, dst, vc))
                drivers[src].send(Packet(flits, vc))
                pid += 1
        deadline = bench.cycle + 200 * phase["packets_per_node"] * p["max_len"] + 2000
        while bench.busy and bench.cycle < deadline:
            await ClockCycles(dut.clk, 64)

    deadline = bench.cycle + 20000
    while board.expected and bench.cycle < deadline:
        await ClockCycles(dut.clk, 64)
        board.observe_monitors(monitors.values(), lambda f: fmt.decode_head(f[0])["info"])
    problems = board.report() + bench.problems()
    write_result("random_traffic", {"packets": pid, "matched": board.matched,
                                    "cycles": bench.cycle, "problems": problems[:20]})
    assert not problems, "\n".join(problems[:20])


@cocotb.test()
async def zero_load_latency(dut):
    """One flit at a time from corner to every node: latency = hops + 1."""
    sc = scenario()
    man = sc["manifest"]
    fmt = packet_format(man)
    await start_clock_and_reset(dut)
    bench, drivers, monitors, vcs = _bench(dut, man, {}, random.Random(0))
    cocotb.start_soon(bench.run())
    nodes = [tuple(n) for n in man["nodes"]]
    samples = []
    for src in (nodes[0], nodes[-1]):
        for dst in nodes:
            flit = fmt.encode_head(dst=dst, src=src, opcode=Opcode.WRITE, length=1)
            pkt = Packet([flit], 0)
            drivers[src].send(pkt)
            await ClockCycles(dut.clk, xy_hops(src, dst) + 6)
            got = monitors[dst].packets.pop()
            assert got.flits == [flit]
            samples.append((xy_hops(src, dst), got.received - pkt.sent))
    extra = sorted({lat - hops for hops, lat in samples})
    write_result("zero_load_latency", {"samples": samples, "latency_minus_hops": extra})
    assert extra == [1], f"zero-load latency - hops = {extra}, expected [1]"
