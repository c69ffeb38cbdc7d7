"""What reproduces a result: the resolved config, the overrides, the seed, the version.

One helper for every machine-readable output that a run writes (``sweep.json``,
``explore``'s ``results.json`` and each design point's ``sweep.json``, the JSON manifest
next to emitted Verilog), so a result names everything it came from:

- ``config``: the complete, default-filled config (``cfg.raw``), not just its name;
- ``config_name``, ``config_path`` (when loaded from a file) and ``overrides`` (the
  ``-s KEY=VALUE`` texts, in order, the grid's or ``--vary``'s values included);
- ``seed`` (the traffic seed; None where a run has none, e.g. Verilog emission);
- ``version`` (the installed ``dojo-fabric`` package's, else the generator's) and
  ``commit`` (``git rev-parse HEAD`` of the project, with ``dirty`` when the work tree
  has changes; both None where git or the repository is not there: not an error).
"""

import functools
import subprocess
from pathlib import Path

__all__ = ["provenance", "git_commit", "project_version", "GENERATOR_VERSION"]

GENERATOR_VERSION = "0.1.0"

_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def git_commit():
    """``(commit, dirty)`` of the project's work tree, ``(None, None)`` without git."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=_ROOT,
                              timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode or not head.stdout.strip():
            return None, None
        status = git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return head.stdout.strip(), dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def project_version():
    """The installed ``dojo-fabric`` package's version, else the generator's."""
    from importlib import metadata
    try:
        return metadata.version("dojo-fabric")
    except metadata.PackageNotFoundError:
        return GENERATOR_VERSION


def provenance(cfg, overrides=(), seed=None, config_path=None):
    """The ``provenance`` dict of a result (module docstring). ``cfg``: a
    :class:`gen.config.Config` or its ``raw`` dict."""
    raw = getattr(cfg, "raw", cfg)
    commit, dirty = git_commit()
    return {"config_name": raw.get("name"),
            "config_path": None if config_path is None else str(config_path),
            "overrides": [str(o) for o in overrides], "seed": seed,
            "version": project_version(), "commit": commit, "dirty": dirty,
            "config": raw}
