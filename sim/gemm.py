"""One GEMM on one compute node, driven through its network port (cocotb).

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

__all__ = ["run_gemm", "as_operand"]


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


def run_gemm(cfg, *, m, n, k, dtype, a=None, b=None, sim="verilator", out_dir, seed=0):
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
    from sim.runner import run_cocotb
    from verif import golden
    from verif.node_model import NodeModel

    p = cfg.node.matrix_p
    for name, v in (("m", m), ("n", n), ("k", k)):
        if not isinstance(v, int) or v < p or v % p:
            raise ValueError(f"{name}={v!r}: must be a positive multiple of node.matrix_p={p}")
    design = compute_node_design(cfg, nodes=1)
    model = NodeModel.from_manifest(design.manifest())
    model.gemm_layout(m=m, n=n, k=k, dtype=dtype)        # raises if it does not fit
    rng = np.random.default_rng(seed)
    def random(shape):
        if dtype == "int8":
            return rng.integers(-128, 128, shape)
        f = golden.float_to_f32_bits(rng.standard_normal(shape).astype(np.float32))
        return (f >> np.uint32(16)).astype(np.uint16)        # truncated to bf16

    a = random((m, k)) if a is None else a
    b = random((k, n)) if b is None else b
    a, b = as_operand(a, dtype, "A"), as_operand(b, dtype, "B")
    if a.shape != (m, k) or b.shape != (k, n):
        raise ValueError(f"A is {a.shape} and B is {b.shape}, expected {(m, k)} and {(k, n)}")
    bits = (a.view(np.uint16) if dtype == "bf16" else a).astype(np.int64).ravel().tolist()
    bbits = (b.view(np.uint16) if dtype == "bf16" else b).astype(np.int64).ravel().tolist()
    res = run_cocotb(design, sim=sim, test_module="verif.tb_node", testcase="gemm",
                     tag=f"gemm-{m}x{n}x{k}-{dtype}-{seed}",
                     scenario={"gemm": {"m": m, "n": n, "k": k, "dtype": dtype, "a": bits,
                                        "b": bbits}})["gemm"]
    c_bits = np.array(res["c"], np.uint32).reshape(m, n)
    expected = NodeModel.golden(a, b, None, dtype)
    c = c_bits.view(np.float32) if dtype == "bf16" else c_bits.view(np.int32)
    out = {"m": m, "n": n, "k": k, "dtype": dtype, "sim": sim, "matrix_p": p,
           "exec_cycles": res["exec_cycles"], "steps": res["steps"],
           "mac_utilisation": res["steps"] / res["exec_cycles"] if res["exec_cycles"] else 0.0,
           "ideal_cycles": (m // p) * (n // p) * k, "total_cycles": res["total_cycles"],
           "match": bool(np.array_equal(c_bits, expected)),
           "mismatches": int(np.count_nonzero(c_bits != expected)),
           "problems": res["problems"]}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    np.save(out_dir / "C.npy", c)
    return {**out, "c": c}
