"""GEMM with resident operands on any grid of nodes: SUMMA run by the nodes' own programs.

``C = A x B`` on the tile's ``px x py`` mesh (square or not; Cannon's algorithm,
:mod:`sim.cannon`, needs a square one). Node ``(j, i)`` (column ``j = x``, row
``i = y``) owns the ``bm x bn`` block ``C_ij`` (``bm = M / py``, ``bn = N / px``). K is
cut into ``T = lcm(px, py)`` panels of ``kb = K / T``; panel ``t`` of block-row ``i``
of A lives on node ``(t mod px, i)`` and panel ``t`` of block-column ``j`` of B on
node ``(j, t mod py)``, so every node holds ``T / px`` A panels and ``T / py`` B panels
(loaded by the hosts first, timed apart). Step ``t``: the owner of A panel ``t`` in each
row sends it to the row's other nodes, the owner of B panel ``t`` in each column to
the column's, and every node multiplies the two into ``C_ij`` (accumulating after step
0, in step order: the golden model chains one EXEC per step, bit for bit).

Each node runs two queues; received panels are double-buffered (A0/A1, B0/B1):

- communication (queue 0), every step ``t`` it owns a panel of: from step 2, WAIT
  until each receiver has freed buffer ``t mod 2`` (``SEM_A_FREE`` / ``SEM_B_FREE``:
  one SIGNAL from each of the row's / column's other nodes), then PUSH the panel to
  each of them (the last packet counting ``SEM_A_IN[t mod 2]`` / ``SEM_B_IN[t mod 2]``
  there);
- compute (queue 1), step ``t``: WAIT for the panels it does not own (per buffer
  parity: panels of consecutive steps come from different owners and may land out of
  order, the next-but-one cannot land before this step is done), EXEC, then SIGNAL
  the owners of step ``t + 2``'s panels that buffer ``t mod 2`` is free here.

So step ``t + 1``'s panels travel while step ``t`` computes. Each owner sends a panel
``px - 1`` (``py - 1``) times from one DMA, so SUMMA moves more bytes per MAC than
Cannon's neighbour shifts on a square grid; it is here for the grids Cannon cannot
serve.
"""

from math import lcm

import numpy as np

__all__ = ["check_summa", "summa_programs", "run_summa"]

#: semaphores: A panel landed in buffer 0 / 1, B panel landed in buffer 0 / 1, a row
#: peer freed its A buffer, a column peer freed its B buffer
SEM_A_IN, SEM_B_IN, SEM_A_FREE, SEM_B_FREE = (0, 1), (2, 3), 4, 5


def check_summa(cfg, *, m, n, k, dtype, derived=None, grid=None):
    """Validate before anything is built -> the SRAM layout; raises ValueError naming
    the value and what is allowed. ``grid``: the ``(px, py)`` nodes the GEMM is split
    over (default the tile's mesh; the training step runs one SUMMA per data-parallel
    group, :mod:`sim.step.compiler`)."""
    from gen.build import derived_of
    from sim.workloads.runners import PROGRAM_LINES
    from verif.node_model import _MODE, NodeModel
    d = derived_of(cfg, derived)
    px, py = grid if grid is not None else (d.tile.mesh_x, d.tile.mesh_y)
    mdl = NodeModel.from_config(cfg, d)
    p, t = mdl.p, lcm(px, py)
    for name, v, parts in (("m", m, py), ("n", n, px), ("k", k, t)):
        if not isinstance(v, int) or v <= 0 or v % (parts * p):
            raise ValueError(f"{name}={v!r}: must be a positive multiple of {parts * p} "
                             f"({parts} blocks of a multiple of node.matrix_p={p} on the "
                             f"{px}x{py} grid)")
    bm, bn, kb = m // py, n // px, k // t
    ext = mdl.geo.extent(m=bm, n=bn, k=kb, mode=_MODE[dtype])
    a_l, b_l, c_l = ext["a"], ext["b"], ext["c"]
    for name, count in (("A", a_l), ("B", b_l)):
        if count > 255:
            raise ValueError(f"k={k}: an {name} panel is {count} lines, one PUSH carries 255")
    res_a, res_b = t // px, t // py
    # the programs' lines: the compute queue at most 2 WAITs, an EXEC and 2 SIGNALs per
    # step, the communication queue a WAIT and a PUSH per peer for each panel it owns,
    # each queue a HALT; the top PROGRAM_LINES of the SRAM, more on a grid that needs more
    # (a D1 die's 19 steps)
    need = mdl.cmd_lines * ((5 * t + 1) + (res_a * px + res_b * py + 1))
    program_lines = max(PROGRAM_LINES, need)
    a0 = 0
    b0 = a0 + res_a * a_l
    abuf = b0 + res_b * b_l
    bbuf = abuf + 2 * a_l
    operands = bbuf + 2 * b_l
    c = mdl.lines - program_lines - c_l
    if operands > c:
        raise ValueError(f"m={m}, n={n}, k={k}: resident panels, receive buffers and C take "
                         f"{operands + c_l} SRAM lines per node, {mdl.lines - program_lines} "
                         f"are free for data ({program_lines} kept for the programs)")
    return {"grid": [px, py], "steps": t, "block": [bm, bn, kb], "a_lines": a_l,
            "b_lines": b_l, "c_lines": c_l,
            "a_own": [a0 + s * a_l for s in range(res_a)],
            "b_own": [b0 + s * b_l for s in range(res_b)],
            "a_buf": [abuf, abuf + a_l], "b_buf": [bbuf, bbuf + b_l], "c": c,
            "operand_lines": operands, "program_lines": program_lines}


def summa_programs(mdl, lay, *, dtype):
    """``{node: {0: communication descriptors, 1: compute descriptors}}``."""
    (px, py), t_steps = lay["grid"], lay["steps"]
    bm, bn, kb = lay["block"]
    progs = {}
    for i in range(py):
        for j in range(px):
            comm, compute = [], []
            for t in range(t_steps):
                par = t % 2
                own_a, own_b = j == t % px, i == t % py
                # the owner sends its panel along its row (A) or its column (B)
                for x, own, side, peers, free, arrive in (
                        ("a", own_a, px, [(jj, i) for jj in range(px) if jj != j],
                         SEM_A_FREE, SEM_A_IN),
                        ("b", own_b, py, [(j, ii) for ii in range(py) if ii != i],
                         SEM_B_FREE, SEM_B_IN)):
                    if own and side > 1:
                        if t >= 2:
                            comm.append(mdl.cmd_wait(free, side - 1))
                        comm += [mdl.cmd_push(src_addr=lay[f"{x}_own"][t // side],
                                              count=lay[f"{x}_lines"], to=to,
                                              dst_addr=lay[f"{x}_buf"][par], sem=arrive[par])
                                 for to in peers]
                if not own_a:
                    compute.append(mdl.cmd_wait(SEM_A_IN[par], 1))
                if not own_b:
                    compute.append(mdl.cmd_wait(SEM_B_IN[par], 1))
                compute.append(mdl.cmd_exec(
                    m=bm, n=bn, k=kb, dtype=dtype, c_addr=lay["c"], accumulate=t > 0,
                    a_addr=lay["a_own"][t // px] if own_a else lay["a_buf"][par],
                    b_addr=lay["b_own"][t // py] if own_b else lay["b_buf"][par]))
                if t + 2 < t_steps:
                    owner_a, owner_b = ((t + 2) % px, i), (j, (t + 2) % py)
                    if owner_a != (j, i):
                        compute.append(mdl.cmd_signal(owner_a, SEM_A_FREE))
                    if owner_b != (j, i):
                        compute.append(mdl.cmd_signal(owner_b, SEM_B_FREE))
            progs[(j, i)] = {0: comm + [mdl.cmd_halt(0)], 1: compute + [mdl.cmd_halt(0)]}
    return progs


def run_summa(cfg, *, m, n, k, dtype="bf16", sim="verilator", out_dir, seed=0, derived=None,
              engine="rtl", timing_only=False, preload_data=False):
    """SUMMA on the tile; returns the result dict of :func:`sim.workloads.runners.run_resident`
    (also ``out_dir/result.json``, C in ``out_dir/C.npy``).
    ``engine``, ``timing_only`` and ``preload_data``:
    :func:`sim.workloads.runners.run_tile`'s (timing only: no operands are made and no
    golden model is run, their lines zero: payload the model does not keep)."""
    from gen.build import compute_tile
    from sim.cannon import block_operands, chained_golden
    from sim.workloads.runners import run_resident
    from verif.node_model import NodeModel
    lay = check_summa(cfg, m=m, n=n, k=k, dtype=dtype, derived=derived)
    design = compute_tile(cfg, engine=engine, derived=derived)
    mdl = NodeModel.from_manifest(design.manifest())
    (px, py), t_steps = lay["grid"], lay["steps"]
    bm, bn, kb = lay["block"]
    data, expected = {}, {}
    if timing_only:
        for i in range(py):
            for j in range(px):
                data[(j, i)] = [(lay["a_own"][t // px], [0] * lay["a_lines"])
                                for t in range(j, t_steps, px)] + \
                               [(lay["b_own"][t // py], [0] * lay["b_lines"])
                                for t in range(i, t_steps, py)]
        expected = None
    blk_a, blk_b = block_operands(np.random.default_rng(seed), m, n, k, dtype, bm, bn, kb) \
        if not timing_only else (None, None)
    chain = {}
    for i in range(py if not timing_only else 0):
        for j in range(px):
            data[(j, i)] = [(lay["a_own"][t // px], mdl.pack_a(blk_a(i, t), dtype))
                            for t in range(j, t_steps, px)] + \
                           [(lay["b_own"][t // py], mdl.pack_b(blk_b(t, j), dtype))
                            for t in range(i, t_steps, py)]
            chain[(j, i)] = [(blk_a(i, t), blk_b(t, j)) for t in range(t_steps)]
    if chain:
        expected.update(chained_golden(chain, dtype))
    blocks = {(j, i): (i * bm, j * bn) for i in range(py) for j in range(px)}
    return run_resident(design, mdl, summa_programs(mdl, lay, dtype=dtype), data, expected,
                        blocks, lay, sim=sim, tag=f"summa-{m}x{n}x{k}-{dtype}-{seed}",
                        shape=(m, n, k), dtype=dtype, out_dir=out_dir,
                        mac_steps=px * py * t_steps * (bm // mdl.p) * (bn // mdl.p) * kb,
                        cfg=cfg, engine=engine, timing_only=timing_only,
                        preload_data=preload_data)
