"""Tests of rtl/measure/traffic.py: the traffic generator and sink under amaranth.sim."""

import math
from collections import Counter

import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from rtl.net.packet import MsgClass, Opcode, PacketFormat, coord_bits_for
from rtl.measure.traffic import (DETERMINISTIC_PATTERNS, Pattern, TrafficGen, TrafficSink,
                         _DeterministicDestination, _reciprocal, control_layout, destination,
                         payload_word, random_draws, seed_state, traffic_vc, xorshift64)

TS_BITS = 16


def make_fmt(mesh_x, mesh_y, flit_bits=64):
    return PacketFormat(flit_bits=flit_bits, coord_bits=coord_bits_for(mesh_x, mesh_y),
                        timestamp_bits=TS_BITS)


def simulate(dut, *testbenches, background=()):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    for tb in background:
        sim.add_testbench(tb, background=True)
    sim.run()


def set_ctrl(ctx, ctrl, **fields):
    for name, value in fields.items():
        ctx.set(getattr(ctrl, name), value)


def stats_dict(ctx, stats):
    """Read a stats port into a dict (``hist`` as a list)."""
    value = ctx.get(stats)
    out = {}
    for name, _ in stats.shape():
        field = getattr(value, name)
        out[name] = [field[i] for i in range(len(field))] if name == "hist" else int(field)
    return out


async def ticks(ctx, count):
    if count:
        await ctx.tick().repeat(count)


async def wait_for(ctx, cond, limit, what):
    for _ in range(limit):
        if ctx.get(cond):
            return
        await ctx.tick()
    raise AssertionError(f"timeout after {limit} cycles waiting for {what}")


# -- pure Python: golden destinations, helpers ----------------------------------------------

GOLDEN = [  # pattern, mesh, source, destination (worked by hand from the definitions)
    (Pattern.TRANSPOSE, (4, 4), (1, 3), (3, 1)),
    (Pattern.TRANSPOSE, (4, 2), (3, 1), (1, 1)),          # (1 mod 4, 3 mod 2)
    (Pattern.BIT_COMPLEMENT, (8, 8), (1, 2), (6, 5)),
    (Pattern.BIT_COMPLEMENT, (3, 5), (0, 4), (2, 0)),
    (Pattern.BIT_REVERSE, (4, 4), (1, 0), (0, 2)),        # n=1=0001 -> 1000=8
    (Pattern.BIT_REVERSE, (3, 3), (1, 0), (8 % 3, 8 // 3)),  # n=1, 4 bits -> 8 mod 9 = 8
    (Pattern.BIT_REVERSE, (3, 3), (0, 1), (3 % 3, 3 // 3)),  # n=3=0011 -> 1100=12, mod 9 = 3
    (Pattern.SHUFFLE, (4, 4), (0, 2), (1, 0)),            # n=8=1000 -> 0001
    (Pattern.SHUFFLE, (4, 4), (3, 1), (2, 3)),            # n=7=0111 -> 1110=14
    (Pattern.SHUFFLE, (3, 3), (0, 2), (0, 1)),            # n=6=0110 -> 1100=12 mod 9 = 3
    (Pattern.TORNADO, (8, 8), (6, 1), (1, 4)),            # +3 mod 8
    (Pattern.TORNADO, (5, 3), (4, 2), (1, 0)),            # +2 mod 5, +1 mod 3
    (Pattern.NEIGHBOUR, (4, 4), (3, 2), (0, 2)),
    (Pattern.NEIGHBOUR, (1, 1), (0, 0), (0, 0)),
]


@pytest.mark.parametrize("pattern,mesh,src,dst", GOLDEN)
def test_destination_golden(pattern, mesh, src, dst):
    assert destination(pattern, *src, *mesh) == dst


def test_destination_rejects_random_patterns_and_outside_sources():
    with pytest.raises(ValueError, match="UNIFORM is random"):
        destination(Pattern.UNIFORM, 0, 0, 4, 4)
    with pytest.raises(ValueError, match=r"source \(4, 0\) is outside the 4x4 mesh"):
        destination(Pattern.TORNADO, 4, 0, 4, 4)


def test_permutation_patterns_are_permutations():
    for mesh in [(4, 4), (8, 8), (2, 8)]:
        nodes = [(x, y) for y in range(mesh[1]) for x in range(mesh[0])]
        for p in (Pattern.BIT_COMPLEMENT, Pattern.BIT_REVERSE, Pattern.SHUFFLE,
                  Pattern.TORNADO, Pattern.NEIGHBOUR):
            assert sorted(destination(p, *n, *mesh) for n in nodes) == sorted(nodes), (p, mesh)


def test_reciprocal_division_is_exact():
    for divisor in range(1, 41):
        for max_value in (7, 100, 1023, 4095):
            mul, shift = _reciprocal(divisor, max_value)
            assert all((n * mul) >> shift == n // divisor for n in range(max_value + 1))


def test_seed_states_are_never_zero_and_differ_per_node():
    states = [seed_state(s, 0, 0, 1) for s in range(1 << 16)]
    assert 0 not in states and len(set(states)) == 1 << 16
    assert len({seed_state(0x1234, x, y, 8) for x in range(8) for y in range(8)}) == 64
    state = seed_state(0, 0, 0, 8)
    for _ in range(1000):
        state = xorshift64(state)
        assert 0 < state < 1 << 64


def test_payload_word_is_injective_and_sized():
    words = {payload_word(sx, sy, seq, i, 64)
             for sx in range(4) for sy in range(4) for seq in (0, 1, 2, 255, 65535)
             for i in range(1, 9)}
    assert len(words) == 4 * 4 * 5 * 8
    assert all(0 <= w < 1 << 64 for w in words)
    assert payload_word(1, 2, 3, 4, 50) == payload_word(1, 2, 3, 4, 64) & ((1 << 50) - 1)
    assert payload_word(0, 0, 0, 0, 64) != 0


def test_control_layout_fields():
    layout = control_layout(3)
    assert {name: shape for name, shape in
            ((n, f.shape) for n, f in layout)}["pattern"] is Pattern
    assert layout.size == 1 + 1 + 16 + 3 + 8 + 16 + 3 + 3 + 8


# -- parameter validation ---------------------------------------------------------------------

FMT44 = make_fmt(4, 4)


@pytest.mark.parametrize("kwargs,message", [
    (dict(vcs=5), "vcs must be an integer in 1..4, not 5"),
    (dict(credits=0), "credits must be an integer >= 1, not 0"),
    (dict(queue_depth=True), "queue_depth must be an integer >= 1, not True"),
    (dict(max_packet_flits=256), "max_packet_flits must be an integer in 1..255, not 256"),
    (dict(mesh_x=5), "a 5x4 mesh needs 3-bit coordinates, the packet format has 2"),
    (dict(traffic_vcs=(0, 2)), r"traffic_vcs must be distinct VC numbers in 0..1, not \(0, 2\)"),
])
def test_gen_parameter_errors(kwargs, message):
    params = dict(fmt=FMT44, vcs=2, mesh_x=4, mesh_y=4, credits=4, queue_depth=4,
                  max_packet_flits=8)
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TrafficGen(**params)


@pytest.mark.parametrize("kwargs,message", [
    (dict(histogram_bins=0), "histogram_bins must be an integer >= 1, not 0"),
    (dict(bin_cycles=1.5), "bin_cycles must be an integer >= 1, not 1.5"),
    (dict(mesh_y=0), "mesh_y must be an integer >= 1, not 0"),
])
def test_sink_parameter_errors(kwargs, message):
    params = dict(fmt=FMT44, vcs=2, mesh_x=4, mesh_y=4, histogram_bins=4, bin_cycles=2)
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TrafficSink(**params)
    with pytest.raises(TypeError, match="fmt must be a PacketFormat"):
        TrafficSink(**{**params, "fmt": 64})


# -- deterministic destination logic against the golden model --------------------------------

@pytest.mark.parametrize("mesh", [(1, 1), (2, 1), (3, 5), (5, 3), (4, 4), (6, 7), (8, 8)])
def test_destination_rtl_matches_golden(mesh):
    mx, my = mesh
    dut = _DeterministicDestination(coord_bits=coord_bits_for(mx, my), mesh_x=mx, mesh_y=my)

    async def testbench(ctx):
        for pattern in DETERMINISTIC_PATTERNS:
            ctx.set(dut.pattern, pattern)
            for y in range(my):
                for x in range(mx):
                    ctx.set(dut.x, x)
                    ctx.set(dut.y, y)
                    got = (ctx.get(dut.dst_x), ctx.get(dut.dst_y))
                    assert got == destination(pattern, x, y, mx, my), (pattern, x, y)

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()


# -- generator -> sink, with a Python model of the link ------------------------------------

class GenSink(Elaboratable):
    """A generator wired to a sink; credits return through ``credit_delay`` registers."""

    def __init__(self, *, fmt, mesh_x, mesh_y, vcs, credits, queue_depth=8, max_packet_flits=8,
                 credit_delay=0, histogram_bins=6, bin_cycles=3, traffic_vcs=None):
        self.gen = TrafficGen(fmt=fmt, vcs=vcs, mesh_x=mesh_x, mesh_y=mesh_y, credits=credits,
                              queue_depth=queue_depth, max_packet_flits=max_packet_flits,
                              traffic_vcs=traffic_vcs)
        self.sink = TrafficSink(fmt=fmt, vcs=vcs, mesh_x=mesh_x, mesh_y=mesh_y,
                                histogram_bins=histogram_bins, bin_cycles=bin_cycles)
        self.now = Signal(fmt.timestamp_bits)
        self.credit_delay = credit_delay

    def elaborate(self, platform):
        m = Module()
        m.submodules.gen = gen = self.gen
        m.submodules.sink = sink = self.sink
        m.d.sync += self.now.eq(self.now + 1)
        m.d.comb += [gen.now.eq(self.now), sink.now.eq(self.now),
                     sink.i.valid.eq(gen.o.valid), sink.i.last.eq(gen.o.last),
                     sink.i.vc.eq(gen.o.vc), sink.i.data.eq(gen.o.data)]
        credit = sink.i.credit
        for i in range(self.credit_delay):
            delayed = Signal.like(credit, name=f"credit_d{i}")
            m.d.sync += delayed.eq(credit)
            credit = delayed
        m.d.comb += gen.o.credit.eq(credit)
        return m


class LinkMonitor:
    """Watches the generator's output link: credit rule, framing, and the sink's expected stats.

    Fed once per cycle with the values the sink samples at the clock edge.
    """

    def __init__(self, *, fmt, vcs, credits, sink_xy, histogram_bins, bin_cycles):
        self.fmt, self.vcs, self.credits = fmt, vcs, credits
        self.sink_xy = sink_xy
        self.bins, self.bin_cycles = histogram_bins, bin_cycles
        self.packets = []                     # dicts: head fields + info + "now", "vc", "body"
        self.valid_trace = []
        self.sent = [0] * vcs
        self.returned = [0] * vcs             # credits seen up to two cycles ago
        self.returned_last = [0] * vcs        # credits seen in the previous cycle
        self.open = {}                        # vc -> packet in progress
        self.expect = dict(packets=0, flits=0, marked_packets=0, marked_flits=0,
                           latency_sum=0, latency_max=0, misroutes=0, integrity_errors=0,
                           order_errors=0, hist=[0] * histogram_bins)

    def cycle(self, now, valid, last, vc, data, credit):
        self.valid_trace.append(valid)
        if valid:
            self.sent[vc] += 1
            # a flit this cycle was decided last cycle, with the credits seen before that
            assert self.sent[vc] <= self.credits + self.returned[vc], \
                f"VC {vc}: {self.sent[vc]} flits sent with {self.returned[vc]} credits back"
            self._flit(now, last, vc, data)
        for v in range(self.vcs):
            self.returned[v] += self.returned_last[v]
            self.returned_last[v] = (credit >> v) & 1
        assert all(self.sent[v] >= self.returned[v] + self.returned_last[v]
                   for v in range(self.vcs)), "more credits returned than flits sent"

    def _flit(self, now, last, vc, data):
        e = self.expect
        e["flits"] += 1
        if vc not in self.open:
            assert not self.open, "generator interleaved two packets"
            head = self.fmt.decode_head(data)
            head.update(self.fmt.decode_traffic_info(head["info"]), now=now, vc=vc, body=[])
            self.open[vc] = head
            self.packets.append(head)
            if head["dst"] != self.sink_xy:
                e["misroutes"] += 1
        else:
            self.open[vc]["body"].append(data)
        p = self.open[vc]
        e["marked_flits"] += p["marked"]
        if last:
            del self.open[vc]
            e["packets"] += 1
            if p["marked"]:
                latency = (now - p["timestamp"]) % (1 << self.fmt.timestamp_bits)
                e["marked_packets"] += 1
                e["latency_sum"] += latency
                e["latency_max"] = max(e["latency_max"], latency)
                e["hist"][min(latency // self.bin_cycles, self.bins - 1)] += 1


def check_generated_packets(mon, *, src, mesh, pattern, length, traffic_vcs, mark_window,
                            flit_bits):
    """Every packet as the generator must have built it."""
    assert mon.packets, "no packet was sent"
    for seq, p in enumerate(mon.packets):
        assert p["src"] == src
        assert p["mclass"] == MsgClass.REQUEST and p["opcode"] == Opcode.TRAFFIC
        assert p["length"] == length and len(p["body"]) == length - 1
        assert p["seq"] == seq                                     # dense, in order
        assert p["vc"] == traffic_vc(*p["dst"], traffic_vcs)
        age = (p["now"] - p["timestamp"]) % (1 << TS_BITS)
        assert 1 <= age < 1000                                     # stamped when generated
        # ctrl is registered inside the generator: mark takes effect one cycle later
        assert p["marked"] == (mark_window[0] < p["timestamp"] <= mark_window[1])
        if pattern in DETERMINISTIC_PATTERNS:
            assert p["dst"] == destination(pattern, *src, *mesh)
        else:
            assert 0 <= p["dst"][0] < mesh[0] and 0 <= p["dst"][1] < mesh[1]
        for i, word in enumerate(p["body"], start=1):
            assert word == payload_word(*src, seq, i, flit_bits), (seq, i)


def run_gen_sink(*, pattern, mesh, src, sink_xy=None, packet_len, vcs, credits, credit_delay=0,
                 rate, cycles=(60, 300, 100), max_packet_flits=8, queue_depth=8, seed=0x1234,
                 hotspot=(0, 0), hotspot_frac=0, traffic_vcs=None, flit_bits=64):
    fmt = make_fmt(*mesh, flit_bits=flit_bits)
    if sink_xy is None:
        sink_xy = destination(pattern, *src, *mesh)
    dut = GenSink(fmt=fmt, mesh_x=mesh[0], mesh_y=mesh[1], vcs=vcs, credits=credits,
                  queue_depth=queue_depth, max_packet_flits=max_packet_flits,
                  credit_delay=credit_delay, traffic_vcs=traffic_vcs)
    gen, sink = dut.gen, dut.sink
    mon = LinkMonitor(fmt=fmt, vcs=vcs, credits=credits, sink_xy=sink_xy,
                      histogram_bins=sink.histogram_bins, bin_cycles=sink.bin_cycles)
    result = {}

    async def control(ctx):
        ctx.set(gen.x, src[0]); ctx.set(gen.y, src[1])
        ctx.set(sink.x, sink_xy[0]); ctx.set(sink.y, sink_xy[1])
        set_ctrl(ctx, gen.ctrl, pattern=pattern, rate=rate, packet_len=packet_len, seed=seed,
                 hotspot_x=hotspot[0], hotspot_y=hotspot[1], hotspot_frac=hotspot_frac)
        await ctx.tick().repeat(2)
        warm, window, cool = cycles
        ctx.set(gen.ctrl.enable, 1)
        await ticks(ctx, warm)
        ctx.set(gen.ctrl.mark, 1)
        mark_on = ctx.get(dut.now)
        await ticks(ctx, window)
        ctx.set(gen.ctrl.mark, 0)
        mark_off = ctx.get(dut.now)
        await ticks(ctx, cool)
        ctx.set(gen.ctrl.enable, 0)
        await wait_for(ctx, sink.stats.packets == gen.stats.generated, 2000, "drain")
        await ctx.tick().repeat(4)
        result.update(mark=(mark_on, mark_off), gen=stats_dict(ctx, gen.stats),
                      sink=stats_dict(ctx, sink.stats))

    async def monitor(ctx):
        out = gen.o
        async for _, _, *vals in ctx.tick().sample(dut.now, out.valid, out.last, out.vc,
                                                   out.data, out.credit):
            mon.cycle(*vals)

    simulate(dut, control, background=[monitor])
    return mon, result


GEN_SINK_CASES = [
    # pattern, mesh, src, packet_len (sent, expected), vcs, credits, credit_delay, rate
    (Pattern.TRANSPOSE, (4, 3), (3, 1), (3, 3), 2, 4, 0, 0x3000),
    (Pattern.BIT_COMPLEMENT, (4, 4), (1, 2), (0, 1), 1, 2, 1, 0x6000),     # 0 is sent as 1
    (Pattern.BIT_REVERSE, (3, 5), (2, 1), (4, 4), 2, 3, 0, 0x2000),
    (Pattern.SHUFFLE, (4, 4), (3, 2), (2, 2), 3, 4, 2, 0x4000),
    (Pattern.TORNADO, (5, 3), (4, 2), (5, 5), 4, 5, 0, 0x1800),
    (Pattern.NEIGHBOUR, (6, 2), (5, 1), (12, 8), 2, 4, 1, 0x1000),         # clamped to 8
    (Pattern.UNIFORM, (4, 4), (1, 1), (2, 2), 2, 4, 0, 0x4000),
    (Pattern.HOTSPOT, (4, 4), (0, 0), (1, 1), 2, 2, 1, 0x6000),
]


@pytest.mark.parametrize("pattern,mesh,src,plen,vcs,credits,delay,rate", GEN_SINK_CASES,
                         ids=[c[0].name.lower() for c in GEN_SINK_CASES])
def test_gen_to_sink(pattern, mesh, src, plen, vcs, credits, delay, rate):
    random_pattern = pattern not in DETERMINISTIC_PATTERNS
    sink_xy = (2, 3) if random_pattern else None
    mon, res = run_gen_sink(pattern=pattern, mesh=mesh, src=src, sink_xy=sink_xy,
                            packet_len=plen[0], vcs=vcs, credits=credits, credit_delay=delay,
                            rate=rate, hotspot=(2, 3), hotspot_frac=128)
    check_generated_packets(mon, src=src, mesh=mesh, pattern=pattern, length=plen[1],
                            traffic_vcs=tuple(range(vcs)), mark_window=res["mark"],
                            flit_bits=64)
    n = len(mon.packets)
    gen = res["gen"]
    assert gen["generated"] == gen["injected_packets"] == n
    assert gen["injected_flits"] == n * plen[1] == mon.expect["flits"]
    assert gen["generated_marked"] == sum(p["marked"] for p in mon.packets) > 0
    assert gen["suppressed"] == 0
    assert res["sink"] == mon.expect
    assert res["sink"]["misroutes"] == (0 if not random_pattern else
                                        sum(p["dst"] != (2, 3) for p in mon.packets))
    if random_pattern:
        assert 0 < res["sink"]["misroutes"] < n
    if pattern == Pattern.HOTSPOT:
        assert sum(p["dst"] == (2, 3) for p in mon.packets) > n // 3


def test_traffic_vcs_restricts_the_vcs_used():
    mon, res = run_gen_sink(pattern=Pattern.UNIFORM, mesh=(4, 4), src=(2, 2), sink_xy=(2, 2),
                            packet_len=2, vcs=4, credits=3, rate=0x6000, cycles=(20, 150, 20),
                            traffic_vcs=(1, 3))
    check_generated_packets(mon, src=(2, 2), mesh=(4, 4), pattern=Pattern.UNIFORM, length=2,
                            traffic_vcs=(1, 3), mark_window=res["mark"], flit_bits=64)
    assert {p["vc"] for p in mon.packets} == {1, 3}
    assert res["sink"] == mon.expect


def test_uniform_and_hotspot_distributions():
    mesh = (4, 4)
    mon, _ = run_gen_sink(pattern=Pattern.UNIFORM, mesh=mesh, src=(1, 2), sink_xy=(0, 0),
                          packet_len=1, vcs=2, credits=4, rate=0xFFFF, cycles=(0, 1600, 0))
    counts = Counter(p["dst"] for p in mon.packets)
    n = len(mon.packets)
    assert n > 1500 and set(counts) == {(x, y) for x in range(4) for y in range(4)}
    expected = n / 16
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 45, counts                   # 15 degrees of freedom: p < 1e-4

    mon, _ = run_gen_sink(pattern=Pattern.HOTSPOT, mesh=mesh, src=(1, 2), sink_xy=(0, 0),
                          packet_len=1, vcs=2, credits=4, rate=0xFFFF, cycles=(0, 1000, 0),
                          hotspot=(3, 1), hotspot_frac=64)
    n = len(mon.packets)
    p_hot = 64 / 256 + (1 - 64 / 256) / 16
    frac = sum(p["dst"] == (3, 1) for p in mon.packets) / n
    assert abs(frac - p_hot) < 5 * math.sqrt(p_hot * (1 - p_hot) / n)


@pytest.mark.parametrize("credits,delay,utilisation", [(3, 0, 1.0), (3, 2, 0.6), (6, 3, 1.0)])
def test_link_throughput_follows_credit_round_trip(credits, delay, utilisation):
    """Round trip = 3 cycles + credit delay; with enough credits one flit per cycle."""
    mon, _ = run_gen_sink(pattern=Pattern.NEIGHBOUR, mesh=(4, 4), src=(1, 1), packet_len=4,
                          vcs=1, credits=credits, credit_delay=delay, rate=0xFFFF,
                          cycles=(0, 300, 0), queue_depth=4)
    steady = mon.valid_trace[50:250]
    assert abs(sum(steady) / len(steady) - utilisation) < 0.02


# -- generator alone ------------------------------------------------------------------------

def make_gen(mesh=(4, 4), **kwargs):
    params = dict(fmt=make_fmt(*mesh), vcs=2, mesh_x=mesh[0], mesh_y=mesh[1], credits=4,
                  queue_depth=4, max_packet_flits=8)
    params.update(kwargs)
    return TrafficGen(**params)


@pytest.mark.parametrize("rate,seed,node", [(0, 0x1234, (1, 1)), (0x0800, 0x1234, (2, 3)),
                                            (0x4000, 0xBEEF, (3, 0)), (0xC000, 0, (0, 0)),
                                            (0xFFFF, 7, (1, 0))])
def test_offered_rate(rate, seed, node):
    """Generation events (generated + suppressed) follow the xorshift model exactly."""
    cycles = 3000
    dut = make_gen()
    res = {}

    async def testbench(ctx):
        ctx.set(dut.x, node[0]); ctx.set(dut.y, node[1])
        set_ctrl(ctx, dut.ctrl, rate=rate, seed=seed, packet_len=1, pattern=Pattern.UNIFORM)
        await ctx.tick().repeat(2)
        ctx.set(dut.ctrl.enable, 1)
        await ctx.tick().repeat(cycles)
        ctx.set(dut.ctrl.enable, 0)
        await ctx.tick()
        res.update(stats_dict(ctx, dut.stats))

    simulate(dut, testbench)
    events = res["generated"] + res["suppressed"]
    state, model = seed_state(seed, *node, 4), 0
    for _ in range(cycles):
        model += random_draws(state)[0] < rate
        state = xorshift64(state)
    assert events == model
    p = rate / 65536
    assert abs(events / cycles - p) <= 5 * math.sqrt(p * (1 - p) / cycles) + 1e-4
    assert res["generated_marked"] == 0


def test_suppressed_when_queue_is_full():
    """Queue of 2, one credit never returned: 3 packets enter, every later event is counted."""
    dut = make_gen(queue_depth=2, credits=1)
    enabled = 50
    res = {}

    async def testbench(ctx):
        set_ctrl(ctx, dut.ctrl, rate=0xFFFF, packet_len=1, pattern=Pattern.NEIGHBOUR, mark=1)
        await ctx.tick().repeat(2)
        ctx.set(dut.ctrl.enable, 1)
        await ctx.tick().repeat(enabled)
        ctx.set(dut.ctrl.enable, 0)
        await ctx.tick().repeat(3)
        res.update(stats_dict(ctx, dut.stats))

    simulate(dut, testbench)
    assert res == dict(generated=3, generated_marked=3, injected_packets=1, injected_flits=1,
                       suppressed=enabled - 3)


# -- sink alone: scripted flits, injected faults --------------------------------------------

SINK_MESH = (3, 4)
SINK_XY = (2, 1)
SINK_FMT = make_fmt(*SINK_MESH)


def packet(*, src=(1, 3), dst=SINK_XY, seq=0, ts=0, marked=1, length=3, vc=0, flits=None,
           corrupt=(), opcode=Opcode.TRAFFIC, length_field=None):
    """Flits (vc, last, data) of a traffic packet; ``flits`` overrides how many are sent."""
    fmt = SINK_FMT
    info = fmt.encode_traffic_info(marked=marked, seq=seq, timestamp=ts)
    head = fmt.encode_head(dst=dst, src=src, opcode=opcode, info=info,
                           length=length if length_field is None else length_field)
    count = length if flits is None else flits
    words = [head] + [payload_word(*src, seq, i, fmt.flit_bits) for i in range(1, count)]
    for i in corrupt:
        words[i] ^= 1 << 17
    return [(vc, i == count - 1, w) for i, w in enumerate(words)]


def interleave(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


SINK_CASES = {  # name: (flits, expected error counters)
    "clean": (packet(seq=0) + packet(seq=1, length=1) + packet(seq=2, length=5),
              dict(misroutes=0, integrity_errors=0, order_errors=0)),
    "interleaved_vcs": (interleave(packet(seq=0, vc=0, length=4),
                                   packet(seq=0, vc=1, src=(0, 0), length=3)),
                        dict(misroutes=0, integrity_errors=0, order_errors=0)),
    "corrupt_body": (packet(seq=0) + packet(seq=1, corrupt=[2]) + packet(seq=2),
                     dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "wrong_destination": (packet(seq=0, dst=(2, 2)) + packet(seq=1, dst=(0, 1), length=1),
                          dict(misroutes=2, integrity_errors=0, order_errors=0)),
    "tail_too_early": (packet(seq=0, length=4, flits=2) + packet(seq=1),
                       dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "tail_too_late": (packet(seq=0, length=2, length_field=2, flits=3) + packet(seq=1),
                      dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "head_mid_packet": (packet(seq=0, length=3, flits=3)[:2] + packet(seq=1, length=1)
                        + packet(seq=2), dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "length_zero": (packet(seq=0, length=1, length_field=0),
                    dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "wrong_opcode": (packet(seq=0, opcode=Opcode.WRITE),
                     dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "source_outside": (packet(seq=0, src=(3, 0)) + packet(seq=0, src=(1, 3)),
                       dict(misroutes=0, integrity_errors=1, order_errors=0)),
    "out_of_order": (packet(seq=5) + packet(seq=4) + packet(seq=4) + packet(seq=100)
                     + packet(seq=100 + 0x8000),
                     dict(misroutes=0, integrity_errors=0, order_errors=3)),
    "seq_wraps": (packet(seq=0xFFFE) + packet(seq=0xFFFF) + packet(seq=0)
                  + packet(seq=3, src=(0, 2)) + packet(seq=1),
                  dict(misroutes=0, integrity_errors=0, order_errors=0)),
}


def sink_model(flits, nows, bins, bin_cycles):
    """Expected counters except the error counters, from the flits as sent."""
    e = dict(packets=0, flits=0, marked_packets=0, marked_flits=0, latency_sum=0,
             latency_max=0, hist=[0] * bins)
    heads = {}
    for (vc, last, data), now in zip(flits, nows):
        if vc not in heads:
            h = SINK_FMT.decode_head(data)
            heads[vc] = SINK_FMT.decode_traffic_info(h["info"])
        info = heads[vc]
        e["flits"] += 1
        e["marked_flits"] += info["marked"]
        if last:
            del heads[vc]
            e["packets"] += 1
            if info["marked"]:
                lat = (now - info["timestamp"]) % (1 << TS_BITS)
                e["marked_packets"] += 1
                e["latency_sum"] += lat
                e["latency_max"] = max(e["latency_max"], lat)
                e["hist"][min(lat // bin_cycles, bins - 1)] += 1
    return e


def run_sink(flits, *, nows=None, gaps=1, bins=4, bin_cycles=5):
    """Drive ``flits`` into a sink (one every ``gaps`` cycles); check credits; return stats."""
    dut = TrafficSink(fmt=SINK_FMT, vcs=2, mesh_x=SINK_MESH[0], mesh_y=SINK_MESH[1],
                      histogram_bins=bins, bin_cycles=bin_cycles)
    if nows is None:
        nows = [100 + i for i in range(len(flits))]
    res = {}
    credits_seen = []

    async def producer(ctx):
        ctx.set(dut.x, SINK_XY[0]); ctx.set(dut.y, SINK_XY[1])
        await ctx.tick()
        for (vc, last, data), now in zip(flits, nows):
            ctx.set(dut.i.valid, 1); ctx.set(dut.i.vc, vc)
            ctx.set(dut.i.last, last); ctx.set(dut.i.data, data)
            ctx.set(dut.now, now)
            await ctx.tick()
            ctx.set(dut.i.valid, 0)
            await ticks(ctx, gaps - 1)
        await ctx.tick().repeat(3)
        res.update(stats_dict(ctx, dut.stats))

    async def credit_monitor(ctx):
        previous = None
        async for _, _, valid, vc, credit in ctx.tick().sample(dut.i.valid, dut.i.vc,
                                                               dut.i.credit):
            if previous is not None:
                assert credit == previous, "credit must pulse the cycle after each flit"
            previous = (1 << vc) if valid else 0
            credits_seen.append(credit)

    simulate(dut, producer, background=[credit_monitor])
    assert sum(bin(c).count("1") for c in credits_seen) == len(flits)
    return res


@pytest.mark.parametrize("name", list(SINK_CASES))
def test_sink_checks(name):
    flits, errors = SINK_CASES[name]
    res = run_sink(flits, gaps=1 if name != "clean" else 2)
    expect = sink_model(flits, [100 + i for i in range(len(flits))], 4, 5)
    assert {k: res[k] for k in errors} == errors
    assert {k: res[k] for k in expect} == expect


def test_sink_order_check_across_many_sources():
    """64 sources: the per-source state spans more than one 32-bit word of valid bits."""
    mesh = (8, 8)
    fmt = make_fmt(*mesh)
    dut = TrafficSink(fmt=fmt, vcs=1, mesh_x=8, mesh_y=8, histogram_bins=2, bin_cycles=8)
    sources = [(7, 7), (0, 5), (3, 4), (6, 0), (7, 7), (0, 5), (3, 4), (6, 0), (7, 7), (0, 5)]
    seqs = [10, 20, 30, 40, 11, 19, 31, 40, 9, 21]          # errors: 19, 40, 9
    res = {}

    async def producer(ctx):
        ctx.set(dut.x, 2); ctx.set(dut.y, 2)
        for src, seq in zip(sources, seqs):
            info = fmt.encode_traffic_info(marked=0, seq=seq, timestamp=0)
            head = fmt.encode_head(dst=(2, 2), src=src, opcode=Opcode.TRAFFIC, info=info,
                                   length=1)
            ctx.set(dut.i.valid, 1); ctx.set(dut.i.last, 1); ctx.set(dut.i.data, head)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(2)
        res.update(stats_dict(ctx, dut.stats))

    simulate(dut, producer)
    assert res["order_errors"] == 3 and res["packets"] == len(seqs)
    assert res["integrity_errors"] == res["misroutes"] == 0


def test_sink_latency_statistics():
    """Latency over marked packets only, timestamp wrap-around, and the overflow bin."""
    cases = [  # (ts, now at tail, marked, length)
        (90, 100, 1, 1), (0xFFFA, 3, 1, 2), (50, 52, 1, 3), (10, 200, 1, 1),
        (0, 1000, 0, 2), (95, 100, 1, 4), (99, 100, 0, 1),
    ]
    flits, nows = [], []
    for seq, (ts, tail_now, marked, length) in enumerate(cases):
        f = packet(seq=seq, ts=ts, marked=marked, length=length)
        flits += f
        nows += [tail_now - (length - 1 - i) for i in range(length)]
    res = run_sink(flits, nows=nows, bins=4, bin_cycles=5)
    expect = sink_model(flits, nows, 4, 5)
    assert {k: res[k] for k in expect} == expect
    assert expect["latency_max"] == 190 and expect["hist"] == [1, 2, 1, 1]
    assert res["marked_packets"] == 5 and res["packets"] == 7


# -- Verilog --------------------------------------------------------------------------------

@pytest.mark.parametrize("mesh,vcs,bins,bin_cycles", [((8, 8), 2, 16, 4), ((5, 3), 3, 5, 3),
                                                      ((1, 1), 1, 1, 1)])
def test_verilog_conversion(mesh, vcs, bins, bin_cycles):
    fmt = make_fmt(*mesh)
    gen = TrafficGen(fmt=fmt, vcs=vcs, mesh_x=mesh[0], mesh_y=mesh[1], credits=4,
                     queue_depth=5, max_packet_flits=8)
    sink = TrafficSink(fmt=fmt, vcs=vcs, mesh_x=mesh[0], mesh_y=mesh[1],
                       histogram_bins=bins, bin_cycles=bin_cycles)
    for name, dut in (("traffic_gen", gen), ("traffic_sink", sink)):
        text = verilog.convert(dut, name=name, emit_src=False)
        assert f"module {name}" in text
