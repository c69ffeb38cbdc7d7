"""Named index constants of the node models' state rows, and bit fields of the RTL layouts."""

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["define", "layout_fields"]


def define(namespace, names, prefix):
    """``{name: index}`` of a list of field names, and the same as constants ``prefix + NAME``
    in ``namespace`` (a module's ``globals()``: numba folds module globals into the machine
    code, so ``row[Q_PC]`` costs what ``row[3]`` does)."""
    table = {}
    for i, name in enumerate(names):
        const = prefix + name.upper().replace(".", "_")
        if const in namespace:
            raise AssertionError(f"constant {const} defined twice")
        namespace[const] = table[name] = i
    return table


def layout_fields(layout, names, skip=()):
    """``(offset, width, signed)`` of each dotted name of ``names`` in the
    ``amaranth.lib.data`` layout, flattened to one tuple of ints (a name's path leaves out
    the members in ``skip``: ``"push.src_addr"`` for ``args.push.desc.src_addr``)."""
    flat = {}

    def walk(lay, path, base):
        for name, field in lay:
            inner = path if name in skip else path + (name,)
            if isinstance(field.shape, data.Layout):
                walk(field.shape, inner, base + field.offset)
            else:
                flat[".".join(inner)] = (base + field.offset, field.width,
                                         int(Shape.cast(field.shape).signed))

    walk(layout, (), 0)
    missing = [name for name in names if name not in flat]
    if missing:
        raise ValueError(f"the layout has no field(s) {missing}")
    return tuple(v for name in names for v in flat[name])
