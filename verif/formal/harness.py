"""The base of a proof harness: a block under proof, free environment models, named properties.

A harness is an ``Elaboratable`` whose ``elaborate`` puts the block under proof between
environment models and asserts properties, each in a named group (``CHECKS``), so that a
proof can select groups and a failed assertion is reported by its group (its source line is
recorded as it is made). Deliberately broken blocks (``MUTATIONS``) must fail the groups
they break.

The block under proof is elaborated with :meth:`Harness.elaborate_dut`
(``amaranth.hdl.Fragment.get``, the public way to elaborate now), so its ``probes`` (the
internal signals it keeps by name for a harness, :class:`rtl.net.probes.Probes`) exist
before the properties read them.
"""

import sys

from amaranth.hdl import Assert, ClockDomain, Elaboratable, Fragment

__all__ = ["Harness", "chosen_checks"]


def chosen_checks(checks, allowed, *, mutation=None, mutations=()):
    """Validate a harness's ``mutation`` (None or one of ``mutations``) and ``checks`` (a
    subset of ``allowed``, default all of them); returns the set of checks."""
    if mutation is not None and mutation not in mutations:
        raise ValueError(f"mutation must be one of {', '.join(mutations)}, not {mutation!r}")
    checks = set(allowed if checks is None else checks)
    if not checks <= set(allowed):
        raise ValueError(f"checks must be among {', '.join(allowed)}, not "
                         f"{', '.join(sorted(checks - set(allowed)))}")
    return checks


class Harness(Elaboratable):
    """Base of the proof harnesses.

    Subclasses set ``CHECKS`` (property groups) and ``MUTATIONS`` and may extend
    :meth:`validate`, which runs on the keyword arguments before the harness exists (an
    ``Elaboratable`` that is created and then dropped because an argument was bad would
    warn that it was never used).

    Attributes
    ----------
    checks : set of str
        The property groups asserted (default: all of ``CHECKS``).
    check_lines : dict
        Source line of each assertion -> its group, filled by ``elaborate`` (how
        :func:`verif.formal.sby.run_proof` names a failed property).
    cd : ClockDomain
        The ``sync`` domain; its clock is the top's one port.
    """

    CHECKS = ()
    MUTATIONS = ()

    def __new__(cls, *args, **kwargs):
        cls.validate(**kwargs)
        return super().__new__(cls, *args, src_loc_at=1)

    @classmethod
    def validate(cls, *, mutation=None, checks=None, **_):
        """Raise ValueError for a bad argument (default: ``mutation`` and ``checks``)."""
        chosen_checks(checks, cls.CHECKS, mutation=mutation, mutations=cls.MUTATIONS)

    def __init__(self, *, mutation=None, checks=None):
        self.mutation = mutation
        self.checks = chosen_checks(checks, self.CHECKS, mutation=mutation,
                                    mutations=self.MUTATIONS)
        self.check_lines = {}
        self.cd = ClockDomain("sync")

    def assertion(self, group, test, *, src_loc_at=0):
        """``[Assert(test)]`` in property group ``group`` if it is selected, else ``[]``;
        records the line of the caller (``src_loc_at`` frames further up) for the report."""
        self.check_lines[sys._getframe(1 + src_loc_at).f_lineno] = group
        return [Assert(test, src_loc_at=1 + src_loc_at)] if group in self.checks else []

    @staticmethod
    def elaborate_dut(m, name, dut, platform):
        """Elaborate ``dut`` now (so its probes exist) and add it to ``m`` as ``name``."""
        m.submodules[name] = Fragment.get(dut, platform)
        return dut
