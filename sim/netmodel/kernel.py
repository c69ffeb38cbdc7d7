"""The compiled cycle loop: every block of the traffic network as numba code over flat arrays.

One call of :func:`run` advances the whole network by ``steps`` clock edges.
Every register the RTL keeps is an array element here; one step computes the
next state of every block from the current one, exactly as the RTL's
synchronous logic does, so blocks can be evaluated in any order.

* **Rings** (every link register and link pipe): a flit written by its sender in
  step ``t`` is the sender's output register during cycle ``t+1``; the receiver
  reads it in step ``t+1+stages``. Each receiving end keeps a ring of ``S``
  slots tagged with the cycle they hold (a slot with another tag is an empty
  register), one for flits and one, at the sending end, for credit pulses (at
  most one VC per cycle on every link of this fabric). Idle senders write nothing.
* **Router** (:class:`rtl.net.router.Router`): input FIFOs with bypass, the
  input-first separable allocator with round-robin pointers that advance on a
  grant, output VC locks from head to tail, credit counters updated from the
  registered credit pulses. The RTL registers its allocator requests from the
  next values of the state they read, so they equal the combinational requests
  computed here from the current state.
* **Generator / sink** (:class:`rtl.measure.traffic.TrafficGen`, ``TrafficSink``):
  xorshift64 draws, the 8 patterns, the source queue with its bypass, the
  injector, every statistics counter.
* **DieLink** (:class:`rtl.fabric.dielink.DieLinkChannel`): TX buffer, serialiser
  (one flit every ``ratio`` cycles, round-robin over ready VCs), flight
  ``latency`` each way, RX buffer and its round-robin output.

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

No array is passed to a function inside the loop: numba reference-counts array
arguments with atomic operations, which cost more than the routing itself.

:data:`run` runs on one core; :data:`run_parallel` (the same code) splits the nodes
into ``chunks`` contiguous ranges, one thread each. Within a step a node writes only
its own rows and ring slots that have one writer each (the sender's slot for cycle
``t+1``), so the threads need no locks and the results are identical; ``pend``,
which senders would update across nodes, is not used then (every router reads its
rings). The DieLinks and the trace run after the nodes, on one thread.

Flits are two 64-bit words (the RTL's payload is a function of them, see
:mod:`sim.netmodel.trace`):

* ``w0 = dst_x | dst_y << 12 | index << 24 | length << 32 | marked << 40 |
  seq << 41 | last << 57 | vc << 58``
* ``w1 = src_x | src_y << 12 | timestamp << 24``
"""

import numpy as np
from numba import njit, prange, uint64

__all__ = ["run", "quiescent", "layout", "PARAM", "CTRL", "MUTANTS", "GEN_STATS",
           "SINK_STATS", "NEVER"]

#: indices of the integer parameter vector
PARAM = {name: i for i, name in enumerate((
    "nodes", "vcs", "depth", "slot_mask", "slots", "yx", "mesh_x", "mesh_y", "queue",
    "max_len", "bins", "bin_cycles", "ts_mask", "ratio", "latency", "rx_depth", "tx_depth",
    "dielinks", "land_mask", "land_slots", "cb_mask", "cb_slots", "mutant", "chunks",
    # the die-link layer (rtl.fabric.dielink_layer); ll = 0: the perfect pipe
    "ll", "ratio_d", "thr", "rthr", "fail_cycle", "replay", "seq_mask", "cnt_mask", "timeout",
    "rev_mask",
    # fault-map mode: table routing (gen.routing tables: die entries per destination die,
    # node entries per node of a die), the generators' live-node rules, the counter of
    # packets a deterministic pattern would send to a node that is not live
    "table", "dies_x", "die_nx", "die_ny", "dies", "die_nodes", "live", "n_live", "sup_stat",
    # VC planes (gen.vc_planes): one table set per VC, each source's VC from vc_sel
    "planes"))}
#: deliberately wrong variants of the model (``PARAM["mutant"]``), for the tests that show
#: the RTL comparison catches a model error
MUTANTS = {"none": 0, "vc_pointer_on_request": 1, "dielink_credit_early": 2,
           "output_pointer_stuck": 3, "replay_pointer_off_by_one": 4,
           # a routing-table entry one port off (set in the tables by NetworkModel)
           "table_entry_off_by_one": 5,
           # VC planes: one source's VC choice for one live destination moved to the next
           # VC (set in vc_sel by NetworkModel)
           "vc_choice_flipped": 6}
#: fields of a die link's link-layer state (offset ``ll0`` of its row)
LL_FIELDS = ("next_seq", "sp", "oldest", "timer", "seen_nak", "expected", "nak_state", "nak_count",
             "fwd_lfsr", "rev_lfsr", "cyc", "failed", "fwd_seed", "rev_seed", "here")
#: fields of a ctrl vector (rtl.measure.traffic.control_layout)
CTRL = {name: i for i, name in enumerate((
    "enable", "mark", "rate", "pattern", "packet_len", "seed", "hotspot_x", "hotspot_y",
    "hotspot_frac"))}
GEN_STATS = ("generated", "generated_marked", "injected_packets", "injected_flits", "suppressed")
SINK_STATS = ("packets", "flits", "marked_packets", "marked_flits", "latency_max", "misroutes",
              "integrity_errors", "order_errors", "latency_sum")
#: the tag of a ring slot that never held a flit
NEVER = -(1 << 40)

_LOCAL = 0
_UNIFORM, _HOTSPOT = 0, 7
_M12 = 0xFFF
#: a buffered w0 keeps its head's route in bits 61-63; a flit on a link does not
_STRIP = (1 << 61) - 1


def layout(vcs, depth, queue, bins, tx_depth, rx_depth, land_slots, cb_slots, replay=0,
           rev_slots=0, n_link_stats=0):
    """Offsets of every field in a row of R (router), G (generator), K (sink), L (DieLink)."""
    V, D = vcs, depth
    o = {}
    # per (input, VC): head, count, in_pkt, packet route, the FIFO head's route | last << 3
    o["pv"] = 5
    o["in0"] = 5 * V * o["pv"]                # per input: rr pointer, flits buffered
    o["ov0"] = o["in0"] + 10                  # per (output, VC): credits, locked
    o["or0"] = o["ov0"] + 10 * V              # per output: rr pointer
    o["fl0"] = o["or0"] + 5                   # per output: link flit counter
    o["occ"] = o["fl0"] + 5                   # flits buffered in the router
    o["pend"] = o["occ"] + 1                  # flits and credits on their way to it
    o["stuck"] = o["occ"] + 2                 # last allocation granted nothing
    o["ovf"] = o["occ"] + 3                   # buffer overflow (sticky)
    o["want"] = o["occ"] + 4                  # (output, VC) bits a blocked head waits for
    o["rw"] = o["occ"] + 5
    # generator: seq, queue head, count, busy, vc, packet seq, length, index, credits,
    # statistics, then the queue (descriptor, timestamp)
    o["gcred"] = 8
    o["gstat"] = 8 + V
    o["gq"] = o["gstat"] + len(GEN_STATS) + 1       # + the fault-map mode's counter
    o["gw"] = o["gq"] + 2 * queue
    # sink: per VC busy, src, seq, ts, marked, length, index, err; statistics; histogram
    o["kstat"] = 8 * V
    o["khist"] = o["kstat"] + len(SINK_STATS)
    o["kw"] = o["khist"] + bins
    # DieLink: per VC TX FIFO (head, count, T x 2), RX FIFO (head, count, R x 2); remote
    # and downstream credits; busy, rr, output rr, overflow; flight ring; credit ring
    o["tx"] = 2 + 2 * tx_depth
    o["rx0"] = V * o["tx"]
    o["rx"] = 2 + 2 * rx_depth
    o["rem0"] = o["rx0"] + V * o["rx"]
    o["down0"] = o["rem0"] + V
    o["misc0"] = o["down0"] + V
    o["land0"] = o["misc0"] + 4
    o["cb0"] = o["land0"] + 5 * land_slots          # landing slot: tag, w0, w1, seq, corrupt
    # link layer: LL_FIELDS, statistics, per VC seen / pops counters, replay buffer (w0, w1),
    # reverse control-word ring (ack, nak count, corrupt, pops per VC)
    o["ll0"] = o["cb0"] + 2 * cb_slots
    o["llst"] = o["ll0"] + len(LL_FIELDS)
    o["seen0"] = o["llst"] + n_link_stats
    o["pops0"] = o["seen0"] + V
    o["rp0"] = o["pops0"] + V
    o["rv0"] = o["rp0"] + 2 * replay
    o["lw"] = o["rv0"] + (3 + V) * rev_slots
    return o


@njit(cache=True, inline="always")
def _vc(w0):
    return (w0 >> 58) & 7


@njit(cache=True, inline="always")
def _last(w0):
    return (w0 >> 57) & 1


@njit(cache=True, inline="always")
def _route(p, w0, x, y, yx, turn):
    """Output port of a head on input ``p`` at (x, y): rtl.net.router.Router._route.

    ``turn`` is a bit mask: bit ``5 p + o`` set when input ``p`` may turn to output ``o``.
    (Scalars only: an array argument would cost reference counting on every call.)
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


def _run(steps, t0, P, top, q1, q2, turn, node_x, node_y, det_x, det_y, ring_stg, cring_stg,
        out_ring, out_rcv, in_cring, in_csnd, dl_in, dl_out, first_bit, ring_chan, O,
        die_tab, node_tab, own_die, live_xy, node_live, vc_sel,
        RING, CR, R, F, G, g_xs, K, s_last, s_seen, L,
        trace, tr_n, tr_t, tr_c, tr_w0, tr_w1, scratch):
    """Advance ``steps`` cycles from cycle ``t0``; returns the new cycle.

    ``top`` is the ctrl word at the top-level input during these cycles; ``q1``
    (the mesh's input register) and ``q2`` (the generator's) are its delayed
    copies and are updated in place. ``O`` holds :func:`layout`'s offsets.

    Fault-map mode (``P["table"]``, ``P["live"]``): ``die_tab[n * dies + d]`` and
    ``node_tab[n * die_nodes + l]`` are router ``n``'s ``gen.routing`` entries,
    ``own_die[n]`` its die; ``live_xy`` the live nodes (``x | y << 12``, ascending id),
    ``node_live[n]`` 1 for a live node. VC planes (``P["planes"]``): VC ``v``'s tables at
    ``(v * N + n) * dies + d`` and ``(v * N + n) * die_nodes + l``, and a source's VC is
    ``vc_sel[n * (die_nodes + dies) + k]``, ``k = l`` for a node of its own die, else
    ``die_nodes + d`` (``gen.vc_planes.source_vc``). Without it they are one-element dummies. The
    RTL's choices (docs/table_mode.md): a table route back through the input port (a
    U-turn, never in checked tables) ejects to local; a destination that is not live
    counts in the generator's ``suppressed_dead`` (statistics word ``sup_stat``).
    """
    N = P[0]
    V = P[1]
    D = P[2]
    SM = P[3]
    S = P[4]
    yx = P[5]
    mx = P[6]
    my = P[7]
    Q = P[8]
    maxlen = P[9]
    bins = P[10]
    binc = P[11]
    tsm = P[12]
    ratio = P[13]
    lat = P[14]
    RXD = P[15]
    TXD = P[16]
    ND = P[17]
    LM = P[18]
    LS = P[19]
    CM = P[20]
    CS = P[21]
    mutant = P[22]
    PV, IN0, OV0, OR0, FL0 = O[0], O[1], O[2], O[3], O[4]
    OCC, PEND, STUCK, OVF = O[5], O[6], O[7], O[8]
    WANT = OVF + 1
    GCRED, GSTAT, GQ = O[9], O[10], O[11]
    KSTAT, KHIST = O[12], O[13]
    TXW, RX0, RXW, REM0, DOWN0, MISC0, LAND0, CB0 = O[14], O[15], O[16], O[17], O[18], \
        O[19], O[20], O[21]
    RW, GW, KW, LW = O[22], O[23], O[24], O[25]
    chunks = P[23]
    LLON, RATIO_D, THR, RTHR, FAILC = P[24], P[25], P[26], P[27], P[28]
    RP, SQM, CNTM, TOUT, RVM = P[29], P[30], P[31], P[32], P[33]
    LL0, LLST, SEEN0, POPS0, RP0, RV0 = O[26], O[27], O[28], O[29], O[30], O[31]
    RVW = 3 + V
    M32 = 0xFFFFFFFF
    TABLE, DXS, DNX, DNY, DIES, DNODES = P[34], P[35], P[36], P[37], P[38], P[39]
    LIVE, NLIVE, SUP = P[40], P[41], P[42]
    PLANES = P[43]
    # one thread per chunk of nodes (run_parallel): then nothing is written across nodes but
    # a ring slot with one writer each, so ``pend`` (counted by the senders) is not used
    use_pend = chunks == 1
    t = t0
    for _ in range(steps):
        # ctrl as the generators see it (two registers behind the top-level input)
        en = q2[0]
        mk = q2[1]
        rate = q2[2]
        pat = q2[3]
        plen = q2[4]
        if plen == 0:
            plen = 1
        elif plen > maxlen:
            plen = maxlen
        seed = q2[5]
        hx = q2[6]
        hy = q2[7]
        frac = q2[8]
        count_links = top[1]           # the mesh register holds it from the next cycle on
        for chunk in prange(chunks):
            s_arr = scratch[64 * chunk:64 * chunk + 64]
            for n in range(chunk * N // chunks, (chunk + 1) * N // chunks):
                x = node_x[n]
                y = node_y[n]
                rbase = n * RW
                gbase = n * GW
                kbase = n * KW
                rb = 6 * n                 # this node's rings
                # ---------------- generator ----------------
                xs = g_xs[n]
                if en:
                    rate_draw = np.int64(xs >> uint64(48))
                    fire = rate_draw < rate
                else:
                    fire = False
                # credit pulse from the router's local input
                slot = (rb + 5) * S + (t & SM)
                back_g = CR[2 * slot + 1] if CR[2 * slot + 0] == t else -1
                dst_x = 0
                dst_y = 0
                if fire and LIVE and node_live[n] == 0:
                    fire = False                    # a source that is not live is off
                if fire:
                    if pat == _UNIFORM or pat == _HOTSPOT:
                        ddx = np.int64(xs & uint64(0x7FF))
                        ddy = np.int64((xs >> uint64(16)) & uint64(0x7FF))
                        if LIVE:
                            # uniform over the live nodes: live[(r * L) >> 22]
                            lv = live_xy[(((ddx << 11) | ddy) * NLIVE) >> 22]
                            dst_x = lv & _M12
                            dst_y = lv >> 12
                        else:
                            dst_x = (ddx * mx) >> 11
                            dst_y = (ddy * my) >> 11
                        if pat == _HOTSPOT:
                            hot = np.int64((xs >> uint64(32)) & uint64(0xFF))
                            if hot < frac:
                                dst_x = hx
                                dst_y = hy
                    else:
                        dst_x = det_x[pat * N + n]
                        dst_y = det_y[pat * N + n]
                    # a destination that is not live (a deterministic pattern's, or a
                    # hotspot that is not live) is not generated: counted in
                    # suppressed_dead, no sequence number, no queue slot
                    if LIVE and (dst_x >= mx or dst_y >= my
                                 or node_live[dst_y * mx + dst_x] == 0):
                        fire = False
                        G[gbase + GSTAT + SUP] += 1
                # next random state
                if en:
                    xs ^= xs << uint64(13)
                    xs ^= xs >> uint64(7)
                    xs ^= xs << uint64(17)
                else:
                    s = (seed ^ ((y * mx + x) & 0xFFFF)) & 0xFFFF
                    lane = uint64(((~s) & 0xFFFF) | (s << 16))
                    xs = lane | (lane << uint64(32))
                g_xs[n] = xs
                qc = G[gbase + 2]
                send = False
                bypassed = False
                head_flit = False
                gw0 = np.int64(0)
                gw1 = np.int64(0)
                sv = 0
                if G[gbase + 3]:                                   # busy: the rest of a packet
                    sv = G[gbase + 4]
                    if G[gbase + GCRED + sv] != 0:
                        send = True
                        idx = G[gbase + 7]
                        last = 1 if idx + 1 == G[gbase + 6] else 0
                        gw0 = (idx << 24) | (G[gbase + 6] << 32) | (G[gbase + 5] << 41) \
                            | (last << 57) \
                            | (np.int64(sv) << 58)
                        gw1 = x | (y << 12)
                        G[gbase + 7] = idx + 1
                        if last:
                            G[gbase + 3] = 0
                elif qc > 0 or fire:                        # a head: the oldest descriptor
                    if qc > 0:
                        qi = GQ + 2 * G[gbase + 1]
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
                        hseq = G[gbase + 0]
                        hts = t & tsm
                    if PLANES:
                        hdd = (hdy // DNY) * DXS + hdx // DNX
                        if hdd == own_die[n]:
                            sv = vc_sel[n * (DNODES + DIES) + (hdy % DNY) * DNX + hdx % DNX]
                        else:
                            sv = vc_sel[n * (DNODES + DIES) + DNODES + hdd]
                    else:
                        sv = hdx + hdy
                        while sv >= V:
                            sv -= V
                    if G[gbase + GCRED + sv] != 0:
                        send = True
                        head_flit = True
                        last = 1 if plen == 1 else 0
                        gw0 = hdx | (hdy << 12) | (plen << 32) | (hmk << 40) | (hseq << 41) \
                            | (last << 57) | (np.int64(sv) << 58)
                        gw1 = x | (y << 12) | (hts << 24)
                        if qc > 0:
                            hd = G[gbase + 1] + 1
                            G[gbase + 1] = hd if hd < Q else 0
                            G[gbase + 2] = qc - 1
                        else:
                            bypassed = True
                        G[gbase + 3] = 1 if plen != 1 else 0
                        G[gbase + 4] = sv
                        G[gbase + 5] = hseq
                        G[gbase + 6] = plen
                        G[gbase + 7] = 1
                if fire:
                    if bypassed:
                        accepted = True
                    elif qc < Q:
                        # the queue takes the descriptor (behind a possible pop this cycle)
                        pos = G[gbase + 1] + G[gbase + 2]
                        qi = GQ + 2 * (pos - Q if pos >= Q else pos)
                        G[gbase + qi] = dst_x | (dst_y << 12) | (mk << 24) | (G[gbase + 0] << 25)
                        G[gbase + qi + 1] = t & tsm
                        G[gbase + 2] += 1
                        accepted = True
                    else:
                        accepted = False
                        G[gbase + GSTAT + 4] += 1                  # suppressed
                    if accepted:
                        G[gbase + 0] = (G[gbase + 0] + 1) & 0xFFFF
                        G[gbase + GSTAT + 0] += 1
                        if mk:
                            G[gbase + GSTAT + 1] += 1
                if back_g >= 0:
                    G[gbase + GCRED + back_g] += 1
                if send:
                    G[gbase + GCRED + sv] -= 1
                    G[gbase + GSTAT + 3] += 1
                    if head_flit:
                        G[gbase + GSTAT + 2] += 1
                    ws = 3 * (rb * S + ((t + 1) & SM))         # the router's local input ring
                    RING[ws] = t + 1
                    RING[ws + 1] = gw0
                    RING[ws + 2] = gw1
                    R[rbase + PEND] += 1

                # ---------------- router ----------------
                # skipped when nothing is buffered and no flit or credit is on its way to it
                if not use_pend or R[rbase + OCC] != 0 or R[rbase + PEND] != 0:
                    any_in = False
                    credit_in = False
                    for p in range(5):
                        s_arr[p] = 0
                        ring = rb + p
                        tt = t - ring_stg[ring]
                        slot = ring * S + (tt & SM)
                        if RING[3 * slot + 0] == tt:
                            aw0 = RING[3 * slot + 1]
                            s_arr[p] = 1
                            s_arr[5 + p] = aw0
                            s_arr[10 + p] = RING[3 * slot + 2]
                            any_in = True
                            R[rbase + PEND] -= 1
                            # the route of the arriving flit as a head (kept next to it)
                            if TABLE:
                                # gen.routing.output_port, inlined (tables are arrays)
                                tdx = aw0 & _M12
                                tdy = (aw0 >> 12) & _M12
                                if tdx >= mx or tdy >= my:
                                    s_arr[50 + p] = _LOCAL
                                else:
                                    tdd = (tdy // DNY) * DXS + tdx // DNX
                                    tn = n + _vc(aw0) * N if PLANES else n
                                    ne = node_tab[tn * DNODES + (tdy % DNY) * DNX + tdx % DNX]
                                    if tdd == own_die[n]:
                                        tr = ne
                                    else:
                                        de = die_tab[tn * DIES + tdd]
                                        if ((de & 8) != 0 and (ne == 2 or ne == 4)) or \
                                                ((de & 16) != 0 and (ne == 1 or ne == 3)):
                                            tr = ne
                                        else:
                                            tr = de & 7
                                    # a U-turn (back through the input) ejects instead
                                    s_arr[50 + p] = _LOCAL if (tr == p and p != 0) else tr
                            else:
                                s_arr[50 + p] = _route(p, aw0, x, y, yx, turn)
                        # credit pulse from downstream on output p
                        tt = t - cring_stg[ring]
                        slot = ring * S + (tt & SM)
                        if CR[2 * slot + 0] == tt:
                            s_arr[15 + p] = CR[2 * slot + 1]
                            R[rbase + PEND] -= 1
                            credit_in = True
                        else:
                            s_arr[15 + p] = -1
                    # A router whose last allocation granted nothing ("stuck") grants nothing
                    # again until a candidate appears (a flit arriving on an empty VC) or a
                    # credit counter a blocked candidate waits for leaves 0 (``WANT``, checked
                    # below when the credit lands): until then its allocation is skipped and
                    # arrivals queue behind the blocked heads (exactly what the RTL does).
                    wake = R[rbase + STUCK] == 0
                    if not wake and any_in:
                        for p in range(5):
                            if s_arr[p] and R[rbase + (p * V + _vc(s_arr[5 + p])) * PV + 1] == 0:
                                wake = True
                    allocate = (R[rbase + OCC] != 0 or any_in) and wake
                    if allocate:
                        granted = False
                        want = 0
                        # first stage: each input offers one eligible VC; req[o]: inputs asking o
                        for o in range(5):
                            s_arr[55 + o] = 0
                        for p in range(5):
                            s_arr[20 + p] = -1                      # offered VC
                            arr = s_arr[p]
                            if R[rbase + IN0 + 2 * p + 1] == 0 and not arr:
                                continue
                            aw0 = s_arr[5 + p]
                            avc = _vc(aw0) if arr else -1
                            if arr:
                                # the route it takes if it bypasses: its packet's inside one,
                                # else its own (s_arr[50 + p], computed on arrival)
                                ab = (p * V + avc) * PV
                                s_arr[40 + p] = R[rbase + ab + 3] if R[rbase + ab + 2] \
                                    else s_arr[50 + p]
                            ptr = R[rbase + IN0 + 2 * p]
                            for k in range(V):
                                v = ptr + k
                                if v >= V:
                                    v -= V
                                b = (p * V + v) * PV
                                if R[rbase + b + 1] > 0:
                                    hrl = R[rbase + b + 4]
                                    r = R[rbase + b + 3] if R[rbase + b + 2] else hrl & 7
                                    last = hrl >> 3
                                    byp = 0
                                elif avc == v:
                                    r = s_arr[40 + p]
                                    last = _last(aw0)
                                    byp = 1
                                else:
                                    continue
                                oi = OV0 + 2 * (r * V + v)
                                if R[rbase + oi] == 0:
                                    want |= 1 << (r * V + v)
                                elif R[rbase + b + 2] or R[rbase + oi + 1] == 0:
                                    s_arr[20 + p] = v
                                    s_arr[25 + p] = r
                                    s_arr[30 + p] = last
                                    s_arr[35 + p] = byp
                                    s_arr[55 + r] |= 1 << p
                                    if mutant == 1:
                                        R[rbase + IN0 + 2 * p] = v + 1 if v + 1 < V else 0
                                    break
                        # second stage: each output grants the first requesting input at or
                        # after its pointer (round robin), then the pointer moves past it
                        for p in range(5):
                            s_arr[45 + p] = 0                       # won
                        for o in range(5):
                            mask = s_arr[55 + o]
                            if mask == 0:
                                continue
                            ptr = R[rbase + OR0 + o]
                            hi = (mask >> ptr) << ptr
                            win = first_bit[hi] if hi else first_bit[mask]
                            if mutant != 3:
                                R[rbase + OR0 + o] = win + 1 if win < 4 else 0
                            s_arr[45 + win] = 1
                            granted = True
                            v = s_arr[20 + win]
                            if s_arr[35 + win]:
                                w0 = s_arr[5 + win]
                                w1 = s_arr[10 + win]
                            else:
                                b = (win * V + v) * PV
                                fh = (((5 * n + win) * V + v) * D + R[rbase + b]) * 2
                                w0 = F[fh] & _STRIP
                                w1 = F[fh + 1]
                            oi = OV0 + 2 * (o * V + v)
                            R[rbase + oi] -= 1
                            R[rbase + oi + 1] = 1 - s_arr[30 + win]
                            if count_links:
                                R[rbase + FL0 + o] += 1
                            c = 5 * n + o
                            ws = 3 * (out_ring[c] * S + ((t + 1) & SM))
                            RING[ws] = t + 1
                            RING[ws + 1] = w0
                            RING[ws + 2] = w1
                            if out_rcv[c] >= 0:
                                if use_pend:
                                    R[out_rcv[c] * RW + PEND] += 1
                    elif any_in:
                        for p in range(5):
                            s_arr[45 + p] = 0
                    if allocate or any_in:
                        # input side: arrivals are written unless they bypassed, winners pop
                        for p in range(5):
                            won = s_arr[45 + p]
                            if s_arr[p] and not (won and s_arr[35 + p]):
                                aw0 = s_arr[5 + p]
                                avc = _vc(aw0)
                                b = (p * V + avc) * PV
                                cnt = R[rbase + b + 1]
                                if cnt == D:
                                    R[rbase + OVF] = 1
                                else:
                                    pos = R[rbase + b] + cnt
                                    if pos >= D:
                                        pos -= D
                                    fh = (((5 * n + p) * V + avc) * D + pos) * 2
                                    F[fh] = aw0 | (s_arr[50 + p] << 61)
                                    F[fh + 1] = s_arr[10 + p]
                                    if cnt == 0:
                                        R[rbase + b + 4] = s_arr[50 + p] | (_last(aw0) << 3)
                                    R[rbase + b + 1] = cnt + 1
                                    R[rbase + IN0 + 2 * p + 1] += 1
                                    R[rbase + OCC] += 1
                            if won:
                                v = s_arr[20 + p]
                                b = (p * V + v) * PV
                                if not s_arr[35 + p]:
                                    hd = R[rbase + b] + 1
                                    if hd == D:
                                        hd = 0
                                    R[rbase + b] = hd
                                    R[rbase + b + 1] -= 1
                                    if R[rbase + b + 1] > 0:        # the next head's route, last
                                        nw0 = F[(((5 * n + p) * V + v) * D + hd) * 2]
                                        R[rbase + b + 4] = ((nw0 >> 61) & 7) | (_last(nw0) << 3)
                                    R[rbase + IN0 + 2 * p + 1] -= 1
                                    R[rbase + OCC] -= 1
                                R[rbase + b + 2] = 1 - s_arr[30 + p]
                                R[rbase + b + 3] = s_arr[25 + p]
                                c = 5 * n + p
                                cs = 2 * (in_cring[c] * S + ((t + 1) & SM))
                                CR[cs] = t + 1
                                CR[cs + 1] = v
                                if in_csnd[c] >= 0:
                                    if use_pend:
                                        R[in_csnd[c] * RW + PEND] += 1
                                R[rbase + IN0 + 2 * p] = v + 1 if v + 1 < V else 0
                    if allocate:
                        R[rbase + STUCK] = 0 if granted else 1
                        R[rbase + WANT] = want
                    if credit_in:
                        for o in range(5):
                            bv = s_arr[15 + o]
                            if bv >= 0:
                                oi = OV0 + 2 * (o * V + bv)
                                # usable from the next cycle: wake up if a blocked head waits for it
                                if R[rbase + oi] == 0 and (R[rbase + WANT] >> (o * V + bv)) & 1:
                                    R[rbase + STUCK] = 0
                                R[rbase + oi] += 1

                # ---------------- sink ----------------
                ring = rb + 5
                slot = ring * S + (t & SM)
                if RING[3 * slot + 0] == t:
                    w0 = RING[3 * slot + 1]
                    w1 = RING[3 * slot + 2]
                    v = _vc(w0)
                    last = _last(w0)
                    cs = 2 * (rb * S + ((t + 1) & SM))          # to the router's local output
                    CR[cs] = t + 1
                    CR[cs + 1] = v
                    R[rbase + PEND] += 1
                    si = 8 * v
                    if K[kbase + si] == 0:
                        src = w1 & 0xFFFFFF
                        pseq = (w0 >> 41) & 0xFFFF
                        pts = (w1 >> 24) & tsm
                        pmk = (w0 >> 40) & 1
                        plen_h = (w0 >> 32) & 0xFF
                        pidx = 0
                        sx = src & _M12
                        sy = src >> 12
                        outside = sx >= mx or sy >= my
                        perr = 1 if (plen_h == 0 or outside) else 0
                        if (w0 & _M12) != x or ((w0 >> 12) & _M12) != y:
                            K[kbase + KSTAT + 5] += 1                 # misroutes
                        if not outside:
                            a = n * N + sy * mx + sx
                            if s_seen[a]:
                                diff = (pseq - s_last[a]) & 0xFFFF
                                if diff == 0 or diff >= 0x8000:
                                    K[kbase + KSTAT + 7] += 1         # order errors
                            s_seen[a] = 1
                            s_last[a] = pseq
                    else:
                        src = K[kbase + si + 1]
                        pseq = K[kbase + si + 2]
                        pts = K[kbase + si + 3]
                        pmk = K[kbase + si + 4]
                        plen_h = K[kbase + si + 5]
                        pidx = K[kbase + si + 6]
                        # the body payload is a function of (src, seq, index): compare those
                        ok = (w1 & 0xFFFFFF) == src and ((w0 >> 41) & 0xFFFF) == pseq \
                            and ((w0 >> 24) & 0xFF) == (pidx & 0xFF)
                        perr = K[kbase + si + 7] | (0 if ok else 1)
                    K[kbase + si] = 1 - last
                    K[kbase + si + 1] = src
                    K[kbase + si + 2] = pseq
                    K[kbase + si + 3] = pts
                    K[kbase + si + 4] = pmk
                    K[kbase + si + 5] = plen_h
                    K[kbase + si + 6] = (pidx + 1) & 0x1FF
                    K[kbase + si + 7] = perr
                    K[kbase + KSTAT + 1] += 1
                    if pmk:
                        K[kbase + KSTAT + 3] += 1
                    if last:
                        K[kbase + KSTAT + 0] += 1
                        if perr or pidx + 1 != plen_h:
                            K[kbase + KSTAT + 6] += 1
                        if pmk:
                            latency = (t - pts) & tsm
                            K[kbase + KSTAT + 2] += 1
                            K[kbase + KSTAT + 8] += latency
                            if latency > K[kbase + KSTAT + 4]:
                                K[kbase + KSTAT + 4] = latency
                            b = latency // binc
                            if b > bins - 1:
                                b = bins - 1
                            K[kbase + KHIST + b] += 1

        # ---------------- die-to-die links ----------------
        for d in range(ND):
            lbase = d * LW
            tx_ring = 6 * N + d
            cin = dl_in[d]                  # the sending router output (5 n + o)
            a_node = cin // 5
            if LLON:
                ll = lbase + LL0
                st = lbase + LLST
                # the reverse control word of this cycle, from the RX registers
                rxs = L[ll + 9]
                rcor = 0
                if rxs != 0 and rxs < RTHR:
                    rcor = 1
                    L[st + 3] += 1
                rs = lbase + RV0 + RVW * ((t + lat) & RVM)
                L[rs] = L[ll + 5]
                L[rs + 1] = L[ll + 7]
                L[rs + 2] = rcor
                for v in range(V):
                    L[rs + 3 + v] = L[lbase + POPS0 + v]
                # link TX, from the registers
                nseq = L[ll]
                sp = L[ll + 1]
                old = L[ll + 2]
                replaying = sp != nseq
                room = ((nseq - old) & SQM) < RP
                busy = L[lbase + MISC0]
                ptr = L[lbase + MISC0 + 1]
                pick = -1
                for k in range(V):
                    v = ptr + k
                    if v >= V:
                        v -= V
                    if L[lbase + v * TXW + 1] != 0 and L[lbase + REM0 + v] != 0:
                        pick = v
                        break
                start = (replaying or (pick >= 0 and room)) and busy <= 1
                fxs = L[ll + 8]
                failed = L[ll + 11]
                cyc = L[ll + 10]
                if busy != 0:
                    L[lbase + MISC0] = busy - 1
                slot = tx_ring * S + (t & SM)
                if RING[3 * slot + 0] == t:
                    aw0 = RING[3 * slot + 1]
                    tb = _vc(aw0) * TXW
                    cnt = L[lbase + tb + 1]
                    if cnt == TXD:
                        L[lbase + MISC0 + 3] = 1
                    else:
                        pos = L[lbase + tb] + cnt
                        h = tb + 2 + 2 * (pos - TXD if pos >= TXD else pos)
                        L[lbase + h] = aw0
                        L[lbase + h + 1] = RING[3 * slot + 2]
                        L[lbase + tb + 1] = cnt + 1
                if start:
                    fe = 1 if (fxs != 0 and fxs < THR) else 0
                    if (FAILC >= 0 and L[ll + 14] != 0 and failed == 0 and cyc <= FAILC
                            and cyc + ratio > FAILC):
                        fe = 1
                    r = RATIO_D if failed else ratio
                    L[lbase + MISC0] = r
                    L[st + 9] += 1
                    L[st + 0] += fe
                    if replaying:
                        L[st + 8] += 1
                        rp = lbase + RP0 + 2 * (sp & (RP - 1))
                        sw0 = L[rp]
                        sw1 = L[rp + 1]
                        sq = sp
                    else:
                        L[lbase + MISC0 + 1] = pick + 1 if pick + 1 < V else 0
                        tb = pick * TXW
                        h = tb + 2 + 2 * L[lbase + tb]
                        sw0 = L[lbase + h]
                        sw1 = L[lbase + h + 1]
                        sq = nseq
                        rp = lbase + RP0 + 2 * (nseq & (RP - 1))
                        L[rp] = sw0
                        L[rp + 1] = sw1
                        L[ll] = (nseq + 1) & SQM
                        hd = L[lbase + tb] + 1
                        L[lbase + tb] = hd if hd < TXD else 0
                        L[lbase + tb + 1] -= 1
                        L[lbase + REM0 + pick] -= 1
                        cs = 2 * ((6 * a_node + cin - 5 * a_node) * S + ((t + 1) & SM))
                        CR[cs] = t + 1
                        CR[cs + 1] = pick
                        R[a_node * RW + PEND] += 1
                    ls = LAND0 + 5 * ((t + r + lat) & LM)
                    L[lbase + ls] = t + r + lat
                    L[lbase + ls + 1] = sw0
                    L[lbase + ls + 2] = sw1
                    L[lbase + ls + 3] = sq
                    L[lbase + ls + 4] = fe
                # link TX: the control word that lands now
                rs = lbase + RV0 + RVW * (t & RVM)
                ack = old
                nak_new = False
                if L[rs + 2] != 0:
                    L[st + 4] += 1
                else:
                    for v in range(V):
                        pv = L[rs + 3 + v]
                        L[lbase + REM0 + v] += (pv - L[lbase + SEEN0 + v]) & CNTM
                        L[lbase + SEEN0 + v] = pv
                    ack = L[rs]
                    nak_new = L[rs + 1] != L[ll + 4]
                    L[ll + 4] = L[rs + 1]
                timer = L[ll + 3]
                expired = timer == TOUT
                trigger = nak_new or expired
                if trigger or ack != old or ((nseq - old) & SQM) == 0:
                    L[ll + 3] = 0
                else:
                    L[ll + 3] = timer + 1
                sp_after = (sp + (1 if start else 0)) & SQM
                if trigger or ((ack - old) & SQM) > ((sp_after - old) & SQM):
                    # the mutant replays from one flit after the oldest unacked
                    L[ll + 1] = (ack + 1) & SQM if (mutant == 4 and trigger) else ack
                else:
                    L[ll + 1] = sp_after
                L[ll + 2] = ack
                if nak_new:
                    L[st + 5] += 1
                if expired:
                    L[st + 6] += 1
                if trigger:
                    L[st + 7] += 1
                # link RX: round-robin output from the registers, then the landing codeword
                ptr = L[lbase + MISC0 + 2]
                opick = -1
                for k in range(V):
                    v = ptr + k
                    if v >= V:
                        v -= V
                    if L[lbase + RX0 + v * RXW + 1] != 0 and L[lbase + DOWN0 + v] != 0:
                        opick = v
                        break
                ls = LAND0 + 5 * (t & LM)
                if L[lbase + ls] == t:
                    sq = L[lbase + ls + 3]
                    exp = L[ll + 5]
                    good = False
                    hole = False
                    if L[lbase + ls + 4] != 0:
                        L[st + 1] += 1
                        hole = True
                    elif sq == exp:
                        good = True
                    else:
                        L[st + 2] += 1
                        dist = (sq - exp) & SQM
                        hole = dist != 0 and dist <= (SQM >> 1)
                    if good:
                        lw0 = L[lbase + ls + 1]
                        xb = RX0 + _vc(lw0) * RXW
                        cnt = L[lbase + xb + 1]
                        pos = L[lbase + xb] + cnt
                        h = xb + 2 + 2 * (pos - RXD if pos >= RXD else pos)
                        L[lbase + h] = lw0
                        L[lbase + h + 1] = L[lbase + ls + 2]
                        L[lbase + xb + 1] = cnt + 1
                        L[ll + 5] = (exp + 1) & SQM
                        L[ll + 6] = 0
                    elif hole and L[ll + 6] == 0:
                        L[ll + 6] = 1
                        L[ll + 7] = (L[ll + 7] + 1) & 3
                cout = dl_out[d]
                if opick >= 0:
                    L[lbase + MISC0 + 2] = opick + 1 if opick + 1 < V else 0
                    xb = RX0 + opick * RXW
                    h = xb + 2 + 2 * L[lbase + xb]
                    ws = 3 * (cout * S + ((t + 1) & SM))
                    RING[ws] = t + 1
                    RING[ws + 1] = L[lbase + h]
                    RING[ws + 2] = L[lbase + h + 1]
                    R[(cout // 6) * RW + PEND] += 1
                    hd = L[lbase + xb] + 1
                    L[lbase + xb] = hd if hd < RXD else 0
                    L[lbase + xb + 1] -= 1
                    L[lbase + DOWN0 + opick] -= 1
                    L[lbase + POPS0 + opick] = (L[lbase + POPS0 + opick] + 1) & CNTM
                slot = tx_ring * S + (t & SM)
                if CR[2 * slot + 0] == t:
                    L[lbase + DOWN0 + CR[2 * slot + 1]] += 1
                # the injectors and the lane-failure registers
                if fxs == 0:
                    L[ll + 8] = L[ll + 12]
                else:
                    x = fxs ^ ((fxs << 13) & M32)
                    x ^= x >> 17
                    L[ll + 8] = x ^ ((x << 5) & M32)
                if rxs == 0:
                    L[ll + 9] = L[ll + 13]
                else:
                    x = rxs ^ ((rxs << 13) & M32)
                    x ^= x >> 17
                    L[ll + 9] = x ^ ((x << 5) & M32)
                if FAILC >= 0:
                    if failed == 0:
                        L[ll + 10] = cyc + 1
                    if L[ll + 14] != 0 and cyc == FAILC:
                        L[ll + 11] = 1
                L[st + 10] = L[ll + 11]
                continue
            # TX: serialiser start from the registered buffer counts
            ptr = L[lbase + MISC0 + 1]
            pick = -1
            for k in range(V):
                v = ptr + k
                if v >= V:
                    v -= V
                if L[lbase + v * TXW + 1] != 0 and L[lbase + REM0 + v] != 0:
                    pick = v
                    break
            start = pick >= 0 and L[lbase + MISC0] <= 1
            if L[lbase + MISC0] != 0:
                L[lbase + MISC0] -= 1
            # arrival from the sending router
            slot = tx_ring * S + (t & SM)
            if RING[3 * slot + 0] == t:
                aw0 = RING[3 * slot + 1]
                tb = _vc(aw0) * TXW
                cnt = L[lbase + tb + 1]
                if cnt == TXD:
                    L[lbase + MISC0 + 3] = 1
                else:
                    pos = L[lbase + tb] + cnt
                    h = tb + 2 + 2 * (pos - TXD if pos >= TXD else pos)
                    L[lbase + h] = aw0
                    L[lbase + h + 1] = RING[3 * slot + 2]
                    L[lbase + tb + 1] = cnt + 1
            if start:
                L[lbase + MISC0] = ratio
                L[lbase + MISC0 + 1] = pick + 1 if pick + 1 < V else 0
                tb = pick * TXW
                h = tb + 2 + 2 * L[lbase + tb]
                ls = LAND0 + 5 * ((t + ratio + lat) & LM)
                L[lbase + ls] = t + ratio + lat
                L[lbase + ls + 1] = L[lbase + h]
                L[lbase + ls + 2] = L[lbase + h + 1]
                hd = L[lbase + tb] + 1
                L[lbase + tb] = hd if hd < TXD else 0
                L[lbase + tb + 1] -= 1
                L[lbase + REM0 + pick] -= 1
                cs = 2 * ((6 * a_node + cin - 5 * a_node) * S + ((t + 1) & SM))
                CR[cs] = t + 1
                CR[cs + 1] = pick
                R[a_node * RW + PEND] += 1
            cs = CB0 + 2 * (t & CM)
            if L[lbase + cs] == t:
                L[lbase + REM0 + L[lbase + cs + 1]] += 1
            # RX: round-robin output under the receiving router's credits
            ptr = L[lbase + MISC0 + 2]
            opick = -1
            for k in range(V):
                v = ptr + k
                if v >= V:
                    v -= V
                if L[lbase + RX0 + v * RXW + 1] != 0 and L[lbase + DOWN0 + v] != 0:
                    opick = v
                    break
            ls = LAND0 + 5 * (t & LM)
            if L[lbase + ls] == t:
                lw0 = L[lbase + ls + 1]
                xb = RX0 + _vc(lw0) * RXW
                cnt = L[lbase + xb + 1]
                pos = L[lbase + xb] + cnt
                h = xb + 2 + 2 * (pos - RXD if pos >= RXD else pos)
                L[lbase + h] = lw0
                L[lbase + h + 1] = L[lbase + ls + 2]
                L[lbase + xb + 1] = cnt + 1
            cout = dl_out[d]                # the receiving router's input ring
            if opick >= 0:
                L[lbase + MISC0 + 2] = opick + 1 if opick + 1 < V else 0
                xb = RX0 + opick * RXW
                h = xb + 2 + 2 * L[lbase + xb]
                ws = 3 * (cout * S + ((t + 1) & SM))
                RING[ws] = t + 1
                RING[ws + 1] = L[lbase + h]
                RING[ws + 2] = L[lbase + h + 1]
                R[(cout // 6) * RW + PEND] += 1
                hd = L[lbase + xb] + 1
                L[lbase + xb] = hd if hd < RXD else 0
                L[lbase + xb + 1] -= 1
                L[lbase + DOWN0 + opick] -= 1
                back_at = t + 1 + lat - (1 if mutant == 2 else 0)
                cs = CB0 + 2 * (back_at & CM)
                L[lbase + cs] = back_at
                L[lbase + cs + 1] = opick
            slot = tx_ring * S + (t & SM)
            if CR[2 * slot + 0] == t:
                L[lbase + DOWN0 + CR[2 * slot + 1]] += 1

        if trace:
            # every output register that holds a flit in cycle t + 1 was written this step
            for ring in range(ring_chan.shape[0]):
                ws = 3 * (ring * S + ((t + 1) & SM))
                if RING[ws] == t + 1:
                    k = tr_n[0]
                    if k < tr_t.shape[0]:
                        tr_t[k] = t + 1
                        tr_c[k] = ring_chan[ring]
                        tr_w0[k] = RING[ws + 1]
                        tr_w1[k] = RING[ws + 2]
                        tr_n[0] = k + 1
                    else:
                        tr_n[1] = 1         # overflow: the trace is incomplete
        # the ctrl registers move one stage
        for i in range(9):
            q2[i] = q1[i]
            q1[i] = top[i]
        t += 1
    return t


#: the cycle loop on one core, and with one thread per chunk of nodes (same results)
run = njit(cache=True)(_run)
run_parallel = njit(cache=True, parallel=True)(_run)


@njit(cache=True)
def quiescent(t, P, O, q1, q2, top, ring_stg, RING, R, G, L):
    """True when no flit is anywhere and no generator can start one: every statistic is frozen."""
    if top[0] or q1[0] or q2[0]:
        return False
    N, V, S = P[0], P[1], P[4]
    RW, GW, LW = O[22], O[23], O[25]
    for n in range(N):
        if R[n * RW + O[5]] or G[n * GW + 2] or G[n * GW + 3]:
            return False
    for ring in range(ring_stg.shape[0]):
        for k in range(S):
            if RING[3 * (ring * S + k)] >= t - ring_stg[ring]:
                return False
    for d in range(P[17]):
        for v in range(V):
            if L[d * LW + v * O[14] + 1] or L[d * LW + O[15] + v * O[16] + 1]:
                return False
        for k in range(P[19]):
            if L[d * LW + O[20] + 5 * k] >= t:
                return False
    return True
