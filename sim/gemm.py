"""GEMM on one compute node (:func:`run_gemm`) or distributed over a tile (:func:`run_tile_gemm`).

:func:`run_gemm` builds the compute-node design of a config (cached per
simulator and Verilog digest), loads A and B into the node's SRAM with WRITE
packets, starts the engine with an EXEC packet, waits for DONE, reads the
engine's cycle and step counters and C back with READ packets, and compares C
bit for bit with :mod:`verif.golden`.

Inputs: int8 matrices as any integer array with values in -128..127; bf16
matrices either as ``uint16`` bit patterns or as ``float32`` arrays whose
values are exact bf16 values (anything else is rejected, never rounded).
Output C: ``int32`` (int8 mode) or ``float32`` holding the exact fp32 results
(bf16 mode).
"""

import json
from pathlib import Path

import numpy as np

from sim.energy import workload_energy

__all__ = ["run_gemm", "run_tile_gemm", "check_tile_gemm", "tile_gemm_shape", "gemm_blocks",
           "as_operand", "random_operand"]


def as_operand(x, dtype, name):
    """A user matrix -> the bit patterns the node takes (uint16 bf16 or int8)."""
    from verif import golden
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, not shape {x.shape}")
    if dtype == "bf16":
        if x.dtype == np.uint16:
            return x
        if x.dtype in (np.float32, np.float64):
            f = x.astype(np.float32)
            if not np.array_equal(f.astype(x.dtype), x, equal_nan=True):
                raise ValueError(f"{name}: values are not exact float32 values")
            try:
                return golden.float_to_bf16_bits(f)
            except ValueError:
                raise ValueError(f"{name}: values are not exact bf16 values "
                                 f"(pass uint16 bit patterns or bf16-exact float32)") from None
        raise ValueError(f"{name}: bf16 operands are uint16 bit patterns or float32, "
                         f"not {x.dtype}")
    if dtype == "int8":
        if not np.issubdtype(x.dtype, np.integer) or x.min(initial=0) < -128 \
                or x.max(initial=0) > 127:
            raise ValueError(f"{name}: int8 operands must be integers in -128..127")
        return x.astype(np.int8)
    raise ValueError(f"dtype must be 'int8' or 'bf16', not {dtype!r}")


def random_operand(rng, shape, dtype):
    """Random int8 values, or random normals truncated to bf16 (as uint16 bit patterns)."""
    from verif import golden
    if dtype == "int8":
        return rng.integers(-128, 128, shape).astype(np.int8)
    f = golden.float_to_f32_bits(rng.standard_normal(shape).astype(np.float32))
    return (f >> np.uint32(16)).astype(np.uint16)


def _operands(m, n, k, dtype, a, b, seed):
    rng = np.random.default_rng(seed)
    a = random_operand(rng, (m, k), dtype) if a is None else a
    b = random_operand(rng, (k, n), dtype) if b is None else b
    a, b = as_operand(a, dtype, "A"), as_operand(b, dtype, "B")
    if a.shape != (m, k) or b.shape != (k, n):
        raise ValueError(f"A is {a.shape} and B is {b.shape}, expected {(m, k)} and {(k, n)}")
    return a, b


def _bits(x, dtype):
    return (x.view(np.uint16) if dtype == "bf16" else x).astype(np.int64).ravel().tolist()


def _check_multiple(p, **dims):
    for name, v in dims.items():
        if not isinstance(v, int) or v < p or v % p:
            raise ValueError(f"{name}={v!r}: must be a positive multiple of node.matrix_p={p}")


def _c_result(bits, m, n, a, b, dtype):
    from verif.node_model import NodeModel
    c_bits = np.array(bits, np.uint32).reshape(m, n)
    expected = NodeModel.golden(a, b, None, dtype)
    c = c_bits.view(np.float32) if dtype == "bf16" else c_bits.view(np.int32)
    return c, {"match": bool(np.array_equal(c_bits, expected)),
               "mismatches": int(np.count_nonzero(c_bits != expected))}


def _run(design, test_module, m, n, k, dtype, a, b, sim, seed, blocks=None, skipped=(),
         cfg=None, engine="rtl", timing_only=False):
    """Run the ``gemm`` cocotb test of ``test_module``; returns (raw result, C, check).
    ``blocks``: :func:`gemm_blocks` (tile only); ``skipped``: nodes to read back;
    ``cfg``, ``engine``, ``timing_only``: :func:`sim.workloads.runners.run_tile`'s (the
    tile only)."""
    from sim.workloads.runners import run_tile
    extra = {} if blocks is None else {
        "blocks": [[x, y, *v] for (x, y), v in blocks.items()],
        "skipped": [list(nd) for nd in skipped]}
    res = run_tile(design, "gemm", {"gemm": {"m": m, "n": n, "k": k, "dtype": dtype,
                                             "a": _bits(a, dtype), "b": _bits(b, dtype),
                                             **extra}},
                   cfg=cfg, sim=sim, engine=engine, timing_only=timing_only,
                   test_module=test_module, tag=f"gemm-{m}x{n}x{k}-{dtype}-{seed}"
                   + "".join(f"-off{x}.{y}" for x, y in skipped))
    c, check = _c_result(res["c"], m, n, a, b, dtype)
    return res, c, check


def _save(out_dir, out, c):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    if c is not None:           # None: a timing-only run computed no C
        np.save(out_dir / "C.npy", c)


def run_gemm(cfg, *, m, n, k, dtype, a=None, b=None, sim="verilator", out_dir, seed=0,
             derived=None):
    """Run ``C = A x B`` (M x K times K x N) on one node; returns the result dict.

    Writes ``result.json`` (shape, dtype, simulator, ``exec_cycles`` from start
    to write-back, ``steps`` of the P x P array, ``mac_utilisation`` = steps /
    exec_cycles, ``total_cycles`` including loading and reading back, ``match``
    against the golden model) and ``C.npy`` to ``out_dir``; the returned dict
    also holds ``c`` (the numpy array).

    Raises
    ------
    ValueError
        If the shape is not a multiple of ``node.matrix_p``, does not fit the
        SRAM, or an operand is malformed.
    """
    from gen.node_build import compute_node_design
    from verif.node_model import NodeModel

    p = cfg.node.matrix_p
    _check_multiple(p, m=m, n=n, k=k)
    design = compute_node_design(cfg, nodes=1, derived=derived)
    model = NodeModel.from_manifest(design.manifest())
    model.gemm_layout(m=m, n=n, k=k, dtype=dtype)        # raises if it does not fit
    a, b = _operands(m, n, k, dtype, a, b, seed)
    res, c, check = _run(design, "verif.tb_node", m, n, k, dtype, a, b, sim, seed)
    out = {"m": m, "n": n, "k": k, "dtype": dtype, "sim": sim, "matrix_p": p,
           "exec_cycles": res["exec_cycles"], "steps": res["steps"],
           "mac_utilisation": res["steps"] / res["exec_cycles"] if res["exec_cycles"] else 0.0,
           "ideal_cycles": (m // p) * (n // p) * k, "total_cycles": res["total_cycles"],
           **check, "problems": res["problems"]}
    _save(out_dir, out, c)
    return {**out, "c": c}


def tile_gemm_shape(cfg, derived=None, dtype="bf16"):
    """Default distributed GEMM of a config: a 4P x 4P band of C per node, K = 8P; where a
    node takes several bands (:func:`gemm_blocks`, disabled nodes) and that no longer fits
    its SRAM, K is halved until it does (at least P)."""
    from gen.build import derived_of
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    p = cfg.node.matrix_p
    rows, cols = _largest_share(gemm_blocks(cfg, d))
    mdl, k = NodeModel.from_config(cfg, d), 8 * p
    while k > p:
        try:
            mdl.gemm_layout(m=rows * 4 * p, n=cols * 4 * p, k=k, dtype=dtype)
            break
        except ValueError:
            k //= 2
    return d.tile.mesh_y * 4 * p, d.tile.mesh_x * 4 * p, k


def gemm_blocks(cfg, derived=None):
    """Which bands of C each live node computes: ``{node: (r0, r1, c0, c1)}``, rows
    ``r0..r1`` of the ``mesh_y`` row bands and columns ``c0..c1`` of the ``mesh_x`` column
    bands (half-open).

    Without a fault map node (x, y) computes band (y, x). With disabled nodes
    (:func:`gen.faults.fault_map`) a host still serves one line of nodes (its column under
    XY, its row under YX), so that line's bands are split over its live nodes in
    contiguous runs, in order (the first ones take one band more where they do not divide):
    a node's A (XY) or B (YX) operand is then one contiguous slice, and its C one block.
    Raises ValueError naming a line that has no live node.
    """
    from gen.build import derived_of
    from gen.faults import fault_map
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    live = set(fault_map(cfg, d).live_nodes)
    by_column = cfg.router.routing != "yx"     # XY: the hosts sit on the south edge
    lines, bands = (mx, my) if by_column else (my, mx)
    blocks = {}
    for line in range(lines):
        members = [i for i in range(bands) if ((line, i) if by_column else (i, line)) in live]
        if not members:
            raise ValueError(f"{'column x' if by_column else 'row y'}={line} has no live node "
                             f"(die.disabled_nodes): no node there can compute its C bands")
        base, extra = divmod(bands, len(members))
        start = 0
        for j, i in enumerate(members):
            stop = start + base + (j < extra)
            node = (line, i) if by_column else (i, line)
            blocks[node] = (start, stop, line, line + 1) if by_column else \
                (line, line + 1, start, stop)
            start = stop
    return dict(sorted(blocks.items(), key=lambda kv: (kv[0][1], kv[0][0])))


def _largest_share(blocks):
    """``(row bands, column bands)`` of the largest block of :func:`gemm_blocks`."""
    return (max(r1 - r0 for r0, r1, _, _ in blocks.values()),
            max(c1 - c0 for _, _, c0, c1 in blocks.values()))


def check_tile_gemm(cfg, *, m, n, k, dtype, a=None, b=None, derived=None):
    """Validate a distributed GEMM before anything is built: dimensions, the largest share
    of a node's SRAM (:func:`gemm_blocks`), the operands. Raises ValueError naming the value
    and what is allowed."""
    from gen.build import derived_of
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    p = cfg.node.matrix_p
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    for name, v, parts in (("m", m, my), ("n", n, mx)):
        if not isinstance(v, int) or v % (parts * p) or v < parts * p:
            raise ValueError(f"{name}={v!r}: must be a multiple of {parts * p} "
                             f"({parts} node bands of a multiple of node.matrix_p={p})")
    _check_multiple(p, k=k)
    rows, cols = _largest_share(gemm_blocks(cfg, d))
    NodeModel.from_config(cfg, d).gemm_layout(m=rows * (m // my), n=cols * (n // mx), k=k,
                                              dtype=dtype)
    if a is not None or b is not None:
        _operands(m, n, k, dtype, a, b, 0)


def run_tile_gemm(cfg, *, m, n, k, dtype, a=None, b=None, sim="verilator", out_dir, seed=0,
                  derived=None, engine="rtl", timing_only=False):
    """``C = A x B`` distributed over every live node of the tile; returns the result dict.

    C is cut into ``mesh_y`` row bands and ``mesh_x`` column bands; node (x, y) computes
    band (y, x) over the whole K, or with disabled nodes the run of bands
    :func:`gemm_blocks` gives it. The hosts on the tile edge scatter the A and B blocks,
    start EXEC on every live node and gather C (see ``verif.tb_tile.gemm``); the disabled
    nodes' SRAM is read back and must be untouched.

    Writes ``result.json`` and ``C.npy`` to ``out_dir``: cycles per phase
    (``load_and_compute_cycles`` until the last engine is done, ``gather_cycles``
    after that: each node's C is read as soon as its engine finishes, so most of
    the gather overlaps computation; ``total_cycles``), the engines' busy cycles and MAC steps,
    ``peak_fraction`` = MACs / (live nodes x P^2 x total cycles) (the whole run) and
    ``compute_peak_fraction`` = MACs / (live nodes x P^2 x the slowest engine's cycles)
    (the engines alone), and ``match`` against the golden model. ``engine`` and
    ``timing_only``: :func:`sim.workloads.runners.run_tile`'s (timing only: no C, no
    ``C.npy``, ``match`` None).
    """
    from gen.build import compute_tile
    from sim.workloads.runners import record_engine

    p = cfg.node.matrix_p
    check_tile_gemm(cfg, m=m, n=n, k=k, dtype=dtype, a=a, b=b, derived=derived)
    blocks = gemm_blocks(cfg, derived)
    design = compute_tile(cfg, engine=engine, derived=derived)
    mx, my = design.network.mesh_x, design.network.mesh_y
    mb, nb = m // my, n // mx
    skipped = [(x, y) for y in range(my) for x in range(mx) if (x, y) not in blocks]
    a, b = _operands(m, n, k, dtype, a, b, seed)
    res, c, check = _run(design, "verif.tb_tile", m, n, k, dtype, a, b, sim, seed,
                         blocks=blocks, skipped=skipped, cfg=cfg, engine=engine,
                         timing_only=timing_only)
    nodes = len(blocks)
    steps = (m // p) * (n // p) * k             # MAC-array steps, P^2 MACs each
    slowest = max(res["exec_cycles"].values())
    touched = [list(nd) for nd, got in zip(skipped, res["skipped_reads"]) if any(got)]
    out = {"m": m, "n": n, "k": k, "dtype": dtype, "sim": sim, "matrix_p": p,
           "mesh": [mx, my], "nodes": nodes, "block": [mb, nb, k],
           "blocks": {f"{x},{y}": list(v) for (x, y), v in blocks.items()},
           "load_and_compute_cycles": res["load_and_compute_cycles"],
           "gather_cycles": res["gather_cycles"], "total_cycles": res["total_cycles"],
           "exec_cycles_max": slowest, "exec_cycles": res["exec_cycles"],
           "exec_done_cycle": res["exec_done_cycle"],
           "steps_total": sum(res["steps"].values()),
           "peak_fraction": steps / (nodes * res["total_cycles"]),
           "compute_peak_fraction": steps / (nodes * slowest),
           "hosts": mx if design.node["routing"] == "xy" else my,
           "skipped_nodes": [list(nd) for nd in skipped], "skipped_nodes_written": touched,
           **check, "problems": res["problems"]}
    out["match"] = out["match"] and not touched
    out["energy"] = workload_energy(cfg, design.derived, res, flops=2 * m * n * k)
    record_engine(out, sim=sim, engine=engine, timing_only=timing_only,
                  data_keys=("mismatches", "skipped_nodes_written"))
    _save(out_dir, out, None if out["match"] is None else c)
    return {**out, "c": None if out["match"] is None else c}
