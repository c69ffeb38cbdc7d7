"""Imports point one way: rtl <- gen <- verif <- sim <- dojo (and inside rtl, by layer),
and no two modules of a package import each other, directly or round a longer circle.

The checks read every source file with the standard library's ``ast`` (function-local
imports included, relative imports resolved), so a lower layer importing a higher
one, or an import circle dodged by a lazy import, fails here whichever line it is on.
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


def _modules(root):
    """Dotted module name -> path of every source file of the layered packages."""
    out = {}
    for top in sorted({name.split(".")[0] for name in ALLOWED}):
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = path
    return out


def import_graph(root):
    """Module -> the modules of the same top-level package it imports (``from a.b import
    c`` imports ``a.b.c`` when that is a module, else ``a.b``)."""
    modules = _modules(Path(root))
    graph = {}
    for module, path in modules.items():
        targets = set()
        for _, target in imports_of(path, module):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and target.split(".")[0] == module.split(".")[0]:
                targets.add(target)
        graph[module] = targets
    return graph


def import_circles(root):
    """Every import circle among the modules of a package, each as ``a -> b -> a``
    (one circle per strongly connected group of modules, from its first module in
    name order)."""
    graph = import_graph(root)
    circles, done = [], set()
    for start in sorted(graph):
        if start in done:
            continue
        # depth-first search for a path from start back to start
        stack, seen = [(start, [start])], {start}
        while stack:
            module, path = stack.pop()
            for target in sorted(graph[module], reverse=True):
                if target == start:
                    circles.append(" -> ".join(path + [start]))
                    done.update(path)
                    stack = []
                    break
                if target not in seen and target not in done:
                    seen.add(target)
                    stack.append((target, path + [target]))
    return circles


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


def test_no_import_circles():
    assert import_circles(ROOT) == []


def test_the_circle_check_bites(tmp_path):
    """A synthetic tree with a direct circle dodged by a lazy import and a circle of three
    modules through a package's ``__init__`` (a submodule importing a name of its own
    package): each circle is named; one-way imports, also from another package, are not."""
    for pkg in ("gen", "gen/routing", "sim"):
        (tmp_path / pkg).mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "gen" / "build.py").write_text("from gen.design import Design\n"
                                               "def f():\n    from .node_build import g\n")
    (tmp_path / "gen" / "node_build.py").write_text("from gen.build import f\n")
    (tmp_path / "gen" / "design.py").write_text("from .faults import FaultMap\n")
    (tmp_path / "gen" / "faults.py").write_text("import math\n")
    (tmp_path / "gen" / "routing" / "__init__.py").write_text("from .dor import dor\n")
    (tmp_path / "gen" / "routing" / "dor.py").write_text("from .check import check\n")
    (tmp_path / "gen" / "routing" / "check.py").write_text("from gen.routing import MeshShape\n")
    (tmp_path / "sim" / "sweep.py").write_text("from gen.build import f\n")
    assert import_circles(tmp_path) == [
        "gen.build -> gen.node_build -> gen.build",
        "gen.routing -> gen.routing.dor -> gen.routing.check -> gen.routing",
    ]


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
