"""Sweep points as Dask tasks, on a local cluster or an existing scheduler.

Why it scales linearly in workers: the points are independent (each resets the
network and measures on its own), a point is seconds of simulation against a few
milliseconds of scheduling, and every point of a config shares one build.

- **One build per config.** Each config gets one ``prepare`` task
  (:func:`sim.sweep.prepare_engine`: the cached Verilator/Icarus build, or the fast
  model's geometry); its points depend on it, so none starts before the build exists
  and no two workers build the same config (the build directory's lock also holds
  across processes). On a multi-machine cluster the RTL engine needs the project and
  ``DOJO_BUILD`` on a shared filesystem; the model engine needs nothing shared.
- **One point is one task** (:func:`sim.sweep.measure_point`, the function a serial
  sweep calls, so the points are the serial run's), the highest offered rates first:
  they take longest (the drain), and starting them first keeps every worker busy to
  the end.
- **Nothing finished is lost.** The client writes each point to the
  :class:`~sim.explore.store.ResultStore` as it completes; a rerun skips what is there.
- **Faults.** A worker that dies mid-point has the point rescheduled by Dask on another
  worker (up to ``distributed.scheduler.allowed-failures`` times, default 3); a point
  that raises is reported with its parameters and the reason while the others finish.
"""

import contextlib
import json
import logging
import os
import traceback

from gen.config import ConfigError

__all__ = ["dask_client", "run_design_points", "PRELOAD"]

#: the module every worker imports as it starts (``dask worker --preload``)
PRELOAD = "sim.explore.preload"


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None, dashboard=True):
    """A ``distributed.Client``: on ``scheduler`` (an address such as
    ``tcp://host:8786``) if given, else on a new local cluster of ``workers`` processes
    (default: one per core) with one thread each (a simulation is single-threaded).
    Its workers' logs are silenced: a point that fails is reported by
    :func:`run_design_points` with its parameters, not as a worker's traceback."""
    from distributed import Client, LocalCluster
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError([f"--scheduler {scheduler!r}: cannot connect "
                               f"({type(exc).__name__}: {exc})"]) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0" if dashboard else None,
                      silence_logs=logging.CRITICAL, preload=[PRELOAD]) as cluster, \
            Client(cluster) as client:
        yield client


def dashboard_of(client):
    """The Dask dashboard's address, or None when the cluster has none."""
    try:
        return client.dashboard_link if client.scheduler_info().get("services", {}).get(
            "dashboard") else None
    except Exception:       # no dashboard service: there is nothing to print
        return None


def _config_key(cfg, engine, sim):
    from .store import digest
    return digest({"config": cfg.raw, "engine": engine, "sim": sim if engine == "rtl" else None})


def _point_key(dp, rate, engine, sim, timing, packet_len):
    from sim.sweep import sweep_spec
    from .store import digest
    spec = sweep_spec(dp.pattern, rate, packet_len, dp.seed)
    return spec, digest({"config": dp.cfg.raw, "engine": engine,
                         "sim": sim if engine == "rtl" else None, "spec": spec,
                         "timing": timing})


class _Bar:
    """One tqdm bar over every point: done (finished now or found on disk), running
    (on a worker now, as the scheduler reports it), failed."""

    def __init__(self, total, initial, enabled):
        import sys
        import time
        from tqdm import tqdm
        # off a terminal (CI logs, nohup): one line per finished point on stderr instead
        self.log = enabled and not sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=initial, unit="point", desc="points",
                        disable=True if self.log or not enabled else None, dynamic_ncols=True)
        self.failed, self.last = 0, 0.0
        self.total, self.done, self.initial = total, initial, initial
        self.t0 = time.monotonic()

    def refresh(self, client, ours):
        import time
        if self.bar.disable or time.monotonic() - self.last < 0.5:
            return                  # asking the scheduler after every point costs the client
        self.last = time.monotonic()
        try:
            running = sum(1 for keys in client.processing().values()
                          for key in keys if key in ours)
        except Exception:       # the scheduler is busy or gone: show what we know
            running = "?"
        self.bar.set_postfix(running=running, failed=self.failed, refresh=True)

    def advance(self, failed=False, what=""):
        self.failed += failed
        self.done += 1
        self.bar.update(1)
        if self.log:
            import sys
            import time
            from sim.sweep import progress_line
            # the remaining time from this run's points only (not those found on disk)
            elapsed = time.monotonic() - self.t0
            line = progress_line("points", self.done - self.initial, self.total - self.initial,
                                 elapsed, what + (" FAILED" if failed else ""))
            print(line + (f" ({self.initial} found on disk)" if self.initial else ""),
                  file=sys.stderr, flush=True)

    def close(self):
        self.bar.close()


def run_design_points(design_points, rates, *, engine, sim, timing, packet_len=1,
                      threads=None, client, store, progress=True, point_fn=None,
                      out_of=None, provenance=None):
    """Measure every rate of every design point as Dask tasks on ``client``.

    Points already in ``store`` are not run again. As each design point's last rate
    completes, the client computes its sweep (the ``sweep.json`` dict of
    :func:`sim.sweep.sweep_result`, from the points exactly as a serial run does) and,
    with ``out_of(dp)`` a folder, writes it there with its figures (and
    ``provenance(dp)``, :func:`gen.provenance.provenance`, in it). Each design point has
    one more point, its zero-load point (:func:`sim.sweep.measure_zero_load`), first.
    ``point_fn`` replaces :func:`sim.sweep.measure_point` (tests inject faults with it).

    Returns ``(sweeps, failures)``: ``{dp: sweep}`` for the design points whose every
    rate succeeded, and one dict per failed point (parameters, rate, reason).
    """
    from distributed import as_completed
    from sim.sweep import measure_point, measure_zero_load, prepare_engine, sweep_result
    from .store import digest
    point_fn = point_fn or measure_point
    from gen.provenance import git_commit
    commit = git_commit()[0]
    jobs = {}                              # point key -> (dp, rate, spec); rate None: zero load
    per_dp = {}
    for dp in design_points:
        # the zero-load point first (its rate follows from the bound, on the worker)
        zkey = digest({"config": dp.cfg.raw, "engine": engine,
                       "sim": sim if engine == "rtl" else None, "timing": timing,
                       "zero_load": [dp.pattern, packet_len, dp.seed]})
        jobs[zkey] = (dp, None, None)
        keys = [zkey]
        for rate in rates:
            spec, key = _point_key(dp, rate, engine, sim, timing, packet_len)
            jobs[key] = (dp, rate, spec)
            keys.append(key)
        per_dp[dp] = keys
    todo = [key for key in jobs if store.load("points", key) is None]
    bar = _Bar(len(jobs), len(jobs) - len(todo), progress)
    sweeps, failures = {}, []

    def finish(dp):
        """The sweep of ``dp`` once all its points are in the store (once)."""
        records = [store.load("points", key) for key in per_dp[dp]]
        if dp in sweeps or any(r is None for r in records):
            return
        prepared = store.load("configs", _config_key(dp.cfg, engine, sim))
        sweep = sweep_result(dp.cfg, prepared, pattern=dp.pattern, packet_len=packet_len,
                             timing=timing, points=[r["point"] for r in records[1:]],
                             zero_point=records[0]["point"],
                             out=out_of(dp) if out_of else None,
                             provenance=provenance(dp) if provenance else None)
        sweep["wall_s"] = sum(r["wall_s"] for r in records)
        sweeps[dp] = sweep

    prepares, futures = {}, {}
    for key in todo:
        dp, rate, spec = jobs[key]
        ckey = _config_key(dp.cfg, engine, sim)
        if ckey not in prepares:
            prepares[ckey] = client.submit(prepare_engine, dp.cfg, engine=engine, sim=sim,
                                           threads=threads, key=f"prepare-{ckey}",
                                           priority=10_000)
        if rate is None:
            future = client.submit(measure_zero_load, prepares[ckey], dp.cfg, dp.pattern,
                                   packet_len, dp.seed, timing, point_fn, key=f"point-{key}",
                                   priority=0)
        else:
            future = client.submit(point_fn, prepares[ckey], spec, timing, key=f"point-{key}",
                                   priority=int(round(rate * 1000)))
        futures[future] = key
    for dp in design_points:               # resumed design points with nothing to run
        finish(dp)

    ours = {f.key for f in futures}
    bar.refresh(client, ours)
    try:
        for future in as_completed(futures):
            key = futures[future]
            dp, rate, spec = jobs[key]
            ckey = _config_key(dp.cfg, engine, sim)
            if future.status == "error":
                exc = future.exception()
                failures.append({"params": dict(dp.params), "pattern": dp.pattern,
                                 "seed": dp.seed, "label": dp.label,
                                 "rate": "the zero-load point" if rate is None else rate,
                                 "error": f"{type(exc).__name__}: {exc}",
                                 "traceback": "".join(traceback.format_exception(exc))})
                bar.advance(failed=True, what=f"{dp.label} at {failures[-1]['rate']}")
            else:
                point, wall = future.result()
                if store.load("configs", ckey) is None:
                    prepared = prepares[ckey].result()
                    store.save("configs", ckey, {k: prepared[k] for k in
                                                 ("engine", "sim", "geo")})
                store.save("points", key, {"config": dp.config_label, "pattern": dp.pattern,
                                           "seed": dp.seed, "rate": rate, "engine": engine,
                                           "sim": sim if engine == "rtl" else None,
                                           "commit": commit, "wall_s": wall, "point": point})
                bar.advance(what=f"{dp.label} at "
                                 + ("the zero-load point" if rate is None else f"{rate:g}"))
                finish(dp)
            bar.refresh(client, ours)
    finally:                    # interrupted: nothing of ours stays queued on a shared cluster
        bar.close()
        client.cancel([f for f in futures if not f.done()])
    return sweeps, failures
