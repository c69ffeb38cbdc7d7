"""Training nodes on the network kernel's local ports: the node kernel.

:func:`run` is :func:`sim.netmodel.kernel._cycles` with every node's traffic generator and
sink replaced by its training node's core (:func:`sim.netmodel.node.core.core_outputs` and
:func:`~sim.netmodel.node.core.core_clock`, inlined), the routers being the network
kernel's own (:func:`sim.netmodel.kernel._router`, inlined) and so are the DieLinks
between dies (:func:`~sim.netmodel.kernel._dielink`, or
:func:`~sim.netmodel.kernel._link_layer` with the link layer), stepped after the nodes as
the network kernel steps them. Only the nodes listed in ``active`` have a router and a
core stepped: a test's host may take the place of another router and write and read that
router's rings itself (``tests/sim/netmodel/test_node_kernel.py``); on a tile every node
is active and the hosts at the tile edge read and write the edge links' rings
(:mod:`sim.netmodel.host`, ``NetworkModel(edge_rings=True)``).

The local port, per node ``n`` and cycle ``t`` (the rings of :mod:`sim.netmodel.kernel`):

* the router's local output (flit ring ``6n + 5``, the flit of cycle ``t``) is the core's
  ``link_valid``/``link_last``/``link_vc`` and its flit ``link_in`` (``w1``);
* the router's credit for its local input (credit ring ``6n + 5``) is the core's ``credit``
  (one bit per VC, the ring's one VC a cycle);
* the core's output flit goes on ring ``6n`` as the register of cycle ``t`` (the core's
  outputs are those of the cycle, computed from its state, and the router, stepped after
  the core, reads them in the same step): ``w0`` the destination of its
  packet's head (read as :mod:`rtl.net.packet` lays it out: ``dst_x`` in the head's low
  ``coord_bits`` bits, ``dst_y`` above it) with ``last`` and ``vc``, ``w1`` the flit itself
  (flits of at most 64 bits; wider ones need a line store per node indexed from ``w1``,
  not done yet, except for timing-only cores: their flits' control bits 64 and up, at
  most :data:`W0_HIGH_BITS` of them, ride in ``w0``'s bits from :data:`W0_HIGH`, which a
  node's flit leaves free and the routers carry unchanged);
* the NI's credits for its input go back to the router's local output: the lowest VC of
  the cycle on credit ring ``6n`` (for cycle ``t``, as the flit), and a second VC of the same cycle
  (the NI returns a request credit and a response credit in one cycle when the parser and
  the pull writer both pop) straight into the router's credit counter after the router's
  step of the same cycle, which is where the router lands a credit read from its ring
  (:func:`_extra_credit`, with the router's wake-up of a blocked head), so the ring keeps
  its one VC a cycle;
* the router's flits out of each port (its ``FL0`` counters, counted here every cycle)
  are the core's ``router_flits``, two cycles late: the RTL's counter registers add the
  router's output ``valid`` of a cycle at its edge, and the network kernel counts a flit
  when it grants it, the cycle before it is valid.

The idle shortcut: an active node's core is skipped in a cycle when nothing arrives for it
(no flit on its router's local output, no credit back for its own output) and it has been
quiescent (:func:`sim.netmodel.node.core.core_quiescent`: every block waiting for an
input, each block's test next to its clock) at the start of the last
:data:`QUIET_BEFORE_SKIP` cycles, each stepped with nothing arriving: the first settles
the pulse registers (a credit, the link register, a WAIT's status), the second the delay
lines (the engine's capture address), after which the core's state and outputs repeat.
A skipped cycle still does what changes while the node sleeps: the router's flit counts
reach the NI's counter inputs and its register read (:func:`~sim.netmodel.node.core.core_asleep`).
A WAIT on a semaphore sleeps: only a flit (a SIGNAL, an ADD or WRITE with ``sem_inc``, a
PULL's answer) can raise its semaphore. The count of quiescent cycles lives in ``NS``
(:data:`N_QUIET`, reset by :meth:`NodeKernel.wake` after a change to a core made outside
the kernel; SRAM contents alone need none); ``NodeKernel(idle_shortcut=False)`` steps
every core every cycle. Held to that stepped run on the default tile's workloads in every
cycle (every link register, a digest of every array of every core) by
``tests/sim/netmodel/test_node_idle.py``, and to the RTL with the shortcut on by the
correlation tests, with a mutant (a skipped core that does not wake for a flit) that the
RTL comparison catches. A router is skipped, as in the network kernel, while nothing is
buffered in it and nothing is on its way to it (``pend``, which the core's flits and
credits count like the generator's and the sink's).

Disabled nodes (a fault map's harvest: compute fused off, the router forwarding) are
modelled as the RTL has them: the training-node design elaborates every node whole
(:func:`gen.build.network_design`), and a workload gives a disabled node no work and no
data, so its core is stepped like any other and sleeps through the run;
``tests/sim/netmodel/test_node_tile.py`` holds that to the RTL (the mutant
``disabled_tied_off``, a local port tied off instead, is caught).

The NI's second credit of a cycle (counted in ``NS[:, N_DOUBLES]``) happens when one VC's
credits were held back (its RX queue nearly full) and are released in a cycle in which
the other VC's flit arrives: ``tests/sim/netmodel/test_node_tile.py`` makes them (a node
PULLing while two others PUSH to it, its SRAM write port contended) and holds that run
to the RTL on every mesh link, with a kernel that drops the second credit as a mutant.

Caching: this module inlines :mod:`sim.netmodel.kernel`'s functions and the core's steps,
and numba's disk cache checks only this file. :func:`invalidate_stale_cache` (run at
import) keeps a digest of :mod:`sim.netmodel.kernel` and every block of
:mod:`sim.netmodel.node` (its files but the package docstring's) next to this module's
cache, and deletes this module's cache
files when the digest changes, so the kernel is recompiled with the new code. The cache is
where numba's own locator puts it (:func:`numba_cache_dir`): ``__pycache__`` next to this
file, or under ``NUMBA_CACHE_DIR`` when that is set (the test suite sets its own).
"""

import hashlib
import pathlib

import numpy as np
from numba import njit

from sim.netmodel import kernel as K
from sim.netmodel.kernel import (GEO_NODE_X, GEO_NODE_Y, OV_CREDITS, PEND, RW,
                                 OV0, STUCK, WANT, FL0, SCRATCH, ST_CRING, ST_R, ST_RING,
                                 VCS)
from sim.netmodel.node import core as co

__all__ = ["run", "NodeKernel", "MUTANTS"]

_HERE = pathlib.Path(__file__).resolve()


def numba_cache_dir(source=_HERE):
    """The folder numba caches the functions of the module file ``source`` in: the first of
    its locators that takes the file (``NUMBA_CACHE_DIR``'s folder for it when that is set,
    else ``__pycache__`` next to it if writable, else the user-wide cache), created if need
    be; numba's choice, so a digest kept here sits next to the cache files it guards."""
    from numba.core import caching
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    for locator in impl._locator_classes:
        found = locator.from_function(numba_cache_dir, str(source))
        if found is not None:
            return pathlib.Path(found.get_cache_path())
    raise RuntimeError(f"numba finds no cache folder for {source}")


_CACHE = numba_cache_dir()


def _digest():
    h = hashlib.sha256()
    blocks = sorted(p for p in (_HERE.parent / "node").glob("*.py") if p.name != "__init__.py")
    for path in [_HERE.parent / "kernel.py"] + blocks:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def invalidate_stale_cache(module, digest):
    """Delete ``module``'s numba cache files (a module of this folder: they are in
    :data:`_CACHE` with this one's) when ``digest`` of the sources it inlines differs from
    the one kept with them (numba checks only the module's own file)."""
    stamp = _CACHE / f"{module}.sources.sha256"
    try:
        old = stamp.read_text()
    except OSError:
        old = None
    if old != digest:
        for f in _CACHE.glob(f"{module}.*.nb[ic]"):
            f.unlink(missing_ok=True)
        _CACHE.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)


invalidate_stale_cache("nodekernel", _digest())   # :mod:`.kernel` or a node block changed

_LAST = 1 << 57
#: where a timing-only flit's bits 64.. ride in ``w0`` (bits 24..56: the traffic
#: generator's fields, free in a node's flit), and how many fit
W0_HIGH, W0_HIGH_BITS = 24, 33
_W0_HIGH_MASK = (1 << W0_HIGH_BITS) - 1
I_X, I_Y = co.INPUTS["x"], co.INPUTS["y"]
I_VALID, I_LAST, I_VC, I_CREDIT = (co.INPUTS[k] for k in ("link_valid", "link_last",
                                                           "link_vc", "credit"))
O_VALID, O_LAST, O_VC, O_I_CREDIT = (co.OUTPUTS[k] for k in ("o_valid", "o_last", "o_vc",
                                                              "i_credit"))
#: the node kernel's own per-node state (``NS`` rows): the destination of the packet each
#: VC's flits out of the core belong to (up to 8 VCs), the NI's second credit of the cycle,
#: the router's flit counts one and two cycles back, the NI's second credits (counted),
#: whether each VC's flits into the core are inside a packet, the cycles in a row the core
#: has been quiescent with no input (the idle shortcut skips it after two), the cycles it
#: skipped (counted), whether its compute is fused off (a disabled node of the fault map:
#: stepped like any other, as the RTL elaborates it; the mark is for a mutant)
N_DST, N_EXTRA, N_FL1, N_FL2, N_DOUBLES, N_IN_PKT, N_QUIET, N_SKIPPED, N_DISABLED = (
    0, 8, 9, 14, 19, 20, 28, 29, 30)
NS_WIDTH = 31
#: quiescent cycles stepped before the core is skipped: the first settles the pulse
#: registers (a credit, the link register, a WAIT's status), the second the delay lines
#: (the engine's capture address), so the state and the outputs of the second repeat
QUIET_BEFORE_SKIP = 2
#: deliberately wrong node kernels (run-time data, sharing the compiled kernel), for the
#: test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "router_flits_one_cycle_early": 1,  # the core sees the router's counts a cycle early
           "response_body_bit_flipped": 2,     # bit 0 of a response's body flit flipped on
#                                              the way into the core (data only, no timing)
           "high_bits_dropped": 3,             # a timing-only flit's bits 64.. lost on the
#                                              way into the core
           "second_credit_dropped": 4,         # the NI's second credit of a cycle lost
           "asleep_misses_a_flit": 5,          # a skipped core does not wake for a flit
           # a disabled node's local port tied off (no core: its flits sunk, their credits
           # returned at once), where the RTL keeps the whole node and gives it no work
           "disabled_tied_off": 6}
M_FLITS_EARLY = MUTANTS["router_flits_one_cycle_early"]
M_BODY_BIT = MUTANTS["response_body_bit_flipped"]
M_HIGH_DROPPED = MUTANTS["high_bits_dropped"]
M_SECOND_CREDIT = MUTANTS["second_credit_dropped"]
M_ASLEEP_MISSES_FLIT = MUTANTS["asleep_misses_a_flit"]
M_DISABLED_TIED_OFF = MUTANTS["disabled_tied_off"]


@njit(inline="always")
def _extra_credit(n, P, O, st, v):
    """A credit for the router's local output on VC ``v``, landed as the router lands one
    from its ring (kernel._router's last block)."""
    R = st[ST_R]
    rbase = n * O[RW]
    oi = O[OV0] + 2 * v                               # output 0 (local), VC v
    if R[rbase + oi + OV_CREDITS] == 0 and (R[rbase + O[WANT]] >> v) & 1:
        R[rbase + O[STUCK]] = 0
    R[rbase + oi + OV_CREDITS] += 1


@njit(inline="always")
def _node(n, t, P, O, geo, st, NS, cb, NA, NP, EA, EP, SA, SP, CA, reads, mutant, nk_mutant,
          idle):
    """Node ``n``'s core in cycle ``t`` on router ``n``'s local port (skipped while it is
    quiescent and nothing arrives, when ``idle``: the module docstring)."""
    RING, CR, R = st[ST_RING], st[ST_CRING], st[ST_R]
    c_ins, c_out, link_in, counters, router_flits, uncomputed = CA
    fl = N_FL1 if nk_mutant == M_FLITS_EARLY else N_FL2
    ws = K._flit_at(RING, 6 * n + 5, t, P)
    bv = K._credit_at(CR, 6 * n + 5, t, P)
    if nk_mutant == M_DISABLED_TIED_OFF and NS[n, N_DISABLED]:
        if ws >= 0:
            K._put_credit(CR, 6 * n, t - 1, P, K._vc(RING[ws + 1]))
            R[n * O[RW] + O[PEND]] += 1
        return
    if (idle and NS[n, N_QUIET] >= QUIET_BEFORE_SKIP and bv < 0
            and (ws < 0 or nk_mutant == M_ASLEEP_MISSES_FLIT)):
        for p in range(5):
            router_flits[n, p] = NS[n, fl + p]
        co.core_asleep(n, NA, NP, CA)
        NS[n, N_SKIPPED] += 1
        return
    quiet = idle and ws < 0 and bv < 0 and co.core_quiescent(n, NA, NP, EA, SP)
    NS[n, N_QUIET] = NS[n, N_QUIET] + 1 if quiet else 0
    c_ins[n, I_X] = geo[GEO_NODE_X][n]
    c_ins[n, I_Y] = geo[GEO_NODE_Y][n]
    if ws >= 0:
        w0 = RING[ws + 1]
        c_ins[n, I_VALID] = 1
        c_ins[n, I_LAST] = K._last(w0)
        c_ins[n, I_VC] = v = K._vc(w0)
        w1 = RING[ws + 2]
        if nk_mutant == M_BODY_BIT and v != 0 and NS[n, N_IN_PKT + v]:
            w1 ^= 1
        NS[n, N_IN_PKT + v] = 1 - K._last(w0)
        link_in[n, 0] = np.uint64(w1)
        if link_in.shape[1] > 1:
            high = (w0 >> W0_HIGH) & _W0_HIGH_MASK
            link_in[n, 1] = np.uint64(0 if nk_mutant == M_HIGH_DROPPED else high)
    else:
        c_ins[n, I_VALID] = 0
        c_ins[n, I_LAST] = 0
        c_ins[n, I_VC] = 0
        link_in[n] = 0
    c_ins[n, I_CREDIT] = (1 << bv) if bv >= 0 else 0
    for p in range(5):
        router_flits[n, p] = NS[n, fl + p]
    co.core_outputs(n, NA, NP, EA, EP, SA, SP, CA, reads)
    if c_out[n, O_VALID]:
        v = c_out[n, O_VC]
        last = c_out[n, O_LAST]
        flit = np.int64(NA[6][6][n, 0])        # the NI's link register (link_tx's link_data)
        high = (np.int64(NA[6][6][n, 1]) & _W0_HIGH_MASK) if link_in.shape[1] > 1 else 0
        slot = N_DST + v
        if NS[n, slot] < 0:                       # a head: its packet's destination
            NS[n, slot] = (flit & cb[1]) | (((flit >> cb[0]) & cb[1]) << 12)
        w0 = NS[n, slot] | (high << W0_HIGH) | (last << 57) | (v << 58)
        if last:
            NS[n, slot] = -1
        K._put_flit(RING, 6 * n, t - 1, P, w0, flit)     # the register of cycle t
        R[n * O[RW] + O[PEND]] += 1
    bits = c_out[n, O_I_CREDIT]
    if bits:
        first = 0
        while not (bits >> first) & 1:
            first += 1
        K._put_credit(CR, 6 * n, t - 1, P, first)
        R[n * O[RW] + O[PEND]] += 1
        if bits != 1 << first:
            NS[n, N_DOUBLES] += 1                 # counted (a test makes them happen)
            if nk_mutant != M_SECOND_CREDIT:
                NS[n, N_EXTRA] = bits & ~(1 << first)
    co.core_clock(n, NA, NP, EA, EP, SA, SP, CA, mutant)


@njit(cache=True, _nrt=False)
def run(steps, t0, P, O, geo, st, scratch, active, NS, cb, NA, NP, EA, EP, SA, SP, CA, reads,
        mutant, nk_mutant, idle):
    """Advance ``steps`` cycles from ``t0``: every active node's core, then its router (the
    network kernel's), then every DieLink (the network kernel's, with its link layer if the
    network has one); returns the new cycle. ``NS``: :data:`NS_WIDTH` words per node;
    ``cb``: (coord_bits, its mask) of the packet format; ``mutant`` the core's,
    ``nk_mutant`` one of :data:`MUTANTS`; ``idle``: the cores' idle shortcut on."""
    R = st[ST_R]
    s = scratch[:SCRATCH]
    t = t0
    for _ in range(steps):
        for k in range(active.shape[0]):
            n = active[k]
            _node(n, t, P, O, geo, st, NS, cb, NA, NP, EA, EP, SA, SP, CA, reads, mutant,
                  nk_mutant, idle)
            rbase = n * O[RW]
            if R[rbase + O[K.OCC]] != 0 or R[rbase + O[PEND]] != 0:
                K._router(n, t, geo[GEO_NODE_X][n], geo[GEO_NODE_Y][n], P, O, geo, st, s, 1, True)
            extra = NS[n, N_EXTRA]
            NS[n, N_EXTRA] = 0
            for v in range(P[VCS]):
                if (extra >> v) & 1:
                    _extra_credit(n, P, O, st, v)
            for p in range(5):
                NS[n, N_FL2 + p] = NS[n, N_FL1 + p]
                NS[n, N_FL1 + p] = R[rbase + O[FL0] + p]
        # the DieLinks after the nodes, as the network kernel's cycle steps them
        for d in range(P[K.DIELINKS]):
            if P[K.LL]:
                K._link_layer(d, t, P, O, geo, st)
            else:
                K._dielink(d, t, P, O, geo, st)
        t += 1
    return t


class NodeKernel:
    """Training nodes (a :class:`sim.netmodel.node.core.NodeCores`) on the routers of a
    :class:`sim.netmodel.network.NetworkModel`, nodes ``active`` stepped.

    Parameters
    ----------
    net : NetworkModel
    cores : NodeCores
        One core per node of ``net`` (index = node index).
    active : sequence of int
        The nodes whose router and core are stepped.
    coord_bits : int
        The packet format's coordinate width (where a head's ``dst_x``/``dst_y`` are).
    mutant : str
        One of :data:`MUTANTS` (tests only).
    idle_shortcut : bool
        Skip a quiescent core while nothing arrives for it (the module docstring); off
        only to hold the shortcut to the stepped run (tests).
    disabled : sequence of int
        The nodes whose compute is fused off (the fault map's disabled nodes): modelled
        as the RTL has them, whole nodes that no workload gives work (their cores sleep),
        so only the mutant ``disabled_tied_off`` reads this.
    """

    def __init__(self, net, cores, active, *, coord_bits, mutant="none", idle_shortcut=True,
                 disabled=()):
        if cores.inputs.shape[0] != net.n_nodes:
            raise ValueError(f"cores has {cores.inputs.shape[0]} nodes, the network "
                             f"{net.n_nodes}")
        words, carried = cores.link_in.shape[1], 64 + W0_HIGH_BITS
        if words > 2 or words == 2 and not (cores.timing_only and cores.control_bits <= carried):
            raise ValueError(f"flits wider than 64 bits are modelled by the node kernel only "
                             f"for timing-only cores whose control bits fit {carried}, not "
                             f"{cores.words} words of which {cores.control_bits} bits control")
        if mutant not in MUTANTS:
            raise ValueError(f"mutant must be one of {', '.join(MUTANTS)}, not {mutant!r}")
        self.mutant = MUTANTS[mutant]
        self.idle_shortcut = bool(idle_shortcut)
        self.net, self.cores = net, cores
        self.active = np.array(active, dtype=np.int64)
        self.ns = np.zeros((net.n_nodes, NS_WIDTH), dtype=np.int64)
        self.ns[:, N_DST:N_DST + 8] = -1
        self.ns[list(disabled), N_DISABLED] = 1
        self.cb = (int(coord_bits), (1 << int(coord_bits)) - 1)

    def wake(self):
        """Step every core again from the next cycle (after a change to a core's state made
        outside the kernel, which a skipped core would not see; SRAM contents alone do not
        need it: a quiescent core reads none)."""
        self.ns[:, N_QUIET] = 0

    def run(self, steps):
        net, c = self.net, self.cores
        if c.sram.data:
            c.sram.reserve(c.sram.nodes * c.sram.wr_en.shape[1] * steps)
        net.t = run(steps, net.t, net.P, net.O, net.geometry, net.state, net.scratch,
                    self.active, self.ns, self.cb, *c._args(), c.reads, c.mutant, self.mutant,
                    self.idle_shortcut)
        c.check()
        return net.t
