"""The training node's core in the fast engine: the network interface, the SRAM scratchpad
and the matrix engine wired as :meth:`rtl.node.training_node.TrainingNode.elaborate` wires
them; everything of the node but its router. Its interface is the router's local port: the
NI's link in (flit, VC, last, and the credits the router returns for the NI's output) and
out (the NI's flit, VC, last, and the credits the NI returns for its input).

The SRAM's clients, as the RTL connects them: read port 0 serves the NI's request sink
(client 0), the command processor's descriptor fetch (1) and the engine's A operand (2);
read port 1 the engine's B operand; read port 2 the NI's push DMA (0) and the engine's C
prefetch (1); the write port the NI's request sink (0), its PULL answers (1) and the
engine's write-back (2). The engine's descriptor is the NI's ``exec_desc``, its
``desc_ok``, ``busy``, ``done`` and counters the NI's ``exec_*`` inputs.

One cycle is :func:`core_outputs` then :func:`core_clock` per node (numba step functions
taking the node index, as every block's; :meth:`NodeCores.outputs_of_cycle` and
:meth:`NodeCores.clock` run them over every node in one compiled call each). The
combinational paths cross the blocks twice, so the cycle evaluates the NI three times:

1. the engine's outputs from its state (``busy``, ``done``, the counters, its read and
   write requests: none of them depends on the descriptor shown this cycle); the NI's
   outputs with the engine's ``desc_ok`` of the descriptor it was shown last and no grants;
2. the engine's ``desc_ok`` of the NI's ``exec_desc`` (the NI's descriptor does not depend
   on ``exec_ok``: in the RTL that would be a combinational loop); the NI again, now with
   the right ``exec_ok``, which decides the parser's and the command queues' requests;
3. the SRAM's grants from every client's request; the NI once more with its grants (the
   pull writer pops a response flit only when its write is granted; the command processor
   reads its grant at the edge).

The NI's outputs are a function of its state and its inputs, so an evaluation whose
inputs are the last one's is skipped: the second when ``exec_ok`` is the ``desc_ok`` the
first was given, the third when neither grant is set (most cycles: each evaluation is
most of a node's cycle).

:func:`core_clock` is every block's edge from the values of that last evaluation; the
SRAM's edge lands the granted writes and loads the read ports' data registers, which the
NI and the engine see in the next cycle.

The core counts its share of the node's events (:data:`COUNTERS`: granted SRAM reads and
writes, the engine's array steps per dtype), as the main line's training node does.

Timing only (``NodeCores(timing_only=True)``): no value is computed (the engine's numerics,
its operand, C0 and write-back lines, the ADD pipeline's sums: the engine's write-back and
an ADD land the mark :data:`.fields.UNCOMPUTED`, and a command queue that fetches a marked
line stops the run, :meth:`NodeCores.check`), and every line and flit is kept as its
control slice only (:func:`.fields.control_words` words: every field that decides timing
lies there, see the package docstring), moved as the full model moves it, because any line
may turn out to be control (a command program written by a WRITE and fetched later). The
flag is run-time data (``SP[3]``), so both modes run one compiled kernel.

The kernels' arguments are the blocks' arrays as tuples (``NA``/``NP``: the NI's
``arrays`` and ``params``; ``EA``/``EP``: the engine's; ``SA``/``SP``: the SRAM's; ``CA``:
the core's own ports and counters). The wiring's mutants are run-time data (``reads``: the
(port, client) of every reader of :data:`READERS`; ``mutant`` for the counter), so the
normal and the wrong wirings run one compiled kernel. Every block's step function is a
numba function of its own, typed and compiled once and cached in its block's file, and
marked ``forceinline`` so that LLVM inlines its machine code into the kernels that call
it (no second typing, as numba's ``inline="always"`` would cost): called, each array
argument went on the stack as ~7 words and each parameter tuple as all its ints, a block
call as up to 180 pushes; measured with ``perf`` (the kernel's symbols from numba's
libraries), those pushes were 54% of the node kernel's own time, and inlining them made
a D1 die's SUMMA step run 1.8x faster (38.7 -> 21.9 s) for ~12 s more cold compile. The
NI's outputs are inlined at the core's one call site (a call passes ~75 arrays).
"""

import numpy as np
from numba import njit

from rtl.net.directions import PORTS
from rtl.node.mac import MacMode
from sim.netmodel.node import command_processor as cp
from sim.netmodel.node import engine as en
from sim.netmodel.node import ni as nim
from sim.netmodel.node import request_parser as rp
from sim.netmodel.node.add_pipeline import add_quiescent
from sim.netmodel.node.fields import (control_bits, control_words, copy_row, define,
                                      is_uncomputed, mark_uncomputed)
from sim.netmodel.node.link_tx import tx_quiescent
from sim.netmodel.node.push_dma import dma_quiescent
from sim.netmodel.node.request_parser import parser_quiescent
from sim.netmodel.node.response_writer import resp_quiescent
from sim.netmodel.node.rx_buffer import rx_quiescent
from sim.netmodel.node.sram import (POOL_OVERFLOWS, Scratchpads, line_words, sram_clock,
                                    sram_grants)

__all__ = ["NodeCores", "core_quiescent", "core_asleep", "INPUTS", "OUTPUTS", "MUTANTS", "READ_CLIENTS", "WRITE_CLIENTS",
           "COUNTERS"]

#: deliberately wrong wirings, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "c_prefetch_before_dma": 1,    # the engine's C prefetch ranks above the DMA
           "engine_before_cmd_fetch": 2,  # the engine's A operand above the command fetch
           "reads_counted_when_asked": 3,  # sram_reads counts requests, not grants
           # a timing-only core that takes every body line for payload: the request sink's
           # lines reach the SRAM as zeros, so a command program a WRITE loads is lost
           "timing_only_drops_bodies": 4,
           # a timing-only core that keeps heads only: a host's PUSH or EXEC descriptor (the
           # packet's body) reaches the parser's descriptor register as zeros
           "timing_only_drops_descriptors": 5}

_BF16, _INT8 = MacMode.BF16.value, MacMode.INT8.value

#: (read port, client) of every SRAM reader, as TrainingNode connects them
READ_CLIENTS = {"rx": (0, 0), "cmd": (0, 1), "rd_a": (0, 2), "rd_b": (1, 0), "dma": (2, 0),
                "rd_c": (2, 1)}
#: write client of every SRAM writer
WRITE_CLIENTS = {"wr": 0, "pull": 1, "engine": 2}

#: the node's event counters kept by the core (the training node's ``_counters`` on the
#: main line, without the router's ``flits_*``): 32 bits, wrapping
COUNTERS = ("sram_reads", "sram_writes", "mac_steps_bf16", "mac_steps_int8")

#: the core's inputs per node: the router's side of the local port
INPUTS = {name: i for i, name in enumerate(("x", "y", "link_valid", "link_last", "link_vc",
                                            "credit"))}
#: the core's outputs per node (the flit is :attr:`NodeCores.link_out`)
OUTPUTS = {name: i for i, name in enumerate(("o_valid", "o_last", "o_vc", "i_credit",
                                             "errors", "busy", "overflow"))}


def _read_clients(mutant):
    clients = dict(READ_CLIENTS)
    if mutant == MUTANTS["c_prefetch_before_dma"]:
        clients["dma"], clients["rd_c"] = clients["rd_c"], clients["dma"]
    if mutant == MUTANTS["engine_before_cmd_fetch"]:
        clients["cmd"], clients["rd_a"] = clients["rd_a"], clients["cmd"]
    return clients


#: the readers in the order of the kernel's read-client table (``reads``: port, client of
#: each, a run-time parameter, so the mutants of the wiring share the compiled kernel)
READERS = define(globals(), ("rx", "cmd", "rd_a", "rd_b", "dma", "rd_c"), "R_")
define(globals(), tuple(WRITE_CLIENTS), "W_")
define(globals(), INPUTS, "I_")
define(globals(), OUTPUTS, "O_")
define(globals(), COUNTERS, "C_")
# the NI's columns the kernel copies (the local port's inputs are the NI's first ones)
if tuple(nim.INPUTS)[:len(INPUTS)] != tuple(INPUTS):
    raise AssertionError("the NI's first inputs must be the core's, in its order")
_FLIT_COLS = tuple(nim.INPUTS[f"counter_flits_{p}"] for p in PORTS)
_COUNT_COLS = tuple(nim.INPUTS[f"counter_{c}"] for c in COUNTERS)
_DESC_COLS = tuple(nim.OUTPUTS["x_" + f] for f in en.EXEC_FIELDS)
_PASSED = tuple(nim.OUTPUTS[name] for name in ("o_valid", "o_last", "o_vc", "i_credit",
                                               "errors"))
if tuple(OUTPUTS)[:len(_PASSED)] != ("o_valid", "o_last", "o_vc", "i_credit", "errors"):
    raise AssertionError("the core's first outputs must be the NI's it passes on")
_M32 = 0xFFFFFFFF
_N_IN = len(INPUTS)
M_READS_COUNTED_WHEN_ASKED = MUTANTS["reads_counted_when_asked"]
M_TIMING_ONLY_DROPS_BODIES = MUTANTS["timing_only_drops_bodies"]
M_TIMING_ONLY_DROPS_DESCRIPTORS = MUTANTS["timing_only_drops_descriptors"]


@njit(cache=True, _nrt=False, inline="always")
def _ni(n, NA, NP, exec_ok, cmd_grant, pull_grant):
    """The NI's outputs with the engine's ``desc_ok`` and the SRAM's grants as given."""
    RX, PA, SK, DM, CQ, WR, TX, PW, NI = NA
    ins = NI[0]
    ins[n, nim.N_EXEC_OK] = exec_ok
    ins[n, nim.N_CMD_GRANT] = cmd_grant
    ins[n, nim.N_PULL_GRANT] = pull_grant
    nim.ni_outputs(n, RX, PA, SK, DM, CQ, WR, TX, PW, NI, NP)


@njit(cache=True, _nrt=False, inline="always")
def _ask(n, rd_en, rd_addr, reads, r, request, addr):
    """Reader ``r``'s request on its (port, client) of the read-client table."""
    rd_en[n, reads[2 * r], reads[2 * r + 1]] = request
    rd_addr[n, reads[2 * r], reads[2 * r + 1]] = addr


@njit(cache=True, _nrt=False, inline="always")
def core_outputs(n, NA, NP, EA, EP, SA, SP, CA, reads):
    """Node ``n``'s outputs of the cycle: the engine, the NI up to three times, the SRAM's grants
    (the order of the module docstring); the SRAM's write lines and the engine's inputs."""
    RX, PA, SK, DM, CQ, WR, TX, PW, NI = NA
    ni_in, ni_out, link_data, rx_data, dma_data, cmd_data, sems, regs = NI
    (st, desc, e_in, e_out, rd_a, rd_b, rd_c, a_hold, b_hold, acc, prod, iprod, c_in, c0buf,
     wbbuf, su, sf, e_wr) = EA
    rd_en, rd_grant, rd_addr, rd_data, wr_en, wr_addr, wr_grant, wr_data, table, pool, used = SA
    bank_lines, page_shift, s_mutant, timing_only, pull = SP
    c_ins, c_out, link_in, counters, router_flits, uncomputed = CA
    # the read ports' data registers: what each client sees this cycle (the engine's
    # operands only where its values are computed)
    copy_row(rx_data[n], rd_data[n, reads[2 * R_RX]])
    copy_row(cmd_data[n], rd_data[n, reads[2 * R_CMD]])
    copy_row(dma_data[n], rd_data[n, reads[2 * R_DMA]])
    if not timing_only:
        copy_row(rd_a[n], rd_data[n, reads[2 * R_RD_A]])
        copy_row(rd_b[n], rd_data[n, reads[2 * R_RD_B]])
        copy_row(rd_c[n], rd_data[n, reads[2 * R_RD_C]])
    for i in range(_N_IN):
        ni_in[n, i] = c_ins[n, i]
    for i in range(len(_FLIT_COLS)):
        ni_in[n, _FLIT_COLS[i]] = router_flits[n, i]
    for i in range(len(_COUNT_COLS)):
        ni_in[n, _COUNT_COLS[i]] = counters[n, i]
    copy_row(link_data[n], link_in[n])
    # 1. the engine from its state; the NI with last cycle's desc_ok
    en.engine_outputs(n, st, desc, e_out, EP)
    if not timing_only:
        en.engine_write_line(n, st, wbbuf, e_wr, EP)
    ni_in[n, nim.N_EXEC_BUSY] = e_out[n, en.O_BUSY]
    ni_in[n, nim.N_EXEC_DONE] = e_out[n, en.O_DONE]
    ni_in[n, nim.N_EXEC_CYCLES] = e_out[n, en.O_CYCLES]
    ni_in[n, nim.N_EXEC_STEPS] = e_out[n, en.O_STEPS]
    # the NI evaluated at one call site (inlined once), again only when its inputs changed
    ok, cmd_grant, pull_grant = e_out[n, en.O_DESC_OK], 0, 0
    stage = 2
    while True:
        _ni(n, NA, NP, ok, cmd_grant, pull_grant)
        if stage == 2:
            # 2. desc_ok of the descriptor the NI shows; the NI's requests with it (the NI
            # is a function of its state and inputs: with the same desc_ok, pass 1's)
            for f in range(len(_DESC_COLS)):
                desc[n, f] = ni_out[n, _DESC_COLS[f]]
            en.engine_outputs(n, st, desc, e_out, EP)
            stage = 3
            if e_out[n, en.O_DESC_OK] != ok:
                ok = e_out[n, en.O_DESC_OK]
                continue
        if stage == 3:
            # 3. the SRAM's grants; the NI with them (none set: pass 2's outputs)
            rd_en[n] = 0
            _ask(n, rd_en, rd_addr, reads, R_RX, ni_out[n, nim.Y_RX_EN],
                 ni_out[n, nim.Y_RX_ADDR])
            _ask(n, rd_en, rd_addr, reads, R_CMD, ni_out[n, nim.Y_CMD_EN],
                 ni_out[n, nim.Y_CMD_ADDR])
            _ask(n, rd_en, rd_addr, reads, R_RD_A, e_out[n, en.O_RD_A_EN],
                 e_out[n, en.O_RD_A_ADDR])
            _ask(n, rd_en, rd_addr, reads, R_RD_B, e_out[n, en.O_RD_B_EN],
                 e_out[n, en.O_RD_B_ADDR])
            _ask(n, rd_en, rd_addr, reads, R_DMA, ni_out[n, nim.Y_DMA_EN],
                 ni_out[n, nim.Y_DMA_ADDR])
            _ask(n, rd_en, rd_addr, reads, R_RD_C, e_out[n, en.O_RD_C_EN],
                 e_out[n, en.O_RD_C_ADDR])
            wr_en[n, W_WR], wr_addr[n, W_WR] = ni_out[n, nim.Y_WR_EN], ni_out[n, nim.Y_WR_ADDR]
            wr_en[n, W_PULL] = ni_out[n, nim.Y_PULL_EN]
            wr_addr[n, W_PULL] = ni_out[n, nim.Y_PULL_ADDR]
            wr_en[n, W_ENGINE], wr_addr[n, W_ENGINE] = e_out[n, en.O_WR_EN], e_out[n, en.O_WR_ADDR]
            sram_grants(n, bank_lines, rd_en, rd_grant, wr_en, wr_addr, wr_grant, s_mutant)
            cmd_grant = rd_grant[n, reads[2 * R_CMD], reads[2 * R_CMD + 1]]
            pull_grant = wr_grant[n, W_PULL]
            stage = 4
            if cmd_grant or pull_grant:
                continue
        break
    # the engine's start and grants; the write port's lines
    e_in[n, en.I_START] = ni_out[n, nim.Y_EXEC_START]
    e_in[n, en.I_RD_A_GRANT] = rd_grant[n, reads[2 * R_RD_A], reads[2 * R_RD_A + 1]]
    e_in[n, en.I_RD_B_GRANT] = rd_grant[n, reads[2 * R_RD_B], reads[2 * R_RD_B + 1]]
    e_in[n, en.I_RD_C_GRANT] = rd_grant[n, reads[2 * R_RD_C], reads[2 * R_RD_C + 1]]
    e_in[n, en.I_WR_GRANT] = wr_grant[n, W_ENGINE]
    copy_row(wr_data[n, W_WR], SK[4][n])              # the ADD pipeline's line
    if pull:
        copy_row(wr_data[n, W_PULL], PW[5][n])        # the pull writer's line
    if timing_only:
        mark_uncomputed(wr_data[n, W_ENGINE])         # a result not computed
    else:
        copy_row(wr_data[n, W_ENGINE], e_wr[n])
    # the core's outputs (TrainingNode's busy and overflow, the router's part left out)
    for i in range(len(_PASSED)):
        c_out[n, i] = ni_out[n, _PASSED[i]]
    status = ni_out[n, nim.Y_STATUS]
    c_out[n, O_BUSY] = 1 if status & 3 else 0
    c_out[n, O_OVERFLOW] = status >> 2 & 1


@njit(cache=True, _nrt=False, inline="always")
def core_clock(n, NA, NP, EA, EP, SA, SP, CA, mutant):
    """Node ``n``'s clock edge, after :func:`core_outputs` of the cycle: the counters, the
    NI's, the engine's and the SRAM's edges."""
    RX, PA, SK, DM, CQ, WR, TX, PW, NI = NA
    (st, desc, e_in, e_out, rd_a, rd_b, rd_c, a_hold, b_hold, acc, prod, iprod, c_in, c0buf,
     wbbuf, su, sf, e_wr) = EA
    rd_en, rd_grant, rd_addr, rd_data, wr_en, wr_addr, wr_grant, wr_data, table, pool, used = SA
    bank_lines, page_shift, s_mutant, timing_only, pull = SP
    c_ins, c_out, link_in, counters, router_flits, uncomputed = CA
    reads, writes = 0, 0
    if timing_only:
        # a command queue takes the line fetched last cycle at this edge: is it a value
        # the model did not compute?
        queues, cmd_line = NA[4][0], NA[8][5]
        for q in range(queues.shape[1]):
            if (queues[n, q, cp.Q_FSM] == cp.S_FETCH and queues[n, q, cp.Q_PEND]
                    and is_uncomputed(cmd_line[n])):
                uncomputed[n] += 1
    for p in range(rd_en.shape[1]):
        for c in range(rd_en.shape[2]):
            reads += rd_en[n, p, c] if mutant == M_READS_COUNTED_WHEN_ASKED else rd_grant[n, p, c]
    for c in range(wr_grant.shape[1]):
        writes += wr_grant[n, c]
    mode = st[n, en.E_MODE]                  # the engine's mode output before the edge
    nim.ni_clock(n, RX, PA, SK, DM, CQ, WR, TX, PW, NI, NP)
    if timing_only and mutant == M_TIMING_ONLY_DROPS_DESCRIPTORS:
        PA[6][n] = 0
    en.engine_clock(n, st, desc, e_in, e_out, EP, not timing_only, rd_a, rd_b, rd_c, a_hold,
                    b_hold, acc, prod, iprod, c_in, c0buf, wbbuf, su, sf)
    if timing_only and mutant == M_TIMING_ONLY_DROPS_BODIES:
        wr_data[n, W_WR] = 0
    sram_clock(n, rd_grant, rd_addr, rd_data, wr_grant, wr_addr, wr_data, page_shift,
               table, pool, used, s_mutant)
    step = st[n, en.E_X_VALID]               # the edge's array step (its X stage loaded)
    counters[n, C_SRAM_READS] = (counters[n, C_SRAM_READS] + reads) & _M32
    counters[n, C_SRAM_WRITES] = (counters[n, C_SRAM_WRITES] + writes) & _M32
    if step and mode == _BF16:
        counters[n, C_MAC_STEPS_BF16] = (counters[n, C_MAC_STEPS_BF16] + 1) & _M32
    if step and mode == _INT8:
        counters[n, C_MAC_STEPS_INT8] = (counters[n, C_MAC_STEPS_INT8] + 1) & _M32


@njit(cache=True, _nrt=False, inline="always")
def core_quiescent(n, NA, NP, EA, SP):
    """Whether node ``n``'s core, in a cycle with no flit arriving and no credit returned,
    is quiescent: every block waits for an input (the input buffer empty with no credit
    owed, the parser waiting for a head, the ADD pipeline empty, the DMA idle, every
    command queue idle or in a WAIT its semaphore does not meet, no DONE pending, the link
    output's queues empty, the engine idle and drained; the pull writer moves only on a
    response in the input buffer). Then no SRAM port is asked, no counter counts, the
    semaphores and the NI's counters hold; the edge changes only pulse and delay registers
    that reload constants (a credit pulse, the link register, the engine's delay lines, a
    WAIT's status), so after two such cycles in a row the core's state and outputs repeat
    until an input arrives, except the register read (:func:`core_asleep`). The node
    kernel's idle shortcut skips the core then (:mod:`sim.netmodel.nodekernel`)."""
    RX, PA, SK, DM, CQ, WR, TX, PW, NI = NA
    return (rx_quiescent(n, RX[0], NP[0]) and parser_quiescent(n, PA[0])
            and add_quiescent(n, SK[0]) and dma_quiescent(n, DM[0])
            and cp.cp_quiescent(n, CQ[0], NI[6], NP[6]) and resp_quiescent(n, WR[0])
            and tx_quiescent(n, TX[0]) and en.engine_quiescent(n, EA[0]))


@njit(cache=True, _nrt=False, inline="always")
def core_asleep(n, NA, NP, CA):
    """A cycle of node ``n``'s core skipped while quiescent (:func:`core_quiescent`): what
    still changes, the router's flit counts reaching the NI's counter inputs and the NI's
    register read of the address its parser holds (which may be one of those counters)."""
    RX, PA, SK, DM, CQ, WR, TX, PW, NI = NA
    ins, regs = NI[0], NI[7]
    router_flits = CA[4]
    for i in range(len(_FLIT_COLS)):
        ins[n, _FLIT_COLS[i]] = router_flits[n, i]
    PA[1][n, rp.I_REG_DATA] = regs[n, nim.G_REG_Q]     # the parser's input of the cycle
    value = nim._register(n, PA[2][n, rp.O_REG_ADDR], ins, NI[6], regs, DM[2], RX[4],
                          CQ[5], NP[16], NP[17])
    if value >= 0:
        regs[n, nim.G_REG_Q] = value


@njit(cache=True, _nrt=False)
def _outputs_all(NA, NP, EA, EP, SA, SP, CA, reads):
    for n in range(CA[0].shape[0]):
        core_outputs(n, NA, NP, EA, EP, SA, SP, CA, reads)


@njit(cache=True, _nrt=False)
def _clock_all(NA, NP, EA, EP, SA, SP, CA, mutant):
    for n in range(CA[0].shape[0]):
        core_clock(n, NA, NP, EA, EP, SA, SP, CA, mutant)


class NodeCores:
    """The cores (NI, SRAM, engine) of ``nodes`` training nodes.

    Parameters
    ----------
    nodes : int
    layouts : NodeLayouts
    vcs, buffer_depth, max_packet_flits, matrix_p, mesh_x, mesh_y, sram_banks : int
        As :class:`rtl.node.training_node.TrainingNode`'s (the NI's credits are
        ``buffer_depth``).
    page_lines : int
        The SRAM model's page (see :class:`.sram.Scratchpads`).
    timing_only : bool
        No values computed, lines kept as their control slice (see the module docstring).
    mutant : str
        One of :data:`MUTANTS`; ``ni_mutant``, ``cmd_mutant``, ``engine_mutant``,
        ``sram_mutant`` those of the blocks (tests only).

    Attributes
    ----------
    inputs : ndarray (nodes, len(INPUTS)); link_in : (nodes, words)
        The local port's inputs of the cycle (``credit``: one bit per VC).
    outputs : ndarray (nodes, len(OUTPUTS)); link_out : (nodes, words)
        After :meth:`outputs_of_cycle`.
    counters : ndarray (nodes, len(COUNTERS))
        The event counters.
    ni, sram, engine :
        The blocks (:class:`.ni.NetworkInterfaces`, :class:`.sram.Scratchpads`,
        :class:`.engine.MatrixEngines`).
    """

    def __init__(self, *, nodes, layouts, vcs, buffer_depth, max_packet_flits, matrix_p,
                 mesh_x, mesh_y, sram_banks=1, page_lines=64, timing_only=False,
                 mutant="none", ni_mutant="none", cmd_mutant="none", engine_mutant="none",
                 sram_mutant="none"):
        W = layouts.fmt.flit_bits
        self.timing_only = bool(timing_only)
        #: bits of a line that hold control (:func:`.fields.control_bits`)
        self.control_bits = control_bits(layouts)
        #: uint64 words kept of each line and flit
        self.words = control_words(layouts) if timing_only else line_words(W)
        self.ni = nim.NetworkInterfaces(nodes=nodes, layouts=layouts, vcs=vcs,
                                        credits=buffer_depth, max_packet_flits=max_packet_flits,
                                        mesh_x=mesh_x, mesh_y=mesh_y, mutant=ni_mutant,
                                        cmd_mutant=cmd_mutant, timing_only=timing_only,
                                        words=self.words)
        self.sram = Scratchpads(nodes=nodes, lines=layouts.lines, width=W, read_ports=3,
                                read_clients=3, write_clients=3, banks=sram_banks,
                                page_lines=page_lines, words=self.words, mutant=sram_mutant)
        self.engine = en.MatrixEngines(nodes=nodes, layouts=layouts, p=matrix_p,
                                       data=not timing_only, mutant=engine_mutant)
        self.mutant = MUTANTS[mutant]
        clients = _read_clients(self.mutant)
        #: (port, client) of every reader in :data:`READERS`' order, flat
        self.reads = tuple(v for name in READERS for v in clients[name])
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.link_in = np.zeros_like(self.ni.link_data)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.counters = np.zeros((nodes, len(COUNTERS)), np.int64)
        #: the router's flits out of each port (``rtl.net.directions.PORTS`` order), kept by
        #: whatever models the router: the NI shows them with the core's counters as the
        #: registers of ``rtl.node.layouts.COUNTER_NAMES``
        self.router_flits = np.zeros((nodes, len(PORTS)), np.int64)
        #: per node, descriptor lines fetched that carry the timing-only model's mark of a
        #: value it does not compute (:meth:`check` raises on one)
        self.uncomputed = np.zeros(nodes, np.int64)

    @property
    def link_out(self):
        """The NI's output flit of the cycle (nodes, words)."""
        return self.ni.tx.link_data

    def _args(self):
        """The kernels' arguments: the blocks' arrays and parameters (the SRAM's page pool
        is rebuilt when it grows, so the tuple is made per call)."""
        e, s = self.engine, self.sram
        return (self.ni.arrays, self.ni.params,
                (e.state, e.desc, e.inputs, e.outputs, e.rd_a, e.rd_b, e.rd_c, e.a_hold,
                 e.b_hold, e.acc, e.prod, e.iprod, e.c_in, e.c0buf, e.wbbuf, e._su, e._sf,
                 e.wr_line),
                e.params,
                (s.rd_en, s.rd_grant, s.rd_addr, s.rd_data, s.wr_en, s.wr_addr, s.wr_grant,
                 s.wr_data, s.table, s.pool, s.used),
                (s.bank_lines, s.page_shift, s.mutant, int(self.timing_only),
                 int(self.ni.pull is not None)),
                (self.inputs, self.outputs, self.link_in, self.counters, self.router_flits,
                 self.uncomputed))

    def outputs_of_cycle(self):
        """Every node's outputs from its state and the inputs of the cycle."""
        _outputs_all(*self._args(), self.reads)

    def clock(self):
        """Every node's clock edge, after :meth:`outputs_of_cycle` of the cycle."""
        s = self.sram
        s.reserve(s.nodes * s.wr_en.shape[1])
        _clock_all(*self._args(), self.mutant)
        self.check()

    def check(self):
        """Raise if a step could not be modelled: a write found the SRAM's page pool full,
        or (timing only) a command queue fetched a descriptor line whose value only the full
        model has: an engine result or an ADD sum, here or at the node it came from."""
        if self.sram.used[POOL_OVERFLOWS]:
            raise AssertionError("a write found the page pool full")
        if self.uncomputed.any():
            node = int(np.flatnonzero(self.uncomputed)[0])
            raise RuntimeError(
                f"node {node}: a command queue fetched a descriptor computed by the matrix "
                f"engine or by an ADD (here or on the node it was copied from); the timing "
                f"depends on that value and only the full model computes it: run without "
                f"timing_only")

    def line(self, node, addr):
        """SRAM line ``addr`` of ``node`` as an int."""
        return self.sram.line(node, addr)
