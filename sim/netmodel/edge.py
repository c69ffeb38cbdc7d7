"""The hosts' link ends at the tile edge, compiled: :class:`sim.netmodel.host.RingPort`'s
driver and monitor stepped with the node kernel in one call until a packet reaches a host.

The hosts' coroutines (:mod:`verif.host_programs`) act only when a packet's tail reaches a
host: nothing else wakes them. Between two such cycles a host's link end is a fixed
procedure, per cycle ``c`` and host in order (``RingPort``'s docstring has the timing):
the monitor takes the router's output flit of cycle ``c`` on the edge ring and returns a
credit for it in the same cycle; the driver reads the router's credit of cycle ``c``, sends
the next queued flit on its VC if it holds a credit, then counts the credit it read. Run
in Python per cycle, with one node-kernel call per cycle, that costs far more than the
cycle's work on the default tile; :func:`advance` does it in numba, calling the node
kernel (:func:`sim.netmodel.nodekernel.run`) one cycle at a time in between, and returns
at the first cycle whose hosts' part delivered a packet's tail (that cycle's kernel step
not run: the coroutines the packet wakes run first, as in the per-cycle loop; the next
call steps it first). The
flits it received are handed back as records, in the order the per-cycle monitors saw
them. ``tests/sim/netmodel/test_workloads_on_the_model.py`` and
``tests/sim/netmodel/test_node_tile.py`` hold the result to the RTL.

Caching: :func:`advance` links the node kernel's compiled code into its own, and numba's
disk cache checks only this file, so its cache is deleted when the node kernel or a block
it inlines changes (the digest :mod:`sim.netmodel.nodekernel` keeps for itself, plus this
file and the node kernel's own source).
"""

import hashlib
import pathlib

import numpy as np

from numba import njit
from numba.core import types
from numba.experimental import structref

from sim.netmodel import kernel as K
from sim.netmodel import nodekernel as NK

__all__ = ["advance", "Bound", "bind", "REC_CAP", "REC_HOST", "REC_W0",
           "REC_W1", "REC_CYCLE", "TWO_CREDITS"]

_HERE = pathlib.Path(__file__).resolve()

#: records of received flits one :func:`advance` call holds (it returns before they can
#: overflow), and their columns
REC_CAP = 4096
REC_HOST, REC_W0, REC_W1, REC_CYCLE = 0, 1, 2, 3
#: :func:`advance`'s return code when a monitor held credits of two VCs in one cycle (the
#: credit ring carries one VC a cycle; the per-cycle monitor asserts the same)
TWO_CREDITS = -1


def _sources_digest():
    """The node kernel's sources and this file, which :func:`advance` inlines."""
    h = hashlib.sha256(NK._digest().encode())
    for path in (_HERE, _HERE.parent / "nodekernel.py"):
        h.update(path.read_bytes())
    return h.hexdigest()


NK.invalidate_stale_cache("edge", _sources_digest())


@njit(cache=True)       # NRT: reading a structref's fields
def advance(t, stop, step_first, bound):
    """From cycle ``t`` (its hosts' part not run yet; with ``step_first``, the node
    kernel's step of cycle ``t`` first, then from ``t + 1``): per cycle, every host's
    monitor then every host's driver, then, unless a tail arrived or the cycle is
    ``stop - 1``, the node kernel's step of the cycle. Returns ``(cycle, records)``: the
    cycle whose hosts' part ran last (its kernel step not run) and how many rows of
    ``rec`` it filled, or ``(cycle, TWO_CREDITS)``.

    Per host ``h``: its edge ring ``edge[h]`` (the router's output flits, its input's
    credits), the router's input ring ``into[h]`` of node ``node[h]``, ``credits[h, vc]``,
    the monitor's ``held[h, vc]`` credits, and its queue of flits ``qw0[h, i]``/``qw1[h, i]``
    (the ring's words) from ``qhead[h]`` to ``qtail[h]``. The rest: the node kernel's
    arguments. All of them come from ``bound`` (a :class:`Bound`: one object to unbox per
    call from Python, not ~150 arrays; taken here, not by a compiled wrapper, so the node
    kernel's code is linked into one more module and optimised once more, not twice)."""
    edge, into, node, credits, held, qw0, qw1, qhead, qtail, rec = bound.links
    P, O, geo, st, scratch = bound.net
    active, NS, cb = bound.nodes
    NA, NP, EA, EP, SA, SP, CA, reads, mutant, nk_mutant, idle = bound.cores
    RING, CR, R = st[K.ST_RING], st[K.ST_CRING], st[K.ST_R]
    # one kernel step a call, typed int64: a literal 1 would compile the kernel a second
    # time (for Literal[int](1)) beside NodeKernel.run's
    one = np.int64(1)
    hosts, vcs = edge.shape[0], credits.shape[1]
    filled = 0
    if step_first:
        t = NK.run(one, t, P, O, geo, st, scratch, active, NS, cb, NA, NP, EA, EP, SA, SP, CA,
                   reads, mutant, nk_mutant, idle)
    while True:
        tail = False
        for h in range(hosts):                         # the monitors
            ws = K._flit_at(RING, edge[h], t, P)
            if ws >= 0:
                w0 = RING[ws + 1]
                rec[filled, REC_HOST] = h
                rec[filled, REC_W0] = w0
                rec[filled, REC_W1] = RING[ws + 2]
                rec[filled, REC_CYCLE] = t
                filled += 1
                held[h, (w0 >> 58) & 7] += 1
                if (w0 >> 57) & 1:
                    tail = True
            pulse = -1
            for v in range(vcs):
                if held[h, v]:
                    if pulse >= 0:
                        return t, TWO_CREDITS
                    pulse = v
            if pulse >= 0:
                held[h, pulse] -= 1
                K._put_credit(CR, into[h], t - 1, P, pulse)
                R[node[h] * O[K.RW] + O[K.PEND]] += 1
        for h in range(hosts):                         # the drivers
            credit = K._credit_at(CR, edge[h], t, P)
            i = qhead[h]
            if i < qtail[h]:
                w0 = qw0[h, i]
                v = (w0 >> 58) & 7
                if credits[h, v] > 0:
                    credits[h, v] -= 1
                    K._put_flit(RING, into[h], t - 1, P, w0, qw1[h, i])
                    R[node[h] * O[K.RW] + O[K.PEND]] += 1
                    qhead[h] = i + 1
            if credit >= 0:
                credits[h, credit] += 1
        if tail or t + 1 >= stop or filled + hosts > rec.shape[0]:
            return t, filled
        t = NK.run(one, t, P, O, geo, st, scratch, active, NS, cb, NA, NP, EA, EP, SA, SP, CA,
                   reads, mutant, nk_mutant, idle)


@structref.register
class _BoundType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Bound(structref.StructRefProxy):
    """:func:`advance`'s arguments but the cycles, held by one compiled object: a call
    from Python unboxes each of its ~150 arrays (about 50 us on the default tile, more
    than most calls' cycles); :func:`advance` unboxes this one object. Made by
    :func:`bind`; made again when an array is replaced (a queue or the page pool grown)."""


structref.define_proxy(Bound, _BoundType, ["links", "net", "nodes", "cores"])


@njit(cache=True)
def _new_bound(links, net, nodes, cores):
    # made in compiled code, cached: the proxy's own constructor compiles in every process
    return Bound(links, net, nodes, cores)


def bind(links, net, kernel, cores):
    """A :class:`Bound` of a tile's host link ends (:class:`sim.netmodel.host.EdgeLinks`),
    network, node kernel and cores, as :func:`advance` takes them."""
    return _new_bound((links.edge, links.into, links.node, links.credits, links.held, links.qw0,
                  links.qw1, links.qhead, links.qtail, links.rec),
                 (net.P, net.O, net.geometry, net.state, net.scratch),
                 (kernel.active, kernel.ns, kernel.cb),
                 (*cores._args(), cores.reads, cores.mutant, kernel.mutant,
                  kernel.idle_shortcut))
