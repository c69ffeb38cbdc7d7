"""The emittable tops: one table, the one place that knows every kind of design.

``dojo verilog --top``, ``dojo lint`` and the benchmarks name a top here; each
maps to one design function of :mod:`gen` (nothing below this layer needs the
table).
"""

import json
from pathlib import Path

from gen.lint import lint_design

__all__ = ["TOPS", "top_design", "lint_config"]

#: emittable tops: name -> (Verilog module name, description)
TOPS = {
    "router": ("dojo_router", "one router"),
    "mesh": ("dojo_mesh", "the global mesh of bare routers, local ports exposed"),
    "noc": ("dojo_noc", "the global mesh with a traffic generator and sink per node"),
    "board": ("dojo_board", "the FPGA board top: traffic mesh + UART register bridge"),
    "node": ("dojo_node", "one training node (router + NI + SRAM + matrix engine)"),
    "die": ("dojo_die", "one die of training nodes: origin inputs x0/y0, every boundary "
                        "link a port"),
    "tile": ("dojo_tile", "the tile: dies of training nodes joined by die-to-die links, "
                          "host ports at the edge"),
}


def top_design(cfg, top, *, derived=None):
    """The :class:`gen.build.Design` of an emittable top (see :data:`TOPS`)."""
    from gen.build import network_design, noc_design, router_design
    if top not in TOPS:
        raise ValueError(f"top must be one of {', '.join(TOPS)}, not {top!r}")
    name = TOPS[top][0]
    if top == "router":
        return router_design(cfg, top_name=name, derived=derived)
    if top == "mesh":
        return noc_design(cfg, kind="bare", boundary="ports", top_name=name, derived=derived)
    if top == "noc":
        return noc_design(cfg, kind="traffic", top_name=name, derived=derived)
    if top == "board":
        from gen.fpga import board_design
        return board_design(cfg, top_name=name, derived=derived)
    if top == "node":
        from gen.node_build import compute_node_design
        return compute_node_design(cfg, nodes=1, top_name=name, derived=derived)
    return network_design(cfg, kind="compute", top=top, boundary="ports", top_name=name,
                          derived=derived)


def lint_config(cfg, *, tops=("router", "mesh", "noc"), out_dir="build/lint", icarus=True):
    """Lint every top of ``tops`` for ``cfg``; writes ``out_dir/lint.json``."""
    from gen.derive import derive
    out = Path(out_dir)
    d = derive(cfg)
    report = {top: lint_design(top_design(cfg, top, derived=d), out / top, icarus=icarus)
              for top in tops}
    (out / "lint.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report
