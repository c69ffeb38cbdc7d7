"""Scratchpad: fixed-priority arbitration, one-cycle reads, transparency, parameters."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.node.sram import Scratchpad, sram_lines


def test_sram_lines():
    assert sram_lines(4, 64) == 512
    assert sram_lines(1280, 1024) == 10240
    with pytest.raises(ValueError, match="not a whole number of 64-bit lines"):
        sram_lines(0.001, 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"lines": 1, "width": 64}, "lines must be an integer in 2"),
    ({"lines": 16, "width": 64, "read_ports": 0}, "read_ports must be an integer in 1..4"),
    ({"lines": 16, "width": 64, "write_clients": 5}, "write_clients must be an integer in 1..4"),
])
def test_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Scratchpad(**kwargs)


@pytest.mark.parametrize("lines, banks", [(16, 1), (24, 2), (24, 4)],
                         ids=["one-bank", "2-banks-of-12", "4-banks-of-6"])
def test_random_traffic_against_model(lines, banks):
    """Random requests from every client; granted writes update a model, granted
    reads return the model's value (including a write to the same line in the same
    cycle: transparent), lower client index always wins; with banks, one write per
    bank per cycle (banks of any size, not only powers of two)."""
    width, wclients = 32, 3
    depth = lines // banks
    dut = Scratchpad(lines=lines, width=width, read_ports=2, read_clients=2,
                     write_clients=wclients, banks=banks)
    rng = random.Random(3)
    model = [0] * lines
    errors = []
    both = [0]                          # cycles with writes granted to two banks at once

    async def bench(ctx):
        for cycle in range(600):
            reqs = {}
            for p in range(2):
                for c in range(2):
                    en = rng.random() < 0.5
                    addr = rng.randrange(lines)
                    ctx.set(dut.read[p][c].en, en)
                    ctx.set(dut.read[p][c].addr, addr)
                    reqs[p, c] = (en, addr)
            wreq = []
            for c in range(wclients):
                en = rng.random() < 0.6
                addr, data = rng.randrange(lines), rng.getrandbits(width)
                ctx.set(dut.write[c].en, en)
                ctx.set(dut.write[c].addr, addr)
                ctx.set(dut.write[c].data, data)
                wreq.append((en, addr, data))
            # grants this cycle (combinational): per bank, the first client asking for it
            winners = {}
            for c, (en, addr, _) in enumerate(wreq):
                if en and addr // depth not in winners:
                    winners[addr // depth] = c
            for c in range(wclients):
                if ctx.get(dut.write[c].grant) != (c in winners.values()):
                    errors.append(f"cycle {cycle}: write grant {c} wrong")
            both[0] += len(winners) > 1
            model_after = list(model)
            for c in winners.values():
                model_after[wreq[c][1]] = wreq[c][2]
            new_pending = []
            for p in range(2):
                winner = next((c for c in range(2) if reqs[p, c][0]), None)
                for c in range(2):
                    if ctx.get(dut.read[p][c].grant) != (c == winner):
                        errors.append(f"cycle {cycle}: read grant {p}/{c} wrong")
                if winner is not None:
                    new_pending.append((p, winner, model_after[reqs[p, winner][1]]))
            await ctx.tick()
            for p, c, expected in new_pending:
                got = ctx.get(dut.read[p][c].data)
                if got != expected:
                    errors.append(f"cycle {cycle}: port {p} read {got:#x}, expected {expected:#x}")
            model[:] = model_after

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, errors[:5]
    assert (both[0] > 50) == (banks > 1)


def test_bank_parameters():
    with pytest.raises(ValueError, match="banks must be 1, 2 or 4 and divide lines=10"):
        Scratchpad(lines=10, width=8, banks=4)
    with pytest.raises(ValueError, match="banks must be 1, 2 or 4"):
        Scratchpad(lines=12, width=8, banks=3)
