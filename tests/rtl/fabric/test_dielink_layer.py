# amaranth: UnusedElaboratable=no
"""ReliableDieLinkChannel: perfect-pipe timing at BER 0, exactly-once in-order delivery under
injected errors on both directions and on a lane failure, counters that match the injections."""

import random

import pytest
from amaranth import Const, Signal
from amaranth.sim import Simulator

from rtl.fabric.dielink import DieLinkChannel
from rtl.fabric.dielink_layer import (CRC_POLYS, STAT_NAMES, ReliableDieLinkChannel, crc,
                                      crc_matrix, link_layer_geometry, word_error_threshold)


def run(dut, *, vcs, n, tx_depth, down_depth=4, stall=0.0, seed=1, index=0, limit=None,
        window=(0, None)):
    """``window``: the cycles ``[start, end)`` the ``window`` input is high (end None: to
    the end of the run)."""
    rng = random.Random(seed)
    sent = [(rng.randrange(vcs), rng.getrandbits(16), rng.random() < 0.3) for _ in range(n)]
    got, times, stats = [], [], {}
    limit = limit or 200 * n + 400

    async def sender(ctx):
        ctx.set(dut.index, index) if hasattr(dut, "index") else None
        credits = [tx_depth] * vcs
        queue = list(sent)
        while queue:
            vc, data, last = queue[0]
            ctx.set(dut.i.valid, 0)
            if credits[vc]:
                credits[vc] -= 1
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.vc, vc)
                ctx.set(dut.i.data, data)
                ctx.set(dut.i.last, last)
                queue.pop(0)
            _, _, pulses = await ctx.tick().sample(dut.i.credit)
            for v in range(vcs):
                credits[v] += pulses >> v & 1
                assert credits[v] <= tx_depth
        ctx.set(dut.i.valid, 0)

    async def receiver(ctx):
        held = [0] * vcs
        cycle = 0
        while len(got) < n and cycle < limit:
            if hasattr(dut, "window"):
                ctx.set(dut.window, window[0] <= cycle and (window[1] is None
                                                            or cycle < window[1]))
            valid = ctx.get(dut.o.valid)
            if valid:
                got.append((ctx.get(dut.o.vc), ctx.get(dut.o.data), ctx.get(dut.o.last)))
                times.append(cycle)
                vc = got[-1][0]
                held[vc] += 1
                assert held[vc] <= down_depth, "link ignored the receiver's credits"
            pulse = 0
            for v in range(vcs):
                if held[v] and rng.random() >= stall:
                    held[v] -= 1
                    pulse |= 1 << v
            ctx.set(dut.o.credit, pulse)
            await ctx.tick()
            cycle += 1
        # let the last control words land, then read the counters
        for _ in range(400):
            await ctx.tick()
        assert not ctx.get(dut.overflow), "TX buffer overflowed"
        if hasattr(dut, "stats"):
            word = ctx.get(dut.stats)
            stats.update({k: word >> (32 * i) & 0xFFFFFFFF for i, k in enumerate(STAT_NAMES)})

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    return sent, got, times, stats


def reliable(**kw):
    base = dict(flit_bits=16, vcs=2, downstream_depth=4, tx_depth=4)
    return ReliableDieLinkChannel(**(base | kw))


def check_exactly_once(sent, got, vcs):
    assert len(got) == len(sent)
    for v in range(vcs):
        assert [s for s in sent if s[0] == v] == [g for g in got if g[0] == v]


def test_crc_reference_and_detection():
    assert crc(0x313233343536373839, 72, 8) == 0xF4      # CRC-8 check value of "123456789"
    assert crc(0x313233343536373839, 72, 16) == 0x31C3   # XMODEM check value of "123456789"
    for width in CRC_POLYS:
        n = 90
        cols = crc_matrix(n, width)
        assert len(cols) == width
        # every burst of up to `width` bits anywhere in a codeword changes the syndrome
        for b in range(1, width + 1):
            for pos in range(0, n - b + 1, 7):
                err = ((1 << b) - 1) << pos
                data_err, crc_err = err & ((1 << (n - width)) - 1), err >> (n - width)
                assert crc(data_err, n - width, width) != crc_err


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("ratio, latency, vcs", [(1, 0, 2), (2, 3, 2), (3, 1, 1), (4, 5, 2)])
def test_ber0_timing_equals_the_perfect_pipe(ratio, latency, vcs):
    common = dict(flit_bits=16, vcs=vcs, ratio=ratio, latency=latency, downstream_depth=4,
                  tx_depth=4)
    for stall in (0.0, 0.6):
        a = run(DieLinkChannel(**common), vcs=vcs, n=150, tx_depth=4, stall=stall, seed=3)
        b = run(ReliableDieLinkChannel(**common), vcs=vcs, n=150, tx_depth=4, stall=stall, seed=3)
        assert a[1] == b[1] and a[2] == b[2]          # same flits, same cycles
        st = b[3]
        assert st["sent"] == 150 and st["replays"] == 0 and st["crc_errors"] == 0
        assert st["ack_errors"] == 0 and st["degraded"] == 0


@pytest.mark.parametrize("ber, rber, burst, ratio, latency, crc_bits", [
    (0.01, 0.0, 1, 2, 3, 8),
    (0.03, 0.02, 3, 1, 2, 8),       # most flits need a replay
    (0.0, 0.05, 1, 2, 1, 16),       # reverse direction only: lost ACKs, credits, NAKs
    (0.02, 0.02, 16, 3, 4, 16),
])
def test_exactly_once_in_order_under_errors(ber, rber, burst, ratio, latency, crc_bits):
    geo = link_layer_geometry(flit_bits=16, vcs=2, ratio=ratio, latency=latency,
                              crc_bits=crc_bits)
    dut = reliable(ratio=ratio, latency=latency, crc_bits=crc_bits, burst_len=burst, seed=7,
                   error_threshold=word_error_threshold(ber, geo["codeword_bits"], burst),
                   reverse_error_threshold=word_error_threshold(rber, geo["reverse_bits"], burst))
    sent, got, _, st = run(dut, vcs=2, n=200, tx_depth=4, stall=0.3, seed=11, index=5)
    check_exactly_once(sent, got, 2)
    assert st["crc_errors"] == st["injected"]                 # every injected error caught
    # control words flow every cycle: up to `latency` corrupted ones are still in flight
    assert 0 <= st["injected_reverse"] - st["ack_errors"] <= latency
    if ber:
        assert st["injected"] > 0 and st["replays"] > 0
        assert st["sent"] == 200 + st["replayed_flits"]
    if rber:
        assert st["injected_reverse"] > 0
    # the window (every cycle here) counts the same codewords; a control word has news when
    # a codeword was accepted (200), the NAK state entered, or a flit popped (200, some in
    # the same cycle as an acceptance)
    assert st["window_sent"] == st["sent"] and st["window_replayed"] == st["replayed_flits"]
    assert 200 <= st["window_control"] <= 400 + st["crc_errors"] + st["seq_drops"]


def test_the_window_counters_count_the_window_only():
    """A window over part of the run counts part of the codewords and control words; the
    whole-run counters are unchanged."""
    geo = link_layer_geometry(flit_bits=16, vcs=2, ratio=2, latency=2, crc_bits=8)
    kw = dict(ratio=2, latency=2, crc_bits=8, seed=3,
              error_threshold=word_error_threshold(0.02, geo["codeword_bits"]))
    full = run(reliable(**kw), vcs=2, n=120, tx_depth=4, seed=2)[3]
    part = run(reliable(**kw), vcs=2, n=120, tx_depth=4, seed=2, window=(100, 300))[3]
    assert {k: part[k] for k in STAT_NAMES if not k.startswith("window_")} == \
        {k: full[k] for k in STAT_NAMES if not k.startswith("window_")}
    for k in ("window_sent", "window_replayed", "window_control"):
        assert 0 < part[k] < full[k], (k, part[k], full[k])
    # with a codeword every 2 cycles at most, 200 cycles send at most 100
    assert part["window_sent"] <= 100


def test_most_flits_replayed_at_high_ber():
    geo = link_layer_geometry(flit_bits=16, vcs=2, ratio=2, latency=2, crc_bits=8)
    dut = reliable(ratio=2, latency=2, crc_bits=8, seed=3,
                   error_threshold=word_error_threshold(0.02, geo["codeword_bits"]))
    sent, got, _, st = run(dut, vcs=2, n=200, tx_depth=4, seed=2)
    check_exactly_once(sent, got, 2)
    assert st["replayed_flits"] > 200


@pytest.mark.parametrize("fail_link, index, degraded", [(None, 0, 1), (3, 3, 1), (3, 2, 0)])
def test_lane_failure_loses_nothing_and_slows_the_link(fail_link, index, degraded):
    dut = reliable(ratio=2, latency=2, ratio_degraded=4, lane_fail_cycle=151,
                   lane_fail_link=fail_link)
    sent, got, times, st = run(dut, vcs=2, n=240, tx_depth=4, seed=4, index=index)
    check_exactly_once(sent, got, 2)
    assert st["degraded"] == degraded
    assert st["crc_errors"] == st["injected"] == degraded    # the flit on the dying lane
    late = times[-1] - times[-60]
    assert late >= (4 if degraded else 2) * 59 - 2


def test_errors():
    with pytest.raises(ValueError, match="crc_bits must be one of 8, 16, not 12"):
        reliable(ratio=1, latency=0, crc_bits=12)
    with pytest.raises(ValueError, match=r"burst_len must be an integer from 1 to crc_bits \(8\), not 9"):
        reliable(ratio=1, latency=0, burst_len=9)
    with pytest.raises(ValueError, match=r"ratio_degraded must be an integer >= ratio \(2\), not 1"):
        reliable(ratio=2, latency=0, ratio_degraded=1)
    with pytest.raises(ValueError, match="ber must be in"):
        word_error_threshold(2.0, 10)


class _FirstCodewordCorrupt(ReliableDieLinkChannel):
    """Corrupts the codewords launched in the first 3 cycles (the first flit's first
    transmission, launched in cycle 1), nothing else."""

    def _errors(self, m, fwd_draw, rev_draw):
        age = Signal(2, name="age")
        with m.If(age != 3):
            m.d.sync += age.eq(age + 1)
        fwd_err = Signal(name="fwd_err")
        m.d.comb += fwd_err.eq(age != 3)
        return fwd_err, Const(0, 1)


@pytest.mark.parametrize("replay", [False, True])
def test_one_crossing_counts_and_energy_by_hand(replay):
    """One flit over one die link, counted by the RTL's window counters and priced by hand.
    Without an error: one codeword, and two control words with news (the ACK when the
    codeword is accepted, the credit when the flit leaves the RX buffer a cycle later).
    With the first transmission corrupted: the NAK's control word, the codeword again."""
    from gen.config import load_config
    from gen.derive import derive
    from gen.energy import energy_model, energy_of
    cls = _FirstCodewordCorrupt if replay else ReliableDieLinkChannel
    dut = cls(flit_bits=64, vcs=2, ratio=4, latency=1, downstream_depth=4, tx_depth=4)
    sent, got, _, st = run(dut, vcs=2, n=1, tx_depth=4, seed=5)
    check_exactly_once(sent, got, 2)
    codewords, words = (2, 3) if replay else (1, 2)
    assert (st["window_sent"], st["window_replayed"], st["window_control"]) == \
        (codewords, codewords - 1, words)
    assert st["crc_errors"] == int(replay) and st["replays"] == int(replay)
    # priced: a 64-bit flit, 2 VCs, the link layer with CRC-8 at 0.5 pJ/bit and 2 fJ/bit of
    # CRC logic, ratio 4 and latency 1 as above
    cfg = load_config("configs/default.yaml", [
        "router.flit_bits=64", "router.vcs=2", "tile.dies_x=2", "dielink.link_layer=true",
        "dielink.crc_bits=8", "dielink.ratio=4", "dielink.latency=1",
        "energy.dielink_pj_per_bit=0.5", "energy.crc_fj_per_bit=2"])
    geo = dut.geometry
    m = energy_model(cfg, derive(cfg))
    bits = 64 + geo["seq_bits"] + 8                       # flit, sequence number, CRC
    ctl = geo["seq_bits"] + 2 + 2 * geo["count_bits"] + 8   # ACK, NAK count, 2 pops, CRC
    assert (m.dielink_bits_per_flit, m.dielink_control_bits) == (bits, ctl)
    j = energy_of(m, {"dielink_codewords": st["window_sent"],
                      "dielink_control_words": st["window_control"]}, cycles=0, nodes=0)
    pj = (codewords * bits + words * ctl) * (0.5 + 0.002)
    assert (j["dielink_codewords"] + j["dielink_control_words"]) * 1e12 == pytest.approx(pj)
