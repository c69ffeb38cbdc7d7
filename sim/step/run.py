"""A training step on the RTL: compile, load, run, check bit for bit, report.

Where the figures come from:

- ``step_cycles``: from the first start write leaving a host to the last DONE arriving
  (:mod:`verif.tb_step`, the ``programs`` test of :mod:`verif.tb_tile` plus a monitor);
- the cycle records: every change of each node's command-processor status (both
  queues' state and program counter), its NI status bits (engine busy, DMA busy) and
  its router's mesh-output valid bits, sampled every cycle by the monitor from signals a
  Verilator build of its own makes readable (:data:`verif.tb_step.STEP_SIGNALS`).
  From them :mod:`sim.step.timeline` makes the descriptor spans, the per-node compute /
  communication / waiting cycles, the exposed communication and the link utilisation;
- the MACs: the nodes' event counters (``mac_steps_*``) minus those of a second run with
  the same loads and reads whose programs HALT at once (the hosts run no EXEC; the
  difference is exactly the step's), checked against what the compiler planned.

Without the watched run (``trace_sim=None``) the flits per link are the difference of the
nodes' link counters between the run and the idle run (whose programs have the same
length, so the hosts load the same lines): the step's own flits. The watched run's count
also has the hosts' start writes and DONEs that cross the mesh during the step (on the
MLP preset 7176 flits watched against 7008 from the counters).

On the fast engine (``engine="model"``, :mod:`sim.netmodel.host`: the same
:mod:`verif.host_programs` flow on the model's tile, cycle for cycle the RTL's) the watched
run is the model's own (:mod:`sim.step.records`: the same signals read from the model's
state every cycle, records equal to the Icarus run's), and it is the step's run: the
record has the same timeline, breakdown and files as on the RTL. With ``trace_sim=None``
neither engine records (the step is then stepped from packet to packet on the model).

``exposed_cycles`` of a node (its ASTRA-sim line) is the step's cycles minus its engine's
busy cycles, as ASTRA-sim counts it (everything that kept the node from computing);
``exposed_communication_cycles`` is the DMA busy while the engine is not.
"""

import json
from pathlib import Path

import numpy as np

__all__ = ["run_step", "astra_lines"]


def _counters(res, node):
    return res["counters"][f"{node[0]},{node[1]}"]


def _timeline(mdl, compiled, res, step):
    """Per node: its queues' spans, engine and DMA spans, breakdown (:mod:`sim.step.timeline`)."""
    from sim.step.timeline import busy_spans, node_breakdown, queue_spans
    pcs = compiled.start_pcs(mdl)
    progs = compiled.with_halts(mdl)
    t0, t_end = res["t0"], res["t_end"]
    out = []
    for node, recs in zip([tuple(n) for n in res["nodes"]], res["records"]):
        if node not in pcs:                # an idle node: no program, no spans
            continue
        queues = [queue_spans(mdl, recs, t0, t_end, q, pcs[node][q], progs[node][q],
                              compiled.labels[node][q] + ["end"]) for q in (0, 1)]
        out.append({"node": list(node), "queues": queues,
                    "engine": busy_spans(recs, t0, t_end, 0),
                    "dma": busy_spans(recs, t0, t_end, 1),
                    **node_breakdown(recs, t0, t_end, queues[1])})
    out.sort(key=lambda t: (t["node"][1], t["node"][0]))     # row-major: sys[i] of ASTRA
    return {"workload": step.name, "cycles": t_end - t0, "nodes": out}


def _stats(values):
    return {"min": min(values), "max": max(values), "mean": sum(values) / len(values)}


def astra_lines(record):
    """One line per node of a replica in ASTRA-sim's words (the idle nodes are not part
    of the system that trains)."""
    return [f"sys[{i}] finished, {record['step_cycles']} cycles, exposed communication "
            f"{n['exposed_cycles']} cycles"
            for i, n in enumerate(n for n in record["per_node"] if not n.get("idle"))]


def run_step(cfg, step, *, sim="verilator", trace_sim="icarus", out_dir, seed=0,
             derived=None, engine="rtl", timing_only=False, record_mutant="none",
             preload=False):
    """Run ``step`` (:class:`sim.step.spec.Step`) on the config's tile; returns the record
    (also ``out_dir/result.json``). Raises ValueError (one line) before anything runs if
    the compiler refuses it.

    ``trace_sim``: the simulator of the watched run that gives the timeline (``icarus``:
    Verilator's hierarchical build does not show the node's internals to VPI); when it
    is not ``sim``, the step runs under both and their cycles must agree; ``None``: no
    timeline (the breakdown then has the MAC counters only). On the fast engine any
    value but ``None`` records the model's own run (:func:`sim.step.records.run_watched`;
    ``record_mutant``: its recorder's, tests only).

    ``preload`` (the fast engine, timing only): the step's programs and operands are
    written into the SRAM before cycle 0 (:func:`sim.netmodel.host.preload`) instead of
    sent by the hosts, nothing is read back and the counters are read directly; the
    step's cycles (first start write to last DONE), its records, breakdown and counters'
    differences are the host-loaded run's (``tests/sim/step/test_step_preloaded.py``). The
    record says ``"preloaded": true``; the load and read-back were not run, so
    ``load_cycles`` and ``read_cycles`` are None (not measured), and the energy is the
    step's phases only (read directly)."""
    from gen.build import compute_tile, derived_of
    from rtl.net.directions import MESH_PORTS
    from sim.energy import workload_energy
    from sim.step.compiler import compile_step
    from sim.step.timeline import plot_timeline, trace_events
    from sim.workloads.runners import record_engine, run_programs
    from verif.node_model import NodeModel
    from verif.tb_step import STEP_SIGNALS
    if trace_sim not in (None, "icarus"):
        raise ValueError(f"trace_sim={trace_sim!r}: the watched run needs every signal "
                         f"visible; allowed: 'icarus' or None (verif/tb_step.py says why)")
    d = derived_of(cfg, derived)
    step = step.for_config(cfg)               # the file's sizes for this config
    if engine == "model":
        from sim.netmodel.host import model_problem
        problem = model_problem(cfg, d, timing_only=timing_only)
        if problem:
            raise ValueError(problem)
    elif timing_only:
        raise ValueError("timing_only: only the fast engine (engine='model') runs without data")
    if preload and not (engine == "model" and timing_only):
        raise ValueError("preload: only a timing-only run on the fast engine (engine='model', "
                         "timing_only=True) is preloaded")
    mdl0 = NodeModel.from_config(cfg, d)
    # a timing-only run compares no result: no golden model (most of a D1 compile)
    compiled = compile_step(cfg, d, step, mdl0, seed=seed, golden=not timing_only)
    design = compute_tile(cfg, engine=engine, derived=d)
    mdl = NodeModel.from_manifest(design.manifest())
    programs = compiled.with_halts(mdl)
    reads = [[list(n), a, c] for n, a, c, _ in compiled.reads]
    # one run folder per step content: two points of a study sharing a build may run at
    # once, and a shared folder would hand one the other's results
    import hashlib
    what = hashlib.sha256(json.dumps(step.raw, sort_keys=True).encode()).hexdigest()[:12]
    tag = f"step-{step.name}-{what}-{seed}"
    traced = None
    on = {"cfg": cfg, "engine": engine, "timing_only": timing_only}
    if trace_sim and engine == "model":
        # the model's own watched run is the step's run (the same cycles, one per call)
        from sim.step.records import run_watched
        from sim.workloads.runners import program_scenario
        traced = run_watched(design, program_scenario(mdl, programs, compiled.data, reads,
                                                      program_lines=compiled.program_lines),
                             cfg=cfg, derived=d, timing_only=timing_only, mutant=record_mutant,
                             preload_data=preload)
    elif trace_sim:
        traced = run_programs(design, programs, compiled.data, sim=trace_sim, tag=tag,
                              reads=reads, program_lines=compiled.program_lines,
                              test_module="verif.tb_step", testcase="step_timeline",
                              public_signals=STEP_SIGNALS)
    watched_is_run = traced is not None and (engine == "model" or trace_sim == sim)

    def unwatched(progs, tag, data):
        if preload:
            from sim.step.records import run_preloaded
            from sim.workloads.runners import program_scenario
            return run_preloaded(design, program_scenario(
                mdl, progs, data, reads, program_lines=compiled.program_lines),
                cfg=cfg, derived=d)
        return run_programs(design, progs, data, sim=sim, tag=tag, reads=reads,
                            program_lines=compiled.program_lines, **on)
    res = traced if watched_is_run else unwatched(programs, tag, compiled.data)
    # the idle run loads programs of the same length (the first descriptor a HALT), so the
    # hosts move the same lines in both runs; preloaded, nothing is moved and nothing
    # reads the operands, so they are left out (a D1 tile's preload is minutes of Python)
    idle = {n: {q: [mdl.cmd_halt(0)] + d[1:] for q, d in qs.items()}
            for n, qs in programs.items()}
    base = unwatched(idle, tag + "-idle", {} if preload else compiled.data)
    timeline, by_node = None, {}
    problems = list(res["problems"])
    if traced is not None:
        timeline = _timeline(mdl, compiled, traced, step)
        by_node = {tuple(t["node"]): t for t in timeline["nodes"]}
    if traced is not None and not watched_is_run:
        problems += [f"{trace_sim}: {p}" for p in traced["problems"]]
        if traced["cycles"] != res["cycles"]:
            problems.append(f"the step took {res['cycles']} cycles under {sim} and "
                            f"{traced['cycles']} under {trace_sim}")
        if traced["reads"] != res["reads"]:
            problems.append(f"the results under {sim} and {trace_sim} differ")

    wrong = [] if timing_only else sorted(
        {label for (n, a, c, label), got in zip(compiled.reads, res["reads"])
         if got != compiled.expected[(n, label)]})
    bad_halts = [h for h in res["halts"] if any(t != 0 for t in h[1].values())]
    cycles = res["cycles"]
    units = cfg.node.matrix_units
    mac_key = "mac_steps_bf16" if step.dtype == "bf16" else "mac_steps_int8"
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    # the replicas' nodes and the idle ones (live, no replica: reported, counted in the
    # peak), row-major; a disabled node has no line
    idle = set(compiled.idle)
    nodes = sorted(list(compiled.programs) + list(idle), key=lambda n: (n[1], n[0]))
    per_node, links = [], []
    for n in nodes:
        c, b = _counters(res, n), _counters(base, n)
        macs = c[mac_key] - b[mac_key]
        if n in by_node:
            t = by_node[n]
            flits = dict(zip(MESH_PORTS, traced["link_flits"][traced["nodes"].index(list(n))]))
            row = {k: t[k] for k in ("compute_cycles", "communication_cycles",
                                     "overlapped_cycles", "exposed_communication_cycles",
                                     "waiting_cycles", "idle_cycles")}
        else:                              # no timeline: the MACs, the counters' flits
            flits = {p: c[f"flits_{p}"] - b[f"flits_{p}"] for p in MESH_PORTS}
            # the MAC steps: one array step a cycle (the RTL node has one P x P array;
            # matrix_units is the peak's), without the fill and write-back the records see
            row = {"compute_cycles": macs}
        per_node.append({"node": list(n), "mac_steps": macs, **row,
                         **({"idle": True} if n in idle else {}),
                         "exposed_cycles": cycles - row["compute_cycles"],
                         "flits_sent": sum(flits.values()), "flits": flits})
        links += [{"node": list(n), "port": p, "flits": f, "utilisation": f / cycles}
                  for p, f in flits.items() if f]
    working = [p for p in per_node if not p.get("idle")]     # the figures of the replicas
    compute = [p["compute_cycles"] for p in working]
    macs = sum(p["mac_steps"] for p in per_node)
    f_hz = cfg.clock.f_ghz * 1e9
    record = {
        "workload": step.name, "description": step.description, "dtype": step.dtype,
        "engine": "rtl", "sim": sim, "mesh": [mx, my], "data_parallel": step.data,
        "grid": list(step.grid), "replicas": [list(o) for o in compiled.groups],
        "idle_nodes": [list(n) for n in compiled.idle], "allreduce": compiled.allreduce,
        "gemms": [{"layer": g.gemm.layer, "pass": g.gemm.kind, "m": g.gemm.m,
                   "n": g.gemm.n, "k": g.gemm.k, "block": g.lay["block"],
                   "summa_steps": g.lay["steps"], "sram_lines": g.lines} for g in compiled.gemms],
        "match": not wrong and not bad_halts and not problems,
        "wrong_results": wrong, "bad_halts": bad_halts, "problems": problems,
        "step_cycles": cycles, "step_seconds": cycles / f_hz,
        "load_cycles": res["load_cycles"], "read_cycles": res["read_cycles"],
        "mac_steps": macs, "mac_steps_expected": compiled.mac_steps,
        "peak_fraction": macs / (len(nodes) * units * cycles),
        "compute_cycles": {"min": min(compute), "max": max(compute),
                           "mean": sum(compute) / len(compute)},
        "exposed_cycles": {"min": cycles - max(compute), "max": cycles - min(compute),
                           "mean": cycles - sum(compute) / len(compute)},
        "timeline": (f"{'model' if engine == 'model' else trace_sim} run, every cycle"
                     if timeline else None),
        **({"communication_cycles": _stats([p["communication_cycles"] for p in working]),
            "exposed_communication_cycles": _stats([p["exposed_communication_cycles"]
                                                    for p in working]),
            "waiting_cycles": _stats([p["waiting_cycles"] for p in working]),
            "exposed_communication_fraction": (
                sum(p["exposed_communication_cycles"] for p in working)
                / max(1, sum(p["communication_cycles"] for p in working)))}
           if timeline else {}),
        "link_utilisation": {"mean": float(np.mean([x["utilisation"] for x in links]))
                             if links else 0.0,
                             "max": max((x["utilisation"] for x in links), default=0.0),
                             "links": links},
        "program_lines": compiled.program_lines, "data_lines": compiled.data_lines,
        "per_node": per_node,
        "energy": workload_energy(cfg, d, res, flops=step.flops),
    }
    record_engine(record, sim=sim, engine=engine, timing_only=timing_only,
                  data_keys=("wrong_results",), preloaded=preload,
                  load_keys=("load_cycles", "read_cycles", "energy"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "astra.txt").write_text("\n".join(astra_lines(record)) + "\n")
    if timeline:
        (out / "timeline.json").write_text(json.dumps(timeline) + "\n")
        (out / "records.json").write_text(json.dumps(
            {k: traced[k] for k in ("t0", "t_end", "nodes", "records", "link_flits")}) + "\n")
        (out / "trace.json").write_text(json.dumps(trace_events(timeline, cfg.clock.f_ghz))
                                        + "\n")
        plot_timeline(timeline, out / "timeline.png", nodes=range(min(4, len(nodes))))
    return record
