"""Round-robin arbiter: the building block of the router's separable allocator."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundRobinArbiter"]


class RoundRobinArbiter(wiring.Component):
    """Combinational one-hot round-robin arbiter with a registered priority pointer.

    The priority pointer is kept as a thermometer mask (bits at or above the
    pointer set). The grant is the lowest-indexed request at or above the
    pointer, else the lowest-indexed request overall, computed with one
    ``x & -x`` over the concatenation ``Cat(requests & mask, requests)``: one
    ``2n``-bit carry chain, no priority-encoder tree. When ``advance`` is high
    the pointer moves just past the current grant at the clock edge, so the
    granted requester has the lowest priority next time and a requester that
    keeps requesting is granted within ``n`` grants (no starvation).

    Parameters
    ----------
    n : int
        Number of requesters (1 or more).

    Members
    -------
    requests : In(n)
        One bit per requester, sampled combinationally.
    grant : Out(n)
        One-hot (or zero when nothing is requested); combinational from
        ``requests`` and the pointer, same cycle.
    advance : In(1)
        Accept the current grant: at the clock edge the pointer moves just past
        it. Ignored when nothing is requested (the pointer stays).

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.
    """

    def __init__(self, *, n):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive integer, not {n!r}")
        self._n = n
        super().__init__({
            "requests": In(n),
            "grant": Out(n),
            "advance": In(1),
        })

    @property
    def n(self):
        return self._n

    def elaborate(self, platform):
        m = Module()
        n = self._n
        if n == 1:
            m.d.comb += self.grant.eq(self.requests)
            return m

        mask = Signal(n, init=(1 << n) - 1)         # requesters at or above the pointer
        both = Signal(2 * n)
        lowest = Signal(2 * n)
        m.d.comb += [
            both.eq(Cat(self.requests & mask, self.requests)),
            lowest.eq(both & (~both + 1)[:2 * n]),   # isolate the lowest set bit
            self.grant.eq(lowest[:n] | lowest[n:]),
        ]
        with m.If(self.advance & self.requests.any()):
            # strictly above the grant: ~(g | (g - 1))
            m.d.sync += mask.eq(~(self.grant | (self.grant - 1)[:n]))
        return m
