# amaranth: UnusedElaboratable=no
"""The fast model of the node's scratchpad (sim.netmodel.node.sram) against its RTL block.

Random requests on every client of every port (collisions made frequent by a small SRAM),
every grant and every port's data compared every cycle, then every line read back.
"""

import numpy as np
import pytest

from rtl.node.sram import Scratchpad
from sim.netmodel.node.sram import Scratchpads, int_to_words
from tests.sim.netmodel.lockstep import compare, one_worker, simulate

pytestmark = one_worker("sram")

CYCLES = 1500
#: (lines, width, read_ports, read_clients, write_clients, banks); 4 banks of 6 lines: a
#: bank boundary that is not a power of two
CONFIGS = [(16, 100, 2, 2, 2, 1), (24, 64, 2, 3, 3, 2), (24, 130, 1, 2, 4, 4)]


def lockstep(config, *, mutant="none", cycles=CYCLES, seed=1):
    """Drive RTL and model (node 0 of two; node 1 takes other requests, to show that the
    rows of nodes stay apart) with the same random requests, compare every cycle."""
    lines, width, ports, rclients, wclients, banks = config
    dut = Scratchpad(lines=lines, width=width, read_ports=ports, read_clients=rclients,
                     write_clients=wclients, banks=banks)
    model = Scratchpads(nodes=2, lines=lines, width=width, read_ports=ports,
                        read_clients=rclients, write_clients=wclients, banks=banks,
                        page_lines=4, mutant=mutant)
    rng = np.random.default_rng(seed)

    def outputs(ctx):
        for p in range(ports):
            for c in range(rclients):
                yield (f"read[{p}][{c}].grant", ctx.get(dut.read[p][c].grant),
                       model.rd_grant[0, p, c])
                yield (f"read[{p}][{c}].data", ctx.get(dut.read[p][c].data),
                       sum(int(w) << (64 * i) for i, w in enumerate(model.rd_data[0, p])))
        for c in range(wclients):
            yield f"write[{c}].grant", ctx.get(dut.write[c].grant), model.wr_grant[0, c]

    async def bench(ctx):
        for t in range(cycles + lines):
            readback = t >= cycles                    # read every line once at the end
            for p in range(ports):
                for c in range(rclients):
                    en = (p == 0 and c == 0) if readback else rng.random() < 0.4
                    addr = t - cycles if readback else int(rng.integers(lines))
                    ctx.set(dut.read[p][c].en, en)
                    ctx.set(dut.read[p][c].addr, addr)
                    model.rd_en[:, p, c] = en, rng.random() < 0.4
                    model.rd_addr[:, p, c] = addr, rng.integers(lines)
            for c in range(wclients):
                en = not readback and rng.random() < 0.4
                addr, value = int(rng.integers(lines)), int(rng.integers(1 << 62)) << (width - 62)
                value |= int(rng.integers(1 << 62))
                ctx.set(dut.write[c].en, en)
                ctx.set(dut.write[c].addr, addr)
                ctx.set(dut.write[c].data, value)
                model.wr_en[:, c] = en, not readback and rng.random() < 0.4
                model.wr_addr[:, c] = addr, rng.integers(lines)
                model.wr_data[0, c] = int_to_words(value, model.words)
                model.wr_data[1, c] = rng.integers(1 << 62, size=model.words)
            model.grants()
            compare(t, outputs(ctx))
            model.clock()
            await ctx.tick()

    simulate(dut, bench)
    return model


@pytest.mark.quick_first      # make check: the first configuration; make test: all
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "lines{}-w{}-r{}x{}-w{}-b{}".format(*c))
def test_the_model_matches_the_rtl_every_cycle(config):
    model = lockstep(config)
    lines = config[0]
    assert model.pages_used() == 2 * lines // 4          # every page of both nodes written


def test_a_timing_only_model_grants_the_same():
    """Without data the grants (all the timing there is) are the same and nothing is paged."""
    lines, width, ports, rclients, wclients, banks = CONFIGS[1]
    kw = dict(nodes=1, lines=lines, width=width, read_ports=ports, read_clients=rclients,
              write_clients=wclients, banks=banks)
    full, timing = Scratchpads(**kw), Scratchpads(**kw, data=False)
    rng = np.random.default_rng(2)
    for _ in range(500):
        rd_en = rng.integers(2, size=full.rd_en.shape)
        wr_en, wr_addr = rng.integers(2, size=wclients), rng.integers(lines, size=wclients)
        for m in (full, timing):
            m.rd_en[:], m.wr_en[0], m.wr_addr[0] = rd_en, wr_en, wr_addr
            m.grants()
            m.clock()
        assert (full.rd_grant == timing.rd_grant).all() and (full.wr_grant == timing.wr_grant).all()
    assert timing.pages_used() == 0 and full.pages_used() > 0


def test_a_line_never_written_takes_no_memory():
    model = Scratchpads(nodes=3, lines=1 << 16, width=2048, page_lines=64)
    model.wr_en[1, 0], model.wr_addr[1, 0] = 1, 40000
    model.wr_data[1, 0] = np.arange(32, dtype=np.uint64)
    model.grants()
    model.clock()
    page_bytes = 64 * 2048 // 8
    # one page used; the pool keeps the headroom of one cycle's writes, not 3 x 16 MiB
    assert model.pages_used() == 1 and model.pool.nbytes <= (1 + 3 * 2) * page_bytes
    assert model.line(1, 40000) == sum(i << (64 * i) for i in range(32))
    assert model.line(1, 40001) == 0 and model.line(0, 40000) == 0


@pytest.mark.parametrize("mutant, config", [("read_priority_reversed", CONFIGS[0]),
                                            ("one_write_per_cycle", CONFIGS[1]),
                                            ("read_not_transparent", CONFIGS[0])])
def test_a_wrong_model_fails_the_comparison(mutant, config):
    with pytest.raises(AssertionError, match=r"^cycle \d+: (read|write)\[.*: RTL 0x"):
        lockstep(config, mutant=mutant)


def test_lines_written_at_once_land_as_written_one_by_one():
    """write_lines (the preload's) leaves the pages, the page table and every line as
    write() per line does: the same pages allocated in the same order."""
    rng = np.random.default_rng(5)
    kw = dict(nodes=2, lines=1024, width=160, page_lines=16)
    one, many = Scratchpads(**kw), Scratchpads(**kw)
    for node, start, count in ((1, 40, 50), (0, 1000, 24), (1, 0, 3), (1, 60, 100)):
        addrs = [start + i for i in range(count) if rng.random() < 0.7]
        values = [int(rng.integers(1 << 62)) << 98 | int(rng.integers(1 << 62)) for _ in addrs]
        for a, v in zip(addrs, values):
            one.write(node, a, v)
        many.write_lines(node, addrs, values)
    assert np.array_equal(one.table, many.table)
    assert one.pages_used() == many.pages_used()
    assert np.array_equal(one.pool[:one.pages_used()], many.pool[:many.pages_used()])
    assert many.line(1, 60) == one.line(1, 60)
