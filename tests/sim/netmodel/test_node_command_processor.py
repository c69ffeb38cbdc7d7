# amaranth: UnusedElaboratable=no
"""The fast model of the command processor (sim.netmodel.node.command_processor) against its
RTL block.

An SRAM full of random descriptors (every opcode, every kind of malformed one), random
starts and aborts of both queues, and around the block what the NI does: an SRAM read
port that grants at random, a DMA and an engine that accept, refuse or are busy at random,
semaphores that the queues decrement and that random signals increment, DONE slots that
stay pending for a while. Every output compared every cycle.
"""

import collections
import random

import pytest

from rtl.net.packet import PacketFormat
from rtl.node.command_processor import CommandProcessor
from rtl.node.layouts import QUEUES, CmdError, CmdState, NodeLayouts
from rtl.node.mac import MacMode
from sim.netmodel.node.command_processor import (EXEC_DESC, INPUTS, OUTPUTS, PUSH_DESC,
                                                 QUEUE_OUTPUTS, CommandProcessors,
                                                 descriptor_fields)
from sim.netmodel.node.sram import int_to_words
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("command-processor")

CYCLES = 3000
LINES, MESH = 128, (3, 2)
#: lines of each queue's program region
REGION = LINES // QUEUES


def _layouts():
    return NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES, sems=4)


def random_descriptor(lay, rng, valid=False):
    """The lines of one random descriptor: with ``valid``, one that runs (addresses that
    stay inside the SRAM over a loop's iterations, destinations inside the mesh); else
    mostly well-formed, some out of range, some with an unknown opcode."""
    mx, my = MESH
    if valid:
        addr, coord, step = (lambda: rng.randrange(8, LINES - 16), rng.randrange,
                             lambda: rng.randint(-1, 1))
        count = lambda: rng.randint(1, 4)
        op = rng.choices(["PUSH", "SIGNAL", "EXEC", "WAIT", "PULL"], weights=[3, 3, 2, 3, 1])[0]
    else:
        addr, coord = lambda: rng.randrange(LINES), lambda m: rng.randrange(m + 1)
        step, count = lambda: rng.randint(-5, 5), lambda: rng.choice([0, 1, 3, 9, 60])
        op = rng.choices(["PUSH", "SIGNAL", "EXEC", "WAIT", "LOOP", "PULL", "HALT", "unknown"],
                         weights=[4, 2, 3, 4, 2, 2, 3, 2])[0]
    if op == "unknown":
        offset, width, _ = descriptor_fields(lay)[:3]
        bits = rng.getrandbits(lay.cmd_desc.size) & ~(((1 << width) - 1) << offset)
        bits |= rng.randint(7, (1 << width) - 1) << offset
        W = lay.fmt.flit_bits
        return [(bits >> (W * i)) & ((1 << W) - 1) for i in range(lay.cmd_lines)]
    sem = rng.randrange(lay.sems)
    args = {
        "PUSH": lambda: dict(desc=dict(src_addr=addr(), count=count(), dst_x=coord(mx),
                                       dst_y=coord(my), dst_addr=addr(),
                                       add=rng.randrange(2), dtype=rng.randrange(2),
                                       sem_inc=rng.randrange(2), sem=sem),
                             src_step=step(), dst_step=step()),
        "SIGNAL": lambda: dict(dst_x=coord(mx), dst_y=coord(my), sem=sem),
        "EXEC": lambda: dict(desc=dict(mode=rng.choice(list(MacMode)),
                                       accumulate=rng.randrange(2), m_tiles=rng.randrange(4),
                                       n_tiles=rng.randrange(4), k_tiles=rng.randrange(4),
                                       a_addr=addr(), b_addr=addr(), c_addr=addr()),
                             a_step=step() * 4, b_step=step() * 4, c_step=step() * 4),
        "WAIT": lambda: dict(sem=sem, n=rng.choice([1, 1, 2] if valid else [0, 1, 1, 2, 3])),
        "LOOP": lambda: dict(count=rng.choice([0, 1, 2, 3]), body=rng.choice([0, 1, 2, 3])),
        "PULL": lambda: dict(src_x=coord(mx), src_y=coord(my), src_addr=addr(),
                             count=count() if valid else rng.choice([0, 1, 4, 30]),
                             dst_addr=addr(), sem=sem, src_step=step(), dst_step=step()),
        "HALT": lambda: dict(code=rng.randrange(256)),
    }[op]()
    return lay.cmd(op, **args)


def random_program(lay, rng, slots):
    """A program of ``slots`` descriptors that runs to its HALT: valid descriptors, some in
    a loop of 2..4 iterations (the ring and shift patterns of the collectives)."""
    program = []
    while len(program) < slots - 1:
        left = slots - 1 - len(program)
        if left >= 3 and rng.random() < 0.3:
            body = rng.randint(1, min(3, left - 1))
            program.append(lay.cmd("LOOP", count=rng.randint(2, 4), body=body))
            program += [random_descriptor(lay, rng, valid=True) for _ in range(body)]
        else:
            program.append(random_descriptor(lay, rng, valid=True))
    program.append(lay.cmd("HALT", code=rng.randrange(128)))
    return [line for d in program for line in d]


class Harness:
    """What the NI does around the command processor, from the block's outputs: the SRAM
    read port, the DMA, the engine, the semaphores, the DONE slots (random, legal)."""

    def __init__(self, lay, rng, malformed):
        self.lay, self.rng = lay, rng
        # malformed: most starts run random descriptors, at random addresses too, and the
        # DMA and the engine often refuse; else programs that run, rarely refused
        self.programs, self.refuse = (0.3, 0.15) if malformed else (1.0, 0.01)
        self.anywhere = 2 if malformed else 0
        # per queue a program region (at ``q * REGION``), rewritten at each start: a
        # program that runs, or random descriptors
        self.mem = [0] * LINES
        for q in range(QUEUES):
            self._program(q)
        self.data = 0
        self.sems = [0] * lay.sems
        self.pending = [0] * QUEUES          # cycles until the DONE slot is free again
        self.dma_busy = self.exec_busy = 0
        self.exec_left = 0

    def _program(self, q):
        lay, rng = self.lay, self.rng
        slots = REGION // lay.cmd_lines
        if rng.random() < self.programs:
            lines = random_program(lay, rng, rng.randint(4, slots))
            lines += [0] * (REGION - len(lines))
        else:
            lines = [line for _ in range(slots) for line in random_descriptor(lay, rng)]
        self.mem[q * REGION:(q + 1) * REGION] = lines

    def before(self):
        """The inputs that do not depend on this cycle's outputs."""
        rng, lay = self.rng, self.lay
        if rng.random() < 0.02:               # the host writes a new descriptor
            at = rng.randrange(0, LINES, lay.cmd_lines)
            self.mem[at:at + lay.cmd_lines] = random_descriptor(lay, rng)
        start = abort = 0
        pcs = [0] * QUEUES
        ctrl_wr = rng.random() < 0.03
        if ctrl_wr and rng.random() < 0.3:
            abort = rng.randrange(1, 1 << QUEUES)
        elif ctrl_wr:
            start = rng.choice([1, 2, 3, 3, 3])
            pcs = [rng.choice([q * REGION] * 6 + [rng.randrange(0, LINES, lay.cmd_lines),
                                                  LINES - 1][:6 + self.anywhere])
                   for q in range(QUEUES)]
            for q in range(QUEUES):
                if start >> q & 1 and rng.random() < 0.8:
                    self._program(q)
        exec_done = self.exec_busy and self.exec_left == 0
        return dict(ctrl_wr=int(ctrl_wr), start=start, abort=abort, ctrl_x=rng.randrange(8),
                    ctrl_y=rng.randrange(8), exec_done=int(exec_done),
                    **{f"pc{q}": pcs[q] for q in range(QUEUES)},
                    **{f"pending{q}": int(self.pending[q] > 0) for q in range(QUEUES)})

    def after(self, out):
        """The answers to this cycle's requests ``out`` (the RTL's outputs by name)."""
        rng = self.rng
        seen = dict(dma_seen=int(rng.random() < 0.85), dma_ok=int(rng.random() >= self.refuse),
                    exec_seen=int(rng.random() < 0.85),
                    exec_ok=int(rng.random() >= self.refuse))
        return dict(sram_grant=int(out["sram_en"] and rng.random() < 0.75),
                    dma_go=int(out["dma_req"] and seen["dma_seen"] and seen["dma_ok"]
                               and not self.dma_busy),
                    exec_go=int(out["exec_req"] and seen["exec_seen"] and seen["exec_ok"]
                                and not self.exec_busy), **seen)

    def edge(self, out, ins):
        """The clock edge of the surroundings."""
        rng = self.rng
        if ins["sram_grant"]:
            self.data = self.mem[out["sram_addr"]]
        if out["sem_dec"]:
            self.sems[out["sem_dec_idx"]] = max(0, self.sems[out["sem_dec_idx"]]
                                                - out["sem_dec_n"])
        # signals arrive now and then, so that WAITs both find their semaphore short and not
        self.sems = [s + (s < 3 and rng.random() < 0.03) for s in self.sems]
        for q in range(QUEUES):
            # pending from the next cycle until the response writer takes the DONE
            self.pending[q] = (rng.randint(1, 4) if out[f"halt{q}.arm"]
                               else max(0, self.pending[q] - 1))
        self.dma_busy = rng.randint(0, 8) if ins["dma_go"] else max(0, self.dma_busy - 1)
        if ins["exec_done"]:
            self.exec_busy = 0
        if ins["exec_go"]:
            self.exec_busy, self.exec_left = 1, rng.randint(0, 6)
        elif self.exec_left:
            self.exec_left -= 1


def _int(value):
    """A simulator value or a decoded field (an enum member too) as an int."""
    return int(getattr(value, "value", value))


def rtl_outputs(ctx, dut, lay):
    """The RTL block's outputs by name (descriptors and status as their fields)."""
    out = {name: ctx.get(getattr(dut, name)) for name in
           ("ctrl_error", "dma_req", "dma_read", "exec_req", "sem_dec", "sem_dec_idx",
            "sem_dec_n")}
    out["sram_en"], out["sram_addr"] = ctx.get(dut.sram.en), ctx.get(dut.sram.addr)
    for prefix, name in (("dma_", "push_desc"), ("exec_", "exec_desc")):
        value = ctx.get(getattr(dut, prefix + "desc").as_value())
        out.update({prefix + k: _int(v) for k, v in lay.decode(name, value).items()})
    for q in range(QUEUES):
        for k in ("load", "x", "y", "tag", "opcode", "addr", "arm"):
            out[f"halt{q}.{k}"] = _int(ctx.get(getattr(dut.halt[q], k)))
        for k, v in lay.decode("cmd_status", ctx.get(dut.status[q])).items():
            out[f"status{q}.{k}"] = _int(v)
    return out


def model_outputs(cp):
    out = {name: int(cp.outputs[0, i]) for name, i in OUTPUTS.items()}
    for q in range(QUEUES):
        for k in ("load", "x", "y", "tag", "opcode", "addr", "arm"):
            out[f"halt{q}.{k}"] = int(cp.queue_out[0, q, QUEUE_OUTPUTS[k]])
        for k in ("state", "code", "pc"):
            out[f"status{q}.{k}"] = int(cp.queue_out[0, q, QUEUE_OUTPUTS[k]])
    return out


def lockstep(*, malformed, mutant="none", cycles=CYCLES, seed=1):
    """Run RTL and model (node 0 of two; node 1 stays idle) on the same stimulus
    (:class:`Harness`); returns how often each (state, code) ended a queue."""
    lay = _layouts()
    dut = CommandProcessor(layouts=lay, mesh_x=MESH[0], mesh_y=MESH[1])
    cp = CommandProcessors(nodes=2, layouts=lay, mesh_x=MESH[0], mesh_y=MESH[1], mutant=mutant)
    harness = Harness(lay, random.Random(seed), malformed)
    ends = collections.Counter()

    def drive(ctx, ins):
        """The inputs ``ins`` (by name) on both; the ctrl line's fields go in one write."""
        for name, value in ins.items():
            cp.inputs[0, INPUTS[name]] = value
            if name in ("start", "abort", "pc0", "pc1"):
                continue
            port = (dut.sram.grant if name == "sram_grant" else
                    dut.halt[int(name[-1])].pending if name.startswith("pending") else
                    getattr(dut, name))
            ctx.set(port, value)
        if "start" in ins:
            ctx.set(dut.ctrl.as_value(), lay.encode(
                "cmd_ctrl", start=ins["start"], abort=ins["abort"],
                **{f"pc{q}": ins[f"pc{q}"] for q in range(QUEUES)}))

    async def bench(ctx):
        for t in range(cycles):
            ins = harness.before()
            drive(ctx, ins)
            for i, s in enumerate(harness.sems):
                ctx.set(dut.sems[i], s)
                cp.sems[0, i] = s
            ctx.set(dut.sram.data, harness.data)
            cp.sram_data[0] = int_to_words(harness.data, cp.sram_data.shape[1])
            cp.outputs_of_cycle()
            out = rtl_outputs(ctx, dut, lay)
            mine = model_outputs(cp)
            compare(t, ((name, out[name], mine[name]) for name in out))
            answers = harness.after(out)
            drive(ctx, answers)
            for q in range(QUEUES):
                if out[f"halt{q}.arm"]:
                    ends[out[f"status{q}.state"], out[f"status{q}.code"]] += 1
            cp.clock()
            await ctx.tick()
            harness.edge(out, {**ins, **answers})

    simulate(dut, bench)
    return ends


def test_the_model_matches_the_rtl_on_malformed_descriptors():
    """Mostly random descriptors: every error, HALTs and aborts."""
    ends = lockstep(malformed=True)
    reached = {state for state, _ in ends}
    errors = {code for state, code in ends if state == CmdState.ERROR.value}
    assert {CmdState.HALTED.value, CmdState.ABORTED.value} <= reached
    assert errors == {int(e) for e in CmdError if e != CmdError.ABORT}, errors


def test_the_model_matches_the_rtl_on_programs():
    """Programs that run (loops, waits, both queues contending for the DMA and the engine)."""
    ends = lockstep(malformed=False)
    assert sum(n for (state, _), n in ends.items() if state == CmdState.HALTED.value) > 10


@pytest.mark.parametrize("mutant", ["wait_one_too_few", "signal_behind_push", "loop_one_short"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(malformed=False, mutant=mutant)
