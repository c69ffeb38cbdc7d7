"""The runners the tile workloads share: load data and programs, run, read back.

:func:`run_tile` runs one of :mod:`verif.tb_tile`'s tests on either engine: the RTL
under cocotb, or the fast engine's tile (:func:`sim.netmodel.host.run_scenario`), whose
hosts run the same :mod:`verif.host_programs` flow, so both give the same result.
:func:`run_programs` runs any set of node programs on the tile (the collectives, the
token ring of the all-reduces' step latency, the resident GEMMs); :func:`run_resident`
runs a GEMM's programs on operands already in the nodes' SRAM (Cannon, SUMMA) and
scores C against the golden model.
"""

import json
from pathlib import Path

import numpy as np

from sim.energy import workload_energy

__all__ = ["PROGRAM_LINES", "run_tile", "run_programs", "program_scenario", "run_resident",
           "record_engine"]

#: SRAM lines kept at the top of every node for its program
PROGRAM_LINES = 128


def run_tile(design, testcase, scenario, *, cfg, sim, tag, engine="rtl", timing_only=False,
             test_module="verif.tb_tile", public_signals=None, preload_data=False):
    """The result of ``test_module``'s test ``testcase`` on ``design`` (a compute tile with
    host ports) with ``scenario``: under ``sim`` (``engine="rtl"``, the build tagged
    ``tag``) or on the fast engine (``engine="model"``; ``timing_only``: no data values,
    the same cycles; ``preload_data``: the loads written into the SRAM, no read-back,
    :func:`sim.netmodel.host.run_scenario`). The fast engine runs :mod:`verif.tb_tile`'s
    tests only. With the die-link layer, node programs on the RTL run
    :mod:`verif.tb_tile_dielinks` (the die links' counters read after the flow, as the fast
    engine reads its own: ``dielink_counters``)."""
    if engine == "model":
        if test_module != "verif.tb_tile":
            raise ValueError(f"the fast engine runs verif.tb_tile's tests, not {test_module}'s")
        from sim.netmodel.host import run_scenario
        return run_scenario(design, testcase, scenario, cfg=cfg, derived=design.derived,
                            timing_only=timing_only, preload_data=preload_data)
    if timing_only:
        raise ValueError("timing_only: only the fast engine (engine='model') runs without data")
    from sim.runner import run_cocotb
    if design.derived.dielink.link_layer and (test_module, testcase) == ("verif.tb_tile",
                                                                          "programs"):
        # the die links' counters too (the energy's codewords and control words): read
        # through the hierarchy, as the fast engine reads its own
        from verif.tb_tile_dielinks import DIELINK_SIGNALS
        test_module = "verif.tb_tile_dielinks"
        public_signals = tuple(public_signals or ()) + DIELINK_SIGNALS
    # a testbench writes its result under its scenario's name (verif.tb_step's
    # step_timeline runs the "programs" scenario)
    (name,) = scenario
    return run_cocotb(design, sim=sim, test_module=test_module, testcase=testcase,
                      public_signals=public_signals, tag=tag, scenario=scenario)[name]


def record_engine(out, *, sim, engine, timing_only, data_keys=(), preloaded=False,
                  load_keys=()):
    """``out`` (a workload's ``result.json``) told what ran it: ``engine`` (``"rtl"`` or
    ``"model"``), ``sim`` (the RTL's simulator; ``None`` on the model) and, on the model,
    ``timing_only``. A timing-only run computed no data value, so its record holds the
    cycles and counters but none of the figures of data (``data_keys``, left out), and
    ``match`` is ``None``: nothing was compared. A ``preloaded`` run (its data and programs
    written into the SRAM, no read-back: :func:`sim.netmodel.host.run_scenario`) says so
    (``"preloaded": true``) and gives ``None`` for the figures of the phases it did not run
    (``load_keys``: the load's and read-back's cycles, the energy they take), but an
    ``energy`` read directly from the model (``"read": "direct"``,
    :func:`sim.energy.workload_energy`), which covers only the phases that ran. -> ``out``."""
    if engine == "model":
        out.update(engine="model", sim=None, timing_only=bool(timing_only))
        if preloaded:
            out["preloaded"] = True
            direct = (out.get("energy") or {}).get("read") == "direct"
            out.update(dict.fromkeys(k for k in load_keys if not (k == "energy" and direct)))
        if timing_only:
            for key in data_keys:
                out.pop(key, None)
            out["match"] = None
    else:
        out.update(engine="rtl", sim=sim)
    return out


def run_programs(design, programs, data, *, sim, tag, reads, program_lines=PROGRAM_LINES,
                 test_module="verif.tb_tile", testcase="programs", public_signals=None,
                 cfg=None, engine="rtl", timing_only=False, preload_data=False):
    """Load ``data`` (``{node: [(addr, lines), ...]}`` or ``{node: (addr, lines)}``) and
    ``programs`` (``{node: descriptors}`` for queue 0, or ``{node: {queue: descriptors}}``;
    at the top of the SRAM, queue 1's after queue 0's), start every node, wait for every
    DONE; returns the testbench's result (``cycles``, ``load_cycles``, ``read_cycles``,
    ``halts``, ``reads``, ``problems``). ``program_lines``: the SRAM lines kept for the
    programs (the training step's programs are longer than a kernel's); ``test_module``,
    ``testcase`` and ``public_signals``: another testbench of the ``programs`` scenario and the
    signals its build must make readable (the training step's timeline,
    :mod:`verif.tb_step`); ``cfg``, ``engine``, ``timing_only`` and ``preload_data``:
    :func:`run_tile`'s."""
    from verif.node_model import NodeModel
    mdl = NodeModel.from_manifest(design.manifest())
    scenario = {"programs": program_scenario(mdl, programs, data, reads,
                                             program_lines=program_lines)}
    return run_tile(design, testcase, scenario, cfg=cfg, sim=sim, tag=tag, engine=engine,
                    timing_only=timing_only, test_module=test_module,
                    public_signals=public_signals, preload_data=preload_data)


def program_scenario(mdl, programs, data, reads, *, program_lines=PROGRAM_LINES):
    """The ``programs`` scenario of :mod:`verif.host_programs` (``loads``, ``starts``,
    ``reads``) for :func:`run_programs`' arguments (``mdl``: the tile's
    :class:`verif.node_model.NodeModel`); what the RTL testbench and the fast engine's
    hosts (:mod:`sim.netmodel.host`) both run."""
    pc = mdl.lines - program_lines
    loads, starts = [], []
    for node, blocks in data.items():
        for addr, lines in ([blocks] if isinstance(blocks, tuple) else blocks):
            loads.append([list(node), addr, [int(v) for v in lines]])
    for node, queues in programs.items():
        queues = queues if isinstance(queues, dict) else {0: queues}
        at, pcs = pc, {}
        for q, descs in sorted(queues.items()):
            prog = mdl.program(descs)
            loads.append([list(node), at, prog])
            pcs[str(q)] = at
            at += len(prog)
        if at - pc > program_lines:
            raise ValueError(f"node {node}: programs of {at - pc} lines, at most "
                             f"{program_lines}")
        starts.append([list(node), pcs])
    return {"loads": loads, "starts": starts, "reads": reads}


def run_resident(design, mdl, programs, data, expected, blocks, lay, *, sim, tag, shape, dtype,
                 out_dir, mac_steps, cfg, engine="rtl", timing_only=False, preload_data=False):
    """Run a GEMM's node programs on resident operands and score it (Cannon, SUMMA):
    ``blocks`` ``{node: (row, col)}`` of its C block (``lay["block"]`` rows x columns,
    ``expected[node]`` from the golden model); writes ``out_dir/result.json`` and
    ``C.npy`` (not when ``timing_only``: no C was computed) and returns the result dict.
    ``engine``, ``timing_only``, ``preload_data``: :func:`run_tile`'s (``expected`` None
    when timing-only: nothing is compared)."""
    m, n, k = shape
    bm, bn = lay["block"][0], lay["block"][1]
    nodes = list(blocks)
    res = run_programs(design, programs, data, sim=sim, tag=tag, cfg=cfg, engine=engine,
                       timing_only=timing_only, preload_data=preload_data,
                       program_lines=lay.get("program_lines", PROGRAM_LINES),
                       reads=[[list(nd), lay["c"], lay["c_lines"]] for nd in nodes])
    c_full = np.zeros((m, n), np.uint32)
    wrong = []
    for nd, lines in zip(nodes, res["reads"]):
        r0, c0 = blocks[nd]
        blk = mdl.unpack_c(lines, bm, bn)
        c_full[r0:r0 + bm, c0:c0 + bn] = blk
        if expected is not None and not np.array_equal(blk, expected[nd]):
            wrong.append(list(nd))
    bad_halts = [h for h in res["halts"] if any(t != 0 for t in h[1].values())]
    whole = res["load_cycles"] + res["cycles"] + res["read_cycles"]
    out = {"m": m, "n": n, "k": k, "dtype": dtype, "nodes": len(nodes), "block": lay["block"],
           "sim": sim, "match": not wrong and not bad_halts, "wrong_nodes": wrong,
           "bad_halts": bad_halts, "problems": res["problems"],
           "load_cycles": res["load_cycles"], "compute_cycles": res["cycles"],
           "read_cycles": res["read_cycles"], "total_cycles": whole, "mac_steps": mac_steps,
           "compute_peak_fraction": mac_steps / (len(nodes) * res["cycles"]),
           "peak_fraction": mac_steps / (len(nodes) * whole),
           "sram_lines_used": lay["operand_lines"] + lay["c_lines"],
           "energy": None if res["counters"] is None else
           workload_energy(cfg, design.derived, res, flops=2 * m * n * k)}
    record_engine(out, sim=sim, engine=engine, timing_only=timing_only,
                  data_keys=("wrong_nodes",), preloaded=preload_data,
                  load_keys=("load_cycles", "read_cycles", "total_cycles", "peak_fraction",
                             "energy"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(out, indent=1) + "\n")
    if out["match"] is not None:
        np.save(out_dir / "C.npy", c_full.view(np.float32 if dtype == "bf16" else np.int32))
    return out
