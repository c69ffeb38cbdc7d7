"""The scale-out study: the same training step on 1 die up to the whole tile, next to a GPU cluster.

Each point is a fabric of ``dx x dy`` dies (``tile.dies_x``, ``tile.dies_y`` of the
config) running the step (at the workload's ``scale`` for the config) with one replica per
usable ``parallel.grid`` block of nodes (:func:`sim.step.compiler.placement`: whole blocks,
none holding a disabled node; the rest idle), so the data-parallel degree grows with the
fabric:

- **weak** scaling: every replica keeps the workload's tokens (the global batch grows);
- **strong** scaling: the global batch of the workload as given on the config's whole
  tile is split over the replicas of the point (tokens per replica grow as the fabric
  shrinks; a point whose GEMMs then do not fit the SRAM is reported as refused, with the
  compiler's reason).

Every point is one Dask task (:func:`run_point`, the RTL run of :func:`sim.step.run.run_step`)
on the machinery ``dojo explore`` uses (:func:`sim.explore.cluster.dask_client`, one build
per config made by the first point that needs it, under the build directory's lock);
each finished point is kept in ``DIR/points/`` (:class:`sim.explore.store.ResultStore`,
keyed by the config, the workload and the simulator) so a rerun resumes; that runner
(:func:`run_points`) and the breakdown plot (:func:`plot_breakdown`) also serve the
node-size sweep (:mod:`sim.step.nodesize`). The GPU
reference (:mod:`sim.step.gpu`) runs the same replicas' GEMMs and all-reduces with one
GPU per replica.

On the RTL the points are limited to :data:`MAX_RTL_NODES` nodes; on the fast engine
(``engine="model"``) to what :func:`sim.netmodel.host.model_problem` accepts (flits of at
most 64 bits with data values; the D1 preset's 2048-bit flits run with ``timing_only``, the
cycles without data values), and a point's record has no
DMA-busy breakdown (:data:`sim.step.run.MODEL_UNMEASURED`: the plot then shows the engine
busy and the rest of the step).
"""

import json
import time
from pathlib import Path

from gen.config import ConfigError

__all__ = ["MAX_RTL_NODES", "default_dies", "replicas_on", "study_points", "run_point", "run_points",
           "point_status", "run_scaleout", "plot_breakdown"]

#: the largest fabric a study point simulates on the RTL (seconds to a few minutes a point)
MAX_RTL_NODES = 64


def default_dies(cfg):
    """1 x 1, 2 x 1, then 2 x 2, 3 x 3, 5 x 5 up to the config's tile, and the tile itself."""
    dx, dy = cfg.tile.dies_x, cfg.tile.dies_y
    out = [(1, 1)]
    if dx >= 2:
        out.append((2, 1))
    out += [(k, k) for k in (2, 3, 5) if k <= min(dx, dy)]
    out.append((dx, dy))
    return list(dict.fromkeys(out))


def replicas_on(cfg, overrides, step):
    """How many replicas of ``step``'s grid fit the config with ``overrides``: its usable
    blocks (:func:`sim.step.compiler.placement`: whole blocks from the mesh's corner, none
    holding a disabled node). ValueError (one line) when the grid does not fit at all."""
    from gen.config import config_from_dict
    from gen.derive import derive
    from gen.faults import fault_map
    from sim.step.compiler import usable_blocks
    c = config_from_dict(cfg.raw, overrides)
    d = derive(c)
    return len(usable_blocks(step.grid, d.tile.mesh_x, d.tile.mesh_y,
                             fault_map(c, d).disabled_nodes)[0])


def study_points(cfg, step, dies, derived, engine="rtl", timing_only=False):
    """``[(mode, (dx, dy), overrides, step)]``: every point of both scalings, checked for
    the fabric's size on ``engine`` (ConfigError, one line). A point has as many replicas
    as its fabric has usable blocks of the grid (:func:`replicas_on`: the nodes past the
    last whole block idle, blocks with a disabled node skipped)."""
    step = step.for_config(cfg)                # the file's sizes for this config
    gx, gy = step.grid
    nx, ny = derived.die.nodes_x, derived.die.nodes_y

    def fitting(overrides, where):
        try:
            n = replicas_on(cfg, overrides, step)
        except ValueError as exc:
            raise ConfigError([f"{where}: {exc}"]) from None
        if not n:
            raise ConfigError([f"{where}: no block of parallel.grid {[gx, gy]} without a "
                               f"disabled node; allowed: a grid that fits between them"])
        return n
    full = fitting([], "the config's tile")
    points = []
    for dx, dy in dies:
        nodes = dx * nx * dy * ny
        if engine == "rtl" and nodes > MAX_RTL_NODES:
            raise ConfigError([f"--dies {dx}x{dy}: {nodes} nodes, the RTL runs training steps "
                               f"up to {MAX_RTL_NODES} nodes; allowed: smaller fabrics, or "
                               f"--engine model"])
        overrides = [f"tile.dies_x={dx}", f"tile.dies_y={dy}"]
        data = fitting(overrides, f"--dies {dx}x{dy}")
        if engine == "model":
            problem = _model_problem(cfg, overrides, timing_only)
            if problem:
                raise ConfigError([f"--dies {dx}x{dy}: {problem}"])
        points.append(("weak", (dx, dy), overrides, step.with_data(data)))
        points.append(("strong", (dx, dy), overrides, step.with_data(data, full / data)))
    return points


def _model_problem(cfg, overrides, timing_only):
    """:func:`sim.netmodel.host.model_problem` of ``cfg`` with ``overrides``."""
    from gen.config import config_from_dict
    from gen.derive import derive
    from sim.netmodel.host import model_problem
    c = config_from_dict(cfg.raw, overrides)
    return model_problem(c, derive(c), timing_only=timing_only)


def run_point(cfg_raw, overrides, step_raw, sim, out_dir, engine="rtl", timing_only=False):
    """One study point on a worker (on ``engine``, without data values when
    ``timing_only``): ``{"record": ... }`` or ``{"refused": reason}``; the record's figures
    the engine does not measure are absent."""
    from gen.config import config_from_dict
    from sim.step.run import run_step
    from sim.step.spec import workload_from_dict
    cfg = config_from_dict(cfg_raw, overrides)
    step = workload_from_dict(step_raw)
    t = time.monotonic()
    try:
        rec = run_step(cfg, step, sim=sim, out_dir=out_dir, engine=engine,
                       timing_only=timing_only)
    except ValueError as exc:
        return {"refused": str(exc)}
    keep = ("step_cycles", "step_seconds", "match", "peak_fraction", "mac_steps",
            "compute_cycles", "communication_cycles", "exposed_communication_cycles",
            "exposed_cycles", "waiting_cycles", "exposed_communication_fraction", "mesh",
            "data_parallel")
    return {"record": {k: rec[k] for k in keep if k in rec}, "wall_s": time.monotonic() - t}


def _tokens(step):
    return step.data * step.layers[0].tokens


def run_points(cfg, jobs, *, sim, out, client, fresh=False, progress=True, point_fn=None,
               engine="rtl", timing_only=False):
    """Run the study points ``jobs`` (``[(name, overrides, step, priority)]``: the config
    with the overrides runs the step; Dask starts higher priorities first) on ``client``, each one Dask task of :func:`run_point`
    (``point_fn`` replaces it: the tests' stand-in), resuming from ``out/points``; returns
    ``(saved, failures)``: per job its saved result (``{"record": ...}``, ``{"refused":
    reason}`` or None when it failed) and one ``{"point", "error"}`` per failed task. Both
    studies (:func:`run_scaleout`, :func:`sim.step.nodesize.run_nodesize`) run their points
    here, so they share the store's keys and the progress bar. ``engine``: what runs the
    points (:func:`run_point`'s; part of the store's key on the model, and so is
    ``timing_only`` when set)."""
    from distributed import as_completed
    from sim.explore.cluster import _Bar
    from sim.explore.store import ResultStore, digest
    out = Path(out)
    store = ResultStore(out)
    if fresh:
        store.clear()
    on = {} if engine == "rtl" else {"engine": engine}     # the RTL's keys as they were
    if timing_only:
        on["timing_only"] = True
    keys = [digest({"config": cfg.raw, "overrides": ov, "step": st.raw, "sim": sim,
                    "kind": "training-step", **on}) for _, ov, st, _ in jobs]
    todo = [i for i, k in enumerate(keys) if store.load("points", k) is None]
    bar = _Bar(len(jobs), len(jobs) - len(todo), progress)
    futures = {}
    for i in todo:
        name, ov, st, priority = jobs[i]
        f = client.submit(point_fn or run_point, cfg.raw, ov, st.raw, sim, str(out / name),
                          key=f"step-{keys[i]}", priority=priority, **on)
        futures[f] = i
    failures = []
    try:
        for f in as_completed(futures):
            i = futures[f]
            name = jobs[i][0]
            if f.status == "error":
                exc = f.exception()
                failures.append({"point": name, "error": f"{type(exc).__name__}: {exc}"})
                bar.advance(failed=True, what=name)
            else:
                store.save("points", keys[i], f.result())
                bar.advance(what=name)
            bar.refresh(client, {x.key for x in futures})
    finally:
        bar.close()
        client.cancel([f for f in futures if not f.done()])
    return [store.load("points", k) for k in keys], failures


def point_status(saved):
    """A study row's status fields from its saved result (:func:`run_points`)."""
    if saved is None:
        return {"status": "failed"}
    if "refused" in saved:
        return {"status": "refused", "reason": saved["refused"]}
    return {"status": "ok", **saved["record"], "wall_s": saved.get("wall_s")}


def run_scaleout(cfg, derived, step, *, dies, sim, out, gpu, client, fresh=False,
                 progress=True, point_fn=None, engine="rtl", timing_only=False):
    """Run every point on ``client`` (resuming from ``out/points``), add the GPU model, write
    ``study.json`` and ``scaleout.png``; returns the study dict. ``point_fn`` replaces
    :func:`run_point` (the tests' stand-in); ``timing_only`` (the fast engine's): the cycles
    without data values, which flits over 64 bits (the D1 preset) need."""
    from sim.step.gpu import step_seconds
    out = Path(out)
    points = study_points(cfg, step, dies, derived, engine, timing_only)
    jobs = [(f"{mode}-{dx}x{dy}", ov, st, dx * dy) for mode, (dx, dy), ov, st in points]
    saved, failures = run_points(cfg, jobs, sim=sim, out=out, client=client, fresh=fresh,
                                 progress=progress, point_fn=point_fn, engine=engine,
                                 timing_only=timing_only)
    rows = []
    for (mode, (dx, dy), ov, st), s in zip(points, saved):
        row = {"mode": mode, "dies": [dx, dy], "n_dies": dx * dy, "replicas": st.data,
               "tokens_per_replica": st.layers[0].tokens, "global_tokens": _tokens(st),
               **point_status(s)}
        g = step_seconds(gpu, st)
        row["gpu"] = {"gpus": st.data, "step_seconds": g["step"], "compute": g["compute"],
                      "communication": g["communication"], "exposed": g["exposed"]}
        rows.append(row)
    _speedups(rows)
    study = {"workload": step.name, "config": cfg.raw.get("name"), "engine": engine,
             "timing_only": timing_only,
             "sim": sim if engine == "rtl" else None, "gpu": gpu.name, "points": rows,
             "failures": failures,
             "missing": (f"fabrics over {MAX_RTL_NODES} nodes (--engine model)"
                         if engine == "rtl" else
                         "the DMA-busy breakdown and the timeline (the RTL's watched run)"
                         + ("; the data values (timing only: not computed, not compared)"
                            if timing_only else "; flits over 64 bits (--timing-only)"))}
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(study, indent=1) + "\n")
    plot_scaleout(study, out / "scaleout.png")
    return study


def _speedups(rows):
    """Speed-up and efficiency against the smallest fabric of the same mode: strong
    scaling by step time, weak scaling by tokens per second; the GPU's against its own
    smallest point (one GPU per replica)."""
    for mode in ("strong", "weak"):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["n_dies"])
        ok = [r for r in mine if r["status"] == "ok"]
        if ok:
            b = ok[0]
            for r in ok:
                rate = r["global_tokens"] / r["step_seconds"]
                brate = b["global_tokens"] / b["step_seconds"]
                r["speedup"] = rate / brate
                r["efficiency"] = r["speedup"] / (r["n_dies"] / b["n_dies"])
        gb = mine[0]
        for r in mine:
            rate = r["global_tokens"] / r["gpu"]["step_seconds"]
            r["gpu"]["speedup"] = rate / (gb["global_tokens"] / gb["gpu"]["step_seconds"])
            r["gpu"]["efficiency"] = r["gpu"]["speedup"] / (r["replicas"] / gb["replicas"])


def plot_scaleout(study, path):
    """Speed-up against dies (Dojo) and against the same replicas on GPUs, with the ideal
    line, and the compute / exposed-communication split of every Dojo point."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    rows = study["points"]
    xs = sorted({r["n_dies"] for r in rows})
    ax.plot(xs, [x / xs[0] for x in xs], "k--", lw=1, label="ideal")
    for mode, mk in (("strong", "o"), ("weak", "s")):
        ok = [r for r in rows if r["mode"] == mode and r["status"] == "ok"]
        if ok:
            ax.plot([r["n_dies"] for r in ok], [r["speedup"] for r in ok], mk + "-",
                    label=f"fabric, {mode} ({study['engine']})")
        mine = [r for r in rows if r["mode"] == mode]
        ax.plot([r["n_dies"] for r in mine], [r["gpu"]["speedup"] for r in mine], mk + ":",
                label=f"GPUs ({study['gpu']}), {mode}, same replicas")
    ax.set_xlabel("dies (fabric) / the same scale of replicas (GPUs)")
    ax.set_ylabel("speed-up (tokens per second)")
    ax.set_title(f"{study['workload']}: scale-out")
    ax.legend(fontsize=7)
    ok = [r for r in rows if r["status"] == "ok"]
    plot_breakdown(bx, ok, [f"{r['mode'][0]} {r['dies'][0]}x{r['dies'][1]}" for r in ok])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_breakdown(ax, rows, labels):
    """Stacked bars on ``ax``, one per measured row (a run_step record): the engine busy,
    the exposed communication (DMA busy while the engine is not) and the rest of the
    step (waiting and control), mean cycles per node. A row without the DMA-busy figures
    (the fast engine's) has no exposed-communication bar: its rest is all the step but the
    engine busy."""
    comp = [r["compute_cycles"]["mean"] for r in rows]
    exp = [r["exposed_communication_cycles"]["mean"] if "exposed_communication_cycles" in r
           else 0 for r in rows]
    rest = [r["step_cycles"] - c - e for r, c, e in zip(rows, comp, exp)]
    ax.bar(labels, comp, label="engine busy")
    ax.bar(labels, exp, bottom=comp, label="exposed communication (DMA only)")
    ax.bar(labels, rest, bottom=[c + e for c, e in zip(comp, exp)], label="waiting / control")
    ax.set_ylabel("cycles per node (mean)")
    ax.set_ylim(0, 1.35 * max([r["step_cycles"] for r in rows], default=1))
    ax.set_title("step time by component")
    ax.legend(fontsize=7)
