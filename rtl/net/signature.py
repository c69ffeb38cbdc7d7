"""A base for signatures that are defined by their parameters."""

from amaranth.lib import wiring

__all__ = ["ParamSignature"]


class ParamSignature(wiring.Signature):
    """A :class:`wiring.Signature` whose members follow from keyword parameters.

    Two instances are equal when they are of the same class with equal
    parameters (Amaranth compares subclasses by identity unless they say
    otherwise); ``repr`` is ``ClassName(param=value, ...)``.

    Parameters
    ----------
    members : dict
        The members, as for :class:`wiring.Signature`.
    **params
        The parameters the members were made from (hashable values).
    """

    def __init__(self, members, **params):
        self._params = params
        super().__init__(members)

    def __eq__(self, other):
        return type(other) is type(self) and other._params == self._params

    def __hash__(self):
        return hash((type(self), tuple(sorted(self._params.items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"
