"""Fault maps in the config, the seeded defect draw and the yield formulas (gen/faults.py)."""

import math

import pytest

from gen.config import ConfigError, config_from_dict
from gen.derive import derive
from gen.faults import (cut_links, expected_live, fault_map, harvest_yield, negbin_yield,
                        poisson_yield)


def _fault_map(raw):
    cfg = config_from_dict(raw)
    return fault_map(cfg, derive(cfg))


def problems(raw):
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    return info.value.problems


def shape(raw):
    d = derive(config_from_dict(raw))
    return d.die.nodes_x, d.die.nodes_y, d.tile.dies_x, d.tile.dies_y


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize("die, expect", [
    ({"disabled_nodes": [[2, 0]]},
     "die.disabled_nodes[0]: [2, 0] is not allowed: must be inside the 2x2 die (x < 2, y < 2; "
     "die-local coordinates)"),
    ({"dead_routers": [[0, 1], [1, 1], [0, 1]]},
     "die.dead_routers[2]: [0, 1] is not allowed: listed twice (also die.dead_routers[0])"),
    ({"disabled_nodes": [[1, 0]], "dead_routers": [[1, 0]]},
     "die.dead_routers[0]: [1, 0] is not allowed: also in die.disabled_nodes[0] (a node is "
     "either disabled or dead, not both)"),
    ({"disabled_nodes": [[0, 0], [1, 0]], "dead_routers": [[0, 1], [1, 1]]},
     "die.disabled_nodes: 2 disabled and 2 dead is not allowed: leaves no live node on the "
     "2x2 die"),
    ({"disabled_nodes": [[1]]},
     "die.disabled_nodes[0]: [1] is not allowed: must be an [x, y] pair of integers >= 0"),
    ({"dead_routers": [[-1, 0]]},
     "die.dead_routers[0][0]: -1 is not allowed: must be an integer >= 0"),
    ({"dead_routers": "all"},
     "die.dead_routers: 'all' is not allowed: must be a list of die-local [x, y] pairs"),
    ({"defects": {"density_per_cm2": -0.5}},
     "die.defects.density_per_cm2: -0.5 is not allowed: must be a number >= 0 and <= 100"),
    ({"defects": {"seed": 3}},
     "die.defects.density_per_cm2: missing (required in die.defects: must be a number >= 0 "
     "and <= 100)"),
    ({"defects": {"density_per_cm2": 0.1, "model": "murphy"}},
     "die.defects.model: 'murphy' is not allowed: must be one of 'poisson', 'negbin'"),
    ({"defects": {"density_per_cm2": 0.1, "alpha": 0}},
     "die.defects.alpha: 0 is not allowed: must be a number > 0 and <= 1000"),
    ({"defects": {"density_per_cm2": 0.1, "required_live": 5}},
     "die.defects.required_live: 5 is not allowed: must be <= the 4 nodes of a 2x2 die"),
])
def test_die_fault_errors_name_key_value_and_allowed(base_raw, die, expect):
    base_raw["die"].update(die)
    assert problems(base_raw) == [expect]


@pytest.mark.parametrize("maps, expect", [
    ([{"die": [2, 0], "dead_routers": [[0, 0]]}],
     "tile.fault_maps[0].die: [2, 0] is not allowed: must be inside the 2x2 tile (dx < 2, dy < 2)"),
    ([{"die": [1, 1]}, {"die": [1, 1]}],
     "tile.fault_maps[1].die: [1, 1] is not allowed: die listed twice (also tile.fault_maps[0])"),
    ([{"die": [0, 1], "disabled_nodes": [[0, 5]]}],
     "tile.fault_maps[0].disabled_nodes[0]: [0, 5] is not allowed: must be inside the 2x2 die "
     "(x < 2, y < 2; die-local coordinates)"),
    ([{"die": [0, 1], "dead": [[0, 0]]}],
     "tile.fault_maps[0].dead: unknown key (allowed: dead_routers, die, disabled_nodes)"),
    ([{"disabled_nodes": []}],
     "tile.fault_maps[0].die: missing (required in tile.fault_maps[0]: must be a [dx, dy] pair "
     "of integers >= 0)"),
])
def test_tile_fault_map_errors(base_raw, maps, expect):
    base_raw["tile"]["fault_maps"] = maps
    assert problems(base_raw) == [expect]


def test_fault_errors_come_from_load_before_any_work(tmp_path):
    from gen.config import load_config
    bad = tmp_path / "bad.yaml"
    bad.write_text("die: {nodes_x: 3, nodes_y: 3, dead_routers: [[3, 3]]}\n")
    with pytest.raises(ConfigError, match=r"die.dead_routers\[0\]: \[3, 3\] is not allowed: "
                                          r"must be inside the 3x3 die"):
        load_config(bad)


# ------------------------------------------------------------------------ the map


def test_listed_map_in_global_coordinates(base_raw):
    # 2x2 dies of 2x2 nodes: die (1, 0) starts at global (2, 0), die (0, 1) at (0, 2)
    base_raw["die"]["disabled_nodes"] = [[1, 0]]
    base_raw["tile"]["fault_maps"] = [{"die": [0, 1], "dead_routers": [[1, 1], [0, 1]]}]
    cfg = config_from_dict(base_raw)
    fm = fault_map(cfg, derive(cfg))
    assert fm.mesh == (4, 4) and fm.die_shape == (2, 2) and fm.dies == (2, 2)
    # the override replaces the die-level list for die (0, 1): no disabled node there
    assert fm.disabled_nodes == {(1, 0), (3, 0), (3, 2)}
    assert fm.dead_routers == {(1, 3), (0, 3)}
    assert fm.per_die[(0, 1)].disabled_nodes == frozenset()
    assert fm.per_die[(0, 1)].dead_routers == {(1, 1), (0, 1)}
    assert fm.per_die[(0, 1)].live_nodes == ((0, 0), (1, 0))
    assert fm.per_die[(1, 1)].origin == (2, 2) and fm.per_die[(1, 1)].disabled_nodes == {(1, 0)}
    assert len(fm.live_nodes) == 16 - 3 - 2
    assert list(fm.live_nodes) == sorted(fm.live_nodes, key=lambda p: (p[1], p[0]))
    assert fm.live_ids() == tuple(y * 4 + x for x, y in fm.live_nodes)
    assert not fm.is_live(1, 0) and fm.has_router(1, 0)          # disabled: still forwards
    assert not fm.is_live(1, 3) and not fm.has_router(1, 3)      # dead: gone
    assert fm.die_of(3, 2) == (1, 1)
    d = derive(cfg)
    assert d.tile.live_nodes == 11 and d.faults.dead_routers == 2
    assert d.die.live_nodes == 2                           # worst die: (0, 1)
    assert d.faults.live_per_die_max == 3


def test_empty_map_is_the_whole_mesh(base_raw):
    fm = _fault_map(base_raw)
    assert fm.empty and len(fm.live_nodes) == 16 and fm.live_ids() == tuple(range(16))


def test_dead_routers_cut_the_bisection(base_raw):
    base_raw["die"].update(nodes_x=4, nodes_y=4)
    base_raw["tile"].update(dies_x=1, dies_y=1)
    base_raw["die"]["dead_routers"] = [[1, 0], [2, 3]]     # both next to the middle cut x = 2
    d = derive(config_from_dict(base_raw))
    assert d.die.bisection_links == 4 and d.die.bisection_links_live == 2
    assert d.die.bisection_tbps_per_dir == pytest.approx(2 * d.link.gbytes_per_s / 1e3)
    base_raw["die"]["dead_routers"] = [[0, 0]]              # away from the cut
    assert derive(config_from_dict(base_raw)).die.bisection_links_live == 4


def test_cut_links():
    assert cut_links(set(), 5, 3) == 3                     # vertical cut of a 5x3 mesh
    assert cut_links(set(), 3, 5) == 3
    assert cut_links({(1, 1)}, 4, 4) == 3                  # x = 2 cut loses row 1; y = 2 cut
    assert cut_links({(1, 1), (1, 2)}, 4, 4) == 2          # both cuts lose two links
    assert cut_links({(3, 0)}, 8, 2, cuts_x=[2, 4]) == 1   # the worse of two cuts


# ------------------------------------------------------------------- seeded draws


def defect_raw(base_raw, **defects):
    base_raw["die"].update(nodes_x=8, nodes_y=8)
    base_raw["tile"].update(dies_x=2, dies_y=2)
    base_raw["router"]["flit_bits"] = 128
    base_raw["die"]["defects"] = {"density_per_cm2": 40.0, "seed": 7, **defects}
    return base_raw


@pytest.mark.parametrize("model", ["poisson", "negbin"])
def test_draw_is_deterministic_for_a_seed(base_raw, model):
    raw = defect_raw(base_raw, model=model, router_fraction=0.3)
    a, b = _fault_map(raw), _fault_map(raw)
    assert a == b and a.dead_routers and a.disabled_nodes     # 40/cm^2 on 1.6 mm^2 nodes
    assert not a.dead_routers & a.disabled_nodes
    raw["die"]["defects"]["seed"] = 8
    c = _fault_map(raw)
    assert (c.dead_routers, c.disabled_nodes) != (a.dead_routers, a.disabled_nodes)
    # each die draws its own map
    per = [a.per_die[k].disabled_nodes | a.per_die[k].dead_routers for k in sorted(a.per_die)]
    assert len(set(per)) > 1


def test_draw_adds_to_the_listed_map_and_router_fraction_splits(base_raw):
    raw = defect_raw(base_raw, router_fraction=0.0)
    raw["die"]["dead_routers"] = [[0, 0]]
    fm = _fault_map(raw)
    assert fm.dead_routers == {(0, 0), (8, 0), (0, 8), (8, 8)}   # only the listed ones
    assert fm.disabled_nodes                                    # every draw is compute-only
    raw["die"]["defects"].update(router_fraction=1.0)
    fm = _fault_map(raw)
    assert not fm.disabled_nodes and len(fm.dead_routers) > 4
    raw["die"]["defects"].update(draw=False)
    fm = _fault_map(raw)
    assert fm.dead_routers == {(0, 0), (8, 0), (0, 8), (8, 8)} and not fm.disabled_nodes


def test_draw_rate_follows_the_density(base_raw):
    # 4 dies x 64 nodes; a = pitch^2 (1.263 mm)^2 = 0.01595 cm^2; D = 40 -> p = 1 - e^-0.638
    raw = defect_raw(base_raw, density_per_cm2=40.0)
    cfg = config_from_dict(raw)
    d = derive(cfg)
    a = d.node.pitch_mm ** 2 / 100
    p = 1 - math.exp(-a * 40)
    failed = 256 - len(fault_map(cfg, d).live_nodes)
    sigma = math.sqrt(256 * p * (1 - p))
    assert abs(failed - 256 * p) < 4 * sigma
    y = d.faults.defects
    assert y["drawn_failures"] == failed and y["required_live"] == 64 and y["spares"] == 0


def test_zero_density_draws_nothing(base_raw):
    raw = defect_raw(base_raw, density_per_cm2=0.0, model="negbin")
    assert _fault_map(raw).empty


# -------------------------------------------------------------------------- yield


def test_die_yield_formulas_by_hand():
    # A = 6.45 cm^2, D = 0.1: Poisson exp(-0.645); negative binomial alpha 2: 1.3225^-2
    assert poisson_yield(6.45, 0.1) == pytest.approx(0.524663, abs=1e-6)
    assert negbin_yield(6.45, 0.1, 2.0) == pytest.approx(0.571753, abs=1e-6)
    assert negbin_yield(6.45, 0.1, 1e7) == pytest.approx(poisson_yield(6.45, 0.1), rel=1e-6)
    assert negbin_yield(6.45, 0.1, 2.0) > poisson_yield(6.45, 0.1)   # clustering helps


def test_harvest_yield_poisson_by_hand():
    # N = 10 nodes of 0.05 cm^2 at D = 2: p = 1 - e^-0.1 = 0.0951626
    n, a, dd = 10, 0.05, 2.0
    p = 1 - math.exp(-0.1)
    assert harvest_yield(n, 0, a, dd) == pytest.approx(math.exp(-1.0))    # = exp(-N a D)
    assert harvest_yield(n, 1, a, dd) == pytest.approx((1 - p) ** 10 + 10 * p * (1 - p) ** 9)
    assert harvest_yield(n, 1, a, dd) == pytest.approx(0.7548, abs=1e-4)
    assert harvest_yield(n, 10, a, dd) == 1.0
    assert expected_live(n, a, dd) == pytest.approx(10 * math.exp(-0.1))


def test_harvest_yield_negbin_by_hand():
    # P(K = k) = C(N, k) sum_j C(k, j) (-1)^j (1 + (N - k + j) a D / alpha)^-alpha, the
    # gamma average of the binomial (fine to evaluate directly at this small N)
    n, a, dd, alpha = 10, 0.05, 2.0, 1.5

    def pk(k):
        return math.comb(n, k) * sum(math.comb(k, j) * (-1) ** j
                                     * (1 + (n - k + j) * a * dd / alpha) ** -alpha
                                     for j in range(k + 1))
    assert harvest_yield(n, 0, a, dd, "negbin", alpha) == pytest.approx(negbin_yield(n * a, dd, alpha))
    for s in (1, 2, 3):
        assert harvest_yield(n, s, a, dd, "negbin", alpha) == pytest.approx(
            sum(pk(k) for k in range(s + 1)), rel=1e-9)
    assert expected_live(n, a, dd, "negbin", alpha) == pytest.approx(10 * (1 + 0.1 / 1.5) ** -1.5)
    # a very large alpha is the Poisson case
    assert harvest_yield(n, 2, a, dd, "negbin", 1e6) == pytest.approx(harvest_yield(n, 2, a, dd),
                                                                      rel=1e-4)


def test_spares_raise_the_yield_monotonically():
    ys = [harvest_yield(361, s, 0.016, 0.1, "negbin", 2.0) for s in range(0, 9)]
    assert all(b > a for a, b in zip(ys, ys[1:])) and ys[-1] < 1


def test_derive_reports_yield_only_with_defects(base_raw):
    assert derive(config_from_dict(base_raw)).faults.defects is None
    base_raw["die"]["defects"] = {"density_per_cm2": 0.5, "draw": False, "required_live": 3}
    y = derive(config_from_dict(base_raw)).faults.defects
    assert (y["model"], y["array_nodes"], y["spares"], y["alpha"]) == ("poisson", 4, 1, None)
    a = y["node_area_mm2"] / 100
    assert y["yield_no_spares"] == pytest.approx(math.exp(-4 * a * 0.5))
    assert y["yield_with_spares"] == pytest.approx(harvest_yield(4, 1, a, 0.5))
