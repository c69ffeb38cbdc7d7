"""Router: zero-load timing, credit protocol, random-traffic scoreboard, parameters.

The testbench models the neighbours of one router at (2, 2) of a notional 5x5
mesh: per input a credit-honouring sender (its counter behaves like a router's:
a credit pulse is usable from the next cycle), per output a downstream buffer
that returns credits after random delays and checks the credit protocol.
"""

import gc
import random
import warnings
from collections import deque

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.sim import Simulator

from gen.derive import credit_round_trip
from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.net.directions import OPPOSITE, PORTS, STEP
from rtl.net.router import Router
from verif.noc import route_port

FMT = PacketFormat(flit_bits=64, coord_bits=3)
HERE = (2, 2)
MESH = 5


def expected_port(dst, here=HERE, routing="xy"):
    """Dimension-order routing: the golden model of the router's route unit (one copy,
    in verif.noc)."""
    return route_port(*here, dst, routing)


def arrives_legally(src, dst, routing="xy"):
    """Whether a packet for ``dst`` can arrive on input ``src`` of the router at HERE:
    the neighbour on that side must have routed it towards us."""
    if src == "local":
        return True
    neighbour = (HERE[0] + STEP[src][0], HERE[1] + STEP[src][1])
    return expected_port(dst, here=neighbour, routing=routing) == OPPOSITE[src]


def random_dst(rng, src, routing):
    while True:
        dst = (rng.randrange(MESH), rng.randrange(MESH))
        if arrives_legally(src, dst, routing):
            return dst


def link(dut, kind, port):
    return getattr(dut, f"{kind}_{port}")


def simulate(dut, benches, background=(), here=HERE):
    """Run ``benches`` to completion with ``background`` ones alongside."""
    top = Module()
    top.submodules.dut = dut
    top.d.comb += [dut.x.eq(here[0]), dut.y.eq(here[1])]   # tied like the parent does
    sim = Simulator(top)
    sim.add_clock(1e-6)
    for b in benches:
        sim.add_testbench(b)
    for b in background:
        sim.add_testbench(b, background=True)
    sim.run()


class Packet:
    _uid = 0

    def __init__(self, rng, *, port, vc, dst, length, fmt=FMT):
        Packet._uid += 1
        self.uid = Packet._uid
        self.port, self.vc, self.dst = port, vc, dst
        head = fmt.encode_head(dst=dst, src=(rng.randrange(MESH), rng.randrange(MESH)),
                               opcode=Opcode.TRAFFIC, length=length,
                               mclass=MsgClass(rng.randrange(2)), info=self.uid)
        self.flits = [head] + [rng.getrandbits(fmt.flit_bits) for _ in range(length - 1)]

    @staticmethod
    def uid_of(head, fmt=FMT):
        return fmt.decode_head(head)["info"]


class Sender:
    """Drives one input link: per-VC packet queues, credit counters, random idles."""

    def __init__(self, dut, port, rng, *, depth, idle=0.0):
        self.link = link(dut, "in", port)
        self.rng, self.idle = rng, idle
        self.vcs = dut.vcs
        self.credits = [depth] * dut.vcs
        self.flits = [deque() for _ in range(dut.vcs)]      # (data, last)
        self.sent = 0

    def send(self, pkt):
        for k, f in enumerate(pkt.flits):
            self.flits[pkt.vc].append((f, k == len(pkt.flits) - 1))

    @property
    def busy(self):
        return any(self.flits)

    async def run(self, ctx):
        while self.busy:
            ready = [v for v in range(self.vcs) if self.flits[v] and self.credits[v] > 0]
            if ready and self.rng.random() >= self.idle:
                v = self.rng.choice(ready)
                data, last = self.flits[v].popleft()
                self.credits[v] -= 1
                self.sent += 1
                ctx.set(self.link.valid, 1)
                ctx.set(self.link.vc, v)
                ctx.set(self.link.data, data)
                ctx.set(self.link.last, last)
            else:
                ctx.set(self.link.valid, 0)
            pulses = ctx.get(self.link.credit)      # registered in the router: safe to sample
            for v in range(self.vcs):
                self.credits[v] += pulses >> v & 1  # usable from the next cycle, like a router
            await ctx.tick()
        ctx.set(self.link.valid, 0)


class Receiver:
    """Downstream of one output: a buffer per VC that frees slots after random delays.

    Checks the credit protocol exactly as the router's counter must implement
    it: a flit seen at cycle c was sent at c-1 with credits returned by pulses
    up to c-2, so ``received(c) - returned(c-2) <= depth`` for every VC.
    """

    def __init__(self, dut, port, rng, *, depth, stall=0.0, max_hold=6, hold_until=0):
        self.link = link(dut, "out", port)
        self.port, self.rng, self.depth = port, rng, depth
        self.stall, self.max_hold, self.hold_until = stall, max_hold, hold_until
        self.vcs = dut.vcs
        self.held = [deque() for _ in range(dut.vcs)]       # earliest release cycle
        self.received = [0] * dut.vcs
        self.returned = [[] for _ in range(dut.vcs)]        # cycles of credit pulses
        self.log = []                                       # (cycle, vc, data, last)

    async def run(self, ctx):
        cycle = 0
        while True:
            pulses = 0
            for v in range(self.vcs):
                if self.held[v] and self.held[v][0] <= cycle and cycle >= self.hold_until:
                    self.held[v].popleft()
                    pulses |= 1 << v
                    self.returned[v].append(cycle)
            ctx.set(self.link.credit, pulses)
            if ctx.get(self.link.valid):
                v = ctx.get(self.link.vc)
                data, last = ctx.get(self.link.data), ctx.get(self.link.last)
                self.log.append((cycle, v, data, last))
                self.received[v] += 1
                back = sum(1 for c in self.returned[v] if c <= cycle - 2)
                assert self.received[v] - back <= self.depth, \
                    f"out_{self.port} VC {v}: flit at cycle {cycle} sent without a credit"
                hold = self.rng.randint(1, self.max_hold) if self.rng.random() < self.stall else 0
                self.held[v].append(cycle + 1 + hold)
            await ctx.tick()
            cycle += 1


def make_router(vcs, depth, routing="xy", downstream_depth=None):
    return Router(fmt=FMT, vcs=vcs, buffer_depth=depth, routing=routing,
                  downstream_depth=downstream_depth)


# -- 2. zero-load latency ---------------------------------------------------------

@pytest.mark.parametrize("vcs,routing", [(1, "xy"), (2, "yx"), (4, "xy")])
def test_zero_load_one_cycle_per_hop(vcs, routing):
    dut = make_router(vcs, 2, routing)
    rng = random.Random(7)
    cases = [(src, dst_port, v) for src in PORTS for dst_port in PORTS for v in range(vcs)
             if arrives_legally(src, (HERE[0] + STEP[dst_port][0], HERE[1] + STEP[dst_port][1]),
                                routing)]
    assert len(cases) == 17 * vcs            # 5 from local, 4 into local, 8 straight or turning

    async def bench(ctx):
        for src, dst_port, v in cases:
            dst = (HERE[0] + STEP[dst_port][0], HERE[1] + STEP[dst_port][1])
            out_port = expected_port(dst, routing=routing)
            assert out_port == dst_port
            flit = FMT.encode_head(dst=dst, src=(0, 0), opcode=Opcode.WRITE, length=1,
                                   info=rng.getrandbits(20))
            i = link(dut, "in", src)
            ctx.set(i.valid, 1)
            ctx.set(i.vc, v)
            ctx.set(i.data, flit)
            ctx.set(i.last, 1)
            for p in PORTS:                       # nothing leaves in the cycle it arrives
                assert not ctx.get(link(dut, "out", p).valid)
            await ctx.tick()
            ctx.set(i.valid, 0)
            for p in PORTS:
                o = link(dut, "out", p)
                assert ctx.get(o.valid) == (p == out_port), (src, dst_port, p)
            o = link(dut, "out", out_port)
            assert (ctx.get(o.data), ctx.get(o.last), ctx.get(o.vc)) == (flit, 1, v)
            assert ctx.get(i.credit) == 1 << v    # registered credit, one cycle later
            await ctx.tick()
            assert ctx.get(i.credit) == 0
            assert not any(ctx.get(link(dut, "out", p).valid) for p in PORTS)
            # return the credit spent downstream
            ctx.set(o.credit, 1 << v)
            await ctx.tick()
            ctx.set(o.credit, 0)
            await ctx.tick()
        assert not ctx.get(dut.overflow)

    simulate(dut, [bench])


# -- 3. credits ------------------------------------------------------------------

def _stream(depth, n_flits, *, hold_until=0, downstream_depth=None):
    """Stream ``n_flits`` single-VC flits of one packet local -> east; return out cycles."""
    dut = make_router(1, depth, downstream_depth=downstream_depth)
    rng = random.Random(1)
    ddepth = downstream_depth or depth
    pkt = Packet(rng, port="local", vc=0, dst=(4, 2), length=n_flits)
    snd = Sender(dut, "local", rng, depth=depth)
    snd.send(pkt)
    rcv = Receiver(dut, "east", rng, depth=ddepth, hold_until=hold_until)

    async def done(ctx):
        for _ in range(4 * n_flits + hold_until + 20):
            await ctx.tick()
        assert not ctx.get(dut.overflow)

    simulate(dut, [done], [snd.run, rcv.run])
    assert [d for _, _, d, _ in rcv.log] == pkt.flits
    assert [last for *_, last in rcv.log] == [0] * (n_flits - 1) + [1]
    return [c for c, *_ in rcv.log]


def test_streaming_full_rate_with_round_trip_depth():
    rtt = credit_round_trip(0)
    assert rtt == 3
    cycles = _stream(rtt, 40)
    assert cycles == list(range(cycles[0], cycles[0] + 40))   # one flit every cycle


def test_streaming_below_full_rate_with_shallow_buffers():
    n = 40
    cycles = _stream(2, n)
    span = cycles[-1] - cycles[0] + 1
    assert span > n                                   # strictly less than 1 flit/cycle
    assert abs(n / span - 2 / 3) < 0.05               # depth / round trip


@pytest.mark.parametrize("ddepth", [2, 5])
def test_credit_stall_and_recovery(ddepth):
    """A stalled downstream gets exactly its depth; after release the rest flows at full rate."""
    hold = 30
    cycles = _stream(4, 30, hold_until=hold, downstream_depth=ddepth)
    assert sum(1 for c in cycles if c < hold + 2) == ddepth
    after = [c for c in cycles if c >= hold + 2]
    if ddepth >= credit_round_trip(0):                # counters back at full strength
        tail = after[ddepth:]
        assert tail == list(range(tail[0], tail[0] + len(tail)))


def test_overflow_is_sticky_and_buffer_intact():
    """An upstream that ignores credits sets overflow; the flits already buffered survive."""
    depth, ddepth = 3, 2
    dut = make_router(1, depth, downstream_depth=ddepth)
    rng = random.Random(5)
    pkt = Packet(rng, port="west", vc=0, dst=(4, 2), length=ddepth + depth + 1)
    rcv = Receiver(dut, "east", rng, depth=ddepth, hold_until=20)
    i = dut.in_west

    async def bench(ctx):
        for k, f in enumerate(pkt.flits):             # one flit too many, no credit check
            ctx.set(i.valid, 1)
            ctx.set(i.data, f)
            ctx.set(i.last, k == len(pkt.flits) - 1)
            await ctx.tick()
            assert ctx.get(dut.overflow) == (k == len(pkt.flits) - 1)
        ctx.set(i.valid, 0)
        for _ in range(40):
            await ctx.tick()
            assert ctx.get(dut.overflow)

    simulate(dut, [bench], [rcv.run])
    assert [d for *_, d, _ in rcv.log] == pkt.flits[:ddepth + depth]   # the extra one dropped


# -- 4. random traffic scoreboard --------------------------------------------------

def _random_traffic(vcs, depth, routing, *, seed, packets_per_port, idle, stall,
                    downstream_depth=None):
    rng = random.Random(seed)
    dut = make_router(vcs, depth, routing, downstream_depth)
    ddepth = downstream_depth or depth
    senders = {p: Sender(dut, p, rng, depth=depth, idle=idle) for p in PORTS}
    receivers = {p: Receiver(dut, p, rng, depth=ddepth, stall=stall) for p in PORTS}
    packets = {}
    for p in PORTS:
        for _ in range(packets_per_port):
            pkt = Packet(rng, port=p, vc=rng.randrange(vcs), dst=random_dst(rng, p, routing),
                         length=rng.randint(1, 4))
            packets[pkt.uid] = pkt
            senders[p].send(pkt)
    total_flits = sum(len(p.flits) for p in packets.values())

    async def watchdog(ctx):
        for _ in range(20 * total_flits // len(PORTS) + 200):
            if sum(len(r.log) for r in receivers.values()) == total_flits:
                break
            await ctx.tick()
        got = sum(len(r.log) for r in receivers.values())
        assert got == total_flits, f"only {got} of {total_flits} flits delivered (deadlock?)"
        for _ in range(10):                           # nothing extra comes out
            await ctx.tick()
        assert not ctx.get(dut.overflow)

    simulate(dut, [watchdog], [s.run for s in senders.values()]
             + [r.run for r in receivers.values()])

    # scoreboard
    delivered = {}
    order = {}                                        # (in, out, vc) -> uids in arrival order
    for o, rcv in receivers.items():
        current = [None] * vcs                        # per VC: (packet, next flit index)
        for cycle, v, data, last in rcv.log:
            if current[v] is None:
                uid = Packet.uid_of(data)
                assert uid in packets, f"out_{o}: unknown head {data:#x} at cycle {cycle}"
                pkt = packets[uid]
                assert uid not in delivered, f"packet {uid} delivered twice"
                assert pkt.vc == v, f"packet {uid} changed VC {pkt.vc} -> {v}"
                assert expected_port(pkt.dst, routing=routing) == o, \
                    f"packet {uid} to {pkt.dst} left on {o}"
                assert pkt.flits[0] == data
                current[v] = (pkt, 1)
                order.setdefault((pkt.port, o, v), []).append(uid)
            else:
                pkt, k = current[v]
                assert pkt.flits[k] == data, \
                    f"out_{o} VC {v} cycle {cycle}: packet {pkt.uid} flit {k} corrupted " \
                    f"or interleaved"
                current[v] = (pkt, k + 1)
            pkt, k = current[v]
            assert bool(last) == (k == len(pkt.flits)), f"packet {pkt.uid}: last at flit {k}"
            if last:
                delivered[pkt.uid] = o
                current[v] = None
        assert current == [None] * vcs, f"out_{o}: packet cut short"
    assert set(delivered) == set(packets), \
        f"{len(packets) - len(delivered)} of {len(packets)} packets not delivered"
    for key, uids in order.items():
        assert uids == sorted(uids), f"order broken on {key}"
    used = {o for o in delivered.values()}
    assert used == set(PORTS)
    return sum(len(r.log) for r in receivers.values())


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("vcs,depth,routing,ddepth,seed", [
    (1, 4, "xy", None, 1),
    (2, 3, "yx", None, 2),
    (2, 2, "xy", 3, 3),
    (4, 2, "xy", None, 4),
])
def test_random_traffic_scoreboard(vcs, depth, routing, ddepth, seed):
    _random_traffic(vcs, depth, routing, seed=seed, packets_per_port=40, idle=0.3, stall=0.3,
                    downstream_depth=ddepth)


# -- 5. parameters and conversion ----------------------------------------------------

def _raises(exc, message, **kwargs):
    with warnings.catch_warnings():
        # the half-built component is collected here, not at some later test
        warnings.simplefilter("ignore", UnusedElaboratable)
        args = dict(fmt=FMT, vcs=2, buffer_depth=4)
        args.update(kwargs)
        with pytest.raises(exc) as info:
            Router(**args)
        assert str(info.value) == message
        del info
        gc.collect()


@pytest.mark.parametrize("kwargs,message", [
    ({"vcs": 5}, "vcs must be an integer in 1..4, not 5"),
    ({"vcs": 0}, "vcs must be an integer in 1..4, not 0"),
    ({"buffer_depth": 0}, "buffer_depth must be a positive integer, not 0"),
    ({"buffer_depth": 2.5}, "buffer_depth must be a positive integer, not 2.5"),
    ({"routing": "zz"}, "routing must be 'xy', 'yx' or 'table', not 'zz'"),
    ({"routing": "table"}, "routing='table' needs table_shape=(dies_x, dies_y, nodes_x, nodes_y)"),
    ({"downstream_depth": 0}, "downstream_depth must be a positive integer, not 0"),
])
def test_parameter_errors(kwargs, message):
    _raises(ValueError, message, **kwargs)


def test_fmt_must_be_packet_format():
    _raises(TypeError, "fmt must be a PacketFormat, not 64", fmt=64)


def test_vcs_must_be_an_integer():
    _raises(TypeError, "vcs must be an integer in 1..4, not '2'", vcs="2")


def test_ports_and_verilog():
    dut = make_router(2, 4)
    sig = dut.signature.members
    assert set(sig) == ({"x", "y", "overflow"} | {f"in_{p}" for p in PORTS}
                        | {f"out_{p}" for p in PORTS})
    assert dut.downstream_depth == 4 and dut.routing == "xy"
    text = verilog.convert(dut, emit_src=False, name="router")
    assert "module router(" in text
