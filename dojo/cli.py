"""``dojo``: the command line, a thin layer over the generator and simulation functions.

The top layer: it may import everything below (``rtl`` <- ``gen`` <- ``verif`` <-
``sim`` <- ``dojo``), nothing imports it. ``python -m dojo`` is the same as ``dojo``.
The derivation is computed once per command and handed to what needs it.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from gen.config import ConfigError, load_config

from .tops import TOPS, lint_config, top_design

__all__ = ["main"]


def _add_config(p):
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a config value, e.g. router.vcs=2")


def _derive(cfg):
    """The derivation of ``cfg`` for a command that reports it, refusing (before any
    report) a fault map that cannot be routed, as every command that routes it does."""
    from gen.build import cut_map_problem
    from gen.derive import derive
    d = derive(cfg)
    problem = cut_map_problem(cfg, d)
    if problem:
        raise ConfigError([problem])
    return d


def cmd_derive(args):
    from gen.derive import format_report
    from gen.energy import energy_model, format_energy, peak_power
    cfg = load_config(args.config, args.overrides)
    d = _derive(cfg)
    energy = energy_model(cfg, d)
    if args.json:
        watts, _ = peak_power(cfg, d, energy)
        print(json.dumps({**d.as_dict(), "energy": {**energy.as_dict(), "die_peak_bf16_w": watts}},
                         indent=2, sort_keys=True))
    else:
        compare = cfg.name == "d1" if args.compare is None else args.compare
        print(format_report(cfg, d, compare=compare))
        print("\n".join(format_energy(cfg, d, energy, compare=compare)))
    return 0


def cmd_sim(args):
    """The main job: the derivation, then every workload ``--bench``/``--algo`` select from
    the registry (:mod:`sim.workloads`), each checked before any report or run."""
    from gen.derive import format_report
    from sim.workloads import Job, Options, fault_problem, select
    _check_timing_only(args)
    cfg = load_config(args.config, args.overrides)
    sim = _simulator(args.sim)
    d = _derive(cfg)
    out = Path(args.out)
    workloads = select(args.bench, args.algo, d)
    problem = fault_problem(cfg, d, workloads)
    if problem:
        raise ConfigError([problem])
    options = Options(m=args.m, n=args.n, k=args.k, dtype=args.dtype, lines=args.lines,
                      a=args.a, b=args.b, c_out=args.c_out, threads=args.threads,
                      engine=args.engine, timing_only=args.timing_only,
                      preload=args.preload)
    # every workload is checked before any work or report, on the engine asked for
    plans = [w.check(cfg, d, options) for w in workloads]
    out.mkdir(parents=True, exist_ok=True)
    print(format_report(cfg, d))
    (out / "derive.json").write_text(json.dumps(d.as_dict(), indent=2, sort_keys=True) + "\n")
    from gen.provenance import provenance
    summary = {"config": cfg.name, "engine": args.engine,
               "simulator": sim if args.engine == "rtl" else None,
               "timing_only": args.timing_only,
               "provenance": provenance(cfg, args.overrides, 1, args.config)}
    job = Job(sim=sim, out=out, provenance=summary["provenance"], say=print)
    results = [(plan.workload, plan.workload.run(plan, job)) for plan in plans]
    for w, res in results:
        if w.summary_group:
            summary.setdefault(w.summary_group, []).append(res.brief())
        else:
            summary[w.name] = res.brief()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\nsummary")
    for _, res in results:
        print(res.summary())
    written = ["derive.json", "summary.json"] + [f"{w.folder}/{f}" for w, _ in results
                                                 for f in w.files
                                                 if (out / w.folder / f).exists()]
    print(f"reports written to {out}/ ({', '.join(written)})")
    if not all(res.ok for _, res in results):
        print("error: a workload result differs from the golden model", file=sys.stderr)
        return 1
    return 0


def _print_summary(res, label):
    """Zero load, saturation, bound and speed of a sweep; what is not known says why."""
    from sim.sweep import saturation_text, zero_load_text
    speed = res.get("cycles_per_s")
    print(f"zero-load latency {zero_load_text(res)}")
    print(f"saturation throughput {saturation_text(res)}; channel-load bound "
          f"{res['channel_load_bound']:.3f} flits/node/cycle")
    print("simulation speed " + ("not measured" if speed is None else
                                 f"{speed:.0f} simulated cycles/s") + f" ({label})")


def cmd_verilog(args):
    import time
    from gen.build import write
    from gen.provenance import provenance
    cfg = load_config(args.config, args.overrides)
    t0 = time.perf_counter()
    try:
        design = top_design(cfg, args.top)
        path = write(design, args.out, provenance=provenance(cfg, args.overrides, None,
                                                             args.config))
    except ValueError as exc:         # a design the generator refuses (e.g. too wide)
        raise ConfigError([f"--top {args.top}: {exc}"])
    text = design.verilog
    print(f"{path}: {len(text.splitlines())} lines, {len(text) / 1e6:.2f} MB, "
          f"modules {', '.join(design.manifest()['modules'])}; "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"{path.with_suffix('.json')}: manifest (ports, parameters, generator version)")
    return 0


def _patterns():
    from rtl.measure.traffic import Pattern
    return [p.name.lower() for p in Pattern]


def _simulator(name):
    from sim.runner import available_simulators
    if name not in available_simulators():
        raise ConfigError([f"--sim {name!r}: not available here "
                           f"(available: {', '.join(available_simulators())})"])
    return name


def cmd_sweep(args):
    from sim.sweep import parse_rates, plot_compare
    from sim.workloads.traffic import points_table
    cfg = load_config(args.config, args.overrides)
    try:
        rates = parse_rates(args.rates)
    except ValueError as exc:
        raise ConfigError([str(exc)])
    if not 1 <= args.packet_len <= cfg.router.max_packet_flits:
        raise ConfigError([f"--packet-len {args.packet_len}: not allowed: must be in "
                           f"1..{cfg.router.max_packet_flits} (router.max_packet_flits)"])
    sim = _simulator(args.sim)
    timing = {"warmup": args.warmup, "measure": args.measure}
    out = Path(args.out)
    if not args.vary:
        res, = _sweeps(args, [((), cfg, out, args.overrides)], rates, sim, timing)
        print("\n".join(points_table(res)))
        _print_summary(res, "fast model" if args.engine == "model" else sim)
        print(f"reports: {args.out}/sweep.json, sweep.png, heatmap.png, energy.png")
        return 0
    # --vary: one sweep per value, every value's config validated before any runs
    from sim.explore.grid import parse_grid
    (key, values), = parse_grid([args.vary], option="--vary")
    cases = [(((key, value),), load_config(args.config, args.overrides + [f"{key}={value}"]),
              out / f"{key}={value}", args.overrides + [f"{key}={value}"]) for value in values]
    results = _sweeps(args, cases, rates, sim, timing)
    labels = [f"{key}={value}" for value in values]
    from sim.sweep import saturation_text, zero_load_text
    for label, res in zip(labels, results):
        print(f"{label}: zero-load latency {zero_load_text(res)}; saturation "
              f"{saturation_text(res)}")
    plot_compare(results, labels, out / "sweep_compare.png",
                 f"{args.pattern}, {args.packet_len}-flit packets: {key}")
    (out / "sweep_compare.json").write_text(json.dumps(
        {lab: {k: r[k] for k in ("zero_load_latency", "zero_load", "saturated",
                                 "saturation_throughput", "max_accepted",
                                 "channel_load_bound")} for lab, r in zip(labels, results)},
        indent=1) + "\n")
    print(f"reports: {out}/sweep_compare.png, sweep_compare.json and one folder per value")
    return 0


def _sweeps(args, cases, rates, sim, timing):
    """The sweep of every ``(params, cfg, out dir, overrides)``: one point after another in
    this process, or with ``--workers``/``--scheduler`` every point of every case as one
    Dask task (the same points). A failed point is an error (exit 1) naming it. Each
    ``sweep.json`` records its provenance (config, overrides, seed, version, commit)."""
    from gen.provenance import provenance
    from sim.sweep import DEFAULT_TIMING, run_sweep
    timing = {**DEFAULT_TIMING, **timing}
    if args.workers is None and args.scheduler is None:
        return [run_sweep(cfg, pattern=args.pattern, rates=rates, packet_len=args.packet_len,
                          sim=sim, engine=args.engine, threads=args.threads, out=folder,
                          timing=timing, seed=args.seed,
                          provenance=provenance(cfg, overrides, args.seed, args.config))
                for _, cfg, folder, overrides in cases]
    from sim.explore.cluster import dashboard_of, dask_client, run_design_points
    from sim.explore.grid import DesignPoint
    from sim.explore.store import ResultStore
    points = {DesignPoint(params, tuple((k, str(v)) for k, v in params), args.pattern,
                          args.seed, cfg): (folder, overrides)
              for params, cfg, folder, overrides in cases}
    with dask_client(args.workers, args.scheduler) as client:
        link = dashboard_of(client)
        if link:
            print(f"Dask dashboard: {link}")
        sweeps, failures = run_design_points(
            list(points), rates, engine=args.engine, sim=sim, timing=timing,
            packet_len=args.packet_len, threads=args.threads, client=client,
            store=ResultStore(), out_of=lambda dp: points[dp][0],
            provenance=lambda dp: provenance(dp.cfg, points[dp][1], dp.seed, args.config))
    if failures:
        raise PointFailures(failures)
    return [sweeps[dp] for dp in points]


class PointFailures(Exception):
    """Sweep points that failed (each with its parameters and the reason)."""

    def __init__(self, failures):
        self.failures = failures
        super().__init__(f"{len(failures)} point(s) failed")


def cmd_explore(args):
    from sim.explore.grid import design_points, parse_grid, parse_list
    from sim.explore.run import explore
    from sim.sweep import DEFAULT_TIMING, parse_rates
    problems = []

    def check(fn):
        try:
            return fn()
        except ConfigError as exc:
            problems.extend(exc.problems)
        except ValueError as exc:
            problems.append(str(exc))

    grid = check(lambda: parse_grid(args.grid))
    patterns = check(lambda: parse_list("--pattern", args.pattern, _patterns()))
    seeds = check(lambda: parse_list("--seeds", args.seeds, kind=int))
    rates = check(lambda: parse_rates(args.rates))
    sim = check(lambda: _simulator(args.sim))
    if problems:
        raise ConfigError(problems)
    points = design_points(args.config, args.overrides, grid, patterns, seeds, args.packet_len)
    timing = {**DEFAULT_TIMING, "warmup": args.warmup, "measure": args.measure}
    keys = [k for k, _ in grid]
    res = explore(points, keys, rates, out=args.out, engine=args.engine, sim=sim,
                  timing=timing, packet_len=args.packet_len, threads=args.threads,
                  workers=args.workers, scheduler=args.scheduler, fresh=args.fresh,
                  overrides=args.overrides, config_path=args.config,
                  rank=args.rank or "saturation")
    _print_rows(res["rows"], keys, rank=args.rank)
    for f in res["failures"]:
        print(f"error: point {f['label']} at offered {f['rate']} failed: {f['error']}",
              file=sys.stderr)
    out = Path(args.out)
    print(f"reports: {out}/results.csv, results.json, saturation.png, best.png; one folder "
          f"per design point (sweep.json, sweep.png, heatmap.png, energy.png)"
          + (f"; tracebacks in {out}/failures.log" if res["failures"] else ""))
    return 1 if res["failures"] else 0


def _print_rows(rows, keys, rank=None):
    """The explore table: grid order, or with ``rank`` best first (failed points last)."""
    from sim.explore.report import RANKS
    if rank:
        rows = sorted(rows, key=lambda r: (r["status"] != "ok",
                                           RANKS[rank](r) if r["status"] == "ok" else ()))
    head = [k.rsplit(".", 1)[-1] for k in keys] + ["pattern", "seed", "zero-load", "saturation",
                                                   "bound", "of bound", "pJ/flit", "wall s"]
    widths = [max(len(h), 8) for h in head]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    notes = set()
    for r in rows:
        if r["status"] == "ok":
            zl = r["zero_load_latency"]
            if zl is None:
                notes.add("zero-load n/a: the zero-load point did not drain or had no packet "
                          "(see the design point's sweep.json)")
            sat = r["saturation_throughput"]
            if sat is None:
                notes.add("not sat.: no point saturated in the swept range")
            figures = ["n/a" if zl is None else f"{zl:.2f}",
                       "not sat." if sat is None else f"{sat:.3f}",
                       f"{r['channel_load_bound']:.3f}",
                       "n/a" if r["fraction_of_bound"] is None
                       else f"{100 * r['fraction_of_bound']:.0f}%",
                       "n/a" if r.get("pj_per_flit") is None else f"{r['pj_per_flit']:.0f}",
                       f"{r['wall_s']:.1f}"]
        else:
            figures = ["failed", "-", "-", "-", "-", "-"]
        cells = [str(r[k]) for k in keys] + [r["pattern"], str(r["seed"])] + figures
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    for note in sorted(notes):
        print(f"({note})")


def _add_lint_parser(sub, add_config):
    p = sub.add_parser("lint", help="verilator -Wall lint (+ Icarus compile) of the emitted tops")
    add_config(p)
    p.add_argument("--top", action="append", choices=sorted(TOPS),
                   help="top to lint (repeatable; default: router, mesh, noc)")
    p.add_argument("-o", "--out", default="build/lint", help="output directory")
    p.set_defaults(func=cmd_lint)
    return p


def cmd_lint(args):
    from gen.lint import ROOT, WAIVERS
    cfg = load_config(args.config, args.overrides)
    report = lint_config(cfg, tops=args.top or ("router", "mesh", "noc"), out_dir=args.out)
    bad = 0
    for top, r in report.items():
        raw = ", ".join(f"{k} {v}" for k, v in r["raw"].items()) or "none"
        icarus = {True: "ok", False: "FAILED", None: "skipped"}[r.get("icarus")]
        verdict = "clean" if r["clean"] else "NOT CLEAN"
        print(f"{top:7s} {verdict}; icarus {icarus}; waived raw warnings: {raw}")
        for msg in r["messages"][:20]:
            print(f"    {msg}")
        bad += verdict != "clean" or r.get("icarus") is False
    print(f"report: {Path(args.out) / 'lint.json'}; waivers: {WAIVERS.relative_to(ROOT)}")
    return 1 if bad else 0


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: must be an integer >= 1")
    return value


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: must be an integer >= 0")
    return value


def _seed(text):
    """A traffic seed: the generators' seed register is 16 bits wide."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: must be an integer in "
                                         f"0..65535 (the generators' 16-bit seed)")
    return value


def _add_timing_only(p):
    p.add_argument("--timing-only", action="store_true",
                   help="with --engine model: no data values, only the cycles (the same as "
                        "the full model's); results are not computed, so nothing is "
                        "compared against the golden model")


def _add_preload(p, what):
    p.add_argument("--preload", action="store_true",
                   help=f"with --engine model --timing-only: {what} are written into the "
                        f"SRAM instead of sent by the hosts, and nothing is read back (the "
                        f"same step cycles; the load and read-back phases are not run: "
                        f"docs/guide.md)")


def _check_preload(args):
    """``--preload`` without ``--engine model --timing-only``: ConfigError, one line (the
    words of the workloads' refusal, :meth:`sim.workloads.base.Workload.unsupported`)."""
    if args.preload and not (args.engine == "model" and args.timing_only):
        raise ConfigError(["--preload: not allowed without --engine model --timing-only; "
                           "allowed: with --engine model --timing-only (the hosts load the "
                           "full model and the RTL)"])


def _check_timing_only(args):
    """``--timing-only`` without ``--engine model``: ConfigError, one line."""
    if args.timing_only and args.engine != "model":
        raise ConfigError([f"--timing-only: not allowed with --engine {args.engine}; allowed: "
                           f"with --engine model (the RTL always computes the data)"])


def _add_engine(p, what):
    p.add_argument("--engine", choices=["rtl", "model"], default="rtl",
                   help=f"what simulates {what}: rtl (default: the generated Verilog under "
                        f"--sim) or model (the cycle-exact fast model, sim/netmodel: same "
                        f"results, for large meshes and quick sweeps)")
    p.add_argument("--threads", type=_positive, default=None, metavar="N",
                   help="threads of the fast model (default: every core from 1024 nodes "
                        "on, else 1; the results do not depend on it)")


def _add_point_options(p):
    """What every sweep point takes: rates, packet length, simulator, timing."""
    p.add_argument("--rates", default="0.02:0.6:0.04",
                   help="offered flits/node/cycle: START:STOP:STEP or a comma list")
    p.add_argument("--packet-len", type=int, default=1, help="flits per packet")
    p.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                   help="verilator (default, or $SIM) or icarus")
    p.add_argument("--warmup", type=_non_negative, default=1000, help="warm-up cycles per point")
    p.add_argument("--measure", type=_positive, default=3000, help="measurement window, cycles")


def _add_dask(p, serial_default):
    cores = os.cpu_count() or 1
    p.add_argument("--workers", type=_positive, nargs="?", const=cores,
                   default=None if serial_default else cores, metavar="N",
                   help=("run the points as tasks on a local Dask cluster of N worker "
                         f"processes (no N: one per core, {cores} here; default: serial)")
                   if serial_default else
                   f"local Dask cluster of N worker processes (default: one per core, {cores})")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="submit the points to an existing Dask cluster instead "
                        "(e.g. tcp://head:8786; see docs/guide.md)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dojo", description="Dojo-style training-fabric generator: derive, generate, simulate.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("derive", help="physical derivation report (clock/wire -> mesh -> totals)")
    _add_config(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    p.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                   help="print published D1 vs derived (default: on for the d1 preset)")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("sim", help="the main job on a config: derivation, then simulation")
    _add_config(p)
    p.add_argument("--out", default="build/sim", help="report directory (default: build/sim)")
    # the workloads' names come from the registry, checked by it (one error line each)
    from sim.workloads import ALGOS, BENCHES
    algos = dict.fromkeys(a for names in ALGOS.values() for a in names)
    p.add_argument("--bench", metavar="{" + ",".join(("all",) + BENCHES) + "}", default="all",
                   help="what to simulate on the tile (default: all = a traffic sweep, a "
                        "distributed GEMM, the all-reduces (host- and node-driven) and a "
                        "broadcast)")
    p.add_argument("--m", type=int, help="GEMM rows of A and C (default: 4P per node row)")
    p.add_argument("--n", type=int, help="GEMM columns of B and C (default: 4P per node column)")
    p.add_argument("--k", type=int, help="GEMM inner dimension (default: 8P)")
    p.add_argument("--dtype", choices=["int8", "bf16"], default="bf16",
                   help="GEMM operands; the all-reduce uses fp32 lanes for bf16, int32 for int8")
    p.add_argument("--lines", type=int,
                   help="all-reduce / broadcast vector length in SRAM lines (default: 2 per node)")
    p.add_argument("--algo", metavar="{" + ",".join(algos) + "}",
                   help="with --bench allreduce: host (the hosts drive a ring), ring or 2d (the "
                        "nodes run their own programs); with --bench gemm: host, cannon "
                        "(square grids) or summa (resident operands, node programs); default: "
                        "every one that fits the grid, side by side")
    p.add_argument("--a", help="A matrix .npy (bf16: uint16 bit patterns or float32 holding exact bf16)")
    p.add_argument("--b", help="B matrix .npy (same convention)")
    p.add_argument("--c-out", help="write C here (.npy: float32 for bf16, int32 for int8)")
    p.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                   help="verilator (default, or $SIM) or icarus")
    _add_engine(p, "every workload")
    _add_timing_only(p)
    p.add_argument("--preload", action="store_true",
                   help="with --engine model --timing-only: the node programs' data and "
                        "programs are written into the SRAM instead of sent by the hosts, "
                        "and nothing is read back (the same workload cycles; the load and "
                        "read-back phases are not run: docs/guide.md)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("verilog", help="emit Verilog and a JSON manifest for a top")
    _add_config(p)
    p.add_argument("--top", choices=sorted(TOPS), default="noc",
                   help="; ".join(f"{k}: {v[1]}" for k, v in TOPS.items()))
    p.add_argument("-o", "--out", default="build/verilog", help="output directory")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("sweep", help="latency-throughput sweep with the in-RTL traffic generators")
    _add_config(p)
    p.add_argument("--pattern", choices=_patterns(), default="uniform")
    _add_point_options(p)
    p.add_argument("--vary", metavar="KEY.PATH=V1,V2,...",
                   help="one sweep per value, curves on one plot (e.g. dielink.ratio=1,2,4)")
    p.add_argument("--seed", type=_seed, default=1,
                   help="traffic seed (integer 0..65535, default 1; recorded in sweep.json)")
    p.add_argument("--out", default="build/sweep", help="report directory")
    _add_engine(p, "the sweep")
    _add_dask(p, serial_default=True)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("explore", help="a grid of design points swept on Dask, into a "
                                       "resumable results folder (CSV, JSON, plots)")
    _add_config(p)
    p.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                   help="a config key and its values (repeatable: the cross product is run), "
                        "e.g. --grid router.vcs=1,2,4 --grid router.buffer_depth=4,8")
    p.add_argument("--pattern", default="uniform", metavar="P1,P2,...",
                   help=f"traffic patterns, comma-separated ({', '.join(_patterns())})")
    p.add_argument("--seeds", default="1", metavar="S1,S2,...",
                   help="traffic seeds, comma-separated (one design point each)")
    _add_point_options(p)
    p.add_argument("--out", default="build/explore",
                   help="results folder; a rerun with the same folder skips finished points")
    p.add_argument("--fresh", action="store_true",
                   help="forget the folder's finished points and measure everything again")
    p.add_argument("--rank", choices=["saturation", "energy"],
                   help="print the design points best first, and order best.png, by "
                        "saturation throughput or by energy per delivered flit at the highest "
                        "stable load (default: grid order; best.png by saturation)")
    _add_engine(p, "the sweeps")
    _add_dask(p, serial_default=False)
    p.set_defaults(func=cmd_explore)

    _add_run_parser(sub)
    _add_study_parser(sub)

    from gen.fpga import add_fpga_parser
    _add_lint_parser(sub, _add_config)
    add_fpga_parser(sub, _add_config)
    return parser


def cmd_run(args):
    """A training step (``WORKLOAD``, a file of ``workloads/``) on the config's tile: checked
    and compiled before anything runs, then run on the RTL (:mod:`sim.step`)."""
    from sim.workloads import Job, Options
    from sim.workloads.registry import STEPS
    _check_timing_only(args)
    cfg = load_config(args.config, args.overrides)
    d = _derive(cfg)
    entry = STEPS["step"]
    plan = entry.check(cfg, d, Options(engine=args.engine, workload=args.workload,
                                       seed=args.seed, timing_only=args.timing_only,
                                       preload=args.preload))
    from sim.runner import available_simulators
    # the timeline comes from a watched run: Icarus's on the RTL, the model's own records
    # on the fast engine (sim.step.records)
    trace = None if args.no_timeline else "icarus"
    if trace and args.engine == "rtl" and trace not in available_simulators():
        raise ConfigError(["--timeline: the timeline's run needs Icarus Verilog (iverilog), "
                           "not installed here; allowed: --no-timeline"])
    job = Job(sim=_simulator(args.sim), out=Path(args.out), say=print,
              shared={"trace_sim": trace})
    res = entry.run(plan, job, out_dir=args.out)
    print(res.summary())
    return 0 if res.ok else 1


def _add_run_parser(sub):
    p = sub.add_parser("run", help="a training step from a workload file on the tile")
    _add_config(p)
    p.add_argument("workload", help="workload YAML (see workloads/)")
    p.add_argument("--out", default="build/run", help="report directory (default: build/run)")
    p.add_argument("--engine", choices=("rtl", "model"), default="rtl",
                   help="rtl (default: the generated Verilog under --sim) or model (the "
                        "fast engine, sim/netmodel: the same cycles, results and "
                        "timeline)")
    _add_timing_only(p)
    _add_preload(p, "the step's programs and operands")
    p.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                   help="verilator (default, or $SIM) or icarus")
    p.add_argument("--seed", type=_seed, default=0, help="operands' seed (default 0)")
    p.add_argument("--no-timeline", action="store_true",
                   help="skip the watched run (Icarus on the RTL, the model's cycle "
                        "records on the fast engine) that gives the timeline and the "
                        "per-node breakdown (the MAC counters only)")
    p.set_defaults(func=cmd_run)


def _parse_dies(text):
    """``--dies 1x1,2x1,2x2`` -> ``[(1, 1), (2, 1), (2, 2)]`` (ConfigError, one line)."""
    out = []
    for part in text.split(","):
        a, sep, b = part.strip().partition("x")
        if not sep or not a.isdigit() or not b.isdigit() or int(a) < 1 or int(b) < 1:
            raise ConfigError([f"--dies {text}: {part!r} is not allowed; allowed: a comma-"
                               f"separated list of DXxDY die counts, e.g. 1x1,2x1,2x2"])
        out.append((int(a), int(b)))
    return out


def cmd_study(args):
    """``dojo study scaleout`` / ``dojo study nodesize``: the training step from one die to
    the tile next to the GPU-cluster reference (:mod:`sim.step.study`), or on nodes of
    different size at constant die area (:mod:`sim.step.nodesize`); both on Dask."""
    from sim.step.compiler import compile_step
    from sim.step.gpu import load_gpu
    from sim.step.spec import load_workload
    from sim.step.study import choose_engine, default_dies, run_scaleout, study_points
    from verif.node_model import NodeModel
    cfg = load_config(args.config, args.overrides)
    derived = _derive(cfg)
    choice = None
    if args.engine is None:
        if args.study == "scaleout" and not (args.timing_only or args.preload) \
                and not args.per_edge:
            dies = _parse_dies(args.dies) if args.dies else default_dies(cfg)
            args.engine, args.timing_only, args.preload, choice = choose_engine(cfg, dies)
            if choice:
                print(choice)
        else:
            args.engine = "rtl"
    _check_timing_only(args)
    _check_preload(args)
    if args.preload and args.study == "nodesize":
        raise ConfigError(["--preload: not allowed with dojo study nodesize (its points run "
                           "on the RTL only); allowed: with dojo study scaleout"])
    if args.engine == "model" and args.study == "nodesize":
        raise ConfigError(["--engine model: not allowed with dojo study nodesize (its "
                           "points run on the RTL only); allowed: rtl, or model with "
                           "dojo study scaleout"])
    step = load_workload(args.workload)
    sim = _simulator(args.sim) if args.engine == "rtl" else None
    if args.study == "nodesize":
        if args.strong_tokens is not None:
            raise ConfigError([f"--strong-tokens: {args.strong_tokens} is not allowed for "
                               f"nodesize; allowed: with dojo study scaleout"])
        return _cmd_nodesize(args, cfg, derived, step, sim)
    if args.per_edge:
        raise ConfigError([f"--per-edge: {args.per_edge!r} is not allowed for scaleout; "
                           f"allowed: with dojo study nodesize"])
    gpu = load_gpu(args.gpu)
    dies = _parse_dies(args.dies) if args.dies else default_dies(cfg)
    from gen.config import config_from_dict
    from gen.derive import derive
    from sim.step.gpu import step_seconds
    if args.strong_tokens is not None and args.strong_tokens < 1:
        raise ConfigError([f"--strong-tokens: {args.strong_tokens} is not allowed; allowed: "
                           f"a global batch of at least 1 token"])
    points = study_points(cfg, step, dies, derived, args.engine, args.timing_only,
                          args.strong_tokens)
    smallest = min((dd[0] * dd[1], dd) for _, dd, _, _ in points)[1]
    for mode, dd, ov, st in points:
        try:                                 # the GPU reference of every point, before work
            step_seconds(gpu, st)
        except ValueError as exc:
            raise ConfigError([f"--dies {dd[0]}x{dd[1]}: the GPU reference ({gpu.name}): "
                               f"{exc}; allowed: fabrics whose replicas it models"]) from None
        if mode == "weak" and dd == smallest:
            # the smallest fabric's weak point must compile; a larger point the compiler
            # refuses (e.g. the SRAM a ring over many replicas needs) is reported refused
            c = config_from_dict(cfg.raw, ov)
            d = derive(c)
            try:
                compile_step(c, d, st, NodeModel.from_config(c, d), data=False)
            except ValueError as exc:
                raise ConfigError([f"--dies {dd[0]}x{dd[1]}: {exc}"]) from None
    study = _on_dask(args, run_scaleout, cfg, derived, step, dies=dies, sim=sim, gpu=gpu,
                     engine=args.engine, timing_only=args.timing_only,
                     strong_tokens=args.strong_tokens, preload=args.preload,
                     engine_choice=choice)
    if args.timing_only:
        print("  timing only: the cycles without data values (results not computed, not "
              "compared against the golden model)")
    if args.preload:
        print("  preloaded: programs and operands written into the SRAM; the load through "
              "the hosts not run, not included in any figure")
    sb = study["strong_batch"]
    print(f"  strong scaling: a fixed global batch of {sb['tokens']} tokens ({sb['base']}), "
          f"split evenly on {sb['points']} of {len(dies)} fabrics")
    for r in study["points"]:
        fab = _point_text(r, lambda: (
            f"{r['step_cycles']} cycles, speed-up {r['speedup']:.2f}, efficiency "
            f"{100 * r['efficiency']:.0f}%, exposed communication " + (
                f"{100 * r['exposed_communication_fraction']:.0f}% of communication"
                if "exposed_communication_fraction" in r else
                "not measured (no watched run)")))
        if r["replicas"] is None:            # a strong point without an even split
            print(f"  {r['mode']:6s} {r['dies'][0]}x{r['dies'][1]} dies: {fab}")
            continue
        print(f"  {r['mode']:6s} {r['dies'][0]}x{r['dies'][1]} dies, {r['replicas']:3d} replicas "
              f"x {r['tokens_per_replica']} tokens: {fab}; GPUs speed-up "
              f"{r['gpu']['speedup']:.2f}")
    print(f"reports: {args.out}/study.json, scaleout.png; points in {args.out}/points")
    return _study_exit(study)


def _on_dask(args, run, *a, **kw):
    """``run(*a, client=..., out=args.out, fresh=args.fresh, **kw)`` on the Dask cluster of
    ``--workers`` / ``--scheduler`` (its dashboard printed): a study's points."""
    from sim.explore.cluster import dask_client, dashboard_of
    with dask_client(workers=args.workers, scheduler=args.scheduler) as client:
        link = dashboard_of(client)
        if link:
            print(f"Dask dashboard: {link}")
        return run(*a, client=client, out=args.out, fresh=args.fresh, **kw)


def _point_text(row, measured):
    """A study point's line: ``measured()`` (marked when its results differ from the golden
    model) or its status and reason."""
    if row["status"] != "ok":
        return f"{row['status']}: {row.get('reason', '')}"
    # a timing-only point's match is None: its values were not computed, not compared
    return ("MISMATCH vs golden, " if row["match"] is False else "") + measured()


def _study_exit(study):
    """1 when a point failed or a measured point's results differ from the golden model."""
    return 1 if study["failures"] or any(r["status"] == "ok" and r["match"] is False
                                         for r in study["points"]) else 0


def _cmd_nodesize(args, cfg, derived, step, sim):
    """``dojo study nodesize``: one point per node count per die edge (:mod:`sim.step.nodesize`)."""
    from sim.step.nodesize import default_per_edge, nodesize_points, run_nodesize
    if args.dies:
        raise ConfigError([f"--dies: {args.dies!r} is not allowed for nodesize (it keeps the "
                           f"config's dies); allowed: with dojo study scaleout"])
    if args.per_edge:
        try:
            per_edge = [int(v) for v in args.per_edge.split(",")]
        except ValueError:
            raise ConfigError([f"--per-edge: {args.per_edge!r} is not allowed; allowed: "
                               f"node counts per die edge, e.g. 1,2,4"]) from None
    else:
        per_edge = default_per_edge(cfg, derived)
    points = nodesize_points(cfg, step, derived, per_edge)     # ConfigError before any work
    if all(pt.refused for pt in points):
        raise ConfigError([f"--per-edge: {per_edge}: every point is refused (first: "
                           f"{points[0].per_edge} per edge: {points[0].refused}); allowed: "
                           f"node sizes the step fits"])
    sweep = _on_dask(args, run_nodesize, cfg, derived, step, per_edge=per_edge, sim=sim)
    for r in sweep["points"]:
        what = _point_text(r, lambda: (
            f"{r['step_cycles']} cycles ({r['step_seconds'] * 1e6:.2f} us), "
            f"{r['hop_cycles']} cycles per hop, compute {r['compute_cycles']['mean']:.0f}, "
            f"exposed communication {r['exposed_communication_cycles']['mean']:.0f} cycles "
            f"per node"))
        print(f"  {r['per_edge']}x{r['per_edge']} nodes per die, pitch {r['pitch_mm']:.3f} mm, "
              f"P={r['matrix_p']:g}, {r['sram_kb']:g} KB: {what}")
    print(f"reports: {args.out}/nodesize.json, nodesize.png; points in {args.out}/points")
    return _study_exit(sweep)


def _add_study_parser(sub):
    p = sub.add_parser("study", help="studies of a training step (scaleout, nodesize)")
    p.add_argument("study", choices=("scaleout", "nodesize"),
                   help="scaleout: one die up to the tile; nodesize: nodes of different "
                        "pitch at constant die area and clock")
    _add_config(p)
    p.add_argument("workload", help="workload YAML (see workloads/)")
    p.add_argument("--out", default="build/study", help="report directory (default: build/study)")
    p.add_argument("--dies", default=None, metavar="DXxDY,...",
                   help="scaleout: fabrics to run (default: 1x1, 2x1, 2x2, 3x3, 5x5 up to "
                        "the config's tile)")
    p.add_argument("--per-edge", default=None, metavar="N,...",
                   help="nodesize: nodes per die edge (default: 1 up to what the RTL runs)")
    p.add_argument("--gpu", default=str(Path(__file__).resolve().parent.parent / "configs" / "gpu"
                                        / "a100.yaml"),
                   help="GPU-cluster reference YAML (default: configs/gpu/a100.yaml)")
    p.add_argument("--engine", choices=("rtl", "model"), default=None,
                   help="scaleout: rtl (up to 64 nodes) or model (the fast engine: larger "
                        "fabrics); default: the RTL when every fabric fits it, else the "
                        "model (timing only and --preload when its flits are over 64 bits, "
                        "as the D1 preset's), the choice printed and kept in study.json; "
                        "nodesize: rtl")
    p.add_argument("--strong-tokens", type=int, default=None, metavar="N",
                   help="scaleout: the strong scaling's fixed global batch, split evenly "
                        "at every point (default: the weak batch most fabrics split)")
    _add_timing_only(p)
    _add_preload(p, "every point's programs and operands")
    p.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                   help="verilator (default, or $SIM) or icarus")
    p.add_argument("--fresh", action="store_true", help="run every point again")
    _add_dask(p, serial_default=False)
    p.set_defaults(func=cmd_study)


def output_problems(args):
    """What is wrong with the output paths of a command's arguments, one line each: every
    command's ``--out``/``-o`` must be a directory, or a path that can be made one (no
    existing file on it, writable), and ``dojo sim --c-out`` a file in an existing
    directory. Checked before any work starts (a simulation must not end in a traceback
    for want of a place to write its reports)."""
    problems = []
    for option, dest, kind in (("--out", "out", "dir"), ("--c-out", "c_out", "file")):
        value = getattr(args, dest, None)
        if value is None:
            continue
        path = Path(value)
        allowed = "a directory, existing or to be created (no file on the path), writable"
        if kind == "file":
            allowed = "a file name (.npy) in an existing, writable directory"
            if path.is_dir():
                problems.append(f"{option} {value}: is a directory; allowed: {allowed}")
                continue
            path = path.parent
            if not path.is_dir():
                problems.append(f"{option} {value}: {str(path)!r} is not a directory; "
                                f"allowed: {allowed}")
                continue
        first = next(p for p in (path, *path.parents) if p.exists())
        if not first.is_dir():
            where = "is a file" if first == path else f"lies under {str(first)!r}, a file"
            problems.append(f"{option} {value}: {where}; allowed: {allowed}")
        elif not os.access(first, os.W_OK | os.X_OK):
            where = "is" if first == path else f"lies under {str(first)!r}, which is"
            problems.append(f"{option} {value}: {where} not writable; allowed: {allowed}")
    return problems


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        problems = output_problems(args)
        if problems:
            raise ConfigError(problems)
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except PointFailures as exc:
        for f in exc.failures:
            print(f"error: point {f['label']} at offered {f['rate']} failed: {f['error']}",
                  file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader of the output went away (``dojo derive ... | head``): stop quietly; the
        # interpreter's final flush of stdout would raise again, so stdout goes to devnull
        # (the Python documentation's recipe, "Note on SIGPIPE")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
