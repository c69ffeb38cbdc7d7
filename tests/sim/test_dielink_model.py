"""Saturated die-link throughput vs BER, measured on the cycle-exact model, within 5% of the
analytic go-back-N model (sim.dielink_model)."""

import pytest

from sim.dielink_model import gbn_throughput, measure_saturated


@pytest.mark.parametrize("ratio, latency", [(3, 3), (2, 10), (1, 1)])
@pytest.mark.parametrize("ber", [0.0, 1e-4, 1e-3, 3e-3, 1e-2])
def test_measured_throughput_follows_the_replay_model(ratio, latency, ber):
    measured, model, ll = measure_saturated(ber=ber, ratio=ratio, latency=latency, cycles=20000)
    assert measured == pytest.approx(model, rel=0.05)
    if ber == 0:
        assert measured == pytest.approx(1 / ratio, rel=1e-3)     # the perfect pipe's rate


def test_model_limits():
    assert gbn_throughput(0.0, ratio=4, latency=5, timeout=30) == 0.25
    slow = gbn_throughput(0.5, ratio=1, latency=8, timeout=30)
    assert 0 < slow < gbn_throughput(0.1, ratio=1, latency=8, timeout=30) < 1
    with pytest.raises(ValueError, match="p must be in"):
        gbn_throughput(1.0, ratio=1, latency=0, timeout=10)
