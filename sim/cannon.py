"""GEMM with resident operands: Cannon's algorithm run by the nodes' own programs.

``C = A x B`` on a ``q x q`` grid of nodes (the tile's mesh, square). Node ``(x, y)``
(row ``i = y``, column ``j = x``) owns the ``b x b`` block ``C_ij`` (``b = M / q``)
and starts with the skewed blocks ``A_{i, (i+j) mod q}`` and ``B_{(i+j) mod q, j}``
(``b x kb`` and ``kb x b``, ``kb = K / q``) already in its SRAM: the hosts load them
first, and that load is timed and reported apart. Then ``q`` steps: multiply the
blocks held into ``C_ij``, shift A one node west and B one node north (the grid's
wrap links take ``q - 1`` hops back).

Each node runs two queues, double-buffered (A0/A1, B0/B1):

- compute (queue 1), step ``s``: from step 1, WAIT until its communication queue says
  the step's blocks are in (``SEM_READY``); EXEC into C (accumulating after step 0);
  then SIGNAL the nodes that send it A and B (east and south) that their buffer here
  is free again (``SEM_A_FREE``, ``SEM_B_FREE``). Three descriptors per step: an EXEC
  blocks its queue, so every descriptor here is time the engine stands still.
- communication (queue 0), step ``s``: from step 1, WAIT for the step's A and B chunks
  (``SEM_A_IN``, ``SEM_B_IN``) and SIGNAL the compute queue; then, until the last
  step, WAIT for both receivers' other buffer to be free and PUSH the blocks held on,
  A west and B north, chunk by chunk alternately (one LOOP), so both links carry at
  once.

The SRAM is banked (``node.sram_banks``): C sits in the top bank, below the
programs, so the engine writes its tiles back while the shifts stream into the
bottom one; the engine prefetches each tile's C on the DMA's read port, so an
accumulating EXEC costs no reload after its first tile.

So the shifts of step ``s + 1``'s blocks overlap step ``s``'s EXEC. fp32 (bf16 mode)
and int32 (int8 mode) accumulate in C step by step, in step order: the golden model
chains one engine EXEC per step (``NodeModel.golden``), bit for bit.
"""

import numpy as np

__all__ = ["check_cannon", "cannon_programs", "default_chunk", "cannon_plan", "run_cannon",
           "chained_golden"]

#: semaphores: a chunk of A (from the east) or of B (from the south) has landed here;
#: both blocks of the next step are in (communication queue -> compute queue); the west
#: or north receiver's buffer is free again (its compute queue -> the sender's
#: communication queue). One per source: chunks of one sender arrive in order, so a
#: count can never be made up of two steps' chunks.
SEM_A_IN, SEM_B_IN, SEM_READY, SEM_A_FREE, SEM_B_FREE = 0, 1, 2, 3, 4


def _geometry(cfg, derived, *, m, n, k, dtype):
    from gen.build import derived_of
    from verif.node_model import NodeModel
    d = derived_of(cfg, derived)
    mx, my = d.tile.mesh_x, d.tile.mesh_y
    return d, NodeModel.from_config(cfg, d), mx, my


def check_cannon(cfg, *, m, n, k, dtype, derived=None):
    """Validate before anything is built -> the SRAM layout; raises ValueError naming
    the value and what is allowed."""
    from sim.workloads.runners import PROGRAM_LINES
    d, mdl, mx, my = _geometry(cfg, derived, m=m, n=n, k=k, dtype=dtype)
    if mx != my:
        raise ValueError(f"Cannon's algorithm needs a square grid of nodes, the tile's is "
                         f"{mx}x{my}")
    q, p = mx, mdl.p
    for name, v in (("m", m), ("n", n), ("k", k)):
        if not isinstance(v, int) or v <= 0 or v % (q * p):
            raise ValueError(f"{name}={v!r}: must be a positive multiple of {q * p} "
                             f"({q} node blocks of a multiple of node.matrix_p={p})")
    if m != n:
        raise ValueError(f"m={m}, n={n}: Cannon's blocks are square here (m = n)")
    b, kb = m // q, k // q
    from verif.node_model import _MODE
    ext = mdl.geo.extent(m=b, n=b, k=kb, mode=_MODE[dtype])
    one = {"a_lines": ext["a"], "b_lines": ext["b"], "c_lines": ext["c"]}
    # A0 A1 B0 B1 from line 0, C right below the programs (at the top): with a banked
    # SRAM the operands streaming in and C's write-back then use different banks
    operands = 2 * (one["a_lines"] + one["b_lines"])
    end = operands + one["c_lines"]
    if end + PROGRAM_LINES > mdl.lines:
        raise ValueError(f"m={m}, n={n}, k={k}: double-buffered blocks and C take {end} SRAM "
                         f"lines per node, {mdl.lines - PROGRAM_LINES} are free for data")
    lay = {"a": [0, one["a_lines"]], "b": [2 * one["a_lines"], 2 * one["a_lines"] + one["b_lines"]],
           "c": mdl.lines - PROGRAM_LINES - one["c_lines"], "a_lines": one["a_lines"],
           "b_lines": one["b_lines"], "c_lines": one["c_lines"], "block": [b, b, kb],
           "operand_lines": operands}
    for name, count in (("A", one["a_lines"]), ("B", one["b_lines"])):
        if count > 255:
            raise ValueError(f"k={k}: a {name} block is {count} lines, one PUSH carries 255")
    return lay


def default_chunk(lay):
    """Lines per PUSH unless told: the largest divisor of a block up to 16 (two or three
    packets at 8-flit packets; measured on the default tile, 16 beat 8, 32 and whole
    blocks)."""
    return max(c for c in range(1, 17) if lay["a_lines"] % c == 0)


def cannon_programs(mdl, q, lay, *, dtype, chunk=None):
    """``{node: {0: communication descriptors, 1: compute descriptors}}``.

    ``chunk``: lines per PUSH; the A and B shifts of a step alternate chunk by chunk
    (one LOOP), so both are in flight on their two links at once. ``None``: one PUSH
    per block (:func:`default_chunk`)."""
    b, _, kb = lay["block"]
    chunk = chunk or default_chunk(lay)
    if lay["a_lines"] != lay["b_lines"] or lay["a_lines"] % chunk:
        raise ValueError(f"chunk={chunk}: must divide the A and B blocks "
                         f"({lay['a_lines']} and {lay['b_lines']} lines)")
    parts = lay["a_lines"] // chunk
    progs = {}
    for i in range(q):
        for j in range(q):
            west, north = ((j - 1) % q, i), (j, (i - 1) % q)
            east, south = ((j + 1) % q, i), (j, (i + 1) % q)
            compute, comm = [], []
            for s in range(q):
                cur, nxt = s % 2, (s + 1) % 2
                if s >= 1:
                    compute.append(mdl.cmd_wait(SEM_READY, 1))
                compute.append(mdl.cmd_exec(m=b, n=b, k=kb, dtype=dtype, a_addr=lay["a"][cur],
                                            b_addr=lay["b"][cur], c_addr=lay["c"],
                                            accumulate=s > 0))
                if s <= q - 3:
                    compute += [mdl.cmd_signal(east, SEM_A_FREE),
                                mdl.cmd_signal(south, SEM_B_FREE)]
                if s >= 1:
                    comm += [mdl.cmd_wait(SEM_A_IN, parts), mdl.cmd_wait(SEM_B_IN, parts),
                             mdl.cmd_signal((j, i), SEM_READY)]
                if s <= q - 2:
                    if s >= 1:
                        comm += [mdl.cmd_wait(SEM_A_FREE, 1), mdl.cmd_wait(SEM_B_FREE, 1)]
                    push_a = mdl.cmd_push(src_addr=lay["a"][cur], count=chunk, to=west,
                                          dst_addr=lay["a"][nxt], sem=SEM_A_IN,
                                          src_step=chunk, dst_step=chunk)
                    push_b = mdl.cmd_push(src_addr=lay["b"][cur], count=chunk, to=north,
                                          dst_addr=lay["b"][nxt], sem=SEM_B_IN,
                                          src_step=chunk, dst_step=chunk)
                    comm += ([mdl.cmd_loop(parts, 2)] if parts > 1 else []) + [push_a, push_b]
            progs[(j, i)] = {0: comm + [mdl.cmd_halt(0)], 1: compute + [mdl.cmd_halt(0)]}
    return progs


def _operands(rng, m, n, k, dtype):
    from verif import golden
    if dtype == "bf16":
        a = golden.interesting_bf16(rng, m * k).reshape(m, k)
        b = (rng.integers(0x3C00, 0x4100, (k, n)) | (rng.integers(0, 2, (k, n)) << 15)).astype(
            np.uint16)
    else:
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    return a, b


def block_operands(rng, m, n, k, dtype, bm, bn, kb):
    """Random A (m x k) and B (k x n) -> ``(blk_a(i, t), blk_b(t, j))``: A's ``bm x kb``
    block ``(i, t)`` and B's ``kb x bn`` block ``(t, j)``."""
    a, b = _operands(rng, m, n, k, dtype)
    return (lambda i, t: a[i * bm:(i + 1) * bm, t * kb:(t + 1) * kb],
            lambda t, j: b[t * kb:(t + 1) * kb, j * bn:(j + 1) * bn])


def chained_golden(chain, dtype):
    """``{key: [(A, B) per step]}`` -> ``{key: C}``: each C the golden model's EXECs
    chained in step order (``NodeModel.golden`` per step, bit for bit); bf16 as one
    product over the steps' K, every key's at once (:func:`verif.golden.gemm_bf16_batch`:
    the same fp32 adds in the same order, held to the chained EXECs by
    ``tests/sim/test_chained_golden.py``)."""
    from verif import golden
    from verif.node_model import NodeModel
    if dtype != "bf16":
        out = {}
        for key, steps in chain.items():
            c = None
            for a, b in steps:
                c = NodeModel.golden(a, b, c, dtype)
            out[key] = c
        return out
    keys = list(chain)
    a = np.stack([np.concatenate([a for a, _ in chain[key]], axis=1) for key in keys])
    b = np.stack([np.concatenate([b for _, b in chain[key]], axis=0) for key in keys])
    return dict(zip(keys, golden.gemm_bf16_batch(a, b)))


def cannon_plan(cfg, *, m, n, k, dtype="bf16", seed=0, derived=None, chunk=None, engine="rtl"):
    """What Cannon's GEMM loads and runs, for either engine: ``{"design"`` (the compute
    tile with host ports), ``"model"`` (its NodeModel), ``"programs"``, ``"data"`` (the
    arguments of :func:`sim.workloads.runners.run_programs`), ``"expected"`` (every
    node's C block, golden), ``"blocks"`` (its C block's origin), ``"layout"``,
    ``"mac_steps"``, ``"tag"`` (of its build) ``}``."""
    from gen.build import compute_tile
    from verif.node_model import NodeModel
    lay = check_cannon(cfg, m=m, n=n, k=k, dtype=dtype, derived=derived)
    design = compute_tile(cfg, engine=engine, derived=derived)
    mdl = NodeModel.from_manifest(design.manifest())
    q = design.manifest()["mesh_x"]
    bs, _, kb = lay["block"]
    blk_a, blk_b = block_operands(np.random.default_rng(seed), m, n, k, dtype, bs, bs, kb)
    data, chain = {}, {}
    for i in range(q):
        for j in range(q):
            kk = (i + j) % q
            data[(j, i)] = [(lay["a"][0], mdl.pack_a(blk_a(i, kk), dtype)),
                            (lay["b"][0], mdl.pack_b(blk_b(kk, j), dtype))]
            chain[(j, i)] = [(blk_a(i, (i + j + s) % q), blk_b((i + j + s) % q, j))
                             for s in range(q)]
    expected = chained_golden(chain, dtype)
    return {"design": design, "model": mdl,
            "programs": cannon_programs(mdl, q, lay, dtype=dtype, chunk=chunk), "data": data,
            "expected": expected, "blocks": {(j, i): (i * bs, j * bs) for i in range(q)
                                             for j in range(q)},
            "layout": lay, "mac_steps": q * q * q * (bs // mdl.p) ** 2 * kb,
            "tag": f"cannon-{m}x{n}x{k}-{dtype}-{seed}-c{chunk or 0}"}


def run_cannon(cfg, *, m, n, k, dtype="bf16", sim="verilator", out_dir, seed=0, derived=None,
               chunk=None, engine="rtl", timing_only=False):
    """Cannon's GEMM on the tile; returns the result dict (also ``out_dir/result.json``,
    C in ``out_dir/C.npy``): cycles of the load, the node programs (the compute phase)
    and the read-back, MAC steps, the fraction of peak over the compute phase and over
    the whole run, and ``match`` (C bit for bit equal to the golden model).
    ``engine`` and ``timing_only``: :func:`sim.workloads.runners.run_tile`'s."""
    from sim.workloads.runners import run_resident
    p = cannon_plan(cfg, m=m, n=n, k=k, dtype=dtype, seed=seed, derived=derived, chunk=chunk,
                    engine=engine)
    return run_resident(p["design"], p["model"], p["programs"], p["data"], p["expected"],
                        p["blocks"], p["layout"], sim=sim, tag=p["tag"], shape=(m, n, k),
                        dtype=dtype, out_dir=out_dir, mac_steps=p["mac_steps"], cfg=cfg,
                        engine=engine, timing_only=timing_only)
