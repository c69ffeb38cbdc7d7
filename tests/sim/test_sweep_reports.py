"""Sweep reports (issue 27): what sweep.json, the printed tables and the plots say, and
that every figure in them was measured (model engine, small meshes, short windows)."""

import json

import pytest

from gen.config import load_config

MESH = ["tile.dies_x=1", "tile.dies_y=1", "die.nodes_x=5", "die.nodes_y=4"]
SHORT = {"warmup": 50, "measure": 100, "drain_limit": 500, "final_drain": 200}


def test_sweep_writes_its_points_before_the_summary(tmp_path, monkeypatch):
    """A summary that fails (here: it raises) leaves sweep.json with every point."""
    import sim.sweep as sweep
    cfg = load_config("configs/default.yaml", MESH)
    monkeypatch.setattr(sweep, "summarise", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sweep.run_sweep(cfg, rates=[0.05, 0.1], engine="model", timing=SHORT,
                        progress=False, out=tmp_path)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert [p["offered"] for p in saved["points"]] == [0.05, 0.1]


def _run(cfg, rates, **kw):
    from sim.sweep import run_sweep
    return run_sweep(cfg, rates=rates, engine="model", progress=False,
                     timing=kw.pop("timing", SHORT), **kw)


def _legend(monkeypatch, plot, *args, **kw):
    """The legend labels of a figure ``plot`` draws (captured as it is saved)."""
    import matplotlib.figure
    seen = []

    def save(fig, path, **_):
        for ax in fig.axes:
            leg = ax.get_legend()
            seen.extend(t.get_text() for t in (leg.get_texts() if leg else []))
            seen.extend(line.get_label() for line in ax.get_lines())
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save)
    plot(*args, **kw)
    return seen


def _undrained(monkeypatch):
    """Every point (the zero-load point too) fails to drain: no drain check at all."""
    import sim.sweep
    monkeypatch.setattr(sim.sweep, "DEFAULT_TIMING", {**sim.sweep.DEFAULT_TIMING,
                                                      "drain_limit": 0, "final_drain": 100})


def test_a_sweep_that_never_drains_prints_not_measured(monkeypatch, capsys, tmp_path):
    """Issue 27 item 4: the issue's soak, with no drain allowed: every figure that is not
    known prints as not measured (was: TypeError formatting a None zero-load latency)."""
    from dojo.cli import main
    _undrained(monkeypatch)
    rc = main(["sweep", "configs/noc8x8.yaml", "-s", "router.routing=table",
               "-s", "die.dead_routers=[[2,3],[5,5]]", "--engine", "model",
               "--pattern", "uniform", "--packet-len", "4", "--rates", "0.9",
               "--warmup", "100", "--measure", "200", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "(not drained)" in out
    assert "zero-load latency not measured (the zero-load point did not drain" in out
    res = json.loads((tmp_path / "sweep.json").read_text())
    assert res["zero_load_latency"] is None and res["saturated"]


def test_every_print_path_says_not_measured(monkeypatch, capsys, tmp_path):
    """sweep --vary, sim --bench traffic and explore's rows with nothing drained."""
    from dojo.cli import _print_rows, main
    _undrained(monkeypatch)
    small = ["-s", "tile.dies_x=1", "-s", "tile.dies_y=1", "-s", "die.nodes_x=3",
             "-s", "die.nodes_y=3"]
    rc = main(["sweep", "configs/default.yaml", *small, "--engine", "model", "--rates", "0.5",
               "--warmup", "50", "--measure", "100", "--vary", "router.buffer_depth=4,8",
               "--out", str(tmp_path / "vary")])
    out = capsys.readouterr().out
    assert rc == 0 and out.count("zero-load latency not measured") == 2, out
    rc = main(["sim", "configs/default.yaml", *small, "--bench", "traffic", "--engine", "model",
               "--out", str(tmp_path / "sim")])
    out = capsys.readouterr().out
    assert rc == 0 and "zero-load latency       not measured" in out, out
    _print_rows([{"router.vcs": 2, "pattern": "uniform", "seed": 1, "status": "ok",
                  "zero_load_latency": None, "saturation_throughput": None,
                  "channel_load_bound": 0.5, "fraction_of_bound": None, "wall_s": 1.0}],
                ["router.vcs"])
    out = capsys.readouterr().out
    assert "n/a" in out and "not sat." in out and "no point saturated" in out


def test_no_saturation_in_range_is_said_and_not_drawn(monkeypatch, capsys):
    """Issue 27 item 6: low rates only: no saturation figure, no saturation line."""
    from dojo.cli import _print_summary
    from sim.sweep import plot_sweep
    res = _run(load_config("configs/default.yaml", MESH), [0.02, 0.05])
    assert not res["saturated"] and res["saturation_throughput"] is None
    assert res["max_accepted"] == pytest.approx(0.05, abs=0.02)
    _print_summary(res, "fast model")
    assert "not saturated in the swept range" in capsys.readouterr().out
    labels = _legend(monkeypatch, plot_sweep, res, "unused.png")
    assert "not saturated in the swept range" in labels
    assert not any(label.startswith("saturation") for label in labels)


def test_zero_load_latency_is_measured_at_its_own_low_rate():
    """Issue 27 item 7: the zero-load latency comes from a dedicated point at 1% of the
    bound, not from the lowest swept rate (8x8: 7.3 cycles, the 0.3 point's is 9.5)."""
    from sim.sweep import zero_load_rate
    res = _run(load_config("configs/noc8x8.yaml"), [0.3],
               timing={"warmup": 200, "measure": 1000})
    z = res["zero_load"]
    assert z["offered"] == zero_load_rate(res["channel_load_bound"], 1) == 0.005
    assert "dedicated point" in z["method"] and z["packets"] > 100
    assert res["zero_load_latency"] == z["latency_avg"] == res["zero_load_point"]["latency_avg"]
    assert 7 < res["zero_load_latency"] < 7.6 < res["points"][0]["latency_avg"]


def test_throttled_points_are_shown(monkeypatch, capsys):
    """Issue 27 item 8: past saturation the full source queues suppress packets:
    generated/offered per point in sweep.json and the table, throttled points marked in
    the table and the plot."""
    from sim.workloads.traffic import points_table
    from sim.sweep import THROTTLE_LIMIT, plot_sweep
    res = _run(load_config("configs/noc8x8.yaml"), [0.1, 0.5],
               timing={"warmup": 300, "measure": 1000})
    low, high = res["points"]
    assert low["generated_over_offered"] > THROTTLE_LIMIT and not low["throttled"]
    assert high["suppressed"] > 0 and high["throttled"]
    assert high["generated_over_offered"] == pytest.approx(
        high["generated_total"] / (high["generated_total"] + high["suppressed"]))
    assert res["throttled_offered"] == [0.5]
    print("\n".join(points_table(res)))
    out = capsys.readouterr().out
    assert "gen/off" in out and f"{high['generated_over_offered']:.3f}T" in out
    assert "T: throttled" in out
    labels = _legend(monkeypatch, plot_sweep, res, "unused.png")
    assert any(label.startswith("throttled") for label in labels)


def test_off_a_terminal_each_point_prints_a_line(capsys):
    """Issue 27 item 11: stderr is not a terminal here (pytest captures it): one line per
    finished point, i of N with the elapsed and the estimated remaining time."""
    from sim.sweep import run_sweep
    run_sweep(load_config("configs/default.yaml", MESH), rates=[0.05, 0.1], engine="model",
              timing=SHORT, progress=True)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err                      # the zero-load point and the two rates
    assert err[0].startswith("uniform sweep (model): point 1 of 3 done (offered ")
    assert "s elapsed, about" in err[0] and "s remaining" in err[1]
    assert err[2].startswith("uniform sweep (model): point 3 of 3 done (offered 0.1,")
    assert "remaining" not in err[2]
    run_sweep(load_config("configs/default.yaml", MESH), rates=[0.05], engine="model",
              timing=SHORT, progress=False)
    assert capsys.readouterr().err == ""


def test_explore_off_a_terminal_prints_a_line_per_point(capsys):
    from distributed import Client, LocalCluster
    from sim.explore.cluster import run_design_points
    from sim.explore.grid import design_points, parse_grid
    from sim.explore.store import ResultStore
    points = design_points("configs/default.yaml", MESH, parse_grid(["router.vcs=1,2"]),
                           ["uniform"], [1])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_design_points(points, [0.1], engine="model", sim=None, timing=SHORT,
                          client=client, store=ResultStore())
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("points:")]
    assert len(err) == 4, err                      # 2 design points x (zero load + 1 rate)
    assert err[-1].startswith("points: point 4 of 4 done (")


def _figure(monkeypatch, plot, *args, **kw):
    """The figure ``plot`` draws, drawn, as it is saved."""
    import matplotlib.figure
    seen = []

    def save(fig, path, **_):
        fig.canvas.draw()
        seen.append(fig)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save)
    plot(*args, **kw)
    return seen[0]


@pytest.fixture(scope="module")
def tile_sweeps():
    """The default 4x4 tile (2x2 dies) at die-link ratios 1 and 2."""
    cfgs = [load_config("configs/default.yaml", [f"dielink.ratio={r}"]) for r in (1, 2)]
    timing = {"warmup": 200, "measure": 600}
    return [_run(cfg, [0.1, 0.3, 0.45, 0.6], timing=timing) for cfg in cfgs]


def test_heatmap_ticks_title_and_directions(monkeypatch, tile_sweeps):
    """Issue 27 item 13: integer ticks, a title clear of the colour bar, the two bars of a
    link named."""
    from sim.sweep import plot_heatmap
    res = tile_sweeps[1]
    fig = _figure(monkeypatch, plot_heatmap, res, "unused.png", die_shape=res["die_shape"])
    ax, bar = fig.axes
    assert list(ax.get_xticks()) == [0, 1, 2, 3] and list(ax.get_yticks()) == [0, 1, 2, 3]
    title = ax.title.get_window_extent()
    assert title.x1 <= bar.get_window_extent().x0
    assert any("east-bound above west-bound" in t.get_text() for t in fig.texts)


def test_compare_draws_each_bound(monkeypatch, tile_sweeps):
    from sim.sweep import plot_compare
    fig = _figure(monkeypatch, plot_compare, tile_sweeps, ["r1", "r2"], "unused.png", "t")
    ax, = fig.axes
    verticals = {line.get_xdata()[0] for line in ax.get_lines()
                 if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}
    assert verticals == {r["channel_load_bound"] for r in tile_sweeps} == {1.0, 0.5}
    top = ax.get_ylim()[1]
    shown = [p["latency_avg"] for r in tile_sweeps for p in r["points"]
             if p["latency_avg"] is not None]
    assert max(shown) < top or "axis cut" in ax.get_ylabel()


def test_saturation_plot_does_not_clip_its_top_point(monkeypatch):
    from sim.explore.report import plot_saturation
    rows = [{"router.vcs": v, "pattern": "uniform", "status": "ok",
             "saturation_throughput": s} for v, s in ((1, 0.81), (2, 0.893))]
    fig = _figure(monkeypatch, plot_saturation, rows, ["router.vcs"], "unused.png")
    ax, = fig.axes
    assert ax.get_ylim()[1] > 1.1 * 0.893
    lo, hi = ax.get_xlim()
    assert lo < 0 and hi > 1                       # the end points are inside the frame


def test_sweep_plot_shows_every_p99_it_draws(monkeypatch, tile_sweeps):
    """The p99 curve lies above the average: the axis must reach it (it was cut at 1.1x
    the highest average, so on a D1 tile no p99 point was visible)."""
    from sim.sweep import plot_sweep
    res = tile_sweeps[0]
    p99 = [p["latency_p99"] for p in res["points"] if p["latency_p99"] is not None]
    assert max(p99) > 1.1 * max(p["latency_avg"] for p in res["points"])
    fig = _figure(monkeypatch, plot_sweep, res, "unused.png")
    assert fig.axes[0].get_ylim()[1] >= max(p99)
