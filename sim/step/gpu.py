"""The GPU-cluster reference: the same training step on an alpha-beta model of GPUs.

Parameters come from a YAML with their public sources (``configs/gpu/a100.yaml``). One
data-parallel replica of the step is one GPU (its GEMMs whole on that GPU).

- A GEMM ``m x n x k`` takes ``max(2 m n k / (peak x efficiency), bytes / HBM)``, the
  bytes being A and B in the operand type and C in fp32 (read and written once): the
  roofline.
- An all-reduce of ``S`` bytes over ``P`` GPUs is a ring (``2 (P - 1)`` steps of
  ``alpha + (S / P) / bw``) inside the NVLink domain when ``P <= domain``; above it,
  hierarchical: a reduce-scatter inside the domain (``D - 1`` steps of ``S / D``), a ring
  all-reduce of each GPU's ``S / D`` shard across the ``P / D`` domains on the network
  (every GPU on its own NIC), and an all-gather inside the domain. ``P`` not a multiple
  of ``D`` (a fabric's replica count, e.g. 31 on a D1 die): ``ceil(P / D)`` domains, the
  last one partial; the full domains' steps bound the time, so it is the time of
  ``ceil(P / D)`` full domains.
- The step: the forward GEMMs, then the backward ones, one after another on the GPU; each
  layer's ``dW`` all-reduce starts when its ``backward_weight`` GEMM ends (one bucket per
  layer, as on the fabric) on a communication stream of its own that runs the all-reduces
  one at a time. The step ends when both are done; ``exposed`` is the step minus the
  compute.
"""

from dataclasses import dataclass
from pathlib import Path

from gen.config import ConfigError, _fill_defaults, _load_yaml, _schema_errors

__all__ = ["GPU_SCHEMA", "GpuCluster", "load_gpu", "gemm_seconds", "allreduce_seconds",
           "step_seconds"]


def _pos(desc):
    return {"type": "number", "exclusiveMinimum": 0, "description": desc}


GPU_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["name", "gpu", "domain",
                                                                  "network"],
    "properties": {
        "name": {"type": "string"},
        "gpu": {"type": "object", "additionalProperties": False,
                "required": ["peak_tflops_bf16", "hbm_gbps"],
                "properties": {"peak_tflops_bf16": _pos("dense BF16 peak, TFLOPS"),
                               "hbm_gbps": _pos("HBM bandwidth, GB/s"),
                               "gemm_efficiency": {"type": "number", "exclusiveMinimum": 0,
                                                   "maximum": 1, "default": 1.0}}},
        "domain": {"type": "object", "additionalProperties": False,
                   "required": ["gpus", "link_gbps", "alpha_us"],
                   "properties": {"gpus": {"type": "integer", "minimum": 1},
                                  "link_gbps": _pos("per GPU, each way, GB/s"),
                                  "alpha_us": {"type": "number", "minimum": 0}}},
        "network": {"type": "object", "additionalProperties": False,
                    "required": ["link_gbps", "alpha_us"],
                    "properties": {"link_gbps": _pos("per GPU, each way, GB/s"),
                                   "alpha_us": {"type": "number", "minimum": 0}}},
    },
}


@dataclass(frozen=True)
class GpuCluster:
    name: str
    peak_flops: float       #: FLOP/s
    hbm: float              #: B/s
    efficiency: float
    domain: int
    nvlink: float           #: B/s per GPU each way
    alpha_domain: float     #: s
    network: float          #: B/s per GPU each way
    alpha_network: float    #: s


def load_gpu(path):
    """The reference YAML -> :class:`GpuCluster` (ConfigError, one line per problem)."""
    try:
        raw = _load_yaml(Path(path).read_text())
    except OSError as exc:
        raise ConfigError([f"gpu reference {str(path)!r}: cannot read ({exc.strerror})"])
    problems = _schema_errors(raw, GPU_SCHEMA)
    if problems:
        raise ConfigError(problems)
    raw = _fill_defaults(GPU_SCHEMA, raw)
    g, dm, nw = raw["gpu"], raw["domain"], raw["network"]
    return GpuCluster(raw["name"], g["peak_tflops_bf16"] * 1e12, g["hbm_gbps"] * 1e9,
                      g["gemm_efficiency"], dm["gpus"], dm["link_gbps"] * 1e9,
                      dm["alpha_us"] * 1e-6, nw["link_gbps"] * 1e9, nw["alpha_us"] * 1e-6)


def gemm_seconds(gpu, m, n, k, dtype="bf16"):
    """The roofline time of one GEMM on one GPU."""
    elem = 2 if dtype == "bf16" else 1
    bytes_ = (m * k + k * n) * elem + m * n * 4
    return max(2 * m * n * k / (gpu.peak_flops * gpu.efficiency), bytes_ / gpu.hbm)


def _ring(steps_of, p, size, alpha, bw):
    return steps_of * (p - 1) * (alpha + size / p / bw)


def allreduce_seconds(gpu, size, gpus):
    """An all-reduce of ``size`` bytes over ``gpus`` GPUs (module docstring)."""
    if gpus <= 1:
        return 0.0
    d = gpu.domain
    if gpus <= d:
        return _ring(2, gpus, size, gpu.alpha_domain, gpu.nvlink)
    inside = 2 * _ring(1, d, size, gpu.alpha_domain, gpu.nvlink)     # reduce-scatter + gather
    return inside + _ring(2, -(-gpus // d), size / d, gpu.alpha_network, gpu.network)


def step_seconds(gpu, step):
    """The step of :class:`sim.step.spec.Step` on ``step.data`` GPUs -> dict of seconds:
    ``step``, ``compute``, ``communication``, ``exposed`` and the per-GEMM times."""
    t, comm_free, comm_total = 0.0, 0.0, 0.0
    gemms = []
    for g in step.gemms():
        dt = gemm_seconds(gpu, g.m, g.n, g.k, step.dtype)
        t += dt
        gemms.append({"gemm": g.label, "seconds": dt})
        if g.kind == "backward_weight" and step.data > 1:
            ar = allreduce_seconds(gpu, g.m * g.n * 4, step.data)
            comm_free = max(comm_free, t) + ar
            comm_total += ar
    end = max(t, comm_free)
    return {"step": end, "compute": t, "communication": comm_total, "exposed": end - t,
            "gpus": step.data, "gemms": gemms, "flops": step.flops,
            "peak_fraction": step.flops / (end * gpu.peak_flops * step.data)}
