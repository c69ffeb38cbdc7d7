"""Python model of a training node: packet builders, SRAM matrix layouts, SRAM reference.

Everything is derived from the layouts in :mod:`rtl.node.layouts` and the geometry in
:mod:`rtl.node.engine` (no copied bit positions). Numerics come from
:mod:`verif.golden`.
"""

import enum

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

from rtl.node.engine import EngineGeometry
from rtl.node.mac import MacMode
from rtl.node.layouts import (QUEUES, CmdError, CmdOp, CmdState, Dtype, NodeLayouts, request_vcs,
                              response_vcs)
from rtl.net.packet import MsgClass, Opcode
from verif import golden

__all__ = ["NodeModel", "LayoutCodec", "FieldDecoder", "Dtype", "MacMode", "Opcode", "CmdOp", "CmdState", "CmdError"]

_MODE = {"bf16": MacMode.BF16, "int8": MacMode.INT8}


def _enum_values(kind):
    """``v -> kind's value of v`` for a member, its name or its value, from a table made
    once (an Amaranth enum's call costs microseconds; a D1 step encodes millions of
    descriptors); anything else goes to the enum itself, which raises as it would."""
    table = {}
    for m in kind:
        table[m.name] = table[m.value] = m.value
    members = {m: m.value for m in kind}

    def value(v):
        try:
            return members[v] if isinstance(v, kind) else table[v]
        except (KeyError, TypeError):
            return (kind[v] if isinstance(v, str) else kind(v)).value
    return value


_CMD_OPS = {**{op.name: op for op in CmdOp}, **{op.value: op for op in CmdOp}}


class LayoutCodec:
    """Fields -> bits of an Amaranth layout, nested layouts included, by the offsets and
    widths read once from it: what ``layout.const(fields).as_value().value`` gives (a
    missing field is zero, a value is cut to its field's width, an enum field takes a
    member, its value or its name; a union takes the members given), without building
    Amaranth constants per call (``tests/verif/test_node_model_codec.py`` holds the two
    equal over random values).

    Parameters
    ----------
    layout : amaranth.lib.data.Layout
    """

    def __init__(self, layout):
        self.fields = {}
        for name, member in layout:
            shape = member.shape
            sub = LayoutCodec(shape) if isinstance(shape, data.Layout) else None
            width = shape.size if sub else Shape.cast(shape).width
            kind = shape if isinstance(shape, type) and issubclass(shape, enum.Enum) else None
            self.fields[name] = (member.offset, (1 << width) - 1, sub,
                                 _enum_values(kind) if kind else None)

    def encode(self, values):
        """``values`` (a dict, nested dicts for nested layouts) -> int."""
        bits = 0
        for name, v in values.items():
            if name not in self.fields:
                raise KeyError(f"no field(s) {sorted(set(values) - set(self.fields))} "
                               f"(allowed: {', '.join(self.fields)})")
            offset, mask, sub, kind = self.fields[name]
            if sub is not None:
                v = sub.encode(v or {})
            elif kind is not None:
                v = kind(v)
            bits |= (int(v) & mask) << offset
        return bits


class FieldDecoder:
    """Bits -> fields of a flat layout, as :class:`rtl.net.packet.FlatCodec`'s ``decode``
    gives them (signed fields sign-extended, enum fields as members; an undefined enum
    value raises ValueError), with each enum's members looked up in a table made once
    instead of called (an Amaranth enum's call costs microseconds, paid for every field of
    every packet the hosts receive). ``tests/verif/test_node_model_codec.py`` holds it
    equal to ``FlatCodec.decode`` over random values.

    Parameters
    ----------
    layout : amaranth.lib.data.StructLayout
        Flat (no nested layout field).
    """

    def __init__(self, layout):
        from rtl.net.packet import FlatCodec
        self.fields = [(name, offset, mask,
                        None if kind is None else {m.value: m for m in kind}, kind, signed,
                        width)
                       for name, offset, mask, kind, signed, width in FlatCodec(layout).fields]

    def decode(self, bits):
        out = {}
        for name, offset, mask, members, kind, signed, width in self.fields:
            v = (bits >> offset) & mask
            if members is not None:
                v = members[v] if v in members else kind(v)
            elif signed and v >> (width - 1):
                v -= 1 << width
            out[name] = v
        return out


class NodeModel:
    """Encoders, decoders and layouts of one node configuration.

    Parameters
    ----------
    fmt : PacketFormat
    lines : int
        SRAM lines.
    vcs : int
    max_packet_flits : int
    matrix_p : int
    sems : int
    layouts : NodeLayouts or None
        The layouts of ``fmt``, ``lines`` and ``sems`` when a caller has them already
        (they take milliseconds to make); None: made here.
    """

    def __init__(self, *, fmt, lines, vcs, max_packet_flits, matrix_p, sems=4, layouts=None):
        self.fmt = fmt
        if layouts is not None and (layouts.fmt is not fmt or layouts.lines != lines
                                    or layouts.sems != sems):
            raise ValueError(f"layouts are of {layouts.lines} lines and {layouts.sems} "
                             f"semaphores in their own packet format, not this model's "
                             f"{lines} lines and {sems} semaphores in fmt")
        self.lay = layouts or NodeLayouts(fmt=fmt, lines=lines, sems=sems)
        self.lines = lines
        self.vcs = vcs
        self.max_len = max_packet_flits
        self.p = matrix_p
        self.geo = EngineGeometry(p=matrix_p, width=fmt.flit_bits)
        self.width = fmt.flit_bits
        self.req_vc = request_vcs(vcs)[0]
        self.resp_vc = response_vcs(vcs)[0]
        self._cmd_codec = LayoutCodec(self.lay.cmd_desc)
        self._head = FieldDecoder(fmt.head)
        self._info = {name: (FieldDecoder(getattr(self.lay, name)),
                             (1 << getattr(self.lay, name).size) - 1)
                      for name in ("resp_info", "store_info")}

    @classmethod
    def from_config(cls, cfg, derived):
        """The model of the config's training node, without building any design."""
        from gen.node_build import compute_params
        lay, _, n = compute_params(cfg, derived)
        return cls(fmt=lay.fmt, lines=n["lines"], vcs=n["vcs"],
                   max_packet_flits=n["max_packet_flits"], matrix_p=n["matrix_p"],
                   sems=n["sems"])

    @classmethod
    def from_manifest(cls, manifest):
        """The model of the node described by a compute-node design manifest."""
        from rtl.net.packet import PacketFormat
        f, n = manifest["format"], manifest["node"]
        fmt = PacketFormat(flit_bits=f["flit_bits"], coord_bits=f["coord_bits"],
                           timestamp_bits=f["timestamp_bits"])
        return cls(fmt=fmt, lines=n["lines"], vcs=n["vcs"],
                   max_packet_flits=n["max_packet_flits"], matrix_p=n["matrix_p"],
                   sems=n["sems"])

    # -- packets ---------------------------------------------------------------------------

    def head(self, *, dst, src, opcode, length, info, mclass=MsgClass.REQUEST):
        return self.fmt.encode_head(dst=dst, src=src, opcode=opcode, length=length,
                                    mclass=mclass, info=info)

    def store(self, *, dst, src, addr, data, add=False, dtype=Dtype.INT32, tag=0, ack=False,
              sem=None):
        """WRITE (or ADD) packets carrying ``data`` (line ints) to ``addr``; split into
        packets of at most ``max_packet_flits - 1`` lines; ``sem`` (counter index) is
        incremented by the last packet, ``ack`` asks every packet for a DONE."""
        data = [int(x) for x in data]
        chunk = self.max_len - 1
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [[]]
        out = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            info = self.lay.encode("store_info", addr=addr + i * chunk, tag=tag, ack=int(ack),
                                   sem_inc=int(sem is not None and last), sem=sem or 0,
                                   dtype=dtype)
            out.append([self.head(dst=dst, src=src, opcode=Opcode.ADD if add else Opcode.WRITE,
                                  length=len(piece) + 1, info=info)] + piece)
        return out

    def read(self, *, dst, src, addr, count, tag=0):
        info = self.lay.encode("read_info", addr=addr, count=count, tag=tag)
        return [self.head(dst=dst, src=src, opcode=Opcode.READ, length=1, info=info)]

    def reg_addr(self, name):
        return self.lay.reg_base + self.lay.registers.index(name)

    def read_regs(self, *, dst, src, first, count=1, tag=0):
        return self.read(dst=dst, src=src, addr=self.reg_addr(first), count=count, tag=tag)

    def push(self, *, dst, src, src_addr, count, to, dst_addr, add=False, dtype=Dtype.INT32,
             sem=None, tag=0, ack=True):
        """PUSH request to node ``dst``: send ``count`` lines at ``src_addr`` to node
        ``to`` at ``dst_addr``."""
        body = self.lay.desc_flits("push_desc", **self._push_fields(
            src_addr=src_addr, count=count, to=to, dst_addr=dst_addr, add=add, dtype=dtype,
            sem=sem))
        info = self.lay.encode("ctl_info", tag=tag, ack=int(ack))
        return [self.head(dst=dst, src=src, opcode=Opcode.PUSH, length=1 + len(body),
                          info=info)] + body

    def exec(self, *, dst, src, m, n, k, dtype, a_addr, b_addr, c_addr, accumulate=False,
             tag=0, ack=True):
        body = self.lay.desc_flits("exec_desc", **self._exec_fields(
            m=m, n=n, k=k, dtype=dtype, a_addr=a_addr, b_addr=b_addr, c_addr=c_addr,
            accumulate=accumulate))
        info = self.lay.encode("ctl_info", tag=tag, ack=int(ack))
        return [self.head(dst=dst, src=src, opcode=Opcode.EXEC, length=1 + len(body),
                          info=info)] + body

    @staticmethod
    def _push_fields(*, src_addr, count, to, dst_addr, add=False, dtype=Dtype.INT32, sem=None):
        return {"src_addr": src_addr, "count": count, "dst_x": to[0], "dst_y": to[1],
                "dst_addr": dst_addr, "add": int(add), "dtype": dtype,
                "sem_inc": int(sem is not None), "sem": sem or 0}

    def _exec_fields(self, *, m, n, k, dtype, a_addr, b_addr, c_addr, accumulate=False):
        p = self.p
        return {"mode": _MODE[dtype], "accumulate": int(accumulate), "m_tiles": m // p,
                "n_tiles": n // p, "k_tiles": k // p, "a_addr": a_addr, "b_addr": b_addr,
                "c_addr": c_addr}

    # -- command processor (rtl/node/command_processor.py) ---------------------------------

    @property
    def cmd_lines(self):
        """SRAM lines of one descriptor."""
        return self.lay.cmd_lines

    def cmd(self, op, **args):
        """A command-processor descriptor as its ``cmd_lines`` SRAM lines: what
        :meth:`rtl.node.layouts.NodeLayouts.cmd` gives, encoded by :class:`LayoutCodec`."""
        op = op if isinstance(op, CmdOp) else (_CMD_OPS.get(op)
                                               or (CmdOp[op] if isinstance(op, str) else CmdOp(op)))
        bits = self._cmd_codec.encode({"op": op, "args": {op.name.lower(): args}})
        mask = (1 << self.width) - 1
        return [(bits >> (self.width * i)) & mask for i in range(self.lay.cmd_lines)]

    def cmd_push(self, *, src_step=0, dst_step=0, **kw):
        """A PUSH descriptor (the arguments of :meth:`push`, plus per-iteration steps)."""
        return self.cmd("PUSH", desc=self._push_fields(**kw), src_step=src_step,
                            dst_step=dst_step)

    def cmd_exec(self, *, a_step=0, b_step=0, c_step=0, **kw):
        """An EXEC descriptor (the arguments of :meth:`exec`, plus per-iteration steps)."""
        return self.cmd("EXEC", desc=self._exec_fields(**kw), a_step=a_step,
                            b_step=b_step, c_step=c_step)

    def cmd_pull(self, *, src, src_addr, count, dst_addr, sem, src_step=0, dst_step=0):
        """A PULL descriptor: ``count`` lines of node ``src`` at ``src_addr`` to the local
        ``dst_addr``; local semaphore ``sem`` counts its completion."""
        return self.cmd("PULL", src_x=src[0], src_y=src[1], src_addr=src_addr,
                            count=count, dst_addr=dst_addr, sem=sem, src_step=src_step,
                            dst_step=dst_step)

    def cmd_wait(self, sem, n=1):
        return self.cmd("WAIT", sem=sem, n=n)

    def cmd_signal(self, to, sem):
        return self.cmd("SIGNAL", dst_x=to[0], dst_y=to[1], sem=sem)

    def cmd_loop(self, count, body):
        """Run the next ``body`` descriptors ``count`` times."""
        return self.cmd("LOOP", count=count, body=body)

    def cmd_halt(self, code=0):
        return self.cmd("HALT", code=code)

    def program(self, descriptors):
        """Descriptors (each a list of lines) -> the lines of a program."""
        return [line for d in descriptors for line in d]

    def ctrl_line(self, start=None, abort=()):
        """The ``cmd_ctrl`` line: ``start`` ``{queue: pc}``, ``abort`` queues."""
        start = start or {}
        fields = {"start": sum(1 << q for q in start), "abort": sum(1 << q for q in abort)}
        fields.update({f"pc{q}": pc for q, pc in start.items()})
        return self.lay.encode("cmd_ctrl", **fields)

    def status(self, value):
        """A ``cmd_status<q>`` register -> ``{"state": CmdState, "code", "pc"}``."""
        d = self.lay.decode("cmd_status", value)
        return {"state": CmdState(d["state"]), "code": int(d["code"]), "pc": int(d["pc"])}

    def halt_queue(self, done):
        """The queue a DONE reports the end of, or None (a DONE of anything else)."""
        first = self.reg_addr("cmd_status0")
        if done.get("req_op") == Opcode.EXEC and first <= done.get("addr", -1) < first + QUEUES:
            return done["addr"] - first
        return None

    def decode_head(self, flit):
        """A head flit -> dict of fields: what ``fmt.decode_head`` gives (by
        :class:`FieldDecoder`)."""
        c = self._head.decode(flit)
        return {"dst": (c["dst_x"], c["dst_y"]), "src": (c["src_x"], c["src_y"]),
                "mclass": c["mclass"], "opcode": c["opcode"], "length": c["length"],
                "info": c["info"]}

    def decode(self, flits):
        """A received packet -> dict: head fields, ``resp`` info fields, ``data`` lines."""
        h = self.decode_head(flits[0])
        out = dict(h)
        info = None
        if h["opcode"] in (Opcode.READ_RESP, Opcode.DONE):
            info = self._info["resp_info"]
        elif h["opcode"] in (Opcode.WRITE, Opcode.ADD):
            info = self._info["store_info"]
        if info is not None:
            out.update(info[0].decode(h["info"] & info[1]))
        out["data"] = list(flits[1:])
        return out

    # -- SRAM matrix layouts ---------------------------------------------------------------

    @staticmethod
    def _bits(dtype):
        return 16 if dtype == "bf16" else 8

    def pack_elements(self, values, bits):
        """Unsigned element ints -> lines (little-endian in a line, padded with zeros)."""
        per = self.width // bits
        if bits in (8, 16, 32):
            # the same lines through numpy's bytes (a D1 step packs 10^8 elements)
            raw = (np.asarray(values, np.int64) & ((1 << bits) - 1)).astype(f"<u{bits // 8}")
            raw = np.concatenate([raw, np.zeros(-len(raw) % per, raw.dtype)]).tobytes()
            step = per * bits // 8
            return [int.from_bytes(raw[j:j + step], "little") for j in range(0, len(raw), step)]
        values = [int(v) & ((1 << bits) - 1) for v in values]
        values += [0] * (-len(values) % per)
        return [sum(v << (bits * i) for i, v in enumerate(values[j:j + per]))
                for j in range(0, len(values), per)]

    def unpack_elements(self, lines, bits, count):
        per = self.width // bits
        mask = (1 << bits) - 1
        out = [(int(line) >> (bits * i)) & mask for line in lines for i in range(per)]
        return out[:count]

    def _panels(self, mat, dtype):
        """Panels of P rows of ``mat`` (shape (R, K)), each column-major, padded to lines."""
        p, bits = self.p, self._bits(dtype)
        mat = np.asarray(mat)
        rows, k = mat.shape
        raw = mat.astype(np.uint16 if dtype == "bf16" else np.int8)
        raw = raw.view(np.uint16) if dtype == "bf16" else raw.view(np.uint8)
        lines = []
        for t in range(rows // p):
            panel = raw[t * p:(t + 1) * p, :].T.reshape(-1)        # element k*P + r
            lines += self.pack_elements(panel.tolist(), bits)
        return lines

    def pack_a(self, a, dtype):
        """A (M x K; uint16 bf16 patterns or int8) -> SRAM lines."""
        return self._panels(a, dtype)

    def pack_b(self, b, dtype):
        """B (K x N) -> SRAM lines (panels of B transposed)."""
        return self._panels(np.asarray(b).T, dtype)

    def pack_c(self, c):
        """C (M x N; uint32 fp32 patterns or int32) -> SRAM lines, tile-major."""
        p = self.p
        c = np.asarray(c).astype(np.uint32, copy=False) if np.asarray(c).dtype != np.int32 \
            else np.asarray(c).view(np.uint32)
        m, n = c.shape
        vals = []
        for ti in range(m // p):
            for tj in range(n // p):
                vals += c[ti * p:(ti + 1) * p, tj * p:(tj + 1) * p].reshape(-1).tolist()
        return self.pack_elements(vals, 32)

    def unpack_c(self, lines, m, n):
        """SRAM lines -> C as uint32 bit patterns (M x N)."""
        p = self.p
        vals = self.unpack_elements(lines, 32, m * n)
        c = np.zeros((m, n), np.uint32)
        i = 0
        for ti in range(m // p):
            for tj in range(n // p):
                c[ti * p:(ti + 1) * p, tj * p:(tj + 1) * p] = \
                    np.array(vals[i:i + p * p], np.uint32).reshape(p, p)
                i += p * p
        return c

    def gemm_layout(self, *, m, n, k, dtype, base=0):
        """SRAM addresses of A, B and C for one GEMM, packed from ``base``."""
        ext = self.geo.extent(m=m, n=n, k=k, mode=_MODE[dtype])
        a_addr = base
        b_addr = a_addr + ext["a"]
        c_addr = b_addr + ext["b"]
        end = c_addr + ext["c"]
        if end > self.lines:
            raise ValueError(f"a {m}x{n}x{k} {dtype} GEMM needs {end - base} SRAM lines, "
                             f"the node has {self.lines - base} from line {base}")
        return {"a": a_addr, "b": b_addr, "c": c_addr, "end": end, "a_lines": ext["a"],
                "b_lines": ext["b"], "c_lines": ext["c"]}

    @staticmethod
    def gemm_operands(g):
        """A and B of a ``gemm`` scenario entry (m, n, k, dtype, a, b as bit patterns)."""
        t = np.uint16 if g["dtype"] == "bf16" else np.int8
        return (np.array(g["a"], t).reshape(g["m"], g["k"]),
                np.array(g["b"], t).reshape(g["k"], g["n"]))

    @staticmethod
    def golden(a, b, c0, dtype):
        """C0 + A x B as uint32 bit patterns, per the contract."""
        if dtype == "bf16":
            return golden.gemm_bf16(a, b, c0)
        c0 = None if c0 is None else np.asarray(c0).astype(np.uint32).view(np.int32)
        return golden.gemm_int8(a, b, c0).view(np.uint32)

    # -- SRAM reference ------------------------------------------------------------------------

    def add_lines(self, old, new, dtype):
        """Lane-wise ADD of two lines (ints), as the NI does it."""
        return self.add_many([old], [new], dtype)[0]

    def add_many(self, olds, news, dtype):
        """:meth:`add_lines` of each pair of ``olds`` and ``news`` (one numpy step for all:
        the adds are lane-wise, so the same sums)."""
        lanes = (self.width // 32) * len(olds)
        o = np.array(self.unpack_elements(olds, 32, lanes), np.uint32)
        n = np.array(self.unpack_elements(news, 32, lanes), np.uint32)
        if Dtype(dtype) == Dtype.FP32:
            s = golden.fp32_add(o, n)
        else:
            s = (o.astype(np.uint64) + n.astype(np.uint64)) & 0xFFFFFFFF
        return self.pack_elements(s.tolist(), 32)
