"""The compiled cycle loop: every block of the traffic network as numba code over flat arrays.

One call of :func:`run` advances the whole network by ``steps`` clock edges.
Every register the RTL keeps is an array element here; one step computes the
next state of every block from the current one, exactly as the RTL's
synchronous logic does, so blocks can be evaluated in any order:

* **Channels** (every link register and link pipe): a flit written by its
  sender in step ``t`` is the sender's output register during cycle ``t+1``;
  the receiver reads it in step ``t+1+stages``. Each channel keeps a ring of
  ``S`` slots tagged with the cycle they hold (an untagged slot is an empty
  register), one ring forwards (flits) and one backwards (credit pulses, at
  most one VC per cycle on every link of this fabric). Idle senders write
  nothing.
* **Router** (:class:`rtl.router.Router`): input FIFOs with bypass, the
  input-first separable allocator with round-robin pointers that advance on a
  grant, output VC locks from head to tail, credit counters updated from the
  registered credit pulses. The RTL registers its allocator requests from the
  next values of the state they read, so they equal the combinational requests
  computed here from the current state.
* **Generator / sink** (:class:`rtl.traffic.TrafficGen`, ``TrafficSink``):
  xorshift64 draws, the 8 patterns, the source queue with its bypass, the
  injector, every statistics counter.
* **DieLink** (:class:`rtl.dielink.DieLinkChannel`): TX buffer, serialiser
  (one flit every ``ratio`` cycles, round-robin over ready VCs), flight
  ``latency`` each way, RX buffer and its round-robin output.

Flits are two 64-bit words (the RTL's payload is a function of them, see
:mod:`sim.netmodel.trace`):

* ``w0 = dst_x | dst_y << 12 | index << 24 | length << 32 | marked << 40 |
  seq << 41 | last << 57 | vc << 58``
* ``w1 = src_x | src_y << 12 | timestamp << 24``
"""

import numpy as np
from numba import njit, uint64

__all__ = ["run", "quiescent", "PARAM", "CTRL", "MUTANTS", "GEN_STATS", "SINK_STATS", "NEVER"]

#: indices of the integer parameter vector
PARAM = {name: i for i, name in enumerate((
    "nodes", "vcs", "depth", "slot_mask", "slots", "yx", "mesh_x", "mesh_y", "queue",
    "max_len", "bins", "bin_cycles", "ts_mask", "ratio", "latency", "rx_depth", "tx_depth",
    "dielinks", "land_mask", "land_slots", "cb_mask", "cb_slots", "trace_cap", "mutant"))}
#: deliberately wrong variants of the model (``PARAM["mutant"]``), for the tests that show
#: the RTL comparison catches a model error
MUTANTS = {"none": 0, "vc_pointer_on_request": 1, "dielink_credit_early": 2,
           "output_pointer_stuck": 3}
#: fields of a ctrl vector (rtl.traffic.control_layout)
CTRL = {name: i for i, name in enumerate((
    "enable", "mark", "rate", "pattern", "packet_len", "seed", "hotspot_x", "hotspot_y",
    "hotspot_frac"))}
GEN_STATS = ("generated", "generated_marked", "injected_packets", "injected_flits", "suppressed")
SINK_STATS = ("packets", "flits", "marked_packets", "marked_flits", "latency_max", "misroutes",
              "integrity_errors", "order_errors", "latency_sum")
#: the tag of a channel slot that never held a flit
NEVER = -(1 << 40)

_LOCAL = 0
_UNIFORM, _HOTSPOT = 0, 7
_M12 = 0xFFF


@njit(cache=True, inline="always")
def _vc(w0):
    return (w0 >> 58) & 7


@njit(cache=True, inline="always")
def _last(w0):
    return (w0 >> 57) & 1


@njit(cache=True)
def _route(p, w0, x, y, yx, turn):
    """Output port of a head on input ``p`` at (x, y): rtl.router.Router._route."""
    dx = w0 & _M12
    dy = (w0 >> 12) & _M12
    for k in range(2):
        along_x = (k == 0) != (yx == 1)
        if along_x:
            if dx > x and turn[p * 5 + 2]:
                return 2            # east
            if dx < x and turn[p * 5 + 4]:
                return 4            # west
        else:
            if dy > y and turn[p * 5 + 3]:
                return 3            # south
            if dy < y and turn[p * 5 + 1]:
                return 1            # north
    return _LOCAL


@njit(cache=True)
def _send(c, t, w0, w1, S, SM, fwd_time, fwd_w0, fwd_w1, trace, tr_n, tr_t, tr_c, tr_w0, tr_w1):
    slot = c * S + ((t + 1) & SM)
    fwd_time[slot] = t + 1
    fwd_w0[slot] = w0
    fwd_w1[slot] = w1
    if trace:
        k = tr_n[0]
        if k < tr_t.shape[0]:
            tr_t[k] = t + 1
            tr_c[k] = c
            tr_w0[k] = w0
            tr_w1[k] = w1
            tr_n[0] = k + 1
        else:
            tr_n[1] = 1         # overflow: the trace is incomplete


@njit(cache=True)
def _credit(c, t, v, S, SM, bwd_time, bwd_vc):
    slot = c * S + ((t + 1) & SM)
    bwd_time[slot] = t + 1
    bwd_vc[slot] = v


@njit(cache=True)
def run(steps, t0, P, top, q1, q2, turn, node_x, node_y, in_chan, stg, det_x, det_y,
        dl_in, dl_out, rcv_router, snd_router, first_bit,
        fwd_time, fwd_w0, fwd_w1, bwd_time, bwd_vc,
        f_w0, f_w1, f_route, f_head, f_count, in_pkt, pkt_route, in_rr, out_rr, cred, locked,
        occ, in_occ, pend, flits_out, r_overflow,
        g_xs, g_seq, q_a, q_ts, q_head, q_count, g_busy, g_vc, g_cseq, g_len, g_idx, g_cred,
        g_stats,
        s_busy, s_src, s_seq, s_ts, s_mk, s_len, s_idx, s_err, s_stats, s_hist, s_last, s_seen,
        tx_w0, tx_w1, tx_head, tx_count, remote, dl_busy, dl_rr, land_time, land_w0, land_w1,
        rx_w0, rx_w1, rx_head, rx_count, down, dl_orr, cb_time, cb_vc, dl_overflow,
        trace, tr_n, tr_t, tr_c, tr_w0, tr_w1, scratch):
    """Advance ``steps`` cycles from cycle ``t0``; returns the new cycle.

    ``top`` is the ctrl word at the top-level input during these cycles; ``q1``
    (the mesh's input register) and ``q2`` (the generator's) are its delayed
    copies and are updated in place.
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
    mutant = P[23]
    gen_base = 5 * N
    s_arr = scratch
    t = t0
    for _ in range(steps):
        # ctrl as the generators see it (two registers behind the top-level input) and
        # the mesh register that gates the link counters (one behind)
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
        for n in range(N):
            x = node_x[n]
            y = node_y[n]
            # ---------------- generator ----------------
            gc = gen_base + n
            xs = g_xs[n]
            if en:
                rate_draw = np.int64(xs >> uint64(48))
                fire = rate_draw < rate
            else:
                fire = False
            # credit pulse from the router's local input
            slot = gc * S + (t & SM)
            back_g = bwd_vc[slot] if bwd_time[slot] == t else -1
            if fire:
                if pat == _UNIFORM or pat == _HOTSPOT:
                    ddx = np.int64(xs & uint64(0x7FF))
                    ddy = np.int64((xs >> uint64(16)) & uint64(0x7FF))
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
            else:
                dst_x = 0
                dst_y = 0
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
            qc = q_count[n]
            send = False
            bypassed = False
            head_flit = False
            gw0 = np.int64(0)
            gw1 = np.int64(0)
            sv = 0
            if g_busy[n]:
                sv = g_vc[n]
                cnt_idx = n * V + sv
                # the counter as registered (the pulse above lands at the same edge)
                if g_cred[cnt_idx] != 0:
                    send = True
                    idx = g_idx[n]
                    last = 1 if idx + 1 == g_len[n] else 0
                    gw0 = (idx << 24) | (g_len[n] << 32) | (g_cseq[n] << 41) | (last << 57) \
                        | (np.int64(sv) << 58)
                    gw1 = x | (y << 12)
                    g_idx[n] = idx + 1
                    if last:
                        g_busy[n] = 0
            elif qc > 0 or fire:
                if qc > 0:
                    qi = n * Q + q_head[n]
                    a = q_a[qi]
                    hdx = a & _M12
                    hdy = (a >> 12) & _M12
                    hmk = (a >> 24) & 1
                    hseq = (a >> 25) & 0xFFFF
                    hts = q_ts[qi]
                else:
                    hdx = dst_x
                    hdy = dst_y
                    hmk = mk
                    hseq = g_seq[n]
                    hts = t & tsm
                sv = hdx + hdy
                while sv >= V:
                    sv -= V
                if g_cred[n * V + sv] != 0:
                    send = True
                    head_flit = True
                    last = 1 if plen == 1 else 0
                    gw0 = hdx | (hdy << 12) | (plen << 32) | (hmk << 40) | (hseq << 41) \
                        | (last << 57) | (np.int64(sv) << 58)
                    gw1 = x | (y << 12) | (hts << 24)
                    if qc > 0:
                        hd = q_head[n] + 1
                        q_head[n] = hd if hd < Q else 0
                        q_count[n] = qc - 1
                    else:
                        bypassed = True
                    g_busy[n] = 1 if plen != 1 else 0
                    g_vc[n] = sv
                    g_cseq[n] = hseq
                    g_len[n] = plen
                    g_idx[n] = 1
            if fire:
                if bypassed:
                    accepted = True
                elif qc < Q:
                    # the queue takes the descriptor (behind a possible pop this cycle)
                    pos = q_head[n] + q_count[n]
                    qi = n * Q + (pos - Q if pos >= Q else pos)
                    q_a[qi] = dst_x | (dst_y << 12) | (mk << 24) | (g_seq[n] << 25)
                    q_ts[qi] = t & tsm
                    q_count[n] += 1
                    accepted = True
                else:
                    accepted = False
                    g_stats[n * 5 + 4] += 1                      # suppressed
                if accepted:
                    g_seq[n] = (g_seq[n] + 1) & 0xFFFF
                    g_stats[n * 5 + 0] += 1
                    if mk:
                        g_stats[n * 5 + 1] += 1
            if back_g >= 0:
                g_cred[n * V + back_g] += 1
            if send:
                g_cred[n * V + sv] -= 1
                g_stats[n * 5 + 3] += 1
                if head_flit:
                    g_stats[n * 5 + 2] += 1
                _send(gc, t, gw0, gw1, S, SM, fwd_time, fwd_w0, fwd_w1, trace, tr_n, tr_t,
                      tr_c, tr_w0, tr_w1)
                pend[n] += 1

            # ---------------- router ----------------
            # skipped when nothing is buffered and no flit or credit is on its way to it
            if occ[n] != 0 or pend[n] != 0:
                rb = n * 5
                any_in = False
                for p in range(5):
                    c = in_chan[rb + p]
                    s_arr[p] = 0
                    if c >= 0:
                        tt = t - stg[c]
                        slot = c * S + (tt & SM)
                        if fwd_time[slot] == tt:
                            s_arr[p] = 1
                            s_arr[5 + p] = fwd_w0[slot]
                            s_arr[10 + p] = fwd_w1[slot]
                            any_in = True
                            pend[n] -= 1
                    # credit pulse from downstream on output p
                    c = rb + p
                    tt = t - stg[c]
                    slot = c * S + (tt & SM)
                    if bwd_time[slot] == tt:
                        s_arr[15 + p] = bwd_vc[slot]
                        pend[n] -= 1
                    else:
                        s_arr[15 + p] = -1
                if occ[n] != 0 or any_in:
                    # first stage: each input offers one eligible VC; req[o]: inputs asking o
                    for o in range(5):
                        s_arr[55 + o] = 0
                    for p in range(5):
                        s_arr[20 + p] = -1                      # offered VC
                        arr = s_arr[p]
                        if in_occ[rb + p] == 0 and not arr:
                            continue
                        aw0 = s_arr[5 + p]
                        avc = _vc(aw0) if arr else -1
                        if arr:
                            # the route of the arriving flit as a head (kept next to it),
                            # and the one it takes if it bypasses: its packet's inside one
                            s_arr[50 + p] = _route(p, aw0, x, y, yx, turn)
                            ai = (rb + p) * V + avc
                            s_arr[40 + p] = pkt_route[ai] if in_pkt[ai] else s_arr[50 + p]
                        ptr = in_rr[rb + p]
                        for k in range(V):
                            v = ptr + k
                            if v >= V:
                                v -= V
                            idx = (rb + p) * V + v
                            if f_count[idx] > 0:
                                h = idx * D + f_head[idx]
                                r = pkt_route[idx] if in_pkt[idx] else f_route[h]
                                last = _last(f_w0[h])
                                byp = 0
                            elif avc == v:
                                r = s_arr[40 + p]
                                last = _last(aw0)
                                byp = 1
                            else:
                                continue
                            oi = (rb + r) * V + v
                            if cred[oi] != 0 and (in_pkt[idx] or locked[oi] == 0):
                                s_arr[20 + p] = v
                                s_arr[25 + p] = r
                                s_arr[30 + p] = last
                                s_arr[35 + p] = byp
                                s_arr[55 + r] |= 1 << p
                                if mutant == 1:
                                    in_rr[rb + p] = v + 1 if v + 1 < V else 0
                                break
                    # second stage: each output grants the first requesting input at or
                    # after its pointer (round robin), then the pointer moves past it
                    for p in range(5):
                        s_arr[45 + p] = 0                       # won
                    for o in range(5):
                        mask = s_arr[55 + o]
                        if mask == 0:
                            continue
                        ptr = out_rr[rb + o]
                        hi = (mask >> ptr) << ptr
                        win = first_bit[hi] if hi else first_bit[mask]
                        if mutant != 3:
                            out_rr[rb + o] = win + 1 if win < 4 else 0
                        s_arr[45 + win] = 1
                        v = s_arr[20 + win]
                        if s_arr[35 + win]:
                            w0 = s_arr[5 + win]
                            w1 = s_arr[10 + win]
                        else:
                            h = ((rb + win) * V + v) * D + f_head[(rb + win) * V + v]
                            w0 = f_w0[h]
                            w1 = f_w1[h]
                        oi = (rb + o) * V + v
                        cred[oi] -= 1
                        locked[oi] = 1 - s_arr[30 + win]
                        if count_links:
                            flits_out[rb + o] += 1
                        c = rb + o
                        _send(c, t, w0, w1, S, SM, fwd_time, fwd_w0, fwd_w1, trace, tr_n,
                              tr_t, tr_c, tr_w0, tr_w1)
                        if rcv_router[c] >= 0:
                            pend[rcv_router[c]] += 1
                    # input side: arrivals are written unless they bypassed, winners pop
                    for p in range(5):
                        won = s_arr[45 + p]
                        if s_arr[p] and not (won and s_arr[35 + p]):
                            aw0 = s_arr[5 + p]
                            idx = (rb + p) * V + _vc(aw0)
                            cnt = f_count[idx]
                            if cnt == D:
                                r_overflow[n] = 1
                            else:
                                pos = f_head[idx] + cnt
                                if pos >= D:
                                    pos -= D
                                h = idx * D + pos
                                f_w0[h] = aw0
                                f_w1[h] = s_arr[10 + p]
                                f_route[h] = s_arr[50 + p]
                                f_count[idx] = cnt + 1
                                in_occ[rb + p] += 1
                                occ[n] += 1
                        if won:
                            v = s_arr[20 + p]
                            idx = (rb + p) * V + v
                            if not s_arr[35 + p]:
                                hd = f_head[idx] + 1
                                f_head[idx] = hd if hd < D else 0
                                f_count[idx] -= 1
                                in_occ[rb + p] -= 1
                                occ[n] -= 1
                            in_pkt[idx] = 1 - s_arr[30 + p]
                            pkt_route[idx] = s_arr[25 + p]
                            c = in_chan[rb + p]
                            _credit(c, t, v, S, SM, bwd_time, bwd_vc)
                            if snd_router[c] >= 0:
                                pend[snd_router[c]] += 1
                            in_rr[rb + p] = v + 1 if v + 1 < V else 0
                for o in range(5):
                    bv = s_arr[15 + o]
                    if bv >= 0:
                        cred[(rb + o) * V + bv] += 1

            # ---------------- sink ----------------
            rb = n * 5
            c = rb                                  # the router's local output
            slot = c * S + (t & SM)
            if fwd_time[slot] == t:
                w0 = fwd_w0[slot]
                w1 = fwd_w1[slot]
                v = _vc(w0)
                last = _last(w0)
                _credit(c, t, v, S, SM, bwd_time, bwd_vc)
                pend[n] += 1
                si = n * V + v
                ss = n * 9
                if s_busy[si] == 0:
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
                        s_stats[ss + 5] += 1                 # misroutes
                    if not outside:
                        a = n * N + sy * mx + sx
                        if s_seen[a]:
                            diff = (pseq - s_last[a]) & 0xFFFF
                            if diff == 0 or diff >= 0x8000:
                                s_stats[ss + 7] += 1         # order errors
                        s_seen[a] = 1
                        s_last[a] = pseq
                else:
                    src = s_src[si]
                    pseq = s_seq[si]
                    pts = s_ts[si]
                    pmk = s_mk[si]
                    plen_h = s_len[si]
                    pidx = s_idx[si]
                    # the body payload is a function of (src, seq, index): compare those
                    ok = (w1 & 0xFFFFFF) == src and ((w0 >> 41) & 0xFFFF) == pseq \
                        and ((w0 >> 24) & 0xFF) == (pidx & 0xFF)
                    perr = s_err[si] | (0 if ok else 1)
                s_busy[si] = 1 - last
                s_src[si] = src
                s_seq[si] = pseq
                s_ts[si] = pts
                s_mk[si] = pmk
                s_len[si] = plen_h
                s_idx[si] = (pidx + 1) & 0x1FF
                s_err[si] = perr
                s_stats[ss + 1] += 1
                if pmk:
                    s_stats[ss + 3] += 1
                if last:
                    s_stats[ss + 0] += 1
                    if perr or pidx + 1 != plen_h:
                        s_stats[ss + 6] += 1
                    if pmk:
                        latency = (t - pts) & tsm
                        s_stats[ss + 2] += 1
                        s_stats[ss + 8] += latency
                        if latency > s_stats[ss + 4]:
                            s_stats[ss + 4] = latency
                        b = latency // binc
                        if b > bins - 1:
                            b = bins - 1
                        s_hist[n * bins + b] += 1

        # ---------------- die-to-die links ----------------
        for d in range(ND):
            cin = dl_in[d]
            cout = dl_out[d]
            base = d * V
            # TX: serialiser start from the registered buffer counts
            ptr = dl_rr[d]
            pick = -1
            for k in range(V):
                v = ptr + k
                if v >= V:
                    v -= V
                if tx_count[base + v] != 0 and remote[base + v] != 0:
                    pick = v
                    break
            start = pick >= 0 and dl_busy[d] <= 1
            if dl_busy[d] != 0:
                dl_busy[d] -= 1
            # arrival from the sending router
            slot = cin * S + ((t - stg[cin]) & SM)
            if fwd_time[slot] == t - stg[cin]:
                aw0 = fwd_w0[slot]
                ti = base + _vc(aw0)
                cnt = tx_count[ti]
                if cnt == TXD:
                    dl_overflow[d] = 1
                else:
                    pos = tx_head[ti] + cnt
                    h = ti * TXD + (pos - TXD if pos >= TXD else pos)
                    tx_w0[h] = aw0
                    tx_w1[h] = fwd_w1[slot]
                    tx_count[ti] = cnt + 1
            if start:
                dl_busy[d] = ratio
                dl_rr[d] = pick + 1 if pick + 1 < V else 0
                ti = base + pick
                h = ti * TXD + tx_head[ti]
                ls = d * LS + ((t + ratio + lat) & LM)
                land_time[ls] = t + ratio + lat
                land_w0[ls] = tx_w0[h]
                land_w1[ls] = tx_w1[h]
                hd = tx_head[ti] + 1
                tx_head[ti] = hd if hd < TXD else 0
                tx_count[ti] -= 1
                remote[ti] -= 1
                _credit(cin, t, pick, S, SM, bwd_time, bwd_vc)
                pend[snd_router[cin]] += 1
            cs = d * CS + (t & CM)
            if cb_time[cs] == t:
                remote[base + cb_vc[cs]] += 1
            # RX: round-robin output under the receiving router's credits
            ptr = dl_orr[d]
            opick = -1
            for k in range(V):
                v = ptr + k
                if v >= V:
                    v -= V
                if rx_count[base + v] != 0 and down[base + v] != 0:
                    opick = v
                    break
            ls = d * LS + (t & LM)
            if land_time[ls] == t:
                lw0 = land_w0[ls]
                ri = base + _vc(lw0)
                cnt = rx_count[ri]
                pos = rx_head[ri] + cnt
                h = ri * RXD + (pos - RXD if pos >= RXD else pos)
                rx_w0[h] = lw0
                rx_w1[h] = land_w1[ls]
                rx_count[ri] = cnt + 1
            if opick >= 0:
                dl_orr[d] = opick + 1 if opick + 1 < V else 0
                ri = base + opick
                h = ri * RXD + rx_head[ri]
                _send(cout, t, rx_w0[h], rx_w1[h], S, SM, fwd_time, fwd_w0, fwd_w1, trace,
                      tr_n, tr_t, tr_c, tr_w0, tr_w1)
                pend[rcv_router[cout]] += 1
                hd = rx_head[ri] + 1
                rx_head[ri] = hd if hd < RXD else 0
                rx_count[ri] -= 1
                down[ri] -= 1
                back_at = t + 1 + lat - (1 if mutant == 2 else 0)
                cs = d * CS + (back_at & CM)
                cb_time[cs] = back_at
                cb_vc[cs] = opick
            slot = cout * S + ((t - stg[cout]) & SM)
            if bwd_time[slot] == t - stg[cout]:
                down[base + bwd_vc[slot]] += 1

        # the ctrl registers move one stage
        for i in range(9):
            q2[i] = q1[i]
            q1[i] = top[i]
        t += 1
    return t


@njit(cache=True)
def quiescent(t, P, q1, q2, top, stg, fwd_time, occ, q_count, g_busy, tx_count, rx_count,
              land_time):
    """True when no flit is anywhere and no generator can start one: every statistic is frozen."""
    if top[0] or q1[0] or q2[0]:
        return False
    S = P[4]
    for n in range(P[0]):
        if occ[n] or q_count[n] or g_busy[n]:
            return False
    for c in range(stg.shape[0]):
        for k in range(S):
            if fwd_time[c * S + k] >= t - stg[c]:
                return False
    for i in range(tx_count.shape[0]):
        if tx_count[i] or rx_count[i]:
            return False
    for i in range(land_time.shape[0]):
        if land_time[i] >= t:
            return False
    return True
