"""The per-cycle link trace (sim.link_trace) against facts about the network it records.

Each fact could be false if a name pointed at the wrong signal, the cycle were
off, a field were misread or a link were missing: flits are conserved through
every router and die link and appear downstream strictly later, head flits
route XY toward their destination, packets have the programmed length, and a
packet alone in the network advances one hop per cycle on a die.
"""

from collections import defaultdict, deque

import pytest

from gen.build import noc_design, packet_format
from gen.config import load_config
from rtl.measure.traffic import rate_threshold
from sim.link_trace import run_link_trace
from sim.runner import available_simulators
from tests.conftest import CONFIGS
from verif.tb_link_trace import link_ends, link_paths

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif("verilator" not in available_simulators(),
                                 reason="needs Verilator")]

DESIGNS = {"die": ["tile.dies_x=1", "tile.dies_y=1"], "tile": []}


def _design(which):
    cfg = load_config(CONFIGS / "default.yaml", DESIGNS[which])
    return cfg, noc_design(cfg, kind="traffic")


def _check_flow(trace, ends):
    """Every flit into a router or die link leaves it later, and nothing else leaves."""
    into, out_of = defaultdict(list), defaultdict(list)
    for name, (src, dst) in ends.items():
        if dst is not None and dst[0] != "sink":
            into[dst[:3] if dst[0] == "router" else dst].append(name)
        if src[0] != "gen":
            out_of[src[:3] if src[0] == "router" else src].append(name)
    assert set(into) == set(out_of)
    for block in into:
        waiting = defaultdict(deque)          # data -> cycles it entered, in order
        for c, _vc, _last, data in sorted(e for n in into[block] for e in trace[n]):
            waiting[data].append(c)
        for c, _vc, _last, data in sorted(e for n in out_of[block] for e in trace[n]):
            assert waiting[data], f"{block}: flit {data:#x} leaves at {c} but never entered"
            entered = waiting[data].popleft()
            assert entered < c, f"{block}: flit {data:#x} entered at {entered}, left at {c}"
        assert not any(waiting.values()), f"{block}: flits entered but did not leave"


def _packets(entries):
    """``[(head cycle, head data, flits)]`` of one link, packets reassembled per VC."""
    open_, done = {}, []
    for c, vc, last, data in entries:
        if vc not in open_:
            open_[vc] = [c, data, 0]
        open_[vc][2] += 1
        if last:
            done.append(tuple(open_.pop(vc)))
    assert not open_, "a packet is cut off at the end of the trace"
    return done


@pytest.mark.parametrize("which", DESIGNS)
def test_loaded_network_conserves_and_routes(which):
    cfg, design = _design(which)
    man = design.manifest()
    fmt = packet_format(cfg)
    on = {"enable": 1, "rate": rate_threshold(0.2, 2), "pattern": "uniform", "packet_len": 2,
          "seed": 7}
    trace = run_link_trace(design, cycles=600, tag=f"test_loaded_{which}",
                           ctrl_schedule=[(0, on), (250, {**on, "enable": 0})])
    ends = link_ends(man)
    assert set(trace) == set(link_paths(man)) == set(ends)
    assert all(all(0 <= e[0] < 600 for e in v) for v in trace.values())
    generated = sum(len(trace[n]) for n in trace if n.startswith("g"))
    delivered = sum(len(trace[n]) for n in trace if n.endswith(".local"))
    # about 0.2 flits per node-cycle for 250 cycles; all of it delivered after the drain
    assert 0.7 * 0.2 * 250 * len(man["nodes"]) < generated == delivered
    # the ctrl word written at cycle c is registered twice (network, generator): the
    # generators are enabled in cycles 2..251 (head timestamp = generation cycle);
    # the first draw is the seed (7 ^ node < rate: every node fires at once); the
    # source queues drain after the stop
    stamps = [(c, fmt.decode_traffic_info(fmt.decode_head(data)["info"])["timestamp"])
              for n in trace if n.startswith("g") for c, data, _ in _packets(trace[n])]
    assert min(ts for _, ts in stamps) == 2 and max(ts for _, ts in stamps) <= 251
    assert all(c > ts for c, ts in stamps)
    if which == "tile":
        assert sum(len(trace[n]) for n in trace if n.startswith("d")) > 0
    assert cfg.router.routing == "xy"
    _check_flow(trace, ends)
    # the router output feeding each die link: d<k> carries what it decided
    feeder = {dst: src for src, dst in ends.values() if dst and dst[0] == "dielink"}
    for name, (src, dst) in ends.items():
        if dst is None:
            assert not trace[name], f"{name} leaves the mesh"
        packets = _packets(trace[name])
        assert all(n == 2 for _, _, n in packets), name
        if src[0] == "dielink":
            src = feeder[src]
        for _, data, _ in packets:
            head = fmt.decode_head(data)
            (dx, dy), (x, y) = head["dst"], src[1:3]
            assert head["length"] == 2, f"{name}: {head}"
            if src[0] == "gen":
                assert head["src"] == (x, y), f"{name}: from {head['src']}"
                continue
            # XY routing: x first, then y, then the sink
            ok = {"east": dx > x, "west": dx < x, "south": dx == x and dy > y,
                  "north": dx == x and dy < y, "local": (dx, dy) == (x, y)}[src[3]]
            assert ok, f"{name}: head to {head['dst']} on {src[3]} of ({x}, {y})"


@pytest.mark.parametrize("which", DESIGNS)
def test_zero_load_one_hop_per_cycle(which):
    """Rare 1-flit packets: one alone in the network visits the XY path's routers in
    order, one cycle per on-die hop (a die link takes longer), and reaches its sink."""
    cfg, design = _design(which)
    man = design.manifest()
    fmt = packet_format(cfg)
    # seed 0x8000: the first draw (the seed itself) does not fire at every node at once
    # about one packet per 30 cycles in the network
    on = {"enable": 1, "rate": rate_threshold(0.032 / len(man["nodes"]), 1), "pattern": "uniform",
          "seed": 0x8000}
    cycles = 3000
    trace = run_link_trace(design, cycles=cycles, tag=f"test_zero_load_{which}",
                           ctrl_schedule=[(0, on), (cycles - 200, {**on, "enable": 0})])
    ends = link_ends(man)
    seen = defaultdict(list)                       # head data -> [(cycle, link)]
    busy = defaultdict(int)                        # cycle -> flits on all links
    for name, entries in trace.items():
        for c, _vc, last, data in entries:
            assert last == 1
            seen[data].append((c, name))
            busy[c] += 1
    alone, crossing = 0, set()
    for data, hops in seen.items():
        hops.sort()
        t0, t1 = hops[0][0], hops[-1][0]
        own = defaultdict(int)
        for c, _ in hops:
            own[c] += 1
        # no other packet on any link from a little before it starts (one may be
        # hidden inside a die link) to its end
        if any(busy[c] != own[c] for c in range(t0 - 12, t1 + 1)):
            continue
        head = fmt.decode_head(data)
        (sx, sy), dst = head["src"], head["dst"]
        # the XY path: the links a lone packet must use, in order
        path, (x, y) = [f"g{sx}_{sy}"], (sx, sy)
        while (x, y) != dst:
            port = ("east" if dst[0] > x else "west") if dst[0] != x else \
                ("south" if dst[1] > y else "north")
            path.append(f"r{x}_{y}.{port}")
            nxt = ends[path[-1]][1]
            if nxt[0] == "dielink":
                path.append(f"d{nxt[1]}")
                nxt = ends[path[-1]][1]
            x, y = nxt[1], nxt[2]
        path.append(f"r{x}_{y}.local")
        assert [n for _, n in hops] == path, f"packet {head}: {hops}"
        for (c0, n0), (c1, n1) in zip(hops, hops[1:]):
            if n1.startswith("d"):
                crossing.add(c1 - c0)              # through the die link's serialiser
            else:
                assert c1 == c0 + 1, f"packet {head}: {hops}"
        alone += len(path) >= 3
    print(f"{alone} lone packets of {len(seen)} with a hop; die link crossing {crossing}")
    assert alone >= 10, f"only {alone} lone packets with a hop"
    # a lone flit crosses every die link in the same time (serialisation + latency)
    if which == "tile":
        assert len(crossing) == 1 and crossing.pop() > 1, crossing
