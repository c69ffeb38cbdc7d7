"""Throughput of a saturated die link under go-back-N replay: an analytic model and its measurement.

The model (:func:`gbn_throughput`) follows the link layer of
:mod:`rtl.fabric.dielink_layer` on its slot grid: a saturated sender starts a codeword
every ``ratio`` cycles; each codeword is corrupted with probability ``p`` (independently).

* A corrupted codeword started in cycle ``s`` lands at ``s + ratio + latency``; the NAK is
  in the control word of the next cycle and reaches the sender ``latency`` cycles later,
  in cycle ``T = s + ratio + 2 latency + 1``. Every codeword started up to ``T`` is lost
  (the receiver drops what follows a hole): ``W = floor((ratio + 2 latency + 1) / ratio) + 1``
  slots, then the replay starts on the next slot.
* If the first replayed codeword is corrupted too, the receiver is still in its NAK state
  and sends no second NAK: the sender's timer (reset at the replay) expires ``timeout + 1``
  cycles after it, and the replay starts again on the first slot after that.

With ``N`` the expected slots one delivered flit costs from the normal state and ``R(d)``
from a replay that starts ``d`` cycles after its trigger::

    N    = (1 - p) + p (W + R(d0))
    R(d) = (1 - p) + p (k(d) + R(d'(d)))

solved by fixed-point iteration; throughput = ``1 / (ratio N)`` flits per cycle. The model
ignores control-word errors (``ber_reverse``: a lost word only delays credits, ACKs and
NAKs by a cycle) and assumes the replay window never fills (it holds a round trip).

:func:`measure_saturated` measures the same on the cycle-exact network model (equal to the
RTL, see ``tests/sim/netmodel/test_netmodel_rtl.py``): two single-node dies joined by one
die link each way, bit-complement traffic (every flit crosses the link) at full offered load.
"""

import math

__all__ = ["gbn_throughput", "measure_saturated", "codeword_error_probability"]


def codeword_error_probability(threshold):
    """The injector's per-codeword error probability from its 32-bit threshold."""
    return threshold / 2 ** 32


def gbn_throughput(p, *, ratio, latency, timeout):
    """Delivered flits per cycle of a saturated link whose codewords fail with probability ``p``."""
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), not {p!r}")
    span = ratio + 2 * latency + 1
    w = span // ratio + 1
    d0 = w * ratio - span

    def step(d):
        gap = timeout + 1 - d
        k = gap // ratio + 1
        return k, k * ratio - gap

    r = {}
    d = d0
    seen = []
    while d not in seen:             # the alignments a chain of timeouts visits
        seen.append(d)
        d = step(d)[1]
    r = {d: 1.0 for d in seen}
    for _ in range(10000):
        new = {d: (1 - p) + p * (step(d)[0] + r[step(d)[1]]) for d in seen}
        done = max(abs(new[d] - r[d]) for d in seen) < 1e-12
        r = new
        if done:
            break
    n = (1 - p) + p * (w + r[d0])
    return 1 / (ratio * n)


def measure_saturated(*, ber, ratio=3, latency=3, crc_bits=8, seed=1, cycles=6000,
                      warmup=500):
    """``(measured flits/cycle over the die link, model flits/cycle, derived link layer)``."""
    from gen.config import load_config
    from gen.derive import derive
    from rtl.measure.traffic import Pattern, rate_threshold
    from sim.netmodel.network import NetworkModel, ctrl_vector

    over = ["die.nodes_x=1", "die.nodes_y=1", "tile.dies_x=2", "tile.dies_y=1",
            "dielink.link_layer=true", f"dielink.ratio={ratio}", f"dielink.latency={latency}",
            f"dielink.crc_bits={crc_bits}", f"dielink.ber={ber}", f"dielink.seed={seed}",
            "router.vcs=1"]
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "default.yaml", over)
    d = derive(cfg)
    model = NetworkModel(cfg, d)
    fields = {"pattern": Pattern.BIT_COMPLEMENT, "packet_len": 1, "seed": 7}
    model.reset(ctrl_vector(**fields))
    on = ctrl_vector(enable=1, rate=rate_threshold(1.0, 1), **fields)
    model.run(warmup, on)
    before = model.node_stats()["sink.flits"].sum()
    model.run(cycles, on)
    after = model.node_stats()["sink.flits"].sum()
    measured = (after - before) / cycles / 2          # two links, one each way
    ll = d.dielink.link_layer
    p = codeword_error_probability(ll["error_threshold"])
    if not math.isfinite(p):
        raise ValueError("bad threshold")
    return measured, gbn_throughput(p, ratio=ratio, latency=latency, timeout=ll["timeout"]), ll
