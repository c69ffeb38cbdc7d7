"""The scalar numerics of the node models (sim.netmodel.node.numerics) against
verif.golden's vectorised contract, on many operands weighted to its corner cases."""

import numpy as np
from numba import njit

from sim.netmodel.node.numerics import bf16_mul, fp32_add
from tests.sim.netmodel.lockstep import one_worker
from verif import golden

pytestmark = one_worker("numerics")


@njit(cache=True)
def _each(a, b, mul, out, su, sf):
    for i in range(a.shape[0]):
        out[i] = bf16_mul(0, a[i], b[i], su, sf) if mul else fp32_add(0, a[i], b[i], su, sf,
                                                                       True)


def _run(a, b, mul):
    out = np.zeros(len(a), np.uint32)
    su = np.zeros((1, 4), np.uint32)
    _each(a.astype(np.int64), b.astype(np.int64), mul, out, su, su.view(np.float32))
    return out


def test_bf16_products_equal_the_golden_model():
    rng = np.random.default_rng(1)
    a, b = golden.interesting_bf16(rng, 200_000), golden.interesting_bf16(rng, 200_000)
    assert (_run(a, b, True) == golden.bf16_mul(a, b)).all()


def test_fp32_sums_equal_the_golden_model():
    rng = np.random.default_rng(2)
    a, b = golden.interesting_fp32(rng, 200_000), golden.interesting_fp32(rng, 200_000)
    # opposite operands close to each other: cancellation into the subnormal range
    b[::4] = a[::4] ^ np.uint32(0x80000000) ^ rng.integers(0, 4, len(a[::4])).astype(np.uint32)
    assert (_run(a, b, False) == golden.fp32_add(a, b)).all()
