"""The node kernel's idle shortcut (:mod:`sim.netmodel.nodekernel`: a quiescent core is
skipped while nothing arrives for it) against the same kernel with every core stepped
every cycle, on the default tile's workloads of ``test_node_tile`` whose nodes sleep and
wake: the ring all-reduce (WAITs on semaphores), the broadcast (nodes waiting for their
vector), Cannon's GEMM (two queues, EXECs), the NI's double credits (PULLs), and the ring
all-reduce timing-only.

Compared (the stepped run in the place of the RTL in ``test_node_tile``'s messages): every
mesh link register in every cycle, the run's end and every DONE's cycle, every SRAM line
and register read back, the runner's figures; and in every cycle (a digest per array) and
after an idle tail (element by element) every array of every core (every block's state,
inputs and outputs, the SRAM's pages, the counters) and the node kernel's own per-node
state, so a skipped cycle that would have changed anything, even what no link shows, fails
with the cycle and the array (at the end the node and index too). The shortcut's mutant (a
skipped core does not wake for an arriving flit) is caught by the RTL comparison in
``test_node_tile``.
"""

import functools
import hashlib

import numpy as np
import pytest

from sim.netmodel.host import tile_model
from sim.netmodel.nodekernel import N_QUIET, N_SKIPPED
from tests.sim.netmodel.lockstep import one_worker
from tests.sim.netmodel.test_node_tile import (CYCLES, WORKLOADS, ModelTrace, compare,
                                               ring_allreduce, watched_run)

# the node kernel compiles in test_node_tile's worker group
pytestmark = [pytest.mark.slow, one_worker("core")]

#: cycles run after the workload's end, every core idle
IDLE_TAIL = 50
#: ``test_node_tile``'s workloads, the ring all-reduce at 16 lines (one line a chunk: the
#: same WAITs, ADD pushes and semaphores as its 32 in fewer cycles, each digested)
IDLE_WORKLOADS = {**WORKLOADS, "ring_allreduce": functools.partial(ring_allreduce, lines=16)}
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


def digests(kernel):
    """A digest of every array of :func:`core_arrays`, in its order."""
    return tuple(hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=8).digest()
                 for _, a in core_arrays(kernel))


def digest_run(workload, **options):
    """``test_node_tile.model_run`` with the digests of the cores' arrays taken in every
    cycle (``digests``: one tuple per cycle, before the kernel's step)."""
    cfg, d, design, mdl, pr, plan = IDLE_WORKLOADS[workload]()
    tile = tile_model(design, cfg, d, **options)
    seen = []

    class Traced(ModelTrace):
        def __call__(self, c):
            super().__call__(c)
            seen.append(digests(tile.nodes_kernel))

    return {**watched_run(tile, design, pr, CYCLES, trace_type=Traced), "digests": seen,
            "kernel": tile.nodes_kernel, "net": tile.net, "pr": pr}


def first_digest_difference(stepped, skipping):
    """``"cycle <c>: <array> differs"`` of the first cycle whose digests differ, or None."""
    names = [name for name, _ in core_arrays(stepped["kernel"])]
    for c, (a, b) in enumerate(zip(stepped["digests"], skipping["digests"])):
        if a != b:
            return f"cycle {c}: {names[next(i for i in range(len(a)) if a[i] != b[i])]} differs"
    return None


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
    stepped = digest_run(workload, idle_shortcut=False, **options)
    skipping = digest_run(workload, **options)
    compare(stepped, skipping)
    diff = first_digest_difference(stepped, skipping)
    assert diff is None, diff
    # then idle cycles, the hosts done: the cores that sleep through them must hold what
    # the stepped ones compute in every one of them
    for run in (stepped, skipping):
        run["kernel"].run(IDLE_TAIL)
    diff = first_array_difference(stepped["kernel"], skipping["kernel"])
    assert diff is None, diff
    # the shortcut was taken: most node-cycles of these runs are idle (the hosts' loads and
    # read-backs one node at a time, the waits), and never without it
    nodes = skipping["net"].n_nodes
    skipped = int(skipping["kernel"].ns[:, N_SKIPPED].sum())
    assert skipped > 0.3 * nodes * skipping["end"], (skipped, nodes, skipping["end"])
    assert not stepped["kernel"].ns[:, N_SKIPPED].any()
