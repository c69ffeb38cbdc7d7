"""The scale-out study: the same training step on 1 die up to the whole tile, next to a GPU cluster.

Each point is a fabric of ``dx x dy`` dies (``tile.dies_x``, ``tile.dies_y`` of the
config) running the step (at the workload's ``scale`` for the config) with one replica per
usable ``parallel.grid`` block of nodes (:func:`sim.step.compiler.placement`: whole blocks,
none holding a disabled node; the rest idle), so the data-parallel degree grows with the
fabric:

- **weak** scaling: every replica keeps the workload's tokens (the global batch grows);
- **strong** scaling: one fixed global batch (:func:`strong_batch`) split evenly over the
  replicas of each point (:func:`strong_split`): the most replicas, at most the point's
  usable blocks, that give every replica the same whole number of tokens the compiler's
  checks (:func:`sim.step.compiler.check_step`: the GEMMs' block multiples, the SRAM,
  the all-reduce) accept; the blocks left over are idle. The batch is never rounded: a
  point with no such split is reported refused with one line saying why. The fixed batch
  is, among the weak batches of the config's tile and of the study's fabrics (their
  replicas times the workload's tokens), the one the most fabrics split evenly, the
  largest on a tie (:func:`strong_batch`); ``study.json``'s ``strong_batch`` says which,
  and how many fabrics split each of the others.

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
cycles without data values); a model point's breakdown comes from the model's own cycle
records (:mod:`sim.step.records`), as the RTL's from its watched run, on fabrics of up to
:data:`MAX_RECORDED_NODES` nodes.
"""

import json
import time
from fractions import Fraction
from pathlib import Path

from gen.config import ConfigError

__all__ = ["MAX_RTL_NODES", "MAX_RECORDED_NODES", "default_dies", "replicas_on", "strong_split", "strong_batch",
           "study_plan", "study_points", "run_point", "run_points", "point_status", "choose_engine",
           "run_scaleout", "plot_breakdown"]

#: the largest fabric a study point simulates on the RTL (seconds to a few minutes a point)
MAX_RTL_NODES = 64

#: the largest fabric whose model points keep the watched run's cycle records (the
#: breakdown and the timeline): one D1 die's 31 replicas make 1.15 million records (39 MB
#: of records.json, 87 MB of trace.json), so two dies are the limit; a larger point has
#: the cycles and MACs, its breakdown not measured
MAX_RECORDED_NODES = 722


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


def _dies_overrides(dies):
    return [f"tile.dies_x={dies[0]}", f"tile.dies_y={dies[1]}"]


def strong_split(cfg, overrides, step, tokens):
    """The strong-scaling point of a fixed global batch of ``tokens`` tokens (the first
    layer's; every other layer's in the workload's proportion) on the config with
    ``overrides``: ``step`` with the most replicas, at most the fabric's usable blocks,
    that give every replica of every layer the same whole number of tokens and that
    :func:`sim.step.compiler.check_step` accepts. ValueError, one line, when no replica
    count does: the splits tried and why the largest was refused (nothing is rounded)."""
    from gen.config import config_from_dict
    from gen.derive import derive
    from sim.step.compiler import check_step
    c = config_from_dict(cfg.raw, overrides)
    d = derive(c)
    step = step.for_config(c)
    blocks = replicas_on(cfg, overrides, step)
    first = step.layers[0].tokens
    refused = []
    for r in range(min(blocks, tokens), 0, -1):
        if tokens % r:
            continue
        try:                                 # another layer left a fraction of a token
            st = step.with_data(r, Fraction(tokens, r * first))
        except ConfigError as exc:           # more tokens than a layer may have
            refused.append((r, tokens // r, exc.problems[0]))
            break
        except ValueError:
            continue
        try:
            check_step(c, d, st)
        except ValueError as exc:
            refused.append((r, tokens // r, str(exc)))
            if str(exc).startswith("node.sram_kb"):
                break                        # fewer replicas: more tokens each, more SRAM
            continue
        return st
    if not refused:
        raise ValueError(f"the fixed global batch of {tokens} tokens does not split into "
                         f"equal whole numbers of tokens over 1 to {blocks} replicas (the "
                         f"usable blocks of parallel.grid {list(step.grid)}); allowed: a "
                         f"batch with a divisor in that range")
    splits = ", ".join(f"{r} x {t}" for r, t, _ in refused)
    raise ValueError(f"the fixed global batch of {tokens} tokens splits evenly over at most "
                     f"{blocks} replicas as {splits} (replicas x tokens), each refused by the "
                     f"compiler's checks; the largest: {refused[0][2]}")


def _splits(cfg, step, dies, tokens):
    """Per fabric of ``dies``: :func:`strong_split`'s step, or its refusal (a str)."""
    out = {}
    for dd in dies:
        try:
            out[dd] = strong_split(cfg, _dies_overrides(dd), step, tokens)
        except ValueError as exc:
            out[dd] = str(exc)
    return out


def strong_batch(cfg, step, dies, tokens=None):
    """The strong scaling's fixed global batch (tokens of the first layer) for a study of
    the fabrics ``dies``, and its split on each (:func:`strong_split`): ``tokens`` if given,
    else, among the weak batches of the config's tile and of ``dies`` (usable blocks times
    the workload's tokens), the one the most fabrics split evenly, the largest of those on
    a tie. -> ``{"tokens", "base", "points": n, "others": [one line per other batch: how
    many fabrics split it]}`` and ``{(dx, dy): step or refusal}``. ValueError (one line)
    when no fabric splits the given ``tokens``."""
    if tokens is not None:
        splits = _splits(cfg, step, dies, tokens)
        if all(isinstance(v, str) for v in splits.values()):
            dd = min(dies, key=lambda dd: (dd[0] * dd[1], dd))
            raise ValueError(f"strong batch {tokens}: no fabric of the study splits it; on "
                             f"{dd[0]}x{dd[1]} dies: {splits[dd]}")
        return {"tokens": tokens, "base": "given", "points": _runs(splits), "others": []}, \
            splits
    first = step.for_config(cfg).layers[0].tokens
    fabrics = [("the config's tile", [])] + [
        (f"{dx}x{dy} dies", _dies_overrides((dx, dy)))
        for dx, dy in sorted(dies, key=lambda dd: -dd[0] * dd[1])]
    candidates = {}
    for name, ov in fabrics:
        replicas = replicas_on(cfg, ov, step)
        candidates.setdefault(replicas * first, f"{name}: {replicas} replicas x {first} tokens")
    best, others = None, []
    for batch in sorted(candidates, reverse=True):
        splits = _splits(cfg, step, dies, batch)
        if best is None or _runs(splits) > _runs(best[1]):
            if best is not None:
                others.append(best[2])
            best = (batch, splits, f"{batch} tokens ({candidates[batch]}): "
                                   f"{_runs(splits)} of {len(dies)} fabrics split it")
        else:
            others.append(f"{batch} tokens ({candidates[batch]}): {_runs(splits)} of "
                          f"{len(dies)} fabrics split it")
    batch, splits, _ = best
    return {"tokens": batch, "base": candidates[batch], "points": _runs(splits),
            "others": others}, splits


def _runs(splits):
    return sum(not isinstance(v, str) for v in splits.values())


def study_plan(cfg, step, dies, derived, engine="rtl", timing_only=False, strong_tokens=None):
    """Every point of both scalings, checked for the fabric's size on ``engine``
    (ConfigError, one line): ``{"points": [(mode, (dx, dy), overrides, step)], "refused":
    [(mode, (dx, dy), reason)], "strong_batch": strong_batch(...)}``. A weak point has as
    many replicas as its fabric has usable blocks of the grid (:func:`replicas_on`: the
    nodes past the last whole block idle, blocks with a disabled node skipped); a strong
    point the split of the fixed batch (:func:`strong_split`), or, when there is none, a
    refusal."""
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
    fitting([], "the config's tile")
    checked = []
    for dx, dy in dies:
        nodes = dx * nx * dy * ny
        if engine == "rtl" and nodes > MAX_RTL_NODES:
            raise ConfigError([f"--dies {dx}x{dy}: {nodes} nodes, the RTL runs training steps "
                               f"up to {MAX_RTL_NODES} nodes; allowed: smaller fabrics, or "
                               f"--engine model"])
        overrides = _dies_overrides((dx, dy))
        data = fitting(overrides, f"--dies {dx}x{dy}")
        if engine == "model":
            problem = _model_problem(cfg, overrides, timing_only)
            if problem:
                raise ConfigError([f"--dies {dx}x{dy}: {problem}"])
        checked.append(((dx, dy), overrides, data))
    try:
        batch, splits = strong_batch(cfg, step, dies, strong_tokens)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    points, refused = [], []
    for (dx, dy), overrides, data in checked:
        points.append(("weak", (dx, dy), overrides, step.with_data(data)))
        split = splits[(dx, dy)]
        if isinstance(split, str):
            refused.append(("strong", (dx, dy), split))
        else:
            points.append(("strong", (dx, dy), overrides, split))
    return {"points": points, "refused": refused, "strong_batch": batch}


def study_points(cfg, step, dies, derived, engine="rtl", timing_only=False, strong_tokens=None):
    """``[(mode, (dx, dy), overrides, step)]``: the points of :func:`study_plan` that run
    (a strong point with no even split of the fixed batch is not one of them)."""
    return study_plan(cfg, step, dies, derived, engine, timing_only, strong_tokens)["points"]


def choose_engine(cfg, dies):
    """What runs a study whose command named no engine (no ``--engine``, ``--timing-only``
    or ``--preload``): the RTL when every fabric of ``dies`` has at most
    :data:`MAX_RTL_NODES` nodes, else the fast engine; with data values when the model
    holds them, else (flits over 64 bits, the D1 preset's) timing only and preloaded (the
    step's cycles are the host-loaded run's; the load through the tile edge's hosts is
    most of a large point's cost). -> ``(engine, timing_only, preload, why)``, ``why`` one
    line (``None`` for the RTL: nothing was chosen for the user)."""
    from gen.config import config_from_dict
    from gen.derive import derive
    sizes = []
    for dd in dies:
        c = config_from_dict(cfg.raw, _dies_overrides(dd))
        t = derive(c).tile
        sizes.append((t.mesh_x * t.mesh_y, dd))
    nodes, (dx, dy) = max(sizes)
    if nodes <= MAX_RTL_NODES:
        return "rtl", False, False, None
    timing_only = any(_model_problem(cfg, _dies_overrides(dd), False) for dd in dies)
    why = (f"engine: the fast model{', timing only, preloaded' if timing_only else ''} "
           f"(chosen: {dx}x{dy} dies have {nodes} nodes, the RTL runs up to "
           f"{MAX_RTL_NODES}"
           + (f"; router.flit_bits {cfg.router.flit_bits}: the model holds data values "
              f"in flits of at most 64 bits" if timing_only else "")
           + "; --engine chooses otherwise)")
    return "model", timing_only, timing_only, why


def _model_problem(cfg, overrides, timing_only):
    """:func:`sim.netmodel.host.model_problem` of ``cfg`` with ``overrides``."""
    from gen.config import config_from_dict
    from gen.derive import derive
    from sim.netmodel.host import model_problem
    c = config_from_dict(cfg.raw, overrides)
    return model_problem(c, derive(c), timing_only=timing_only)


def run_point(cfg_raw, overrides, step_raw, sim, out_dir, engine="rtl", timing_only=False,
              preload=False):
    """One study point on a worker (on ``engine``, without data values when
    ``timing_only``, its programs and operands written into the SRAM when ``preload``):
    ``{"record": ... }`` or ``{"refused": reason}``; the breakdown (from the watched run's
    records) is absent on a model point of more than :data:`MAX_RECORDED_NODES` nodes."""
    from gen.config import config_from_dict
    from sim.step.run import run_step
    from sim.step.spec import workload_from_dict
    from gen.derive import derive
    cfg = config_from_dict(cfg_raw, overrides)
    step = workload_from_dict(step_raw)
    t = time.monotonic()
    d = derive(cfg)
    recorded = engine == "rtl" or d.tile.mesh_x * d.tile.mesh_y <= MAX_RECORDED_NODES
    try:
        rec = run_step(cfg, step, sim=sim, out_dir=out_dir, engine=engine, derived=d,
                       timing_only=timing_only, trace_sim="icarus" if recorded else None,
                       preload=preload)
    except ValueError as exc:
        return {"refused": str(exc)}
    keep = ("step_cycles", "step_seconds", "match", "peak_fraction", "mac_steps",
            "compute_cycles", "communication_cycles", "exposed_communication_cycles",
            "exposed_cycles", "waiting_cycles", "exposed_communication_fraction", "mesh",
            "data_parallel", "preloaded", "load_cycles")
    return {"record": {k: rec[k] for k in keep if k in rec}, "wall_s": time.monotonic() - t}


def _tokens(step):
    return step.data * step.layers[0].tokens


def run_points(cfg, jobs, *, sim, out, client, fresh=False, progress=True, point_fn=None,
               engine="rtl", timing_only=False, preload=False):
    """Run the study points ``jobs`` (``[(name, overrides, step, priority)]``: the config
    with the overrides runs the step; Dask starts higher priorities first) on ``client``, each one Dask task of :func:`run_point`
    (``point_fn`` replaces it: the tests' stand-in), resuming from ``out/points``; returns
    ``(saved, failures)``: per job its saved result (``{"record": ...}``, ``{"refused":
    reason}`` or None when it failed) and one ``{"point", "error"}`` per failed task. Both
    studies (:func:`run_scaleout`, :func:`sim.step.nodesize.run_nodesize`) run their points
    here, so they share the store's keys and the progress bar. ``engine``: what runs the
    points (:func:`run_point`'s; part of the store's key on the model, and so is
    ``timing_only`` and ``preload`` when set)."""
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
    if preload:
        on["preload"] = True
    keys = [digest({"config": cfg.raw, "overrides": ov, "step": st.raw, "sim": sim,
                    "kind": "training-step", **on}) for _, ov, st, _ in jobs]
    todo = [i for i, k in enumerate(keys) if store.load("points", k) is None]
    bar = _Bar(len(jobs), len(jobs) - len(todo), progress)
    futures = {}
    # submitted largest first: Dask sends each worker its first tasks as they come (up to
    # its saturation, two per one-thread worker) and orders only the queued rest by
    # priority, so submitted smallest first the D1 study's 5x5 weak point, its longest,
    # started ten minutes in, behind four one- and two-die points
    for i in sorted(todo, key=lambda i: -jobs[i][3]):
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
                 progress=True, point_fn=None, engine="rtl", timing_only=False,
                 strong_tokens=None, preload=False, engine_choice=None):
    """Run every point on ``client`` (resuming from ``out/points``), add the GPU model, write
    ``study.json`` and ``scaleout.png``; returns the study dict. ``point_fn`` replaces
    :func:`run_point` (the tests' stand-in); ``timing_only`` (the fast engine's): the cycles
    without data values, which flits over 64 bits (the D1 preset) need; ``strong_tokens``:
    the strong scaling's fixed global batch (default: :func:`strong_batch`'s choice);
    ``preload`` (timing only): every point's programs and operands written into the SRAM
    (:func:`sim.step.run.run_step`'s): the same step cycles, the load not run;
    ``engine_choice``: why the command chose the engine (:func:`choose_engine`), kept in
    ``study.json``."""
    from sim.step.gpu import step_seconds
    out = Path(out)
    plan = study_plan(cfg, step, dies, derived, engine, timing_only, strong_tokens)
    points = plan["points"]
    jobs = [(f"{mode}-{dx}x{dy}", ov, st, dx * dy) for mode, (dx, dy), ov, st in points]
    saved, failures = run_points(cfg, jobs, sim=sim, out=out, client=client, fresh=fresh,
                                 progress=progress, point_fn=point_fn, engine=engine,
                                 timing_only=timing_only, preload=preload)
    rows = []
    for (mode, (dx, dy), ov, st), s in zip(points, saved):
        row = {"mode": mode, "dies": [dx, dy], "n_dies": dx * dy, "replicas": st.data,
               "usable_blocks": replicas_on(cfg, ov, st),
               "tokens_per_replica": st.layers[0].tokens, "global_tokens": _tokens(st),
               **point_status(s)}
        g = step_seconds(gpu, st)
        row["gpu"] = {"gpus": st.data, "step_seconds": g["step"], "compute": g["compute"],
                      "communication": g["communication"], "exposed": g["exposed"]}
        rows.append(row)
    for mode, (dx, dy), reason in plan["refused"]:
        rows.append({"mode": mode, "dies": [dx, dy], "n_dies": dx * dy, "replicas": None,
                     "tokens_per_replica": None, "global_tokens": plan["strong_batch"]["tokens"],
                     "status": "refused", "reason": reason, "gpu": None})
    rows.sort(key=lambda r: (r["n_dies"], r["dies"], r["mode"] != "weak"))    # points' order
    _speedups(rows)
    study = {"workload": step.name, "config": cfg.raw.get("name"), "engine": engine,
             "timing_only": timing_only, "preloaded": preload,
             "engine_choice": engine_choice,
             "sim": sim if engine == "rtl" else None, "gpu": gpu.name,
             "strong_batch": plan["strong_batch"], "points": rows,
             "failures": failures,
             "missing": (f"fabrics over {MAX_RTL_NODES} nodes (--engine model)"
                         if engine == "rtl" else
                         f"the breakdown of points over {MAX_RECORDED_NODES} nodes (their "
                         f"cycle records too large to keep); "
                         + ("the data values (timing only: not computed, not compared)"
                            if timing_only else "flits over 64 bits (--timing-only)")
                         + ("; the load of programs and operands (preloaded into the SRAM: "
                            "not run, not included in any figure)" if preload else ""))}
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
        mine = [r for r in mine if r["gpu"] is not None]     # not a refused split
        if not mine:
            continue
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
        mine = [r for r in rows if r["mode"] == mode and r["gpu"] is not None]
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
