"""cocotb drivers and monitors for the credit-based link (DESIGN.md section 4).

Timing discipline: everything samples and drives on the falling clock edge, so
values are settled whatever the simulator; a value driven at the falling edge of
cycle t is seen by the DUT at the rising edge that ends cycle t. A credit pulse
returned at the falling edge after a flit was seen is therefore the "one cycle
later" pulse of the protocol.

Drivers and monitors are stepped by one :class:`LinkBench` loop per testbench
(one trigger per cycle instead of one coroutine per port).
"""

import random
from collections import deque

from cocotb.triggers import FallingEdge

__all__ = ["LinkDriver", "LinkMonitor", "LinkBench", "Packet"]


class Packet:
    """A packet on the wire: its flits (ints), VC and timing."""

    __slots__ = ("flits", "vc", "sent", "received", "port", "meta")

    def __init__(self, flits, vc, meta=None):
        self.flits = list(flits)
        self.vc = vc
        self.sent = None          # cycle the head was driven
        self.received = None      # cycle the tail was seen
        self.port = None
        self.meta = meta

    def __repr__(self):
        return f"Packet(vc={self.vc}, flits={[hex(f) for f in self.flits]})"


def _sig(dut, prefix, member):
    return getattr(dut, f"{prefix}__{member}")


class LinkDriver:
    """Sends queued packets into a DUT input link, honouring its credits.

    Parameters
    ----------
    dut, prefix : the DUT and the port prefix (e.g. ``in_north``).
    vcs, credits : VC count and the receiver's buffer depth per VC.
    idle : probability of an idle cycle between flits (random idle generator).
    """

    def __init__(self, dut, prefix, *, vcs, credits, idle=0.0, rng=None):
        self.prefix = prefix
        self.valid, self.last = _sig(dut, prefix, "valid"), _sig(dut, prefix, "last")
        self.vc, self.data = _sig(dut, prefix, "vc"), _sig(dut, prefix, "data")
        self.credit_in = _sig(dut, prefix, "credit")
        self.vcs = vcs
        self.credits = [credits] * vcs
        self.max_credits = credits
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.queue = deque()
        self.current = None       # (packet, next flit index)
        self.sent_flits = 0
        self.violations = []
        self.valid.value = 0

    def send(self, packet):
        self.queue.append(packet)

    @property
    def busy(self):
        return bool(self.queue) or self.current is not None

    def step(self, cycle):
        pulses = int(self.credit_in.value)
        drive = False
        if self.current is None and self.queue:
            # a new packet may start on any VC with a credit (static VC per packet)
            self.current = (self.queue.popleft(), 0)
        if self.current is not None and self.rng.random() >= self.idle:
            pkt, i = self.current
            if self.credits[pkt.vc] > 0:
                self.credits[pkt.vc] -= 1
                last = i == len(pkt.flits) - 1
                self.valid.value = 1
                self.last.value = int(last)
                self.vc.value = pkt.vc
                self.data.value = pkt.flits[i]
                if i == 0:
                    pkt.sent = cycle
                self.current = None if last else (pkt, i + 1)
                self.sent_flits += 1
                drive = True
        if not drive:
            self.valid.value = 0
        for v in range(self.vcs):
            if pulses >> v & 1:
                self.credits[v] += 1
                if self.credits[v] > self.max_credits:
                    self.violations.append(f"{self.prefix}: credit overflow on VC {v} at {cycle}")


class LinkMonitor:
    """Receives flits from a DUT output link, assembles packets per VC, returns credits.

    ``stall`` is the probability that a pending credit is held back another
    cycle (random backpressure). ``on_packet(packet)`` is called at every tail.
    Protocol checks (recorded in ``violations``): more flits in flight on a VC
    than ``depth`` (sender ignored credits).
    """

    def __init__(self, dut, prefix, *, vcs, depth, stall=0.0, rng=None, on_packet=None,
                 length_of=None):
        self.prefix = prefix
        self.valid, self.last = _sig(dut, prefix, "valid"), _sig(dut, prefix, "last")
        self.vc, self.data = _sig(dut, prefix, "vc"), _sig(dut, prefix, "data")
        self.credit_out = _sig(dut, prefix, "credit")
        self.vcs, self.depth, self.stall = vcs, depth, stall
        self.rng = rng or random.Random(1)
        self.on_packet = on_packet
        self.partial = [[] for _ in range(vcs)]
        self.held = [0] * vcs          # flits received whose credit is not yet returned
        self.packets = []
        self.flits = 0
        self.violations = []
        self.credit_out.value = 0

    def step(self, cycle):
        if int(self.valid.value):
            vc = int(self.vc.value)
            if vc >= self.vcs:
                self.violations.append(f"{self.prefix}: flit on VC {vc} of {self.vcs} at {cycle}")
                vc = 0
            self.partial[vc].append(int(self.data.value))
            self.held[vc] += 1
            self.flits += 1
            if self.held[vc] > self.depth:
                self.violations.append(f"{self.prefix}: VC {vc} holds {self.held[vc]} flits, "
                                       f"buffer {self.depth}, at cycle {cycle}")
            if int(self.last.value):
                pkt = Packet(self.partial[vc], vc)
                pkt.received, pkt.port = cycle, self.prefix
                self.partial[vc] = []
                self.packets.append(pkt)
                if self.on_packet:
                    self.on_packet(pkt)
        pulse = 0
        for v in range(self.vcs):
            if self.held[v] and self.rng.random() >= self.stall:
                self.held[v] -= 1
                pulse |= 1 << v
        self.credit_out.value = pulse


class LinkBench:
    """Steps every driver and monitor once per cycle on the falling edge."""

    def __init__(self, clk):
        self.clk = clk
        self.drivers, self.monitors = [], []
        self.cycle = 0

    async def run(self):
        while True:
            await FallingEdge(self.clk)
            self.cycle += 1
            for mon in self.monitors:
                mon.step(self.cycle)
            for drv in self.drivers:
                drv.step(self.cycle)

    @property
    def busy(self):
        return any(d.busy for d in self.drivers)

    @property
    def violations(self):
        return [v for x in self.drivers + self.monitors for v in x.violations]

    def problems(self):
        """Protocol violations, packets left half-received, drivers that could not finish."""
        out = list(self.violations)
        out += [f"{m.prefix}: partial packet left on VC {v}" for m in self.monitors
                for v, part in enumerate(m.partial) if part]
        out += [f"{d.prefix}: stuck with {len(d.queue)} queued, credits {d.credits}"
                for d in self.drivers if d.busy]
        return out
