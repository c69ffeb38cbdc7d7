"""The fast engine's host models (sim.netmodel.host): the coroutine loop's order and the
tile-edge rings they use. Their timing against the RTL is test_node_tile's."""

import pytest

from gen.config import load_config
from gen.derive import derive
from rtl.net.directions import PORTS
from sim.netmodel import kernel
from sim.netmodel.host import Event, Loop
from sim.netmodel.network import NetworkModel


def test_the_loop_runs_coroutines_in_cocotbs_order():
    """gather's coroutines start before anything else scheduled, in their order; woken
    coroutines run in the order their events were set; gather returns the results in
    order."""
    loop, log = Loop(), []
    events = [Event(loop) for _ in range(3)]

    async def child(i):
        log.append(f"start {i}")
        await events[i]
        log.append(f"woken {i}")
        return i * 10

    async def other():
        log.append("other")

    async def main():
        loop.spawn(other())
        return await loop.gather(child(0), child(1), child(2))

    task = loop.spawn(main())
    loop.run_ready()
    # cocotb: the gathered coroutines run before the other scheduled ones
    assert log == ["start 0", "start 1", "start 2", "other"], log
    log.clear()
    events[2].set()
    events[0].set()
    loop.run_ready()
    assert log == ["woken 2", "woken 0"] and not task.done
    events[1].set()
    loop.run_ready()
    assert task.done and task.result == (0, 10, 20)


def test_edge_rings_take_every_tile_edge_link():
    cfg = load_config("configs/default.yaml", [])
    d = derive(cfg)
    plain, net = NetworkModel(cfg, d), NetworkModel(cfg, d, edge_rings=True)
    assert net.rings == plain.rings + 16 and len(net.edge_ring) == 16
    geo = dict(zip(kernel.Geometry._fields, net.geometry))
    for (x, y, direction), ring in net.edge_ring.items():
        c = 5 * net.node(x, y) + PORTS.index(direction)
        assert geo["out_ring"][c] == ring and geo["in_cring"][c] == ring
        assert geo["ring_chan"][ring] == c
    # the on-die and die-link geometry is the plain network's
    for name in ("out_rcv", "in_csnd", "dl_in", "dl_out"):
        assert (geo[name] == dict(zip(kernel.Geometry._fields, plain.geometry))[name]).all()


def test_edge_rings_refuse_link_pipeline_stages():
    cfg = load_config("configs/default.yaml", ["node.pitch_mm=2.0", "router.buffer_depth=5"])
    with pytest.raises(ValueError, match="edge rings with link pipeline stages"):
        NetworkModel(cfg, derive(cfg), edge_rings=True)


def test_a_host_refuses_a_node_it_cannot_reach_and_queues_nothing():
    """The fast engine's hosts queue requests without verif.link packets, but refuse what
    verif.host refuses: a node dimension-order routing never brings their packets to."""
    from gen.build import compute_tile
    from sim.netmodel.host import tile_model
    cfg = load_config("configs/default.yaml", [])
    d = derive(cfg)
    tile = tile_model(compute_tile(cfg, engine="model", derived=d), cfg, d)
    host = tile.hosts[0]
    far = next(n for n in tile.nodes if not host.reaches(n))
    near = next(n for n in tile.nodes if host.reaches(n))
    with pytest.raises(ValueError, match=rf"cannot address node \({far[0]}, {far[1]}\)"):
        host.send([host.model.read(dst=far, src=host.address, addr=0, count=1)])
    assert not host.port.busy
    host.send([host.model.read(dst=near, src=host.address, addr=0, count=1)])
    assert host.port.queued == 1
