"""cocotb: one router, random legal traffic on all inputs and VCs, random credit stalls.

The scoreboard proves every packet leaves the port dimension-order routing
demands, exactly once, unmodified, never interleaved within a VC, and in order
per (input, output, VC).
"""

import random

import cocotb
from cocotb.triggers import ClockCycles

from rtl.net.directions import PORTS
from rtl.net.packet import Opcode
from verif.link import LinkBench, LinkDriver, LinkMonitor, Packet
from verif.noc import Scoreboard, legal_destinations, route_port
from verif.tb_common import packet_format, scenario, start_clock_and_reset, write_result


@cocotb.test()
async def random_traffic(dut):
    sc = scenario()
    man, p = sc["manifest"], sc["params"]
    fmt = packet_format(man)
    cfg = man["params"]["config"]["router"]
    vcs, depth, routing = cfg["vcs"], cfg["buffer_depth"], cfg["routing"]
    x, y, size = p["x"], p["y"], tuple(p["size"])
    rng = random.Random(p["seed"])
    dut.x.value, dut.y.value = x, y
    await start_clock_and_reset(dut)

    bench = LinkBench(dut.clk)
    board = Scoreboard()
    monitors = {}
    for port in PORTS:
        mon = LinkMonitor(dut, f"out_{port}", vcs=vcs, depth=depth, stall=p["stall"],
                          rng=random.Random(rng.random()))
        monitors[port] = mon
        bench.monitors.append(mon)
    pid = 0
    for port in PORTS:
        drv = LinkDriver(dut, f"in_{port}", vcs=vcs, credits=depth, idle=p["idle"],
                         rng=random.Random(rng.random()))
        bench.drivers.append(drv)
        dests = legal_destinations(x, y, port, size, routing)
        for _ in range(p["packets_per_input"]):
            dst = rng.choice(dests)
            length = rng.randint(1, p["max_len"])
            vc = rng.randrange(vcs)
            head = fmt.encode_head(dst=dst, src=(x, y), opcode=Opcode.WRITE, length=length,
                                   info=pid)
            flits = [head] + [rng.getrandbits(fmt.flit_bits) for _ in range(length - 1)]
            out = route_port(x, y, dst, routing)
            board.expect(pid, f"out_{out}", flits, (port, out, vc))
            drv.send(Packet(flits, vc))
            pid += 1
    cocotb.start_soon(bench.run())

    deadline = p["packets_per_input"] * p["max_len"] * 40 + 1000
    while (board.expected and bench.cycle < deadline):
        await ClockCycles(dut.clk, 50)
        board.observe_monitors(monitors.values(), lambda f: fmt.decode_head(f[0])["info"])
    await ClockCycles(dut.clk, 20)
    problems = board.report() + bench.problems()
    if int(dut.overflow.value):
        problems.append("router overflow flag set")
    write_result("random_traffic", {"packets": pid, "matched": board.matched, "cycles": bench.cycle,
                  "problems": problems[:20]})
    assert not problems, "\n".join(problems[:20])


@cocotb.test()
async def zero_load_latency(dut):
    """A lone flit on each input appears on its output exactly one cycle later."""
    sc = scenario()
    man = sc["manifest"]
    fmt = packet_format(man)
    cfg = man["params"]["config"]["router"]
    vcs, depth, routing = cfg["vcs"], cfg["buffer_depth"], cfg["routing"]
    x, y = sc["params"]["x"], sc["params"]["y"]
    dut.x.value, dut.y.value = x, y
    await start_clock_and_reset(dut)
    bench = LinkBench(dut.clk)
    monitors = {port: LinkMonitor(dut, f"out_{port}", vcs=vcs, depth=depth) for port in PORTS}
    drivers = {port: LinkDriver(dut, f"in_{port}", vcs=vcs, credits=depth) for port in PORTS}
    bench.monitors += monitors.values()
    bench.drivers += drivers.values()
    cocotb.start_soon(bench.run())
    size = tuple(sc["params"]["size"])
    latencies = []
    for port in PORTS:
        for dst in legal_destinations(x, y, port, size, routing)[:3]:
            flit = fmt.encode_head(dst=dst, src=(x, y), opcode=Opcode.WRITE, length=1)
            pkt = Packet([flit], vcs - 1)
            drivers[port].send(pkt)
            out = route_port(x, y, dst, routing)
            await ClockCycles(dut.clk, 6)
            got = monitors[out].packets.pop()
            assert got.flits == [flit], f"{port}->{out}: {got} != {pkt}"
            latencies.append(got.received - pkt.sent)
    write_result("zero_load_latency", {"latencies": latencies})
    assert set(latencies) == {1}, f"zero-load router latency {latencies}, expected 1"
