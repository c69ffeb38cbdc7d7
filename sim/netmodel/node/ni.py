"""The network interface (:class:`rtl.node.ni.NetworkInterface`) in the fast engine: its
blocks (input buffer, request parser, ADD pipeline, push DMA, command processor, pull and
response writers, link output) wired as the RTL wires them, with the NI's own logic: the
host's PUSH and EXEC before the command queues', the DONE slots' loads and arms, the
completion counters (saturating, every lost increment an error), the ``errors``,
``responses`` and ``execs`` counters and the register space's read register.

One cycle is :meth:`NetworkInterfaces.outputs_of_cycle` (every block's combinational step, in the
order their inputs become known: the input buffer and link output from their state, the
parser, the command processor, the DMA, the pull writer, the ADD pipeline, the response
writer) and :meth:`NetworkInterfaces.clock` (the NI's registers, then every block's
edge). The DMA's outputs are evaluated twice: first on the host's descriptor (the
parser's ``dma_ok`` when it holds a PUSH), then on the descriptor the DMA is shown.

The NI's ports are arrays with a leading node index: inputs in ``inputs[node, N_*]`` with
the arriving flit ``link_data[node]`` and the SRAM ports' read data ``rx_data``,
``dma_data``, ``cmd_data``; outputs in ``outputs[node, Y_*]`` (the link's registers come
from the link output's, the write ports' lines are ``sink.wr_line`` and ``pull.wr_line``).
The composition loops over blocks in Python, each block stepping every node at once: the
node kernel on the network will call the same step functions per node instead.
"""

import numpy as np

from rtl.net.packet import Opcode
from rtl.node.layouts import QUEUES, REG_BITS, NodeLayouts, request_vcs, response_vcs
from sim.netmodel.node import add_pipeline as ap
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import link_tx as tx
from sim.netmodel.node import pull_writer as pw
from sim.netmodel.node import push_dma as dm
from sim.netmodel.node import request_parser as rp
from sim.netmodel.node import response_writer as rw
from sim.netmodel.node import rx_buffer as rb
from sim.netmodel.node.fields import define, get_bits, layout_fields

__all__ = ["NetworkInterfaces", "INPUTS", "OUTPUTS", "MUTANTS"]

#: deliberately wrong variants, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "sem_wraps": 1,              # a completion counter wraps instead of saturating
           "cmd_push_first": 2}         # the command queues' PUSH before the host's

#: the NI's inputs per node
INPUTS = define(globals(), ("x", "y", "link_valid", "link_last", "link_vc", "credit",
                            "cmd_grant", "pull_grant", "exec_ok", "exec_busy", "exec_done",
                            "exec_cycles", "exec_steps"), "N_")
#: the NI's outputs per node (``exec_desc`` as its fields, ``X_<field>``)
OUTPUTS = define(globals(), ("o_valid", "o_last", "o_vc", "i_credit", "rx_en", "rx_addr",
                             "dma_en", "dma_addr", "cmd_en", "cmd_addr", "wr_en", "wr_addr",
                             "pull_en", "pull_addr", "exec_start", "errors", "status")
                 + tuple("x_" + f for f in cp.EXEC_DESC), "Y_")

_PUSH, _EXEC = Opcode.PUSH.value, Opcode.EXEC.value
_REG_MASK = (1 << REG_BITS) - 1


def _fields_of(words, fields):
    """Every ``(offset, width, signed)`` field of ``fields`` from the flits ``words`` (nodes,
    flits, words per flit) or (nodes, words), as (nodes, fields) ints."""
    rows = words.reshape(words.shape[0], -1)
    out = np.zeros((rows.shape[0], len(fields) // 3), np.int64)
    for n in range(rows.shape[0]):
        for f in range(len(fields) // 3):
            out[n, f] = get_bits(rows[n], fields[3 * f], fields[3 * f + 1])
    return out


class NetworkInterfaces:
    """The network interfaces of ``nodes`` nodes.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    vcs, credits, max_packet_flits, mesh_x, mesh_y : int
        As :class:`rtl.node.ni.NetworkInterface`'s.
    mutant : str
        One of :data:`MUTANTS` (tests only).
    cmd_mutant : str
        One of :data:`.command_processor.MUTANTS`, for the command processor (tests only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); link_data : (nodes, words)
    rx_data, dma_data, cmd_data : ndarray (nodes, words)
        The inputs of the cycle (the SRAM ports' data: the line each port read last).
    outputs : ndarray (nodes, len(OUTPUTS))
        After :meth:`outputs_of_cycle`; the link's flit is ``tx.link_data``, the write ports' lines
        ``sink.wr_line`` and ``pull.wr_line``.
    sems : ndarray (nodes, sems)
        The completion counters.
    """

    def __init__(self, *, nodes, layouts, vcs, credits, max_packet_flits, mesh_x, mesh_y,
                 mutant="none", cmd_mutant="none"):
        if not isinstance(layouts, NodeLayouts):
            raise TypeError(f"layouts must be a NodeLayouts, not {layouts!r}")
        lay, W = layouts, layouts.fmt.flit_bits
        words = -(-W // 64)
        self.lay, self.vcs, self.mutant = lay, vcs, MUTANTS[mutant]
        self.rx_vcs, self.resp_vcs = request_vcs(vcs), response_vcs(vcs)
        self.rx = rb.RxBuffers(nodes=nodes, fmt=lay.fmt, vcs=vcs, credits=credits,
                               depth=max(max_packet_flits + 3, credits))
        self.parser = rp.RequestParsers(nodes=nodes, layouts=lay, vcs=vcs,
                                        max_packet_flits=max_packet_flits)
        self.sink = ap.AddPipelines(nodes=nodes, width=W)
        self.dma = dm.PushDmas(nodes=nodes, layouts=lay, max_packet_flits=max_packet_flits,
                               mesh_x=mesh_x, mesh_y=mesh_y)
        self.cmd = cp.CommandProcessors(nodes=nodes, layouts=lay, mesh_x=mesh_x,
                                        mesh_y=mesh_y, pull=vcs >= 2, mutant=cmd_mutant)
        self.writer = rw.ResponseWriters(nodes=nodes, layouts=lay, slots=3 + QUEUES)
        self.tx = tx.LinkTxs(nodes=nodes, flit_bits=W, vcs=vcs, credits=credits)
        self.pull = (pw.PullWriters(nodes=nodes, layouts=lay, vcs=len(self.resp_vcs))
                     if vcs >= 2 else None)
        # the parser's descriptor register read as a PUSH / an EXEC descriptor
        self.push_fields = layout_fields(lay.push_desc, cp.PUSH_DESC)
        self.exec_fields = layout_fields(lay.exec_desc, cp.EXEC_DESC)
        self.ctrl_fields = layout_fields(lay.cmd_ctrl, ("start", "abort")
                                         + tuple(f"pc{q}" for q in range(QUEUES)))
        self.status_fields = layout_fields(lay.cmd_status, ("state", "code", "pc"))
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.link_data = np.zeros((nodes, words), np.uint64)
        self.rx_data = np.zeros((nodes, words), np.uint64)
        self.dma_data = np.zeros((nodes, words), np.uint64)
        self.cmd_data = np.zeros((nodes, words), np.uint64)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.sems = np.zeros((nodes, lay.sems), np.int64)
        # errors, responses, execs, the register read, the engine run by a command queue,
        # the host's EXEC wants its DONE
        self.errors = np.zeros(nodes, np.int64)
        self.responses = np.zeros(nodes, np.int64)
        self.execs = np.zeros(nodes, np.int64)
        self.reg_q = np.zeros(nodes, np.int64)
        self.cmd_owns = np.zeros(nodes, np.int64)
        self.eng_ack = np.zeros(nodes, np.int64)

    # -- the combinational half -------------------------------------------------------

    def _dma_desc(self, host_push, cmd_out):
        """The DMA's descriptor inputs: the parser's PUSH where it holds one, else the
        command processor's (``cmd_out``: its outputs, or None before they are known)."""
        dma = self.dma
        host = _fields_of(self.parser.desc, self.push_fields)
        for f, name in enumerate(cp.PUSH_DESC):
            other = cmd_out[:, cp.OUTPUTS["dma_" + name]] if cmd_out is not None else 0
            dma.inputs[:, dm.INPUTS["d_" + name]] = np.where(host_push, host[:, f], other)

    def outputs_of_cycle(self):
        """Every node's NI outputs from its state and the inputs of the cycle."""
        ins, p, lay = self.inputs, self.parser, self.lay
        st = p.state
        self.rx.outputs_of_cycle()
        self.tx.outputs_of_cycle()
        host_push = (st[:, rp.Q_FSM] == rp.S_CHECK) & (st[:, rp.Q_OP] == _PUSH)
        host_exec = (st[:, rp.Q_FSM] == rp.S_CHECK) & (st[:, rp.Q_OP] == _EXEC)
        # the DMA on the host's descriptor: its desc_ok is the parser's dma_ok
        self._dma_desc(host_push, None)
        self.dma.outputs_of_cycle()
        slots = self.writer.slots
        p.vc_in[:] = self.rx.vc_out[:, :len(self.rx_vcs)]
        p.head[:] = self.rx.head[:, :len(self.rx_vcs)]
        p.sram_data[:] = self.rx_data
        tx_out = self.tx.outputs
        for name, value in (
                ("x", ins[:, N_X]), ("y", ins[:, N_Y]),
                ("resp_rdy", tx_out[:, tx.O_RDY1]), ("resp_level", tx_out[:, tx.O_LEVEL1]),
                ("dma_free", (self.dma.outputs[:, dm.O_BUSY] == 0)
                 & (slots[:, 1, rw.D_PENDING] == 0)),
                ("dma_ok", self.dma.outputs[:, dm.O_DESC_OK]),
                ("exec_free", (ins[:, N_EXEC_BUSY] == 0) & (slots[:, 2, rw.D_PENDING] == 0)),
                ("exec_ok", ins[:, N_EXEC_OK]), ("done_pending", slots[:, 0, rw.D_PENDING]),
                ("reg_data", self.reg_q)):
            p.inputs[:, rp.INPUTS[name]] = value
        p.outputs_of_cycle()
        po = p.outputs
        # the command processor: its ctrl line from a cmd_ctrl write
        c = self.cmd
        ctrl = _fields_of(p.ctrl_data, self.ctrl_fields)
        c.inputs[:, cp.I_CTRL_WR] = po[:, rp.O_CTRL_WR]
        c.inputs[:, cp.I_START], c.inputs[:, cp.I_ABORT] = ctrl[:, 0], ctrl[:, 1]
        for q in range(QUEUES):
            c.inputs[:, cp.I_PC0 + q] = ctrl[:, 2 + q]
            c.inputs[:, cp.I_PENDING0 + q] = slots[:, 3 + q, rw.D_PENDING]
        c.inputs[:, cp.I_CTRL_X], c.inputs[:, cp.I_CTRL_Y] = po[:, rp.O_SRC_X], po[:, rp.O_SRC_Y]
        c.inputs[:, cp.I_SRAM_GRANT] = ins[:, N_CMD_GRANT]
        c.sems[:] = self.sems
        c.sram_data[:] = self.cmd_data
        c.outputs_of_cycle()
        co = c.outputs
        # PUSH: the host's before the command queues'
        d = self.dma
        self._dma_desc(host_push, co)
        d.inputs[:, dm.I_X], d.inputs[:, dm.I_Y] = ins[:, N_X], ins[:, N_Y]
        d.inputs[:, dm.I_TAG] = np.where(host_push, po[:, rp.O_TAG], 0)
        d.inputs[:, dm.I_ACK] = host_push & (po[:, rp.O_ACK] != 0)
        d.inputs[:, dm.I_READ] = ~host_push & (co[:, cp.O_DMA_READ] != 0)
        d.inputs[:, dm.I_Q_RDY] = tx_out[:, tx.O_RDY0]
        d.inputs[:, dm.I_Q_LEVEL] = tx_out[:, tx.O_LEVEL0]
        d.sram_data[:] = self.dma_data
        d.outputs_of_cycle()
        do = d.outputs
        # a PULL's answers are still coming: a second waits (the sink's busy, a register)
        pull_busy = self.pull.state[:, pw.W_ACTIVE] if self.pull else 0
        in_front = host_push if self.mutant != 2 else np.zeros_like(host_push)
        cmd_push = ((co[:, cp.O_DMA_REQ] != 0) & ~in_front & (do[:, dm.O_BUSY] == 0)
                    & (do[:, dm.O_DESC_OK] != 0)
                    & ~((co[:, cp.O_DMA_READ] != 0) & (pull_busy != 0)))
        d.inputs[:, dm.I_START] = (po[:, rp.O_DMA_START] != 0) | cmd_push
        c.inputs[:, cp.I_DMA_SEEN] = ~host_push
        c.inputs[:, cp.I_DMA_OK] = do[:, dm.O_DESC_OK]
        c.inputs[:, cp.I_DMA_GO] = cmd_push
        # EXEC: the same order
        cmd_exec = ((co[:, cp.O_EXEC_REQ] != 0) & ~host_exec & (ins[:, N_EXEC_BUSY] == 0)
                    & (ins[:, N_EXEC_OK] != 0))
        exec_start = (po[:, rp.O_EXEC_START] != 0) | cmd_exec
        c.inputs[:, cp.I_EXEC_SEEN] = ~host_exec
        c.inputs[:, cp.I_EXEC_OK] = ins[:, N_EXEC_OK]
        c.inputs[:, cp.I_EXEC_GO] = cmd_exec
        c.inputs[:, cp.I_EXEC_DONE] = (ins[:, N_EXEC_DONE] != 0) & (self.cmd_owns != 0)
        host_x = _fields_of(p.desc, self.exec_fields)
        out = self.outputs
        for f, name in enumerate(cp.EXEC_DESC):
            out[:, Y_X_MODE + f] = np.where(host_exec, host_x[:, f],
                                            co[:, cp.OUTPUTS["exec_" + name]])
        self._cmd_push, self._cmd_exec, self._exec_start = cmd_push, cmd_exec, exec_start
        # the response sink: the response VCs (with one VC the parser drains them)
        if self.pull:
            u = self.pull
            resp = self.resp_vcs
            u.vc_in[:, :, pw.V_NONEMPTY] = self.rx.vc_out[:, resp, rb.V_NONEMPTY]
            u.vc_in[:, :, pw.V_LAST] = self.rx.vc_out[:, resp, rb.V_LAST]
            u.flits[:] = self.rx.head[:, resp]
            u.inputs[:, pw.I_START] = cmd_push & (co[:, cp.O_DMA_READ] != 0)
            for name in ("src", "dst", "count", "sem"):
                key = {"src": "dma_src_addr", "dst": "dma_dst_addr"}.get(name, "dma_" + name)
                u.inputs[:, pw.INPUTS[name]] = co[:, cp.OUTPUTS[key]]
            u.inputs[:, pw.I_WR_GRANT] = ins[:, N_PULL_GRANT]
            u.outputs_of_cycle()
        # the ADD pipeline
        s = self.sink
        for k in ("valid", "add", "fp", "addr"):
            s.inputs[:, ap.INPUTS[k]] = po[:, rp.OUTPUTS["line_" + k]]
        s.line_in[:] = p.line_data
        s.rdata[:] = self.rx_data
        s.outputs_of_cycle()
        # the response writer: READ_RESPs, then the DONE slots (parser, DMA, engine, queues)
        w = self.writer
        for name, value in (("x", ins[:, N_X]), ("y", ins[:, N_Y]),
                            ("rx_en", po[:, rp.O_RESP_EN]), ("rx_last", po[:, rp.O_RESP_LAST]),
                            ("rx_hold", po[:, rp.O_RESP_HOLD]), ("q_rdy", tx_out[:, tx.O_RDY1])):
            w.inputs[:, rw.INPUTS[name]] = value
        w.rx_flit[:] = p.resp_flit
        si = w.slot_in
        for k in ("load", "arm", "x", "y", "tag", "opcode", "addr"):
            si[:, 0, rw.SLOT_INPUTS[k]] = po[:, rp.OUTPUTS["done_" + k]]
        for slot, start, opcode, arm in (
                (1, po[:, rp.O_DMA_START], _PUSH, do[:, dm.O_DONE]),
                (2, po[:, rp.O_EXEC_START], _EXEC,
                 (ins[:, N_EXEC_DONE] != 0) & (self.eng_ack != 0))):
            for k, value in (("load", start), ("arm", arm), ("x", po[:, rp.O_SRC_X]),
                             ("y", po[:, rp.O_SRC_Y]), ("tag", po[:, rp.O_TAG]),
                             ("opcode", opcode), ("addr", 0)):
                si[:, slot, rw.SLOT_INPUTS[k]] = value
        for q in range(QUEUES):
            for k in ("load", "arm", "x", "y", "tag", "opcode", "addr"):
                si[:, 3 + q, rw.SLOT_INPUTS[k]] = c.queue_out[:, q, cp.QUEUE_OUTPUTS[k]]
        w.outputs_of_cycle()
        # the link output's writes and the returned credits
        t = self.tx
        t.inputs[:, tx.I_EN0], t.inputs[:, tx.I_LAST0] = do[:, dm.O_Q_EN], do[:, dm.O_Q_LAST]
        t.inputs[:, tx.I_EN1] = w.outputs[:, rw.O_Q_EN]
        t.inputs[:, tx.I_LAST1] = w.outputs[:, rw.O_Q_LAST]
        t.flits_in[:, 0], t.flits_in[:, 1] = d.flit, w.flit
        t.inputs[:, tx.I_CREDIT0] = ins[:, N_CREDIT]            # one bit per VC
        # the input buffer: the arriving flit, the parser's and the sink's pops
        r = self.rx
        r.inputs[:, rb.I_VALID] = ins[:, N_LINK_VALID]
        r.inputs[:, rb.I_VC], r.inputs[:, rb.I_LAST] = ins[:, N_LINK_VC], ins[:, N_LINK_LAST]
        r.flit_in[:] = self.link_data
        for v in self.rx_vcs:
            r.inputs[:, rb.I_POP0 + v] = po[:, rp.O_POPS] >> v & 1
        if self.pull:
            for i, v in enumerate(self.resp_vcs):
                r.inputs[:, rb.I_POP0 + v] = ((self.pull.outputs[:, pw.O_POP] != 0)
                                              & (self.pull.outputs[:, pw.O_CUR] == i))
        # the NI's outputs
        for name, value in (
                ("o_valid", tx_out[:, tx.O_VALID]), ("o_last", tx_out[:, tx.O_LAST]),
                ("o_vc", tx_out[:, tx.O_VC]), ("i_credit", r.outputs[:, rb.O_CREDIT]),
                ("rx_en", po[:, rp.O_SRAM_EN]), ("rx_addr", po[:, rp.O_SRAM_ADDR]),
                ("dma_en", do[:, dm.O_SRAM_EN]), ("dma_addr", do[:, dm.O_SRAM_ADDR]),
                ("cmd_en", co[:, cp.O_SRAM_EN]), ("cmd_addr", co[:, cp.O_SRAM_ADDR]),
                ("wr_en", s.outputs[:, ap.O_WR_EN]), ("wr_addr", s.outputs[:, ap.O_WR_ADDR]),
                ("pull_en", self.pull.outputs[:, pw.O_WR_EN] if self.pull else 0),
                ("pull_addr", self.pull.outputs[:, pw.O_WR_ADDR] if self.pull else 0),
                ("exec_start", exec_start), ("errors", self.errors),
                ("status", self._status())):
            out[:, OUTPUTS[name]] = value

    def _status(self):
        return (self.inputs[:, N_EXEC_BUSY] | self.dma.outputs[:, dm.O_BUSY] << 1
                | self.rx.outputs[:, rb.O_OVERFLOW] << 2)

    def _cmd_status(self, q):
        """Queue ``q``'s ``cmd_status<q>`` register (its layout's fields packed)."""
        qo, F = self.cmd.queue_out[:, q], self.status_fields
        return ((qo[:, cp.H_STATE] << F[0]) | (qo[:, cp.H_CODE] << F[3])
                | (qo[:, cp.H_PC] << F[6]))

    # -- the clock edge ---------------------------------------------------------------

    def clock(self):
        """Every node's clock edge, after :meth:`outputs_of_cycle` of the cycle."""
        ins, po, co = self.inputs, self.parser.outputs, self.cmd.outputs
        top = (1 << self.lay.counter_bits) - 1
        pull_done = self.pull.outputs[:, pw.O_DONE] if self.pull else 0
        pull_sem = self.pull.outputs[:, pw.O_DONE_SEM] if self.pull else 0
        # the register space (read before the edge, as the RTL's switch does)
        values = ([self.sems[:, i] for i in range(self.lay.sems)]
                  + [self.errors, self.responses, self.execs, ins[:, N_EXEC_CYCLES],
                     ins[:, N_EXEC_STEPS], self._status(), np.zeros_like(self.errors)]
                  + [self._cmd_status(q) for q in range(QUEUES)])
        reg = po[:, rp.O_REG_ADDR]
        for i, value in enumerate(values):
            self.reg_q = np.where(reg == i, value, self.reg_q)
        lost = np.zeros_like(self.errors)
        for i in range(self.lay.sems):
            inc = (((po[:, rp.O_SEM_INC] != 0) & (po[:, rp.O_SEM] == i)).astype(np.int64)
                   + ((pull_done != 0) & (pull_sem == i)))
            dec = np.where((co[:, cp.O_SEM_DEC] != 0) & (co[:, cp.O_SEM_DEC_IDX] == i),
                           co[:, cp.O_SEM_DEC_N], 0)
            nxt = self.sems[:, i] + inc - dec
            if self.mutant == 1:
                self.sems[:, i] = nxt & top
                continue
            self.sems[:, i] = np.minimum(nxt, top)
            lost += np.maximum(nxt - top, 0) & 3
        self.errors = (self.errors + po[:, rp.O_ERROR] + co[:, cp.O_CTRL_ERROR] + lost) & _REG_MASK
        drained = po[:, rp.O_DRAINED] + (self.pull.outputs[:, pw.O_DRAINED] if self.pull else 0)
        self.responses = (self.responses + drained) & _REG_MASK
        self.execs = (self.execs + ins[:, N_EXEC_DONE]) & _REG_MASK
        start = self._exec_start
        self.cmd_owns = np.where(start, self._cmd_exec, self.cmd_owns)
        self.eng_ack = np.where(start, (po[:, rp.O_EXEC_START] != 0) & (po[:, rp.O_ACK] != 0),
                                self.eng_ack)
        for block in (self.rx, self.parser, self.sink, self.dma, self.cmd, self.writer,
                      self.tx) + ((self.pull,) if self.pull else ()):
            block.clock()
