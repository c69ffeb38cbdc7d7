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
from verif.table_load import load_config_port
from verif.traffic_stats import STAT_READ, live_flags, point_summary

__all__ = []


async def _cycles(dut, n):
    """Advance exactly ``n`` cycles from a falling edge without a Python callback per cycle.

    The timer ends a quarter period after the last rising edge but one, so the
    falling edge that follows is unambiguous (a timer that ends on an edge races
    with it, and the simulators may order the two either way).
    """
    await Timer((n - 1) * CLOCK_NS * 1000 + CLOCK_NS * 250, unit="ps")
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
    extra_names = [n for n in ("gen.suppressed_dead",) if n in man["stat_names"]]
    live = live_flags(man)

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
            # fault-map mode: tables and live list are loaded while the first reset is
            # held (they have no reset), so the schedule is the same as without them
            await start_clock_and_reset(dut, during_reset=load_config_port(dut, man))
        # the cycle of every action, so that the fast model replays the same schedule
        schedule = {"enable": int(dut.cycle.value)}
        ctrl(enable=1, rate=threshold)
        t0 = time.perf_counter()
        await _cycles(dut, p["warmup"])
        ctrl(enable=1, mark=1, rate=threshold)
        c0 = schedule["mark"] = int(dut.cycle.value)
        await _cycles(dut, p["measure"])
        c1 = schedule["unmark"] = int(dut.cycle.value)
        ctrl(enable=1, mark=0, rate=threshold)
        sim_cycles += p["warmup"] + p["measure"]
        drained, waited = False, 0
        schedule["checks"] = []
        while waited < p["drain_limit"]:
            await _cycles(dut, 64)
            sim_cycles += 64
            waited += 64
            schedule["checks"].append(int(dut.cycle.value))
            if int(dut.marked_received.value) == int(dut.marked_generated.value):
                drained = True
                break
        schedule["disable"] = int(dut.cycle.value)
        ctrl(enable=0)       # stop generating; source queues and the network drain
        await _cycles(dut, p["final_drain"])
        sim_cycles += p["final_drain"]
        wall += time.perf_counter() - t0
        schedule["snapshot"] = int(dut.cycle.value)
        # the link counters count the marked window only: read with the rest, at the end
        stats = await reader.snapshot(STAT_READ + [f"sink.hist[{i}]" for i in range(hist_bins)]
                                      + link_names + extra_names)
        dl_stats = await read_dielink_stats(dut, man, n_nodes)
        schedule["end"] = int(dut.cycle.value)
        window = c1 - c0
        point = point_summary(spec, threshold, window, stats, n_nodes, hist_bins, bin_cycles,
                              link_names, drained, waited, int(dut.error.value),
                              dielink_stats=dl_stats, live=live)
        point["schedule"] = schedule
        points.append(point)
        dut._log.info(f"{spec['pattern']} rate {rate:.3f}: accepted {point['accepted_avg']:.3f} "
                      f"(min {point['accepted_min']:.3f}), latency {point['latency_avg']}, "
                      f"drained {drained}")
    write_result("sweep", {"points": points, "sim_cycles": sim_cycles, "wall_s": wall,
                           "cycles_per_s": sim_cycles / wall if wall else None,
                           "nodes": nodes})


async def read_dielink_stats(dut, man, n_nodes):
    """``{counter: [value per die link]}`` of a tile with the die-link layer (else None):
    die link ``k``'s word ``i`` is ``stat_node = nodes + k``, ``stat_index = i``."""
    names = man.get("dielink_stat_names")
    if not names:
        return None
    out = {n: [] for n in names}
    for k in range(len(man["dielink_ends"])):
        for i, n in enumerate(names):
            dut.stat_node.value = n_nodes + k
            dut.stat_index.value = i
            await FallingEdge(dut.clk)
            await FallingEdge(dut.clk)
            out[n].append(int(dut.stat_data.value))
    return out


async def _reset(dut):
    dut.rst.value = 1
    await _cycles(dut, 3)
    dut.rst.value = 0
