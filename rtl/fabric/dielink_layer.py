"""Die-to-die link with a link layer: sequence numbers, CRC, cumulative ACK / NAK, go-back-N replay,
and seeded, synthesizable error injection (bit errors, bursts, a permanent lane failure).

One direction of a die-to-die link, a drop-in replacement for
:class:`rtl.fabric.dielink.DieLinkChannel` (same ports ``i``/``o``, same credit
protocol towards both routers, same timing when no error is injected).

Structure (one direction)::

    sender --link--> [TX buffer] -> link TX ---(codeword, ratio + latency)---> link RX -> [RX buffer] --link--> receiver
           <-credit--                [replay buffer] <--(control word, latency)-- (ack, nak, credits)

Micro-architecture
------------------
* **Forward codeword** (one per flit, ``ratio`` cycles on the wire):
  ``{data, last, vc, seq}`` then a ``crc_bits`` CRC of those bits.
  ``seq`` counts flits modulo ``2 P`` (``P`` = replay buffer depth, a power of two).
* **Link TX.** A new flit is taken from the TX buffers exactly as the perfect-pipe
  DieLink does (round-robin over VCs with a flit and an RX-buffer credit), gets
  ``seq = next_seq``, is written into the replay buffer slot ``seq mod P`` and sent.
  The send pointer ``sp`` says what goes next: while ``sp != next_seq`` the link is
  replaying and sends ``replay[sp mod P]`` (no credit is taken: a flit's RX slot was
  reserved by its first transmission). New flits wait while ``P`` flits are unacked.
* **Link RX.** A landing codeword is accepted when its CRC matches and
  ``seq == expected``: it is pushed into its VC's RX buffer (the same cycle as the
  perfect pipe) and ``expected`` advances. Otherwise it is dropped; a CRC error or a
  flit ahead of ``expected`` (a hole) enters the NAK state once (``nak_count`` + 1)
  until the expected flit arrives; a flit behind ``expected`` (a duplicate) is dropped
  silently.
* **Reverse control word**, sent every cycle: ``{ack = expected, nak_count,
  pops per VC (cumulative, modulo 2^c)}`` plus its CRC. Every field is cumulative,
  so a corrupted (dropped) control word loses nothing: the next good one carries the
  same information. The credit returned to the sender is the difference of the pop
  counters, so with no errors the credits arrive exactly when the perfect pipe's
  credit pulses do.
* **Go-back-N.** On a new ``nak_count`` or when no ACK progress was seen for
  ``timeout`` cycles with flits unacked, ``sp`` goes back to the oldest unacked flit
  (the cumulative ACK) and everything from there is resent in order. Go-back-N rather
  than selective repeat: the receiver then needs no reorder buffer (its RX buffer stays
  the per-VC FIFO the credits count), and the window is only the short round trip of a
  die-to-die hop, so resending it costs little at any useful error rate.
* **CRC.** ``crc_bits = 8``: x^8 + x^2 + x + 1 (0x07, ATM HEC): Hamming distance 4 up to
  119 bits, so in the codeword of a 64-bit flit every 1-, 2- and 3-bit error and every
  burst of up to 8 bits is detected. ``crc_bits = 16``: x^16 + x^12 + x^5 + 1 (0x1021,
  CCITT): distance 4 up to 32751 bits, for wide (D1: 1024-bit) flits; bursts up to 16.
  Computed combinationally, MSB first, initial value 0.
* **Error injection.** Each direction has a 32-bit xorshift generator stepped every
  cycle (state 0 after reset, then a value mixed from ``seed`` and the link's ``index``,
  then xorshift32). A forward codeword launched in cycle ``t`` is corrupted when the
  draw is below ``error_threshold`` (``2^32`` times the probability that a codeword of
  this length has an error event, see :func:`word_error_threshold`); a reverse word
  likewise with ``reverse_error_threshold``. An error event flips a burst of
  ``burst_len`` adjacent bits (at most the CRC width, so it is always detected) starting
  at a pseudo-random bit. A permanent lane failure (``lane_fail_cycle``) on the link with
  ``index == lane_fail_link`` (every link when None) corrupts the flit being serialised
  when it happens and switches the link to ``ratio_degraded`` cycles per flit.

Timing
------
With no errors: exactly the perfect-pipe DieLink (flit in TX buffer -> serialise
``ratio`` -> fly ``latency`` -> RX buffer -> registered output; credits back in
``1 + latency``). The link layer's extra bits are paid in ``ratio`` (``gen.derive``
counts ``seq`` and CRC bits on the wire). A replay costs the round trip
``ratio + 2 latency + 2`` cycles plus the resent window.

Size
----
Replay buffer ``P`` x (flit + 1 + vc + seq) bits, ``P`` = the next power of two at
least :func:`rtl.fabric.dielink.rx_depth_for` (the flits one round trip holds at full
rate); the reverse flight registers hold a control word instead of ``V`` credit bits.

Statistics (``stats``, 32-bit counters, names in :data:`STAT_NAMES`):
``injected`` forward error events, ``crc_errors`` forward codewords that failed the CRC,
``seq_drops`` good codewords dropped out of sequence, ``injected_reverse``,
``ack_errors`` control words that failed the CRC, ``naks`` NAKs seen by the sender,
``timeouts``, ``replays`` (NAK or timeout), ``replayed_flits`` codewords resent,
``sent`` codewords sent, ``degraded`` (1 after the lane failure); and, counted only in
the cycles the ``window`` input is high (a traffic tile's measurement window, the cycles its
nodes' link counters count), the energy's events: ``window_sent`` codewords sent (first
transmissions and replays), ``window_replayed`` the replays among them, and
``window_control`` control words that carry news (the reverse word of the next cycle
differs from this cycle's: a codeword was accepted, the NAK state was entered, or a flit
left the RX buffer, so an ACK, a NAK or a credit goes back). The reverse lane repeats its
last word in the other cycles; those repeats carry nothing new (an idle lane, as the forward
lane between codewords) and are not counted.
"""

import math

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.fabric.dielink import TX_DEPTH, _Fifo, first_ready, rx_depth_for, rx_output, tx_buffers
from rtl.net.link import LinkSignature, vc_bits
from rtl.net.probes import Probes

__all__ = ["ReliableDieLinkChannel", "CRC_POLYS", "STAT_NAMES", "crc", "crc_matrix",
           "word_error_threshold", "link_layer_geometry", "xorshift32", "lfsr_seed",
           "INDEX_BITS"]

#: supported CRC widths and their polynomials (without the x^n term), see the module docstring
CRC_POLYS = {8: 0x07, 16: 0x1021}
#: the per-link statistics words, in ``stats`` order
STAT_NAMES = ("injected", "crc_errors", "seq_drops", "injected_reverse", "ack_errors", "naks",
              "timeouts", "replays", "replayed_flits", "sent", "degraded",
              "window_sent", "window_replayed", "window_control")
#: width of the ``index`` input (the link's number in the tile)
INDEX_BITS = 16
_M32 = 0xFFFFFFFF
_SEED_MIX = (0x9E3779B9, 0x85EBCA6B)     # forward, reverse


def crc(value, nbits, width):
    """CRC of the ``nbits``-bit ``value`` (MSB first, initial value 0): the reference."""
    poly, reg = CRC_POLYS[width], 0
    top = 1 << (width - 1)
    for i in reversed(range(nbits)):
        fb = ((reg & top) != 0) ^ ((value >> i) & 1)
        reg = (reg << 1) & ((1 << width) - 1)
        if fb:
            reg ^= poly
    return reg


def crc_matrix(nbits, width):
    """For each CRC bit, the input bits it is the XOR of (the CRC is linear)."""
    cols = [crc(1 << i, nbits, width) for i in range(nbits)]
    return [[i for i in range(nbits) if cols[i] >> b & 1] for b in range(width)]


def xorshift32(x):
    """One step of the injectors' generator."""
    x ^= (x << 13) & _M32
    x ^= x >> 17
    x ^= (x << 5) & _M32
    return x


def lfsr_seed(seed, index, direction):
    """The injector state loaded one cycle after reset (never 0)."""
    v = (seed ^ _SEED_MIX[direction] ^ (index << 16) ^ index) & _M32
    return v or 1


def word_error_threshold(ber, nbits, burst_len=1):
    """``2^32 x P(a word of nbits bits has an error event)`` for a mean bit error rate
    ``ber`` delivered in bursts of ``burst_len`` bits (events per bit ``ber / burst_len``)."""
    if not 0 <= ber <= 1:
        raise ValueError(f"ber must be in [0, 1], not {ber!r}")
    p_event = ber / burst_len
    p_word = -math.expm1(nbits * math.log1p(-p_event)) if p_event < 1 else 1.0
    return min(_M32, int(round(p_word * (1 << 32))))


def link_layer_geometry(*, flit_bits, vcs, ratio, latency, crc_bits, rx_depth=None,
                        ratio_degraded=None):
    """Sizes of the link layer: replay depth, seq and counter widths, word widths, timeout."""
    if crc_bits not in CRC_POLYS:
        raise ValueError(f"crc_bits must be one of {', '.join(map(str, CRC_POLYS))}, "
                         f"not {crc_bits!r}")
    rx_depth = rx_depth_for(ratio, latency) if rx_depth is None else rx_depth
    ratio_degraded = ratio if ratio_degraded is None else ratio_degraded
    window = rx_depth_for(ratio, latency)
    replay = 1 << max(1, (window - 1).bit_length())
    seq_bits = replay.bit_length()                   # 2^seq_bits = 2 x replay
    cnt_bits = rx_depth.bit_length()                 # 2^cnt_bits > rx_depth
    payload = flit_bits + 1 + vc_bits(vcs) + seq_bits
    reverse_payload = seq_bits + 2 + vcs * cnt_bits
    timeout = 2 * max(ratio, ratio_degraded) + 2 * latency + 8
    return {"replay_depth": replay, "seq_bits": seq_bits, "count_bits": cnt_bits,
            "payload_bits": payload, "codeword_bits": payload + crc_bits,
            "overhead_bits": seq_bits + crc_bits,
            "reverse_payload_bits": reverse_payload,
            "reverse_bits": reverse_payload + crc_bits, "timeout": timeout,
            "rx_depth": rx_depth}


def _xorshift(m, state, seed_word):
    """A free-running xorshift32: 0 after reset, then ``seed_word``, then the sequence."""
    x1 = state ^ (state << 13)[:32]
    x2 = x1 ^ (x1 >> 17)
    x3 = x2 ^ (x2 << 5)[:32]
    m.d.sync += state.eq(Mux(state == 0, seed_word, x3))


def _crc_of(m, bits, width, name):
    out = Signal(width, name=name)
    for b, taps in enumerate(crc_matrix(len(bits), width)):
        acc = Const(0, 1)
        for i in taps:
            acc = acc ^ bits[i]
        m.d.comb += out[b].eq(acc)
    return out


def _burst_mask(m, draw, nbits, burst_len, name):
    """``burst_len`` ones at a position taken from the low bits of ``draw``."""
    span = nbits - burst_len + 1
    k = span.bit_length() - 1                     # 2^k <= span: the burst stays inside
    mask = Signal(nbits, name=name)
    pos = draw[:k] if k else Const(0, 1)
    m.d.comb += mask.eq(Const((1 << burst_len) - 1, nbits) << pos)
    return mask


class ReliableDieLinkChannel(Probes, wiring.Component):
    """One direction of a die-to-die link with CRC, sequence numbers and go-back-N replay.

    Parameters
    ----------
    flit_bits, vcs : link shape.
    ratio : int
        Core cycles per codeword on the wire (>= 1), CRC and sequence bits included.
    latency : int
        Flight cycles each way (>= 0), for codewords and control words.
    downstream_depth : int
        Buffer depth per VC of the receiving router (its credits).
    rx_depth : int or None
        RX buffer per VC; default :func:`rtl.fabric.dielink.rx_depth_for` (full rate).
    tx_depth : int
        TX buffer per VC: the credits the sender starts with.
    crc_bits : 8 or 16
    error_threshold, reverse_error_threshold : int
        Codeword error probability times ``2^32`` (:func:`word_error_threshold`) on the
        forward and the reverse direction; 0 injects nothing.
    burst_len : int
        Bits flipped by one error event, 1 .. ``crc_bits`` (always detected).
    seed : int
        32-bit seed of the injectors (mixed with ``index``).
    lane_fail_cycle : int or None
        Cycle after reset in which a lane fails (None: never).
    lane_fail_link : int or None
        ``index`` of the link that loses a lane (None: every link).
    ratio_degraded : int or None
        Cycles per codeword after the lane failure (>= ``ratio``; default ``ratio``).

    Members
    -------
    i : In(LinkSignature)
        From the sending router; credits are returned one cycle after a flit leaves
        the TX buffer.
    o : Out(LinkSignature)
        To the receiving router (registered).
    index : In(16)
        This link's number in the tile (tied to a constant): seeds the injectors and
        selects the link of ``lane_fail_link``.
    window : In(1)
        High in the cycles whose events the ``window_*`` counters count (a traffic tile
        drives its registered ``ctrl.mark``; tie to 1 to count every cycle).
    stats : Out(32 x len(STAT_NAMES))
        The counters of :data:`STAT_NAMES`, word ``k`` in bits ``32 k ..``.
    overflow : Out(1)
        Sticky: a flit arrived on a full TX buffer (the sender broke the protocol).

    Raises
    ------
    ValueError
        For a ratio, latency, depth, CRC width, burst length or threshold out of range.
    """

    PORT_ROLES = {"index": "die link number (tie to a constant)",
                  "window": "measurement window of the window_* counters",
                  "stats": "link-layer counters, 32 bits each (STAT_NAMES order)",
                  "overflow": "sticky: TX buffer overflow"}

    def __init__(self, *, flit_bits, vcs, ratio, latency, downstream_depth, rx_depth=None,
                 tx_depth=TX_DEPTH, crc_bits=8, error_threshold=0, reverse_error_threshold=0,
                 burst_len=1, seed=1, lane_fail_cycle=None, lane_fail_link=None,
                 ratio_degraded=None):
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f"ratio must be an integer >= 1, not {ratio!r}")
        if not isinstance(latency, int) or latency < 0:
            raise ValueError(f"latency must be an integer >= 0, not {latency!r}")
        ratio_degraded = ratio if ratio_degraded is None else ratio_degraded
        if not isinstance(ratio_degraded, int) or ratio_degraded < ratio:
            raise ValueError(f"ratio_degraded must be an integer >= ratio ({ratio}), "
                             f"not {ratio_degraded!r}")
        if crc_bits not in CRC_POLYS:
            raise ValueError(f"crc_bits must be one of {', '.join(map(str, CRC_POLYS))}, "
                             f"not {crc_bits!r}")
        if not isinstance(burst_len, int) or not 1 <= burst_len <= crc_bits:
            raise ValueError(f"burst_len must be an integer from 1 to crc_bits ({crc_bits}), "
                             f"not {burst_len!r}")
        for name, v in (("error_threshold", error_threshold),
                        ("reverse_error_threshold", reverse_error_threshold)):
            if not isinstance(v, int) or not 0 <= v <= _M32:
                raise ValueError(f"{name} must be an integer from 0 to 2^32 - 1, not {v!r}")
        if lane_fail_cycle is not None and (not isinstance(lane_fail_cycle, int)
                                            or not 0 <= lane_fail_cycle <= _M32 - 1):
            raise ValueError(f"lane_fail_cycle must be None or an integer from 0 to 2^32 - 2, "
                             f"not {lane_fail_cycle!r}")
        geo = link_layer_geometry(flit_bits=flit_bits, vcs=vcs, ratio=ratio, latency=latency,
                                  crc_bits=crc_bits, rx_depth=rx_depth,
                                  ratio_degraded=ratio_degraded)
        if geo["rx_depth"] < 1:
            raise ValueError(f"rx_depth must be >= 1, not {geo['rx_depth']}")
        if tx_depth < 1:
            raise ValueError(f"tx_depth must be >= 1, not {tx_depth}")
        self._geo = geo
        self._flit_bits, self._vcs = flit_bits, vcs
        self._ratio, self._ratio_d, self._latency = ratio, ratio_degraded, latency
        self._rx_depth, self._down, self._tx_depth = geo["rx_depth"], downstream_depth, tx_depth
        self._crc_bits, self._burst = crc_bits, burst_len
        self._thr, self._rthr = error_threshold, reverse_error_threshold
        self._seed = seed & _M32
        self._fail_cycle, self._fail_link = lane_fail_cycle, lane_fail_link
        sig = LinkSignature(flit_bits=flit_bits, vcs=vcs)
        super().__init__({"i": In(sig), "o": Out(sig), "index": In(INDEX_BITS),
                          "window": In(1),
                          "stats": Out(32 * len(STAT_NAMES)), "overflow": Out(1)})

    @property
    def rx_depth(self):
        return self._rx_depth

    def _errors(self, m, fwd_draw, rev_draw):
        """``(forward, reverse)``: corrupt the codeword launched / the control word sent in
        this cycle (a formal harness overrides this with free inputs)."""
        fwd_err, rev_err = Signal(name="fwd_err"), Signal(name="rev_err")
        if self._thr:
            m.d.comb += fwd_err.eq((fwd_draw != 0) & (fwd_draw < self._thr))
        if self._rthr:
            m.d.comb += rev_err.eq((rev_draw != 0) & (rev_draw < self._rthr))
        return fwd_err, rev_err

    def _replay_from(self, ack):
        """Where a replay starts: the oldest unacknowledged codeword (a mutant overrides it)."""
        return ack

    @property
    def geometry(self):
        """:func:`link_layer_geometry` of this link."""
        return dict(self._geo)

    def elaborate(self, platform):
        m = Module()
        V, F = self._vcs, self._flit_bits
        vb = vc_bits(V)
        geo = self._geo
        P, S, CB, C = geo["replay_depth"], geo["seq_bits"], geo["count_bits"], self._crc_bits
        PB = geo["payload_bits"]
        RPB = geo["reverse_payload_bits"]
        pb = (P - 1).bit_length()
        stat = {n: Signal(32, name=f"st_{n}") for n in STAT_NAMES}
        m.d.comb += self.stats.eq(Cat(*(stat[n] for n in STAT_NAMES)))

        # -- injectors -------------------------------------------------------------------
        fx, rx_ = Signal(32, name="inj_fwd"), Signal(32, name="inj_rev")
        idx = self.index
        for state, d in ((fx, 0), (rx_, 1)):
            word = Signal(32, name=f"inj_seed{d}")
            m.d.comb += word.eq(Const(self._seed ^ _SEED_MIX[d], 32) ^ Cat(idx, Const(0, 16))
                                ^ Cat(Const(0, 16), idx))
            _xorshift(m, state, Mux(word == 0, 1, word))
        fwd_err, rev_err = self._errors(m, fx, rx_)

        # lane failure
        failed = Signal()
        lane_kill = Signal()         # the flit launched now is on the wire when the lane dies
        cyc = Signal(32)
        if self._fail_cycle is not None:
            here = Const(1, 1) if self._fail_link is None else (idx == self._fail_link)
            Fc = self._fail_cycle
            with m.If(~failed):
                m.d.sync += cyc.eq(cyc + 1)
            with m.If(here & (cyc == Fc)):
                m.d.sync += failed.eq(1)
            # occupancy of a word launched in cycle s: s+1 .. s+ratio; the lane is gone from Fc+1
            m.d.comb += lane_kill.eq(here & ~failed & (cyc <= Fc) & (cyc + self._ratio > Fc))
        m.d.comb += stat["degraded"].eq(failed)

        # -- TX buffers: the sender's credit target -------------------------------------
        T = self._tx_depth
        W = F + 1
        tx, tx_credit = tx_buffers(m, self.i, self.overflow, V, W, T)

        # -- link TX ---------------------------------------------------------------------
        remote = [Signal(range(self._rx_depth + 1), init=self._rx_depth, name=f"remote{v}")
                  for v in range(V)]
        next_seq, sp, oldest = Signal(S), Signal(S), Signal(S)
        replay = [Signal(PB, name=f"replay{k}") for k in range(P)]
        busy = Signal(range(self._ratio_d + 1))
        rr = Signal(vb)
        unacked = Signal(S)
        m.d.comb += unacked.eq(next_seq - oldest)
        room = Signal()
        m.d.comb += room.eq(unacked < P)
        replaying = Signal()
        m.d.comb += replaying.eq(sp != next_seq)
        ready = Cat(tx[v].nonempty & (remote[v] != 0) for v in range(V))
        pick, found = first_ready(m, ready, rr, vb, "")
        start, start_new = Signal(), Signal()
        m.d.comb += [start_new.eq(~replaying & found & room & (busy <= 1)),
                     start.eq((replaying | (found & room)) & (busy <= 1))]
        head = Signal(W)
        for v in range(V):
            with m.If(pick == v):
                m.d.comb += head.eq(tx[v].head)
        new_word = Signal(PB)
        m.d.comb += new_word.eq(Cat(head, pick if V > 1 else Const(0, vb), next_seq))
        rp_word = Signal(PB)
        with m.Switch(sp[:pb]):
            for k in range(P):
                with m.Case(k):
                    m.d.comb += rp_word.eq(replay[k])
        send = Signal(PB)
        m.d.comb += send.eq(Mux(replaying, rp_word, new_word))
        send_crc = _crc_of(m, send, C, "tx_crc")
        NB = PB + C
        fmask = _burst_mask(m, fx, NB, self._burst, "fwd_mask")
        wire_word = Signal(NB)
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        with m.If(start):
            m.d.sync += [busy.eq(Mux(failed, self._ratio_d, self._ratio)),
                         wire_word.eq(Cat(send, send_crc)
                                      ^ Mux(fwd_err, fmask, 0) ^ Mux(lane_kill & ~fwd_err, 1, 0)),
                         stat["sent"].eq(stat["sent"] + 1),
                         stat["injected"].eq(stat["injected"] + (fwd_err | lane_kill)),
                         stat["replayed_flits"].eq(stat["replayed_flits"] + replaying)]
        with m.If(start & self.window):
            m.d.sync += [stat["window_sent"].eq(stat["window_sent"] + 1),
                         stat["window_replayed"].eq(stat["window_replayed"] + replaying)]
        with m.If(start_new):
            if V > 1:
                m.d.sync += rr.eq(Mux(pick == V - 1, 0, pick + 1))
            m.d.sync += next_seq.eq(next_seq + 1)
            with m.Switch(next_seq[:pb]):
                for k in range(P):
                    with m.Case(k):
                        m.d.sync += replay[k].eq(new_word)
            for v in range(V):
                with m.If(pick == v):
                    m.d.comb += tx[v].pop.eq(1)
        m.d.comb += tx_credit.eq(Cat(tx[v].pop for v in range(V)))

        # landing: the word launched by `start` lands after its `ratio` cycles (busy == 1)
        fv, fw = Signal(name="land_v"), wire_word
        m.d.comb += fv.eq(busy == 1)
        for k in range(self._latency):
            nv, nw = Signal(name=f"fly_v{k}"), Signal(NB, name=f"fly_w{k}")
            m.d.sync += nv.eq(fv)
            with m.If(fv):
                m.d.sync += nw.eq(fw)
            fv, fw = nv, nw

        # -- link RX ---------------------------------------------------------------------
        expected = Signal(S)
        nak_state, nak_count = Signal(), Signal(2)
        pops = [Signal(CB, name=f"pops{v}") for v in range(V)]
        r_data, r_last = fw[:F], fw[F]
        r_vc, r_seq, r_crc = fw[F + 1:F + 1 + vb], fw[F + 1 + vb:PB], fw[PB:NB]
        r_ok = Signal()
        m.d.comb += r_ok.eq(_crc_of(m, fw[:PB], C, "rx_crc") == r_crc)
        good = Signal()
        m.d.comb += good.eq(fv & r_ok & (r_seq == expected))
        dist = Signal(S)
        m.d.comb += dist.eq(r_seq - expected)
        hole = Signal()        # a flit ahead of the expected one: something was lost
        m.d.comb += hole.eq(fv & ((~r_ok) | ((dist != 0) & ~dist[S - 1])))
        with m.If(good):
            m.d.sync += [expected.eq(expected + 1), nak_state.eq(0)]
        with m.Elif(hole & ~nak_state):
            m.d.sync += [nak_state.eq(1), nak_count.eq(nak_count + 1)]
        with m.If(fv & ~r_ok):
            m.d.sync += stat["crc_errors"].eq(stat["crc_errors"] + 1)
        with m.If(fv & r_ok & (r_seq != expected)):
            m.d.sync += stat["seq_drops"].eq(stat["seq_drops"] + 1)

        rx = [_Fifo(m, f"rx{v}", W, self._rx_depth) for v in range(V)]
        down = [Signal(range(self._down + 1), init=self._down, name=f"down{v}") for v in range(V)]
        rx_pop = Signal(V)
        for v, f in enumerate(rx):
            m.d.comb += [f.din.eq(Cat(r_data, r_last)),
                         f.push.eq(good & ((r_vc == v) if V > 1 else 1))]
        rx_output(m, rx, down, rx_pop, self.o, vb)
        for v in range(V):
            m.d.sync += [down[v].eq(down[v] - rx_pop[v] + self.o.credit[v]),
                         pops[v].eq(pops[v] + rx_pop[v])]
        # the next control word carries news: a new `expected`, `nak_count` or pop count
        news = Signal()
        m.d.comb += news.eq(good | (hole & ~nak_state) | (rx_pop != 0))
        with m.If(news & self.window):
            m.d.sync += stat["window_control"].eq(stat["window_control"] + 1)

        # -- reverse control word: every cycle, `latency` cycles of flight ----------------
        rpay = Signal(RPB)
        m.d.comb += rpay.eq(Cat(expected, nak_count, *pops))
        rmask = _burst_mask(m, rx_, RPB + C, self._burst, "rev_mask")
        rword = Signal(RPB + C)
        m.d.comb += rword.eq(Cat(rpay, _crc_of(m, rpay, C, "rev_crc")) ^ Mux(rev_err, rmask, 0))
        with m.If(rev_err):
            m.d.sync += stat["injected_reverse"].eq(stat["injected_reverse"] + 1)
        c = rword
        for k in range(self._latency):
            nc = Signal(RPB + C, name=f"ctl_fly{k}")
            m.d.sync += nc.eq(c)
            c = nc

        # -- link TX: the control word arrives ---------------------------------------------
        c_ack, c_nak = c[:S], c[S:S + 2]
        c_pops = [c[S + 2 + v * CB:S + 2 + (v + 1) * CB] for v in range(V)]
        c_ok = Signal()
        m.d.comb += c_ok.eq(_crc_of(m, c[:RPB], C, "ctl_crc") == c[RPB:])
        seen = [Signal(CB, name=f"seen{v}") for v in range(V)]
        seen_nak = Signal(2)
        credit_back = [Signal(CB, name=f"credit_back{v}") for v in range(V)]
        for v in range(V):
            m.d.comb += credit_back[v].eq(Mux(c_ok, c_pops[v] - seen[v], 0))
            with m.If(c_ok):
                m.d.sync += seen[v].eq(c_pops[v])
            sent_v = start_new & (pick == v)
            m.d.sync += remote[v].eq(remote[v] - sent_v + credit_back[v])
        with m.If(~c_ok):
            m.d.sync += stat["ack_errors"].eq(stat["ack_errors"] + 1)
        ack = Signal(S)
        m.d.comb += ack.eq(Mux(c_ok, c_ack, oldest))
        progress = Signal()
        m.d.comb += progress.eq(ack != oldest)
        m.d.sync += oldest.eq(ack)
        nak_new = Signal()
        m.d.comb += nak_new.eq(c_ok & (c_nak != seen_nak))
        with m.If(c_ok):
            m.d.sync += seen_nak.eq(c_nak)
        timer = Signal(range(geo["timeout"] + 1))
        expired = Signal()
        m.d.comb += expired.eq(timer == geo["timeout"])
        trigger = Signal()
        m.d.comb += trigger.eq(nak_new | expired)
        with m.If(trigger | progress | (unacked == 0)):
            m.d.sync += timer.eq(0)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)
        sp_after = Signal(S)
        m.d.comb += sp_after.eq(sp + start)
        with m.If(trigger):
            m.d.sync += sp.eq(self._replay_from(ack))
        with m.Elif((ack - oldest)[:S] > (sp_after - oldest)[:S]):
            m.d.sync += sp.eq(ack)
        with m.Else():
            m.d.sync += sp.eq(sp_after)
        self._probe(tx=tx, rx=rx, remote=remote, down=down, next_seq=next_seq, sp=sp,
                    oldest=oldest, replay=replay, busy=busy, wire_word=wire_word,
                    expected=expected, nak_state=nak_state, nak_count=nak_count, pops=pops,
                    seen=seen, seen_nak=seen_nak, timer=timer, start_new=start_new,
                    good=good, r_ok=r_ok, land=fv, credit_back=credit_back, rx_pop=rx_pop,
                    trigger=trigger, stats=stat)
        with m.If(nak_new):
            m.d.sync += stat["naks"].eq(stat["naks"] + 1)
        with m.If(expired):
            m.d.sync += stat["timeouts"].eq(stat["timeouts"] + 1)
        with m.If(trigger):
            m.d.sync += stat["replays"].eq(stat["replays"] + 1)
        return m
