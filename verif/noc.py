"""Golden NoC model pieces shared by the testbenches: routing and the scoreboard."""

from collections import defaultdict, deque

from rtl.net.directions import TRAVEL

__all__ = ["route_port", "xy_hops", "legal_destinations", "Scoreboard"]


def route_port(x, y, dst, routing="xy"):
    """Output port a router at (x, y) must choose for destination ``dst``: the golden
    model of dimension-order routing (the router's tests and the sweeps' channel loads
    use it). East is x+1, south is y+1 (:mod:`rtl.net.directions`).
    """
    dx, dy = dst
    order = ("x", "y") if routing == "xy" else ("y", "x")
    for axis in order:
        if axis == "x" and dx != x:
            return "east" if dx > x else "west"
        if axis == "y" and dy != y:
            return "south" if dy > y else "north"
    return "local"


def xy_hops(src, dst):
    return abs(src[0] - dst[0]) + abs(src[1] - dst[1])


def legal_destinations(x, y, port, size, routing="xy"):
    """Destinations a packet arriving on ``port`` of router (x, y) can have in a mesh.

    A packet from the west travels east, so under XY it still has dst_x >= x, and
    so on; ``size`` is the notional mesh ``(width, height)``.
    """
    w, h = size
    every = [(i, j) for j in range(h) for i in range(w)]
    first, second = ("x", "y") if routing == "xy" else ("y", "x")

    def ok(d):
        if port == "local":
            return True
        axis, sign = TRAVEL[port]
        mine, theirs = (x, d[0]) if axis == "x" else (y, d[1])
        if sign * (theirs - mine) < 0:
            return False              # would be a U-turn
        if axis == second:
            # already routing in the second dimension: the first one is done
            done = d[0] == x if first == "x" else d[1] == y
            return done
        return True

    return [d for d in every if ok(d)]


class Scoreboard:
    """Every packet leaves the expected port exactly once, unmodified and in order.

    ``expect(pid, port, flits, order_key)`` registers a packet; ``observe(port,
    flits, pid)`` checks one. Order is checked per ``order_key`` (e.g. input,
    output and VC): packets with the same key must leave in the order expected.
    """

    def __init__(self):
        self.expected = {}
        self.order = defaultdict(deque)
        self.errors = []
        self.matched = 0

    def expect(self, pid, port, flits, order_key):
        if pid in self.expected:
            raise ValueError(f"packet id {pid} registered twice")
        self.expected[pid] = (port, list(flits), order_key)
        self.order[order_key].append(pid)

    def observe(self, port, flits, pid):
        if pid not in self.expected:
            self.errors.append(f"packet {pid} at {port}: unknown or duplicated")
            return
        want_port, want_flits, key = self.expected.pop(pid)
        if port != want_port:
            self.errors.append(f"packet {pid} left {port}, expected {want_port}")
        if flits != want_flits:
            self.errors.append(f"packet {pid} at {port} corrupted: {len(flits)} flits "
                               f"{[hex(f) for f in flits]} != {[hex(f) for f in want_flits]}")
        queue = self.order[key]
        if queue and queue[0] == pid:
            queue.popleft()
        else:
            self.errors.append(f"packet {pid} at {port} out of order for {key}: "
                               f"expected {queue[0] if queue else None} first")
            if pid in queue:
                queue.remove(pid)
        self.matched += 1

    def observe_monitors(self, monitors, pid_of):
        """Check and clear every packet the monitors collected; ``pid_of(flits)`` -> id."""
        for mon in monitors:
            for pkt in mon.packets:
                self.observe(pkt.port, pkt.flits, pid_of(pkt.flits))
            mon.packets.clear()

    @property
    def missing(self):
        return sorted(self.expected)

    def report(self):
        lines = list(self.errors)
        if self.missing:
            lines.append(f"{len(self.missing)} packet(s) never arrived: {self.missing[:10]}")
        return lines
