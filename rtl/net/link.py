"""The credit-based link (DESIGN.md section 4): one signature for every port."""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LinkSignature", "LinkPipe", "vc_bits", "MAX_VCS", "check_vcs"]

#: virtual channels per link: 1..MAX_VCS
MAX_VCS = 4


def check_vcs(vcs, name="vcs"):
    """The one validator of a VC count: TypeError unless an integer, ValueError unless in
    1..MAX_VCS; returns ``vcs``."""
    if not isinstance(vcs, int) or isinstance(vcs, bool):
        raise TypeError(f"{name} must be an integer in 1..{MAX_VCS}, not {vcs!r}")
    if not 1 <= vcs <= MAX_VCS:
        raise ValueError(f"{name} must be an integer in 1..{MAX_VCS}, not {vcs!r}")
    return vcs


def vc_bits(vcs):
    """Width of the ``vc`` field; at least one bit so every port exists in Verilog."""
    return max(1, (vcs - 1).bit_length())


class LinkSignature(wiring.Signature):
    """One direction of a link, seen from the sender.

    Members
    -------
    valid : Out(1)
        A flit is on ``data`` this cycle. No backpressure: the sender only
        asserts it when it holds a credit for ``vc``.
    last : Out(1)
        The flit is the tail of its packet (a single-flit packet has it on the head).
    vc : Out(vc_bits(vcs))
        Virtual channel of the flit.
    data : Out(flit_bits)
        Flit payload.
    credit : In(vcs)
        One bit per VC, pulsed for one cycle when the receiver frees a slot of that VC.
    """

    #: what each member carries (the manifests' port roles read it)
    MEMBER_ROLES = {"valid": "flit valid", "last": "tail flit", "vc": "virtual channel",
                    "data": "flit payload", "credit": "credit return (one bit per VC)"}

    def __init__(self, *, flit_bits, vcs):
        if not isinstance(flit_bits, int) or flit_bits < 1:
            raise ValueError(f"flit_bits must be a positive integer, not {flit_bits!r}")
        check_vcs(vcs)
        self._flit_bits = flit_bits
        self._vcs = vcs
        super().__init__({
            "valid": Out(1),
            "last": Out(1),
            "vc": Out(vc_bits(vcs)),
            "data": Out(flit_bits),
            "credit": In(vcs),
        })

    @property
    def flit_bits(self):
        return self._flit_bits

    @property
    def vcs(self):
        return self._vcs

    def __eq__(self, other):
        return (isinstance(other, LinkSignature) and other.flit_bits == self.flit_bits
                and other.vcs == self.vcs)

    def __hash__(self):
        return hash((LinkSignature, self._flit_bits, self._vcs))

    def __repr__(self):
        return f"LinkSignature(flit_bits={self._flit_bits}, vcs={self._vcs})"


class LinkPipe(wiring.Component):
    """``stages`` pipeline registers on a link: flits forward, credits back.

    Inserted by the mesh where the physical derivation says a hop is longer
    than the one-cycle reach. Adds ``stages`` cycles each way, so the credit
    round trip grows by ``2 * stages`` (see ``gen.derive.credit_round_trip``).

    Members
    -------
    i : In(LinkSignature)
        From the sender.
    o : Out(LinkSignature)
        To the receiver.
    """

    def __init__(self, *, flit_bits, vcs, stages):
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self._stages = stages
        sig = LinkSignature(flit_bits=flit_bits, vcs=vcs)
        super().__init__({"i": In(sig), "o": Out(sig)})

    def elaborate(self, platform):
        m = Module()
        fwd = [(self.i.valid, self.o.valid), (self.i.last, self.o.last), (self.i.vc, self.o.vc),
               (self.i.data, self.o.data)]
        for src, dst in fwd + [(self.o.credit, self.i.credit)]:
            for _ in range(self._stages):
                stage = Signal.like(src, name=None, init=0)
                m.d.sync += stage.eq(src)
                src = stage
            m.d.comb += dst.eq(src)
        return m

