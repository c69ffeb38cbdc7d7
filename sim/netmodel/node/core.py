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

One cycle is :meth:`NodeCores.outputs_of_cycle` then :meth:`NodeCores.clock`. The
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

:meth:`NodeCores.clock` is every block's edge from the values of that last evaluation; the
SRAM's edge lands the granted writes and loads the read ports' data registers, which the
NI and the engine see in the next cycle.

The core counts its share of the node's events (:data:`COUNTERS`: granted SRAM reads and
writes, the engine's array steps per dtype), as the main line's training node does.

Lines are kept (no timing-only mode yet: the command queues' programs and the DMA's and
parser's heads are SRAM lines, see the package docstring). The composition is Python over
the blocks' compiled steps, each stepping every node at once.
"""

import numpy as np

from rtl.net.directions import PORTS
from rtl.node.mac import MacMode
from sim.netmodel.node import engine as en
from sim.netmodel.node import ni as nim
from sim.netmodel.node.sram import Scratchpads

__all__ = ["NodeCores", "INPUTS", "OUTPUTS", "MUTANTS", "READ_CLIENTS", "WRITE_CLIENTS",
           "COUNTERS"]

#: deliberately wrong wirings, for the test that shows the RTL comparison catches them
MUTANTS = {"none": 0,
           "c_prefetch_before_dma": 1,    # the engine's C prefetch ranks above the DMA
           "engine_before_cmd_fetch": 2,  # the engine's A operand above the command fetch
           "reads_counted_when_asked": 3}  # sram_reads counts requests, not grants

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
                 mesh_x, mesh_y, sram_banks=1, page_lines=64, mutant="none",
                 ni_mutant="none", cmd_mutant="none", engine_mutant="none",
                 sram_mutant="none"):
        W = layouts.fmt.flit_bits
        self.ni = nim.NetworkInterfaces(nodes=nodes, layouts=layouts, vcs=vcs,
                                        credits=buffer_depth, max_packet_flits=max_packet_flits,
                                        mesh_x=mesh_x, mesh_y=mesh_y, mutant=ni_mutant,
                                        cmd_mutant=cmd_mutant)
        self.sram = Scratchpads(nodes=nodes, lines=layouts.lines, width=W, read_ports=3,
                                read_clients=3, write_clients=3, banks=sram_banks,
                                page_lines=page_lines, mutant=sram_mutant)
        self.engine = en.MatrixEngines(nodes=nodes, layouts=layouts, p=matrix_p,
                                       mutant=engine_mutant)
        self.mutant = MUTANTS[mutant]
        self.reads = _read_clients(self.mutant)
        self.inputs = np.zeros((nodes, len(INPUTS)), np.int64)
        self.link_in = np.zeros_like(self.ni.link_data)
        self.outputs = np.zeros((nodes, len(OUTPUTS)), np.int64)
        self.counters = np.zeros((nodes, len(COUNTERS)), np.int64)
        #: the router's flits out of each port (``rtl.net.directions.PORTS`` order), kept by
        #: whatever models the router: the NI shows them with the core's counters as the
        #: registers of ``rtl.node.layouts.COUNTER_NAMES``
        self.router_flits = np.zeros((nodes, len(PORTS)), np.int64)
        # the NI's exec_desc fields, in the engine's descriptor order
        self._desc_cols = [nim.OUTPUTS["x_" + f] for f in en.EXEC_FIELDS]

    @property
    def link_out(self):
        """The NI's output flit of the cycle (nodes, words)."""
        return self.ni.tx.link_data

    def _ni_outputs(self, exec_ok, cmd_grant, pull_grant):
        ni = self.ni
        ni.inputs[:, nim.N_EXEC_OK] = exec_ok
        ni.inputs[:, nim.N_CMD_GRANT] = cmd_grant
        ni.inputs[:, nim.N_PULL_GRANT] = pull_grant
        ni.outputs_of_cycle()

    def outputs_of_cycle(self):
        """Every node's outputs from its state and the inputs of the cycle."""
        ni, s, eng, ins = self.ni, self.sram, self.engine, self.inputs
        # the read ports' data registers: what each client sees this cycle
        ni.rx_data[:] = ni.cmd_data[:] = s.rd_data[:, READ_CLIENTS["rx"][0]]
        ni.dma_data[:] = s.rd_data[:, self.reads["dma"][0]]
        for port in ("rd_a", "rd_b", "rd_c"):
            getattr(eng, port)[:] = s.rd_data[:, READ_CLIENTS[port][0]]
        for name in INPUTS:
            ni.inputs[:, nim.INPUTS[name]] = ins[:, INPUTS[name]]
        for i, port in enumerate(PORTS):
            ni.inputs[:, nim.INPUTS[f"counter_flits_{port}"]] = self.router_flits[:, i]
        for i, name in enumerate(COUNTERS):
            ni.inputs[:, nim.INPUTS[f"counter_{name}"]] = self.counters[:, i]
        ni.link_data[:] = self.link_in
        # 1. the engine from its state; the NI with last cycle's desc_ok
        eng.outputs_of_cycle()
        eo = eng.outputs
        for name in ("busy", "done", "cycles", "steps"):
            ni.inputs[:, nim.INPUTS["exec_" + name]] = eo[:, en.OUTPUTS[name]]
        self._ni_outputs(eo[:, en.O_DESC_OK], 0, 0)
        # 2. desc_ok of the descriptor the NI shows; the NI's requests with it
        eng.desc[:] = ni.outputs[:, self._desc_cols]
        eng.outputs_of_cycle()
        exec_ok = eo[:, en.O_DESC_OK].copy()
        self._ni_outputs(exec_ok, 0, 0)
        # 3. the SRAM's grants; the NI with them
        no = ni.outputs
        s.rd_en[:] = 0
        requests = {"rx": no[:, nim.Y_RX_EN], "cmd": no[:, nim.Y_CMD_EN],
                    "dma": no[:, nim.Y_DMA_EN], "rd_a": eo[:, en.O_RD_A_EN],
                    "rd_b": eo[:, en.O_RD_B_EN], "rd_c": eo[:, en.O_RD_C_EN]}
        addrs = {"rx": no[:, nim.Y_RX_ADDR], "cmd": no[:, nim.Y_CMD_ADDR],
                 "dma": no[:, nim.Y_DMA_ADDR], "rd_a": eo[:, en.O_RD_A_ADDR],
                 "rd_b": eo[:, en.O_RD_B_ADDR], "rd_c": eo[:, en.O_RD_C_ADDR]}
        for name, (port, client) in self.reads.items():
            s.rd_en[:, port, client] = requests[name]
            s.rd_addr[:, port, client] = addrs[name]
        for name, en_col, addr in (("wr", no[:, nim.Y_WR_EN], no[:, nim.Y_WR_ADDR]),
                                   ("pull", no[:, nim.Y_PULL_EN], no[:, nim.Y_PULL_ADDR]),
                                   ("engine", eo[:, en.O_WR_EN], eo[:, en.O_WR_ADDR])):
            s.wr_en[:, WRITE_CLIENTS[name]] = en_col
            s.wr_addr[:, WRITE_CLIENTS[name]] = addr
        s.grants()
        grant = lambda name: s.rd_grant[:, self.reads[name][0], self.reads[name][1]]
        self._ni_outputs(exec_ok, grant("cmd"), s.wr_grant[:, WRITE_CLIENTS["pull"]])
        # the engine's start and grants; the write ports' lines
        eng.inputs[:, en.I_START] = no[:, nim.Y_EXEC_START]
        for port in ("rd_a", "rd_b", "rd_c"):
            eng.inputs[:, en.INPUTS[port + "_grant"]] = grant(port)
        eng.inputs[:, en.I_WR_GRANT] = s.wr_grant[:, WRITE_CLIENTS["engine"]]
        s.wr_data[:, WRITE_CLIENTS["wr"]] = ni.sink.wr_line
        if ni.pull is not None:
            s.wr_data[:, WRITE_CLIENTS["pull"]] = ni.pull.wr_line
        s.wr_data[:, WRITE_CLIENTS["engine"]] = eng.wr_line
        # the core's outputs (TrainingNode's busy and overflow, the router's part left out)
        out, status = self.outputs, no[:, nim.Y_STATUS]
        for name in ("o_valid", "o_last", "o_vc", "i_credit", "errors"):
            out[:, OUTPUTS[name]] = no[:, nim.OUTPUTS[name]]
        out[:, OUTPUTS["busy"]] = (status & 3) != 0
        out[:, OUTPUTS["overflow"]] = status >> 2 & 1

    def clock(self):
        """Every node's clock edge, after :meth:`outputs_of_cycle` of the cycle."""
        s, st, counts = self.sram, self.engine.state, self.counters
        reads = s.rd_en if self.mutant == MUTANTS["reads_counted_when_asked"] else s.rd_grant
        counts[:, COUNTERS.index("sram_reads")] += reads.sum(axis=(1, 2), dtype=np.int64)
        counts[:, COUNTERS.index("sram_writes")] += s.wr_grant.sum(axis=1, dtype=np.int64)
        mode = st[:, en.E_MODE].copy()           # the engine's mode output before the edge
        self.ni.clock()
        self.engine.clock()
        self.sram.clock()
        step = st[:, en.E_X_VALID]               # the edge's array step (its X stage loaded)
        counts[:, COUNTERS.index("mac_steps_bf16")] += step & (mode == _BF16)
        counts[:, COUNTERS.index("mac_steps_int8")] += step & (mode == _INT8)
        counts &= 0xFFFFFFFF

    def line(self, node, addr):
        """SRAM line ``addr`` of ``node`` as an int."""
        return self.sram.line(node, addr)
