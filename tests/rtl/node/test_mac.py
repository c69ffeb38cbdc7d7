"""MacUnit: streams of dot products in both modes, bit-exact against the golden GEMM."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from rtl.node.mac import MacMode, MacUnit
from verif import golden

IDLE = {"mode": MacMode.INT8, "a": 0, "b": 0, "enable": 0, "clear": 0, "load": 0, "c_in": 0}


class Job:
    """One dot product: ``c0 + sum_k a[k] * b[k]`` in one mode (c0 None: clear)."""

    def __init__(self, mode, a, b, c0=None):
        self.mode, self.a, self.b, self.c0 = mode, list(a), list(b), c0
        assert len(self.a) == len(self.b)

    def expected(self):
        k = len(self.a)
        if self.mode == MacMode.BF16:
            c0 = None if self.c0 is None else np.array([[self.c0]], np.uint32)
            return int(golden.gemm_bf16(np.array(self.a, np.uint16).reshape(1, k),
                                        np.array(self.b, np.uint16).reshape(k, 1), c0)[0, 0])
        a = np.array(self.a, np.int64).astype(np.uint16).view(np.int16).astype(np.int8)  # low byte
        b = np.array(self.b, np.int64).astype(np.uint16).view(np.int16).astype(np.int8)
        c0 = None if self.c0 is None else np.array([[self.c0]], np.uint32).view(np.int32)
        return int(golden.gemm_int8(a.reshape(1, k), b.reshape(k, 1), c0).view(np.uint32)[0, 0])


def schedule(jobs, rng, bubble_rate, slots=1):
    """Per-cycle input dicts running ``jobs`` on a unit with ``slots`` accumulators.

    The step at cycle t belongs to slot ``t mod slots``; each slot runs its
    jobs back to back, a job starting with ``load`` (or ``clear``) on its
    first step. Bubbles (nothing asserted, garbage operands) are sprinkled in
    with ``bubble_rate``. Returns the steps and, per job, its last step.
    """
    def job_steps(job):
        start = {"clear": 1} if job.c0 is None else {"load": 1, "c_in": job.c0}
        if not job.a:                                    # K = 0: only the load
            return [{**IDLE, **start}]
        return [{**IDLE, "mode": job.mode, "a": a, "b": b, "enable": 1, **(start if k == 0 else {})}
                for k, (a, b) in enumerate(zip(job.a, job.b))]

    pending = list(enumerate(jobs))
    current = [[] for _ in range(slots)]                 # remaining (job index, step) per slot
    steps, last = [], [None] * len(jobs)
    while pending or any(current):
        slot = len(steps) % slots
        if not current[slot] and pending:
            index, job = pending.pop(0)
            current[slot] = [(index, step) for step in job_steps(job)]
        if not current[slot] or rng.random() < bubble_rate:
            steps.append({**IDLE, "mode": MacMode(int(rng.integers(0, 2))),
                          "a": int(rng.integers(0, 1 << 16)), "b": int(rng.integers(0, 1 << 16))})
            continue
        index, step = current[slot].pop(0)
        steps.append(step)
        last[index] = len(steps) - 1
    return steps, last


def run(dut, steps):
    """Apply one step per cycle; ``acc`` observed after each clock edge."""
    observed = []

    async def testbench(ctx):
        for i in range(len(steps) + dut.latency):
            step = steps[i] if i < len(steps) else IDLE
            for name, value in step.items():
                ctx.set(getattr(dut, name), value)
            await ctx.tick()
            observed.append(ctx.get(dut.acc))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return observed


def check(dut, jobs, rng, bubble_rate=0.1):
    steps, last = schedule(jobs, rng, bubble_rate, dut.slots)
    observed = run(dut, steps)
    # the effect of step s is visible on acc after clock edge s + latency - 1
    got = [observed[s + dut.latency - 1] for s in last]
    expected = [job.expected() for job in jobs]
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, "\n".join(f"job {i} ({jobs[i].mode.name}, K={len(jobs[i].a)}): "
                              f"got {g:#010x}, expected {e:#010x}" for i, g, e in bad[:10])
    return got


# -- job generators ---------------------------------------------------------------------

def bf16_values(rng, n, special_rate=0.03):
    """Gaussian bf16 values (so sums really round), with some special patterns mixed in."""
    x = golden.float_to_f32_bits(rng.standard_normal(n).astype(np.float32) * np.float32(4.0))
    bits = (x >> np.uint32(16)).astype(np.uint16)
    mask = rng.random(n) < special_rate
    bits[mask] = golden.interesting_bf16(rng, int(mask.sum()))
    return bits.tolist()


def bf16_job(rng, k, special_rate=0.03):
    choice = rng.integers(0, 4)
    c0 = [None,
          int(golden.float_to_f32_bits(np.float32(rng.standard_normal() * 16))),
          int(golden.interesting_fp32(rng, 1)[0]),
          int(rng.integers(0, 1 << 23)) | int(rng.integers(0, 2)) << 31][choice]   # subnormal C0
    return Job(MacMode.BF16, bf16_values(rng, k, special_rate), bf16_values(rng, k, special_rate), c0)


def int8_job(rng, k):
    a = rng.integers(-128, 128, k)
    b = rng.integers(-128, 128, k)
    a16 = (a & 0xFFFF).astype(np.int64)
    # sometimes garbage in the high byte, which the unit must ignore
    a16 = np.where(rng.random(k) < 0.2, (a & 0xFF) | (rng.integers(0, 256, k) << 8), a16)
    b16 = (b & 0xFFFF).astype(np.int64)
    c0 = [None, int(rng.integers(0, 1 << 32)), 0x7FFFFF00, 0x80000010][rng.integers(0, 4)]
    return Job(MacMode.INT8, a16.tolist(), b16.tolist(), c0)


HAND_JOBS = [
    # bf16: x - x from a cleared accumulator is +0; -0 products onto -0 stay -0
    Job(MacMode.BF16, [0x3F80, 0xBF80], [0x4040, 0x4040]),
    Job(MacMode.BF16, [0x8000], [0x3F80], 0x80000000),
    Job(MacMode.BF16, [0x8000], [0x3F80]),                            # +0 + -0 = +0
    Job(MacMode.BF16, [0x7F80, 0xFF80, 0x3F80], [0x3F80, 0x3F80, 0x3F80]),  # inf - inf: NaN
    Job(MacMode.BF16, [0x7F80, 0x3F80], [0x0001, 0x3F80]),            # inf x subnormal: NaN
    Job(MacMode.BF16, [0x5F80, 0x3F80], [0x5F80, 0x3F80]),            # overflow, then inf + 1
    Job(MacMode.BF16, [0x3F80, 0x3F80], [0x3F80, 0x3F80], 0x4B800000),  # 2^24 + 1 + 1 (ties)
    Job(MacMode.BF16, [], [], 0x00000123),                            # K = 0 keeps C0 raw
    Job(MacMode.BF16, [0x3F80], [0x0000], 0x00000123),                # subnormal C0 + 0 = +0
    Job(MacMode.BF16, [0x0080], [0x3F00], 0x7FC12345),                # NaN C0: canonical
    # int8: wrap-around both ways, and (-128) x (-128)
    Job(MacMode.INT8, [0xFF80] * 200, [0xFF80] * 200, 0x7FFF0000),
    Job(MacMode.INT8, [0x007F] * 3, [0xFF80] * 3, 0x80000001),
    Job(MacMode.INT8, [], [], 0xDEADBEEF),
]


CONFIGS = [(0, 1), (1, 1), (0, 2), (1, 3)]
CONFIG_IDS = [f"mul{m}-add{a}" for m, a in CONFIGS]


@pytest.mark.parametrize("mul_stages,adder_stages", CONFIGS, ids=CONFIG_IDS)
def test_hand_jobs(mul_stages, adder_stages):
    rng = np.random.default_rng(30)
    got = check(MacUnit(mul_stages=mul_stages, adder_stages=adder_stages), HAND_JOBS, rng,
                bubble_rate=0.3)
    assert got[0] == 0 and got[1] == 0x80000000 and got[3] == golden.CANONICAL_NAN
    assert got[6] == 0x4B800000 and got[7] == 0x00000123


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("mul_stages,adder_stages", CONFIGS, ids=CONFIG_IDS)
def test_random_dot_products(mul_stages, adder_stages):
    rng = np.random.default_rng(40 + 2 * mul_stages + adder_stages)
    jobs = []
    for _ in range(120):
        k = int(rng.integers(0, 48))
        jobs.append(bf16_job(rng, k) if rng.random() < 0.6 else int8_job(rng, k))
    check(MacUnit(mul_stages=mul_stages, adder_stages=adder_stages), jobs, rng)


def test_back_to_back_gemm_bf16():
    """A 4 x 4 x 32 GEMM, one element after the other without bubbles, vs golden.gemm_bf16."""
    rng = np.random.default_rng(50)
    m, k, n = 4, 32, 4
    a = np.array(bf16_values(rng, m * k, 0.0), np.uint16).reshape(m, k)
    b = np.array(bf16_values(rng, k * n, 0.0), np.uint16).reshape(k, n)
    c0 = golden.float_to_f32_bits(rng.standard_normal((m, n)).astype(np.float32))
    jobs = [Job(MacMode.BF16, a[i, :].tolist(), b[:, j].tolist(), int(c0[i, j]))
            for i in range(m) for j in range(n)]
    got = check(MacUnit(mul_stages=1), jobs, rng, bubble_rate=0.0)
    assert len(jobs) * k == len(schedule(jobs, rng, 0.0)[0])      # one product per cycle
    assert np.array_equal(np.array(got, np.uint32).reshape(m, n), golden.gemm_bf16(a, b, c0))


def test_interleaved_gemm_bf16():
    """adder_stages=3: three columns of C interleaved cycle by cycle, no bubbles."""
    rng = np.random.default_rng(51)
    m, k, n = 2, 24, 3
    a = np.array(bf16_values(rng, m * k, 0.0), np.uint16).reshape(m, k)
    b = np.array(bf16_values(rng, k * n, 0.0), np.uint16).reshape(k, n)
    jobs = [Job(MacMode.BF16, a[i, :].tolist(), b[:, j].tolist()) for i in range(m) for j in range(n)]
    dut = MacUnit(adder_stages=3)
    assert len(schedule(jobs, rng, 0.0, dut.slots)[0]) == m * k * n   # one product per cycle
    got = check(dut, jobs, rng, bubble_rate=0.0)
    assert np.array_equal(np.array(got, np.uint32).reshape(m, n), golden.gemm_bf16(a, b))


@pytest.mark.parametrize("mul_stages,adder_stages", [(0, 1), (1, 2)], ids=["mul0-add1", "mul1-add2"])
def test_load_wins_over_clear(mul_stages, adder_stages):
    dut = MacUnit(mul_stages=mul_stages, adder_stages=adder_stages)
    one = {**IDLE, "mode": MacMode.BF16, "a": 0x3F80, "b": 0x4000, "enable": 1}   # 1 x 2
    steps = [{**one, "load": 1, "clear": 1, "c_in": 0x40400000}]                 # 3 + 2
    steps += [IDLE] * (adder_stages - 1) + [{**one, "clear": 1}]                   # 0 + 2
    observed = run(dut, steps)
    assert observed[dut.latency - 1] == 0x40A00000
    assert observed[len(steps) + dut.latency - 2] == 0x40000000


def test_latency_and_validation():
    bad_args = [({"mul_stages": b}, rf"mul_stages must be 0 or 1, not {b!r}") for b in (2, True, -1)]
    bad_args += [({"adder_stages": b}, rf"adder_stages must be an integer in 1\.\.3, not {b!r}")
                 for b in (0, 4, False)]
    with warnings.catch_warnings():            # the units below are never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        assert (MacUnit().latency, MacUnit().slots) == (1, 1)
        assert MacUnit(mul_stages=1).latency == 2
        assert (MacUnit(mul_stages=1, adder_stages=3).latency, MacUnit(adder_stages=3).slots) == (4, 3)
        for kwargs, match in bad_args:
            with pytest.raises(ValueError, match=match):
                MacUnit(**kwargs)
        gc.collect()


@pytest.mark.parametrize("mul_stages,adder_stages", CONFIGS, ids=CONFIG_IDS)
def test_verilog(mul_stages, adder_stages):
    text = verilog.convert(MacUnit(mul_stages=mul_stages, adder_stages=adder_stages),
                           emit_src=False)
    assert "module top" in text and "posedge clk" in text
