"""The result table of a grid (``results.csv``, ``results.json``) and its figures.

One row per design point (config values x pattern x seed): the varied parameters,
zero-load latency, saturation throughput, the channel-load bound and the fraction of
it reached, the energy per delivered flit and the power at the highest stable load,
engine, seed and the wall time its points took. A design point with a
failed point has ``status`` ``failed``, its ``error``, and empty figures: a missing
figure is never filled in.
"""

import csv
import json
from pathlib import Path

__all__ = ["result_row", "write_results", "plot_saturation", "plot_best", "best_rows",
           "FIGURES", "RANKS"]

#: columns after the varied parameters
FIGURES = ["pattern", "seed", "engine", "simulator", "mesh", "zero_load_latency",
           "saturation_throughput", "saturation_offered", "max_accepted", "channel_load_bound",
           "fraction_of_bound", "stable_offered", "pj_per_flit", "dynamic_pj_per_flit",
           "watts", "wall_s", "status", "error"]

#: what ``best.png`` (and ``dojo explore --rank``) can order design points by: the sort key
#: of a row, best first; a missing figure sorts last
RANKS = {
    "saturation": lambda r: (-_known(r["saturation_throughput"], -float("inf")),
                             _known(r["zero_load_latency"], float("inf"))),
    "energy": lambda r: (_known(r["pj_per_flit"], float("inf")),
                         -_known(r["saturation_throughput"], -float("inf"))),
}


def _known(value, missing):
    return missing if value is None else value


def _energy_at_stable(sweep):
    """The energy figures of the highest stable point of a sweep (None: no stable point,
    or a sweep written before points were priced)."""
    offered = sweep.get("highest_stable_offered")
    point = next((p for p in sweep["points"] if p["offered"] == offered), None)
    energy = (point or {}).get("energy")
    if energy is None:
        return {"stable_offered": offered, "pj_per_flit": None, "dynamic_pj_per_flit": None,
                "watts": None}
    return {"stable_offered": offered, "pj_per_flit": energy["pj_per_delivered_flit"],
            "dynamic_pj_per_flit": energy["dynamic_pj_per_delivered_flit"],
            "watts": energy["watts"]}


def result_row(dp, sweep=None, error=None):
    """The row of design point ``dp`` from its sweep (or the first failure's reason)."""
    row = {key: value for key, value in dp.params}
    row.update({"pattern": dp.pattern, "seed": dp.seed, "label": dp.label})
    if sweep is None:
        row.update({key: None for key in FIGURES if key not in row})
        row.update({"status": "failed", "error": error})
        return row
    bound, sat = sweep["channel_load_bound"], sweep["saturation_throughput"]
    row.update({"engine": sweep["engine"], "simulator": sweep["simulator"],
                "mesh": "x".join(map(str, sweep["mesh"])),
                "zero_load_latency": sweep["zero_load_latency"],
                "saturation_throughput": sat,
                "saturation_offered": sweep["saturation_offered"],
                "channel_load_bound": bound,
                "fraction_of_bound": sat / bound if bound and sat is not None else None,
                "max_accepted": sweep.get("max_accepted"), **_energy_at_stable(sweep),
                "wall_s": round(sweep["wall_s"], 3), "status": "ok", "error": None})
    return row


def write_results(out, rows, keys, meta):
    """``out/results.csv`` (one row per design point) and ``out/results.json`` (the
    rows with the run's settings in ``meta``)."""
    out = Path(out)
    columns = list(keys) + FIGURES + ["label"]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    (out / "results.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")


def plot_saturation(rows, keys, path):
    """Saturation throughput against each varied parameter: every design point as a
    dot, a line through the best at each value (over the other parameters), one colour
    per pattern. With no grid, one panel against the pattern."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r["status"] == "ok" and r["saturation_throughput"] is not None]
    unsaturated = sum(1 for r in rows if r["status"] == "ok") - len(ok)
    keys = list(keys) or ["pattern"]
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = list(dict.fromkeys(r[key] for r in rows))
        pos = {v: i for i, v in enumerate(values)}
        for j, pattern in enumerate(patterns if key != "pattern" else [None]):
            mine = [r for r in ok if pattern is None or r["pattern"] == pattern]
            colour = f"C{j}"
            ax.scatter([pos[r[key]] for r in mine], [r["saturation_throughput"] for r in mine],
                       color=colour, alpha=0.45, s=18)
            best = [(pos[v], max(r["saturation_throughput"] for r in mine if r[key] == v))
                    for v in values if any(r[key] == v for r in mine)]
            if best:
                ax.plot(*zip(*best), "-o", color=colour, label=pattern or "best")
        ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set_xlim(-0.5, len(values) - 0.5)          # the end points off the frame
        ax.set_xlabel(key)
        ax.set_ylabel("saturation throughput (flits/node/cycle)")
        # room above the highest point (and the legend) so none is clipped
        ax.set_ylim(0, 1.3 * max([r["saturation_throughput"] for r in ok] or [1.0]))
        ax.grid(alpha=0.3)
        if ok:
            ax.legend(fontsize=8, title="best over the other parameters", title_fontsize=7)
    failed = len(rows) - len(ok) - unsaturated
    why = [f"{failed} failed" if failed else "",
           f"{unsaturated} not saturated in the swept range" if unsaturated else ""]
    why = ", ".join(w for w in why if w)
    fig.suptitle(f"saturation throughput, {len(ok)} design points"
                 + (f" ({why}: not drawn)" if why else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def best_rows(rows, rank="saturation", per_pattern=5):
    """The best ``per_pattern`` finished design points of each pattern, by :data:`RANKS`
    ``rank`` (saturation: highest first, unsaturated last; energy: fewest pJ per
    delivered flit at the highest stable load first)."""
    ok = [r for r in rows if r["status"] == "ok"]
    best = []
    for pattern in dict.fromkeys(r["pattern"] for r in ok):
        best += sorted((r for r in ok if r["pattern"] == pattern), key=RANKS[rank])[:per_pattern]
    return best


def plot_best(rows, keys, path, per_pattern=5, rank="saturation"):
    """A table figure of the best design points of each pattern (:func:`best_rows`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    best = best_rows(rows, rank, per_pattern)
    columns = list(keys) + ["pattern", "seed", "zero-load (cycles)", "saturation",
                            "bound", "of bound", "pJ/flit"]

    def fmt(value, spec, missing):
        return missing if value is None else format(value, spec)

    cells = [[str(r[k]) for k in keys] + [r["pattern"], str(r["seed"]),
                                          fmt(r["zero_load_latency"], ".2f", "n/a"),
                                          fmt(r["saturation_throughput"], ".3f", "not sat."),
                                          f"{r['channel_load_bound']:.3f}",
                                          fmt(r["fraction_of_bound"] and
                                              100 * r["fraction_of_bound"], ".0f", "n/a")
                                          + ("%" if r["fraction_of_bound"] is not None else ""),
                                          fmt(r.get("pj_per_flit"), ".0f", "n/a")]
             for r in best] or [["(no design point finished)"] + [""] * (len(columns) - 1)]
    fig, ax = plt.subplots(figsize=(1.3 * len(columns) + 1, 0.32 * len(cells) + 1.0))
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=columns, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.3)
    by = {"saturation": "saturation throughput",
          "energy": "energy per delivered flit at the highest stable load"}[rank]
    ax.set_title(f"best {per_pattern} design points per pattern, by {by}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
