"""The GPU-cluster reference model against hand-computed cases."""

import pytest

from sim.step.gpu import GpuCluster, allreduce_seconds, gemm_seconds, load_gpu, step_seconds
from sim.step.spec import workload_from_dict
from tests.conftest import CONFIGS

# round numbers: 100 TFLOPS, 1 TB/s HBM, domain of 8 at 100 GB/s and 1 us, network 10 GB/s, 10 us
G = GpuCluster("t", 100e12, 1e12, 1.0, 8, 100e9, 1e-6, 10e9, 10e-6)


def test_gemm_is_the_roofline():
    # 1024^3: 2.147e9 FLOP / 1e14 = 21.47 us; bytes 2*2*1M + 4M = 8.39 MB / 1e12 = 8.4 us
    assert gemm_seconds(G, 1024, 1024, 1024) == pytest.approx(2 * 1024**3 / 100e12)
    # 16x16x16: 8192 FLOP = 0.08 ns; bytes 2*2*256 + 4*256 = 2048 B / 1e12 = 2.048 ns
    assert gemm_seconds(G, 16, 16, 16) == pytest.approx(2048 / 1e12)


def test_allreduce_in_the_domain_and_across_it():
    s = 8e6
    # 4 GPUs: 6 steps of (1 us + 2 MB / 100 GB/s = 20 us) = 126 us
    assert allreduce_seconds(G, s, 4) == pytest.approx(6 * (1e-6 + 2e6 / 100e9))
    # 16 GPUs: 2 x 7 steps of (1 us + 1 MB / 100 GB/s) in the domain = 154 us, plus a ring
    # of 2 domains on the 1 MB shard: 2 steps of (10 us + 0.5 MB / 10 GB/s) = 120 us
    assert allreduce_seconds(G, s, 16) == pytest.approx(154e-6 + 120e-6)
    # 20 GPUs (2 full domains and one of 4): the full domains' 154 us, a ring of 3 domains
    # on the 1 MB shard: 4 steps of (10 us + 1/3 MB / 10 GB/s) = 173.3 us
    assert allreduce_seconds(G, s, 20) == pytest.approx(154e-6 + 4 * (10e-6 + 1e6 / 3 / 10e9))
    assert allreduce_seconds(G, s, 1) == 0.0


def test_step_overlaps_the_allreduce_with_the_backward_pass():
    step = workload_from_dict({"name": "x", "parallel": {"data": 2},
                               "layers": [{"name": "a", "tokens": 1024, "in": 1024,
                                           "out": 1024}]})
    t = gemm_seconds(G, 1024, 1024, 1024)
    ar = allreduce_seconds(G, 1024 * 1024 * 4, 2)
    r = step_seconds(G, step)
    # forward, backward_weight, then backward_data while dW is all-reduced
    assert r["compute"] == pytest.approx(3 * t)
    assert r["step"] == pytest.approx(2 * t + max(t, ar))
    assert r["exposed"] == pytest.approx(max(0.0, ar - t))


def test_reference_yaml_loads():
    gpu = load_gpu(CONFIGS / "gpu" / "a100.yaml")
    assert gpu.peak_flops == 312e12 and gpu.domain == 8
