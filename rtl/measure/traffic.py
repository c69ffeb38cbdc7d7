"""Synthesizable traffic generator and sink (DESIGN.md section 8).

Every node of a measured mesh holds one :class:`TrafficGen`, feeding the local
input port of its router, and one :class:`TrafficSink`, draining the local
output port. All generators of a mesh share one set of runtime registers
(:func:`control_layout`), so one Verilator build serves a whole sweep: rate,
pattern, packet length, seed and the measurement window are registers, not
generator parameters.

Measurement follows the usual method: warm-up with ``enable`` high, a
measurement window with ``mark`` high (packets generated in it are *marked*),
then drain until the sum of the sinks' ``marked_packets`` equals the sum of the
generators' ``generated_marked``. Latency statistics count marked packets only.

Traffic packets
---------------
Head: ``dst`` (from the pattern), ``src`` = own coordinates, ``mclass`` REQUEST,
``opcode`` TRAFFIC, ``length`` (flits including the head), ``info`` =
:attr:`PacketFormat.traffic_info` (``marked``, ``seq``, ``timestamp`` = the
global cycle counter when the packet was generated, i.e. source queueing counts
as latency). Body flit ``i`` (``i >= 1``) carries
``payload_word(src_x, src_y, seq, i, flit_bits)``.

All packets of one source to one destination use one VC (a function of the
destination, :func:`traffic_vc`) and therefore one path, so they arrive in
order: the sink checks that each source's sequence numbers increase.
"""

import types

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, enum, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.net.arith import divmod_const as _divmod_const, reciprocal as _reciprocal  # noqa: F401 (tests)
from rtl.net.link import LinkSignature, check_vcs, vc_bits
from rtl.net.routing_table import (DIE_ENTRY_BITS, NODE_ENTRY_BITS, ConfigTarget,
                                   check_table_shape, config_layout, select_bits, table_planes)
from rtl.net.packet import LENGTH_BITS, SEQ_BITS, MsgClass, Opcode, PacketFormat, coord_bits_for

__all__ = ["Pattern", "DETERMINISTIC_PATTERNS", "destination", "control_layout",
           "payload_word", "traffic_vc", "rate_threshold", "control_value", "CONTROL_IDLE",
           "gen_stats_layout", "sink_stats_layout",
           "RATE_BITS", "UNIFORM_BITS", "xorshift64", "seed_state", "random_draws",
           "TrafficGen", "TrafficSink"]


#: width of ``ctrl.rate``: a packet is generated when the 16-bit rate draw < rate
RATE_BITS = 16
#: random bits per coordinate of a uniform destination (``x = (r * mesh_x) >> UNIFORM_BITS``)
UNIFORM_BITS = 11
#: bits of the hotspot draw (probability ``hotspot_frac / 256``)
HOTSPOT_BITS = 8
#: shifts of the xorshift64 generator (Marsaglia 2003), period 2**64 - 1
_XORSHIFT = (13, 7, 17)
_MASK64 = (1 << 64) - 1
#: the state after reset (any non-zero value)
_RESET_STATE = 0x9E3779B97F4A7C15


class Pattern(enum.Enum, shape=3):
    """Destination pattern (``ctrl.pattern``); ``n = y * mesh_x + x``, ``N = mesh_x * mesh_y``.

    UNIFORM
        A random node, the source itself included (as BookSim).
    TRANSPOSE
        ``(y mod mesh_x, x mod mesh_y)``.
    BIT_COMPLEMENT
        ``(mesh_x - 1 - x, mesh_y - 1 - y)``.
    BIT_REVERSE
        The ``ceil(log2 N)`` bits of ``n`` reversed, then ``mod N``.
    SHUFFLE
        ``n`` rotated left by one within ``ceil(log2 N)`` bits, then ``mod N``.
    TORNADO
        ``((x + ceil(mesh_x/2) - 1) mod mesh_x, (y + ceil(mesh_y/2) - 1) mod mesh_y)``.
    NEIGHBOUR
        ``((x + 1) mod mesh_x, y)``.
    HOTSPOT
        With probability ``hotspot_frac / 256`` the node ``(hotspot_x, hotspot_y)``,
        else uniform.
    """
    UNIFORM = 0
    TRANSPOSE = 1
    BIT_COMPLEMENT = 2
    BIT_REVERSE = 3
    SHUFFLE = 4
    TORNADO = 5
    NEIGHBOUR = 6
    HOTSPOT = 7


#: patterns whose destination is a function of the source alone
DETERMINISTIC_PATTERNS = (Pattern.TRANSPOSE, Pattern.BIT_COMPLEMENT, Pattern.BIT_REVERSE,
                          Pattern.SHUFFLE, Pattern.TORNADO, Pattern.NEIGHBOUR)


def _index_bits(mesh_x, mesh_y):
    return (mesh_x * mesh_y - 1).bit_length()


def destination(pattern, x, y, mesh_x, mesh_y):
    """Golden model: destination ``(x, y)`` of a deterministic pattern.

    Parameters
    ----------
    pattern : Pattern
        One of :data:`DETERMINISTIC_PATTERNS`.
    x, y : int
        Source coordinates, ``0 <= x < mesh_x``, ``0 <= y < mesh_y``.
    mesh_x, mesh_y : int
        Mesh size.

    Raises
    ------
    ValueError
        For a random pattern (UNIFORM, HOTSPOT) or a source outside the mesh.
    """
    pattern = Pattern(pattern)
    if not (0 <= x < mesh_x and 0 <= y < mesh_y):
        raise ValueError(f"source ({x}, {y}) is outside the {mesh_x}x{mesh_y} mesh")
    n_nodes = mesh_x * mesh_y
    bits = _index_bits(mesh_x, mesh_y)
    n = y * mesh_x + x
    if pattern == Pattern.TRANSPOSE:
        return (y % mesh_x, x % mesh_y)
    if pattern == Pattern.BIT_COMPLEMENT:
        return (mesh_x - 1 - x, mesh_y - 1 - y)
    if pattern == Pattern.BIT_REVERSE:
        r = int(format(n, f"0{bits}b")[::-1], 2) if bits else 0
        r %= n_nodes
        return (r % mesh_x, r // mesh_x)
    if pattern == Pattern.SHUFFLE:
        r = (((n << 1) | (n >> (bits - 1))) & ((1 << bits) - 1)) if bits else 0
        r %= n_nodes
        return (r % mesh_x, r // mesh_x)
    if pattern == Pattern.TORNADO:
        return ((x + (mesh_x + 1) // 2 - 1) % mesh_x, (y + (mesh_y + 1) // 2 - 1) % mesh_y)
    if pattern == Pattern.NEIGHBOUR:
        return ((x + 1) % mesh_x, y)
    raise ValueError(f"pattern {pattern.name} is random; destination() covers "
                     f"{', '.join(p.name for p in DETERMINISTIC_PATTERNS)}")


def control_layout(coord_bits):
    """Runtime registers shared by every generator of a mesh.

    Fields
    ------
    enable : 1
        Generate packets. While low the random state is (re)loaded from ``seed``; the
        source queue and the packets in flight still drain. Sequence numbers and
        statistics are kept (only reset clears them).
    mark : 1
        Packets generated while high are marked (the measurement window).
    rate : 16
        Each enabled cycle a packet is generated when a 16-bit random draw
        (:func:`random_draws`) is ``< rate``: offered load ``rate / 65536``
        packets per node per cycle (0 never, 0xFFFF 65535 cycles in 65536).
    pattern : Pattern
    packet_len : 8
        Flits per packet, head included. 0 is sent as 1 and values above
        ``max_packet_flits`` as ``max_packet_flits``: the hardware clamps, the
        command line rejects such values before they get here.
    seed : 16
        Each node XORs its node index ``y * mesh_x + x`` into it.
    hotspot_x, hotspot_y : coord_bits
        The hotspot node (must lie inside the mesh).
    hotspot_frac : 8
        HOTSPOT sends to the hotspot with probability ``hotspot_frac / 256``.
    """
    if not isinstance(coord_bits, int) or isinstance(coord_bits, bool) or coord_bits < 1:
        raise ValueError(f"coord_bits must be a positive integer, not {coord_bits!r}")
    return data.StructLayout({
        "enable": 1,
        "mark": 1,
        "rate": RATE_BITS,
        "pattern": Pattern,
        "packet_len": LENGTH_BITS,
        "seed": 16,
        "hotspot_x": coord_bits,
        "hotspot_y": coord_bits,
        "hotspot_frac": HOTSPOT_BITS,
    })


def rate_threshold(rate, packet_len):
    """``ctrl.rate`` for an offered load of ``rate`` flits/node/cycle in ``packet_len``-flit
    packets (rounded to the 16-bit threshold)."""
    return min((1 << RATE_BITS) - 1, round(rate / packet_len * (1 << RATE_BITS)))


#: the ctrl fields of an idle generator: disabled, unmarked, rate 0, uniform, 1-flit,
#: seed 1, hotspot (0, 0) at 64/256 (what :func:`control_value` fills in)
CONTROL_IDLE = {"enable": 0, "mark": 0, "rate": 0, "pattern": Pattern.UNIFORM, "packet_len": 1,
                "seed": 1, "hotspot_x": 0, "hotspot_y": 0, "hotspot_frac": 64}


def control_value(coord_bits, **fields):
    """The packed ``ctrl`` word of :func:`control_layout`; fields not given are idle
    (:data:`CONTROL_IDLE`)."""
    return control_layout(coord_bits).const({**CONTROL_IDLE, **fields}).as_value().value


def gen_stats_layout(live=False):
    """Statistics of a :class:`TrafficGen`: 32-bit wrapping counters.

    ``generated`` / ``generated_marked`` count packets entered into the source
    queue (each takes a sequence number); ``suppressed`` counts generation events
    lost because the queue was full (offered = generated + suppressed);
    ``injected_packets`` / ``injected_flits`` count what went onto the link.
    With ``live`` (the live-node rules, see :class:`TrafficGen`) a sixth counter,
    ``suppressed_dead``, counts generation events of a live source whose
    destination is not live (offered = generated + suppressed + suppressed_dead).
    """
    names = ("generated", "generated_marked", "injected_packets", "injected_flits", "suppressed")
    if live:
        names += ("suppressed_dead",)
    return data.StructLayout({name: 32 for name in names})


def sink_stats_layout(histogram_bins):
    """Statistics of a :class:`TrafficSink`: wrapping counters (see the class)."""
    return data.StructLayout({
        "packets": 32, "flits": 32, "marked_packets": 32, "marked_flits": 32,
        "latency_max": 32, "misroutes": 32, "integrity_errors": 32, "order_errors": 32,
        "hist": data.ArrayLayout(32, histogram_bins),
        "latency_sum": 48,
    })


# -- helpers shared by RTL, golden model and tests ------------------------------------

def _trunc(value, bits):
    """``value mod 2**bits`` for a Python int or an Amaranth value (then ``bits`` wide)."""
    if isinstance(value, int):
        return value & ((1 << bits) - 1)
    return Value.cast(value).as_unsigned()[:bits]


def _rotl32(value, amount):
    """Rotate a value of at most 32 bits left within 32 bits (int or Amaranth value)."""
    if amount == 0:
        return value
    return _trunc((value << amount) | (value >> (32 - amount)), 32)


#: per 32-bit block j: rotation of (seq, index, src_x, src_y) and an added constant
_PAYLOAD_BLOCKS = [((7 * j) % 32, (16 + 11 * j) % 32, (24 + 5 * j) % 32, (28 + 13 * j) % 32,
                    (0x9E3779B9 * (j + 1)) & 0xFFFFFFFF) for j in range(32)]


def payload_word(src_x, src_y, seq, index, width):
    """Payload of body flit ``index`` of packet ``seq`` from ``(src_x, src_y)``.

    A cheap hash: 32-bit block ``j`` of the word is ``(rotl(seq, a_j) ^
    rotl(index, b_j) ^ rotl(src_x, c_j) ^ rotl(src_y, d_j)) + K_j mod 2**32``
    (rotations within 32 bits, ``seq`` taken mod 2**16, ``index`` mod 2**8,
    coordinates mod 2**12), the blocks concatenated and truncated to
    ``width``: three XORs and one 32-bit constant add per block, no multiplier.
    Each input is used directly, never through a shared intermediate (Amaranth
    would duplicate it), and the constant is added rather than XORed (an XOR
    with a constant is split into scattered inverted bits, slow in Verilator).

    Written once for both worlds: with Python ints it returns an int, with
    Amaranth values a ``width``-bit value; the two agree bit for bit.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    leaves = (_trunc(seq, SEQ_BITS), _trunc(index, LENGTH_BITS),
              _trunc(src_x, 12), _trunc(src_y, 12))
    word = 0
    for j in range((width + 31) // 32):
        *rotations, constant = _PAYLOAD_BLOCKS[j % len(_PAYLOAD_BLOCKS)]
        block = 0
        for leaf, amount in zip(leaves, rotations):
            block = block ^ _rotl32(leaf, amount)
        word = word | (_trunc(block + constant, 32) << (32 * j))
    return _trunc(word, width)


def traffic_vc(dst_x, dst_y, traffic_vcs):
    """VC of a traffic packet: ``traffic_vcs[(dst_x + dst_y) mod len(traffic_vcs)]``.

    A function of the destination only, so every packet of one source to one
    destination takes one VC and one path and arrives in order. Works on Python
    ints; :class:`TrafficGen` implements the same function in RTL.
    """
    return traffic_vcs[(dst_x + dst_y) % len(traffic_vcs)]


def xorshift64(state):
    """Python model of the generator's random source: one xorshift64 step per enabled cycle.

    xorshift generators are linear feedback generators over GF(2) (Marsaglia, 2003)
    computed with three word-wide shift-XORs instead of one XOR per bit, which
    keeps 64 generators cheap in Verilator and on an FPGA. Never reaches 0.
    """
    a, b, c = _XORSHIFT
    state ^= (state << a) & _MASK64
    state ^= state >> b
    state ^= (state << c) & _MASK64
    return state


def seed_state(seed, x, y, mesh_x):
    """Python model: the state a generator at ``(x, y)`` loads while ``enable`` is low.

    ``s = (seed ^ (y * mesh_x + x)) mod 2**16`` and its complement ``~s``, in
    the lanes ``{s, ~s, s, ~s}`` (most significant first): never 0.
    """
    s = (seed ^ (y * mesh_x + x)) & 0xFFFF
    return ((~s & 0xFFFF) | s << 16) * 0x0000000100000001


def random_draws(state):
    """The draws a generator takes from its state: ``(rate, uniform_x, uniform_y, hotspot)``.

    The rate draw is the top 16 bits (a packet is generated when it is < ``rate``);
    the uniform coordinate draws are ``UNIFORM_BITS`` wide; the hotspot draw 8 bits.
    """
    ub = UNIFORM_BITS
    return (state >> 48, state & ((1 << ub) - 1), (state >> 16) & ((1 << ub) - 1),
            (state >> 32) & ((1 << HOTSPOT_BITS) - 1))


def _counter_registers(m, port):
    """One register per field of a stats port (one per element of an array field).

    The port is driven combinationally from them: separate registers simulate far
    faster in Verilator than read-modify-writes of slices of one wide register.
    """
    regs = {}
    for name, field in port.shape():
        view = getattr(port, name)
        if isinstance(field.shape, data.ArrayLayout):
            regs[name] = [Signal(field.shape.elem_shape, name=f"{name}_{i}")
                          for i in range(field.shape.length)]
            m.d.comb += [view[i].eq(reg) for i, reg in enumerate(regs[name])]
        else:
            regs[name] = Signal(field.shape, name=name)
            m.d.comb += view.eq(regs[name])
    return types.SimpleNamespace(**regs)


def _check_int(name, value, lo, hi=None):
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or \
            (hi is not None and value > hi):
        allowed = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
        raise ValueError(f"{name} must be {allowed}, not {value!r}")


def _check_mesh(fmt, mesh_x, mesh_y):
    if not isinstance(fmt, PacketFormat):
        raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
    _check_int("mesh_x", mesh_x, 1)
    _check_int("mesh_y", mesh_y, 1)
    need = coord_bits_for(mesh_x, mesh_y)
    if need > fmt.coord_bits:
        raise ValueError(f"a {mesh_x}x{mesh_y} mesh needs {need}-bit coordinates, "
                         f"the packet format has {fmt.coord_bits}")


class _DeterministicDestination(wiring.Component):
    """Destination of the deterministic patterns, combinational.

    Ports: ``x``, ``y``, ``pattern`` in; ``dst_x``, ``dst_y`` out (valid for
    the deterministic patterns; the source itself for UNIFORM/HOTSPOT).
    Divisions by the mesh width are constant reciprocal multiplies.
    """

    def __init__(self, *, coord_bits, mesh_x, mesh_y):
        self._cb, self._mx, self._my = coord_bits, mesh_x, mesh_y
        super().__init__({"x": In(coord_bits), "y": In(coord_bits), "pattern": In(Pattern),
                          "dst_x": Out(coord_bits), "dst_y": Out(coord_bits)})

    def elaborate(self, platform):
        m = Module()
        mx, my, cb = self._mx, self._my, self._cb
        x, y = self.x, self.y
        n_nodes = mx * my
        bits = _index_bits(mx, my)

        def wrap(v, mod):                   # v < 2 * mod
            return Mux(v >= mod, v - mod, v)[:cb]

        def node_xy(raw):                    # raw < 2 * N -> (x, y) of raw mod N
            n = Signal(max(1, bits), name="n_mod")
            m.d.comb += n.eq(Mux(raw >= n_nodes, raw - n_nodes, raw))
            q, r = _divmod_const(n, mx, n_nodes - 1)
            return r, q

        n = Signal(max(1, bits))
        m.d.comb += n.eq(y * mx + x)
        cand = {}
        if my <= mx:
            tr_x = y
        else:
            tr_x = _divmod_const(y, mx, my - 1)[1]
        if mx <= my:
            tr_y = x
        else:
            tr_y = _divmod_const(x, my, mx - 1)[1]
        cand[Pattern.TRANSPOSE] = (tr_x, tr_y)
        cand[Pattern.BIT_COMPLEMENT] = (mx - 1 - x, my - 1 - y)
        if bits:
            cand[Pattern.BIT_REVERSE] = node_xy(Cat(*[n[i] for i in reversed(range(bits))]))
            cand[Pattern.SHUFFLE] = node_xy(Cat(n[bits - 1], n[:bits - 1]))
        else:
            cand[Pattern.BIT_REVERSE] = cand[Pattern.SHUFFLE] = (0, 0)
        cand[Pattern.TORNADO] = (wrap(x + (mx + 1) // 2 - 1, mx), wrap(y + (my + 1) // 2 - 1, my))
        cand[Pattern.NEIGHBOUR] = (wrap(x + 1, mx), y)

        m.d.comb += [self.dst_x.eq(x), self.dst_y.eq(y)]
        with m.Switch(self.pattern):
            for pat, (dx, dy) in cand.items():
                with m.Case(pat):
                    m.d.comb += [self.dst_x.eq(dx), self.dst_y.eq(dy)]
        return m


class TrafficGen(wiring.Component):
    """Traffic generator for one node: Bernoulli source, source queue, injector.

    Parameters
    ----------
    fmt : PacketFormat
        Packet format of the fabric.
    vcs : int
        VCs of the link (1..4).
    mesh_x, mesh_y : int
        Global mesh size (destinations lie inside it).
    credits : int
        Receiver buffer depth per VC: the initial value of each credit counter.
    queue_depth : int
        Source queue entries (packet descriptors).
    max_packet_flits : int
        Longest packet (1..255); ``ctrl.packet_len`` is clamped to it.
    traffic_vcs : tuple of int, optional
        VCs the traffic may use (default: all). Give only the request-class VCs
        if the router reserves VCs per message class.
    live_shape : (dies_x, dies_y, nodes_x, nodes_y) or None
        Turns on the live-node rules (fault maps): the generator gets a ``cfg``
        port (:func:`rtl.net.routing_table.config_layout` of this shape) through
        which the live list is loaded. ``None`` (default): every node is live.

    Members
    -------
    x, y : In(fmt.coord_bits)
        Own coordinates (tie to constants).
    now : In(fmt.timestamp_bits)
        Global cycle counter: the head timestamp of packets generated this cycle.
    ctrl : In(control_layout(fmt.coord_bits))
        Runtime registers, see :func:`control_layout`.
    o : Out(LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs))
        To the router's local input. Registered outputs: at most one flit per
        cycle, only with a credit for its VC; all flits of a packet on one VC,
        back to back when credits allow. ``o.credit`` pulses return credits.
    stats : Out(gen_stats_layout(live))
        Counters, see :func:`gen_stats_layout`.
    cfg : In(config_layout(...))
        Only with ``live_shape``: ``COUNT`` writes set the live count ``L`` and clear
        the live bitmap, ``LIVE`` writes ``live[addr] = {y, x}`` and set its bit. No
        reset: load once, before traffic (e.g. while the first reset is held).

    Live-node rules (``live_shape`` given; docs/table_mode.md). The random state
    advances exactly as without them. A packet is generated iff the rate draw fires,
    the own node is live and the destination is live; a fire of a live source with a
    destination that is not live counts in ``suppressed_dead`` (nothing else: no
    sequence number, no queue slot); a source that is not live counts nothing.
    UNIFORM (and the uniform part of HOTSPOT) draws over live nodes only:
    ``dst = live[(r * L) >> 22]`` with ``r = (draw_x << 11) | draw_y`` (the two
    11-bit draws of :func:`random_draws`); the deterministic patterns keep their
    destinations, so a permutation pattern is defined on the live nodes whose
    partner is live.

    ``ctrl`` is registered inside: a change on this port takes effect one cycle later
    (a mesh registers it once more before it fans out, see :class:`rtl.fabric.mesh.Mesh`).
    Each enabled cycle the rate draw decides whether a packet is generated; its
    descriptor (destination, ``now``, ``mark``, next sequence number) enters
    the source queue or, if the queue is full, is counted in ``suppressed``.
    The injector sends the oldest descriptor as a packet of ``ctrl.packet_len``
    flits on VC :func:`traffic_vc` of its destination, or with VC planes (a fifth
    ``live_shape`` element) on the VC this source chose for it
    (:func:`gen.routing.source_vc`, loaded with the tables).

    Raises
    ------
    TypeError, ValueError
        On a parameter of the wrong type or out of range.
    """

    def __init__(self, *, fmt, vcs, mesh_x, mesh_y, credits, queue_depth, max_packet_flits,
                 traffic_vcs=None, live_shape=None):
        _check_mesh(fmt, mesh_x, mesh_y)
        if live_shape is not None:
            live_shape = check_table_shape(tuple(live_shape))
            if (live_shape[0] * live_shape[2], live_shape[1] * live_shape[3]) != (mesh_x, mesh_y):
                raise ValueError(f"live_shape {live_shape} does not describe the "
                                 f"{mesh_x}x{mesh_y} mesh")
            if table_planes(live_shape) not in (1, vcs) or (
                    table_planes(live_shape) > 1 and traffic_vcs is not None
                    and tuple(traffic_vcs) != tuple(range(vcs))):
                raise ValueError(f"VC planes: live_shape {live_shape} needs one plane per VC "
                                 f"({vcs}) and every VC open to the traffic")
        check_vcs(vcs)
        _check_int("credits", credits, 1)
        _check_int("queue_depth", queue_depth, 1)
        _check_int("max_packet_flits", max_packet_flits, 1, (1 << LENGTH_BITS) - 1)
        if traffic_vcs is None:
            traffic_vcs = tuple(range(vcs))
        traffic_vcs = tuple(traffic_vcs)
        if (not traffic_vcs or len(set(traffic_vcs)) != len(traffic_vcs) or
                not all(isinstance(v, int) and 0 <= v < vcs for v in traffic_vcs)):
            raise ValueError(f"traffic_vcs must be distinct VC numbers in 0..{vcs - 1}, "
                             f"not {traffic_vcs!r}")
        self._fmt = fmt
        self._vcs = vcs
        self._mesh_x, self._mesh_y = mesh_x, mesh_y
        self._credits = credits
        self._queue_depth = queue_depth
        self._max_packet_flits = max_packet_flits
        self._traffic_vcs = traffic_vcs
        self._live_shape = live_shape
        cb = fmt.coord_bits
        self._desc = data.StructLayout({"dst_x": cb, "dst_y": cb, "marked": 1,
                                        "seq": SEQ_BITS, "timestamp": fmt.timestamp_bits})
        super().__init__({
            "x": In(cb), "y": In(cb),
            "now": In(fmt.timestamp_bits),
            "ctrl": In(control_layout(cb)),
            "o": Out(LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)),
            "stats": Out(gen_stats_layout(live_shape is not None)),
            **({"cfg": In(config_layout(cb, live_shape))} if live_shape is not None else {}),
        })

    fmt = property(lambda self: self._fmt)
    vcs = property(lambda self: self._vcs)
    mesh_x = property(lambda self: self._mesh_x)
    mesh_y = property(lambda self: self._mesh_y)
    credits = property(lambda self: self._credits)
    queue_depth = property(lambda self: self._queue_depth)
    max_packet_flits = property(lambda self: self._max_packet_flits)
    traffic_vcs = property(lambda self: self._traffic_vcs)
    live_shape = property(lambda self: self._live_shape)

    def _vc_of(self, dst_x, dst_y):
        tv = self._traffic_vcs
        if len(tv) == 1:
            return Const(tv[0], vc_bits(self._vcs))
        total = dst_x + dst_y
        _, idx = _divmod_const(total, len(tv), 2 * ((1 << self._fmt.coord_bits) - 1))
        if tv == tuple(range(len(tv))):
            return idx
        return Array(Const(v, vc_bits(self._vcs)) for v in tv)[idx]

    def _selected_vc(self, m, dst_x, dst_y):
        """VC planes: the VC this source uses toward ``(dst_x, dst_y)``
        (:func:`gen.routing.source_vc`), from a table of its own: one entry per node of
        its die and, in a tile, per die, kept from the plane-0 table writes to its own
        router (the choice rides in the bits above the entry, see
        :mod:`rtl.net.routing_table`)."""
        dies_x, dies_y, nx, ny = self._live_shape[:4]
        dies, nodes = dies_x * dies_y, nx * ny
        sb = select_bits(self._live_shape)
        top = (1 << self._fmt.coord_bits) - 1
        sel = Memory(shape=sb, depth=nodes + (dies if dies > 1 else 0), init=[])
        m.submodules.vc_select = sel
        cfg = self.cfg
        mine = cfg.valid & (cfg.x == self.x) & (cfg.y == self.y)
        to_node = Signal()
        m.d.comb += to_node.eq(mine & (cfg.target == ConfigTarget.NODE) & (cfg.addr < nodes))
        wp = sel.write_port()
        node_choice = cfg.data[NODE_ENTRY_BITS:NODE_ENTRY_BITS + sb]
        qx, rx = _divmod_const(dst_x, nx, top)
        qy, ry = _divmod_const(dst_y, ny, top)
        rd = sel.read_port(domain="comb")
        if dies > 1:
            to_die = Signal()
            m.d.comb += [to_die.eq(mine & (cfg.target == ConfigTarget.DIE) & (cfg.addr < dies)),
                         wp.en.eq(to_node | to_die),
                         wp.addr.eq(Mux(to_node, cfg.addr, nodes + cfg.addr)),
                         wp.data.eq(Mux(to_node, node_choice,
                                        cfg.data[DIE_ENTRY_BITS:DIE_ENTRY_BITS + sb]))]
            ox, _ = _divmod_const(self.x, nx, top)
            oy, _ = _divmod_const(self.y, ny, top)
            m.d.comb += rd.addr.eq(Mux((qx == ox) & (qy == oy), ry * nx + rx,
                                       nodes + qy * dies_x + qx))
        else:
            m.d.comb += [wp.en.eq(to_node), wp.addr.eq(cfg.addr), wp.data.eq(node_choice)]
            m.d.comb += rd.addr.eq(ry * nx + rx)
        return rd.data

    def _live_rules(self, m, draw_x, draw_y, node, dst_x, dst_y):
        """The live list, its count and bitmap (loaded through ``cfg``): returns the
        uniform destination over live nodes, and whether the own node and
        ``(dst_x, dst_y)`` are live."""
        cb, mx, my = self._fmt.coord_bits, self._mesh_x, self._mesh_y
        n_nodes = mx * my
        cfg = self.cfg
        live = Memory(shape=2 * cb, depth=n_nodes, init=[])
        m.submodules.live_list = live
        count = Signal(range(n_nodes + 1), reset_less=True)
        bitmap = Signal(n_nodes, reset_less=True)
        wp = live.write_port()
        is_live_w = cfg.valid & (cfg.target == ConfigTarget.LIVE)
        m.d.comb += [wp.en.eq(is_live_w), wp.addr.eq(cfg.addr), wp.data.eq(cfg.data[:2 * cb])]
        w_id = Signal(range(n_nodes + 1))
        m.d.comb += w_id.eq(cfg.data[cb:2 * cb] * mx + cfg.data[:cb])
        with m.If(cfg.valid & (cfg.target == ConfigTarget.COUNT)):
            m.d.sync += [count.eq(cfg.data), bitmap.eq(0)]
        with m.Elif(is_live_w):
            m.d.sync += bitmap.eq(bitmap | (Const(1, n_nodes) << w_id)[:n_nodes])
        ub = UNIFORM_BITS
        r = Signal(2 * ub)
        m.d.comb += r.eq(Cat(draw_y, draw_x))
        rd = live.read_port(domain="comb")
        m.d.comb += rd.addr.eq((r * count) >> (2 * ub))
        src_live, dst_live = Signal(), Signal()
        d_id = Signal(2 * cb + n_nodes.bit_length())
        m.d.comb += [d_id.eq(dst_y * mx + dst_x),
                     src_live.eq(bitmap.bit_select(node[:max(1, (n_nodes - 1).bit_length())], 1)),
                     dst_live.eq((dst_x < mx) & (dst_y < my) & (d_id < n_nodes)
                                 & bitmap.bit_select(d_id[:max(1, (n_nodes - 1).bit_length())], 1))]
        return rd.data[:cb], rd.data[cb:2 * cb], src_live, dst_live

    def elaborate(self, platform):
        m = Module()
        fmt, out = self._fmt, self.o
        stats = _counter_registers(m, self.stats)
        mx, my = self._mesh_x, self._mesh_y
        cb = fmt.coord_bits

        # the shared control registers fan out to every node: register them here, so
        # that no logic of the generator hangs combinationally off the top-level inputs
        ctrl = Signal(self.ctrl.shape())
        m.d.sync += ctrl.eq(self.ctrl)

        # -- random source: xorshift64, three shift-XOR stages -------------------------
        node = Signal(16)
        m.d.comb += node.eq(self.y * mx + self.x)
        seed = Signal(16)
        m.d.comb += seed.eq(ctrl.seed ^ node)
        state = Signal(64, init=_RESET_STATE)
        stages = [state]
        for i, (shift, left) in enumerate(zip(_XORSHIFT, (True, False, True))):
            prev, nxt = stages[-1], Signal(64, name=f"xorshift_{i}")
            shifted = Cat(Const(0, shift), prev[:64 - shift]) if left else prev[shift:]
            m.d.comb += nxt.eq(prev ^ shifted)
            stages.append(nxt)
        with m.If(ctrl.enable):
            m.d.sync += state.eq(stages[-1])
        with m.Else():
            m.d.sync += state.eq(Cat(~seed, seed, ~seed, seed))
        ub = UNIFORM_BITS
        rate_draw, draw_x, draw_y = state[48:64], state[:ub], state[16:16 + ub]
        hot_draw = state[32:32 + HOTSPOT_BITS]

        # -- generation ----------------------------------------------------------------
        m.submodules.det = det = _DeterministicDestination(coord_bits=cb, mesh_x=mx, mesh_y=my)
        m.d.comb += [det.x.eq(self.x), det.y.eq(self.y), det.pattern.eq(ctrl.pattern)]
        ub = UNIFORM_BITS
        uni_x = ((draw_x * mx) >> ub)[:cb]
        uni_y = ((draw_y * my) >> ub)[:cb]
        hot = hot_draw < ctrl.hotspot_frac

        m.submodules.queue = queue = SyncFIFO(width=self._desc.size, depth=self._queue_depth)
        w_desc = data.View(self._desc, queue.w_data)
        if self._live_shape is not None:
            uni_x, uni_y, src_live, dst_live = self._live_rules(
                m, draw_x, draw_y, node, w_desc.dst_x, w_desc.dst_y)
        fire = Signal()
        if self._live_shape is None:
            m.d.comb += fire.eq(ctrl.enable & (rate_draw < ctrl.rate))
        else:
            fire_draw = Signal()
            m.d.comb += [fire_draw.eq(ctrl.enable & (rate_draw < ctrl.rate) & src_live),
                         fire.eq(fire_draw & dst_live)]
            with m.If(fire_draw & ~dst_live):
                m.d.sync += stats.suppressed_dead.eq(stats.suppressed_dead + 1)
        seq = Signal(SEQ_BITS)
        m.d.comb += [w_desc.marked.eq(ctrl.mark), w_desc.seq.eq(seq),
                     w_desc.timestamp.eq(self.now),
                     w_desc.dst_x.eq(det.dst_x), w_desc.dst_y.eq(det.dst_y)]
        with m.Switch(ctrl.pattern):
            with m.Case(Pattern.UNIFORM):
                m.d.comb += [w_desc.dst_x.eq(uni_x), w_desc.dst_y.eq(uni_y)]
            with m.Case(Pattern.HOTSPOT):
                m.d.comb += [w_desc.dst_x.eq(Mux(hot, ctrl.hotspot_x, uni_x)),
                             w_desc.dst_y.eq(Mux(hot, ctrl.hotspot_y, uni_y))]
        # an empty, idle source queue is bypassed: the descriptor goes out as a head
        # flit in the cycle it is generated (zero-load latency = hops + 2)
        bypassed = Signal()
        m.d.comb += queue.w_en.eq(fire & ~bypassed)
        accepted = fire & (queue.w_rdy | bypassed)
        with m.If(accepted):
            m.d.sync += [seq.eq(seq + 1), stats.generated.eq(stats.generated + 1)]
            with m.If(ctrl.mark):
                m.d.sync += stats.generated_marked.eq(stats.generated_marked + 1)
        with m.If(fire & ~queue.w_rdy):
            m.d.sync += stats.suppressed.eq(stats.suppressed + 1)

        # -- injection -----------------------------------------------------------------
        plen = Signal(LENGTH_BITS)
        with m.If(ctrl.packet_len == 0):
            m.d.comb += plen.eq(1)
        with m.Elif(ctrl.packet_len > self._max_packet_flits):
            m.d.comb += plen.eq(self._max_packet_flits)
        with m.Else():
            m.d.comb += plen.eq(ctrl.packet_len)

        counters = [Signal(range(self._credits + 1), init=self._credits, name=f"credits_{v}")
                    for v in range(self._vcs)]
        has_credit = Array(c != 0 for c in counters)

        busy = Signal()
        cur_vc = Signal(vc_bits(self._vcs))
        cur_seq = Signal(SEQ_BITS)
        cur_len = Signal(LENGTH_BITS)
        idx = Signal(LENGTH_BITS)

        send = Signal()
        send_vc = Signal(vc_bits(self._vcs))
        send_last = Signal()
        send_head = Signal()
        flit = Signal(fmt.flit_bits)

        r_desc = Signal(self._desc)
        m.d.comb += r_desc.eq(Mux(queue.r_rdy, queue.r_data, queue.w_data))
        head = data.View(fmt.head, flit)
        info = data.View(fmt.traffic_info, head.info)
        planes = self._live_shape is not None and table_planes(self._live_shape) > 1
        # outside the If below: the choice table's write port is unconditional
        chosen_vc = self._selected_vc(m, r_desc.dst_x, r_desc.dst_y) if planes else None
        with m.If(busy):
            m.d.comb += [send_vc.eq(cur_vc), send.eq(has_credit[cur_vc]),
                         send_last.eq(idx + 1 == cur_len),
                         flit.eq(payload_word(self.x, self.y, cur_seq, idx, fmt.flit_bits))]
            with m.If(send):
                m.d.sync += idx.eq(idx + 1)
                with m.If(send_last):
                    m.d.sync += busy.eq(0)
        with m.Elif(queue.r_rdy | fire):
            vc = Signal.like(send_vc, name="head_vc")
            if planes:
                m.d.comb += vc.eq(chosen_vc)
            else:
                m.d.comb += vc.eq(self._vc_of(r_desc.dst_x, r_desc.dst_y))
            m.d.comb += [send_vc.eq(vc), send.eq(has_credit[vc]), send_head.eq(1),
                         send_last.eq(plen == 1),
                         head.dst_x.eq(r_desc.dst_x), head.dst_y.eq(r_desc.dst_y),
                         head.src_x.eq(self.x), head.src_y.eq(self.y),
                         head.mclass.eq(MsgClass.REQUEST), head.opcode.eq(Opcode.TRAFFIC),
                         head.length.eq(plen),
                         info.marked.eq(r_desc.marked), info.seq.eq(r_desc.seq),
                         info.timestamp.eq(r_desc.timestamp)]
            with m.If(send):
                m.d.comb += [queue.r_en.eq(queue.r_rdy), bypassed.eq(~queue.r_rdy)]
                m.d.sync += [busy.eq(plen != 1), cur_vc.eq(vc), cur_seq.eq(r_desc.seq),
                             cur_len.eq(plen), idx.eq(1)]

        for v, cnt in enumerate(counters):
            m.d.sync += cnt.eq(cnt + out.credit[v] - (send & (send_vc == v)))

        m.d.sync += [out.valid.eq(send), out.last.eq(send_last), out.vc.eq(send_vc)]
        with m.If(send):
            m.d.sync += [out.data.eq(flit),
                         stats.injected_flits.eq(stats.injected_flits + 1)]
            with m.If(send_head):
                m.d.sync += stats.injected_packets.eq(stats.injected_packets + 1)
        return m


class TrafficSink(wiring.Component):
    """Traffic sink for one node: checks every packet and accumulates statistics.

    Parameters
    ----------
    fmt : PacketFormat
        Packet format of the fabric.
    vcs : int
        VCs of the link (1..4).
    mesh_x, mesh_y : int
        Global mesh size (sources lie inside it).
    histogram_bins : int
        Latency histogram bins (>= 1).
    bin_cycles : int
        Width of a histogram bin in cycles (>= 1).

    Members
    -------
    x, y : In(fmt.coord_bits)
        Own coordinates (tie to constants).
    now : In(fmt.timestamp_bits)
        Global cycle counter (the same one that stamps the generators' heads).
    i : In(LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs))
        From the router's local output. Always accepts; ``i.credit[v]`` pulses
        the cycle after each flit on VC ``v``. Flits of different VCs may
        interleave; each VC's packet state is tracked separately and a packet
        is framed by its head and the flit with ``last``.
    stats : Out(sink_stats_layout(histogram_bins))
        Wrapping counters, updated the cycle after the flit:

        - ``packets``, ``flits``: everything received (packets counted at the tail);
        - ``marked_packets``, ``marked_flits``: those of marked packets;
        - ``latency_sum`` (48 bits), ``latency_max``, ``hist``: over marked packets,
          latency = ``now`` at the tail - head timestamp (mod 2**timestamp_bits);
          ``hist[min(latency // bin_cycles, histogram_bins - 1)]``;
        - ``misroutes``: heads whose destination is not ``(x, y)``;
        - ``integrity_errors``: packets (counted at the tail, once each) with a
          body payload that is not :func:`payload_word`, a flit count different
          from ``length`` (a tail too early or too late, e.g. a head arriving
          where a body flit was due), length 0, an opcode other than TRAFFIC or
          a source outside the mesh;
        - ``order_errors``: heads whose ``seq`` does not follow the previous one
          from the same source, i.e. ``(seq - last) mod 2**16`` not in ``[1, 2**15)``.

    Raises
    ------
    TypeError, ValueError
        On a parameter of the wrong type or out of range.
    """

    def __init__(self, *, fmt, vcs, mesh_x, mesh_y, histogram_bins, bin_cycles):
        _check_mesh(fmt, mesh_x, mesh_y)
        check_vcs(vcs)
        _check_int("histogram_bins", histogram_bins, 1)
        _check_int("bin_cycles", bin_cycles, 1)
        self._fmt = fmt
        self._vcs = vcs
        self._mesh_x, self._mesh_y = mesh_x, mesh_y
        self._histogram_bins = histogram_bins
        self._bin_cycles = bin_cycles
        cb = fmt.coord_bits
        super().__init__({
            "x": In(cb), "y": In(cb),
            "now": In(fmt.timestamp_bits),
            "i": In(LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)),
            "stats": Out(sink_stats_layout(histogram_bins)),
        })

    fmt = property(lambda self: self._fmt)
    vcs = property(lambda self: self._vcs)
    mesh_x = property(lambda self: self._mesh_x)
    mesh_y = property(lambda self: self._mesh_y)
    histogram_bins = property(lambda self: self._histogram_bins)
    bin_cycles = property(lambda self: self._bin_cycles)

    def elaborate(self, platform):
        m = Module()
        fmt, inp = self._fmt, self.i
        stats = _counter_registers(m, self.stats)
        mx, my, cb, tsb = self._mesh_x, self._mesh_y, fmt.coord_bits, fmt.timestamp_bits
        n_nodes = mx * my

        state_layout = data.StructLayout({
            "busy": 1, "src_x": cb, "src_y": cb, "seq": SEQ_BITS, "timestamp": tsb,
            "marked": 1, "length": LENGTH_BITS, "index": LENGTH_BITS + 1, "err": 1})
        states = [Signal(state_layout, name=f"vc{v}_state") for v in range(self._vcs)]
        cur = Signal(state_layout)
        with m.Switch(inp.vc):
            for v in range(self._vcs):
                with m.Case(v):
                    m.d.comb += cur.eq(states[v])

        flit = Signal()
        m.d.comb += flit.eq(inp.valid & (inp.vc < self._vcs))
        for v in range(self._vcs):
            m.d.sync += inp.credit[v].eq(flit & (inp.vc == v))

        head = data.View(fmt.head, inp.data)
        info = data.View(fmt.traffic_info, head.info)
        is_head = ~cur.busy

        # the packet this flit belongs to
        p_src_x, p_src_y = Signal(cb), Signal(cb)
        p_seq, p_ts = Signal(SEQ_BITS), Signal(tsb)
        p_marked, p_len, p_idx, p_err = Signal(), Signal(LENGTH_BITS), Signal(LENGTH_BITS + 1), Signal()
        src_outside = Signal()
        m.d.comb += src_outside.eq((head.src_x >= mx) | (head.src_y >= my))
        with m.If(is_head):
            m.d.comb += [p_src_x.eq(head.src_x), p_src_y.eq(head.src_y), p_seq.eq(info.seq),
                         p_ts.eq(info.timestamp), p_marked.eq(info.marked),
                         p_len.eq(head.length), p_idx.eq(0),
                         p_err.eq((head.opcode != Opcode.TRAFFIC) | (head.length == 0) |
                                  src_outside)]
        with m.Else():
            expect = payload_word(cur.src_x, cur.src_y, cur.seq, cur.index[:LENGTH_BITS],
                                  fmt.flit_bits)
            m.d.comb += [p_src_x.eq(cur.src_x), p_src_y.eq(cur.src_y), p_seq.eq(cur.seq),
                         p_ts.eq(cur.timestamp), p_marked.eq(cur.marked),
                         p_len.eq(cur.length), p_idx.eq(cur.index),
                         p_err.eq(cur.err | (inp.data != expect))]

        # per-VC packet state
        with m.Switch(inp.vc):
            for v in range(self._vcs):
                with m.Case(v):
                    with m.If(flit):
                        m.d.sync += [states[v].busy.eq(~inp.last),
                                     states[v].src_x.eq(p_src_x), states[v].src_y.eq(p_src_y),
                                     states[v].seq.eq(p_seq), states[v].timestamp.eq(p_ts),
                                     states[v].marked.eq(p_marked), states[v].length.eq(p_len),
                                     states[v].index.eq(p_idx + 1), states[v].err.eq(p_err)]

        # flit counters
        with m.If(flit):
            m.d.sync += stats.flits.eq(stats.flits + 1)
            with m.If(p_marked):
                m.d.sync += stats.marked_flits.eq(stats.marked_flits + 1)

        # head checks: destination and per-source order
        with m.If(flit & is_head & ((head.dst_x != self.x) | (head.dst_y != self.y))):
            m.d.sync += stats.misroutes.eq(stats.misroutes + 1)

        m.submodules.last_seq = last_seq = Memory(shape=SEQ_BITS, depth=n_nodes, init=[])
        rd = last_seq.read_port(domain="comb")
        wr = last_seq.write_port()
        # valid bits: registers (reset clears them), in 32-bit words for cheap simulation
        seen = [Signal(min(32, n_nodes - 32 * i), name=f"seen_{i}")
                for i in range((n_nodes + 31) // 32)]
        seen_bit = Signal()
        addr = Signal(range(n_nodes))
        m.d.comb += [addr.eq(head.src_y * mx + head.src_x), rd.addr.eq(addr), wr.addr.eq(addr),
                     wr.data.eq(info.seq)]
        diff = Signal(SEQ_BITS)
        m.d.comb += diff.eq(info.seq - rd.data)
        in_order = (diff != 0) & ~diff[-1]
        with m.If(flit & is_head & ~src_outside):
            m.d.comb += wr.en.eq(1)
            with m.Switch(addr >> 5):
                for i, word in enumerate(seen):
                    with m.Case(i):
                        m.d.comb += seen_bit.eq((word >> addr[:5])[0])
                        m.d.sync += word.eq(word | (Const(1, len(word)) << addr[:5])[:len(word)])
            with m.If(seen_bit & ~in_order):
                m.d.sync += stats.order_errors.eq(stats.order_errors + 1)

        # tail: packet complete
        latency = Signal(tsb)
        m.d.comb += latency.eq(self.now - p_ts)
        bins = self._histogram_bins
        q, _ = _divmod_const(latency, self._bin_cycles, (1 << tsb) - 1)
        hbin = Signal(range(bins))
        m.d.comb += hbin.eq(Mux(q >= bins - 1, bins - 1, q))
        with m.If(flit & inp.last):
            m.d.sync += stats.packets.eq(stats.packets + 1)
            with m.If(p_err | (p_idx + 1 != p_len)):
                m.d.sync += stats.integrity_errors.eq(stats.integrity_errors + 1)
            with m.If(p_marked):
                m.d.sync += [stats.marked_packets.eq(stats.marked_packets + 1),
                             stats.latency_sum.eq(stats.latency_sum + latency)]
                with m.If(latency > stats.latency_max):
                    m.d.sync += stats.latency_max.eq(latency)
                with m.Switch(hbin):
                    for i in range(bins):
                        with m.Case(i):
                            m.d.sync += stats.hist[i].eq(stats.hist[i] + 1)
        return m
