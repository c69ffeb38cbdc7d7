"""Ring all-reduce on a tile of training nodes, and its alpha-beta model.

Algorithm (``verif.tb_tile.allreduce``): the nodes form a ring (a Hamiltonian
cycle of the mesh when one exists, so every ring step is one mesh hop);
reduce-scatter in N - 1 steps of ADD PUSHes, then all-gather in N - 1 steps of
WRITE PUSHes, each step moving one chunk of ``lines / N`` SRAM lines per node.
The hosts start each node's next step when its completion counter shows the
previous chunk has landed (no global barrier).

Model: ``T = 2 (N - 1) (alpha + beta F)``, the textbook ring model with the
mesh's constants. ``F`` is the flits of one chunk (lines plus one head per
packet) and ``beta`` the cycles per flit of the slowest ring link (1 on a
die, the die-link ``ratio`` across dies). ``alpha`` is the latency of one step
of the protocol that runs, averaged over the ring (step s of a node waits for
step s - 1 of its predecessor, so the chain that ends the all-reduce walks
round the ring): the PUSH command from the node's host,
the DONE back, one counter poll (READ and its 2-flit response) and the first
flit over the ring link. Each packet takes its zero-load latency: hops + 2
cycles (the measured zero-load latency of the mesh is hops + 2.04) plus its
length - 1, plus ``latency + ratio`` per die boundary crossed. The model leaves
out the network interface's own cycles (store-and-forward of each request,
the DMA's SRAM reads) and the queueing of four nodes' polls on one host link;
``measured / model`` shows their weight.
"""

import json
from pathlib import Path

import numpy as np

from sim.energy import workload_energy

__all__ = ["ring_order", "chunk_span", "chunk_bounds", "alpha_beta", "run_allreduce"]


def ring_order(mx, my):
    """A cycle through every node of an ``mx`` x ``my`` mesh, neighbours adjacent when a
    Hamiltonian cycle exists (one side even and both at least 2); else a snake whose
    closing link takes several hops."""
    if mx >= 2 and my >= 2 and (my % 2 == 0 or mx % 2 == 0):
        if my % 2:                               # build on the transposed mesh
            return [(y, x) for x, y in ring_order(my, mx)]
        ring = [(x, 0) for x in range(mx)]
        for y in range(1, my):
            xs = range(mx - 1, 0, -1) if y % 2 else range(1, mx)
            ring += [(x, y) for x in xs]
        return ring + [(0, y) for y in range(my - 1, 0, -1)]
    return [(x, y) for y in range(my) for x in (range(mx) if y % 2 == 0 else range(mx - 1, -1, -1))]


def chunk_span(lines, parts, c):
    """``(first line, lines)`` of chunk ``c`` of ``parts`` chunks of a ``lines``-line
    vector: the first ``lines % parts`` chunks have one line more than the others
    (``lines // parts`` lines; none when ``lines < parts``). The longer chunks come first,
    so the chunk sizes a ring node sends change at most twice a phase and its pushes fold
    into few LOOPs (:func:`sim.collectives.compile_pushes`)."""
    q, r = divmod(lines, parts)
    return c * q + min(c, r), q + (c < r)


def chunk_bounds(lines, parts):
    """The first line of every chunk of :func:`chunk_span`, then ``lines``."""
    return [chunk_span(lines, parts, c)[0] for c in range(parts)] + [lines]


def _hops(a, b):
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def die_crossings(a, b, die_shape):
    """Die boundaries between nodes ``a`` and ``b`` (0 without dies)."""
    if die_shape is None:
        return 0
    (ax, ay), (bx, by) = [(c[0] // die_shape[0], c[1] // die_shape[1]) for c in (a, b)]
    return abs(ax - bx) + abs(ay - by)


def link_latency(a, b, die_shape, dielink):
    """Zero-load cycles a head spends from ``a`` to ``b`` beyond a neighbour's: one per
    hop, ``latency + ratio`` per die boundary."""
    die = dielink["latency"] + dielink["ratio"] if dielink else 0
    return _hops(a, b) + die_crossings(a, b, die_shape) * die


def ring_beta(members, die_shape, dielink):
    """Cycles per flit of a ring's slowest link (the die-link ratio where it crosses)."""
    n = len(members)
    ratio = dielink["ratio"] if dielink else 1
    return max(ratio if die_crossings(members[k], members[(k + 1) % n], die_shape) else 1
               for k in range(n))


def chunk_flits(chunk, max_packet_flits):
    """Flits of a chunk of ``chunk`` lines: the lines and a head per packet."""
    return chunk + -(-chunk // (max_packet_flits - 1))


def alpha_beta(ring, *, lines, max_packet_flits, push_flits, host_of, die_shape, dielink):
    """The model's ``alpha``, ``beta``, ``F`` and predicted cycles (see the module doc)."""
    n = len(ring)
    flits = chunk_flits(-(-lines // n), max_packet_flits)          # the longest chunk

    def latency(a, b, length=1):
        return link_latency(a, b, die_shape, dielink) + 2 + length - 1

    beta = ring_beta(ring, die_shape, dielink)

    def step(i):
        node, host = ring[i], host_of(ring[i])
        return (latency(host, node, push_flits) + latency(node, host)         # PUSH, DONE
                + latency(host, node) + latency(node, host, 2)                # counter poll
                + latency(node, ring[(i + 1) % n]))                           # first flit

    # step s of node i waits for step s - 1 of node i - 1: the chain that ends the
    # all-reduce walks round the ring, so the mean step latency is the alpha
    alpha = round(sum(step(i) for i in range(n)) / n, 1)
    steps = 2 * (n - 1)
    return {"alpha": alpha, "beta": beta, "flits_per_step": flits, "steps": steps,
            "cycles": round(steps * (alpha + beta * flits)),
            "bandwidth_cycles": steps * beta * flits}


def golden_allreduce(model, vectors, ring, dtype):
    """Expected final vector: int32 lanes wrap; fp32 chunk c (:func:`chunk_bounds`) is
    summed in ring order starting at node ``ring[c]`` (acc = x[ring[c]];
    acc = x[ring[c + j]] + acc)."""
    from verif.node_model import Dtype
    n = len(ring)
    lines = len(vectors[0])
    bounds = chunk_bounds(lines, n)
    dt = Dtype.FP32 if dtype == "fp32" else Dtype.INT32
    chunk = [c for c in range(n) for _ in range(bounds[c], bounds[c + 1])]   # of each line
    acc = [vectors[chunk[line]][line] for line in range(lines)]
    # the j-th add of every line at once (the adds are lane-wise: one numpy step, the
    # same sums as line by line)
    for j in range(1, n):
        acc = model.add_many([vectors[(chunk[line] + j) % n][line] for line in range(lines)],
                             acc, dt)
    return acc


def check_allreduce(cfg, *, lines=None, dtype="int32", derived=None):
    """Validate an all-reduce before anything is built; returns the vector length in lines.
    Raises ValueError naming the value and what is allowed."""
    from gen.build import derived_of
    from verif.node_model import NodeModel
    if dtype not in ("int32", "fp32"):
        raise ValueError(f"dtype {dtype!r}: not allowed (int32 or fp32)")
    d = derived_of(cfg, derived)
    n = len(ring_order(d.tile.mesh_x, d.tile.mesh_y))
    lines = lines if lines is not None else 2 * n
    if not isinstance(lines, int) or lines < n or lines % n or lines // n > 255:
        raise ValueError(f"lines={lines!r}: must be a multiple of the {n} nodes, "
                         f"with at most 255 lines per chunk")
    sram = NodeModel.from_config(cfg, d).lines
    if lines > sram:
        raise ValueError(f"lines={lines}: the SRAM holds {sram} lines")
    return lines


def run_allreduce(cfg, *, lines=None, dtype="int32", sim="verilator", out_dir, seed=0,
                  derived=None, engine="rtl", timing_only=False):
    """All-reduce a ``lines``-line vector held by every node of the tile; returns the
    result dict (also written to ``out_dir/result.json``): measured cycles, the
    alpha-beta model, and ``match`` (every node holds the golden sum). ``engine`` and
    ``timing_only``: :func:`sim.workloads.runners.run_tile`'s."""
    from gen.build import compute_tile
    from sim.workloads.runners import record_engine, run_tile
    from verif import golden
    from verif.host import host_address, host_ports, host_reaches
    from verif.node_model import NodeModel

    lines = check_allreduce(cfg, lines=lines, dtype=dtype, derived=derived)
    design = compute_tile(cfg, engine=engine, derived=derived)
    man = design.manifest()
    model = NodeModel.from_manifest(man)
    mx, my = man["mesh_x"], man["mesh_y"]
    ring = ring_order(mx, my)
    n = len(ring)
    rng = np.random.default_rng(seed)
    lanes = model.width // 32
    vectors = []
    for _ in ring:
        if dtype == "fp32":
            v = golden.float_to_f32_bits(rng.standard_normal(lines * lanes).astype(np.float32))
        else:
            v = rng.integers(0, 2**32, lines * lanes, dtype=np.uint64)
        vectors.append(model.pack_elements([int(x) for x in v], 32))
    base = 0
    res = run_tile(design, "allreduce",
                   {"allreduce": {"ring": [list(c) for c in ring], "lines": lines,
                                  "dtype": dtype, "vectors": vectors, "base": base}},
                   cfg=cfg, sim=sim, tag=f"allreduce-{lines}-{dtype}-{seed}", engine=engine,
                   timing_only=timing_only)
    expected = golden_allreduce(model, vectors, ring, dtype)
    wrong = [list(ring[i]) for i, got in enumerate(res["result"]) if got != expected]
    hosts = [host_address(man, p) for p in host_ports(man)]

    def host_of(node):
        return next(h for h in hosts if host_reaches(man, h)(node))

    mdl = alpha_beta(ring, lines=lines, max_packet_flits=model.max_len,
                     push_flits=1 + model.lay.push_flits, host_of=host_of,
                     die_shape=design.network.die_shape, dielink=design.network.dielink)
    out = {"nodes": n, "mesh": [mx, my], "ring": [list(c) for c in ring], "lines": lines,
           "lanes_per_line": lanes, "dtype": dtype, "sim": sim, "cycles": res["cycles"],
           "model": mdl, "measured_over_model": res["cycles"] / mdl["cycles"],
           "polls": res["polls"], "match": not wrong, "wrong_nodes": wrong,
           "problems": res["problems"], "energy": workload_energy(cfg, design.derived, res)}
    record_engine(out, sim=sim, engine=engine, timing_only=timing_only,
                  data_keys=("wrong_nodes",))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(out, indent=1) + "\n")
    return out
