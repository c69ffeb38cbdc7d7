# amaranth: UnusedElaboratable=no
"""The fast model of the matrix engine (sim.netmodel.node.engine) against its RTL block.

Random GEMM descriptors (both modes, with and without accumulate, some the engine refuses),
started at random; an SRAM around it whose lines hold bf16 patterns weighted to the cases
of the numerical contract (subnormals, overflow, NaN) and values near one, the engine's
own writes included; read and write ports that grant at random, so the engine stalls, its
C prefetch is cut short and its write-back waits. Every output, the written lines
included, compared every cycle.
"""

import numpy as np
import pytest

from rtl.net.packet import PacketFormat
from rtl.node.engine import MatrixEngine
from rtl.node.layouts import NodeLayouts
from rtl.node.mac import MacMode
from sim.netmodel.node.engine import EXEC_FIELDS, INPUTS, OUTPUTS, MatrixEngines
from sim.netmodel.node.sram import int_to_words
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from verif.golden import interesting_bf16

pytestmark = one_worker("engine")

LINES = 256
#: (P, cycles): P = 4 on 64-bit lines has 8-line C tiles (prefetch, partial C0 reloads);
#: P = 2 has 2 steps per bf16 line and 4 per int8 line
CONFIGS = [(4, 1500), (2, 1500)]
PORTS = ("rd_a", "rd_b", "rd_c")


def random_line(rng):
    """64 bits of bf16 patterns: the contract's corner cases, or values near one."""
    near_one = (rng.integers(0, 2, 4) << 15) | (rng.integers(122, 133, 4) << 7) \
        | rng.integers(0, 128, 4)
    values = np.where(rng.random(4) < 0.3, interesting_bf16(rng, 4), near_one)
    return sum(int(v) << (16 * i) for i, v in enumerate(values))


def random_desc(rng, p):
    tiles = lambda: int(rng.choice([0, 1, 1, 2, 2, 3])) if rng.random() < 0.1 else \
        int(rng.integers(1, 4))
    return dict(mode=int(rng.integers(2)), accumulate=int(rng.random() < 0.6),
                m_tiles=tiles(), n_tiles=tiles(), k_tiles=tiles(),
                a_addr=int(rng.integers(LINES - 40)), b_addr=int(rng.integers(LINES - 40)),
                c_addr=int(rng.integers(LINES - 60)))


def lockstep(p, cycles, *, mutant="none", seed=1):
    """Run RTL and model (node 0 of two; node 1 stays idle) on the same stimulus."""
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES)
    dut = MatrixEngine(layouts=lay, p=p)
    model = MatrixEngines(nodes=2, layouts=lay, p=p, mutant=mutant)
    rng = np.random.default_rng(seed)
    mem = [random_line(rng) for _ in range(LINES)]
    data = {port: 0 for port in PORTS}
    execs = 0

    async def bench(ctx):
        nonlocal execs
        desc = random_desc(rng, p)
        for t in range(cycles):
            if rng.random() < 0.05:
                desc = random_desc(rng, p)
            start = int(rng.random() < 0.15)
            ctx.set(dut.desc.as_value(), lay.encode("exec_desc", **desc))
            ctx.set(dut.start, start)
            for name, value in desc.items():
                model.desc[0, EXEC_FIELDS.index(name)] = value
            model.inputs[0, INPUTS["start"]] = start
            for port in PORTS:
                ctx.set(getattr(dut, port).data, data[port])
                getattr(model, port)[0] = int_to_words(data[port], 1)
            model.outputs_of_cycle()
            out = {name: ctx.get(getattr(dut, name)) for name in
                   ("desc_ok", "busy", "done", "cycles", "steps")}
            for port in PORTS + ("wr",):
                out[f"{port}_en"] = ctx.get(getattr(dut, port).en)
                out[f"{port}_addr"] = ctx.get(getattr(dut, port).addr)
            wr_data = ctx.get(dut.wr.data)
            compare(t, [(name, value, model.outputs[0, OUTPUTS[name]])
                        for name, value in out.items()]
                    + [("wr_data", wr_data, int(model.wr_line[0, 0]))])
            execs += bool(out["done"])
            grants = {}
            for port, chance in (("rd_a", 0.8), ("rd_b", 0.8), ("rd_c", 0.6), ("wr", 0.8)):
                grants[port] = int(out[f"{port}_en"] and rng.random() < chance)
                ctx.set(getattr(dut, port).grant, grants[port])
                model.inputs[0, INPUTS[f"{port}_grant"]] = grants[port]
            model.clock()
            await ctx.tick()
            if grants["wr"]:                  # written first: the read ports are transparent
                mem[out["wr_addr"]] = wr_data
            for port in PORTS:
                if grants[port]:
                    data[port] = mem[out[f"{port}_addr"]]

    simulate(dut, bench)
    return execs


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("p, cycles", CONFIGS, ids=lambda v: str(v))
def test_the_model_matches_the_rtl_every_cycle(p, cycles):
    assert lockstep(p, cycles) >= 5          # whole EXECs compared, not only their starts


@pytest.mark.parametrize("mutant", ["skips_c_prefetch", "int8_unsigned",
                                    "nan_sum_not_canonical"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(4, 1500, mutant=mutant)


def run_exec(engine, mem, desc, rng):
    """One EXEC on node 0 of ``engine`` over the SRAM ``mem`` (lines x words), ports that
    grant at random (``rng``); returns the cycle of its ``done``."""
    for name, value in desc.items():
        engine.desc[0, EXEC_FIELDS.index(name)] = value
    engine.inputs[0, INPUTS["start"]] = 1
    for t in range(100_000):
        engine.outputs_of_cycle()
        out = engine.outputs[0]
        if out[OUTPUTS["done"]]:
            return t
        for port in PORTS + ("wr",):
            engine.inputs[0, INPUTS[f"{port}_grant"]] = out[OUTPUTS[f"{port}_en"]] \
                and rng.random() < 0.8
        engine.clock()
        engine.inputs[0, INPUTS["start"]] = 0
        if engine.inputs[0, INPUTS["wr_grant"]] and engine.data:
            mem[out[OUTPUTS["wr_addr"]]] = engine.wr_line[0]
        for port in PORTS:
            if engine.inputs[0, INPUTS[f"{port}_grant"]] and engine.data:
                getattr(engine, port)[0] = mem[out[OUTPUTS[f"{port}_addr"]]]
    raise AssertionError("the EXEC did not finish")


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_a_gemm_on_the_model_equals_the_golden_model(dtype):
    """C0 + A x B (8 x 12 x 16, C0 accumulated) through the model's SRAM layout, bit-exact
    with verif.golden; a timing-only engine finishes in the same cycle."""
    from verif.node_model import NodeModel
    p, m, n, k = 4, 8, 12, 16
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES)
    node = NodeModel(fmt=lay.fmt, lines=LINES, vcs=2, max_packet_flits=4, matrix_p=p)
    rng = np.random.default_rng(3)
    if dtype == "bf16":
        a = np.where(rng.random((m, k)) < 0.2, interesting_bf16(rng, m * k).reshape(m, k),
                     (rng.integers(120, 135, (m, k)) << 7) | rng.integers(0, 1 << 7, (m, k)))
        b = interesting_bf16(rng, k * n).reshape(k, n)
        c0 = rng.integers(0, 1 << 32, (m, n), dtype=np.uint64).astype(np.uint32)
    else:
        a, b = (rng.integers(-128, 128, shape).astype(np.int8) for shape in ((m, k), (k, n)))
        c0 = rng.integers(0, 1 << 32, (m, n), dtype=np.uint64).astype(np.uint32)
    where = node.gemm_layout(m=m, n=n, k=k, dtype=dtype)
    mem = np.zeros((LINES, 1), np.uint64)
    for addr, lines in ((where["a"], node.pack_a(a, dtype)), (where["b"], node.pack_b(b, dtype)),
                        (where["c"], node.pack_c(c0))):
        mem[addr:addr + len(lines), 0] = lines
    desc = dict(mode=MacMode.BF16.value if dtype == "bf16" else MacMode.INT8.value,
                accumulate=1, m_tiles=m // p, n_tiles=n // p, k_tiles=k // p,
                a_addr=where["a"], b_addr=where["b"], c_addr=where["c"])
    done = run_exec(MatrixEngines(nodes=1, layouts=lay, p=p), mem, desc,
                    np.random.default_rng(4))
    c = node.unpack_c([int(x) for x in mem[where["c"]:where["end"], 0]], m, n)
    assert (c == node.golden(a, b, c0, dtype)).all()
    timing = MatrixEngines(nodes=1, layouts=lay, p=p, data=False)
    assert run_exec(timing, mem.copy(), desc, np.random.default_rng(4)) == done
