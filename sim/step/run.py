"""A training step on the RTL: compile, load, run, check bit for bit, report.

Where the figures come from (the testbench :mod:`verif.tb_tile` ``programs``):

- ``step_cycles``: from the first start write leaving a host to the last DONE arriving;
- per node, compute: its MAC steps (the event counter ``mac_steps_bf16`` / ``_int8``;
  one step is a P x P x 1 multiply-accumulate, one cycle of a matrix unit), so
  ``compute_cycles`` is the cycles its engine spent multiplying;
- per node, communication: the flits its router sent on each mesh link during the step:
  the counters of the run minus those of a second run with the same loads, reads and
  counter reads but programs that HALT at once (the hosts' traffic through the routers
  is then taken off exactly);
- ``exposed_cycles`` of a node: the step's cycles it did not compute (communication and
  waiting not hidden behind its GEMMs; ASTRA-sim's "exposed communication" for a node
  whose compute is its GEMMs).

Per-descriptor start and end cycles are not observed: the command processor shows its
state and program counter only in ``cmd_status<q>``, which the hosts could poll but not
every cycle without loading the network, so there is no timeline here (see the README).
"""

import json
from pathlib import Path

import numpy as np

__all__ = ["run_step", "astra_lines"]


def _counters(res, node):
    return res["counters"][f"{node[0]},{node[1]}"]


def astra_lines(record):
    """One line per node in ASTRA-sim's words."""
    return [f"sys[{i}] finished, {record['step_cycles']} cycles, exposed communication "
            f"{n['exposed_cycles']} cycles" for i, n in enumerate(record["per_node"])]


def run_step(cfg, step, *, sim="verilator", out_dir, seed=0, derived=None):
    """Run ``step`` (:class:`sim.step.spec.Step`) on the config's tile; returns the record
    (also ``out_dir/result.json``). Raises ValueError (one line) before anything runs if
    the compiler refuses it."""
    from gen.build import derived_of, network_design
    from rtl.net.directions import MESH_PORTS
    from sim.energy import workload_energy
    from sim.step.compiler import compile_step
    from sim.workloads.runners import run_programs
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    mdl0 = NodeModel.from_config(cfg, d)
    compiled = compile_step(cfg, d, step, mdl0, seed=seed)
    design = network_design(cfg, kind="compute", top="tile", boundary="ports", derived=d)
    mdl = NodeModel.from_manifest(design.manifest())
    programs = compiled.with_halts(mdl)
    reads = [[list(n), a, c] for n, a, c, _ in compiled.reads]
    tag = f"step-{step.name}-{seed}"
    res = run_programs(design, programs, compiled.data, sim=sim, tag=tag, reads=reads,
                       program_lines=compiled.program_lines)
    idle = {n: {q: [mdl.cmd_halt(0)] for q in qs} for n, qs in programs.items()}
    base = run_programs(design, idle, compiled.data, sim=sim, tag=tag + "-idle", reads=reads,
                        program_lines=compiled.program_lines)

    wrong = sorted({label for (n, a, c, label), got in zip(compiled.reads, res["reads"])
                    if got != compiled.expected[(n, label)]})
    bad_halts = [h for h in res["halts"] if any(t != 0 for t in h[1].values())]
    cycles = res["cycles"]
    units = cfg.node.matrix_units
    mac_key = "mac_steps_bf16" if step.dtype == "bf16" else "mac_steps_int8"
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    nodes = [(x, y) for y in range(my) for x in range(mx)]
    per_node, links = [], []
    for n in nodes:
        c, b = _counters(res, n), _counters(base, n)
        macs = c[mac_key] - b[mac_key]
        compute = -(-macs // units)
        flits = {p: c[f"flits_{p}"] - b[f"flits_{p}"] for p in MESH_PORTS}
        per_node.append({"node": list(n), "mac_steps": macs, "compute_cycles": compute,
                         "exposed_cycles": cycles - compute,
                         "flits_sent": sum(flits.values()), "flits": flits})
        links += [{"node": list(n), "port": p, "flits": f, "utilisation": f / cycles}
                  for p, f in flits.items() if f]
    compute = [p["compute_cycles"] for p in per_node]
    macs = sum(p["mac_steps"] for p in per_node)
    f_hz = cfg.clock.f_ghz * 1e9
    record = {
        "workload": step.name, "description": step.description, "dtype": step.dtype,
        "engine": "rtl", "sim": sim, "mesh": [mx, my], "data_parallel": step.data,
        "grid": list(step.grid), "allreduce": compiled.allreduce,
        "gemms": [{"layer": g.gemm.layer, "pass": g.gemm.kind, "m": g.gemm.m,
                   "n": g.gemm.n, "k": g.gemm.k, "block": g.lay["block"],
                   "summa_steps": g.lay["steps"], "sram_lines": g.lines} for g in compiled.gemms],
        "match": not wrong and not bad_halts and not res["problems"],
        "wrong_results": wrong, "bad_halts": bad_halts, "problems": res["problems"],
        "step_cycles": cycles, "step_seconds": cycles / f_hz,
        "load_cycles": res["load_cycles"], "read_cycles": res["read_cycles"],
        "mac_steps": macs, "mac_steps_expected": compiled.mac_steps,
        "peak_fraction": macs / (len(nodes) * units * cycles),
        "compute_cycles": {"min": min(compute), "max": max(compute),
                           "mean": sum(compute) / len(compute)},
        "exposed_cycles": {"min": cycles - max(compute), "max": cycles - min(compute),
                           "mean": cycles - sum(compute) / len(compute)},
        "link_utilisation": {"mean": float(np.mean([x["utilisation"] for x in links]))
                             if links else 0.0,
                             "max": max((x["utilisation"] for x in links), default=0.0),
                             "links": links},
        "program_lines": compiled.program_lines, "data_lines": compiled.data_lines,
        "per_node": per_node,
        "energy": workload_energy(cfg, d, res, flops=step.flops),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "astra.txt").write_text("\n".join(astra_lines(record)) + "\n")
    return record
