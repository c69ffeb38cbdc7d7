"""Named index constants of the node models' state rows, and bit fields of the RTL layouts
(their positions from the layouts, and numba functions that read and write them in a flit)."""

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data
from numba import njit, uint64

__all__ = ["define", "layout_fields", "get_bits", "put_bits", "copy_row", "control_bits",
           "control_words", "UNCOMPUTED", "mark_uncomputed", "is_uncomputed"]


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


def control_bits(layouts):
    """Bits of a line or flit, from bit 0, that hold every field the node's control reads
    (:class:`rtl.node.layouts.NodeLayouts` ``layouts``): the head's own fields and every
    ``info`` layout at the head's ``info`` offset, the PUSH and EXEC descriptors, a command
    descriptor and the ``cmd_ctrl`` line. A descriptor longer than a flit spans whole
    flits, so then every bit is control. The rest of a line is payload: a timing-only model
    keeps these bits of every line and flit and nothing above them."""
    fmt, W = layouts.fmt, layouts.fmt.flit_bits
    info = layout_fields(fmt.head, ("info",))[0]
    ends = [offset + width for name, field in fmt.head if name != "info"
            for offset, width in [(field.offset, field.width)]]
    ends += [info + getattr(layouts, name).size
             for name in ("store_info", "read_info", "ctl_info", "resp_info")]
    ends += [getattr(layouts, name).size
             for name in ("push_desc", "exec_desc", "cmd_desc", "cmd_ctrl")]
    return min(W, max(ends))


def control_words(layouts):
    """uint64 words of :func:`control_bits` (what a timing-only model keeps of a line)."""
    return -(-control_bits(layouts) // 64)


#: a timing-only model's mark for a line whose value it does not compute (an engine result,
#: an ADD sum): every kept word all ones. It travels with the line (DMA, READ answers, PULLs)
#: like a value; a legitimate command descriptor never reads as it (its opcode field all
#: ones is no opcode, and the bits above a one-line descriptor are zero)
UNCOMPUTED = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, _nrt=False, inline="always")
def mark_uncomputed(row):
    """``row[:]`` <- the mark :data:`UNCOMPUTED`."""
    for i in range(row.shape[0]):
        row[i] = UNCOMPUTED


@njit(cache=True, _nrt=False, inline="always")
def is_uncomputed(row):
    """Does ``row`` carry the mark :data:`UNCOMPUTED`?"""
    for i in range(row.shape[0]):
        if row[i] != UNCOMPUTED:
            return False
    return True


@njit(cache=True, _nrt=False, inline="always")
def get_bits(row, offset, width):
    """Bits ``offset .. offset + width - 1`` (width <= 63) of a flit held as uint64 words."""
    word, shift = offset // 64, offset % 64
    value = row[word] >> uint64(shift)
    if shift and shift + width > 64:
        value |= row[word + 1] << uint64(64 - shift)
    return np.int64(value & uint64((1 << width) - 1))


@njit(cache=True, _nrt=False, inline="always")
def put_bits(row, offset, width, value):
    """OR ``value`` into bits ``offset ..`` (width <= 63) of a flit held as uint64 words."""
    v = uint64(value) & uint64((1 << width) - 1)
    word, shift = offset // 64, offset % 64
    row[word] |= v << uint64(shift)
    if shift and shift + width > 64:
        row[word + 1] |= v >> uint64(64 - shift)


@njit(cache=True, _nrt=False, inline="always")
def copy_row(dst, src):
    """``dst[:] = src`` for two rows of words, element by element (the kernels run without
    numba's run-time, and an array assignment may allocate a temporary copy)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]
