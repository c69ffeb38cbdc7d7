"""The node kernel's idle shortcut (:mod:`sim.netmodel.nodekernel`: a quiescent core is
skipped while nothing arrives for it) against the same kernel with every core stepped
every cycle, on the default tile's workloads of ``test_node_tile`` whose nodes sleep and
wake: the ring all-reduce (WAITs on semaphores), the broadcast (nodes waiting for their
vector), Cannon's GEMM (two queues, EXECs), the NI's double credits (PULLs), and the ring
all-reduce timing-only.

Compared (the stepped run in the place of the RTL in ``test_node_tile``'s messages): every
mesh link register in every cycle, the run's end and every DONE's cycle, every SRAM line
and register read back, the runner's figures; then every array of every core (every
block's state, inputs and outputs, the SRAM's pages, the counters) and the node kernel's
own per-node state, so a skipped cycle that would have changed anything, even what no
link shows yet, fails with the array, node and index. The shortcut's mutant (a skipped
core does not wake for an arriving flit) is caught by the RTL comparison in
``test_node_tile``.
"""

import numpy as np
import pytest

from sim.netmodel.nodekernel import N_QUIET, N_SKIPPED
from tests.sim.netmodel.lockstep import one_worker
from tests.sim.netmodel.test_node_tile import compare, model_run

# the node kernel compiles in test_node_tile's worker group
pytestmark = [pytest.mark.slow, one_worker("core")]

#: the NI's blocks in the order of ``NetworkInterfaces.arrays``
_NI_BLOCKS = ("rx", "parser", "sink", "dma", "cmd", "writer", "tx", "pull", "ni")


def core_arrays(kernel):
    """(name, array) of every array of the kernel's cores and of its own per-node state,
    the shortcut's own columns left out."""
    cores = kernel.cores
    NA, _, EA, _, SA, _, CA = cores._args()
    for block, arrays in zip(_NI_BLOCKS, NA):
        for i, a in enumerate(arrays):
            yield f"{block}[{i}]", a
    for prefix, arrays in (("engine", EA), ("sram", SA), ("core", CA)):
        for i, a in enumerate(arrays):
            yield f"{prefix}[{i}]", a
    ns = kernel.ns.copy()
    ns[:, [N_QUIET, N_SKIPPED]] = 0
    yield "ns", ns


def first_array_difference(stepped, skipping):
    """``"<array>: node <n> index <i>: stepped <a>, skipping <b>"`` of the first array of
    :func:`core_arrays` that differs, or None."""
    for (name, a), (_, b) in zip(core_arrays(stepped), core_arrays(skipping)):
        if a.dtype.kind == "f":            # bit for bit (the engine's NaN scratch values)
            a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
        if a.shape != b.shape:
            return f"{name}: shape {a.shape} stepped, {b.shape} skipping"
        if not np.array_equal(a, b):
            where = tuple(int(i) for i in np.argwhere(a != b)[0])
            return (f"{name}: node {where[0]} index {where[1:]}: stepped {a[where]}, "
                    f"skipping {b[where]}")
    return None


@pytest.mark.parametrize("workload, options", [
    ("ring_allreduce", {}), ("broadcast", {}), ("cannon", {}), ("double_credits", {}),
    ("ring_allreduce", {"timing_only": True})],
    ids=["ring_allreduce", "broadcast", "cannon", "double_credits", "ring_timing_only"])
def test_the_idle_shortcut_changes_nothing(workload, options):
    stepped = model_run(workload, idle_shortcut=False, **options)
    skipping = model_run(workload, **options)
    compare(stepped, skipping)
    diff = first_array_difference(stepped["kernel"], skipping["kernel"])
    assert diff is None, diff
    # the shortcut was taken: most node-cycles of these runs are idle (the hosts' loads and
    # read-backs one node at a time, the waits), and never without it
    nodes = skipping["net"].n_nodes
    skipped = int(skipping["kernel"].ns[:, N_SKIPPED].sum())
    assert skipped > 0.3 * nodes * skipping["end"], (skipped, nodes, skipping["end"])
    assert not stepped["kernel"].ns[:, N_SKIPPED].any()
