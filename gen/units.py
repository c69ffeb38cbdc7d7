"""Figures in a unit that fits: SI prefixes for rates, IEC (binary) prefixes for memory.

The derivation report prints every quantity with the prefix that puts its mantissa in
[1, 1000) (or [1, 1024) for bytes), so a 4x4 mesh's SRAM reads ``64 KiB``, not ``0.0 MB``,
and the D1 die's ``451.2 MiB``. Memory is binary because the config gives a node's SRAM in
KiB (``node.sram_kb``; D1's published "1.25 MB" per node is 1280 KiB); bandwidths and
FLOPS are decimal (1 GB/s = 10^9 bytes per second).
"""

__all__ = ["si", "binary_bytes"]

_SI = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
       (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"))
_IEC = ((2 ** 50, "Pi"), (2 ** 40, "Ti"), (2 ** 30, "Gi"), (2 ** 20, "Mi"), (2 ** 10, "Ki"),
        (1, ""))


def _scaled(value, unit, scales, digits):
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be an integer >= 1, not {digits!r}")
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in scales:
        text = f"{abs(value) / scale:.{digits}g}"
        if float(text) >= 1 or scale == scales[-1][0]:
            return f"{'-' if value < 0 else ''}{text} {prefix}{unit}"


def si(value, unit, digits=4):
    """``si(4.096e12, "FLOPS")`` -> ``"4.096 TFLOPS"``: the SI prefix that puts the
    mantissa in [1, 1000), ``digits`` significant digits, trailing zeros dropped."""
    return _scaled(value, unit, _SI, digits)


def binary_bytes(nbytes, digits=4):
    """``binary_bytes(473_169_920)`` -> ``"451.2 MiB"``: the IEC prefix (KiB = 1024 bytes)
    that puts the mantissa in [1, 1024), ``digits`` significant digits."""
    return _scaled(nbytes, "B", _IEC, digits)
