"""The fast engine's hosts' packets, built and read by straight-line code made from the layouts.

A host on the fast engine (:mod:`sim.netmodel.host`) builds a request and decodes a
response for every packet it exchanges with a node (a host-driven all-reduce polls a
semaphore about 1,500 times on the default tile), and the node kernel is stepped in
compiled code in between, so those few microseconds of Python per packet are a large part
of the run's wall time. :class:`HostModel` is :class:`verif.node_model.NodeModel` with
that hot path -- ``head``, ``read``, ``read_regs``, ``store``, ``push``, ``decode_head``
and ``decode`` -- generated once per packet format as Python functions of shifts and masks at
the layouts' own offsets (:class:`rtl.net.packet.FlatCodec`'s fields: no copied bit
position; a request's constant fields folded), the same ints and dicts as the methods
they replace (enum fields as members, an undefined enum value raising the enum's
ValueError, signed fields sign-extended, a value cut to its field's width); ``reg_addr``
reads a table made once. ``tests/sim/netmodel/test_host_codec.py`` holds every packet
kind equal to :class:`~verif.node_model.NodeModel`'s over random fields, and catches a
decoder and an encoder one bit off (:data:`CODEC_MUTANTS`).
"""

from rtl.net.packet import FlatCodec, MsgClass, Opcode, enum_member
from verif.node_model import Dtype, NodeModel

__all__ = ["HostModel", "CODEC_MUTANTS"]

#: deliberately wrong codecs (tests only): ``resp_tag_one_bit_off`` reads a response's tag
#: one bit higher than its layout puts it; ``push_count_one_bit_off`` writes a PUSH
#: descriptor's count one bit higher
CODEC_MUTANTS = ("none", "resp_tag_one_bit_off", "push_count_one_bit_off")


class _Members(dict):
    """An enum's members by value; an undefined value raises as the enum's call does."""

    def __init__(self, kind):
        super().__init__((m.value, m) for m in kind)
        self.kind = kind

    def __missing__(self, value):
        return self.kind(value)


def _signed(value, width):
    return value - (1 << width) if value >> (width - 1) else value


class _Source:
    """Python source of field reads and writes of flat layouts, and the constants it uses."""

    def __init__(self):
        self.names = {"_signed": _signed, "_member": enum_member, "int": int}

    def const(self, name, value):
        self.names[name] = value
        return name

    def reads(self, layout, var, shift=None):
        """``{field: expression}`` reading ``layout``'s fields from the int ``var``
        (``shift``: ``{field: bits}`` added to a field's offset, a mutant's)."""
        out = {}
        for name, offset, mask, kind, signed, width in FlatCodec(layout).fields:
            offset += (shift or {}).get(name, 0)
            e = f"(({var} >> {offset}) & {mask})" if offset else f"({var} & {mask})"
            if kind is not None:
                e = f"{self.const('_' + kind.__name__, _Members(kind))}[{e}]"
            elif signed:
                e = f"_signed({e}, {width})"
            out[name] = e
        return out

    def write(self, layout, args, shift=None):
        """An expression of ``layout``'s bits from ``args`` (``{field: expression}``, or a
        value that is not a string: a constant, folded; every field of the layout named: a
        layout grown by a field is refused, not zeroed; ``shift`` as :meth:`reads`')."""
        fields = FlatCodec(layout).fields
        if set(args) != {f[0] for f in fields}:
            raise ValueError(f"fields {sorted(args)} are not the layout's "
                             f"{sorted(f[0] for f in fields)}")
        terms, folded = [], 0
        for name, offset, mask, kind, _, _ in fields:
            offset += (shift or {}).get(name, 0)
            if not isinstance(args[name], str):
                v = args[name]
                folded |= ((enum_member(kind, v).value if kind else int(v)) & mask) << offset
                continue
            if kind is not None:        # a member's value as it holds it (no call), else
                cls, a = self.const('_' + kind.__name__ + '_cls', kind), args[name]
                v = f"({a}._value_ if type({a}) is {cls} else _member({cls}, {a}).value)"
            else:
                v = f"int({args[name]})"
            terms.append(f"(({v} & {mask}) << {offset})")
        return " | ".join(terms + [str(folded)] * bool(folded or not terms))


class HostModel(NodeModel):
    """:class:`verif.node_model.NodeModel` (same parameters) whose ``head``, ``read``,
    ``read_regs``, ``store``, ``push``, ``decode_head`` and ``decode`` are generated
    straight-line code (the module doc); ``mutant`` one of :data:`CODEC_MUTANTS` (tests
    only)."""

    def __init__(self, *, mutant="none", **params):
        super().__init__(**params)
        if mutant not in CODEC_MUTANTS:
            raise ValueError(f"mutant must be one of {', '.join(CODEC_MUTANTS)}, "
                             f"not {mutant!r}")
        src = _Source()
        head, lay = self.fmt.head, self.lay
        h = src.reads(head, "f")
        resp = src.reads(lay.resp_info, "info",
                         {"tag": 1} if mutant == "resp_tag_one_bit_off" else None)
        store = src.reads(lay.store_info, "info")
        ops = {op: src.const(f"_op_{op.name}", op) for op in Opcode}
        reqst = src.const("_REQUEST", MsgClass.REQUEST)
        fields = ", ".join([f'"dst": ({h["dst_x"]}, {h["dst_y"]})',
                            f'"src": ({h["src_x"]}, {h["src_y"]})']
                           + [f'"{k}": {h[k]}' for k in ("mclass", "opcode", "length")])
        info_mask = (1 << lay.resp_info.size) - 1, (1 << lay.store_info.size) - 1
        head_args = {"dst_x": "dst[0]", "dst_y": "dst[1]", "src_x": "src[0]",
                     "src_y": "src[1]", "mclass": "mclass", "opcode": "opcode",
                     "length": "length", "info": "info"}
        read_info = {"addr": "addr", "count": "count", "tag": "tag"}
        ctl_info = {"tag": "tag", "ack": "int(ack)"}
        # a WRITE or ADD: NodeModel.store's packets (pieces of at most max_len - 1 lines,
        # the semaphore incremented by the last)
        chunk, int32 = self.max_len - 1, src.const("_INT32", Dtype.INT32)
        store_info = {"addr": f"addr + i * {chunk}", "tag": "tag", "ack": "int(ack)",
                      "sem_inc": "int(sem is not None and i == last)", "sem": "(sem or 0)",
                      "dtype": "dtype"}
        # a PUSH: NodeModel.push's descriptor fields (its _push_fields), split into body
        # flits as NodeLayouts.desc_flits splits them
        push_desc = {name: f"d[{name!r}]" for name, _ in lay.push_desc}
        width, body = self.width, lay.push_flits
        split = ", ".join(f"(v >> {width * i}) & {(1 << width) - 1}" for i in range(body))
        push_shift = {"count": 1} if mutant == "push_count_one_bit_off" else None
        fields_of_push = src.const("_push_fields", self._push_fields)
        code = f"""
def head(*, dst, src, opcode, length, info, mclass={reqst}):
    return {src.write(head, head_args)}

def read(*, dst, src, addr, count, tag=0):
    return [{src.write(head, {**head_args, "opcode": Opcode.READ, "length": 1,
                              "mclass": MsgClass.REQUEST,
                              "info": "(" + src.write(lay.read_info, read_info) + ")"})}]

def read_regs(*, dst, src, first, count=1, tag=0):
    return read(dst=dst, src=src, addr=reg_addr(first), count=count, tag=tag)

def push(*, dst, src, tag=0, ack=True, **kw):
    d = {fields_of_push}(**kw)
    v = {src.write(lay.push_desc, push_desc, push_shift)}
    return [{src.write(head, {**head_args, "opcode": Opcode.PUSH, "length": 1 + body,
                              "mclass": MsgClass.REQUEST,
                              "info": "(" + src.write(lay.ctl_info, ctl_info) + ")"})}, {split}]

def store(*, dst, src, addr, data, add=False, dtype={int32}, tag=0, ack=False, sem=None):
    data = [int(x) for x in data]
    pieces = [data[i:i + {chunk}] for i in range(0, len(data), {chunk})] or [[]]
    last, opcode, out = len(pieces) - 1, {ops[Opcode.ADD]} if add else {ops[Opcode.WRITE]}, []
    for i, piece in enumerate(pieces):
        out.append([{src.write(head, {**head_args, "opcode": "opcode", "length": "len(piece) + 1",
                                      "mclass": MsgClass.REQUEST,
                                      "info": "(" + src.write(lay.store_info, store_info) + ")"})}]
                   + piece)
    return out

def dst_of(f):
    {h["mclass"]}; {h["opcode"]}
    return ({h["dst_x"]}, {h["dst_y"]})

def decode_head(f):
    return {{{fields}, "info": {h["info"]}}}

def decode(flits):
    f = flits[0]
    out = {{{fields}, "info": {h["info"]}}}
    op = out["opcode"]
    if op is {ops[Opcode.READ_RESP]} or op is {ops[Opcode.DONE]}:
        info = out["info"] & {info_mask[0]}
        {"; ".join(f'out["{k}"] = {e}' for k, e in resp.items())}
    elif op is {ops[Opcode.WRITE]} or op is {ops[Opcode.ADD]}:
        info = out["info"] & {info_mask[1]}
        {"; ".join(f'out["{k}"] = {e}' for k, e in store.items())}
    out["data"] = list(flits[1:])
    return out
"""
        names = {**src.names, "reg_addr": self.reg_addr}
        exec(compile(code, f"<HostModel {self.fmt.flit_bits}-bit>", "exec"), names)
        self.head, self.read, self.push = names["head"], names["read"], names["push"]
        self.read_regs, self.store = names["read_regs"], names["store"]
        self._reg_addrs = {name: NodeModel.reg_addr(self, name) for name in lay.registers}
        self.decode_head, self.decode = names["decode_head"], names["decode"]
        #: ``decode_head(f)["dst"]``, the other fields not built (but an undefined enum
        #: value refused as decode_head refuses it)
        self.dst_of = names["dst_of"]

    def reg_addr(self, name):
        """:meth:`NodeModel.reg_addr` from a table (an unknown name refused by it)."""
        addr = self._reg_addrs.get(name)
        return super().reg_addr(name) if addr is None else addr
