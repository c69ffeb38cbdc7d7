"""Network interface of a training node (DESIGN.md sections 5 and 6).

The NI sits on the router's local port. It sinks requests into the SRAM
scratchpad, answers them, runs block DMA pushes and hands matrix operations
to the engine.

Message layouts
---------------
Every opcode-specific field lives in a ``data.StructLayout`` of
:class:`NodeLayouts` (the one source of truth; :mod:`verif.node_model` derives
its encoders from it). Addresses are *space* addresses of ``addr_bits + 1``
bits: the top bit selects the register space (0: SRAM line, 1: register
index, see :data:`REGISTERS`).

===========  ======================================================  =========================
opcode       head ``info``                                           body flits
===========  ======================================================  =========================
WRITE        ``store_info``: addr, tag, ack, sem_inc, sem, dtype      one SRAM line each
ADD          ``store_info`` (``dtype``: INT32 or FP32 lanes)          one line each, added lane-wise
READ         ``read_info``: addr, count, tag                          none (length 1)
PUSH         ``ctl_info``: tag, ack                                   ``push_desc`` (``push_flits``)
EXEC         ``ctl_info``: tag, ack                                   ``exec_desc`` (``exec_flits``)
READ_RESP    ``resp_info``: tag, req_op READ, addr                    ``count`` lines
DONE         ``resp_info``: tag, req_op (the request), addr          none
===========  ======================================================  =========================

Descriptors that do not fit the head travel in body flits (least significant
bits in the first body flit), so the format scales to any flit width.

Semantics
---------
* WRITE/ADD of ``length - 1`` lines at ``addr``, ``addr + 1``...; with
  ``sem_inc`` the completion counter ``sem`` is incremented once the last
  line is accepted (a poller that reads the counter and then the data sees
  the data); with ``ack`` a DONE goes back to the source.
* ADD: a pipelined read-modify-write (read, add, write: 3 stages) at one
  flit per cycle; the value being written is forwarded to a flit that reads
  the same line (back-to-back flits to one line are exact). FP32 lanes add with
  :class:`rtl.node.fp.Fp32Adder` (round to nearest even, flush to zero, canonical
  NaN); INT32 lanes wrap.
* READ of ``count`` (1..max_packet_flits-1) lines or registers: a READ_RESP
  with the data (registers zero-extended), on the response class.
* PUSH: the DMA reads ``count`` (1..255) lines at ``src_addr`` and sends them
  to node ``(dst_x, dst_y)`` at ``dst_addr`` as WRITE (``add=0``) or ADD
  packets of at most ``max_packet_flits - 1`` lines; the last packet carries
  ``sem_inc``/``sem`` for the remote counter. DONE (``ack``) when the last flit
  has left the NI; delivery is observed on the remote counter. One PUSH at a
  time: a second waits for the first (and its DONE) to finish.
* EXEC: starts the matrix engine on ``exec_desc`` (see :mod:`rtl.node.engine`);
  DONE (``ack``) when C is written back. A second EXEC waits.

Malformed requests are dropped whole and counted in the ``errors`` register:
an unknown or response opcode on a request VC, a class/VC mismatch, a length
that disagrees with the opcode, the ``length`` field or the tail, a packet
longer than ``max_packet_flits`` (or than the input buffer), an address range
outside the SRAM or register space, a READ count of 0 or too many, an invalid
PUSH or EXEC descriptor. Whole-packet dropping is possible because the input
buffer is store-and-forward: a packet is processed only once its tail is in
(the length check happens as flits arrive).

Message classes and VCs
-----------------------
With ``vcs >= 2`` requests use VCs ``[0, vcs//2)`` and responses
``[vcs//2, vcs)``; the NI injects requests on VC 0 and responses on VC
``vcs//2``. Responses arriving at a node are always drained (counted in the
``responses`` register), independently of request processing, so a node
waiting for a response credit never blocks the requests that would drain it.
With one VC both classes share it and that guarantee is lost (documented).

Registers (read-only; READ with the register-space bit set)
------------------------------------------------------------
``sem0..sem{n-1}`` completion counters, ``errors``, ``responses``, ``execs``
(completed EXECs), ``exec_cycles`` and ``exec_steps`` (busy cycles and MAC
steps of the last EXEC), ``status`` (bit 0 engine busy, bit 1 DMA busy,
bit 2 input overflow). 32 bits each.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.net.arbiter import RoundRobinArbiter
from rtl.node.fp import Fp32Adder
from rtl.net.link import LinkSignature, check_vcs
from rtl.node.mac import MacMode
from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.sram import ReadPortSignature, WritePortSignature

__all__ = ["Dtype", "NodeLayouts", "NetworkInterface", "register_names", "request_vcs",
           "response_vcs", "TAG_BITS", "COUNT_BITS", "DIM_BITS"]

TAG_BITS = 8
COUNT_BITS = 8
#: width of the tile counts of an EXEC descriptor
DIM_BITS = 8
REG_BITS = 32


class Dtype(enum.Enum, shape=1):
    """Lane format of an ADD (and of a PUSH sent as ADD)."""
    INT32 = 0
    FP32 = 1


def register_names(sems):
    """Names of the register space, in index order."""
    return [f"sem{i}" for i in range(sems)] + ["errors", "responses", "execs", "exec_cycles",
                                                "exec_steps", "status"]


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

    def __init__(self, *, fmt, lines, sems=4):
        if not isinstance(fmt, PacketFormat):
            raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
        if sems not in (1, 2, 4, 8, 16):
            raise ValueError(f"sems must be a power of two in 1..16, not {sems!r}")
        self.fmt, self.lines, self.sems = fmt, lines, sems
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

    @property
    def reg_base(self):
        """Space address of register 0."""
        return 1 << self.addr_bits

    # -- Python-side encoders/decoders -------------------------------------------

    def encode(self, layout, **fields):
        """Fields -> int, for the layout named ``layout`` (e.g. ``"store_info"``).
        Missing fields are zero."""
        lay = getattr(self, layout)
        value = {}
        for name, member in lay:
            v = fields.pop(name, 0)
            shape = member.shape
            if isinstance(shape, type) and issubclass(shape, enum.Enum):
                v = shape(v)
            value[name] = v
        if fields:
            raise KeyError(f"{layout} has no field(s) {sorted(fields)}")
        return lay.const(value).as_value().value

    def decode(self, layout, bits):
        """int -> dict of the fields of ``layout`` (enums as enum members)."""
        lay = getattr(self, layout)
        c = lay.from_bits(bits)
        return {name: getattr(c, name) for name, _ in lay}

    def desc_flits(self, layout, **fields):
        """A descriptor as its body flits (least significant bits first)."""
        value = self.encode(layout, **fields)
        n = getattr(self, layout.replace("_desc", "_flits"))
        W = self.fmt.flit_bits
        return [(value >> (W * i)) & ((1 << W) - 1) for i in range(n)]


class _RxQueue(wiring.Component):
    """One input VC of the NI: a store-and-forward flit FIFO with length checking.

    Flits are cut into *segments*: a segment ends at a tail or when it fills
    the FIFO (a packet too long to store). A segment is *ready* when it is
    completely in the FIFO; ``bad`` tells whether it is a whole packet whose
    tail came exactly at its head's ``length`` (else it must be dropped).

    Members
    -------
    valid, last, data : In
        The arriving flit (the sender holds a credit, so the FIFO has room).
    ready : Out(1)
        A complete segment is at the head of the FIFO.
    nonempty : Out(1)
        At least one flit is stored.
    head, head_last, head_end, bad : Out
        The flit at the head of the FIFO (combinational), its ``last`` and
        end-of-segment bits, and the ``bad`` bit of its segment.
    pop : In(1)
        Remove the head flit.
    overflow : Out(1)
        A flit arrived while the FIFO was full (credit protocol broken); sticky.
    """

    def __init__(self, *, fmt, depth):
        self._fmt, self._depth = fmt, depth
        W = fmt.flit_bits
        super().__init__({"valid": In(1), "last": In(1), "data": In(W),
                          "ready": Out(1), "nonempty": Out(1), "head": Out(W),
                          "head_last": Out(1), "head_end": Out(1), "bad": Out(1),
                          "pop": In(1), "overflow": Out(1), "level": Out(range(depth + 1))})

    def elaborate(self, platform):
        m = Module()
        D, W = self._depth, self._fmt.flit_bits

        def step(ptr):
            return Mux(ptr == D - 1, 0, ptr + 1)

        m.submodules.mem = mem = Memory(shape=W + 2, depth=D, init=[])
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")
        count = Signal(range(D + 1))
        rptr, wptr = Signal(range(D)), Signal(range(D))
        # segment status FIFO: one bad bit per complete segment
        sbad = Signal(D)
        scount = Signal(range(D + 1))
        srptr, swptr = Signal(range(D)), Signal(range(D))
        # arrival-side segmenting and length check
        segcnt = Signal(range(D + 1))
        hlen = Signal(8)
        in_cont = Signal()

        full = count == D
        write = Signal()
        m.d.comb += write.eq(self.valid & ~full)
        with m.If(self.valid & full):
            m.d.sync += self.overflow.eq(1)
        first = segcnt == 0
        length = self._fmt.head(self.data).length
        hl = Mux(first, length, hlen)
        seg_end = Signal()
        bad = Signal()
        m.d.comb += [
            seg_end.eq(self.last | (segcnt == D - 1)),
            bad.eq(in_cont | ~self.last | (segcnt + 1 != hl)),
            wr.en.eq(write), wr.addr.eq(wptr), wr.data.eq(Cat(self.data, self.last, seg_end)),
            rd.addr.eq(rptr),
            self.head.eq(rd.data[:W]), self.head_last.eq(rd.data[W]),
            self.head_end.eq(rd.data[W + 1]),
            self.nonempty.eq(count != 0),
            self.level.eq(count),
            self.ready.eq(scount != 0),
            self.bad.eq(sbad.bit_select(srptr, 1)),
        ]
        with m.If(write):
            m.d.sync += wptr.eq(step(wptr))
            with m.If(first & ~in_cont):
                m.d.sync += hlen.eq(length)
            with m.If(seg_end):
                m.d.sync += [segcnt.eq(0), in_cont.eq(~self.last),
                             sbad.bit_select(swptr, 1).eq(bad), swptr.eq(step(swptr))]
            with m.Else():
                m.d.sync += segcnt.eq(segcnt + 1)
        pop = Signal()
        m.d.comb += pop.eq(self.pop & (count != 0))
        with m.If(pop):
            m.d.sync += rptr.eq(step(rptr))
        with m.If(write & ~pop):
            m.d.sync += count.eq(count + 1)
        with m.Elif(pop & ~write):
            m.d.sync += count.eq(count - 1)
        spush = write & seg_end
        spop = pop & self.head_end
        with m.If(spop):
            m.d.sync += srptr.eq(step(srptr))
        with m.If(spush & ~spop):
            m.d.sync += scount.eq(scount + 1)
        with m.Elif(spop & ~spush):
            m.d.sync += scount.eq(scount - 1)
        return m


class NetworkInterface(wiring.Component):
    """Packetizer/depacketizer between the router's local port, the SRAM and the engine.

    Parameters
    ----------
    layouts : NodeLayouts
        Message layouts (also fixes ``fmt``, ``lines`` and the counters).
    vcs : int
        Virtual channels, 1..4.
    credits : int
        Depth per VC of the router's local input buffer (initial credits).
    max_packet_flits : int
        Longest packet the NI accepts or sends (2..255).
    mesh_x, mesh_y : int
        Global mesh size (PUSH destinations must lie inside).

    Attributes
    ----------
    depth : int
        Input buffer depth per VC (``max_packet_flits + 3``: a whole packet
        plus the credit round trip, at least ``credits``). The router still sees
        ``credits`` slots: a credit is returned as soon as the free space covers
        every credit the router may hold, so one router parameter serves all
        its outputs.

    Members
    -------
    x, y : In(coord_bits)
        Own global coordinates (source of everything sent).
    to_router : Out(LinkSignature)
        To the router's ``in_local``; registered, credit-honouring.
    from_router : In(LinkSignature)
        From the router's ``out_local`` (whose counters start at ``credits``);
        ``credit`` is a registered pulse, at the earliest the cycle after the
        flit arrived (see :attr:`depth`).
    sram_rx : Out(ReadPortSignature)
        Read port for ADD and READ (client 0 of SRAM read port 0: always granted).
    sram_dma : Out(ReadPortSignature)
        Read port for PUSH (client 0 of SRAM read port 1).
    sram_wr : Out(WritePortSignature)
        Write port for WRITE and ADD (client 0 of the SRAM write port).
    exec_desc : Out(layouts.exec_desc)
        Descriptor of the EXEC being started (held until the next PUSH/EXEC).
    exec_ok : In(1)
        The engine accepts ``exec_desc`` (combinational).
    exec_start : Out(1)
        One-cycle pulse: start the engine.
    exec_busy, exec_done : In(1)
        Engine busy; one-cycle pulse when an operation has completed.
    exec_cycles, exec_steps : In(32)
        Engine measurements (exposed as registers).
    errors : Out(32)
        The ``errors`` register (malformed requests dropped).
    status : Out(32)
        The ``status`` register.
    """

    def __init__(self, *, layouts, vcs, credits, max_packet_flits, mesh_x, mesh_y):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        check_vcs(vcs)
        if not isinstance(credits, int) or credits < 1:
            raise ValueError(f"credits must be a positive integer, not {credits!r}")
        if not isinstance(max_packet_flits, int) or not 2 <= max_packet_flits <= 255:
            raise ValueError(f"max_packet_flits must be an integer in 2..255, "
                             f"not {max_packet_flits!r}")
        if layouts.fmt.flit_bits % 32:
            raise ValueError(f"flit_bits must be a multiple of 32 (32-bit ADD lanes), "
                             f"not {layouts.fmt.flit_bits}")
        self._lay, self._vcs, self._credits = layouts, vcs, credits
        self._max_len = max_packet_flits
        self._mesh = (mesh_x, mesh_y)
        self.depth = max(max_packet_flits + 3, credits)
        fmt = layouts.fmt
        link = LinkSignature(flit_bits=fmt.flit_bits, vcs=vcs)
        rsig = ReadPortSignature(addr_bits=layouts.addr_bits, width=fmt.flit_bits)
        wsig = WritePortSignature(addr_bits=layouts.addr_bits, width=fmt.flit_bits)
        super().__init__({
            "x": In(fmt.coord_bits), "y": In(fmt.coord_bits),
            "to_router": Out(link), "from_router": In(link),
            "sram_rx": Out(rsig), "sram_dma": Out(rsig), "sram_wr": Out(wsig),
            "exec_desc": Out(layouts.exec_desc), "exec_ok": In(1), "exec_start": Out(1),
            "exec_busy": In(1), "exec_done": In(1),
            "exec_cycles": In(32), "exec_steps": In(32),
            "errors": Out(32), "status": Out(32),
        })

    layouts = property(lambda self: self._lay)
    vcs = property(lambda self: self._vcs)

    def elaborate(self, platform):
        m = Module()
        lay, fmt, V = self._lay, self._lay.fmt, self._vcs
        W = fmt.flit_bits
        lines = lay.lines
        max_len = self._max_len
        req_vcs, resp_vcs = request_vcs(V), response_vcs(V)
        req_vc, resp_vc = req_vcs[0], resp_vcs[0]
        regs = lay.registers
        n_regs = len(regs)

        def head_flit(*, dst_x, dst_y, mclass, opcode, length, info):
            h = Signal(fmt.head)
            m.d.comb += [h.dst_x.eq(dst_x), h.dst_y.eq(dst_y), h.src_x.eq(self.x),
                         h.src_y.eq(self.y), h.mclass.eq(mclass), h.opcode.eq(opcode),
                         h.length.eq(length), h.info.eq(info)]
            return h

        # -- input queues ---------------------------------------------------------
        queues = []
        overflow = Signal()
        for v in range(V):
            q = _RxQueue(fmt=fmt, depth=self.depth)
            m.submodules[f"rxq{v}"] = q
            fr = self.from_router
            m.d.comb += [q.valid.eq(fr.valid & (fr.vc == v)), q.last.eq(fr.last),
                         q.data.eq(fr.data)]
            queues.append(q)
        m.d.comb += overflow.eq(Cat(q.overflow for q in queues).any())
        pops = [Signal(name=f"pop{v}") for v in range(V)]
        for v, q in enumerate(queues):
            m.d.comb += q.pop.eq(pops[v])
        # Credits: the router's counters start at ``credits`` (its buffer depth),
        # smaller than this buffer. A credit is owed for every flit received and
        # returned as soon as the free space still covers every credit the router
        # may hold: level' + (credits - owed') <= depth after the return.
        C, D = self._credits, self.depth
        rets = []
        for v, q in enumerate(queues):
            owed = Signal(range(C + 1), name=f"owed{v}")
            arrive = q.valid
            popped = pops[v] & q.nonempty
            ret = Signal(name=f"ret{v}")
            m.d.comb += ret.eq(((owed != 0) | arrive)
                               & (q.level - popped + C - owed + 1 <= D))
            m.d.sync += owed.eq(owed + arrive - ret)
            rets.append(ret)
        m.d.sync += self.from_router.credit.eq(Cat(rets))

        # -- registers ----------------------------------------------------------------
        sems = [Signal(REG_BITS, name=f"sem{i}") for i in range(lay.sems)]
        errors = Signal(REG_BITS)
        responses = Signal(REG_BITS)
        execs = Signal(REG_BITS)
        dma_busy = Signal()
        status = Signal(REG_BITS)
        m.d.comb += [status.eq(Cat(self.exec_busy, dma_busy, overflow)),
                     self.errors.eq(errors), self.status.eq(status)]
        reg_values = sems + [errors, responses, execs, self.exec_cycles, self.exec_steps, status]
        assert len(reg_values) == n_regs
        with m.If(self.exec_done):
            m.d.sync += execs.eq(execs + 1)

        # response drain (response VCs; with one VC the RX FSM does it)
        drained = []
        if V >= 2:
            for v in resp_vcs:
                q = queues[v]
                m.d.comb += pops[v].eq(q.nonempty)
                drained.append(q.nonempty & q.head_last)
        n_drained = Signal(range(len(drained) + 2))
        m.d.comb += n_drained.eq(sum((d for d in drained), Const(0, 3)))

        # -- output: two flit channels, credit counters, link register ------------------
        m.submodules.req_q = req_q = SyncFIFO(width=W + 1, depth=4)
        m.submodules.resp_q = resp_q = SyncFIFO(width=W + 1, depth=4)
        cnt = [Signal(range(self._credits + 1), init=self._credits, name=f"credits{v}")
               for v in range(V)]
        chans = [(req_q, req_vc), (resp_q, resp_vc)]
        cand = [Signal(name="tx_req_cand"), Signal(name="tx_resp_cand")]
        lock = Signal(2)         # one VC only: channel owning it mid-packet
        for i, (q, vc) in enumerate(chans):
            ok = q.r_rdy & (cnt[vc] != 0)
            if req_vc == resp_vc:
                ok = ok & ((lock == 0) | lock[i])
            m.d.comb += cand[i].eq(ok)
        m.submodules.tx_arb = tx_arb = RoundRobinArbiter(n=2)
        m.d.comb += [tx_arb.requests.eq(Cat(cand)), tx_arb.advance.eq(1)]
        g = tx_arb.grant
        out = self.to_router
        sent = [Signal(name=f"sent{v}") for v in range(V)]
        tx_data = Mux(g[1], resp_q.r_data, req_q.r_data)
        m.d.comb += [req_q.r_en.eq(g[0]), resp_q.r_en.eq(g[1])]
        m.d.sync += [out.valid.eq(g.any()), out.data.eq(tx_data[:W]), out.last.eq(tx_data[W]),
                     out.vc.eq(Mux(g[1], resp_vc, req_vc))]
        for v in range(V):
            s = (g[0] if v == req_vc else 0) | (g[1] if v == resp_vc else 0)
            m.d.comb += sent[v].eq(s)
            with m.If(sent[v] & ~out.credit[v]):
                m.d.sync += cnt[v].eq(cnt[v] - 1)
            with m.Elif(out.credit[v] & ~sent[v]):
                m.d.sync += cnt[v].eq(cnt[v] + 1)
        if req_vc == resp_vc:
            with m.If(g.any()):
                m.d.sync += lock.eq(Mux(tx_data[W], 0, g))

        # -- sink pipeline: WRITE and ADD (stage 0 = the pop cycle) -----------------------
        lanes = W // 32
        v0, add0, f0 = Signal(), Signal(), Signal()        # f: fp32 lanes
        a0, d0 = Signal(lay.addr_bits), Signal(W)
        v1, add1, f1 = Signal(), Signal(), Signal()
        a1, d1 = Signal(lay.addr_bits), Signal(W)
        v2, f2 = Signal(), Signal()
        a2, r2i = Signal(lay.addr_bits), Signal(W)          # int sum or stored data
        res2 = Signal(W)
        m.d.sync += [v1.eq(v0), add1.eq(add0), f1.eq(f0), a1.eq(a0), d1.eq(d0),
                     v2.eq(v1), f2.eq(f1 & add1), a2.eq(a1)]
        old = Signal(W)
        m.d.comb += old.eq(Mux(v2 & (a2 == a1), res2, self.sram_rx.data))
        fp_sum = []
        int_sum = []
        for i in range(lanes):
            m.submodules[f"add_lane{i}"] = fa = Fp32Adder(stages=1)
            m.d.comb += [fa.a.eq(old[32 * i:32 * i + 32]), fa.b.eq(d1[32 * i:32 * i + 32])]
            fp_sum.append(fa.o)
            int_sum.append((old[32 * i:32 * i + 32] + d1[32 * i:32 * i + 32])[:32])
        m.d.sync += r2i.eq(Mux(add1, Cat(int_sum), d1))
        m.d.comb += [res2.eq(Mux(f2, Cat(fp_sum), r2i)),
                     self.sram_wr.en.eq(v2), self.sram_wr.addr.eq(a2),
                     self.sram_wr.data.eq(res2)]

        # -- DONE sources: one pending slot each -------------------------------------
        # (valid, dst_x, dst_y, tag, opcode, addr)
        def done_slot(name):
            return {"pending": Signal(name=f"{name}_done"), "x": Signal(fmt.coord_bits, name=f"{name}_x"),
                    "y": Signal(fmt.coord_bits, name=f"{name}_y"),
                    "tag": Signal(TAG_BITS, name=f"{name}_tag"),
                    "opcode": Signal(Opcode, name=f"{name}_op"),
                    "addr": Signal(lay.space_bits, name=f"{name}_addr")}
        rx_done, dma_done, eng_done = done_slot("rx"), done_slot("dma"), done_slot("eng")

        # -- DMA registers (loaded by the RX CHECK state of a PUSH) ---------------------
        dma_start = Signal()
        d_src, d_dst = Signal(lay.addr_bits), Signal(lay.addr_bits)
        d_left = Signal(COUNT_BITS)              # lines still to packetize
        d_chunk = Signal(COUNT_BITS)             # lines of this packet still to read
        d_x, d_y = Signal(fmt.coord_bits), Signal(fmt.coord_bits)
        d_add, d_dtype, d_sem_inc = Signal(), Signal(Dtype), Signal()
        d_sem = Signal(range(lay.sems))
        d_ack = Signal()

        # -- RX: request processing --------------------------------------------------
        rx_vcs = req_vcs if V >= 2 else [0]
        n_rx = len(rx_vcs)
        m.submodules.rx_arb = rx_arb = RoundRobinArbiter(n=n_rx)
        rx_go = Signal()            # a head is taken this cycle
        m.d.comb += [rx_arb.requests.eq(Cat(queues[v].ready for v in rx_vcs)),
                     rx_arb.advance.eq(rx_go)]
        cur = Signal(range(V))      # VC of the packet being processed
        sel_vc = Signal(range(V))
        sel_head = Signal(W)
        sel_end = Signal()
        sel_bad = Signal()
        for i, v in enumerate(rx_vcs):
            with m.If(rx_arb.grant[i]):
                m.d.comb += [sel_head.eq(queues[v].head), sel_end.eq(queues[v].head_end),
                             sel_bad.eq(queues[v].bad), sel_vc.eq(v)]
        cur_head = Signal(W)        # the flit at the head of VC ``cur``
        cur_end = Signal()
        cur_last = Signal()
        for v in rx_vcs:
            with m.If(cur == v):
                m.d.comb += [cur_head.eq(queues[v].head), cur_end.eq(queues[v].head_end),
                             cur_last.eq(queues[v].head_last)]
        rx_pop_sel = Signal()       # pop the selected VC's head (IDLE)
        rx_pop_cur = Signal()       # pop VC ``cur``'s head (later states)
        for i, v in enumerate(rx_vcs):
            m.d.comb += pops[v].eq((rx_pop_sel & rx_arb.grant[i]) | (rx_pop_cur & (cur == v)))

        h = fmt.head(sel_head)
        si = lay.store_info(h.info[:lay.store_info.size])
        ri = lay.read_info(h.info[:lay.read_info.size])
        ci = lay.ctl_info(h.info[:lay.ctl_info.size])
        length = h.length
        A = lay.addr_bits

        def in_sram(addr):
            return ~addr[A]

        def low(addr):
            return addr[:A]

        body = Signal(9)
        m.d.comb += body.eq(length - 1)
        ok_common = ~sel_bad & (length <= max_len) & (h.mclass == MsgClass.REQUEST)
        is_resp = (h.mclass == MsgClass.RESPONSE) if V == 1 else Const(0)
        store_ok = in_sram(si.addr) & (low(si.addr) + body <= lines)
        read_sram_ok = in_sram(ri.addr) & (low(ri.addr) + ri.count <= lines)
        read_reg_ok = ~in_sram(ri.addr) & (low(ri.addr) + ri.count <= n_regs)
        read_ok = (length == 1) & (ri.count >= 1) & (ri.count <= max_len - 1) \
            & (read_sram_ok | read_reg_ok)
        op = h.opcode
        is_store = ok_common & ((op == Opcode.WRITE) | (op == Opcode.ADD)) & store_ok
        is_read = ok_common & (op == Opcode.READ) & read_ok
        is_ctl = ok_common & (((op == Opcode.PUSH) & (length == 1 + lay.push_flits))
                              | ((op == Opcode.EXEC) & (length == 1 + lay.exec_flits)))

        # latched request state
        r_src_x, r_src_y = Signal(fmt.coord_bits), Signal(fmt.coord_bits)
        r_tag = Signal(TAG_BITS)
        r_ack = Signal()
        r_op = Signal(Opcode)
        r_addr = Signal(lay.space_bits)
        r_start = Signal(lay.space_bits)
        r_add, r_fp = Signal(), Signal()
        r_sem_inc = Signal()
        r_sem = Signal(range(lay.sems))
        r_left = Signal(COUNT_BITS)
        r_pending, r_pend_last, r_pend_reg = Signal(), Signal(), Signal()
        desc_words = max(lay.push_flits, lay.exec_flits)
        desc = Signal(desc_words * W)
        desc_i = Signal(range(desc_words + 1))
        m.d.comb += self.exec_desc.eq(desc[:lay.exec_desc.size])

        rx_resp_we = Signal()
        rx_resp_data = Signal(W + 1)
        error_now = Signal()
        sem_now = Signal()
        sem_idx = Signal(range(lay.sems))
        resp_now = Signal()                 # one VC: a response drained by RX
        with m.If(error_now):
            m.d.sync += errors.eq(errors + 1)
        m.d.sync += responses.eq(responses + n_drained + resp_now)
        for i, s in enumerate(sems):
            with m.If(sem_now & (sem_idx == i)):
                m.d.sync += s.eq(s + 1)

        # register-space reads, aligned with the SRAM's one-cycle latency
        reg_q = Signal(REG_BITS)
        with m.Switch(low(r_addr)):
            for i, val in enumerate(reg_values):
                with m.Case(i):
                    m.d.sync += reg_q.eq(val)

        def set_done(slot, *, x, y, tag, opcode, addr=0):
            m.d.sync += [slot["pending"].eq(1), slot["x"].eq(x), slot["y"].eq(y),
                         slot["tag"].eq(tag), slot["opcode"].eq(opcode), slot["addr"].eq(addr)]

        drain_resp = Signal()           # one VC: the packet being drained is a response
        with m.FSM(name="rx") as rx_fsm:
            with m.State("IDLE"):
                with m.If(rx_arb.grant.any() & ~rx_done["pending"]):
                    m.d.sync += [cur.eq(sel_vc), r_src_x.eq(h.src_x), r_src_y.eq(h.src_y),
                                 r_op.eq(op), drain_resp.eq(is_resp)]
                    with m.If(is_read):
                        # the response head goes out now; wait for room
                        with m.If(resp_q.w_rdy):
                            rinfo = Signal(lay.resp_info)
                            m.d.comb += [rinfo.tag.eq(ri.tag), rinfo.req_op.eq(Opcode.READ),
                                         rinfo.addr.eq(ri.addr)]
                            rh = head_flit(dst_x=h.src_x, dst_y=h.src_y, mclass=MsgClass.RESPONSE,
                                           opcode=Opcode.READ_RESP, length=ri.count + 1,
                                           info=rinfo.as_value())
                            m.d.comb += [rx_go.eq(1), rx_pop_sel.eq(1), rx_resp_we.eq(1),
                                         rx_resp_data.eq(Cat(rh.as_value(), Const(0, 1)))]
                            m.d.sync += [r_addr.eq(ri.addr), r_left.eq(ri.count),
                                         r_pending.eq(0)]
                            m.next = "READ"
                    with m.Else():
                        m.d.comb += [rx_go.eq(1), rx_pop_sel.eq(1)]
                        with m.If(is_resp):
                            # one VC: responses are drained (and counted) here
                            m.d.comb += resp_now.eq(sel_end)
                            with m.If(~sel_end):
                                m.next = "DRAIN"
                        with m.Elif(is_store):
                            m.d.sync += [r_tag.eq(si.tag), r_ack.eq(si.ack), r_addr.eq(si.addr),
                                         r_start.eq(si.addr), r_add.eq(op == Opcode.ADD),
                                         r_fp.eq(si.dtype == Dtype.FP32),
                                         r_sem_inc.eq(si.sem_inc), r_sem.eq(si.sem)]
                            with m.If(sel_end):         # no body: completion only
                                m.d.comb += [sem_now.eq(si.sem_inc), sem_idx.eq(si.sem)]
                                with m.If(si.ack):
                                    set_done(rx_done, x=h.src_x, y=h.src_y, tag=si.tag,
                                             opcode=op, addr=si.addr)
                            with m.Else():
                                m.next = "BODY"
                        with m.Elif(is_ctl):
                            m.d.sync += [r_tag.eq(ci.tag), r_ack.eq(ci.ack), desc_i.eq(0)]
                            m.next = "DESC"
                        with m.Else():
                            m.d.comb += error_now.eq(1)
                            with m.If(~sel_end):
                                m.next = "DRAIN"

            with m.State("BODY"):
                # the whole packet is buffered: one flit per cycle
                m.d.comb += [rx_pop_cur.eq(1), v0.eq(1), add0.eq(r_add), f0.eq(r_fp),
                             a0.eq(low(r_addr)), d0.eq(cur_head),
                             self.sram_rx.en.eq(r_add), self.sram_rx.addr.eq(low(r_addr))]
                m.d.sync += r_addr.eq(r_addr + 1)
                with m.If(cur_end):
                    m.d.comb += [sem_now.eq(r_sem_inc), sem_idx.eq(r_sem)]
                    with m.If(r_ack):
                        set_done(rx_done, x=r_src_x, y=r_src_y, tag=r_tag, opcode=r_op,
                                 addr=r_start)
                    m.next = "IDLE"

            with m.State("READ"):
                reg_space = ~in_sram(r_addr)
                with m.If(r_pending):
                    # the space of the line issued last cycle: r_addr has moved on (after
                    # the last SRAM line it already points into the register space)
                    m.d.comb += [rx_resp_we.eq(1),
                                 rx_resp_data.eq(Cat(Mux(r_pend_reg, reg_q, self.sram_rx.data),
                                                     r_pend_last))]
                # issue ahead only as far as the response queue has room
                can = (r_left != 0) & (resp_q.w_level + r_pending < resp_q.depth)
                m.d.sync += r_pending.eq(can)
                with m.If(can):
                    m.d.comb += [self.sram_rx.en.eq(~reg_space),
                                 self.sram_rx.addr.eq(low(r_addr))]
                    m.d.sync += [r_left.eq(r_left - 1), r_pend_last.eq(r_left == 1),
                                 r_pend_reg.eq(reg_space), r_addr.eq(r_addr + 1)]
                with m.If(r_pending & r_pend_last):
                    m.next = "IDLE"

            with m.State("DESC"):
                m.d.comb += rx_pop_cur.eq(1)
                m.d.sync += [desc.word_select(desc_i, W).eq(cur_head), desc_i.eq(desc_i + 1)]
                with m.If(cur_end):
                    m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(r_op == Opcode.EXEC):
                    with m.If(~self.exec_busy & ~eng_done["pending"]):
                        with m.If(self.exec_ok):
                            m.d.comb += self.exec_start.eq(1)
                            m.d.sync += [eng_done["x"].eq(r_src_x), eng_done["y"].eq(r_src_y),
                                         eng_done["tag"].eq(r_tag),
                                         eng_done["opcode"].eq(Opcode.EXEC),
                                         eng_done["addr"].eq(0)]
                        with m.Else():
                            m.d.comb += error_now.eq(1)
                        m.next = "IDLE"
                with m.Else():
                    pd = lay.push_desc(desc[:lay.push_desc.size])
                    good = ((pd.count != 0) & (pd.src_addr + pd.count <= lines)
                            & (pd.dst_addr + pd.count <= lines)
                            & (pd.dst_x < self._mesh[0]) & (pd.dst_y < self._mesh[1]))
                    with m.If(~dma_busy & ~dma_done["pending"]):
                        with m.If(good):
                            m.d.comb += dma_start.eq(1)
                            m.d.sync += [dma_done["x"].eq(r_src_x), dma_done["y"].eq(r_src_y),
                                         dma_done["tag"].eq(r_tag),
                                         dma_done["opcode"].eq(Opcode.PUSH),
                                         dma_done["addr"].eq(0),
                                         d_src.eq(pd.src_addr), d_dst.eq(pd.dst_addr),
                                         d_left.eq(pd.count), d_x.eq(pd.dst_x), d_y.eq(pd.dst_y),
                                         d_add.eq(pd.add), d_dtype.eq(pd.dtype),
                                         d_sem_inc.eq(pd.sem_inc), d_sem.eq(pd.sem),
                                         d_ack.eq(r_ack)]
                        with m.Else():
                            m.d.comb += error_now.eq(1)
                        m.next = "IDLE"

            with m.State("DRAIN"):
                m.d.comb += rx_pop_cur.eq(1)
                with m.If(cur_end):
                    m.d.comb += resp_now.eq(drain_resp & cur_last)
                    m.next = "IDLE"

        # engine DONE
        eng_ack = Signal()
        with m.If(self.exec_start):
            m.d.sync += eng_ack.eq(r_ack)
        with m.If(self.exec_done & eng_ack):
            m.d.sync += eng_done["pending"].eq(1)

        # -- DMA: PUSH as WRITE/ADD packets ------------------------------------------------
        d_pend, d_pend_last = Signal(), Signal()
        d_req_we = Signal()
        d_req_data = Signal(W + 1)
        with m.FSM(name="dma"):
            with m.State("IDLE"):
                with m.If(dma_start):
                    m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += dma_busy.eq(1)
                chunk = Signal(COUNT_BITS)
                m.d.comb += chunk.eq(Mux(d_left > max_len - 1, max_len - 1, d_left))
                with m.If(req_q.w_rdy):
                    info = Signal(lay.store_info)
                    m.d.comb += [info.addr.eq(d_dst), info.tag.eq(dma_done["tag"]),
                                 info.sem_inc.eq(d_sem_inc & (d_left == chunk)),
                                 info.sem.eq(d_sem), info.dtype.eq(d_dtype)]
                    dh = head_flit(dst_x=d_x, dst_y=d_y, mclass=MsgClass.REQUEST,
                                   opcode=Mux(d_add, Opcode.ADD, Opcode.WRITE),
                                   length=chunk + 1, info=info.as_value())
                    m.d.comb += [d_req_we.eq(1), d_req_data.eq(Cat(dh.as_value(), Const(0, 1)))]
                    m.d.sync += [d_chunk.eq(chunk), d_left.eq(d_left - chunk),
                                 d_dst.eq(d_dst + chunk), d_pend.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += dma_busy.eq(1)
                with m.If(d_pend):
                    m.d.comb += [d_req_we.eq(1),
                                 d_req_data.eq(Cat(self.sram_dma.data, d_pend_last))]
                can = (d_chunk != 0) & (req_q.w_level + d_pend < req_q.depth)
                m.d.sync += d_pend.eq(can)
                with m.If(can):
                    m.d.comb += [self.sram_dma.en.eq(1), self.sram_dma.addr.eq(d_src)]
                    m.d.sync += [d_chunk.eq(d_chunk - 1), d_pend_last.eq(d_chunk == 1),
                                 d_src.eq(d_src + 1)]
                with m.If(d_pend & d_pend_last):
                    with m.If(d_left == 0):
                        with m.If(d_ack):
                            m.d.sync += dma_done["pending"].eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "HEAD"
        m.d.comb += [req_q.w_en.eq(d_req_we), req_q.w_data.eq(d_req_data)]

        # -- response writer: RX's READ_RESP, else one pending DONE ---------------------
        rx_in_read = rx_fsm.ongoing("READ")
        with m.If(rx_resp_we):
            m.d.comb += [resp_q.w_en.eq(1), resp_q.w_data.eq(rx_resp_data)]
        with m.Elif(~rx_in_read & resp_q.w_rdy):
            first = True
            for slot in (rx_done, dma_done, eng_done):
                with (m.If(slot["pending"]) if first else m.Elif(slot["pending"])):
                    dinfo = Signal(lay.resp_info, name=None)
                    m.d.comb += [dinfo.tag.eq(slot["tag"]), dinfo.req_op.eq(slot["opcode"]),
                                 dinfo.addr.eq(slot["addr"])]
                    dh = head_flit(dst_x=slot["x"], dst_y=slot["y"], mclass=MsgClass.RESPONSE,
                                   opcode=Opcode.DONE, length=1, info=dinfo.as_value())
                    m.d.comb += [resp_q.w_en.eq(1), resp_q.w_data.eq(Cat(dh.as_value(),
                                                                         Const(1, 1)))]
                    m.d.sync += slot["pending"].eq(0)
                first = False
        return m
