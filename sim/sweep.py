"""Latency-throughput sweeps with the in-RTL generators, and their reports.

``run_sweep`` runs one measured point per offered rate (warm-up, marked
window, drain; see verif/tb_traffic.py) on one cached build, then writes
``sweep.json``, ``sweep.png`` (latency vs offered load with the channel-load
bound), ``heatmap.png`` (per-link utilisation at the highest stable rate) and
``energy.png`` (energy per delivered flit by component, :func:`plot_energy`).
"""

import functools
import json
import os
from pathlib import Path

import numpy as np

from rtl.measure.traffic import Pattern, destination
from rtl.net.directions import MESH_PORTS, STEP
from verif.noc import route_port

__all__ = ["parse_rates", "channel_load_bound", "run_sweep", "sweep_spec", "prepare_engine",
           "measure_point", "measure_zero_load", "sweep_result", "sweep_bound", "summarise", "zero_load_rate",
           "zero_load_summary", "generated_fraction", "zero_load_text", "saturation_text", "plot_sweep",
           "plot_heatmap", "link_utilisation", "plot_compare", "DEFAULT_TIMING"]

#: warm-up, measurement window, drain limits (cycles)
DEFAULT_TIMING = {"warmup": 1000, "measure": 3000, "drain_limit": 20000, "final_drain": 3000}



def parse_rates(text):
    """``'0.02:0.6:0.04'`` (start:stop:step, stop included) or ``'0.1,0.2'``."""
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(round((stop - start) / step))
            rates = [round(start + i * step, 6) for i in range(n + 1)]
        else:
            rates = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--rates {text!r}: expected START:STOP:STEP (e.g. 0.02:0.6:0.04) "
                         f"or a comma-separated list of flits/node/cycle") from None
    bad = [r for r in rates if not 0 < r <= 1]
    if bad:
        raise ValueError(f"--rates {text!r}: {bad[0]} is not allowed: rates must be in (0, 1] "
                         f"flits/node/cycle")
    return rates


def _flows(pattern, mx, my, hotspot=(0, 0), hotspot_frac=64):
    """``(weight of every source-destination pair spread uniformly, [(src, dst, prob)])``:
    the traffic of ``pattern`` as a uniform part plus single flows (one per source)."""
    sources = [(x, y) for y in range(my) for x in range(mx)]
    if pattern == "uniform":
        return 1 / len(sources), []
    if pattern == "hotspot":
        f = hotspot_frac / 256
        return (1 - f) / len(sources), [(s, tuple(hotspot), f) for s in sources]
    pat = Pattern[pattern.upper()]
    return 0.0, [(s, tuple(destination(pat, *s, mx, my)), 1.0) for s in sources]


def link_loads(pattern, mx, my, routing="xy", **kw):
    """Expected flits per cycle on every directed link for injection 1 flit/node/cycle.

    The uniform part in closed form (:func:`gen.routing.dor_uniform_loads`), so a 95x95
    tile costs no more than its flows; each single flow is walked hop by hop.
    """
    from gen.routing import MeshShape, dor_uniform_loads
    w, flows = _flows(pattern, mx, my, **kw)
    load = {}
    if w:
        counts = dor_uniform_loads(MeshShape(1, 1, mx, my), routing=routing).reshape(my, mx, 4)
        for (y, x, p) in zip(*np.nonzero(counts)):
            load[(int(x), int(y), MESH_PORTS[p])] = w * counts[y, x, p]
    for (sx, sy), dst, prob in flows:
        x, y = sx, sy
        while True:
            port = route_port(x, y, dst, routing)
            if port == "local":
                break
            load[(x, y, port)] = load.get((x, y, port), 0) + prob
            dx, dy = STEP[port]
            x, y = x + dx, y + dy
    return load


def channel_load_bound(pattern, mx, my, routing="xy", die_shape=None, die_ratio=1, **kw):
    """Throughput bound (flits/node/cycle): 1 / the most loaded channel (Dally & Towles).

    Ejection limits it to 1 as well; uniform on a k x k mesh gives 4/k. With
    ``die_shape`` (nodes per die), a link that crosses a die boundary carries one
    flit every ``die_ratio`` cycles, so its load counts ``die_ratio`` times
    (:func:`gen.routing.bounds.worst_link_load`, the one weighting of every bound).
    """
    from gen.routing import MeshShape, worst_link_load
    nx, ny = die_shape or (mx, my)
    if mx % nx or my % ny:
        raise ValueError(f"die_shape {die_shape} must divide the {mx} x {my} mesh")
    shape = MeshShape(mx // nx, my // ny, nx, ny)
    loads = np.zeros(shape.routers * 4)
    for (x, y, port), load in link_loads(pattern, mx, my, routing, **kw).items():
        loads[(y * mx + x) * 4 + MESH_PORTS.index(port)] = load
    worst = float(worst_link_load(shape, loads, die_ratio=die_ratio if die_shape else 1))
    # ejection channel: the most popular destination
    w, flows = _flows(pattern, mx, my, **kw)
    eject = {(x, y): w * mx * my for y in range(my) for x in range(mx)}
    for _, dst, prob in flows:
        eject[dst] += prob
    worst = max(worst, max(eject.values()))
    return 1 / worst if worst else 1.0


#: a point whose sources generated less than this fraction of the packets they drew (the
#: rest suppressed by a full source queue) is *throttled*: its offered load did not enter
#: the network, so its latency no longer grows with the offered load
THROTTLE_LIMIT = 0.99
#: a point is saturated when it does not drain or its latency exceeds this many times the
#: zero-load latency
SATURATION_LATENCY = 3
#: the zero-load point is measured at this fraction of the channel-load bound
ZERO_LOAD_FRACTION = 0.01


def generated_fraction(point):
    """Generated / offered packets of a point: of the packets the sources drew (to live
    destinations), the fraction that entered the source queue (``offered = generated +
    suppressed``, rtl.measure.traffic); None when nothing was drawn."""
    drawn = point["generated_total"] + point["suppressed"]
    return point["generated_total"] / drawn if drawn else None


def zero_load_rate(bound, packet_len):
    """The offered load of the zero-load point: :data:`ZERO_LOAD_FRACTION` of the
    channel-load bound (queueing at 1% of the bound adds well under 1% to the latency),
    at least one step of the 16-bit rate threshold, three significant digits."""
    from rtl.measure.traffic import RATE_BITS
    rate = max(bound * ZERO_LOAD_FRACTION, packet_len / (1 << RATE_BITS))
    return float(f"{rate:.3g}")


def zero_load_summary(point):
    """The ``zero_load`` entry of ``sweep.json`` from the dedicated low-rate point:
    latency (None with the reason when not known), method, rate, packets."""
    out = {"method": "measured: average latency of the marked packets of a dedicated point "
                     f"at {ZERO_LOAD_FRACTION:.0%} of the channel-load bound",
           "offered": point["offered"], "packets": point["delivered_marked"],
           "latency_avg": None, "why": None}
    if not point["drained"]:
        out["why"] = "the zero-load point did not drain in its limit"
    elif point["latency_avg"] is None:
        out["why"] = "no marked packet at the zero-load point (window too short)"
    else:
        out["latency_avg"] = point["latency_avg"]
    return out


def summarise(points, bound, zero_load=None):
    """Zero-load latency and saturation from measured points (sorted by offered load).

    ``zero_load``: :func:`zero_load_summary` of the dedicated point (None: not measured).
    A point is saturated when it did not drain, has no latency, or its latency is more
    than :data:`SATURATION_LATENCY` times the zero-load latency; the saturation throughput
    (the highest accepted load) is only reported when some point saturated.
    """
    zl = zero_load["latency_avg"] if zero_load else None
    saturation_offered = None
    for p in points:
        if (not p["drained"] or p["latency_avg"] is None
                or (zl and p["latency_avg"] > SATURATION_LATENCY * zl)):
            saturation_offered = p["offered"]
            break
    stable = [p for p in points if p["drained"] and p["latency_avg"] is not None
              and (saturation_offered is None or p["offered"] < saturation_offered)]
    accepted = max((p["accepted_avg"] for p in points), default=None)
    return {"zero_load_latency": zl,
            "zero_load": zero_load or {"method": None, "latency_avg": None,
                                       "why": "no zero-load point was measured"},
            "saturated": saturation_offered is not None,
            "saturation_throughput": accepted if saturation_offered is not None else None,
            "saturation_offered": saturation_offered,
            "max_accepted": accepted,
            "channel_load_bound": bound,
            "throttled_offered": [p["offered"] for p in points if p.get("throttled")],
            "highest_stable_offered": max((p["offered"] for p in stable), default=None)}


def _num(value, fmt, missing="n/a"):
    return missing if value is None else format(value, fmt)


def zero_load_text(res):
    """``'7.28 cycles (measured at offered 0.005, 960 packets)'``, or why it is not known."""
    z = res.get("zero_load") or {}
    if res["zero_load_latency"] is None:
        return f"not measured ({z.get('why') or 'no zero-load point'})"
    return (f"{res['zero_load_latency']:.2f} cycles (measured at offered "
            f"{z['offered']:g} flits/node/cycle, {z['packets']} packets, "
            f"{ZERO_LOAD_FRACTION:.0%} of the channel-load bound)")


def saturation_text(res):
    """The saturation throughput with the point it was reached at, or that none was."""
    if not res.get("saturated"):
        best = res.get("max_accepted")
        return ("not saturated in the swept range" +
                (f" (highest accepted {best:.3f} flits/node/cycle)" if best is not None else ""))
    return (f"{res['saturation_throughput']:.3f} flits/node/cycle (first saturated point: "
            f"offered {res['saturation_offered']:g})")


ENGINES = ("rtl", "model")


def sweep_spec(pattern, rate, packet_len=1, seed=1):
    """One point's traffic: what the in-RTL generators (and the model) are set to."""
    return {"pattern": pattern, "rate": rate, "packet_len": packet_len, "seed": seed}


def model_threads(nodes, threads=None):
    """Threads of the fast model: ``threads`` if given, else every core from 1024 nodes
    on (a D1 tile) and one below (starting threads every cycle costs more there)."""
    import os
    if threads is not None:
        return threads
    return (os.cpu_count() or 1) if nodes >= 1024 else 1


@functools.lru_cache(maxsize=4)
def _model(raw_json, threads):
    """The fast model of a config, one per process and config: a sweep's points (and a
    Dask worker's) reset and reuse it instead of allocating a network per point."""
    from gen.config import config_from_dict
    from gen.derive import derive
    from sim.netmodel.network import NetworkModel
    cfg = config_from_dict(json.loads(raw_json))
    return NetworkModel(cfg, derive(cfg), threads=threads)


def prepare_engine(cfg, *, engine="rtl", sim="verilator", threads=None, derived=None):
    """What every point of a config needs, once: the cached Verilator/Icarus build
    (``engine="rtl"``) or the fast model's geometry (``"model"``). Returns a small
    picklable dict that :func:`measure_point` takes, so it can be one Dask task that
    the points of the config depend on (one build per config, never one per point)."""
    from gen.derive import derive
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    derived = derived or derive(cfg)
    if engine == "rtl":
        return _prepare_rtl(cfg, derived, sim)
    raw_json = json.dumps(cfg.raw, sort_keys=True)
    nodes = derived.tile.mesh_x * derived.tile.mesh_y
    threads = model_threads(nodes, threads)
    model = _model(raw_json, threads)
    return {"engine": "model", "sim": None, "raw_json": raw_json, "threads": threads,
            "geo": {"mesh": [model.mesh_x, model.mesh_y],
                    "nodes": [list(model.coords()[n]) for n in model.rtl_order()],
                    "die_shape": list(model.die_shape) if model.die_shape else None,
                    "dielink": model.dielink, "threads": threads,
                    **model.fault_geo()}}


def _generator_digest():
    """A digest of everything the Verilog of a config depends on besides the config: the
    generator's sources (``rtl/``, ``gen/``), Amaranth's version, the build flags."""
    import hashlib
    import amaranth
    from sim.runner import BUILD_REVISION
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{amaranth.__version__} r{BUILD_REVISION}".encode())
    for path in sorted(list((root / "rtl").rglob("*.py")) + list((root / "gen").rglob("*.py"))):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _prepare_rtl(cfg, derived, sim):
    """The traffic design's build (cached) and geometry. A config whose build exists is
    not elaborated again: ``build/cocotb/prepared/<digest>.json`` remembers its build,
    keyed by the config, the simulator and :func:`_generator_digest`, so a sweep (or
    each Dask worker's first point) starts at once."""
    import hashlib
    from dataclasses import asdict
    from sim.runner import Build, build_design, build_root
    key = hashlib.sha256(json.dumps([cfg.raw, sim, _generator_digest()],
                                    sort_keys=True).encode()).hexdigest()[:24]
    memo = build_root() / "cocotb" / "prepared" / f"{key}.json"
    try:
        saved = json.loads(memo.read_text())
        build = Build(**{**saved["build"], "hier": tuple(saved["build"]["hier"]),
                         "public": tuple(tuple(v) for v in saved["build"]["public"])})
        if (Path(build.build_dir) / ".built").exists() and Path(build.src).exists():
            return {"engine": "rtl", "sim": sim, "build": build, "geo": saved["geo"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass                    # no memo (or a stale one): elaborate
    from gen.build import noc_design
    design = noc_design(cfg, kind="traffic", derived=derived)
    x = design.description()
    prepared = {"engine": "rtl", "sim": sim, "build": build_design(design, sim=sim),
                "geo": {"mesh": [x["mesh_x"], x["mesh_y"]], "nodes": x["nodes"],
                        "die_shape": x["die_shape"], "dielink": x["dielink"],
                        **{k: x[k] for k in ("dead_routers", "disabled_nodes") if k in x}}}
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(f".{key}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"build": asdict(prepared["build"]), "geo": prepared["geo"]}))
    os.replace(tmp, memo)
    return prepared


def _tag(spec, timing):
    """A run directory name unique to the point (two points never share one)."""
    import hashlib
    digest = hashlib.sha256(json.dumps([spec, timing], sort_keys=True).encode()).hexdigest()
    return f"{spec['pattern']}-len{spec['packet_len']}-{spec['rate']:g}-s{spec['seed']}-{digest[:8]}"


def measure_point(prepared, spec, timing):
    """One measured point (warm-up, marked window, drain) -> ``(point, wall seconds)``.

    The same function serves a serial sweep and a Dask task; ``point`` does not depend
    on which (its ``cycles_per_s`` is the only figure that is a speed, not a result).
    """
    import time
    t0 = time.perf_counter()
    if prepared["engine"] == "rtl":
        from sim.runner import run_build
        res = run_build(prepared["build"], test_module="verif.tb_traffic", tag=_tag(spec, timing),
                        scenario={"params": {**timing, "points": [spec]}})["sweep"]
        point, = res["points"]
        point["cycles_per_s"] = res["cycles_per_s"]
    else:
        from sim.netmodel.point import run_point
        point, cycles, wall = run_point(_model(prepared["raw_json"], prepared["threads"]),
                                        spec, timing)
        point["cycles_per_s"] = cycles / wall if wall else None
    return point, time.perf_counter() - t0


def sweep_bound(cfg, pattern, geo):
    """The channel-load bound of a sweep (flits/node/cycle) on the geometry ``geo`` of
    :func:`prepare_engine`: uniform over the live nodes of a fault map, the bound of the
    routes taken (:func:`gen.build.live_uniform_bound`); else the analytic bound of the
    dimension order (in table mode the order the tables reproduce: exact for an empty map)."""
    (mx, my), dielink = geo["mesh"], geo["dielink"]
    routing = cfg.router.routing
    if routing == "table":
        from gen.build import table_base
        routing = table_base(cfg)
    ratio = dielink["ratio"] if dielink else 1
    if pattern == "uniform" and (geo.get("dead_routers") or geo.get("disabled_nodes")):
        from gen.build import live_uniform_bound
        bound = live_uniform_bound(cfg, die_ratio=ratio)
        if bound is not None:
            return bound
    return channel_load_bound(pattern, mx, my, routing, die_shape=geo["die_shape"],
                              die_ratio=ratio)


def measure_zero_load(prepared, cfg, pattern, packet_len, seed, timing, point_fn=None):
    """The dedicated zero-load point of a sweep (:func:`zero_load_rate` of its bound),
    measured with ``point_fn`` (default :func:`measure_point`) -> ``(point, wall s)``."""
    rate = zero_load_rate(sweep_bound(cfg, pattern, prepared["geo"]), packet_len)
    return (point_fn or measure_point)(prepared, sweep_spec(pattern, rate, packet_len, seed),
                                       timing)


def sweep_result(cfg, prepared, *, pattern, packet_len, timing, points, out=None,
                 zero_point=None, provenance=None, derived=None):
    """The ``sweep.json`` dict of measured ``points`` (sorted by offered load); with
    ``out``, also writes it with ``sweep.png`` and ``heatmap.png`` there. The points are
    written first, before the bound, the summary and the plots: a slow or failing
    summary never loses the simulation. ``zero_point``: the dedicated zero-load point
    (:func:`zero_load_rate`); ``provenance``: what reproduces the run
    (:func:`gen.provenance.provenance`). Each point gets ``generated_over_offered``
    (:func:`generated_fraction`) and ``throttled`` (below :data:`THROTTLE_LIMIT`), and,
    once the raw points are written, ``energy`` (:func:`sim.energy.point_energy`)."""
    geo = prepared["geo"]
    (mx, my), dielink = geo["mesh"], geo["dielink"]
    for p in points:
        frac = generated_fraction(p)
        p["generated_over_offered"] = frac
        p["throttled"] = frac is not None and frac < THROTTLE_LIMIT
    speeds = [p["cycles_per_s"] for p in points if p.get("cycles_per_s")]
    result = {"config": cfg.raw["name"], "engine": prepared["engine"],
              "simulator": prepared["sim"], "pattern": pattern,
              "packet_len": packet_len, "mesh": [mx, my], "vcs": cfg.router.vcs,
              "buffer_depth": cfg.router.buffer_depth, "timing": timing,
              "cycles_per_s": float(np.median(speeds)) if speeds else None,
              "nodes": geo["nodes"], "die_shape": geo["die_shape"], "dielink": dielink,
              "threads": geo.get("threads"),
              **{k: geo[k] for k in ("dead_routers", "disabled_nodes") if geo.get(k)},
              **({"provenance": provenance} if provenance else {}),
              "zero_load_point": zero_point, "points": points}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "sweep.json", result)
    from gen.derive import derive
    from gen.energy import energy_model
    from sim.energy import point_energy
    energy = energy_model(cfg, derived or derive(cfg))
    for p in points:
        p["energy"] = point_energy(result, p, energy)
    bound = sweep_bound(cfg, pattern, geo)
    zero = zero_load_summary(zero_point) if zero_point else None
    points = result.pop("points")
    result.update(summarise(points, bound, zero), points=points)
    if out is not None:
        _write_json(out / "sweep.json", result)
        plot_sweep(result, out / "sweep.png")
        plot_heatmap(result, out / "heatmap.png", die_shape=geo["die_shape"])
        plot_energy(result, out / "energy.png")
    return result


def _write_json(path, data):
    """Write ``data`` to ``path`` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def progress_line(desc, done, total, elapsed, what=""):
    """One line per finished point for logs (stderr not a terminal): ``'uniform sweep
    (model): point 3 of 8 done (offered 0.3), 12 s elapsed, about 20 s remaining'``."""
    left = elapsed / done * (total - done) if done else None
    remaining = ("" if done == total else
                 f", about {left:.0f} s remaining" if left is not None else "")
    return (f"{desc}: point {done} of {total} done{f' ({what})' if what else ''}, "
            f"{elapsed:.0f} s elapsed{remaining}")


class _Progress:
    """A tqdm bar over the rates with the last point's figures on a terminal; off a
    terminal (CI logs, ``nohup``) one :func:`progress_line` per finished point on stderr."""

    def __init__(self, desc, enabled):
        import sys
        self.desc, self.enabled, self.bar = desc, enabled, None
        self.log = enabled and not sys.stderr.isatty()

    def __call__(self, rates):
        import time
        from tqdm import tqdm
        self.total, self.done, self.t0 = len(rates), 0, time.monotonic()
        # a bar on a terminal only
        self.bar = tqdm(rates, desc=self.desc, unit="point",
                        disable=True if self.log or not self.enabled else None)
        return self.bar

    def update(self, point):
        import sys
        import time
        self.done += 1
        latency = "n/a" if point["latency_avg"] is None else f"{point['latency_avg']:.1f}"
        if self.log:
            print(progress_line(self.desc, self.done, self.total, time.monotonic() - self.t0,
                                f"offered {point['offered']:g}, accepted "
                                f"{point['accepted_avg']:.3f}, latency {latency}"),
                  file=sys.stderr, flush=True)
        else:
            self.bar.set_postfix(accepted=f"{point['accepted_avg']:.3f}", latency=latency)


def run_sweep(cfg, *, pattern="uniform", rates, packet_len=1, sim="verilator", engine="rtl",
              out=None, timing=None, progress=True, seed=1, derived=None, threads=None,
              provenance=None):
    """Run a sweep, one point after another; returns the ``sweep.json`` dict (and writes
    reports when ``out``). :mod:`sim.explore` runs the same points as Dask tasks.

    ``engine="rtl"`` simulates the generated Verilog under ``sim``; ``engine="model"``
    runs the cycle-exact fast model (:mod:`sim.netmodel`) on the same config and the
    same schedule: the points are identical (tests/sim/netmodel/test_netmodel_rtl.py).
    ``derived`` is ``gen.derive.derive(cfg)`` when the caller has it already; ``threads``
    those of the model (:func:`model_threads`; recorded in the result). Before the
    swept rates, one point at :func:`zero_load_rate` measures the zero-load latency.
    """
    timing = {**DEFAULT_TIMING, **(timing or {})}
    prepared = prepare_engine(cfg, engine=engine, sim=sim, threads=threads, derived=derived)
    bar = _Progress(f"{pattern} sweep ({sim if engine == 'rtl' else 'model'})", progress)
    measured = []
    for rate in bar([None] + list(rates)):
        if rate is None:
            point, _ = measure_zero_load(prepared, cfg, pattern, packet_len, seed, timing)
        else:
            point, _ = measure_point(prepared, sweep_spec(pattern, rate, packet_len, seed),
                                     timing)
        measured.append(point)
        bar.update(point)
    return sweep_result(cfg, prepared, pattern=pattern, packet_len=packet_len, timing=timing,
                        points=measured[1:], zero_point=measured[0], out=out,
                        provenance=provenance, derived=derived)


def plot_sweep(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [p for p in result["points"] if p["latency_avg"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    off = [p["offered"] for p in pts]
    ax.plot(off, [p["latency_avg"] for p in pts], "o-", label="average latency")
    # a p99 past the histogram's range is not known: no point is drawn for it
    known = [p for p in pts if p["latency_p99"] is not None]
    ax.plot([p["offered"] for p in known], [p["latency_p99"] for p in known], "s--", alpha=0.6,
            label="p99 latency (from the histogram; points past its range omitted)")
    throttled = [p for p in pts if p.get("throttled")]
    if throttled:
        ax.scatter([p["offered"] for p in throttled], [p["latency_avg"] for p in throttled],
                   s=90, facecolors="none", edgecolors="tab:red", linewidths=1.5, zorder=4,
                   label=f"throttled: source queues full, generated < "
                         f"{THROTTLE_LIMIT:.0%} of offered")
    ax.axvline(result["channel_load_bound"], color="k", ls=":",
               label=f"channel-load bound {result['channel_load_bound']:.3f}")
    if result.get("saturated"):
        ax.axvline(result["saturation_throughput"], color="r", ls="-.", alpha=0.6,
                   label=f"saturation {result['saturation_throughput']:.3f}")
    else:
        ax.plot([], [], " ", label="not saturated in the swept range")
    zl = result.get("zero_load_latency")
    if zl is not None:
        ax.axhline(zl, color="tab:green", ls=":", alpha=0.7,
                   label=f"zero-load {zl:.2f} (measured at offered "
                         f"{result['zero_load']['offered']:g})")
    ax.set_xlabel("offered load (flits/node/cycle)")
    ax.set_ylabel("packet latency (cycles)")
    mx, my = result["mesh"]
    ax.set_title(f"{result['config']}: {mx}x{my} mesh, {result['pattern']}, "
                 f"{result['vcs']} VC x {result['buffer_depth']} flits, "
                 f"{result['packet_len']}-flit packets", fontsize=9)
    # the p99 points too: a p99 drawn outside the axes is a figure the reader cannot see
    top = max([p["latency_avg"] for p in pts] + [p["latency_p99"] for p in known] + [1])
    ax.set_ylim(0, min(top * 1.1, 20 * (result["zero_load_latency"] or top)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: the components of a point's energy, bottom to top in :func:`plot_energy`
ENERGY_PARTS = ("flit_hops", "router_flits", "dielink_flits", "dielink_codewords",
                "dielink_control_words", "clock", "leakage")


def plot_energy(result, path):
    """Energy per delivered flit of every point, stacked by component
    (:func:`sim.energy.point_energy`):
    the mesh links' wires, the routers, the die links, the clock and the leakage."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [p for p in result["points"] if (p.get("energy") or {}).get("delivered_flits")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = [f"{p['offered']:g}" for p in pts]
    bottom = np.zeros(len(pts))
    for part in ENERGY_PARTS:
        vals = np.array([p["energy"]["joules"].get(part, 0.0) * 1e12
                         / p["energy"]["delivered_flits"] for p in pts])
        if part in ("dielink_codewords", "dielink_control_words") and not vals.any():
            continue                # the link layer's parts, of a network without it
        ax.bar(labels, vals, bottom=bottom, label=part.replace("_", " "))
        bottom += vals
    for x, p in enumerate(pts):
        ax.annotate(f"{p['energy']['watts']:.3g} W", (x, bottom[x]), ha="center",
                    va="bottom", fontsize=7)
    ax.set_xlabel("offered load (flits/node/cycle); average power over each bar")
    ax.set_ylabel("energy per delivered flit (pJ)")
    mx, my = result["mesh"]
    ax.set_title(f"{result['config']}: {mx}x{my} mesh, {result['pattern']}: energy by "
                 f"component (gen/energy.py)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def link_utilisation(result, point):
    """``{(x, y, port): utilisation}`` of every mesh link of ``point``, relative to its capacity.

    A link that crosses a die boundary carries one flit every ``dielink.ratio`` cycles, so
    its flits per cycle count ``ratio`` times: 1.0 is a link busy in every cycle it can be,
    on a die or between dies.
    """
    from sim.energy import point_links
    dielink = result.get("dielink")
    ratio = dielink["ratio"] if dielink else 1
    return {(x, y, port): flits / point["window"] * (ratio if crossing else 1)
            for x, y, port, flits, crossing in point_links(result, point)}


#: meshes wider than this are drawn one pixel per node instead of one segment per link
_SEGMENT_LIMIT = 24


def plot_heatmap(result, path, die_shape=None):
    """Link utilisation at the highest stable offered rate (:func:`link_utilisation`).

    Up to 24 nodes across: every link as a coloured segment (both directions side by
    side). Larger meshes (a D1 die, a tile): one pixel per node, coloured by its busiest
    outgoing link. ``die_shape`` (nodes_x, nodes_y) draws the die boundaries. Dead
    routers (``result["dead_routers"]``, no links) are drawn as cyan crosses (a cyan pixel
    on large meshes), disabled nodes (their routers forward) as hollow cyan squares.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    target = result["highest_stable_offered"]
    pts = [p for p in result["points"] if p["offered"] == target] or result["points"][-1:]
    point = pts[0]
    util = link_utilisation(result, point)
    mx, my = result["mesh"]
    dead = {tuple(n) for n in result.get("dead_routers") or []}
    disabled = {tuple(n) for n in result.get("disabled_nodes") or []}
    norm = matplotlib.colors.Normalize(0, 1)
    big = max(mx, my) > _SEGMENT_LIMIT
    fig, ax = plt.subplots(figsize=(7.2, 6.4) if big else (6, 5.4))
    if big:
        image = np.zeros((my, mx))
        for (x, y, _), u in util.items():
            image[y, x] = max(image[y, x], u)
        for x, y in dead:
            image[y, x] = np.nan
        cmap = matplotlib.colormaps["inferno"].with_extremes(bad="cyan")
        mappable = ax.imshow(image, cmap=cmap, norm=norm, interpolation="nearest")
        label = "busiest outgoing link of each node (utilisation of its capacity)"
        if dead:
            label += "; cyan: dead router"
    else:
        segs, values, off = [], [], 0.12
        for (x, y, port), u in util.items():
            dx, dy = STEP[port]
            # offset the two directions of a link so both are visible
            ox, oy = (0, -off if dx > 0 else off) if dy == 0 else (off if dy > 0 else -off, 0)
            segs.append([(x + ox + 0.2 * dx, y + oy + 0.2 * dy),
                         (x + dx + ox - 0.2 * dx, y + dy + oy - 0.2 * dy)])
            values.append(u)
        across = max(mx, my)
        mappable = LineCollection(segs, array=np.array(values), cmap="inferno",
                                  linewidths=min(4.0, 40 / across), norm=norm)
        ax.add_collection(mappable)
        nodes = ({(x, y) for x, y, _ in util} - dead - disabled) or {(0, 0)}
        ax.scatter([n[0] for n in nodes], [n[1] for n in nodes], s=min(30, 240 / across),
                   c="#888", zorder=3)
        if dead:
            ax.scatter([n[0] for n in dead], [n[1] for n in dead], s=min(120, 900 / across),
                       marker="x", c="cyan", linewidths=2, zorder=4, label="dead router")
        if disabled:
            ax.scatter([n[0] for n in disabled], [n[1] for n in disabled],
                       s=min(60, 480 / across), marker="s", facecolors="none",
                       edgecolors="cyan", zorder=4, label="disabled node")
        if dead or disabled:
            ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
        ax.set_xlim(-0.6, mx - 0.4)
        ax.set_ylim(my - 0.4, -0.6)                    # y grows southwards
        ax.set_xticks(range(mx))                       # nodes sit on integer coordinates
        ax.set_yticks(range(my))
        label = "link utilisation (of its capacity)"
        fig.text(0.5, 0.01, "two bars per link, one per direction: east-bound above "
                 "west-bound, south-bound right of north-bound", ha="center", fontsize=8)
    if die_shape:
        dx_, dy_ = die_shape
        for bx in range(dx_, mx, dx_):
            ax.axvline(bx - 0.5, color="tab:blue", lw=1.0 if big else 1.5, ls="--")
        for by in range(dy_, my, dy_):
            ax.axhline(by - 0.5, color="tab:blue", lw=1.0 if big else 1.5, ls="--")
    fig.colorbar(mappable, ax=ax, label=label)
    ax.set_aspect("equal")
    ax.set_xlabel("x (east ->)")
    ax.set_ylabel("y (south ->)")
    ratio = (result.get("dielink") or {}).get("ratio")
    ax.set_title(f"{result['pattern']} at {point['offered']:.3f} flits/node/cycle "
                 f"(accepted {point['accepted_avg']:.3f})"
                 + (f"\ndie links: 1 flit per {ratio} cycles = 1.0" if ratio else ""),
                 fontsize=9)
    fig.tight_layout(rect=(0, 0 if big else 0.03, 1, 1))     # room for the bars' note
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_compare(results, labels, path, title):
    """Several sweeps (e.g. one per die-link ratio) on one latency-throughput plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    top, highest, cap = 1.0, 0.0, 0.0
    for res, label in zip(results, labels):
        pts = [p for p in res["points"] if p["latency_avg"] is not None]
        sat = (f"saturation {res['saturation_throughput']:.3f}" if res.get("saturated")
               else "not saturated")
        line, = ax.plot([p["accepted_avg"] for p in pts], [p["latency_avg"] for p in pts], "o-",
                        label=f"{label}: {sat}, bound {res['channel_load_bound']:.3f}")
        # the channel-load bound of each curve, in its colour
        ax.axvline(res["channel_load_bound"], color=line.get_color(), ls=":", alpha=0.8)
        highest = max([highest] + [p["latency_avg"] for p in pts])
        cap = max(cap, 10 * (res["zero_load_latency"] or 0))
    ax.plot([], [], "k:", label="dotted: channel-load bound of each curve")
    # every point up to 10x the zero-load latency is shown; past it the axis is cut, and says so
    top = max(top, min(1.1 * highest, cap) if cap else 1.1 * highest)
    ax.set_ylim(0, top)
    ax.set_xlim(0, 1.05 * max([1e-3] + [r["channel_load_bound"] for r in results]
                              + [p["accepted_avg"] for r in results for p in r["points"]]))
    ax.set_xlabel("accepted throughput (flits/node/cycle)")
    ax.set_ylabel("average packet latency (cycles)"
                  + (f"\n(axis cut at {top:.0f}: points above it not shown)"
                     if highest > top else ""))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
