# amaranth: UnusedElaboratable=no
"""The node kernel (sim.netmodel.nodekernel: training nodes' cores on the network kernel's
routers) against the RTL.

A 2x1 mesh: router 1 with its training node is stepped by the node kernel; the host of
``test_node_core`` takes the place of router 0, writing router 1's west input (flit ring
``6*1 + 4``) within the router's credits and reading router 1's west output (ring
``6*0 + 2``, router 0's east input), returning its credits a few cycles late. The RTL
reference is :class:`rtl.node.training_node.TrainingNode` at (1, 0) with its own router
(``NodeRow(nodes=1, x0=1)`` is that node with its west port exposed and every other port
tied off), the same host driving ``in_west``. The host's script is ``test_node_core``'s:
operands, a command program (its PUSHes go to the host, its SIGNAL to the node itself
through its router's local port both ways), GEMMs, PUSHes to the host, and at the end
READs of every register (the router's flit counters among them) and every SRAM line.
Every output of the west port is compared every cycle; the last READs compare the SRAM,
the semaphores and the status registers. (PUSHes of a node to itself while its host keeps
sending deadlock the RTL and the model alike: the script does not.)
"""

import collections
import random

import pytest

from gen.config import load_config
from gen.derive import derive
from rtl.node.training_node import TrainingNode
from sim.netmodel import kernel
from sim.netmodel.network import NetworkModel
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import core as core_model
from sim.netmodel.node.core import INPUTS, NodeCores
from sim.netmodel import nodekernel
from sim.netmodel.nodekernel import NodeKernel
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from tests.sim.netmodel.test_node_core import PARAMS, Host, _layouts, script

pytestmark = one_worker("core")

XY, HOST = (1, 0), (0, 0)
WEST_IN, WEST_OUT = 6 * 1 + 4, 6 * 0 + 2       # router 1's west input ring, its output's


class RowHost(Host):
    """The core test's host, returning at most one credit a cycle (a neighbouring router
    returns one VC's credit a cycle)."""

    def edge(self, t, out):
        if out["o_valid"]:
            at = max([t + self.rng.randint(1, 4)] + [c + 1 for c, v in self.returns])
            self.returns.append((at, out["o_vc"]))
        self.credits += out["i_credit"] >> self.vc & 1


def network():
    cfg = load_config("configs/default.yaml", [
        "tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=2", "die.nodes_y=1",
        f"router.vcs={PARAMS['vcs']}", f"router.buffer_depth={PARAMS['buffer_depth']}",
        "router.routing=xy"])
    return NetworkModel(cfg, derive(cfg))


def lockstep(*, seed=1, cycles=5000, nk_mutant="none", **mutants):
    lay = _layouts()
    cb = lay.fmt.coord_bits
    dut = TrainingNode(layouts=lay, routing="xy", **PARAMS)
    net = network()
    cores = NodeCores(nodes=2, layouts=lay, **PARAMS, **mutants)
    nodes = NodeKernel(net, cores, active=[1], coord_bits=cb, mutant=nk_mutant)
    rng = random.Random(seed)
    host = RowHost(script(lay, random.Random(seed), xy=XY, host=HOST,
                          far=(HOST, HOST, XY), near=HOST), rng)
    ring, cring = net.state[kernel.ST_RING].reshape(-1, 3), net.state[kernel.ST_CRING].reshape(-1, 2)
    S, R = net.slots, net.R
    stg_in = int(net.geometry[kernel.GEO_RING_STG][WEST_IN])
    cstg_in = int(net.geometry[kernel.GEO_CRING_STG][WEST_IN])
    pend = net.O[kernel.PEND]
    seen = collections.Counter()
    dst = None

    def slot(tag):
        return tag & (S - 1)

    async def bench(ctx):
        nonlocal dst
        ctx.set(dut.x, XY[0])
        ctx.set(dut.y, XY[1])
        t = 0
        while not host.done():
            assert t < cycles, f"the script did not end within {cycles} cycles"
            flit = host.flit()
            vc, last, data = flit if flit else (0, 0, 0)
            credit = host.credit_back(t)
            for port, value in ((dut.in_west.valid, flit is not None), (dut.in_west.vc, vc),
                                (dut.in_west.last, last), (dut.in_west.data, data),
                                (dut.out_west.credit, credit)):
                ctx.set(port, value)
            # the host's registers of cycle t on router 1's west input and credit rings
            if flit:
                if dst is None:
                    dst = (data & (1 << cb) - 1) | ((data >> cb) & (1 << cb) - 1) << 12
                w0 = dst | last << 57 | vc << 58
                dst = None if last else dst
                k = WEST_IN * S + slot(t + stg_in)
                ring[k] = (t + stg_in, w0, data - (1 << 64) if data >> 63 else data)
                R[1, pend] += 1
            if credit:
                assert credit & (credit - 1) == 0, "one credit a cycle"
                k = WEST_IN * S + slot(t + cstg_in)
                cring[k] = (t + cstg_in, credit.bit_length() - 1)
                R[1, pend] += 1
            # the router's west output and credit of cycle t (written in step t - 1)
            k = WEST_OUT * S + slot(t)
            valid = int(ring[k, 0] == t)
            w0 = int(ring[k, 1])
            ck = WEST_OUT * S + slot(t)
            mine = {"o_valid": valid, "o_last": kernel_last(w0) if valid else 0,
                    "o_vc": (w0 >> 58) & 7 if valid else 0,
                    "o_data": int(ring[k, 2]) & ((1 << 64) - 1) if valid else 0,
                    "i_credit": 1 << int(cring[ck, 1]) if cring[ck, 0] == t else 0,
                    "errors": int(cores.outputs[1, core_model.OUTPUTS["errors"]])}
            out = {"o_valid": ctx.get(dut.out_west.valid),
                   "i_credit": ctx.get(dut.in_west.credit), "errors": ctx.get(dut.errors)}
            out["o_last"] = ctx.get(dut.out_west.last) if out["o_valid"] else 0
            out["o_vc"] = ctx.get(dut.out_west.vc) if out["o_valid"] else 0
            out["o_data"] = ctx.get(dut.out_west.data) if out["o_valid"] else 0
            if t:       # the model's errors output is that of the step before
                compare(t, ((f"west {name}", out[name], mine[name]) for name in out))
            seen["sent"] += out["o_valid"]
            host.edge(t, out)
            nodes.run(1)
            await ctx.tick()
            t += 1
        seen["cycles"] = t
        seen["flits_local"] = int(R[1, net.O[kernel.FL0]])
        seen["halt_code"] = int(cores.ni.cmd.queue_out[1, 0, cp.H_CODE])
        seen["errors"] = int(cores.outputs[1, core_model.OUTPUTS["errors"]])
        seen["double_credits"] = int(nodes.ns[1, nodekernel.N_DOUBLES])

    simulate(dut, bench)
    return seen


def kernel_last(w0):
    return (w0 >> 57) & 1


@pytest.mark.slow
@pytest.mark.quick
def test_a_node_on_the_network_kernel_matches_the_rtl_every_cycle():
    seen = lockstep()
    # the script did what it is for: flits crossed the router's local port, the command
    # program ran to its HALT (past its WAITs), nothing was malformed
    assert seen["flits_local"] > 100 and seen["sent"] > 100, seen
    assert seen["halt_code"] == 7 and seen["errors"] == 0, seen


@pytest.mark.slow
@pytest.mark.parametrize("mutants", [dict(nk_mutant="router_flits_one_cycle_early"),
                                     dict(mutant="c_prefetch_before_dma"),
                                     dict(cmd_mutant="wait_one_too_few")],
                         ids=lambda m: next(iter(m.values())))
def test_a_wrong_node_kernel_fails_the_comparison(mutants):
    with pytest.raises(AssertionError, match=r"^cycle \d+: west \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(**mutants)


def test_the_wrong_node_kernels_share_the_compiled_kernel():
    """A node kernel's mutant is run-time data: every variant runs one compiled kernel."""
    lay = _layouts()
    for name in nodekernel.MUTANTS:
        cores = NodeCores(nodes=2, layouts=lay, **PARAMS)
        NodeKernel(network(), cores, active=[1], coord_bits=lay.fmt.coord_bits,
                   mutant=name).run(3)
    assert len(nodekernel.run.signatures) == 1, nodekernel.run.signatures
