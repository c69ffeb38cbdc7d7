"""Sweep helpers: rate parsing, channel-load bounds, summary."""

import pytest

from sim.sweep import channel_load_bound, parse_rates, summarise


def test_parse_rates():
    assert parse_rates("0.02:0.1:0.04") == [0.02, 0.06, 0.1]
    assert parse_rates("0.1,0.3") == [0.1, 0.3]
    for bad in ("0.5:0.1:0.1", "x", "0:0.2:0.1", "0.1,1.5"):
        with pytest.raises(ValueError):
            parse_rates(bad)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_uniform_bound_is_4_over_k(k):
    assert channel_load_bound("uniform", k, k) == pytest.approx(min(1.0, 4 / k))


def test_other_bounds():
    assert channel_load_bound("transpose", 3, 3) == 0.5
    # a 4x4 tile of 2x2 dies: the bisection links are die links at half rate
    assert channel_load_bound("uniform", 4, 4, die_shape=(2, 2), die_ratio=2) == \
        pytest.approx(0.5)
    assert channel_load_bound("uniform", 4, 4, die_shape=(2, 2), die_ratio=1) == \
        pytest.approx(1.0)
    assert channel_load_bound("neighbour", 8, 8) == 1.0
    # hotspot: the hotspot's ejection channel carries frac * 64 + (1 - frac)
    assert channel_load_bound("hotspot", 8, 8, hotspot=(3, 3), hotspot_frac=64) == \
        pytest.approx(1 / (0.25 * 64 + 0.75))


def test_summarise_finds_saturation():
    pts = [{"offered": r, "accepted_avg": min(r, 0.4), "drained": True, "latency_avg": lat}
           for r, lat in ((0.1, 10), (0.3, 12), (0.5, 40), (0.7, 90))]
    s = summarise(pts, 0.5, {"latency_avg": 10, "offered": 0.005})
    assert s["zero_load_latency"] == 10 and s["saturation_offered"] == 0.5 and s["saturated"]
    assert s["saturation_throughput"] == 0.4 and s["highest_stable_offered"] == 0.3


@pytest.mark.parametrize("pattern, kw", [("uniform", {}), ("hotspot", {"hotspot": (1, 2),
                                                                       "hotspot_frac": 96})])
@pytest.mark.parametrize("routing", ["xy", "yx"])
def test_closed_form_loads_equal_walking_every_pair(pattern, kw, routing):
    """The uniform part of link_loads is a formula: it must equal routing every pair."""
    from sim.sweep import link_loads
    from verif.noc import route_port
    from rtl.net.directions import STEP
    mx, my = 5, 3
    frac = kw.get("hotspot_frac", 0) / 256
    walked = {}
    nodes = [(x, y) for y in range(my) for x in range(mx)]
    for s in nodes:
        dests = {d: (1 - frac) / len(nodes) for d in nodes}
        if pattern == "hotspot":
            dests[kw["hotspot"]] += frac
        for d, prob in dests.items():
            x, y = s
            while (port := route_port(x, y, d, routing)) != "local":
                walked[(x, y, port)] = walked.get((x, y, port), 0) + prob
                x, y = x + STEP[port][0], y + STEP[port][1]
    got = link_loads(pattern, mx, my, routing, **kw)
    assert set(got) == set(walked)
    assert all(got[k] == pytest.approx(walked[k]) for k in walked)


@pytest.mark.slow
def test_a_built_config_is_not_elaborated_again(tmp_path, monkeypatch):
    """prepare_engine remembers a config's build: the second time no design is made; a
    change of the generator's sources (its digest) or of the config elaborates again."""
    import gen.build
    from gen.config import load_config
    from sim import sweep
    from sim.runner import available_simulators
    from tests.conftest import CONFIGS
    if "verilator" not in available_simulators():
        pytest.skip("needs Verilator")
    monkeypatch.setenv("DOJO_BUILD", str(tmp_path))
    made = []
    real = gen.build.noc_design
    monkeypatch.setattr(gen.build, "noc_design", lambda *a, **k: made.append(1) or real(*a, **k))
    cfg = load_config(CONFIGS / "default.yaml", ["tile.dies_x=1", "tile.dies_y=1",
                                                 "die.nodes_x=2", "die.nodes_y=2"])
    first = sweep.prepare_engine(cfg, engine="rtl")
    second = sweep.prepare_engine(cfg, engine="rtl")
    assert len(made) == 1 and second == first
    monkeypatch.setattr(sweep, "_generator_digest", lambda: "another generator")
    sweep.prepare_engine(cfg, engine="rtl")
    assert len(made) == 2
    sweep.prepare_engine(load_config(CONFIGS / "default.yaml", ["tile.dies_x=1", "tile.dies_y=1",
                                                                "die.nodes_x=2",
                                                                "die.nodes_y=2",
                                                                "router.vcs=1"]), engine="rtl")
    assert len(made) == 3


def test_heatmap_draws_dead_routers(tmp_path):
    """A dead router has no links in the utilisation map; the heatmap (both renderings)
    is written with dead routers and disabled nodes marked."""
    from sim.sweep import link_utilisation, plot_heatmap
    for mx in (4, 30):
        nodes = [[x, y] for y in range(4) for x in range(mx)]
        flits = {f"link.{p}": [10] * len(nodes) for p in ("north", "east", "south", "west")}
        point = {"offered": 0.5, "accepted_avg": 0.4, "window": 100, "link_flits": flits}
        result = {"mesh": [mx, 4], "nodes": nodes, "pattern": "uniform", "points": [point],
                  "highest_stable_offered": 0.5, "dead_routers": [[1, 1]],
                  "disabled_nodes": [[2, 2]]}
        util = link_utilisation(result, point)
        assert not any((x, y) == (1, 1) for x, y, _ in util)
        assert not any((x, y, p) in util for x, y, p in ((0, 1, "east"), (1, 0, "south")))
        assert util[(2, 2, "east")] == pytest.approx(0.1)
        path = tmp_path / f"heat{mx}.png"
        plot_heatmap(result, path)
        assert path.stat().st_size > 1000


def test_sweep_of_a_fault_map_reports_the_bound_of_its_routes():
    """Uniform over the live nodes of a fault map: sweep.json's channel_load_bound is the
    bound of the routes taken (gen.build.live_uniform_bound), not the full mesh's 4/k;
    other patterns keep the analytic bound."""
    from gen.build import live_uniform_bound
    from gen.config import load_config
    from sim.sweep import run_sweep
    cfg = load_config("configs/default.yaml", ["tile.dies_x=1", "tile.dies_y=1",
                                               "die.nodes_x=4", "die.nodes_y=4",
                                               "router.routing=table",
                                               "die.dead_routers=[[1, 1]]"])
    timing = {"warmup": 50, "measure": 100, "drain_limit": 500, "final_drain": 500}
    res = run_sweep(cfg, pattern="uniform", rates=[0.1], timing=timing, engine="model",
                    progress=False)
    bound = live_uniform_bound(cfg)
    assert res["channel_load_bound"] == bound and bound != 1.0
    res = run_sweep(cfg, pattern="transpose", rates=[0.1], timing=timing, engine="model",
                    progress=False)
    assert res["channel_load_bound"] == channel_load_bound("transpose", 4, 4)
