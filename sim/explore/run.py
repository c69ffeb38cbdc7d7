"""``dojo explore``: a grid of design points swept on Dask, written to a results folder.

``DIR/points/`` and ``DIR/configs/`` hold every finished point (the store that makes a
rerun resume), ``DIR/<config label>/<pattern>-seed<seed>/`` each design point's
``sweep.json``, ``sweep.png`` and ``heatmap.png``, and ``DIR/results.csv``,
``results.json``, ``saturation.png``, ``best.png`` the table and its figures.
"""

import contextlib
import time
from pathlib import Path

from .cluster import dashboard_of, dask_client, run_design_points
from .report import plot_best, plot_saturation, result_row, write_results
from .store import ResultStore

__all__ = ["explore"]


def explore(design_points, grid_keys, rates, *, out, engine="rtl", sim="verilator",
            timing, packet_len=1, threads=None, workers=None, scheduler=None, fresh=False,
            progress=True, client=None, point_fn=None, log=print, overrides=(),
            config_path=None, rank="saturation"):
    """Run every design point (see :func:`sim.explore.grid.design_points`); returns the
    ``results.json`` dict (rows and failures). ``client``: an open Dask client to use
    instead of starting one (tests). ``overrides`` and ``config_path``: what the design
    points were loaded with, recorded (with each one's grid values and seed) in its
    ``sweep.json`` and, for the base config, in ``results.json``
    (:func:`gen.provenance.provenance`). ``rank``: what ``best.png`` orders the design
    points by (:data:`sim.explore.report.RANKS`)."""
    from gen.provenance import provenance

    def provenance_of(dp):
        return provenance(dp.cfg, list(overrides) + [f"{k}={v}" for k, v in dp.texts],
                          dp.seed, config_path)

    out = Path(out)
    t0 = time.perf_counter()
    with (dask_client(workers, scheduler) if client is None
          else contextlib.nullcontext(client)) as active:
        store = ResultStore(out)            # only once the cluster is there: no empty folder
        if fresh:
            store.clear()
        link = dashboard_of(active)
        if link:
            log(f"Dask dashboard: {link}")
        nthreads = sum(active.nthreads().values())
        log(f"{len(design_points)} design points x {len(rates)} rates on {nthreads} "
            f"worker thread(s) ({engine}{' under ' + sim if engine == 'rtl' else ''})")
        sweeps, failures = run_design_points(
            design_points, rates, engine=engine, sim=sim, timing=timing,
            packet_len=packet_len, threads=threads, client=active, store=store,
            progress=progress, point_fn=point_fn,
            out_of=lambda dp: out / dp.label, provenance=provenance_of)
    first_failure = {}
    for f in failures:
        first_failure.setdefault(f["label"], f["error"])
    rows = [result_row(dp, sweeps.get(dp), first_failure.get(dp.label))
            for dp in design_points]
    result = {"grid": {k: list(dict.fromkeys(dict(dp.params)[k] for dp in design_points))
                       for k in grid_keys},
              "patterns": list(dict.fromkeys(dp.pattern for dp in design_points)),
              "seeds": list(dict.fromkeys(dp.seed for dp in design_points)),
              "rates": rates, "engine": engine, "simulator": sim if engine == "rtl" else None,
              "timing": timing, "packet_len": packet_len,
              "provenance": _base_provenance(design_points, overrides, config_path),
              "wall_s": round(time.perf_counter() - t0, 2),
              "failures": [{k: v for k, v in f.items() if k != "traceback"} for f in failures]}
    write_results(out, rows, grid_keys, result)
    (out / "failures.log").write_text("".join(
        f"{f['label']} at offered {f['rate']}:\n{f['traceback']}\n" for f in failures))
    plot_saturation(rows, grid_keys, out / "saturation.png")
    plot_best(rows, grid_keys, out / "best.png", rank=rank)
    return {**result, "rows": rows}


def _base_provenance(design_points, overrides, config_path):
    """The provenance of the grid's base: the config as loaded with ``overrides`` (the
    grid's values and the seeds are in the rows; each design point's ``sweep.json`` has
    its own resolved config)."""
    from gen.config import load_config
    from gen.provenance import provenance
    base = load_config(config_path, list(overrides)) if config_path else (
        design_points[0].cfg if design_points else {})
    return provenance(base, overrides, None, config_path)
