# amaranth: UnusedElaboratable=no
"""The timing-only tile with flits wider than 64 bits against the RTL under Verilator.

The default compute tile with ``router.flit_bits`` = 128 and ``node.sram_kb`` = 64 (4096
lines: an EXEC descriptor's ``c_addr`` then straddles bit 64, and Cannon puts C above line
1024, so its descriptors have control bits set above 64): its cores, routers and hosts
run timing-only (no data values: every flit is its control slice, bits 0..89 at this
width, the bits from 64 up carried in the rings' ``w0``, :mod:`sim.netmodel.host`'s
``control_bits``). Both engines run the same :func:`verif.host_programs.programs` steps
(``test_node_tile``'s workloads: the node-driven ring all-reduce and Cannon's GEMM, every
register and the first lines of every node read back at the end), and are compared as
``test_node_tile`` compares them, except for what timing-only does not compute:

* every traced mesh link register in every cycle: each flit's cycle, VC and ``last`` and
  each credit whole, and the control slice of every head flit (the body flits of data
  packets are payload: their values are not modelled);
* the cycle and tag of every DONE, the end of the run, and what the workload runner
  reports: the cycles of each phase, every queue's halt code, the event counters (register
  reads answered from control) and the cycle they were read.

A host that drops the control bits from 64 up (Cannon's EXECs then write C into the
other SRAM bank, where it meets the NI's writes) fails the comparison at the first
differing link register.
"""

import functools

import pytest

from gen.config import load_config
from gen.derive import derive
from sim.cannon import cannon_plan
from sim.collectives import collective_plan
from sim.netmodel.host import tile_model
from sim.netmodel.node.fields import control_bits
from sim.runner import available_simulators, run_cocotb
from sim.workloads.runners import program_scenario
from tests.sim.netmodel.lockstep import one_worker
from tests.sim.netmodel.test_node_tile import (ModelTrace, _show, check_end, check_figures,
                                               first_difference, watched_run)
from verif.tb_tile_trace import TILE_TRACE_SIGNALS

pytestmark = [pytest.mark.slow, one_worker("core"),
              pytest.mark.skipif("verilator" not in available_simulators(),
                                 reason="needs Verilator")]

WIDTH, SRAM_KB = 128, 64
CYCLES = 40000
#: SRAM lines of every node read back at the end (the read's timing, not its values)
READ_LINES = 16


def _setup():
    cfg = load_config("configs/default.yaml", [f"router.flit_bits={WIDTH}",
                                               f"node.sram_kb={SRAM_KB}"])
    return cfg, derive(cfg)


def _scenario(plan):
    mdl, man = plan["model"], plan["design"].manifest()
    regs = mdl.lay.registers
    reads = [[list(n), 0, READ_LINES] for n in man["nodes"]] + \
        [[list(n), mdl.reg_addr(regs[0]), len(regs)] for n in man["nodes"]]
    return program_scenario(mdl, plan["programs"], plan["data"], reads)


@functools.lru_cache(maxsize=None)
def ring_allreduce():
    cfg, d = _setup()
    plan = collective_plan(cfg, "ring", lines=32, dtype="int32", seed=3, derived=d)
    return cfg, d, plan["design"], _scenario(plan)


@functools.lru_cache(maxsize=None)
def cannon():
    cfg, d = _setup()
    plan = cannon_plan(cfg, m=32, n=32, k=32, dtype="bf16", seed=5, derived=d)
    return cfg, d, plan["design"], _scenario(plan)


WORKLOADS = {"ring_allreduce": ring_allreduce, "cannon": cannon}
_RTL = {}


def rtl_run(workload):
    if workload not in _RTL:
        cfg, d, design, pr = WORKLOADS[workload]()
        _RTL[workload] = run_cocotb(design, sim="verilator", test_module="verif.tb_tile_trace",
                                    testcase="programs_traced",
                                    tag=f"node-tile-{WIDTH}-{SRAM_KB}-{workload}",
                                    public_signals=TILE_TRACE_SIGNALS,
                                    scenario={"programs": pr})["programs"]
    return _RTL[workload]


class WideTrace(ModelTrace):
    """:class:`ModelTrace` with each flit's bits 64 and up (the ring's ``w0`` carries a
    timing-only flit's control bits there)."""

    def flit_data(self, w0, w1):
        from sim.netmodel.nodekernel import W0_HIGH, W0_HIGH_BITS
        return (w1 & ((1 << 64) - 1)) | ((w0 >> W0_HIGH) & ((1 << W0_HIGH_BITS) - 1)) << 64


def model_run(workload, *, cycles=CYCLES, **mutants):
    cfg, d, design, pr = WORKLOADS[workload]()
    tile = tile_model(design, cfg, d, timing_only=True, **mutants)
    assert tile.nodes_kernel.cores.words == 2 and tile.hosts[0].port.wide
    return {**watched_run(tile, design, pr, cycles, WideTrace),
            "mask": (1 << tile.nodes_kernel.cores.control_bits) - 1}


def timing_view(entries, mask):
    """A link's trace as timing-only keeps it: credits whole; a flit's cycle, VC and
    ``last``, and its data's control slice if it is a head (per VC, the first flit after a
    tail), else None."""
    inside, out = {}, []
    for e in entries:
        if len(e) == 2:
            out.append(tuple(e))
            continue
        c, vc, last, data = e
        head = not inside.get(vc, False)
        inside[vc] = not last
        out.append((c, vc, last, data & mask if head else None))
    return out


def _show_view(entry):
    if entry is None:
        return "nothing"
    if len(entry) == 2:
        return _show(list(entry))
    c, vc, last, data = entry
    return f"flit vc {vc} last {last} " + ("body" if data is None else f"head {data:#x}")


def compare_timing(rtl, mine):
    """Raise at the first difference of what a timing-only run must reproduce (the module
    docstring): a link register (cycle, link, both values), the end, a DONE, the runner's
    figures."""
    mask = mine["mask"]
    diff = first_difference(rtl["trace"], mine["trace"], min(rtl["end"], mine["end"]),
                            view=lambda entries: timing_view(entries, mask))
    if diff:
        c, name, a, b = diff
        raise AssertionError(f"cycle {c}: {name}: RTL {_show_view(a)}, model {_show_view(b)}")
    check_end(rtl, mine)
    check_figures(rtl, mine)


def test_the_wide_tile_has_control_bits_above_64():
    """What makes the comparison below bite: the control slice is wider than a ring's
    ``w1`` (a command descriptor ends at bit 89), and Cannon's programs set bits there."""
    from gen.node_build import compute_params
    cfg, d = _setup()
    lay, _, _ = compute_params(cfg, d)
    assert 64 < control_bits(lay) <= 64 + 33, control_bits(lay)
    high = ((1 << control_bits(lay)) - 1) >> 64 << 64
    pr = cannon()[3]
    assert any(line & high for _, _, lines in pr["loads"][-16:] for line in lines)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_a_timing_only_wide_tile_matches_the_rtl(workload):
    rtl = rtl_run(workload)
    assert not rtl["problems"], rtl["problems"]
    mine = model_run(workload)
    compare_timing(rtl, mine)
    assert not mine["problems"], mine["problems"]
    # the runs did their work: every queue halted with code 0
    assert mine["halt_log"] and all(t == 0 for _, _, t, _ in mine["halt_log"])


def test_a_host_that_drops_the_high_control_bits_fails_the_comparison():
    rtl = rtl_run("cannon")
    with pytest.raises(AssertionError, match=r"^cycle \d+: r\d_\d\.\w+(\.credit)?: RTL "):
        compare_timing(rtl, model_run("cannon", cycles=rtl["end"] + 100,
                                      host_mutant="high_bits_dropped"))
