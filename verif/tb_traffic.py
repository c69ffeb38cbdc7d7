"""cocotb: measured traffic with the in-RTL generators and sinks.

The method (DESIGN.md section 8): per rate point, reset, warm up, mark the
packets generated in a measurement window, then drain until every marked
packet has arrived (``marked_received == marked_generated``). The Python side
only touches the DUT at phase boundaries and to read the statistics, so the
simulation runs at RTL speed. One build serves every point: rate, pattern and
packet length are runtime registers.
"""

import time

import cocotb
from cocotb.triggers import FallingEdge, Timer

from rtl.measure.traffic import Pattern, control_value, rate_threshold
from verif.tb_common import CLOCK_NS, packet_format, scenario, start_clock_and_reset, write_result

__all__ = []


async def _cycles(dut, n):
    """Advance ``n`` cycles without a Python callback per cycle; ends at a falling edge."""
    if n > 1:
        await Timer((n - 1) * CLOCK_NS, unit="ns")
    await FallingEdge(dut.clk)


class StatReader:
    """Reads a node's statistics word through the registered ``stat_data`` mux."""

    def __init__(self, dut, names, nodes):
        self.dut, self.names, self.nodes = dut, names, nodes
        self.index = {n: i for i, n in enumerate(names)}

    async def read(self, node, name):
        self.dut.stat_node.value = node
        self.dut.stat_index.value = self.index[name]
        await FallingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        return int(self.dut.stat_data.value)

    async def read_wide(self, node, name):
        words = sorted(n for n in self.names if n.startswith(name + ".w"))
        value = 0
        for i, w in enumerate(words):
            value |= await self.read(node, w) << (32 * i)
        return value

    async def snapshot(self, names):
        """``{name: [value per node]}``."""
        out = {n: [] for n in names}
        for node in range(len(self.nodes)):
            for n in names:
                out[n].append(await (self.read_wide(node, n) if n not in self.index
                                     else self.read(node, n)))
        return out


def _percentile(hist, bin_cycles, q):
    total = sum(hist)
    if not total:
        return 0.0
    target, acc = q * total, 0
    for i, count in enumerate(hist):
        if acc + count >= target:
            frac = (target - acc) / count if count else 0
            return (i + frac) * bin_cycles
        acc += count
    return len(hist) * bin_cycles


@cocotb.test()
async def sweep(dut):
    sc = scenario()
    man, p = sc["manifest"], sc["params"]
    fmt = packet_format(man)
    nodes = [tuple(n) for n in man["nodes"]]
    n_nodes = len(nodes)
    hist_bins = sum(1 for n in man["stat_names"] if n.startswith("sink.hist["))
    bin_cycles = man["params"]["node"]["bin_cycles"]
    reader = StatReader(dut, man["stat_names"], nodes)
    link_names = [n for n in man["stat_names"] if n.startswith("link.")]

    points = []
    sim_cycles, wall = 0, 0.0
    for spec in p["points"]:
        rate, packet_len = spec["rate"], spec["packet_len"]

        def ctrl(**fields):
            dut.ctrl.value = control_value(
                fmt.coord_bits, pattern=Pattern[spec["pattern"].upper()], packet_len=packet_len,
                seed=spec.get("seed", 1), hotspot_x=spec.get("hotspot", [0, 0])[0],
                hotspot_y=spec.get("hotspot", [0, 0])[1],
                hotspot_frac=spec.get("hotspot_frac", 64), **fields)

        threshold = rate_threshold(rate, packet_len)
        ctrl()
        if points:
            await _reset(dut)
        else:
            await start_clock_and_reset(dut)
        ctrl(enable=1, rate=threshold)
        t0 = time.perf_counter()
        await _cycles(dut, p["warmup"])
        links0 = await reader.snapshot(link_names)
        ctrl(enable=1, mark=1, rate=threshold)
        c0 = int(dut.cycle.value)
        await _cycles(dut, p["measure"])
        c1 = int(dut.cycle.value)
        ctrl(enable=1, mark=0, rate=threshold)
        wall += time.perf_counter() - t0
        sim_cycles += p["warmup"] + p["measure"]
        links1 = await reader.snapshot(link_names)
        drained, waited = False, 0
        while waited < p["drain_limit"]:
            t0 = time.perf_counter()
            await _cycles(dut, 64)
            wall += time.perf_counter() - t0
            sim_cycles += 64
            waited += 64
            if int(dut.marked_received.value) == int(dut.marked_generated.value):
                drained = True
                break
        ctrl(enable=0)       # stop generating; source queues and the network drain
        await _cycles(dut, p["final_drain"])
        stats = await reader.snapshot(["gen.generated_marked", "gen.suppressed",
                                       "sink.marked_packets", "sink.marked_flits",
                                       "sink.latency_max", "sink.misroutes",
                                       "sink.integrity_errors", "sink.order_errors",
                                       "sink.packets", "gen.generated", "sink.latency_sum",
                                       "router.overflow"]
                                      + [f"sink.hist[{i}]" for i in range(hist_bins)])
        window = c1 - c0
        marked_flits = stats["sink.marked_flits"]
        per_node = [f / window for f in marked_flits]
        packets = sum(stats["sink.marked_packets"])
        hist = [sum(stats[f"sink.hist[{i}]"][n] for n in range(n_nodes)) for i in range(hist_bins)]
        # every marked packet was generated in the window: delivered marked flits per
        # node-cycle is the accepted throughput (the source queue bounds generation)
        point = {
            "pattern": spec["pattern"],
            "packet_len": packet_len,
            "offered": rate,
            "threshold": threshold,
            "accepted_avg": sum(per_node) / n_nodes,
            "accepted_min": min(per_node),
            "generated_marked": sum(stats["gen.generated_marked"]),
            "delivered_marked": packets,
            "suppressed": sum(stats["gen.suppressed"]),
            "latency_avg": sum(stats["sink.latency_sum"]) / packets if packets else None,
            "latency_max": max(stats["sink.latency_max"]),
            "latency_p99": _percentile(hist, bin_cycles, 0.99),
            "histogram": hist,
            "drained": drained,
            "drain_cycles": waited,
            "errors": {k: sum(stats[k]) for k in ("sink.misroutes", "sink.integrity_errors",
                                                   "sink.order_errors", "router.overflow")}
            | {"error_port": int(dut.error.value)},
            "generated_total": sum(stats["gen.generated"]),
            "delivered_total": sum(stats["sink.packets"]),
            "link_flits": {n: [b - a for a, b in zip(links0[n], links1[n])] for n in link_names},
            "window": window,
        }
        points.append(point)
        dut._log.info(f"{spec['pattern']} rate {rate:.3f}: accepted {point['accepted_avg']:.3f} "
                      f"(min {point['accepted_min']:.3f}), latency {point['latency_avg']}, "
                      f"drained {drained}")
    write_result("sweep", {"points": points, "sim_cycles": sim_cycles, "wall_s": wall,
                           "cycles_per_s": sim_cycles / wall if wall else None,
                           "nodes": nodes})


async def _reset(dut):
    dut.rst.value = 1
    await _cycles(dut, 3)
    dut.rst.value = 0
