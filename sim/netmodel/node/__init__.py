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
  (:func:`~.ni.ni_outputs`, :func:`~.ni.ni_clock`).

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

Flits wider than 64 bits in the node kernel: timing-only cores only. Their flits need
only :func:`~.fields.control_bits`, 93 at the D1 preset (more than ``w1``'s 64: the
head's ``read_info`` ends at bit 71, a command descriptor at bit 92); bits 64.. ride in
the 33 bits 24..56 of ``w0`` that a node's flit leaves free and the routers carry
unchanged (:data:`sim.netmodel.nodekernel.W0_HIGH`), so no line store and no change of
the rings; held to the RTL at 128-bit flits with 9-bit coordinates, whose head fields
straddle bit 64 as D1's do (``test_node_timing_only``).

On the tile (:mod:`sim.netmodel.nodekernel` with the DieLinks stepped, and the hosts of
:mod:`sim.netmodel.host`: :class:`verif.host.Host`'s protocol on the edge links' rings,
running the same :mod:`verif.host_programs` steps as the RTL testbench), the default tile's
ring all-reduce, Cannon's GEMM and a run that makes the NI's double credits are held to the
RTL on every mesh link in every cycle (``tests/sim/netmodel/test_node_tile.py``).

On the tile, a timing-only run takes flits wider than 64 bits end to end: the hosts send
and receive control slices too (:class:`sim.netmodel.host.RingPort`'s ``control_bits``),
held to the RTL at 128-bit flits (``tests/sim/netmodel/test_node_tile_wide.py``); so the
D1 preset runs timing-only, its manifest from :class:`gen.build.TileDescription` (no
components built) and, with ``preload_data``, its data and programs written into the SRAM
(:func:`sim.netmodel.host.preload`).

The node kernel skips a quiescent core while nothing arrives for it (the idle shortcut:
:func:`.core.core_quiescent`, each block's ``*_quiescent`` test next to its clock, and the
node kernel's docstring), and models a fault map's disabled nodes as the RTL has them
(whole nodes given no work).

Not yet: in the node kernel, the full model's flits wider than 64 bits (a line store per
node indexed from ``w1``), link pipeline stages at the tile edge, dead routers, routing
tables and VC planes under nodes (``--engine model`` refuses them before any work,
:func:`sim.netmodel.host.model_problem`). The workloads run
on the model through :func:`sim.workloads.runners.run_tile` (``dojo sim --engine model
[--timing-only [--preload]]``).

How they compose: every block keeps its state as arrays with a leading node index (one row
per node, fields named by module constants) and offers ``@njit`` step functions taking the
node index, split like the RTL into a combinational evaluation (``*_outputs``: from the
state and the inputs that are combinational in the RTL) and a clock edge (``*_clock``: from
the state and every input of the cycle). A node kernel evaluates, per node and cycle, the
blocks' outputs in the order the RTL's combinational paths run (the requests of the SRAM's
clients, then :func:`~.sram.sram_grants`, then what depends on a grant: the engine's
``fire``, the DMA's and engine's ``go`` for the command processor), and then every block's
edge (and :func:`~.sram.sram_clock`) from the values of that cycle. Computed values (the
engine's numerics, the ADD pipeline's sums) are kept apart from control (grants, FSM state,
head flits), so a timing-only run skips them (see below).

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

Where the node's timing depends on values (read from the blocks' step functions: every
branch, grant and counter of the control half, and what it reads):

* **Head flits, every field but ``tag`` and ``dtype``.** The router routes on
  ``dst_x``/``dst_y`` (and the link's ``vc``/``last``); the RX buffer cuts segments by
  ``length`` (a packet whose tail does not come at its length is dropped whole); the
  request parser checks ``mclass``, ``opcode``, ``length`` and the info fields
  (``store_info.addr`` in range, its register bit selecting a ``cmd_ctrl`` write;
  ``read_info.addr``/``count``: how many lines a READ answers, from the SRAM or the
  registers; the PUSH/EXEC lengths), sends a DONE when ``ack`` is set, to
  ``src_x``/``src_y`` (the answer's route), counts ``sem_inc`` on ``sem``; the SRAM grants
  writes per bank by address; the pull writer writes a response only if its opcode is
  READ_RESP, at its ``resp_info.addr``. ``tag`` and ``store_info.dtype`` decide no cycle
  (they are carried: the tag is in the DONE the host waits for, the dtype picks the ADD's
  lanes).
* **Descriptor bodies**: a host's PUSH and EXEC (every field: ranges checked, counts,
  destinations, ``mode`` sets the steps per line, ``accumulate`` the C0 load, the tiles the
  loops, the addresses the write-back's banks); the line of a ``cmd_ctrl`` write (start,
  abort, start addresses).
* **Command programs: SRAM lines that are control because a command queue fetches them**
  (the opcode and every argument, LOOP counts, WAIT counts, PULL/SIGNAL destinations,
  steps, the HALT code). A program is written like any line (a host's WRITE, a PUSH or a
  PULL from another node), so a line is control by its later use, not by how it arrives.
* **Semaphores and the registers**: completion counters (saturating; a lost increment is
  an error), status, ``errors``/``responses``/``execs``; a READ of the register space
  answers with them. They are computed by control, never from payload.

Nothing else: the matrix engine's cycles depend on its descriptor only (no early-out, no
operand-dependent path: NaN, infinities and subnormals change values, not cycles); the
ADD pipeline takes three cycles in both lane formats; no block checks a payload (the node
has no parity or CRC; the die link's injected errors are bursts no longer than its CRC,
always detected, so a replay depends on the error stream, not on the flit's bits; the ADD
pipeline's forwarding picks a value, not a cycle).
The only way a computed value decides timing is a program line computed by the engine's
write-back or by an ADD: a program that writes its own descriptors with the matrix engine
or sums them in with ADDs. The timing-only model does not compute such a line: it writes
the mark :data:`~.fields.UNCOMPUTED` (every kept bit set) in its place, which travels like
a value (a PUSH, a READ answer, a PULL carry it to other nodes), and a command queue that
fetches a marked line stops the run with an error naming the node (``NodeCores.check``):
such a program needs the full model. A correct descriptor never reads as the mark (its
opcode field all ones is no opcode; the bits above a one-line descriptor are zero), so the
check raises only on values the model did not compute, or on a malformed descriptor.

**Timing-only mode** (``NodeCores(timing_only=True)``; one code path with the full model,
the flag run-time data, so both modes share one compiled kernel): no engine numerics
(operand, C0 and write-back buffers not allocated past one row), no ADD sums, and every
line and flit kept as its *control slice*, :func:`~.fields.control_words` uint64 words from
bit 0 that hold every head field, descriptor and ``cmd_ctrl`` line (the layouts decide it:
1 word, the whole flit, at 64-bit flits; 2 of 32 words, bits 0..92, at the D1 preset's
2048-bit flits, its command descriptor the widest at 93 bits). The slice moves exactly as
the full model moves lines (RX buffer, parser, ADD pipeline as a plain pipe, SRAM, DMA,
pull and response writers, link TX), because any line may turn out to be a program. So a
timing-only SRAM holds at most ``lines x control_words x 8`` bytes per node, and only the
pages written (80 KiB per D1 node at most; 9025 nodes fully written 0.7 GiB, not 11 GiB).
Held to the full model every cycle on the core's and the node kernel's scenarios (every
link's valid, last, VC and credit, every head, every register a host reads, every control
register and counter), with a wrong timing-only model (WRITE bodies taken for payload) it
catches and an ADD onto a program that it refuses: ``tests/sim/netmodel/test_node_timing_only.py``.
"""
