# amaranth: UnusedElaboratable=no
"""The fast model of the network interface (sim.netmodel.node.ni) against its RTL block.

Around the NI: a router's output that sends every kind of request (and, on the response
VCs, READ_RESPs and DONEs) within the credits the NI returns, a router's input that returns
the NI's credits a few cycles late, an SRAM behind the NI's ports (the command queues'
programs in it, writes landing, reads answered the next cycle, the command and PULL ports
granted at random) and an engine that accepts and runs EXECs at random. Every NI output
compared every cycle; the registers are compared through the READ_RESPs that read them.
"""

import collections
import random

import pytest

from rtl.net.packet import MsgClass, Opcode, PacketFormat
from rtl.node.layouts import COUNTER_NAMES, QUEUES, NodeLayouts
from rtl.node.ni import NetworkInterface
from sim.netmodel.node.ni import INPUTS, OUTPUTS, NetworkInterfaces
from sim.netmodel.node.sram import int_to_words, words_to_int
from tests.sim.netmodel.lockstep import compare, one_worker, simulate
from tests.sim.netmodel.test_node_command_processor import LINES, MESH, REGION, random_program

# the NI runs every NI block's compiled model: their own tests' workers may compile them at
# the same time (numba's disk cache is not safe against that)
pytestmark = one_worker("ni")

CYCLES = 800
#: (vcs, credits, max_packet_flits)
CONFIGS = [(2, 2, 5), (1, 3, 4), (4, 2, 6)]
XY = (1, 1)


def random_packet(lay, rng, max_len):
    """``(flits, bad)`` of one random request (or response, or malformed packet)."""
    fmt, A = lay.fmt, lay.addr_bits
    W = fmt.flit_bits
    kind = rng.choices(["store", "ctrl", "read", "push", "exec", "response", "opcode"],
                       weights=[6, 1, 4, 2, 2, 1, 1])[0]
    reg = 1 << A
    mclass, length = MsgClass.REQUEST, None
    if kind == "store":
        op = rng.choice([Opcode.WRITE, Opcode.ADD])
        n = rng.choice([0, 1, 2, max_len - 1, max_len])
        addr = rng.choice([rng.randrange(lay.lines), lay.lines - 1, lay.lines - n,
                           reg | rng.randrange(4)]) & ((reg << 1) - 1)
        info = lay.encode("store_info", addr=addr, tag=rng.randrange(256),
                          ack=rng.randrange(2), sem_inc=rng.randrange(2),
                          sem=rng.randrange(lay.sems), dtype=rng.randrange(2))
    elif kind == "ctrl":
        op, n = Opcode.WRITE, rng.choice([1, 1, 1, 2])
        info = lay.encode("store_info", addr=reg | lay.registers.index("cmd_ctrl"),
                          tag=rng.randrange(256), ack=rng.randrange(2))
    elif kind == "read":
        op, n = Opcode.READ, rng.choice([0, 0, 0, 0, 1])
        count = rng.choice([0, 1, 2, max_len - 1, max_len])
        addr = rng.choice([rng.randrange(lay.lines), lay.lines - count,
                           reg | rng.randrange(len(lay.registers))]) & ((reg << 1) - 1)
        info = lay.encode("read_info", addr=addr, count=count, tag=rng.randrange(256))
    elif kind in ("push", "exec"):
        op = Opcode.PUSH if kind == "push" else Opcode.EXEC
        n = lay.push_flits if kind == "push" else lay.exec_flits
        n += rng.choice([0, 0, 0, 0, 1, -1])
        info = lay.encode("ctl_info", tag=rng.randrange(256), ack=rng.randrange(2))
    else:
        op = rng.choice(list(Opcode)) if kind == "response" else Opcode.DONE
        mclass = MsgClass.RESPONSE if kind == "response" else MsgClass.REQUEST
        n, info = rng.randrange(3), rng.getrandbits(lay.info_bits)
    n = max(n, 0)
    length = 1 + n if rng.random() < 0.9 else rng.choice([n, n + 2, 0])
    head = fmt.encode_head(dst=(0, 0), src=(rng.randrange(4), rng.randrange(4)), opcode=op,
                           length=length & 0xFF, mclass=mclass, info=info)
    body = [rng.getrandbits(W) for _ in range(n)]
    if kind == "ctrl" and body:
        body[0] = rng.getrandbits(lay.cmd_ctrl.size)
    return [head] + body, rng.random() < 0.05


class Router:
    """The router's side of the NI's link: packets into the NI within its credits, and the
    NI's flits taken, their credits returned a few cycles later."""

    def __init__(self, lay, vcs, credits, max_len, rng):
        self.lay, self.rng, self.vcs, self.max_len = lay, rng, vcs, max_len
        self.credits = [credits] * vcs
        self.packets = [collections.deque() for _ in range(vcs)]   # (flit, last) under way
        self.returns = [collections.deque() for _ in range(vcs)]

    def _response(self):
        """A READ_RESP (lines for a PULL, or for nobody) or a DONE."""
        lay, rng = self.lay, self.rng
        op = rng.choice([Opcode.READ_RESP, Opcode.READ_RESP, Opcode.DONE])
        n = rng.randint(1, self.max_len - 1) if op == Opcode.READ_RESP else 0
        info = lay.encode("resp_info", tag=rng.randrange(256), req_op=Opcode.READ,
                          addr=rng.randrange(4))
        head = lay.fmt.encode_head(dst=XY, src=(0, 1), opcode=op, length=n + 1,
                                   mclass=MsgClass.RESPONSE, info=info)
        return [head] + [rng.getrandbits(lay.fmt.flit_bits) for _ in range(n)]

    def _request(self):
        """A PUSH that runs, a ``cmd_ctrl`` write that starts both queues' programs, a
        signal (a WRITE of no lines that increments a completion counter: enough of them
        saturate it), or any request of :func:`random_packet`."""
        lay, rng = self.lay, self.rng
        kind = rng.choices(["push", "start", "signal", "any"], weights=[2, 1, 2, 5])[0]
        if kind == "any":
            return random_packet(lay, rng, self.max_len)[0]
        if kind == "signal":
            info = lay.encode("store_info", addr=rng.randrange(LINES), tag=rng.randrange(256),
                              ack=rng.randrange(2), sem_inc=1, sem=rng.randrange(2))
            return [lay.fmt.encode_head(dst=XY, src=(0, 1), opcode=Opcode.WRITE, length=1,
                                        info=info)]
        if kind == "push":
            desc = dict(src_addr=rng.randrange(LINES - 8), count=rng.randint(0, 7),
                        dst_x=rng.randrange(MESH[0]), dst_y=rng.randrange(MESH[1]),
                        dst_addr=rng.randrange(LINES - 8), add=rng.randrange(2),
                        dtype=rng.randrange(2), sem_inc=rng.randrange(2),
                        sem=rng.randrange(lay.sems))
            info = lay.encode("ctl_info", tag=rng.randrange(256), ack=rng.randrange(2))
            body = lay.desc_flits("push_desc", **desc)
            op = Opcode.PUSH
        else:
            info = lay.encode("store_info", addr=lay.reg_base + lay.registers.index("cmd_ctrl"),
                              tag=rng.randrange(256), ack=rng.randrange(2))
            body = [lay.encode("cmd_ctrl", start=rng.randint(1, 3), abort=0,
                               **{f"pc{q}": q * REGION for q in range(QUEUES)})]
            op = Opcode.WRITE
        head = lay.fmt.encode_head(dst=XY, src=(0, 1), opcode=op, length=1 + len(body),
                                   info=info)
        return [head] + body

    def flit(self):
        """``(vc, last, data)`` of this cycle, or None."""
        rng, vcs = self.rng, self.vcs
        for v in range(vcs):
            if not self.packets[v] and rng.random() < 0.3:
                flits = self._response() if v >= max(1, vcs // 2) else self._request()
                self.packets[v].extend((f, int(i == len(flits) - 1))
                                       for i, f in enumerate(flits))
        ready = [v for v in range(vcs) if self.packets[v] and self.credits[v]]
        if not ready or rng.random() < 0.2:
            return None
        v = rng.choice(ready)
        data, last = self.packets[v].popleft()
        self.credits[v] -= 1
        return v, last, data

    def credit_back(self, t):
        """The credit bits the router returns this cycle (one per VC at most)."""
        bits = 0
        for v in range(self.vcs):
            if self.returns[v] and self.returns[v][0] <= t:
                self.returns[v].popleft()
                bits |= 1 << v
        return bits


class Sram:
    """The scratchpad behind the NI's ports: programs in it, reads answered next cycle."""

    def __init__(self, lay, rng):
        self.rng = rng
        self.mem = [rng.getrandbits(lay.fmt.flit_bits) for _ in range(LINES)]
        # queue 0 a random program; queue 1 PULLs (of lines anywhere: any READ_RESP that
        # arrives while one is under way is written), then a HALT
        program = random_program(lay, rng, rng.randint(4, REGION // lay.cmd_lines))
        pulls = [lay.cmd("PULL", src_x=rng.randrange(MESH[0]), src_y=rng.randrange(MESH[1]),
                         src_addr=0, count=rng.randint(2, 6), dst_addr=rng.randrange(8),
                         sem=rng.randrange(lay.sems)) for _ in range(3)]
        pulls = [line for d in pulls for line in d] + lay.cmd("HALT", code=5)
        for q, lines in enumerate((program, pulls)):
            self.mem[q * REGION:q * REGION + len(lines)] = lines
        self.data = {"rx": 0, "dma": 0, "cmd": 0}

    def edge(self, reads, writes):
        """``reads``: port -> address read this cycle (or None); ``writes``: (addr, line)."""
        for addr, line in writes:
            self.mem[addr] = line
        for port, addr in reads.items():
            if addr is not None:
                self.data[port] = self.mem[addr]


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """RTL and model (node 0 of two; node 1 sees nothing) in the same surroundings; returns
    counts of what happened."""
    vcs, credits, max_len = config
    # 2-bit completion counters: they saturate within the run
    lay = NodeLayouts(fmt=PacketFormat(flit_bits=64, coord_bits=3), lines=LINES, sems=4,
                      counter_bits=2)
    W = lay.fmt.flit_bits
    dut = NetworkInterface(layouts=lay, vcs=vcs, credits=credits, max_packet_flits=max_len,
                           mesh_x=MESH[0], mesh_y=MESH[1])
    model = NetworkInterfaces(nodes=2, layouts=lay, vcs=vcs, credits=credits,
                              max_packet_flits=max_len, mesh_x=MESH[0], mesh_y=MESH[1],
                              mutant=mutant)
    rng = random.Random(seed)
    router, sram = Router(lay, vcs, credits, max_len, rng), Sram(lay, rng)
    words = model.link_data.shape[1]
    exec_left = -1                           # cycles until the running EXEC is done
    seen = collections.Counter()

    def rtl_outputs(ctx):
        out = {"o_valid": ctx.get(dut.o.valid), "o_last": ctx.get(dut.o.last),
               "o_vc": ctx.get(dut.o.vc), "o_data": ctx.get(dut.o.data),
               "i_credit": ctx.get(dut.i.credit), "exec_start": ctx.get(dut.exec_start),
               "errors": ctx.get(dut.errors), "status": ctx.get(dut.status),
               "wr_data": ctx.get(dut.sram_wr.data), "pull_data": ctx.get(dut.sram_pull.data)}
        for port in ("rx", "dma", "cmd"):
            out[port + "_en"] = ctx.get(getattr(dut, "sram_" + port).en)
            out[port + "_addr"] = ctx.get(getattr(dut, "sram_" + port).addr)
        for port, name in (("wr", "wr"), ("pull", "pull")):
            out[name + "_en"] = ctx.get(getattr(dut, "sram_" + port).en)
            out[name + "_addr"] = ctx.get(getattr(dut, "sram_" + port).addr)
        desc = lay.decode("exec_desc", ctx.get(dut.exec_desc.as_value()))
        out.update({"x_" + k: int(getattr(v, "value", v)) for k, v in desc.items()})
        return out

    def model_outputs():
        out = {name: int(model.outputs[0, i]) for name, i in OUTPUTS.items()}
        out["o_data"] = words_to_int(model.tx.link_data[0])
        out["wr_data"] = words_to_int(model.sink.wr_line[0])
        out["pull_data"] = words_to_int(model.pull.wr_line[0]) if model.pull else 0
        return out

    async def bench(ctx):
        nonlocal exec_left
        ctx.set(dut.x, XY[0])
        ctx.set(dut.y, XY[1])
        for t in range(cycles):
            flit = router.flit()
            vc, last, data = flit if flit else (0, 0, 0)
            exec_done = exec_left == 0
            ins = dict(x=XY[0], y=XY[1], link_valid=int(flit is not None), link_last=last,
                       link_vc=vc, credit=router.credit_back(t),
                       cmd_grant=int(rng.random() < 0.75), pull_grant=int(rng.random() < 0.7),
                       exec_ok=int(rng.random() < 0.8), exec_busy=int(exec_left >= 0),
                       exec_done=int(exec_done), exec_cycles=rng.getrandbits(32),
                       exec_steps=rng.getrandbits(32),
                       **{f"counter_{c}": rng.getrandbits(32) for c in COUNTER_NAMES})
            for i, c in enumerate(COUNTER_NAMES):          # the node's event counters
                ctx.set(dut.counters[i], ins[f"counter_{c}"])
            for name, port in (("link_valid", dut.i.valid), ("link_last", dut.i.last),
                               ("link_vc", dut.i.vc), ("credit", dut.o.credit),
                               ("cmd_grant", dut.sram_cmd.grant),
                               ("pull_grant", dut.sram_pull.grant), ("exec_ok", dut.exec_ok),
                               ("exec_busy", dut.exec_busy), ("exec_done", dut.exec_done),
                               ("exec_cycles", dut.exec_cycles),
                               ("exec_steps", dut.exec_steps)):
                ctx.set(port, ins[name])
            ctx.set(dut.i.data, data)
            for name, i in INPUTS.items():
                model.inputs[0, i] = ins[name]
            model.link_data[0] = int_to_words(data, words)
            for port in ("rx", "dma", "cmd"):
                ctx.set(getattr(dut, "sram_" + port).data, sram.data[port])
                getattr(model, port + "_data")[0] = int_to_words(sram.data[port], words)
            model.outputs_of_cycle()
            out = rtl_outputs(ctx)
            mine = model_outputs()
            compare(t, ((name, out[name], mine[name]) for name in out))
            # the surroundings' edge
            if out["o_valid"]:
                router.returns[out["o_vc"]].append(t + rng.randint(1, 5))
                seen["sent"] += 1
            seen.update(k for k in ("exec_start", "wr_en", "pull_en", "dma_en", "cmd_en")
                        if out[k])
            for v in range(vcs):
                router.credits[v] += out["i_credit"] >> v & 1
            writes = ([(out["wr_addr"], out["wr_data"])] if out["wr_en"] else [])
            if out["pull_en"] and ins["pull_grant"]:
                writes.append((out["pull_addr"], out["pull_data"]))
            sram.edge({"rx": out["rx_addr"] if out["rx_en"] else None,
                       "dma": out["dma_addr"] if out["dma_en"] else None,
                       "cmd": out["cmd_addr"] if out["cmd_en"] and ins["cmd_grant"] else None},
                      writes)
            if exec_done:
                exec_left = -1
            elif exec_left > 0:
                exec_left -= 1
            if out["exec_start"]:
                exec_left = rng.randint(0, 6)
            seen["errors"] = out["errors"]
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return seen


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "v{}-c{}-m{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    seen = lockstep(config)
    expected = {"sent", "exec_start", "wr_en", "dma_en", "cmd_en", "errors"}
    expected |= {"pull_en"} if config[0] >= 2 else set()
    assert expected <= {k for k, n in seen.items() if n}, seen


@pytest.mark.parametrize("mutant", ["sem_wraps", "cmd_push_first"])
def test_a_wrong_model_fails_the_comparison(mutant):
    with pytest.raises(AssertionError, match=r"^cycle \d+: \w+: RTL 0x[0-9a-f]+, model "):
        lockstep(CONFIGS[0], mutant=mutant)
