"""The compiled cycle loop: every block of the traffic network as numba code over flat arrays.

One call of :func:`run` advances the whole network by ``steps`` clock edges.
Every register the RTL keeps is an array element here; one step computes the
next state of every block from the current one, exactly as the RTL's
synchronous logic does, so blocks can be evaluated in any order.

The kernel is written like the gateware: one step function per block, inlined into the
loop so a block costs no call, and :func:`_cycles` wires them, node by node. The small
ones are ``@njit(inline="always")`` (numba pastes their IR into each caller); the large
ones (:func:`_router`, :func:`_generator`, :func:`_sink`, :func:`_dielink`,
:func:`_link_layer`) are ``forceinline``: typed and compiled once, cached, and their
machine code inlined by LLVM into the three loops that use them (:func:`run`,
:func:`run_parallel`, :func:`sim.netmodel.nodekernel.run`), which numba's IR inlining
made type and lower each again (measured cold: the serial loop's compile 53 -> 17 s,
the threaded one's 75 -> 8 s, the node kernel's 91 -> 66 s; the loops' speed the same):

* **Link pipe** (:func:`_put_flit`, :func:`_flit_at`, :func:`_put_credit`,
  :func:`_credit_at`; every link register and link pipe): a flit written by its sender in
  step ``t`` is the sender's output register during cycle ``t+1``; the receiver
  reads it in step ``t+1+stages``. Each receiving end keeps a ring of ``S``
  slots tagged with the cycle they hold (a slot with another tag is an empty
  register), one for flits and one, at the sending end, for credit pulses (at
  most one VC per cycle on every link of this fabric). Idle senders write nothing.
* **Router** (:func:`_router`, :class:`rtl.net.router.Router`): input FIFOs with bypass, the
  input-first separable allocator with round-robin pointers that advance on a
  grant, output VC locks from head to tail, credit counters updated from the
  registered credit pulses. The RTL registers its allocator requests from the
  next values of the state they read, so they equal the combinational requests
  computed here from the current state.
* **Generator / sink** (:func:`_generator`, :func:`_sink`;
  :class:`rtl.measure.traffic.TrafficGen`, ``TrafficSink``):
  xorshift64 draws, the 8 patterns, the source queue with its bypass, the
  injector, every statistics counter.
* **DieLink** (:func:`_dielink`, :class:`rtl.fabric.dielink.DieLinkChannel`): TX buffer,
  serialiser (one flit every ``ratio`` cycles, round-robin over ready VCs), flight
  ``latency`` each way, RX buffer and its round-robin output.
* **Link layer** (:func:`_link_layer`, :class:`rtl.fabric.dielink_layer.ReliableDieLinkChannel`):
  the DieLink with sequence numbers, CRC error injection, ACK/NAK, replay and the lane
  failure.

Names instead of numbers: the run-time parameters are a tuple ``P`` read as ``P[VCS]``,
the offsets of the state rows a tuple ``O`` read as ``O[GSTAT]``, the fields inside a row
module constants (``G_BUSY``, ``LL_TIMER``, ``KS_MISROUTES``); all of them are generated
by :func:`_define` from the one list of names each (numba folds module globals into the
machine code, and indexes a tuple with a constant for free). The arrays come in three
tuples laid out by the named tuples :class:`Geometry`, :class:`State`, :class:`Trace` and
read the same way (``st[ST_R]``). Everything the kernel
compiles lives in this file: numba's disk cache checks only the file of the function it
caches, so a block or a constant in another module would not recompile it.

Layout: the state of router ``n`` is row ``n`` of ``R`` (32-bit counters, pointers
and flags; its buffered flits are in ``F``, ``(((5n + input) V + VC) D + slot) * 2``),
of generator ``n`` row ``n`` of ``G``, of sink ``n`` row ``n`` of ``K`` (the
kernel sees every array flat, a row as ``base + offset``);
the six flit rings of node ``n`` (router inputs 0-4, then its sink) are rings
``6n .. 6n+5`` and its six credit rings (router outputs 0-4, then its generator)
the same numbers in ``CR``. Nodes are processed in order, so the loop streams
through memory. Offsets inside a row are :func:`layout`'s.

Two shortcuts keep idle parts cheap and stay exact: a router is skipped when
nothing is buffered and nothing is on its way to it (``pend`` counts the flits
and credits in flight towards it); a router whose last allocation granted
nothing is "stuck" until a flit arrives on an empty VC or a credit counter that a
blocked head waits for leaves 0 (``want``), and its allocation is skipped until then.

No reference counting: the kernel allocates nothing, and is compiled without numba's
run-time (``_nrt=False``). With it, every array handed to a step function (inlined or
not) would be reference-counted with atomic operations, which cost more than the routing
itself (and more again when threads share the arrays).

:data:`run` runs on one core; :data:`run_parallel` (the same loop) splits the nodes
into ``chunks`` contiguous ranges, one thread each. Within a step a node writes only
its own rows and ring slots that have one writer each (the sender's slot for cycle
``t+1``), so the threads need no locks and the results are identical; ``pend``,
which senders would update across nodes, is not used then (every router reads its
rings). The DieLinks and the trace run after the nodes, on one thread. The two are
separate functions (not one function compiled twice): numba's disk cache keys a
function by its bytecode, and would hand one's machine code to the other.

Flits are two 64-bit words (the RTL's payload is a function of them, see
:mod:`sim.netmodel.trace`):

* ``w0 = dst_x | dst_y << 12 | index << 24 | length << 32 | marked << 40 |
  seq << 41 | last << 57 | vc << 58``
* ``w1 = src_x | src_y << 12 | timestamp << 24``
"""

from collections import namedtuple

import numpy as np
from numba import njit, prange, uint64

__all__ = ["run", "run_parallel", "quiescent", "layout", "params", "offsets", "Geometry",
           "State", "Trace", "PARAM", "OFFSET", "CTRL", "MUTANTS", "GEN_STATS", "SINK_STATS",
           "LINK_STATS", "LL_FIELDS", "NEVER"]


def _define(names, prefix="", stride=1):
    """``{name: index * stride}`` of a list of field names, and the same as module constants
    ``prefix + NAME`` for the kernel (numba folds module globals into the machine code)."""
    table = {}
    for i, name in enumerate(names):
        const = prefix + name.upper()
        if const in globals():
            raise AssertionError(f"kernel constant {const} defined twice")
        globals()[const] = table[name] = i * stride
    return table


#: the run-time parameters: ``P`` is a tuple of ints in this order (:func:`params`), read as
#: ``P[NODES]``, ``P[VCS]``, ...
PARAM = _define((
    "nodes", "vcs", "depth", "slot_mask", "slots", "yx", "mesh_x", "mesh_y", "queue",
    "max_len", "bins", "bin_cycles", "ts_mask", "ratio", "latency", "rx_depth", "tx_depth",
    "dielinks", "land_mask", "land_slots", "cb_mask", "cb_slots", "mutant", "chunks",
    # the die-link layer (rtl.fabric.dielink_layer); ll = 0: the perfect pipe
    "ll", "ratio_d", "thr", "rthr", "fail_cycle", "replay", "seq_mask", "cnt_mask", "timeout",
    "rev_mask",
    # fault-map mode: table routing (gen.routing tables: die entries per destination die,
    # node entries per node of a die), the generators' live-node rules
    "table", "dies_x", "die_nx", "die_ny", "dies", "die_nodes", "live", "n_live",
    # VC planes (gen.routing.planes): one table set per VC, each source's VC from vc_sel
    "planes"))
#: the offsets of the parts of a state row that depend on the parameters (:func:`layout`):
#: ``O`` is a tuple in this order (:func:`offsets`), read as ``O[GSTAT]``, ...
OFFSET = _define((
    # router: per input (IN_ fields), per (output, VC) (OV_ fields), per output rr pointer,
    # per output link flit counter, then flits buffered, flits and credits on their way to
    # it, stuck (last allocation granted nothing), overflow (sticky), the (output, VC) bits a
    # blocked head waits for; row width
    "in0", "ov0", "or0", "fl0", "occ", "pend", "stuck", "ovf", "want", "rw",
    # generator: credits per VC, statistics (GS_), the queue (descriptor, timestamp); width
    "gcred", "gstat", "gq", "gw",
    # sink: statistics (KS_), latency histogram; width
    "kstat", "khist", "kw",
    # DieLink: TX FIFO width per VC, RX FIFOs, RX FIFO width, remote and downstream
    # credits per VC, DL_ fields, landing ring (LAND_ slots), credit-back ring (CB_ slots)
    "tx", "rx0", "rx", "rem0", "down0", "misc0", "land0", "cb0",
    # link layer: LL_ fields, statistics (LS_), per VC seen / pops counters, replay buffer
    # (w0, w1), reverse control-word ring (RV_ slots); row width
    "ll0", "llst", "seen0", "pops0", "rp0", "rv0", "lw"))
#: deliberately wrong variants of the model (``P[MUTANT]``), for the tests that show
#: the RTL comparison catches a model error
MUTANTS = {"none": 0, "vc_pointer_on_request": 1, "dielink_credit_early": 2,
           "output_pointer_stuck": 3, "replay_pointer_off_by_one": 4,
           # a routing-table entry one port off (set in the tables by NetworkModel)
           "table_entry_off_by_one": 5,
           # VC planes: one source's VC choice for one live destination moved to the next
           # VC (set in vc_sel by NetworkModel)
           "vc_choice_flipped": 6,
           # wrong counts, the behaviour unchanged (the energy's events): a flit out of the
           # local port not counted; a replayed codeword not counted as sent
           "local_flit_uncounted": 7, "replay_uncounted": 8,
           # the window's die-link events: a replay in the window not counted as one; a
           # control word that returns only a credit not counted
           "window_replay_uncounted": 9, "credit_word_uncounted": 10}
#: fields of a ctrl vector (rtl.measure.traffic.control_layout): C_ENABLE, ...
CTRL = _define(("enable", "mark", "rate", "pattern", "packet_len", "seed", "hotspot_x",
                "hotspot_y", "hotspot_frac"), "C_")
#: statistics of a generator (GS_, the fault-map mode's suppressed_dead after them) and of
#: a sink (KS_), in the RTL's order
GEN_STATS = ("generated", "generated_marked", "injected_packets", "injected_flits", "suppressed")
_define(GEN_STATS + ("suppressed_dead",), "GS_")
SINK_STATS = ("packets", "flits", "marked_packets", "marked_flits", "latency_max", "misroutes",
              "integrity_errors", "order_errors", "latency_sum")
_define(SINK_STATS, "KS_")
#: statistics of a die link's link layer (LS_): rtl.fabric.dielink_layer.STAT_NAMES, which
#: sim.netmodel.network checks this copy against (the cache would not see a change there)
LINK_STATS = ("injected", "crc_errors", "seq_drops", "injected_reverse", "ack_errors", "naks",
              "timeouts", "replays", "replayed_flits", "sent", "degraded",
              "window_sent", "window_replayed", "window_control")
_define(LINK_STATS, "LS_")
#: fields of a die link's link-layer state (LL_, at ``O[LL0]`` of its row)
LL_FIELDS = ("next_seq", "sp", "oldest", "timer", "seen_nak", "expected", "nak_state", "nak_count",
             "fwd_lfsr", "rev_lfsr", "cyc", "failed", "fwd_seed", "rev_seed", "here",
             # the RTL's ``window`` input in this cycle: the traffic kernel's loop writes the
             # mesh register's ctrl.mark; it stays 1 (count every cycle) where nothing does
             "window")
_define(LL_FIELDS, "LL_")
# router, per (input, VC) (IV_, PV words from ((input V + VC) PV)): FIFO head, count, inside
# a packet, the packet's route, the FIFO head's route | last << 3
PV = len(_define(("head", "count", "in_pkt", "route", "head_route"), "IV_"))
# router, per input (at O[IN0] + 2 input): rr pointer, flits buffered; per (output, VC) (at
# O[OV0] + 2 (output V + VC)): credits, locked
_define(("rr", "flits"), "IN_")
_define(("credits", "locked"), "OV_")
# generator (G_, then credits at O[GCRED]): sequence number, queue head, queue count, busy
# (inside a packet), its VC, packet sequence number, length, index
GEN_FIELDS = len(_define(("seq", "head", "count", "busy", "vc", "pseq", "length", "index"), "G_"))
# sink, per VC (K_, SINK_FIELDS words from SINK_FIELDS VC): inside a packet, the packet's
# source, sequence number, timestamp, marked, length, index, error so far
SINK_FIELDS = len(_define(("busy", "src", "seq", "ts", "marked", "length", "index", "err"), "K_"))
# DieLink: a FIFO (head, count, then its slots of 2 words), the DL_ fields at O[MISC0] (TX
# serialiser countdown, TX rr, RX output rr, overflow), a landing slot (LAND_), a credit-back
# slot (CB_), a reverse control word (RV_: ack, NAK count, corrupt, then pops per VC)
_define(("head", "count", "slots"), "FIFO_")
DL_FIELDS = len(_define(("busy", "rr", "out_rr", "overflow"), "DL_"))
LAND_W = len(_define(("tag", "w0", "w1", "seq", "corrupt"), "LAND_"))
CB_W = len(_define(("tag", "vc"), "CB_"))
_define(("ack", "nak", "corrupt", "pops"), "RV_")
# the router's scratch row (S_, 5 words each: per input or output)
SCRATCH = len(_define(("arrived", "w0", "w1", "credit", "vc", "out", "last", "bypass",
                       "bypass_route", "won", "route", "requests"), "S_", stride=5)) * 5
#: the tag of a ring slot that never held a flit
NEVER = -(1 << 40)

_LOCAL = 0
_UNIFORM, _HOTSPOT = 0, 7
_M12 = 0xFFF
_M32 = 0xFFFFFFFF
#: a buffered w0 keeps its head's route in bits 61-63; a flit on a link does not
_STRIP = (1 << 61) - 1

#: the kernel's arrays. Geometry (fixed per config): ``turn`` (an int: bit ``5 p + o`` set
#: when input ``p`` may turn to output ``o``), node coordinates, the deterministic
#: patterns' destinations (``det_x[pattern N + n]``), the link stages of every ring, where
#: router output / input ``5 n + p`` delivers its flits / credits (``out_ring``, ``in_cring``)
#: and the router receiving them (``out_rcv``, ``in_csnd``, -1: none), the DieLinks' sending
#: router output and receiving ring, the lowest set bit of every 5-bit mask, the channel
#: feeding every ring (trace names), and the fault-map arrays (one-element dummies without):
#: ``die_tab[n * dies + d]`` and ``node_tab[n * die_nodes + l]`` router ``n``'s
#: ``gen.routing`` entries (VC planes: VC ``v``'s at ``(v N + n) ...``), ``own_die[n]``,
#: ``live_xy`` the live nodes (``x | y << 12``), ``node_live[n]``, ``vc_sel`` a source's VC
#: (``n (die_nodes + dies) + k``: ``k = l`` for a node of its own die, else
#: ``die_nodes + d``, ``gen.routing.source_vc``)
Geometry = namedtuple("Geometry", (
    "turn", "node_x", "node_y", "det_x", "det_y", "ring_stg", "cring_stg", "out_ring",
    "out_rcv", "in_cring", "in_csnd", "dl_in", "dl_out", "first_bit", "ring_chan",
    "die_tab", "node_tab", "own_die", "live_xy", "node_live", "vc_sel"))
#: the state: flit rings (3 words a slot: tag, w0, w1), credit rings (tag, VC), the rows of
#: routers (int32), their buffered flits, generators, their xorshift states, sinks, the
#: sinks' per-source order memories (last sequence number, seen), DieLinks
State = namedtuple("State", ("ring", "cring", "R", "F", "G", "g_xs", "K", "s_last", "s_seen",
                             "L"))
#: the link trace: on, (records, overflowed), cycle, channel, w0, w1 per record
Trace = namedtuple("Trace", ("on", "n", "t", "chan", "w0", "w1"))
# the kernel reads them as ``st[ST_R]``, ``geo[GEO_OUT_RING]``, ``tr[TR_N]`` (a constant
# index): numba's parallel loops lose the writes made through a named tuple's attribute
_define(Geometry._fields, "GEO_")
_define(State._fields, "ST_")
_define(Trace._fields, "TR_")


def params(**values):
    """``P``: the parameter tuple of :data:`PARAM`'s names (every one, nothing else)."""
    missing, unknown = set(PARAM) - set(values), set(values) - set(PARAM)
    if missing or unknown:
        raise ValueError(f"kernel parameters missing: {sorted(missing)}, unknown: "
                         f"{sorted(unknown)}")
    return tuple(int(values[name]) for name in PARAM)


def offsets(lay):
    """``O``: the offset tuple of a :func:`layout`."""
    return tuple(int(lay[name]) for name in OFFSET)


def layout(vcs, depth, queue, bins, tx_depth, rx_depth, land_slots, cb_slots, replay=0,
           rev_slots=0, n_link_stats=0):
    """Offsets of every field in a row of R (router), G (generator), K (sink), L (DieLink)."""
    V = vcs
    o = {"pv": PV}
    o["in0"] = 5 * V * PV
    o["ov0"] = o["in0"] + 10
    o["or0"] = o["ov0"] + 10 * V
    o["fl0"] = o["or0"] + 5
    o["occ"] = o["fl0"] + 5
    o["pend"] = o["occ"] + 1
    o["stuck"] = o["occ"] + 2
    o["ovf"] = o["occ"] + 3
    o["want"] = o["occ"] + 4
    o["rw"] = o["occ"] + 5
    o["gcred"] = GEN_FIELDS
    o["gstat"] = GEN_FIELDS + V
    o["gq"] = o["gstat"] + len(GEN_STATS) + 1       # + the fault-map mode's counter
    o["gw"] = o["gq"] + 2 * queue
    o["kstat"] = SINK_FIELDS * V
    o["khist"] = o["kstat"] + len(SINK_STATS)
    o["kw"] = o["khist"] + bins
    o["tx"] = FIFO_SLOTS + 2 * tx_depth
    o["rx0"] = V * o["tx"]
    o["rx"] = FIFO_SLOTS + 2 * rx_depth
    o["rem0"] = o["rx0"] + V * o["rx"]
    o["down0"] = o["rem0"] + V
    o["misc0"] = o["down0"] + V
    o["land0"] = o["misc0"] + DL_FIELDS
    o["cb0"] = o["land0"] + LAND_W * land_slots
    o["ll0"] = o["cb0"] + CB_W * cb_slots
    o["llst"] = o["ll0"] + len(LL_FIELDS)
    o["seen0"] = o["llst"] + n_link_stats
    o["pops0"] = o["seen0"] + V
    o["rp0"] = o["pops0"] + V
    o["rv0"] = o["rp0"] + 2 * replay
    o["lw"] = o["rv0"] + (RV_POPS + V) * rev_slots
    return o


# ---------------------------------------------------------------- flits


@njit(cache=True, inline="always")
def _vc(w0):
    return (w0 >> 58) & 7


@njit(cache=True, inline="always")
def _last(w0):
    return (w0 >> 57) & 1


# ---------------------------------------------------------------- link pipe


@njit(inline="always")
def _put_flit(RING, ring, t, P, w0, w1):
    """The sender's output register of cycle ``t + 1`` on ``ring`` holds (w0, w1)."""
    ws = 3 * (ring * P[SLOTS] + ((t + 1) & P[SLOT_MASK]))
    RING[ws] = t + 1
    RING[ws + 1] = w0
    RING[ws + 2] = w1


@njit(inline="always")
def _flit_at(RING, ring, tt, P):
    """Index of the slot of ``ring`` holding the flit of cycle ``tt``, or -1."""
    ws = 3 * (ring * P[SLOTS] + (tt & P[SLOT_MASK]))
    return ws if RING[ws] == tt else -1


@njit(inline="always")
def _put_credit(CR, ring, t, P, vc):
    """A credit pulse for ``vc`` on credit ring ``ring`` in cycle ``t + 1``."""
    cs = 2 * (ring * P[SLOTS] + ((t + 1) & P[SLOT_MASK]))
    CR[cs] = t + 1
    CR[cs + 1] = vc


@njit(inline="always")
def _credit_at(CR, ring, tt, P):
    """The VC of the credit pulse on ``ring`` in cycle ``tt``, or -1."""
    cs = 2 * (ring * P[SLOTS] + (tt & P[SLOT_MASK]))
    return CR[cs + 1] if CR[cs] == tt else -1


# ---------------------------------------------------------------- generator


@njit(inline="always")
def _destination(n, xs, P, ctrl, geo):
    """The destination of a new packet at node ``n`` from the draw ``xs``
    (``rtl.measure.traffic.destination`` and the live-node rules)."""
    pat = ctrl[C_PATTERN]
    if pat == _UNIFORM or pat == _HOTSPOT:
        ddx = np.int64(xs & uint64(0x7FF))
        ddy = np.int64((xs >> uint64(16)) & uint64(0x7FF))
        if P[LIVE]:
            # uniform over the live nodes: live[(r * L) >> 22]
            lv = geo[GEO_LIVE_XY][(((ddx << 11) | ddy) * P[N_LIVE]) >> 22]
            dst_x = lv & _M12
            dst_y = lv >> 12
        else:
            dst_x = (ddx * P[MESH_X]) >> 11
            dst_y = (ddy * P[MESH_Y]) >> 11
        if pat == _HOTSPOT:
            hot = np.int64((xs >> uint64(32)) & uint64(0xFF))
            if hot < ctrl[C_HOTSPOT_FRAC]:
                dst_x = ctrl[C_HOTSPOT_X]
                dst_y = ctrl[C_HOTSPOT_Y]
    else:
        dst_x = geo[GEO_DET_X][pat * P[NODES] + n]
        dst_y = geo[GEO_DET_Y][pat * P[NODES] + n]
    return dst_x, dst_y


@njit(inline="always")
def _source_vc(n, hdx, hdy, P, geo):
    """The VC of a head from node ``n`` to (hdx, hdy): ``gen.routing.source_vc`` with VC
    planes, else ``(dst_x + dst_y) mod V``."""
    if P[PLANES]:
        DNX, DNY, DNODES = P[DIE_NX], P[DIE_NY], P[DIE_NODES]
        hdd = (hdy // DNY) * P[DIES_X] + hdx // DNX
        row = n * (DNODES + P[DIES])
        if hdd == geo[GEO_OWN_DIE][n]:
            return geo[GEO_VC_SEL][row + (hdy % DNY) * DNX + hdx % DNX]
        return geo[GEO_VC_SEL][row + DNODES + hdd]
    sv = hdx + hdy
    while sv >= P[VCS]:
        sv -= P[VCS]
    return sv


@njit(cache=True, _nrt=False, forceinline=True)
def _generator(n, t, x, y, P, O, ctrl, geo, st):
    """The traffic generator of node ``n`` (``rtl.measure.traffic.TrafficGen``): the draw,
    the source queue with its bypass, the injector into router ``n``'s local input (ring
    ``6 n``), the statistics."""
    G, RING = st[ST_G], st[ST_RING]
    Q, tsm, mx = P[QUEUE], P[TS_MASK], P[MESH_X]
    en, mk = ctrl[C_ENABLE], ctrl[C_MARK]
    plen = ctrl[C_PACKET_LEN]
    if plen == 0:
        plen = 1
    elif plen > P[MAX_LEN]:
        plen = P[MAX_LEN]
    gbase = n * O[GW]
    gcred = gbase + O[GCRED]
    gstat = gbase + O[GSTAT]
    xs = st[ST_G_XS][n]
    if en:
        rate_draw = np.int64(xs >> uint64(48))
        fire = rate_draw < ctrl[C_RATE]
    else:
        fire = False
    # credit pulse from the router's local input
    back_g = _credit_at(st[ST_CRING], 6 * n + 5, t, P)
    dst_x = 0
    dst_y = 0
    if fire and P[LIVE] and geo[GEO_NODE_LIVE][n] == 0:
        fire = False                    # a source that is not live is off
    if fire:
        dst_x, dst_y = _destination(n, xs, P, ctrl, geo)
        # a destination that is not live (a deterministic pattern's, or a hotspot that is
        # not live) is not generated: counted in suppressed_dead, no sequence number, no
        # queue slot
        if P[LIVE] and (dst_x >= mx or dst_y >= P[MESH_Y]
                        or geo[GEO_NODE_LIVE][dst_y * mx + dst_x] == 0):
            fire = False
            G[gstat + GS_SUPPRESSED_DEAD] += 1
    # next random state
    if en:
        xs ^= xs << uint64(13)
        xs ^= xs >> uint64(7)
        xs ^= xs << uint64(17)
    else:
        sd = (ctrl[C_SEED] ^ ((y * mx + x) & 0xFFFF)) & 0xFFFF
        lane = uint64(((~sd) & 0xFFFF) | (sd << 16))
        xs = lane | (lane << uint64(32))
    st[ST_G_XS][n] = xs
    qc = G[gbase + G_COUNT]
    send = False
    bypassed = False
    head_flit = False
    gw0 = np.int64(0)
    gw1 = np.int64(0)
    sv = 0
    if G[gbase + G_BUSY]:                               # busy: the rest of a packet
        sv = G[gbase + G_VC]
        if G[gcred + sv] != 0:
            send = True
            idx = G[gbase + G_INDEX]
            last = 1 if idx + 1 == G[gbase + G_LENGTH] else 0
            gw0 = (idx << 24) | (G[gbase + G_LENGTH] << 32) | (G[gbase + G_PSEQ] << 41) \
                | (last << 57) \
                | (np.int64(sv) << 58)
            gw1 = x | (y << 12)
            G[gbase + G_INDEX] = idx + 1
            if last:
                G[gbase + G_BUSY] = 0
    elif qc > 0 or fire:                                # a head: the oldest descriptor
        if qc > 0:
            qi = O[GQ] + 2 * G[gbase + G_HEAD]
            a = G[gbase + qi]
            hdx = a & _M12
            hdy = (a >> 12) & _M12
            hmk = (a >> 24) & 1
            hseq = (a >> 25) & 0xFFFF
            hts = G[gbase + qi + 1]
        else:
            hdx = dst_x
            hdy = dst_y
            hmk = mk
            hseq = G[gbase + G_SEQ]
            hts = t & tsm
        sv = _source_vc(n, hdx, hdy, P, geo)
        if G[gcred + sv] != 0:
            send = True
            head_flit = True
            last = 1 if plen == 1 else 0
            gw0 = hdx | (hdy << 12) | (plen << 32) | (hmk << 40) | (hseq << 41) \
                | (last << 57) | (np.int64(sv) << 58)
            gw1 = x | (y << 12) | (hts << 24)
            if qc > 0:
                hd = G[gbase + G_HEAD] + 1
                G[gbase + G_HEAD] = hd if hd < Q else 0
                G[gbase + G_COUNT] = qc - 1
            else:
                bypassed = True
            G[gbase + G_BUSY] = 1 if plen != 1 else 0
            G[gbase + G_VC] = sv
            G[gbase + G_PSEQ] = hseq
            G[gbase + G_LENGTH] = plen
            G[gbase + G_INDEX] = 1
    if fire:
        if bypassed:
            accepted = True
        elif qc < Q:
            # the queue takes the descriptor (behind a possible pop this cycle)
            pos = G[gbase + G_HEAD] + G[gbase + G_COUNT]
            qi = O[GQ] + 2 * (pos - Q if pos >= Q else pos)
            G[gbase + qi] = dst_x | (dst_y << 12) | (mk << 24) | (G[gbase + G_SEQ] << 25)
            G[gbase + qi + 1] = t & tsm
            G[gbase + G_COUNT] += 1
            accepted = True
        else:
            accepted = False
            G[gstat + GS_SUPPRESSED] += 1
        if accepted:
            G[gbase + G_SEQ] = (G[gbase + G_SEQ] + 1) & 0xFFFF
            G[gstat + GS_GENERATED] += 1
            if mk:
                G[gstat + GS_GENERATED_MARKED] += 1
    if back_g >= 0:
        G[gcred + back_g] += 1
    if send:
        G[gcred + sv] -= 1
        G[gstat + GS_INJECTED_FLITS] += 1
        if head_flit:
            G[gstat + GS_INJECTED_PACKETS] += 1
        _put_flit(RING, 6 * n, t, P, gw0, gw1)         # the router's local input ring
        st[ST_R][n * O[RW] + O[PEND]] += 1


# ---------------------------------------------------------------- router


@njit(cache=True, inline="always")
def _route(p, w0, x, y, yx, turn):
    """Output port of a head on input ``p`` at (x, y): rtl.net.router.Router._route.

    ``turn`` is a bit mask: bit ``5 p + o`` set when input ``p`` may turn to output ``o``.
    """
    dx = w0 & _M12
    dy = (w0 >> 12) & _M12
    for k in range(2):
        along_x = (k == 0) != (yx == 1)
        if along_x:
            if dx > x and (turn >> (p * 5 + 2)) & 1:
                return 2            # east
            if dx < x and (turn >> (p * 5 + 4)) & 1:
                return 4            # west
        else:
            if dy > y and (turn >> (p * 5 + 3)) & 1:
                return 3            # south
            if dy < y and (turn >> (p * 5 + 1)) & 1:
                return 1            # north
    return _LOCAL


@njit(inline="always")
def _table_route(n, p, w0, P, geo):
    """Output port of a head on input ``p`` of router ``n`` in table mode:
    ``gen.routing.output_port`` of the router's tables (docs/table_mode.md)."""
    tdx = w0 & _M12
    tdy = (w0 >> 12) & _M12
    if tdx >= P[MESH_X] or tdy >= P[MESH_Y]:
        return _LOCAL
    DNX, DNY = P[DIE_NX], P[DIE_NY]
    tdd = (tdy // DNY) * P[DIES_X] + tdx // DNX
    tn = n + _vc(w0) * P[NODES] if P[PLANES] else n
    ne = geo[GEO_NODE_TAB][tn * P[DIE_NODES] + (tdy % DNY) * DNX + tdx % DNX]
    if tdd == geo[GEO_OWN_DIE][n]:
        tr = ne
    else:
        de = geo[GEO_DIE_TAB][tn * P[DIES] + tdd]
        if ((de & 8) != 0 and (ne == 2 or ne == 4)) or \
                ((de & 16) != 0 and (ne == 1 or ne == 3)):
            tr = ne
        else:
            tr = de & 7
    # a U-turn (back through the input) ejects instead
    return _LOCAL if (tr == p and p != 0) else tr


@njit(inline="always")
def _router_inputs(n, t, x, y, P, O, geo, st, s):
    """The registers arriving at router ``n`` in cycle ``t``: a flit (and its route as a
    head) and a credit pulse per port, into the scratch row ``s``. Returns (a flit
    arrived, a credit arrived)."""
    RING, R = st[ST_RING], st[ST_R]
    rpend = n * O[RW] + O[PEND]
    any_in = False
    credit_in = False
    for p in range(5):
        s[S_ARRIVED + p] = 0
        ring = 6 * n + p
        ws = _flit_at(RING, ring, t - geo[GEO_RING_STG][ring], P)
        if ws >= 0:
            aw0 = RING[ws + 1]
            s[S_ARRIVED + p] = 1
            s[S_W0 + p] = aw0
            s[S_W1 + p] = RING[ws + 2]
            any_in = True
            R[rpend] -= 1
            # the route of the arriving flit as a head (kept next to it)
            if P[TABLE]:
                s[S_ROUTE + p] = _table_route(n, p, aw0, P, geo)
            else:
                s[S_ROUTE + p] = _route(p, aw0, x, y, P[YX], geo[GEO_TURN])
        # credit pulse from downstream on output p
        bv = _credit_at(st[ST_CRING], ring, t - geo[GEO_CRING_STG][ring], P)
        s[S_CREDIT + p] = bv
        if bv >= 0:
            R[rpend] -= 1
            credit_in = True
    return any_in, credit_in


@njit(inline="always")
def _allocate(n, t, P, O, geo, st, s, count_links, use_pend):
    """The allocator of router ``n``: each input offers one eligible VC (round robin from its
    pointer), each output grants the first requesting input at or after its pointer; the
    winners' flits go out (their output registers of cycle t + 1). Returns (granted, the
    (output, VC) bits a blocked head waits for)."""
    R, F = st[ST_R], st[ST_F]
    V, D, mutant = P[VCS], P[DEPTH], P[MUTANT]
    rbase = n * O[RW]
    granted = False
    want = 0
    # first stage: each input offers one eligible VC; requests[o]: inputs asking o
    for o in range(5):
        s[S_REQUESTS + o] = 0
    for p in range(5):
        s[S_VC + p] = -1                        # offered VC
        arr = s[S_ARRIVED + p]
        if R[rbase + O[IN0] + 2 * p + IN_FLITS] == 0 and not arr:
            continue
        aw0 = s[S_W0 + p]
        avc = _vc(aw0) if arr else -1
        if arr:
            # the route it takes if it bypasses: its packet's inside one, else its own
            # (S_ROUTE, computed on arrival)
            ab = (p * V + avc) * PV
            s[S_BYPASS_ROUTE + p] = R[rbase + ab + IV_ROUTE] if R[rbase + ab + IV_IN_PKT] \
                else s[S_ROUTE + p]
        ptr = R[rbase + O[IN0] + 2 * p + IN_RR]
        for k in range(V):
            v = ptr + k
            if v >= V:
                v -= V
            b = (p * V + v) * PV
            if R[rbase + b + IV_COUNT] > 0:
                hrl = R[rbase + b + IV_HEAD_ROUTE]
                r = R[rbase + b + IV_ROUTE] if R[rbase + b + IV_IN_PKT] else hrl & 7
                last = hrl >> 3
                byp = 0
            elif avc == v:
                r = s[S_BYPASS_ROUTE + p]
                last = _last(aw0)
                byp = 1
            else:
                continue
            oi = O[OV0] + 2 * (r * V + v)
            if R[rbase + oi + OV_CREDITS] == 0:
                want |= 1 << (r * V + v)
            elif R[rbase + b + IV_IN_PKT] or R[rbase + oi + OV_LOCKED] == 0:
                s[S_VC + p] = v
                s[S_OUT + p] = r
                s[S_LAST + p] = last
                s[S_BYPASS + p] = byp
                s[S_REQUESTS + r] |= 1 << p
                if mutant == 1:
                    R[rbase + O[IN0] + 2 * p + IN_RR] = v + 1 if v + 1 < V else 0
                break
    # second stage: each output grants the first requesting input at or after its pointer
    # (round robin), then the pointer moves past it
    for p in range(5):
        s[S_WON + p] = 0
    for o in range(5):
        mask = s[S_REQUESTS + o]
        if mask == 0:
            continue
        ptr = R[rbase + O[OR0] + o]
        hi = (mask >> ptr) << ptr
        win = geo[GEO_FIRST_BIT][hi] if hi else geo[GEO_FIRST_BIT][mask]
        if mutant != 3:
            R[rbase + O[OR0] + o] = win + 1 if win < 4 else 0
        s[S_WON + win] = 1
        granted = True
        v = s[S_VC + win]
        if s[S_BYPASS + win]:
            w0 = s[S_W0 + win]
            w1 = s[S_W1 + win]
        else:
            b = (win * V + v) * PV
            fh = (((5 * n + win) * V + v) * D + R[rbase + b + IV_HEAD]) * 2
            w0 = F[fh] & _STRIP
            w1 = F[fh + 1]
        oi = O[OV0] + 2 * (o * V + v)
        R[rbase + oi + OV_CREDITS] -= 1
        R[rbase + oi + OV_LOCKED] = 1 - s[S_LAST + win]
        if count_links and not (mutant == 7 and o == _LOCAL):
            R[rbase + O[FL0] + o] += 1
        c = 5 * n + o
        _put_flit(st[ST_RING], geo[GEO_OUT_RING][c], t, P, w0, w1)
        if geo[GEO_OUT_RCV][c] >= 0:
            if use_pend:
                R[geo[GEO_OUT_RCV][c] * O[RW] + O[PEND]] += 1
    return granted, want


@njit(inline="always")
def _input_buffers(n, t, P, O, geo, st, s, use_pend):
    """The input side of router ``n``: arrivals are written to their FIFO unless they
    bypassed, winners pop and send a credit upstream."""
    R, F = st[ST_R], st[ST_F]
    V, D = P[VCS], P[DEPTH]
    rbase = n * O[RW]
    for p in range(5):
        won = s[S_WON + p]
        if s[S_ARRIVED + p] and not (won and s[S_BYPASS + p]):
            aw0 = s[S_W0 + p]
            avc = _vc(aw0)
            b = (p * V + avc) * PV
            cnt = R[rbase + b + IV_COUNT]
            if cnt == D:
                R[rbase + O[OVF]] = 1
            else:
                pos = R[rbase + b + IV_HEAD] + cnt
                if pos >= D:
                    pos -= D
                fh = (((5 * n + p) * V + avc) * D + pos) * 2
                F[fh] = aw0 | (s[S_ROUTE + p] << 61)
                F[fh + 1] = s[S_W1 + p]
                if cnt == 0:
                    R[rbase + b + IV_HEAD_ROUTE] = s[S_ROUTE + p] | (_last(aw0) << 3)
                R[rbase + b + IV_COUNT] = cnt + 1
                R[rbase + O[IN0] + 2 * p + IN_FLITS] += 1
                R[rbase + O[OCC]] += 1
        if won:
            v = s[S_VC + p]
            b = (p * V + v) * PV
            if not s[S_BYPASS + p]:
                hd = R[rbase + b + IV_HEAD] + 1
                if hd == D:
                    hd = 0
                R[rbase + b + IV_HEAD] = hd
                R[rbase + b + IV_COUNT] -= 1
                if R[rbase + b + IV_COUNT] > 0:         # the next head's route, last
                    nw0 = F[(((5 * n + p) * V + v) * D + hd) * 2]
                    R[rbase + b + IV_HEAD_ROUTE] = ((nw0 >> 61) & 7) | (_last(nw0) << 3)
                R[rbase + O[IN0] + 2 * p + IN_FLITS] -= 1
                R[rbase + O[OCC]] -= 1
            R[rbase + b + IV_IN_PKT] = 1 - s[S_LAST + p]
            R[rbase + b + IV_ROUTE] = s[S_OUT + p]
            c = 5 * n + p
            _put_credit(st[ST_CRING], geo[GEO_IN_CRING][c], t, P, v)
            if geo[GEO_IN_CSND][c] >= 0:
                if use_pend:
                    R[geo[GEO_IN_CSND][c] * O[RW] + O[PEND]] += 1
            R[rbase + O[IN0] + 2 * p + IN_RR] = v + 1 if v + 1 < V else 0


@njit(cache=True, _nrt=False, forceinline=True)
def _router(n, t, x, y, P, O, geo, st, s, count_links, use_pend):
    """Router ``n`` (``rtl.net.router.Router``) in cycle ``t``; ``s`` is its scratch row."""
    R = st[ST_R]
    rbase = n * O[RW]
    any_in, credit_in = _router_inputs(n, t, x, y, P, O, geo, st, s)
    # A router whose last allocation granted nothing ("stuck") grants nothing again until a
    # candidate appears (a flit arriving on an empty VC) or a credit counter a blocked
    # candidate waits for leaves 0 (``want``, checked below when the credit lands): until
    # then its allocation is skipped and arrivals queue behind the blocked heads (exactly
    # what the RTL does).
    wake = R[rbase + O[STUCK]] == 0
    if not wake and any_in:
        for p in range(5):
            if s[S_ARRIVED + p] and \
                    R[rbase + (p * P[VCS] + _vc(s[S_W0 + p])) * PV + IV_COUNT] == 0:
                wake = True
    allocate = (R[rbase + O[OCC]] != 0 or any_in) and wake
    granted = False
    want = 0
    if allocate:
        granted, want = _allocate(n, t, P, O, geo, st, s, count_links, use_pend)
    elif any_in:
        for p in range(5):
            s[S_WON + p] = 0
    if allocate or any_in:
        _input_buffers(n, t, P, O, geo, st, s, use_pend)
    if allocate:
        R[rbase + O[STUCK]] = 0 if granted else 1
        R[rbase + O[WANT]] = want
    if credit_in:
        for o in range(5):
            bv = s[S_CREDIT + o]
            if bv >= 0:
                oi = O[OV0] + 2 * (o * P[VCS] + bv)
                # usable from the next cycle: wake up if a blocked head waits for it
                if R[rbase + oi + OV_CREDITS] == 0 and (R[rbase + O[WANT]] >> (o * P[VCS] + bv)) & 1:
                    R[rbase + O[STUCK]] = 0
                R[rbase + oi + OV_CREDITS] += 1


# ---------------------------------------------------------------- sink


@njit(cache=True, _nrt=False, forceinline=True)
def _sink(n, t, x, y, P, O, st):
    """The traffic sink of node ``n`` (``rtl.measure.traffic.TrafficSink``): takes the flit
    of router ``n``'s local output (ring ``6 n + 5``), returns its credit, checks order and
    integrity, counts latency."""
    RING, K = st[ST_RING], st[ST_K]
    mx, tsm = P[MESH_X], P[TS_MASK]
    ws = _flit_at(RING, 6 * n + 5, t, P)
    if ws < 0:
        return
    kbase = n * O[KW]
    kstat = kbase + O[KSTAT]
    w0 = RING[ws + 1]
    w1 = RING[ws + 2]
    v = _vc(w0)
    last = _last(w0)
    _put_credit(st[ST_CRING], 6 * n, t, P, v)               # to the router's local output
    st[ST_R][n * O[RW] + O[PEND]] += 1
    si = kbase + SINK_FIELDS * v
    if K[si + K_BUSY] == 0:
        src = w1 & 0xFFFFFF
        pseq = (w0 >> 41) & 0xFFFF
        pts = (w1 >> 24) & tsm
        pmk = (w0 >> 40) & 1
        plen_h = (w0 >> 32) & 0xFF
        pidx = 0
        sx = src & _M12
        sy = src >> 12
        outside = sx >= mx or sy >= P[MESH_Y]
        perr = 1 if (plen_h == 0 or outside) else 0
        if (w0 & _M12) != x or ((w0 >> 12) & _M12) != y:
            K[kstat + KS_MISROUTES] += 1
        if not outside:
            a = n * P[NODES] + sy * mx + sx
            if st[ST_S_SEEN][a]:
                diff = (pseq - st[ST_S_LAST][a]) & 0xFFFF
                if diff == 0 or diff >= 0x8000:
                    K[kstat + KS_ORDER_ERRORS] += 1
            st[ST_S_SEEN][a] = 1
            st[ST_S_LAST][a] = pseq
    else:
        src = K[si + K_SRC]
        pseq = K[si + K_SEQ]
        pts = K[si + K_TS]
        pmk = K[si + K_MARKED]
        plen_h = K[si + K_LENGTH]
        pidx = K[si + K_INDEX]
        # the body payload is a function of (src, seq, index): compare those
        ok = (w1 & 0xFFFFFF) == src and ((w0 >> 41) & 0xFFFF) == pseq \
            and ((w0 >> 24) & 0xFF) == (pidx & 0xFF)
        perr = K[si + K_ERR] | (0 if ok else 1)
    K[si + K_BUSY] = 1 - last
    K[si + K_SRC] = src
    K[si + K_SEQ] = pseq
    K[si + K_TS] = pts
    K[si + K_MARKED] = pmk
    K[si + K_LENGTH] = plen_h
    K[si + K_INDEX] = (pidx + 1) & 0x1FF
    K[si + K_ERR] = perr
    K[kstat + KS_FLITS] += 1
    if pmk:
        K[kstat + KS_MARKED_FLITS] += 1
    if last:
        K[kstat + KS_PACKETS] += 1
        if perr or pidx + 1 != plen_h:
            K[kstat + KS_INTEGRITY_ERRORS] += 1
        if pmk:
            latency = (t - pts) & tsm
            K[kstat + KS_MARKED_PACKETS] += 1
            K[kstat + KS_LATENCY_SUM] += latency
            if latency > K[kstat + KS_LATENCY_MAX]:
                K[kstat + KS_LATENCY_MAX] = latency
            b = latency // P[BIN_CYCLES]
            if b > P[BINS] - 1:
                b = P[BINS] - 1
            K[kbase + O[KHIST] + b] += 1


# ---------------------------------------------------------------- DieLink


@njit(inline="always")
def _pick(L, fifo0, width, credit0, ptr, V):
    """Round robin from ``ptr`` over the VCs whose FIFO (at ``fifo0 + v width``) holds a flit
    and whose credit counter (at ``credit0 + v``) is not 0; -1: none."""
    for k in range(V):
        v = ptr + k
        if v >= V:
            v -= V
        if L[fifo0 + v * width + FIFO_COUNT] != 0 and L[credit0 + v] != 0:
            return v
    return -1


@njit(inline="always")
def _fifo_push(L, lbase, fifo, depth, w0, w1):
    """Append (w0, w1) to the FIFO at ``lbase + fifo`` (room checked by the caller)."""
    cnt = L[lbase + fifo + FIFO_COUNT]
    pos = L[lbase + fifo + FIFO_HEAD] + cnt
    h = fifo + FIFO_SLOTS + 2 * (pos - depth if pos >= depth else pos)
    L[lbase + h] = w0
    L[lbase + h + 1] = w1
    L[lbase + fifo + FIFO_COUNT] = cnt + 1


@njit(inline="always")
def _fifo_pop(L, lbase, fifo, depth):
    """Remove and return the head (w0, w1) of the FIFO at ``lbase + fifo``."""
    h = fifo + FIFO_SLOTS + 2 * L[lbase + fifo + FIFO_HEAD]
    w0 = L[lbase + h]
    w1 = L[lbase + h + 1]
    hd = L[lbase + fifo + FIFO_HEAD] + 1
    L[lbase + fifo + FIFO_HEAD] = hd if hd < depth else 0
    L[lbase + fifo + FIFO_COUNT] -= 1
    return w0, w1


@njit(inline="always")
def _tx_arrival(d, t, P, O, st):
    """The flit the sending router wrote to DieLink ``d`` (ring ``6 N + d``) into its VC's TX
    FIFO; a full FIFO sets the overflow flag."""
    L, RING = st[ST_L], st[ST_RING]
    lbase = d * O[LW]
    ws = _flit_at(RING, 6 * P[NODES] + d, t, P)
    if ws >= 0:
        aw0 = RING[ws + 1]
        tb = _vc(aw0) * O[TX]
        if L[lbase + tb + FIFO_COUNT] == P[TX_DEPTH]:
            L[lbase + O[MISC0] + DL_OVERFLOW] = 1
        else:
            _fifo_push(L, lbase, tb, P[TX_DEPTH], aw0, RING[ws + 2])


@njit(inline="always")
def _tx_pop(d, t, pick, P, O, geo, st):
    """Take the head of TX FIFO ``pick`` of DieLink ``d`` for the serialiser: its remote
    credit is spent, a credit pulse goes back to the sending router. Returns (w0, w1)."""
    L = st[ST_L]
    lbase = d * O[LW]
    w0, w1 = _fifo_pop(L, lbase, pick * O[TX], P[TX_DEPTH])
    L[lbase + O[REM0] + pick] -= 1
    cin = geo[GEO_DL_IN][d]                  # the sending router output (5 a + o)
    a_node = cin // 5
    _put_credit(st[ST_CRING], 6 * a_node + cin - 5 * a_node, t, P, pick)
    st[ST_R][a_node * O[RW] + O[PEND]] += 1
    return w0, w1


@njit(inline="always")
def _rx_pop(d, t, opick, P, O, geo, st):
    """The RX output of DieLink ``d``: the head of RX FIFO ``opick`` into the receiving
    router's input register of cycle t + 1, spending a downstream credit."""
    L = st[ST_L]
    lbase = d * O[LW]
    L[lbase + O[MISC0] + DL_OUT_RR] = opick + 1 if opick + 1 < P[VCS] else 0
    w0, w1 = _fifo_pop(L, lbase, O[RX0] + opick * O[RX], P[RX_DEPTH])
    cout = geo[GEO_DL_OUT][d]                # the receiving router's input ring
    _put_flit(st[ST_RING], cout, t, P, w0, w1)
    st[ST_R][(cout // 6) * O[RW] + O[PEND]] += 1
    L[lbase + O[DOWN0] + opick] -= 1


@njit(inline="always")
def _downstream_credit(d, t, P, O, st):
    """A credit pulse of the receiving router (credit ring ``6 N + d``) back to DieLink ``d``."""
    bv = _credit_at(st[ST_CRING], 6 * P[NODES] + d, t, P)
    if bv >= 0:
        st[ST_L][d * O[LW] + O[DOWN0] + bv] += 1


@njit(inline="always")
def _land(L, lbase, at, w0, w1, sq, fe, O, P):
    """A codeword in flight: it lands at the receiver in cycle ``at``."""
    ls = lbase + O[LAND0] + LAND_W * (at & P[LAND_MASK])
    L[ls + LAND_TAG] = at
    L[ls + LAND_W0] = w0
    L[ls + LAND_W1] = w1
    L[ls + LAND_SEQ] = sq
    L[ls + LAND_CORRUPT] = fe


@njit(cache=True, _nrt=False, forceinline=True)
def _dielink(d, t, P, O, geo, st):
    """DieLink ``d`` (``rtl.fabric.dielink.DieLinkChannel``), the perfect pipe: TX FIFOs, the
    serialiser (one flit every ``ratio`` cycles), ``latency`` each way, RX FIFOs and their
    round-robin output under the receiving router's credits."""
    L = st[ST_L]
    V, ratio, lat = P[VCS], P[RATIO], P[LATENCY]
    lbase = d * O[LW]
    misc = lbase + O[MISC0]
    # TX: serialiser start from the registered buffer counts
    pick = _pick(L, lbase, O[TX], lbase + O[REM0], L[misc + DL_RR], V)
    start = pick >= 0 and L[misc + DL_BUSY] <= 1
    if L[misc + DL_BUSY] != 0:
        L[misc + DL_BUSY] -= 1
    _tx_arrival(d, t, P, O, st)
    if start:
        L[misc + DL_BUSY] = ratio
        L[misc + DL_RR] = pick + 1 if pick + 1 < V else 0
        w0, w1 = _tx_pop(d, t, pick, P, O, geo, st)
        ls = lbase + O[LAND0] + LAND_W * ((t + ratio + lat) & P[LAND_MASK])
        L[ls + LAND_TAG] = t + ratio + lat
        L[ls + LAND_W0] = w0
        L[ls + LAND_W1] = w1
    cs = lbase + O[CB0] + CB_W * (t & P[CB_MASK])
    if L[cs + CB_TAG] == t:
        L[lbase + O[REM0] + L[cs + CB_VC]] += 1
    # RX: round-robin output under the receiving router's credits
    opick = _pick(L, lbase + O[RX0], O[RX], lbase + O[DOWN0], L[misc + DL_OUT_RR], V)
    ls = lbase + O[LAND0] + LAND_W * (t & P[LAND_MASK])
    if L[ls + LAND_TAG] == t:
        lw0 = L[ls + LAND_W0]
        _fifo_push(L, lbase, O[RX0] + _vc(lw0) * O[RX], P[RX_DEPTH], lw0, L[ls + LAND_W1])
    if opick >= 0:
        _rx_pop(d, t, opick, P, O, geo, st)
        back_at = t + 1 + lat - (1 if P[MUTANT] == 2 else 0)
        cs = lbase + O[CB0] + CB_W * (back_at & P[CB_MASK])
        L[cs + CB_TAG] = back_at
        L[cs + CB_VC] = opick
    _downstream_credit(d, t, P, O, st)


@njit(inline="always")
def _xorshift32(x):
    x = x ^ ((x << 13) & _M32)
    x ^= x >> 17
    return x ^ ((x << 5) & _M32)


@njit(cache=True, _nrt=False, forceinline=True)
def _link_layer(d, t, P, O, geo, st):
    """DieLink ``d`` with the link layer (``rtl.fabric.dielink_layer``): sequence numbers,
    the replay buffer, error injection (xorshift32 below a threshold), ACK/NAK control
    words on the reverse lane ``latency`` behind, the timeout, the lane failure; the
    ``window_*`` counters count the cycles its ``LL_WINDOW`` is set."""
    L = st[ST_L]
    V, ratio, lat, SQM = P[VCS], P[RATIO], P[LATENCY], P[SEQ_MASK]
    RP, FAILC, mutant = P[REPLAY], P[FAIL_CYCLE], P[MUTANT]
    RVW = RV_POPS + V
    lbase = d * O[LW]
    misc = lbase + O[MISC0]
    ll = lbase + O[LL0]
    ls_ = lbase + O[LLST]
    win = L[ll + LL_WINDOW] != 0
    # the reverse control word of this cycle, from the RX registers
    rxs = L[ll + LL_REV_LFSR]
    rcor = 0
    if rxs != 0 and rxs < P[RTHR]:
        rcor = 1
        L[ls_ + LS_INJECTED_REVERSE] += 1
    rs = lbase + O[RV0] + RVW * ((t + lat) & P[REV_MASK])
    L[rs + RV_ACK] = L[ll + LL_EXPECTED]
    L[rs + RV_NAK] = L[ll + LL_NAK_COUNT]
    L[rs + RV_CORRUPT] = rcor
    for v in range(V):
        L[rs + RV_POPS + v] = L[lbase + O[POPS0] + v]
    # link TX, from the registers
    nseq = L[ll + LL_NEXT_SEQ]
    sp = L[ll + LL_SP]
    old = L[ll + LL_OLDEST]
    replaying = sp != nseq
    room = ((nseq - old) & SQM) < RP
    busy = L[misc + DL_BUSY]
    pick = _pick(L, lbase, O[TX], lbase + O[REM0], L[misc + DL_RR], V)
    start = (replaying or (pick >= 0 and room)) and busy <= 1
    fxs = L[ll + LL_FWD_LFSR]
    failed = L[ll + LL_FAILED]
    cyc = L[ll + LL_CYC]
    if busy != 0:
        L[misc + DL_BUSY] = busy - 1
    _tx_arrival(d, t, P, O, st)
    if start:
        fe = 1 if (fxs != 0 and fxs < P[THR]) else 0
        if (FAILC >= 0 and L[ll + LL_HERE] != 0 and failed == 0 and cyc <= FAILC
                and cyc + ratio > FAILC):
            fe = 1
        r = P[RATIO_D] if failed else ratio
        L[misc + DL_BUSY] = r
        if not (mutant == 8 and replaying):
            L[ls_ + LS_SENT] += 1
        L[ls_ + LS_INJECTED] += fe
        if win:
            if not (mutant == 8 and replaying):
                L[ls_ + LS_WINDOW_SENT] += 1
            if replaying and mutant != 9:
                L[ls_ + LS_WINDOW_REPLAYED] += 1
        if replaying:
            L[ls_ + LS_REPLAYED_FLITS] += 1
            rp = lbase + O[RP0] + 2 * (sp & (RP - 1))
            sw0 = L[rp]
            sw1 = L[rp + 1]
            sq = sp
        else:
            L[misc + DL_RR] = pick + 1 if pick + 1 < V else 0
            sw0, sw1 = _tx_pop(d, t, pick, P, O, geo, st)
            sq = nseq
            rp = lbase + O[RP0] + 2 * (nseq & (RP - 1))
            L[rp] = sw0
            L[rp + 1] = sw1
            L[ll + LL_NEXT_SEQ] = (nseq + 1) & SQM
        _land(L, lbase, t + r + lat, sw0, sw1, sq, fe, O, P)
    # link TX: the control word that lands now
    rs = lbase + O[RV0] + RVW * (t & P[REV_MASK])
    ack = old
    nak_new = False
    if L[rs + RV_CORRUPT] != 0:
        L[ls_ + LS_ACK_ERRORS] += 1
    else:
        for v in range(V):
            pv = L[rs + RV_POPS + v]
            L[lbase + O[REM0] + v] += (pv - L[lbase + O[SEEN0] + v]) & P[CNT_MASK]
            L[lbase + O[SEEN0] + v] = pv
        ack = L[rs + RV_ACK]
        nak_new = L[rs + RV_NAK] != L[ll + LL_SEEN_NAK]
        L[ll + LL_SEEN_NAK] = L[rs + RV_NAK]
    timer = L[ll + LL_TIMER]
    expired = timer == P[TIMEOUT]
    trigger = nak_new or expired
    if trigger or ack != old or ((nseq - old) & SQM) == 0:
        L[ll + LL_TIMER] = 0
    else:
        L[ll + LL_TIMER] = timer + 1
    sp_after = (sp + (1 if start else 0)) & SQM
    if trigger or ((ack - old) & SQM) > ((sp_after - old) & SQM):
        # the mutant replays from one flit after the oldest unacked
        L[ll + LL_SP] = (ack + 1) & SQM if (mutant == 4 and trigger) else ack
    else:
        L[ll + LL_SP] = sp_after
    L[ll + LL_OLDEST] = ack
    if nak_new:
        L[ls_ + LS_NAKS] += 1
    if expired:
        L[ls_ + LS_TIMEOUTS] += 1
    if trigger:
        L[ls_ + LS_REPLAYS] += 1
    # link RX: round-robin output from the registers, then the landing codeword
    opick = _pick(L, lbase + O[RX0], O[RX], lbase + O[DOWN0], L[misc + DL_OUT_RR], V)
    ls = lbase + O[LAND0] + LAND_W * (t & P[LAND_MASK])
    news = False                # the next control word differs: an ACK, a NAK or a credit
    if L[ls + LAND_TAG] == t:
        sq = L[ls + LAND_SEQ]
        exp = L[ll + LL_EXPECTED]
        good = False
        hole = False
        if L[ls + LAND_CORRUPT] != 0:
            L[ls_ + LS_CRC_ERRORS] += 1
            hole = True
        elif sq == exp:
            good = True
        else:
            L[ls_ + LS_SEQ_DROPS] += 1
            dist = (sq - exp) & SQM
            hole = dist != 0 and dist <= (SQM >> 1)
        if good:
            lw0 = L[ls + LAND_W0]
            _fifo_push(L, lbase, O[RX0] + _vc(lw0) * O[RX], P[RX_DEPTH], lw0, L[ls + LAND_W1])
            L[ll + LL_EXPECTED] = (exp + 1) & SQM
            L[ll + LL_NAK_STATE] = 0
            news = True
        elif hole and L[ll + LL_NAK_STATE] == 0:
            L[ll + LL_NAK_STATE] = 1
            L[ll + LL_NAK_COUNT] = (L[ll + LL_NAK_COUNT] + 1) & 3
            news = True
    if opick >= 0 and mutant != 10:
        news = True
    if news and win:
        L[ls_ + LS_WINDOW_CONTROL] += 1
    if opick >= 0:
        _rx_pop(d, t, opick, P, O, geo, st)
        L[lbase + O[POPS0] + opick] = (L[lbase + O[POPS0] + opick] + 1) & P[CNT_MASK]
    _downstream_credit(d, t, P, O, st)
    # the injectors and the lane-failure registers
    L[ll + LL_FWD_LFSR] = L[ll + LL_FWD_SEED] if fxs == 0 else _xorshift32(fxs)
    L[ll + LL_REV_LFSR] = L[ll + LL_REV_SEED] if rxs == 0 else _xorshift32(rxs)
    if FAILC >= 0:
        if failed == 0:
            L[ll + LL_CYC] = cyc + 1
        if L[ll + LL_HERE] != 0 and cyc == FAILC:
            L[ll + LL_FAILED] = 1
    L[ls_ + LS_DEGRADED] = L[ll + LL_FAILED]


# ---------------------------------------------------------------- trace, ctrl


@njit(inline="always")
def _trace(t, P, geo, st, tr):
    """Record every output register that holds a flit in cycle t + 1 (written this step)."""
    RING = st[ST_RING]
    for ring in range(geo[GEO_RING_CHAN].shape[0]):
        ws = _flit_at(RING, ring, t + 1, P)
        if ws >= 0:
            k = tr[TR_N][0]
            if k < tr[TR_T].shape[0]:
                tr[TR_T][k] = t + 1
                tr[TR_CHAN][k] = geo[GEO_RING_CHAN][ring]
                tr[TR_W0][k] = RING[ws + 1]
                tr[TR_W1][k] = RING[ws + 2]
                tr[TR_N][0] = k + 1
            else:
                tr[TR_N][1] = 1             # overflow: the trace is incomplete


@njit(inline="always")
def _ctrl_word(q2):
    """The ctrl word as the generators see it (two registers behind the top-level input),
    a tuple read with the C_ constants (``q2`` holds it in :data:`CTRL` order)."""
    return (q2[0], q2[1], q2[2], q2[3], q2[4], q2[5], q2[6], q2[7], q2[8])


@njit(inline="always")
def _ctrl_registers(top, q1, q2):
    """The ctrl registers move one stage."""
    for i in range(q2.shape[0]):
        q2[i] = q1[i]
        q1[i] = top[i]


# ---------------------------------------------------------------- the cycle loop


@njit(inline="always")
def _cycles(steps, t0, P, O, top, q1, q2, geo, st, tr, scratch):
    """Advance ``steps`` cycles from cycle ``t0``: every node's generator, router and sink,
    then the DieLinks, the trace and the ctrl registers. Returns the new cycle."""
    N, chunks = P[NODES], P[CHUNKS]
    # one thread per chunk of nodes (run_parallel): then nothing is written across nodes but
    # a ring slot with one writer each, so ``pend`` (counted by the senders) is not used
    use_pend = chunks == 1
    R = st[ST_R]
    t = t0
    for _ in range(steps):
        ctrl = _ctrl_word(q2)
        count_links = top[C_MARK]       # the mesh register holds it from the next cycle on
        for chunk in prange(chunks):
            s = scratch[SCRATCH * chunk:SCRATCH * (chunk + 1)]
            for n in range(chunk * N // chunks, (chunk + 1) * N // chunks):
                x = geo[GEO_NODE_X][n]
                y = geo[GEO_NODE_Y][n]
                _generator(n, t, x, y, P, O, ctrl, geo, st)
                # skipped when nothing is buffered and no flit or credit is on its way to it
                rbase = n * O[RW]
                if not use_pend or R[rbase + O[OCC]] != 0 or R[rbase + O[PEND]] != 0:
                    _router(n, t, x, y, P, O, geo, st, s, count_links, use_pend)
                _sink(n, t, x, y, P, O, st)
        for d in range(P[DIELINKS]):
            if P[LL]:
                # the RTL's window input: ctrl.mark in the register every die's mesh has
                st[ST_L][d * O[LW] + O[LL0] + LL_WINDOW] = q1[C_MARK]
                _link_layer(d, t, P, O, geo, st)
            else:
                _dielink(d, t, P, O, geo, st)
        if tr[TR_ON]:
            _trace(t, P, geo, st, tr)
        _ctrl_registers(top, q1, q2)
        t += 1
    return t


@njit(cache=True, _nrt=False)
def run(steps, t0, P, O, top, q1, q2, geo, st, tr, scratch):
    """Advance ``steps`` cycles from cycle ``t0`` on one core; returns the new cycle.

    ``P`` and ``O`` are :func:`params` and :func:`offsets`; ``top`` is the ctrl word at the
    top-level input during these cycles, ``q1`` (the mesh's input register) and ``q2`` (the
    generator's) its delayed copies, updated in place; ``geo``, ``st``, ``tr`` tuples in the
    order of :class:`Geometry`, :class:`State`, :class:`Trace`; ``scratch`` :data:`SCRATCH` words per
    thread.
    """
    return _cycles(steps, t0, P, O, top, q1, q2, geo, st, tr, scratch)


@njit(cache=True, parallel=True, _nrt=False)
def run_parallel(steps, t0, P, O, top, q1, q2, geo, st, tr, scratch):
    """:func:`run` with one thread per chunk of nodes (``P[CHUNKS]``); the same results."""
    return _cycles(steps, t0, P, O, top, q1, q2, geo, st, tr, scratch)


@njit(cache=True, _nrt=False)
def quiescent(t, P, O, q1, q2, top, geo, st):
    """True when no flit is anywhere and no generator can start one: every statistic is frozen."""
    if top[C_ENABLE] or q1[C_ENABLE] or q2[C_ENABLE]:
        return False
    R, G, L, RING = st[ST_R], st[ST_G], st[ST_L], st[ST_RING]
    for n in range(P[NODES]):
        if R[n * O[RW] + O[OCC]] or G[n * O[GW] + G_COUNT] or G[n * O[GW] + G_BUSY]:
            return False
    for ring in range(geo[GEO_RING_STG].shape[0]):
        for k in range(P[SLOTS]):
            if RING[3 * (ring * P[SLOTS] + k)] >= t - geo[GEO_RING_STG][ring]:
                return False
    for d in range(P[DIELINKS]):
        lbase = d * O[LW]
        for v in range(P[VCS]):
            if L[lbase + v * O[TX] + FIFO_COUNT] or \
                    L[lbase + O[RX0] + v * O[RX] + FIFO_COUNT]:
                return False
        for k in range(P[LAND_SLOTS]):
            if L[lbase + O[LAND0] + LAND_W * k + LAND_TAG] >= t:
                return False
    return True
