"""The training node's blocks in the fast engine, each held cycle-exact to its RTL block.

What is modelled (one module per block, each with a lockstep test
``tests/sim/netmodel/test_node_<block>.py`` against the RTL block under Amaranth's
simulator):

* :mod:`.sram`: the scratchpad (:mod:`rtl.node.sram`): read ports and their client
  priorities, the banked write port, transparent reads, lines paged on first write.
* :mod:`.command_processor`: both descriptor queues, every descriptor and error, LOOP
  steps, semaphore waits, status, abort; the fixed priorities between the queues.
* :mod:`.engine`: the matrix engine's timing (tiling loops, C0 load, C prefetch, write-back,
  stalls on its ports) and numerics (the MAC pipeline, bf16 -> fp32 and int8 -> int32,
  bit-exact with :mod:`verif.golden`).
* :mod:`.request_parser`: the NI's request parser (round-robin over the request VCs, the
  head checks, WRITE/ADD bodies, READs of lines and registers, ``cmd_ctrl`` writes, PUSH/EXEC
  descriptors handed on, malformed packets dropped, responses drained on one VC).
* :mod:`.rx_buffer`: the NI's input buffer (a store-and-forward queue per VC, segments and
  their length check, the credit return).
* :mod:`.add_pipeline`: the NI's sink pipeline (WRITE, ADD as read-modify-write with
  forwarding, FP32 and INT32 lanes).
* :mod:`.push_dma`: the NI's PUSH engine (WRITE/ADD packets, signals, a PULL's READs; heads
  built with the RTL's layouts, reads issued only as far as the queue has room).
* :mod:`.pull_writer`: the NI's response sink (the response VCs drained a packet at a
  time, lowest first; a PULL's READ_RESP lines written into the SRAM).
* :mod:`.response_writer`: the NI's response writer (READ_RESP flits first, else the first
  pending DONE slot as a one-flit packet).
* :mod:`.link_tx`: the NI's output (request and response queues, round-robin onto one
  credit-honouring link, one VC's packet lock).
* :mod:`.numerics`: the numerical contract of :mod:`verif.golden` as scalar numba functions
  (the engine's MACs and the ADD lanes).
* :mod:`.ni`: the network interface composed from the blocks above as :mod:`rtl.node.ni`
  wires them, with the NI's own glue (the host's PUSH and EXEC before the command queues',
  the DONE slots' loads and arms, saturating completion counters, ``errors``/``responses``/
  ``execs``, the register space's read register), as numba step functions per node
  (:func:`~.ni.ni_outputs`, :func:`~.ni.ni_clock`); full model only so far.

* :mod:`.core`: the node's core, the NI, the SRAM and the engine wired to the SRAM's
  clients as :mod:`rtl.node.training_node` wires them, its interface the router's local
  port (the NI's link in and out); it counts the node's SRAM reads and writes and the
  engine's steps per dtype, and shows them with the router's flit counts (an input,
  ``router_flits``) as the NI's counter registers. One numba step per node and cycle
  (:func:`~.core.core_outputs`, :func:`~.core.core_clock`: the engine, the NI three times,
  the SRAM's grants, then every edge), so every node of an array steps in compiled code
  (one call per cycle for all of them).

* :mod:`sim.netmodel.nodekernel` (next to the network kernel): the cores on the network
  kernel's local ports, the routers the network kernel's own (its functions inlined), every
  active node's core stepped where :func:`~sim.netmodel.kernel._cycles` steps a generator
  and a sink. Flits of at most 64 bits: ``w0`` the destination of the packet's head (as
  :mod:`rtl.net.packet` lays it out) with ``last`` and ``vc``, ``w1`` the flit; the core's
  outputs are the registers of the cycle (ring tag ``t``, the router stepped after the
  core); the NI's second credit of a cycle lands after the router, where a ring's credit
  does; the router's flits per port reach the core's ``router_flits`` two cycles late, as
  the RTL's counter registers see them. Held to the RTL by
  ``tests/sim/netmodel/test_node_kernel.py``: one node behind its router with a host in
  the neighbouring router's place (every output of the port, every cycle), and a row of
  two nodes exchanging PUSHes, SIGNALs and PULLs (every link both ways every cycle, every
  node's SRAM at the end).

On the tile (:mod:`sim.netmodel.nodekernel` with the DieLinks stepped, and the hosts of
:mod:`sim.netmodel.host`: :class:`verif.host.Host`'s protocol on the edge links' rings,
running the same :mod:`verif.host_programs` steps as the RTL testbench), the default tile's
ring all-reduce, Cannon's GEMM and a run that makes the NI's double credits are held to the
RTL on every mesh link in every cycle (``tests/sim/netmodel/test_node_tile.py``).

Not yet: a timing-only core (the command queues' programs and the heads the NI reads are
SRAM lines; the engine's values are not); in the node kernel, flits wider than 64 bits (a
line store per node indexed from ``w1``), an idle shortcut for the cores (every active core
is stepped every cycle, see the node kernel's docstring), link pipeline stages at the tile
edge, fault maps and VC planes under nodes; ``--engine model`` for the workloads
(:func:`sim.netmodel.host.run_programs` returns what the RTL runner
:func:`sim.workloads.runners.run_programs` does, held equal by the tile test: the workload
entries and the command line do not call it yet).

How they compose: every block keeps its state as arrays with a leading node index (one row
per node, fields named by module constants) and offers ``@njit`` step functions taking the
node index, split like the RTL into a combinational evaluation (``*_outputs``: from the
state and the inputs that are combinational in the RTL) and a clock edge (``*_clock``: from
the state and every input of the cycle). A node kernel evaluates, per node and cycle, the
blocks' outputs in the order the RTL's combinational paths run (the requests of the SRAM's
clients, then :func:`~.sram.sram_grants`, then what depends on a grant: the engine's
``fire``, the DMA's and engine's ``go`` for the command processor), and then every block's
edge (and :func:`~.sram.sram_clock`) from the values of that cycle. Data (line values) is
kept apart from control (grants, FSM state, head flits), so a timing-only run skips the data
arrays and functions (each block takes ``data=False``).

How they compile (what keeps the cold compile short: docs/testing.md, issue 29): a block's
step functions are numba functions of their own, compiled once per signature and cached in
their block's file, and called (not inlined) by the NI and the core; only glue is inlined
(:func:`~.ni.ni_clock` and the core's steps into the core's two kernels; small helpers
within a block). Numba links a callee's code into every caller and optimises it again
there, so each level of calls costs a recompilation of everything below it: keep the call
tree shallow (blocks, then :func:`~.ni.ni_outputs`, then the kernel that loops over the
nodes). Inlining a block that is called three times (``ni_outputs`` in the core) or a large
helper called from many places (the command processor's descriptor fields) multiplied the
compile time; a numba function called with an integer constant is compiled once per
constant value (a ``Literal`` signature), so such arguments go in through a tuple (as the
descriptor fields do) or an array. Mutants are run-time integers in the parameter tuples,
never Python branches around compiled code, so a mutant shares the normal run's compile.

Numba's disk cache checks only the file of the function it caches: a change to
:mod:`.numerics` does not recompile the cached engine or ADD pipeline, and a cached caller
(:mod:`.ni`'s or :mod:`.core`'s kernels) keeps the code of the blocks it was compiled with:
after changing a block's file, clear ``sim/netmodel/node/__pycache__``. The node kernel
(:mod:`sim.netmodel.nodekernel`) clears its own cache when :mod:`sim.netmodel.kernel` or a
file of this package changes (a digest kept next to its cache).

Timing that depends on data: the command processor's descriptors are SRAM lines, so a
timing-only run keeps the lines its queues fetch (the programs the host writes); the RX
buffer checks each head's ``length`` and the pull writer reads each response head's opcode
and address, so head flits are control (kept whole in a timing-only run; only body lines
are data). The body of a PUSH or EXEC descriptor and the line of a ``cmd_ctrl`` write are
control as well (they decide what the DMA, the engine and the command queues do), and a
READ of the register space answers with register values.
"""
