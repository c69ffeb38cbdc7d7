"""The workloads' expected C blocks (:func:`sim.cannon.chained_golden`: every node's
chain of EXECs as one batched bf16 product) against the golden model's EXECs chained
one step at a time (``NodeModel.golden``), bit for bit, on operands full of the contract's
edge cases (subnormals, infinities, NaNs, signed zeros)."""

import numpy as np
import pytest

from sim.cannon import chained_golden
from verif import golden
from verif.node_model import NodeModel


def _plain_bf16(rng, shape):
    """bf16 patterns of ordinary values over a wide range (no edge case absorbs a sum)."""
    x = (rng.standard_normal(shape) * 2.0 ** rng.integers(-12, 12, shape)).astype(np.float32)
    return (golden.float_to_f32_bits(x) >> 16).astype(np.uint16)


def chains(dtype, *, keys=6, steps=3, m=4, n=4, kb=4, seed=7, plain=False):
    rng = np.random.default_rng(seed)
    out = {}
    for key in range(keys):
        if plain:
            a, b = _plain_bf16(rng, (steps, m, kb)), _plain_bf16(rng, (steps, kb, n))
        elif dtype == "bf16":
            a = golden.interesting_bf16(rng, steps * m * kb).reshape(steps, m, kb)
            b = golden.interesting_bf16(rng, steps * kb * n).reshape(steps, kb, n)
        else:
            a = rng.integers(-128, 128, (steps, m, kb)).astype(np.int8)
            b = rng.integers(-128, 128, (steps, kb, n)).astype(np.int8)
        out[key] = [(a[s], b[s]) for s in range(steps)]
    return out


def stepped(chain, dtype):
    out = {}
    for key, steps in chain.items():
        c = None
        for a, b in steps:
            c = NodeModel.golden(a, b, c, dtype)
        out[key] = c
    return out


@pytest.mark.parametrize("dtype, plain", [("bf16", False), ("bf16", True), ("int8", False)],
                         ids=["bf16_edge_cases", "bf16_plain", "int8"])
def test_the_batched_golden_is_the_chained_execs(dtype, plain):
    chain = chains(dtype, plain=plain)
    want, got = stepped(chain, dtype), chained_golden(chain, dtype)
    assert list(got) == list(want)
    for key in want:
        assert np.array_equal(np.asarray(got[key]), np.asarray(want[key])), key


def test_a_different_step_order_is_caught():
    # fp32 accumulation does not commute: the steps in reverse order give other bits, so
    # the comparison above would catch a batch that lost the order
    chain = chains("bf16", seed=11, plain=True)
    reversed_order = {key: steps[::-1] for key, steps in chain.items()}
    want, got = stepped(chain, "bf16"), chained_golden(reversed_order, "bf16")
    assert any(not np.array_equal(got[key], want[key]) for key in want)
