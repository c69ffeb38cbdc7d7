"""Bit fields of flits and lines held as uint64 words (least significant word first; to and
from ints with :func:`.sram.int_to_words` / :func:`.sram.words_to_int`).

The NI's models read head fields (length, opcode, addresses) out of arriving flits and build
the heads they send; both go through :func:`get_bits` / :func:`set_bits` at the positions of
the RTL's own layouts (:func:`head_fields`), so a layout change moves the model with it.
"""

from numba import int64, njit, uint64

from rtl.node.layouts import NodeLayouts
from sim.netmodel.node.fields import define, layout_fields

__all__ = ["get_bits", "set_bits", "copy_bits", "put_head", "head_fields", "HEAD", "INFOS", "info_fields"]

#: the head flit's fields, in the order of :func:`head_fields`' tuple (``(offset, width,
#: signed)`` at ``3 * F_NAME``)
HEAD = define(globals(), ("dst_x", "dst_y", "src_x", "src_y", "mclass", "opcode", "length",
                          "info"), "F_")
#: the ``info`` layouts' fields the NI reads or writes, each at ``3 * I_<LAYOUT>_<NAME>`` of
#: :func:`info_fields`' tuple (offsets inside ``info``)
INFOS = (("store_info", ("addr", "tag", "ack", "sem_inc", "sem", "dtype")),
         ("read_info", ("addr", "count", "tag")),
         ("ctl_info", ("tag", "ack")),
         ("resp_info", ("tag", "req_op", "addr")))
define(globals(), tuple(f"{lay}_{name}".replace("_info", "") for lay, names in INFOS
                        for name in names), "I_")


def head_fields(fmt):
    """``(offset, width, signed)`` of every field of :data:`HEAD` in ``fmt.head``."""
    return layout_fields(fmt.head, HEAD)


def info_fields(layouts):
    """``(offset, width, signed)`` of every ``info`` field of :data:`INFOS`."""
    if not isinstance(layouts, NodeLayouts):
        raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
    out = ()
    for lay, names in INFOS:
        out += layout_fields(getattr(layouts, lay), names)
    return out


@njit(cache=True, inline="always")
def get_bits(row, offset, width):
    """Bits ``offset .. offset + width - 1`` (``width`` < 64) of the words ``row``."""
    w, b = offset // 64, offset % 64
    value = row[w] >> uint64(b)
    if b + width > 64 and w + 1 < row.shape[0]:
        value |= row[w + 1] << uint64(64 - b)
    return int64(value & uint64((1 << width) - 1))


@njit(cache=True, inline="always")
def set_bits(row, offset, width, value):
    """Replace bits ``offset .. offset + width - 1`` (``width`` < 64) of ``row`` by
    ``value`` (truncated to ``width``, as a hardware field is)."""
    mask = uint64((1 << width) - 1)
    v = uint64(value) & mask
    w, b = offset // 64, offset % 64
    row[w] = (row[w] & ~(mask << uint64(b))) | (v << uint64(b))
    if b + width > 64 and w + 1 < row.shape[0]:
        s = uint64(64 - b)
        row[w + 1] = (row[w + 1] & ~(mask >> s)) | (v >> s)


@njit(cache=True, inline="always")
def copy_bits(dst, offset, src, width):
    """Bits ``0 .. width - 1`` of the words ``src`` into ``dst`` from bit ``offset`` on (a
    ``word_select`` of the RTL), 32 at a time."""
    for lo in range(0, width, 32):
        w = min(32, width - lo)
        set_bits(dst, offset + lo, w, get_bits(src, lo, w))


@njit(cache=True, inline="always")
def put_head(row, H, dst_x, dst_y, src_x, src_y, mclass, opcode, length, info):
    """Write a head flit into ``row`` (every word; ``H``: :func:`head_fields`; ``info`` fits
    63 bits, the rest of the info field is zero)."""
    row[:] = 0
    set_bits(row, H[3 * F_DST_X], H[3 * F_DST_X + 1], dst_x)
    set_bits(row, H[3 * F_DST_Y], H[3 * F_DST_Y + 1], dst_y)
    set_bits(row, H[3 * F_SRC_X], H[3 * F_SRC_X + 1], src_x)
    set_bits(row, H[3 * F_SRC_Y], H[3 * F_SRC_Y + 1], src_y)
    set_bits(row, H[3 * F_MCLASS], H[3 * F_MCLASS + 1], mclass)
    set_bits(row, H[3 * F_OPCODE], H[3 * F_OPCODE + 1], opcode)
    set_bits(row, H[3 * F_LENGTH], H[3 * F_LENGTH + 1], length)
    set_bits(row, H[3 * F_INFO], min(H[3 * F_INFO + 1], 63), info)
