"""The uniform bound of a fault map scales (issue 27, item 2) and stays exact.

``gen.build.live_uniform_bound`` counts dimension-order routes around disabled nodes in
closed form and walks tables vectorised; both are compared here with the exhaustive walk
it replaced (every live pair, route by route, :func:`gen.routing.plane_routes`), on
small meshes with fault maps, with and without die-link weighting.
"""

import time

import numpy as np
import pytest

from gen.build import fault_setup, live_uniform_bound
from gen.config import load_config
from gen.routing import MeshShape, one_plane, plane_routes, source_vc, xy_tables


def exhaustive_bound(planes, live, die_ratio):
    """The walk live_uniform_bound used before: every pair's route, hop by hop."""
    s = planes.shape
    load = np.zeros(s.routers * 4)
    routes = {}
    for v, t in enumerate(planes.tables):
        used = [(a, b) for a in live for b in live if a != b and source_vc(planes, a, b) == v]
        if id(t) not in routes:
            routes[id(t)] = plane_routes(t, live)
        for pair in used:
            np.add.at(load, np.asarray(routes[id(t)][pair], dtype=np.int64), 1)
    ch = np.arange(s.routers * 4)
    x, y, port = (ch // 4) % s.mesh_x, (ch // 4) // s.mesh_x, ch % 4 + 1
    step = {1: (0, -1), 2: (1, 0), 3: (0, 1), 4: (-1, 0)}
    nx_ = x + np.array([step[p][0] for p in port])
    ny_ = y + np.array([step[p][1] for p in port])
    crossing = (x // s.nodes_x != nx_ // s.nodes_x) | (y // s.nodes_y != ny_ // s.nodes_y)
    load = np.where(crossing, load * die_ratio, load)
    worst = load.max(initial=0.0)
    return min(1.0, len(live) / worst) if worst else 1.0


def _setup_planes(cfg):
    setup = fault_setup(cfg)
    tables = setup.tables or xy_tables(MeshShape(*setup.shape), cfg.router.routing)
    return setup.planes or one_plane(tables), list(setup.fault_map.live_nodes)


TILE = ["tile.dies_x=2", "tile.dies_y=2", "die.nodes_x=3", "die.nodes_y=3"]
MESH = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=5", "die.nodes_y=4"]


@pytest.mark.parametrize("overrides", [
    TILE + ["die.disabled_nodes=[[0, 0], [1, 2]]"],
    TILE + ["die.disabled_nodes=[[1, 1]]", "router.routing=yx"],
    MESH + ["die.disabled_nodes=[[2, 0], [4, 3], [0, 2]]"],
    MESH + ["die.disabled_nodes=[[1, 1]]", "router.routing=yx"],
    MESH + ["router.routing=table", "die.dead_routers=[[2, 1]]"],
    MESH + ["router.routing=table", "die.dead_routers=[[2, 1]]", "router.vc_planes=false",
            "die.disabled_nodes=[[0, 3]]"],
    TILE + ["router.routing=table", "die.dead_routers=[[1, 1]]",
            "die.disabled_nodes=[[0, 2]]"],
    TILE + ["router.routing=table", "die.disabled_nodes=[[2, 2]]"],
], ids=lambda o: " ".join(o[4:]))
@pytest.mark.parametrize("ratio", [1, 3])
def test_fast_bound_equals_the_exhaustive_walk(overrides, ratio):
    cfg = load_config("configs/default.yaml", overrides + ["router.vcs=2"])
    planes, live = _setup_planes(cfg)
    assert live_uniform_bound(cfg, die_ratio=ratio) == pytest.approx(
        exhaustive_bound(planes, live, ratio), rel=1e-12)


def test_d1_tile_bound_takes_seconds():
    """The D1 preset's harvest map on the 5 x 5 tile (9025 routers, ~78M live pairs): the
    exhaustive walk did not finish in 10 minutes; the closed form takes well under one
    second. The bound is the full mesh's (the die links, 5 cycles a flit, are the
    bottleneck) times the live fraction at most."""
    cfg = load_config("configs/d1.yaml")
    t0 = time.perf_counter()
    bound = live_uniform_bound(cfg, die_ratio=5)
    assert time.perf_counter() - t0 < 5
    assert 0 < bound < 0.05

