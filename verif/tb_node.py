"""cocotb: compute nodes driven only through the network, as a neighbouring router would.

The design is a row of compute nodes (``gen.node_build.compute_node_design``):
node ``i`` at ``(1 + i, 0)``, the first node's west port exposed. The
testbench is the host at ``(0, 0)``: it drives ``in_west`` with a
credit-honouring :class:`~verif.link.LinkDriver` (requests on the request VC)
and receives everything on ``out_west`` with a :class:`~verif.link.LinkMonitor`
(responses come back west by XY routing). Packets are built and decoded by
:class:`verif.node_model.NodeModel`, from the RTL layouts; numerics by
:mod:`verif.golden`.

Tests: ``write_read``, ``add_sequences``, ``push_between_nodes``,
``exec_random_gemms``, ``malformed``, and ``gemm`` (one GEMM from the
scenario, for :func:`sim.gemm.run_gemm`; it does nothing without a ``gemm``
entry in the scenario).
"""

import random

import cocotb
import numpy as np

from rtl.net.packet import Opcode
from verif import golden
from verif.host import Host
from verif.link import LinkBench
from verif.node_model import Dtype, NodeModel
from verif.tb_common import scenario, start_clock_and_reset, write_result


class NodeTB:
    """Clock, reset and the host (:class:`verif.host.Host`) on the row's west port.

    Operations (``store``, ``read``, ``regs``, ``reg``, ``push``, ``gemm``, ``send``)
    are the host's.
    """

    def __init__(self, dut, *, idle=0.0, stall=0.0, seed=0):
        self.dut = dut
        self.sc = scenario()
        man = self.sc["manifest"]
        self.model = NodeModel.from_manifest(man)
        self.host = tuple(man["host"])
        self.nodes = [tuple(c) for c in man["nodes"]]
        n = man["node"]
        self.rng = random.Random(seed)
        self.bench = LinkBench(dut.clk)
        self.hm = Host(dut, self.bench, self.model, address=self.host, inp="in_west",
                       out="out_west", vcs=n["vcs"], depth=n["buffer_depth"], idle=idle,
                       stall=stall, rng=self.rng)
        for op in ("store", "read", "regs", "reg", "push", "gemm", "send"):
            setattr(self, op, getattr(self.hm, op))

    async def start(self):
        await start_clock_and_reset(self.dut)
        cocotb.start_soon(self.bench.run())

    def problems(self):
        out = self.bench.problems() + self.hm.problems()
        if int(self.dut.overflow.value):
            out.append("overflow flag set")
        return out


def _operands(rng, m, n, k, dtype):
    if dtype == "bf16":
        a = golden.interesting_bf16(rng, m * k).reshape(m, k) if rng.random() < 0.3 else \
            (rng.integers(0x3C00, 0x4100, (m, k)) | (rng.integers(0, 2, (m, k)) << 15)).astype(
                np.uint16)
        b = (rng.integers(0x3C00, 0x4100, (k, n)) | (rng.integers(0, 2, (k, n)) << 15)).astype(
            np.uint16)
        c0 = golden.interesting_fp32(rng, m * n).reshape(m, n)
    else:
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        c0 = rng.integers(0, 2**32, (m, n), dtype=np.uint64).astype(np.uint32)
    return a, b, c0


def _suite(sc):
    return "gemm" not in sc


@cocotb.test()
async def write_read(dut):
    """WRITE then READ round trips to both nodes, random idles and credit stalls."""
    tb = NodeTB(dut, idle=0.2, stall=0.3, seed=1)
    if not _suite(tb.sc):
        return
    await tb.start()
    rng = random.Random(2)
    W = tb.model.width
    written = {}
    for node in tb.nodes:
        for _ in range(4):
            addr = rng.randrange(tb.model.lines - 24)
            data = [rng.getrandbits(W) for _ in range(rng.randint(1, 20))]
            await tb.store(node, addr, data)
            for i, v in enumerate(data):
                written[node, addr + i] = v
    checked = 0
    for node in tb.nodes:
        addrs = sorted(a for (n, a) in written if n == node)
        lo, hi = addrs[0], addrs[-1]
        got = await tb.read(node, lo, hi - lo + 1)
        for i, v in enumerate(got):
            if (node, lo + i) in written:
                assert v == written[node, lo + i], f"node {node} line {lo + i}"
                checked += 1
    problems = tb.problems()
    write_result("write_read", {"lines_checked": checked, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def add_sequences(dut):
    """ADD packets (int32 and fp32 lanes), many to the same lines back to back."""
    tb = NodeTB(dut, idle=0.0, stall=0.1, seed=3)
    if not _suite(tb.sc):
        return
    await tb.start()
    rng = random.Random(4)
    nrng = np.random.default_rng(4)
    mdl = tb.model
    lanes = mdl.width // 32
    node = tb.nodes[-1]
    results = {}
    for dtype, base in ((Dtype.INT32, 100), (Dtype.FP32, 140)):
        def line():
            if dtype == Dtype.FP32:
                return mdl.pack_elements(golden.interesting_fp32(nrng, lanes).tolist(), 32)[0]
            return rng.getrandbits(mdl.width)
        ref = [line() for _ in range(16)]
        await tb.store(node, base, ref)
        for _ in range(30):
            addr = base + rng.randrange(16)
            n = rng.randint(1, min(9, base + 16 - addr))
            vals = [line() for _ in range(n)]
            await tb.store(node, addr, vals, add=True, dtype=dtype, wait=False)
            for i, v in enumerate(vals):
                ref[addr - base + i] = mdl.add_lines(ref[addr - base + i], v, dtype)
        got = await tb.read(node, base, 16)
        results[dtype.name] = sum(g == r for g, r in zip(got, ref))
        assert got == ref, f"{dtype.name}: ADD mismatch"
    problems = tb.problems()
    write_result("add_sequences", {"lines_matched": results, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def push_between_nodes(dut):
    """PUSH a block from the first node to the last as WRITE, then as fp32 ADD with a
    completion counter the host polls."""
    tb = NodeTB(dut, seed=5)
    if not _suite(tb.sc):
        return
    await tb.start()
    mdl = tb.model
    src, dst = tb.nodes[0], tb.nodes[-1]
    rng = np.random.default_rng(6)
    count = 2 * (mdl.max_len - 1) + 3           # three packets
    lanes = mdl.width // 32
    block = mdl.pack_elements(golden.interesting_fp32(rng, count * lanes).tolist(), 32)
    await tb.store(src, 200, block)
    sem0 = await tb.reg(dst, "sem2")
    await tb.push(src, src_addr=200, count=count, to=dst, dst_addr=300)
    await tb.push(src, src_addr=200, count=count, to=dst, dst_addr=300, add=True,
                  dtype=Dtype.FP32, sem=2)
    polls = 0
    while await tb.reg(dst, "sem2") != sem0 + 1:
        polls += 1
        assert polls < 100, "remote completion counter never incremented"
    got = await tb.read(dst, 300, count)
    expected = [mdl.add_lines(v, v, Dtype.FP32) for v in block]
    assert got == expected, "pushed block differs"
    problems = tb.problems()
    write_result("push_between_nodes", {"lines": count, "polls": polls, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def exec_random_gemms(dut):
    """Random GEMM shapes in both modes, with and without C0, bit for bit."""
    tb = NodeTB(dut, seed=7)
    if not _suite(tb.sc):
        return
    await tb.start()
    p = tb.model.p
    rng = np.random.default_rng(tb.sc.get("params", {}).get("seed", 8))
    runs = []
    for i in range(tb.sc.get("params", {}).get("gemms", 6)):
        dtype = ("bf16", "int8")[i % 2]
        accumulate = bool(i // 2 % 2)
        while True:
            m, n, k = (int(x) * p for x in rng.integers(1, 4, 3))
            k *= 2
            try:
                tb.model.gemm_layout(m=m, n=n, k=k, dtype=dtype)
                break
            except ValueError:
                continue
        a, b, c0 = _operands(rng, m, n, k, dtype)
        node = tb.nodes[i % len(tb.nodes)]
        c, cycles, steps = await tb.gemm(node, a, b, c0, dtype, accumulate=accumulate)
        expected = NodeModel.golden(a, b, c0 if accumulate else None, dtype)
        ok = bool(np.array_equal(c, expected))
        runs.append({"m": m, "n": n, "k": k, "dtype": dtype, "accumulate": accumulate,
                     "cycles": cycles, "steps": steps, "match": ok})
        assert ok, f"GEMM {m}x{n}x{k} {dtype} acc={accumulate}: " \
                   f"{np.argwhere(c != expected)[:3].tolist()}"
        assert steps == (m // p) * (n // p) * k
    problems = tb.problems()
    write_result("exec_random_gemms", {"runs": runs, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def malformed(dut):
    """Malformed requests are dropped whole and counted; SRAM and the port survive."""
    tb = NodeTB(dut, seed=9)
    if not _suite(tb.sc):
        return
    await tb.start()
    mdl = tb.model
    node = tb.nodes[0]
    rng = random.Random(10)
    W = mdl.width
    good = [rng.getrandbits(W) for _ in range(6)]
    await tb.store(node, 10, good)
    errors0 = await tb.reg(node, "errors")
    src = tb.host
    bad = [
        [mdl.head(dst=node, src=src, opcode=Opcode.TRAFFIC, length=2, info=0), 1],
        [mdl.head(dst=node, src=src, opcode=Opcode.DONE, length=1, info=0)],
        mdl.store(dst=node, src=src, addr=mdl.lines - 2, data=[1, 2, 3])[0],
        mdl.store(dst=node, src=src, addr=10, data=[5] * 6)[0][:4],          # short
        mdl.store(dst=node, src=src, addr=10, data=[5] * 2)[0] + [6, 7],     # long
        mdl.read(dst=node, src=src, addr=10, count=mdl.max_len)[0:1],        # too many
        mdl.exec(dst=node, src=src, m=4, n=4, k=4, dtype="bf16", a_addr=mdl.lines - 1,
                 b_addr=0, c_addr=0, ack=False),                             # A past the end
    ]
    for p in bad:
        tb.send([p])
    errors = await tb.reg(node, "errors")
    assert errors - errors0 == len(bad), f"{errors - errors0} errors for {len(bad)} packets"
    assert await tb.read(node, 10, 6) == good, "SRAM corrupted"
    problems = tb.problems()
    write_result("malformed", {"dropped": errors - errors0, "problems": problems})
    assert not problems, problems


@cocotb.test()
async def gemm(dut):
    """One GEMM from the scenario (``gemm``: m, n, k, dtype, a, b as bit patterns)."""
    sc = scenario()
    if "gemm" not in sc:
        return
    g = sc["gemm"]
    tb = NodeTB(dut)
    await tb.start()
    m, n, k, dtype = g["m"], g["n"], g["k"], g["dtype"]
    a, b = NodeModel.gemm_operands(g)
    start = tb.bench.cycle
    c, cycles, steps = await tb.gemm(tb.nodes[0], a, b, None, dtype, accumulate=False)
    total = tb.bench.cycle - start
    expected = NodeModel.golden(a, b, None, dtype)
    write_result("gemm", {"c": c.astype(np.uint32).tolist(), "exec_cycles": cycles,
                          "steps": steps, "total_cycles": total,
                          "match": bool(np.array_equal(c, expected)),
                          "problems": tb.problems()})
