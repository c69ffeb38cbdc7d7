"""Imports point one way: rtl <- gen <- verif <- sim <- dojo (and inside rtl, by layer).

The check reads every source file with the standard library's ``ast`` (function-local
imports included, relative imports resolved), so a lower layer importing a higher
one fails here, whichever line it is on.
"""

import ast
from pathlib import Path

from tests.conftest import ROOT

#: package -> the packages it may import (itself always allowed); the top layer is last
ALLOWED = {
    "rtl.net": set(),
    "rtl.node": {"rtl.net"},
    "rtl.measure": {"rtl.net"},
    "rtl.fabric": {"rtl.net", "rtl.node", "rtl.measure"},
    "rtl.board": {"rtl.net", "rtl.node", "rtl.measure", "rtl.fabric"},
    "rtl": {"rtl.net", "rtl.node", "rtl.measure", "rtl.fabric", "rtl.board"},
    "gen": {"rtl"},
    "verif": {"rtl", "gen"},
    "sim": {"rtl", "gen", "verif"},
    "dojo": {"rtl", "gen", "verif", "sim"},
}


def _layer(module):
    """The most specific key of ALLOWED that ``module`` (dotted) belongs to, or None."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in ALLOWED:
            return name
    return None


def _within(module, layer):
    return module == layer or module.startswith(layer + ".")


def imports_of(path, module):
    """``(line, imported module)`` of every import in the file of dotted ``module``."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    package = module if Path(path).name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # ``from rtl import net`` imports rtl.net
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return out


def violations(root):
    """Every import in ``root``'s layered packages that points up or sideways."""
    root = Path(root)
    bad = []
    for top in {name.split(".")[0] for name in ALLOWED}:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            mine = _layer(module)
            for line, target in imports_of(path, module):
                theirs = _layer(target)
                if theirs is None or theirs == mine:
                    continue
                if _within(target, mine) or _within(mine, theirs) and theirs == "rtl":
                    continue         # a subpackage, or the bare parent package
                if not any(_within(theirs, ok) for ok in ALLOWED[mine]):
                    bad.append(f"{path.relative_to(root)}:{line}: {mine} imports {target}")
    return sorted(bad)


def test_no_lower_layer_imports_a_higher_one():
    assert violations(ROOT) == []


def test_the_check_bites(tmp_path):
    """A synthetic tree with imports that point up: each one is reported."""
    for pkg in ("rtl/net", "rtl/fabric", "gen", "verif", "sim", "dojo"):
        (tmp_path / pkg).mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "gen" / "cli.py").write_text("def main():\n    from sim.sweep import run_sweep\n")
    (tmp_path / "verif" / "tb.py").write_text("from sim import board_host\n")
    (tmp_path / "rtl" / "net" / "router.py").write_text("from ..fabric.mesh import Mesh\n")
    (tmp_path / "sim" / "ok.py").write_text("from gen.build import write\nfrom verif import noc\n")
    (tmp_path / "dojo" / "ok.py").write_text("from sim.sweep import run_sweep\n")
    assert violations(tmp_path) == [
        "gen/cli.py:2: gen imports sim.sweep.run_sweep",
        "rtl/net/router.py:1: rtl.net imports rtl.fabric.mesh.Mesh",
        "verif/tb.py:1: verif imports sim.board_host",
    ]
