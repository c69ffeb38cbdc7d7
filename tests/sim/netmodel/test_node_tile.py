# amaranth: UnusedElaboratable=no
"""The node kernel on the default compute tile (2x2 dies of 2x2 training nodes, die links
of ratio 2) against the RTL under Verilator, running node programs.

Both engines run the same :func:`verif.host_programs.programs` steps of the same hosts
(the RTL's :class:`verif.host.Host` under cocotb; the fast engine's,
:mod:`sim.netmodel.host`, on the kernel's rings): data and command programs loaded, every
node started, every DONE awaited, every line of every node's SRAM and every register
(semaphores, status, the command queues' status, the event counters) read back, the
counters read. Workloads (:data:`WORKLOADS`): the node-driven ring all-reduce of
:mod:`sim.collectives`, Cannon's GEMM of :mod:`sim.cannon`, and a run in which a node's
NI returns two credits in one cycle (the node kernel's path for the second one).

Compared: every mesh link register of :func:`verif.tb_tile_trace.tile_links` (flit and
credit, router to router, router to DieLink and back, host to router and back) in every
cycle; the cycle of every DONE; every SRAM line and register of every node (from the
read-back); what the workload runner reports (cycles, halts, counters). The RTL run is one
Verilator build (the die module's wires public) and one run per workload and worker,
shared by the deliberately wrong models, which must fail with the first differing cycle
and link.
"""

import functools

import numpy as np
import pytest

from gen.build import network_design
from gen.config import load_config
from gen.derive import derive
from sim.cannon import cannon_plan
from sim.collectives import collective_plan
from sim.netmodel import kernel
from sim.netmodel.host import tile_model
from sim.netmodel.nodekernel import N_DOUBLES
from sim.runner import available_simulators, run_cocotb
from sim.workloads.runners import program_scenario
from rtl.net.directions import PORTS
from tests.sim.netmodel.lockstep import one_worker
from verif.host import host_ports
from verif.host_programs import programs
from verif.node_model import NodeModel
from verif.tb_tile_trace import TILE_TRACE_SIGNALS, tile_links

# the worker of test_node_kernel's group: both compile the node kernel (numba's cache is not
# safe against two processes compiling it at once); the traced tile build is this file's
pytestmark = [pytest.mark.slow, one_worker("core"),
              pytest.mark.skipif("verilator" not in available_simulators(),
                                 reason="needs Verilator")]

#: cycles the run must end within (the read-back of every line included)
CYCLES = 20000


#: the harvest map of the harvested workloads: two nodes' compute fused off (their routers
#: forward), in two dies, neither at a host port
HARVEST = ("tile.fault_maps=[{die: [1, 0], disabled_nodes: [[0, 1]]}, "
           "{die: [0, 1], disabled_nodes: [[1, 0]]}]",)


def _setup(overrides=()):
    cfg = load_config("configs/default.yaml", list(overrides))
    return cfg, derive(cfg)


def _read_everything(mdl, nodes):
    """Every SRAM line, then every register, of every node in ``nodes``."""
    regs = mdl.lay.registers
    return [[list(n), 0, mdl.lines] for n in nodes] + \
        [[list(n), mdl.reg_addr(regs[0]), len(regs)] for n in nodes]


@functools.lru_cache(maxsize=None)
def ring_allreduce(overrides=(), lines=32):
    """The node-driven ring all-reduce of :mod:`sim.collectives` (32 int32 lines per node),
    then every node's SRAM and registers read back."""
    cfg, d = _setup(overrides)
    plan = collective_plan(cfg, "ring", lines=lines, dtype="int32", seed=3, derived=d)
    mdl, man = plan["model"], plan["design"].manifest()
    pr = program_scenario(mdl, plan["programs"], plan["data"],
                          _read_everything(mdl, man["nodes"]))
    return cfg, d, plan["design"], mdl, pr, plan


@functools.lru_cache(maxsize=None)
def broadcast(overrides=()):
    """The node-driven broadcast of :mod:`sim.collectives` (32 int32 lines from the first
    node down a binary tree: most nodes wait for their vector most of the run), then every
    node's SRAM and registers read back."""
    cfg, d = _setup(overrides)
    plan = collective_plan(cfg, "broadcast", lines=32, dtype="int32", seed=4, derived=d)
    mdl, man = plan["model"], plan["design"].manifest()
    pr = program_scenario(mdl, plan["programs"], plan["data"],
                          _read_everything(mdl, man["nodes"]))
    return cfg, d, plan["design"], mdl, pr, plan


@functools.lru_cache(maxsize=None)
def ring_harvested():
    """:func:`ring_allreduce` on the 14 live nodes of :data:`HARVEST` (28 lines: the ring
    takes a multiple of its length; it steps over the disabled nodes in two hops); every
    node read back, the disabled ones too (their cores answer: the RTL keeps the whole
    node)."""
    return ring_allreduce(HARVEST, 28)


@functools.lru_cache(maxsize=None)
def broadcast_harvested():
    """:func:`broadcast` on the live nodes of :data:`HARVEST`, every node read back."""
    return broadcast(HARVEST)


#: where :func:`double_credits` runs: ``PULLED`` answers ``PULLER``'s PULLs (responses into
#: the puller on the response VC) while ``PUSHERS`` PUSH to it (requests on the request VC)
PULLER, PULLED, PUSHERS = (1, 1), (2, 1), ((0, 1), (1, 0))


@functools.lru_cache(maxsize=None)
def double_credits(reps=12):
    """A node whose NI returns two credits in one cycle: its PULLs' answers and two
    neighbours' PUSHes land in one SRAM bank (lines 64 and 128 of bank 0), so one VC's
    queue backs up and its credits, held back, are released in cycles in which the other
    VC's flits arrive."""
    cfg, d = _setup()
    design = network_design(cfg, kind="compute", top="tile", boundary="ports", derived=d)
    mdl = NodeModel.from_manifest(design.manifest())
    progs = {PULLER: [mdl.cmd_loop(reps, 1),
                      mdl.cmd_pull(src=PULLED, src_addr=0, count=7, dst_addr=64, sem=1),
                      mdl.cmd_wait(1, reps), mdl.cmd_halt(0)]}
    data = {PULLED: (0, [0x1111 * (i + 1) for i in range(7)])}
    for k, node in enumerate(PUSHERS):
        progs[node] = [mdl.cmd_loop(reps, 1),
                       mdl.cmd_push(src_addr=0, count=7, to=PULLER, dst_addr=128, sem=2),
                       mdl.cmd_halt(0)]
        data[node] = (0, [(k + 1) << 32 | i for i in range(7)])
    pr = program_scenario(mdl, progs, data,
                          _read_everything(mdl, design.manifest()["nodes"]))
    return cfg, d, design, mdl, pr, None


@functools.lru_cache(maxsize=None)
def cannon():
    """Cannon's GEMM of :mod:`sim.cannon` (32 x 32 x 32 bf16: an 8 x 8 x 8 block per node,
    both command queues, EXECs with C prefetched), then every node's SRAM and registers."""
    cfg, d = _setup()
    plan = cannon_plan(cfg, m=32, n=32, k=32, dtype="bf16", seed=5, derived=d)
    mdl, man = plan["model"], plan["design"].manifest()
    pr = program_scenario(mdl, plan["programs"], plan["data"],
                          _read_everything(mdl, man["nodes"]))
    return cfg, d, plan["design"], mdl, pr, plan


WORKLOADS = {"ring_allreduce": ring_allreduce, "double_credits": double_credits,
             "cannon": cannon, "broadcast": broadcast, "ring_harvested": ring_harvested,
             "broadcast_harvested": broadcast_harvested}
_RTL = {}


def rtl_run(workload):
    """The RTL's result of a workload (once per worker: the mutants compare with it)."""
    if workload not in _RTL:
        cfg, d, design, mdl, pr, _ = WORKLOADS[workload]()
        _RTL[workload] = run_cocotb(design, sim="verilator", test_module="verif.tb_tile_trace",
                                    testcase="programs_traced", tag=f"node-tile-{workload}",
                                    public_signals=TILE_TRACE_SIGNALS,
                                    scenario={"programs": pr})["programs"]
    return _RTL[workload]


class ModelTrace:
    """The model's registers of :func:`tile_links`, recorded every cycle from the rings
    (the RTL tracer's format)."""

    def __init__(self, net, links):
        geo = dict(zip(kernel.Geometry._fields, net.geometry))
        self.net, self.trace = net, {}
        self.ring = net.state[kernel.ST_RING].reshape(-1, 3)
        self.cring = net.state[kernel.ST_CRING].reshape(-1, 2)
        flits, credits = [], []
        for name, (x, y), port, kind, _ in links:
            n, p = net.node(x, y), PORTS.index(port)
            ring = {"in": 6 * n + p, "out": int(geo["out_ring"][5 * n + p]),
                    "in.credit": int(geo["in_cring"][5 * n + p]),
                    "out.credit": 6 * n + p}[kind]
            self.trace[name] = []
            (credits if kind.endswith("credit") else flits).append((ring, self.trace[name]))
        self.flit_rings = np.array([r for r, _ in flits]) * net.slots
        self.credit_rings = np.array([r for r, _ in credits]) * net.slots
        self.flit_entries = [e for _, e in flits]
        self.credit_entries = [e for _, e in credits]

    def flit_data(self, w0, w1):
        """A ring entry's flit (``w1``: flits of at most 64 bits)."""
        return w1 & ((1 << 64) - 1)

    def __call__(self, c):
        slot = c & (self.net.slots - 1)
        k = self.flit_rings + slot
        for i in np.flatnonzero(self.ring[k, 0] == c):
            _, w0, w1 = (int(v) for v in self.ring[k[i]])
            self.flit_entries[i].append([c, (w0 >> 58) & 7, (w0 >> 57) & 1,
                                         self.flit_data(w0, w1)])
        k = self.credit_rings + slot
        for i in np.flatnonzero(self.cring[k, 0] == c):
            self.credit_entries[i].append([c, 1 << int(self.cring[k[i], 1])])


def model_run(workload, *, cycles=CYCLES, **mutants):
    """The node kernel and the host models (:func:`sim.netmodel.host.tile_model`) on a
    workload of :data:`WORKLOADS`; a run that has not ended within ``cycles`` cycles (a
    wrong model may deadlock) returns what it traced, ``end`` the cycle it stopped at and
    ``reads`` None."""
    cfg, d, design, mdl, pr, plan = WORKLOADS[workload]()
    tile = tile_model(design, cfg, d, **mutants)
    return {**watched_run(tile, design, pr, cycles),
            "doubles": tile.nodes_kernel.ns[:, N_DOUBLES].copy(), "net": tile.net,
            "kernel": tile.nodes_kernel, "plan": plan, "pr": pr}


def watched_run(tile, design, pr, cycles, trace_type=ModelTrace):
    """The node programs ``pr`` run on the model's ``tile`` of ``design`` with every link
    traced (``trace_type``) for at most ``cycles`` cycles: the run's result (``reads``
    None if it had not ended), ``end``, ``trace``, ``halt_log`` and ``problems``."""
    tile.watch = trace = trace_type(tile.net, tile_links(design.manifest()))
    try:
        result = tile.run(programs(tile, pr), cycles=cycles)
    except TimeoutError:
        result = {"reads": None}
    return {**result, "end": tile.cycle, "trace": trace.trace,
            "halt_log": [[list(node), q, tag, c] for h in tile.hosts
                         for node, q, tag, c in h.halt_log],
            "problems": tile.problems()}


def first_difference(rtl, model, end, view=list):
    """``(cycle, link, RTL entry, model entry)`` of the earliest difference of two traces
    over cycles before ``end``, each link's entries seen through ``view`` (a list of
    entries -> the list compared), or None."""
    best = None
    for name in rtl:
        a = view([e for e in rtl[name] if e[0] < end])
        b = view([e for e in model[name] if e[0] < end])
        for i in range(max(len(a), len(b))):
            ea = a[i] if i < len(a) else None
            eb = b[i] if i < len(b) else None
            if ea != eb:
                c = min(e[0] for e in (ea, eb) if e is not None)
                if best is None or c < best[0]:
                    best = (c, name, ea if ea and ea[0] == c else None,
                            eb if eb and eb[0] == c else None)
                break
    return best


def _show(entry):
    if entry is None:
        return "nothing"
    if len(entry) == 2:
        return f"credit {entry[1]:#b}"
    return f"flit vc {entry[1]} last {entry[2]} data {entry[3]:#x}"


def check_end(rtl, mine):
    """Raise if the runs ended apart: the model's not at all or in another cycle, or a
    DONE (node, queue) in another cycle or with another tag."""
    if mine["reads"] is None:
        raise AssertionError(f"the model's run had not ended at cycle {mine['end']}, the "
                             f"RTL's ended at {rtl['end']}")
    if rtl["end"] != mine["end"]:
        raise AssertionError(f"the read-back ended in cycle {rtl['end']} (RTL), "
                             f"{mine['end']} (model)")
    done = {(tuple(n), q): (tag, c) for n, q, tag, c in rtl["halt_log"]}
    for n, q, tag, c in mine["halt_log"]:
        if done.get((tuple(n), q)) != (tag, c):
            raise AssertionError(f"DONE of node {tuple(n)} queue {q}: RTL (tag, cycle) "
                                 f"{done.get((tuple(n), q))}, model {(tag, c)}")
    assert len(done) == len(mine["halt_log"]), (rtl["halt_log"], mine["halt_log"])


def check_figures(rtl, mine):
    """Raise at the first figure of the workload runner's
    (:func:`sim.workloads.runners.run_programs`) that differs."""
    for key in ("cycles", "load_cycles", "read_cycles", "halts", "counters_cycle", "counters"):
        if rtl[key] != mine[key]:
            raise AssertionError(f"end: {key}: RTL {rtl[key]}, model {mine[key]}")


def compare(rtl, mine):
    """Raise at the first difference: a link register (cycle and link, both values), the
    end of the run, a DONE's cycle, then SRAM lines and registers (node, address)."""
    end = min(rtl["end"], mine["end"])
    diff = first_difference(rtl["trace"], mine["trace"], end)
    if diff:
        c, name, a, b = diff
        raise AssertionError(f"cycle {c}: {name}: RTL {_show(a)}, model {_show(b)}")
    check_end(rtl, mine)
    for (node, addr, count), a, b in zip(mine["pr"]["reads"], rtl["reads"], mine["reads"]):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                raise AssertionError(f"end: node {tuple(node)} address {addr + i}: "
                                     f"RTL {x:#x}, model {y:#x}")
    check_figures(rtl, mine)


def test_ring_allreduce_on_the_default_tile_matches_the_rtl():
    rtl = rtl_run("ring_allreduce")
    assert not rtl["problems"], rtl["problems"]
    mine = model_run("ring_allreduce")
    compare(rtl, mine)
    assert not mine["problems"], mine["problems"]
    # the workload did what it is for: every node holds the sum, every queue halted with
    # code 0; flits crossed the die boundaries both ways (12 of the 16 DieLinks: the
    # ring's and the read-back's) and every host's link both ways
    plan = mine["plan"]
    for (node, addr, _), lines in zip(mine["pr"]["reads"], mine["reads"]):
        if addr == 0:
            assert lines[:32] == plan["expected"][tuple(node)], node
    assert len(mine["halt_log"]) == 16 and all(t == 0 for _, _, t, _ in mine["halt_log"])
    man = WORKLOADS["ring_allreduce"]()[2].manifest()
    edge = {(tuple(node), d) for _, node, d in man["edge_ports"]}
    dielinks = [name for name, node, port, kind, _ in tile_links(man)
                if kind == "out" and (node, port) not in edge and rtl["trace"][name]]
    assert len(dielinks) == 12, dielinks
    hosts = [(tuple(node), d) for name, node, d in man["edge_ports"]
             if name in host_ports(man)]
    assert all(rtl["trace"][f"r{x}_{y}.{side}_{d}"] for (x, y), d in hosts
               for side in ("in", "out"))


def test_the_nis_second_credit_of_a_cycle_matches_the_rtl():
    """The node kernel's path for the NI's second credit of a cycle (straight into the
    router's counter), taken and held to the RTL on every link."""
    rtl = rtl_run("double_credits")
    assert not rtl["problems"], rtl["problems"]
    mine = model_run("double_credits")
    compare(rtl, mine)
    puller = mine["net"].node(*PULLER)
    assert mine["doubles"][puller] >= 5 and mine["doubles"].sum() == mine["doubles"][puller], \
        mine["doubles"]
    assert len(mine["halt_log"]) == 3 and all(t == 0 for _, _, t, _ in mine["halt_log"])


def test_cannon_on_the_default_tile_matches_the_rtl():
    rtl = rtl_run("cannon")
    assert not rtl["problems"], rtl["problems"]
    mine = model_run("cannon")
    compare(rtl, mine)
    assert not mine["problems"], mine["problems"]
    # C bit for bit the golden model's on every node; both queues of every node halted
    # with code 0
    plan, mdl = mine["plan"], WORKLOADS["cannon"]()[3]
    lay, (bm, bn, _) = plan["layout"], plan["layout"]["block"]
    for (node, addr, _), lines in zip(mine["pr"]["reads"], mine["reads"]):
        if addr == 0:
            c = mdl.unpack_c(lines[lay["c"]:lay["c"] + lay["c_lines"]], bm, bn)
            assert (c == plan["expected"][tuple(node)]).all(), node
    assert len(mine["halt_log"]) == 32 and all(t == 0 for _, _, t, _ in mine["halt_log"])


@pytest.mark.parametrize("workload", ["ring_harvested", "broadcast_harvested"])
def test_a_harvested_tile_matches_the_rtl(workload):
    """Disabled nodes (the harvest map): the collectives that skip them, every link every
    cycle, every node's SRAM and registers (the disabled ones' too) equal to the RTL's."""
    rtl = rtl_run(workload)
    assert not rtl["problems"], rtl["problems"]
    mine = model_run(workload)
    compare(rtl, mine)
    assert not mine["problems"], mine["problems"]
    plan, mdl = mine["plan"], WORKLOADS[workload]()[3]
    assert len(plan["skipped"]) == 2 and len(mine["halt_log"]) == 14, mine["halt_log"]
    for (node, addr, _), lines in zip(mine["pr"]["reads"], mine["reads"]):
        if addr == 0 and tuple(node) in plan["expected"]:
            want = plan["expected"][tuple(node)]
            assert lines[:len(want)] == want, node
        elif addr == 0:
            assert not any(lines), node        # a disabled node: no data, no program


@pytest.mark.parametrize("workload, mutant", [
    ("ring_allreduce", dict(net_mutant="dielink_credit_early")),
    ("ring_allreduce", dict(cmd_mutant="wait_one_too_few")),
    ("ring_allreduce", dict(nk_mutant="router_flits_one_cycle_early")),
    ("ring_allreduce", dict(nk_mutant="asleep_misses_a_flit")),
    ("double_credits", dict(nk_mutant="second_credit_dropped")),
    ("ring_harvested", dict(nk_mutant="disabled_tied_off")),
    ("cannon", dict(engine_mutant="skips_c_prefetch")),
    ("cannon", dict(mutant="c_prefetch_before_dma")),
    ("cannon", dict(sram_mutant="one_write_per_cycle")),
    ("cannon", dict(engine_mutant="nan_sum_not_canonical"))],
    ids=lambda v: v if isinstance(v, str) else next(iter(v.values())))
def test_a_wrong_model_of_the_tile_fails_the_comparison(workload, mutant):
    rtl = rtl_run(workload)
    with pytest.raises(AssertionError, match=r"^cycle \d+: r\d_\d\.\w+(\.credit)?: RTL "):
        compare(rtl, model_run(workload, cycles=rtl["end"] + 100, **mutant))
