"""Message layouts of the training node (the one source of truth).

The layouts are described in :mod:`rtl.node.ni` (message table, semantics).
This module holds them apart from the NI so that the NI's components
(:mod:`rtl.node.push_dma`, :mod:`rtl.node.response_writer`, ...) and the
golden model (:mod:`verif.node_model`) share them without importing the NI.
"""

from amaranth.hdl import Shape, Signal, signed
from amaranth.lib import data, enum

from rtl.net.packet import FlatCodec, Opcode, PacketFormat, enum_member
from rtl.node.mac import MacMode

__all__ = ["Dtype", "CmdOp", "CmdState", "CmdError", "NodeLayouts", "register_names",
           "request_vcs", "response_vcs", "head_flit", "TAG_BITS", "COUNT_BITS", "DIM_BITS",
           "REG_BITS", "QUEUES", "STEP_BITS", "HALT_CODE_MAX"]

TAG_BITS = 8
COUNT_BITS = 8
#: width of the tile counts of an EXEC descriptor
DIM_BITS = 8
REG_BITS = 32
#: command queues of a node's command processor (:mod:`rtl.node.command_processor`)
QUEUES = 2
#: width of a descriptor's signed per-iteration address step (lines)
STEP_BITS = 8
#: HALT codes are 0..127; a DONE tag with the top bit set reports an error or an abort
HALT_CODE_MAX = 127


class CmdOp(enum.Enum, shape=4):
    """Descriptor opcodes of the command processor (0 halts: a zeroed line stops a queue)."""
    HALT = 0
    PUSH = 1
    EXEC = 2
    WAIT = 3
    SIGNAL = 4
    LOOP = 5
    PULL = 6


class CmdState(enum.Enum, shape=3):
    """``state`` field of a queue's status register."""
    IDLE = 0
    RUNNING = 1
    WAITING = 2         # a WAIT whose semaphore is short
    HALTED = 3          # a HALT ran (``code``: its code)
    ERROR = 4           # a malformed descriptor (``code``: a :class:`CmdError`)
    ABORTED = 5


class CmdError(enum.IntEnum):
    """Why a queue stopped in the ERROR state (the status ``code``; the DONE tag is
    ``0x80 | code``)."""
    OPCODE = 1          # unknown opcode
    PUSH = 2            # PUSH/SIGNAL: lines outside the SRAM, destination outside the mesh
    EXEC = 3            # EXEC: the engine refuses the descriptor (shape, ranges)
    WAIT = 4            # WAIT of 0
    LOOP = 5            # LOOP of 0 iterations or 0 descriptors, or a LOOP inside a loop
    PC = 6              # the queue ran off the end of the SRAM
    ABORT = 7           # aborted by the host (state ABORTED)
    PULL = 8            # PULL: lines outside the SRAM, source outside the mesh, or one VC


class Dtype(enum.Enum, shape=1):
    """Lane format of an ADD (and of a PUSH sent as ADD)."""
    INT32 = 0
    FP32 = 1


#: the node's event counters (the last registers of the register space), counted since
#: reset for the energy model (gen/energy.py): flits sent by the router on each of its
#: outputs (``rtl.net.directions.PORTS`` order; local: to the NI), SRAM line reads (every
#: granted read on any port) and writes, and array steps (P*P MACs each) per dtype
COUNTER_NAMES = ("flits_local", "flits_north", "flits_east", "flits_south", "flits_west",
                 "sram_reads", "sram_writes", "mac_steps_bf16", "mac_steps_int8")


def register_names(sems):
    """Names of the register space, in index order (``cmd_ctrl`` is the one register a
    WRITE may target: it starts and aborts the command queues; it reads as 0;
    ``responses`` counts the response packets a node took, PULL answers included; the
    :data:`COUNTER_NAMES` come last)."""
    return ([f"sem{i}" for i in range(sems)]
            + ["errors", "responses", "execs", "exec_cycles", "exec_steps", "status",
               "cmd_ctrl"] + [f"cmd_status{q}" for q in range(QUEUES)] + list(COUNTER_NAMES))


def request_vcs(vcs):
    """VCs of the request class."""
    return list(range(max(1, vcs // 2)))


def response_vcs(vcs):
    """VCs of the response class (the request VC when there is only one)."""
    return list(range(vcs // 2, vcs)) if vcs >= 2 else [0]


class NodeLayouts:
    """Opcode-specific layouts of one node: the one source of truth.

    Parameters
    ----------
    fmt : PacketFormat
    lines : int
        SRAM lines of a node.
    sems : int
        Completion counters per node (a power of two, 1..16).
    counter_bits : int
        Width of a completion counter (2..32; 32 in every design, narrower only to
        test saturation in a few cycles).

    Attributes
    ----------
    addr_bits : int
        Width of an SRAM line address.
    space_bits : int
        ``addr_bits + 1``: an address with the register-space bit on top.
    store_info, read_info, ctl_info, resp_info : data.StructLayout
        ``info`` field layouts (see the module docstring).
    push_desc, exec_desc : data.StructLayout
        Descriptors carried in body flits.
    push_flits, exec_flits : int
        Body flits of a PUSH / EXEC.
    registers : list of str
        Register space, in index order.

    Raises
    ------
    ValueError
        If the head's ``info`` field cannot hold a layout, or ``sems`` is bad.
    """

    def __init__(self, *, fmt, lines, sems=4, counter_bits=REG_BITS):
        if not isinstance(fmt, PacketFormat):
            raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
        if sems not in (1, 2, 4, 8, 16):
            raise ValueError(f"sems must be a power of two in 1..16, not {sems!r}")
        if not isinstance(counter_bits, int) or not 2 <= counter_bits <= REG_BITS:
            raise ValueError(f"counter_bits must be an integer in 2..{REG_BITS}, "
                             f"not {counter_bits!r}")
        self.fmt, self.lines, self.sems = fmt, lines, sems
        self.counter_bits = counter_bits
        self.addr_bits = max(1, (lines - 1).bit_length())
        self.space_bits = self.addr_bits + 1
        self.registers = register_names(sems)
        sem_bits = max(1, (sems - 1).bit_length())
        info_bits = Shape.cast(fmt.head["info"].shape).width
        self.store_info = data.StructLayout({
            "addr": self.space_bits, "tag": TAG_BITS, "ack": 1, "sem_inc": 1, "sem": sem_bits,
            "dtype": Dtype})
        self.read_info = data.StructLayout({"addr": self.space_bits, "count": COUNT_BITS,
                                            "tag": TAG_BITS})
        self.ctl_info = data.StructLayout({"tag": TAG_BITS, "ack": 1})
        self.resp_info = data.StructLayout({"tag": TAG_BITS, "req_op": Opcode,
                                            "addr": self.space_bits})
        for name in ("store_info", "read_info", "ctl_info", "resp_info"):
            size = getattr(self, name).size
            if size > info_bits:
                raise ValueError(f"the head's info field ({info_bits} bits at flit_bits="
                                 f"{fmt.flit_bits}) cannot hold {name} ({size} bits)")
        cb = fmt.coord_bits
        self.push_desc = data.StructLayout({
            "src_addr": self.addr_bits, "count": COUNT_BITS, "dst_x": cb, "dst_y": cb,
            "dst_addr": self.addr_bits, "add": 1, "dtype": Dtype, "sem_inc": 1,
            "sem": sem_bits})
        self.exec_desc = data.StructLayout({
            "mode": MacMode, "accumulate": 1, "m_tiles": DIM_BITS, "n_tiles": DIM_BITS,
            "k_tiles": DIM_BITS, "a_addr": self.addr_bits, "b_addr": self.addr_bits,
            "c_addr": self.addr_bits})
        W = fmt.flit_bits
        self.push_flits = -(-self.push_desc.size // W)
        self.exec_flits = -(-self.exec_desc.size // W)
        self.info_bits = info_bits
        # command processor: a descriptor is an opcode and one of these argument layouts,
        # in ``cmd_lines`` SRAM lines (least significant bits in the first)
        step = data.StructLayout
        self.cmd_args = data.UnionLayout({
            "push": step({"desc": self.push_desc, "src_step": signed(STEP_BITS),
                          "dst_step": signed(STEP_BITS)}),
            "exec": step({"desc": self.exec_desc, "a_step": signed(STEP_BITS),
                          "b_step": signed(STEP_BITS), "c_step": signed(STEP_BITS)}),
            "wait": step({"sem": sem_bits, "n": COUNT_BITS}),
            "signal": step({"dst_x": cb, "dst_y": cb, "sem": sem_bits}),
            "pull": step({"src_x": cb, "src_y": cb, "src_addr": self.addr_bits,
                          "count": COUNT_BITS, "dst_addr": self.addr_bits, "sem": sem_bits,
                          "src_step": signed(STEP_BITS), "dst_step": signed(STEP_BITS)}),
            "loop": step({"count": COUNT_BITS, "body": COUNT_BITS}),
            "halt": step({"code": TAG_BITS}),
        })
        self.cmd_desc = data.StructLayout({"op": CmdOp, "args": self.cmd_args})
        self.cmd_lines = -(-self.cmd_desc.size // W)
        #: the ``cmd_ctrl`` register's line: start / abort bits and start addresses per queue
        self.cmd_ctrl = data.StructLayout({"start": QUEUES, "abort": QUEUES,
                                           **{f"pc{q}": self.addr_bits for q in range(QUEUES)}})
        #: a queue's status register
        self.cmd_status = data.StructLayout({"state": CmdState, "code": TAG_BITS,
                                             "pc": self.addr_bits})
        for name in ("cmd_ctrl", "cmd_status"):
            if getattr(self, name).size > min(W, REG_BITS):
                raise ValueError(f"{name} ({getattr(self, name).size} bits) does not fit a "
                                 f"{min(W, REG_BITS)}-bit register")

    @property
    def reg_base(self):
        """Space address of register 0."""
        return 1 << self.addr_bits

    # -- Python-side encoders/decoders -------------------------------------------

    def encode(self, layout, **fields):
        """Fields -> int, for the layout named ``layout`` (e.g. ``"store_info"``).
        Missing fields are zero."""
        lay = getattr(self, layout)
        # (name, enum or None) of each field, found once (iterating an Amaranth layout
        # makes its fields anew: most of an encode's time, and hosts encode every packet)
        named = self.__dict__.setdefault("_named_fields", {})
        if layout not in named:
            named[layout] = [(name, member.shape if isinstance(member.shape, type)
                              and issubclass(member.shape, enum.Enum) else None)
                             for name, member in lay]
        value = {}
        for name, enum_cls in named[layout]:
            v = fields.pop(name, 0)
            if enum_cls is not None:
                v = enum_member(enum_cls, v)
            value[name] = v
        if fields:
            raise KeyError(f"{layout} has no field(s) {sorted(fields)}")
        codec = self._codec(layout)
        return codec.encode(value) if codec else lay.const(value).as_value().value

    def decode(self, layout, bits):
        """int -> dict of the fields of ``layout`` (enums as enum members)."""
        codec = self._codec(layout)
        if codec:
            return codec.decode(bits)
        lay = getattr(self, layout)
        c = lay.from_bits(bits)
        return {name: getattr(c, name) for name, _ in lay}

    def _codec(self, layout):
        """The :class:`~rtl.net.packet.FlatCodec` of the layout named ``layout``, or
        ``None`` where it has a nested layout field (Amaranth's encoder serves those)."""
        codecs = self.__dict__.setdefault("_codecs", {})
        if layout not in codecs:
            try:
                codecs[layout] = FlatCodec(getattr(self, layout))
            except TypeError:
                codecs[layout] = None
        return codecs[layout]

    def desc_flits(self, layout, **fields):
        """A descriptor as its body flits (least significant bits first)."""
        value = self.encode(layout, **fields)
        n = getattr(self, layout.replace("_desc", "_flits"))
        W = self.fmt.flit_bits
        return [(value >> (W * i)) & ((1 << W) - 1) for i in range(n)]

    def cmd(self, op, **args):
        """A command-processor descriptor as its ``cmd_lines`` SRAM lines: ``op`` a
        :class:`CmdOp` (or its name) and the fields of its argument layout, e.g.
        ``cmd("WAIT", sem=0, n=1)``, ``cmd("PUSH", desc={...}, src_step=-2)``."""
        op = CmdOp[op] if isinstance(op, str) else CmdOp(op)
        key = op.name.lower()
        member = self.cmd_args[key].shape
        value = {"op": op, "args": {key: _const_fields(member, args)}}
        bits = self.cmd_desc.const(value).as_value().value
        W = self.fmt.flit_bits
        return [(bits >> (W * i)) & ((1 << W) - 1) for i in range(self.cmd_lines)]



def _const_fields(layout, fields):
    """``fields`` (nested dicts, enum names or values) checked against ``layout``."""
    unknown = set(fields) - {name for name, _ in layout}
    if unknown:
        raise KeyError(f"no field(s) {sorted(unknown)} (allowed: "
                       f"{', '.join(name for name, _ in layout)})")
    out = {}
    for name, member in layout:
        v = fields.get(name, 0)
        shape = member.shape
        if isinstance(shape, data.Layout):
            v = _const_fields(shape, v or {})
        elif isinstance(shape, type) and issubclass(shape, enum.Enum):
            v = shape[v] if isinstance(v, str) else shape(v)
        out[name] = v
    return out


def head_flit(m, fmt, *, src_x, src_y, dst_x, dst_y, mclass, opcode, length, info):
    """A head flit of ``fmt`` driven combinationally in ``m`` (a ``fmt.head`` view)."""
    h = Signal(fmt.head)
    m.d.comb += [h.dst_x.eq(dst_x), h.dst_y.eq(dst_y), h.src_x.eq(src_x),
                 h.src_y.eq(src_y), h.mclass.eq(mclass), h.opcode.eq(opcode),
                 h.length.eq(length), h.info.eq(info)]
    return h
