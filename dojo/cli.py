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
    cfg = load_config(args.config, args.overrides)
    d = _derive(cfg)
    if args.json:
        print(json.dumps(d.as_dict(), indent=2, sort_keys=True))
    else:
        print(format_report(cfg, d, compare=args.compare))
    return 0


def cmd_sim(args):
    from gen.derive import format_report
    cfg = load_config(args.config, args.overrides)
    sim = _simulator(args.sim)
    d = _derive(cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_algo(args)
    gemms = _gemm_algos(args, d)
    collectives = _collectives(args)
    _check_fault_map(cfg, d, gemms, collectives)
    gemm = _gemm_request(args, cfg, d) if "host" in gemms else None
    resident = {algo: _resident_request(args, algo, cfg, d) for algo in gemms if algo != "host"}
    kind = "fp32" if args.dtype == "bf16" else "int32"
    for algo in collectives:            # every argument is checked before any work or report
        try:
            if algo == "host":
                from sim.allreduce import check_allreduce
                check_allreduce(cfg, lines=args.lines, dtype=kind, derived=d)
            else:
                from sim.collectives import check_collective, live_ring
                n = len(live_ring(cfg, d))
                check_collective(cfg, algo, lines=args.lines or 2 * n, derived=d)
        except ValueError as exc:
            raise ConfigError([f"{'broadcast' if algo == 'broadcast' else 'allreduce'} "
                               f"--algo {algo}: {exc}"])
    print(format_report(cfg, d))
    (out / "derive.json").write_text(json.dumps(d.as_dict(), indent=2, sort_keys=True) + "\n")
    from gen.provenance import provenance
    summary = {"config": cfg.name, "simulator": sim,
               "provenance": provenance(cfg, args.overrides, 1, args.config)}
    if args.bench in ("all", "traffic"):
        from sim.sweep import run_sweep
        mx, my = d.tile.mesh_x, d.tile.mesh_y
        label = sim if args.engine == "rtl" else "fast model"
        print(f"\ntraffic: {mx}x{my} mesh, uniform random, single-flit packets ({label})")
        res = run_sweep(cfg, pattern="uniform", rates=[0.05, 0.2, 0.35, 0.5, 0.65, 0.8],
                        sim=sim, engine=args.engine, threads=args.threads, out=out / "traffic",
                        timing={"warmup": 500, "measure": 2000}, derived=d,
                        provenance=summary["provenance"])
        _print_points(res)
        summary["traffic"] = {k: res[k] for k in ("zero_load_latency", "zero_load",
                                                  "saturated", "saturation_throughput",
                                                  "saturation_offered", "max_accepted",
                                                  "channel_load_bound", "cycles_per_s")}
    if gemm:
        summary["gemm"] = _gemm(args, gemm, cfg, d, sim, out)
    for algo, request in resident.items():
        summary[algo] = _resident(args, algo, request, cfg, d, sim, out)
    if collectives:
        summary["collectives"] = _collectives_run(args, collectives, cfg, d, sim, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\nsummary")
    if "traffic" in summary:
        from sim.sweep import saturation_text, zero_load_text
        t = summary["traffic"]
        speed = t["cycles_per_s"]
        print(f"  zero-load latency       {zero_load_text(t)}")
        print(f"  saturation throughput   {saturation_text(t)} "
              f"(channel-load bound {t['channel_load_bound']:.3f})")
        print(f"  simulation speed        "
              + ("not measured" if speed is None else f"{speed:.0f} cycles/s")
              + f" ({sim if args.engine == 'rtl' else 'fast model'})")
    if "gemm" in summary:
        g = summary["gemm"]
        print(f"  GEMM {g['m']}x{g['n']}x{g['k']} {g['dtype']}  "
              f"{'bit-exact vs golden' if g['match'] else 'MISMATCH vs golden'} on "
              f"{g['nodes']} nodes, {g['total_cycles']} cycles, "
              f"{100 * g['peak_fraction']:.1f}% of peak MACs "
              f"(engines alone {100 * g['compute_peak_fraction']:.1f}%)")
    for algo in resident:
        g = summary[algo]
        print(f"  GEMM {g['m']}x{g['n']}x{g['k']} {g['dtype']}  node-driven {_NAMES[algo]}, resident "
              f"operands: {'bit-exact vs golden' if g['match'] else 'MISMATCH vs golden'}, "
              f"compute phase {g['compute_cycles']} cycles = "
              f"{100 * g['compute_peak_fraction']:.1f}% of peak MACs (with the load and "
              f"read-back {g['total_cycles']} cycles, {100 * g['peak_fraction']:.1f}%)")
    for r in summary.get("collectives", []):
        what = ("broadcast" if r["algo"] == "broadcast" else
                f"all-reduce, {'host-driven ring' if r['algo'] == 'host' else 'node-driven ' + r['algo']}")
        model = (f" (alpha-beta model {r['model_cycles']}, measured/model "
                 f"{r['measured_over_model']:.2f})" if r.get("model_cycles") else "")
        print(f"  {what:32s} {r['lines']} lines {r['dtype']}, {r['nodes']} nodes: "
              f"{r['cycles']} cycles{model}, "
              f"{'exact vs golden' if r['match'] else 'MISMATCH vs golden'}")
    written = ["derive.json", "summary.json"]
    if "traffic" in summary:
        written += ["traffic/sweep.json", "traffic/sweep.png", "traffic/heatmap.png"]
    if "gemm" in summary:
        written += ["gemm/result.json", "gemm/C.npy"]
    for algo in resident:
        written += [f"{algo}/result.json", f"{algo}/C.npy"]
    written += [f"{r['algo']}/result.json" for r in summary.get("collectives", [])]
    print(f"reports written to {out}/ ({', '.join(written)})")
    if any(not r["match"] for r in [summary.get("gemm", {"match": True})]
           + [summary[algo] for algo in resident] + summary.get("collectives", [])):
        print("error: a workload result differs from the golden model", file=sys.stderr)
        return 1
    return 0


def _check_fault_map(cfg, derived, gemms, collectives):
    """With a fault map (or table routing) the training-node workloads that cannot run on
    it are refused up front, together (:func:`gen.build.compute_fault_problem`): the
    host-driven GEMM, the node-driven ring all-reduce and the broadcast skip disabled
    nodes, the others address every node; traffic sweeps honour any map."""
    from gen.build import compute_fault_problem
    skips = {"gemm --algo host", "allreduce --algo ring", "broadcast"}
    labels = [f"gemm --algo {a}" for a in gemms] + \
        [a if a == "broadcast" else f"allreduce --algo {a}" for a in collectives]
    problem = compute_fault_problem(cfg, derived, workloads={w: w in skips for w in labels})
    if problem:
        raise ConfigError([f"{problem}; allowed: --bench traffic, or with disabled nodes "
                           f"only --bench gemm --algo host, --bench allreduce --algo ring, "
                           f"--bench broadcast"])


_ALGOS = {"gemm": ("host", "cannon", "summa"), "allreduce": ("host", "ring", "2d")}
_NAMES = {"cannon": "Cannon", "summa": "SUMMA"}


def _check_algo(args):
    if args.algo and args.algo not in _ALGOS.get(args.bench, ()):
        allowed = "; ".join(f"--bench {b}: {', '.join(a)}" for b, a in _ALGOS.items())
        raise ConfigError([f"--algo {args.algo}: not allowed with --bench {args.bench} "
                           f"({allowed})"])


def _gemm_algos(args, derived):
    """The GEMMs ``dojo sim`` runs: ``--algo`` picks one; by default the host-driven one
    and Cannon's, or SUMMA where the grid of nodes is not square (Cannon needs a square
    one)."""
    if args.bench == "gemm" and args.algo:
        return [args.algo]
    if args.bench not in ("all", "gemm"):
        return []
    if derived.tile.mesh_x != derived.tile.mesh_y:
        return ["host", "summa"]
    return ["host", "cannon"]


def _resident_request(args, algo, cfg, derived):
    """``(m, n, k)`` of a GEMM on resident operands, checked before anything runs.
    Defaults: Cannon a 4P x 4P block of C per node and K = 16P; SUMMA a 2P x 2P block
    and 4P per step."""
    from math import lcm
    from sim.cannon import check_cannon
    from sim.summa import check_summa
    if args.a or args.b:
        raise ConfigError(["--a/--b: only the host-driven GEMM takes given matrices "
                           "(--algo host)"])
    p, px, py = cfg.node.matrix_p, derived.tile.mesh_x, derived.tile.mesh_y
    if algo == "cannon":
        m = args.m or px * 4 * p
        n, k = args.n or m, args.k or 16 * p
    else:
        m, n, k = args.m or 2 * p * py, args.n or 2 * p * px, args.k or 4 * p * lcm(px, py)
    try:
        (check_cannon if algo == "cannon" else check_summa)(cfg, m=m, n=n, k=k,
                                                            dtype=args.dtype, derived=derived)
    except ValueError as exc:
        raise ConfigError([f"gemm --algo {algo}: {exc}"])
    return m, n, k


def _resident(args, algo, request, cfg, derived, sim, out):
    from sim.cannon import run_cannon
    from sim.summa import run_summa
    m, n, k = request
    print(f"\nGEMM: C = A x B, {m}x{k} x {k}x{n}, {args.dtype}, {_NAMES[algo]} run by the "
          f"nodes, A and B resident in their SRAM ({sim})")
    run = run_cannon if algo == "cannon" else run_summa
    res = run(cfg, m=m, n=n, k=k, dtype=args.dtype, sim=sim, out_dir=out / algo,
              derived=derived)
    print(f"  {'bit-exact' if res['match'] else 'MISMATCH'} vs golden; {res['nodes']} nodes, "
          f"blocks {res['block'][0]}x{res['block'][1]}x{res['block'][2]} double-buffered; "
          f"load {res['load_cycles']} (hosts), compute {res['compute_cycles']} (nodes), "
          f"read-back {res['read_cycles']} cycles; {100 * res['compute_peak_fraction']:.1f}% of "
          f"peak MACs over the compute phase, {100 * res['peak_fraction']:.1f}% over all")
    return {key: res[key] for key in ("m", "n", "k", "dtype", "nodes", "match", "compute_cycles",
                                      "total_cycles", "compute_peak_fraction", "peak_fraction")}


def _gemm_request(args, cfg, derived):
    """The GEMM the arguments ask for, ``(m, n, k, a, b)``, checked before anything runs."""
    import numpy as np
    from sim.gemm import check_tile_gemm, tile_gemm_shape
    try:
        a = np.load(args.a) if args.a else None
        b = np.load(args.b) if args.b else None
    except (OSError, ValueError) as exc:
        raise ConfigError([f"--a/--b: cannot read the matrix ({exc})"])
    try:
        dm, dn, dk = tile_gemm_shape(cfg, derived, args.dtype)
        m = a.shape[0] if a is not None else (args.m or dm)
        k = a.shape[1] if a is not None else (args.k or dk)
        n = b.shape[1] if b is not None else (args.n or dn)
        check_tile_gemm(cfg, m=m, n=n, k=k, dtype=args.dtype, a=a, b=b, derived=derived)
    except ValueError as exc:
        raise ConfigError([f"gemm: {exc}"])
    return m, n, k, a, b


def _gemm(args, request, cfg, derived, sim, out):
    import shutil
    from sim.gemm import run_tile_gemm
    m, n, k, a, b = request
    print(f"\nGEMM: C = A x B, {m}x{k} x {k}x{n}, {args.dtype}, distributed over the tile, "
          f"hosts at the tile edge ({sim})")
    try:
        res = run_tile_gemm(cfg, m=m, n=n, k=k, dtype=args.dtype, a=a, b=b, sim=sim,
                            out_dir=out / "gemm", derived=derived)
    except ValueError as exc:
        raise ConfigError([f"gemm: {exc}"])
    if args.c_out:
        shutil.copy(out / "gemm" / "C.npy", args.c_out)
    print(f"  {'bit-exact' if res['match'] else 'MISMATCH'} vs golden; {res['nodes']} nodes, "
          f"blocks {res['block'][0]}x{res['block'][1]}x{res['block'][2]}; load + compute "
          f"{res['load_and_compute_cycles']}, gather {res['gather_cycles']}, total "
          f"{res['total_cycles']} cycles; {100 * res['peak_fraction']:.1f}% of peak MACs "
          f"(engines alone {100 * res['compute_peak_fraction']:.1f}%)")
    return {key: res[key] for key in ("m", "n", "k", "dtype", "nodes", "match", "total_cycles",
                                      "peak_fraction", "compute_peak_fraction")}


def _collectives(args):
    """The collectives ``dojo sim`` runs: ``--algo`` picks one all-reduce; ``all`` runs
    the host-driven ring, both node-driven all-reduces and the broadcast."""
    if args.bench == "broadcast":
        return ["broadcast"]
    if args.bench == "allreduce":
        return [args.algo] if args.algo else ["host", "ring", "2d"]
    if args.bench == "all":
        return ["host", "ring", "2d", "broadcast"]
    return []


def _collectives_run(args, algos, cfg, derived, sim, out):
    from sim.allreduce import run_allreduce
    from sim.collectives import measure_alpha, run_collective
    kind = "fp32" if args.dtype == "bf16" else "int32"
    alpha = None
    rows = []
    for algo in algos:
        if algo == "host":
            print(f"\nall-reduce, host-driven: ring over every node, {kind} ({sim})")
            res = run_allreduce(cfg, lines=args.lines, dtype=kind, sim=sim,
                                out_dir=out / "host", derived=derived)
            mdl = res["model"]
            print(f"  {'exact' if res['match'] else 'MISMATCH'} vs golden on every node; "
                  f"{res['nodes']} nodes, {res['lines']} lines; {res['cycles']} cycles; model "
                  f"2(N-1)(alpha + beta F) = {mdl['steps']} x ({mdl['alpha']} + {mdl['beta']} x "
                  f"{mdl['flits_per_step']}) = {mdl['cycles']} cycles")
            rows.append({"algo": "host", "nodes": res["nodes"], "lines": res["lines"],
                         "dtype": kind, "match": res["match"], "cycles": res["cycles"],
                         "model_cycles": mdl["cycles"],
                         "measured_over_model": res["measured_over_model"]})
            continue
        if algo != "broadcast" and alpha is None:
            alpha = measure_alpha(cfg, sim=sim, derived=derived)
            print(f"\nnode programs: zero-load step latency (a token round the ring) "
                  f"{alpha['alpha']} cycles")
        label = "broadcast down a binary tree" if algo == "broadcast" else \
            f"all-reduce, node-driven {algo}"
        print(f"\n{label}, {kind} ({sim})")
        res = run_collective(cfg, algo, lines=args.lines, dtype=kind, sim=sim,
                             out_dir=out / algo, derived=derived,
                             alpha=alpha["alpha"] if alpha else None)
        extra = ""
        if "model" in res:
            terms = " + ".join(f"{ph['steps']} x ({ph['alpha']} + {ph['beta']} x {ph['flits']})"
                               for ph in res["model"]["phases"])
            extra = f"; model {terms} = {res['model']['cycles']} cycles"
        print(f"  {'exact' if res['match'] else 'MISMATCH'} vs golden on every node; "
              f"{res['nodes']} nodes, {res['lines']} lines; {res['cycles']} cycles{extra}; "
              f"programs of at most {res['program_descriptors']} descriptors")
        rows.append({"algo": algo, "nodes": res["nodes"], "lines": res["lines"], "dtype": kind,
                     "match": res["match"], "cycles": res["cycles"],
                     "model_cycles": res.get("model", {}).get("cycles"),
                     "measured_over_model": res.get("measured_over_model")})
    return rows


def _print_points(res):
    """The points of a sweep as a table, then what is known of zero load and saturation."""
    from sim.sweep import THROTTLE_LIMIT
    print(f"{'offered':>8s} {'gen/off':>8s} {'accepted':>9s} {'min':>6s} {'lat avg':>8s} "
          f"{'p99':>7s} {'max':>5s}")
    clipped = throttled = False
    for p in res["points"]:
        lat = "n/a" if p["latency_avg"] is None else f"{p['latency_avg']:8.1f}"
        if p["latency_p99"] is not None:
            p99 = f"{p['latency_p99']:7.1f}"
        elif p.get("latency_p99_clipped"):
            p99, clipped = f">{p['latency_p99_lower_bound']}", True
        else:
            p99 = "n/a"
        frac = p.get("generated_over_offered")
        gen = "n/a" if frac is None else f"{frac:.3f}" + ("T" if p.get("throttled") else " ")
        throttled |= bool(p.get("throttled"))
        print(f"{p['offered']:8.3f} {gen:>8s} {p['accepted_avg']:9.3f} {p['accepted_min']:6.3f} "
              f"{lat:>8s} {p99:>7s} {p['latency_max']:5d}"
              + ("" if p["drained"] else "  (not drained)"))
    if throttled:
        print(f"(T: throttled: the full source queues suppressed more than "
              f"{1 - THROTTLE_LIMIT:.0%} of the packets drawn; the network did not see the "
              f"offered load, so latency stops growing with it)")
    if clipped:
        print("(>N: the p99 lies past the latency histogram's range, which ends at N cycles; "
              "widen traffic.histogram_bins or traffic.histogram_bin_cycles)")


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
        _print_points(res)
        _print_summary(res, "fast model" if args.engine == "model" else sim)
        print(f"reports: {args.out}/sweep.json, sweep.png, heatmap.png")
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
                  overrides=args.overrides, config_path=args.config)
    _print_rows(res["rows"], keys)
    for f in res["failures"]:
        print(f"error: point {f['label']} at offered {f['rate']} failed: {f['error']}",
              file=sys.stderr)
    out = Path(args.out)
    print(f"reports: {out}/results.csv, results.json, saturation.png, best.png; one folder "
          f"per design point (sweep.json, sweep.png, heatmap.png)"
          + (f"; tracebacks in {out}/failures.log" if res["failures"] else ""))
    return 1 if res["failures"] else 0


def _print_rows(rows, keys):
    head = [k.rsplit(".", 1)[-1] for k in keys] + ["pattern", "seed", "zero-load", "saturation",
                                                   "bound", "of bound", "wall s"]
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
                       f"{r['wall_s']:.1f}"]
        else:
            figures = ["failed", "-", "-", "-", "-"]
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
    p.add_argument("--bench", choices=["all", "traffic", "gemm", "allreduce", "broadcast"],
                   default="all",
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
    p.add_argument("--algo", choices=["host", "ring", "2d", "cannon", "summa"],
                   help="with --bench allreduce: host (the hosts drive a ring), ring or 2d (the "
                        "nodes run their own programs); with --bench gemm: host, cannon "
                        "(square grids) or summa (resident operands, node programs); default: "
                        "every one that fits the grid, side by side")
    p.add_argument("--a", help="A matrix .npy (bf16: uint16 bit patterns or float32 holding exact bf16)")
    p.add_argument("--b", help="B matrix .npy (same convention)")
    p.add_argument("--c-out", help="write C here (.npy: float32 for bf16, int32 for int8)")
    p.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                   help="verilator (default, or $SIM) or icarus")
    _add_engine(p, "the traffic sweep (GEMM and all-reduce always run on the RTL)")
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
    _add_engine(p, "the sweeps")
    _add_dask(p, serial_default=False)
    p.set_defaults(func=cmd_explore)

    from gen.fpga import add_fpga_parser
    _add_lint_parser(sub, _add_config)
    add_fpga_parser(sub, _add_config)
    return parser


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
