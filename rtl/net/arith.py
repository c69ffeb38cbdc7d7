"""Constant arithmetic without dividers, shared by the routing table and the traffic blocks."""

from amaranth.hdl import Const, Value

__all__ = ["reciprocal", "divmod_const"]


def reciprocal(divisor, max_value):
    """``(m, k)`` with ``(n * m) >> k == n // divisor`` for every ``0 <= n <= max_value``."""
    k = max(1, max_value.bit_length())
    while True:
        m = -(-(1 << k) // divisor)
        if (m * divisor - (1 << k)) * max_value < (1 << k):
            return m, k
        k += 1


def divmod_const(value, divisor, max_value):
    """Quotient and remainder by a constant, for ``0 <= value <= max_value``: no divider."""
    value = Value.cast(value)
    qbits = max(1, (max_value // divisor).bit_length())
    rbits = max(1, (divisor - 1).bit_length())
    if divisor == 1:
        return value[:qbits], Const(0, 1)
    if divisor & (divisor - 1) == 0:
        s = divisor.bit_length() - 1
        return (value >> s)[:qbits], value[:s]
    m, k = reciprocal(divisor, max_value)
    q = ((value * m) >> k)[:qbits]
    return q, (value - q * divisor)[:rbits]
