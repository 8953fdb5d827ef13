"""Layers point one way: no import cycle in src/headstart, and no import inside a function to hide one.

The static check reads every module's imports with `ast`. An edge from a module to a package it lives in
is left out: a package's `__init__` importing its children, and the children using names of their
package, is Python's normal shape, not a loop between layers. Function-local imports of headstart
modules are allowed (some commands keep start-up fast that way) as long as the same import at module
level would not close a cycle; lazy imports of heavy libraries (torch, transformers) are not checked.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "headstart"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py")) if p.name != "__main__.py"}


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The headstart modules an import statement in `module` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    is_package = MODULES[module].name == "__init__.py"
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = ".".join(p for p in (base if node.level else "", node.module or "") if p)
    found = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    if len(found) < len(node.names) and target in MODULES:
        found.append(target)  # a name defined in the module (or package) itself
    return found


def _imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(module-level imports, function-local imports with their line) of headstart modules."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top: set[str] = set()
    local: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, child):
                    if not (module == target or module.startswith(target + ".")):  # see the module docstring
                        (local.append((child.lineno, target)) if in_function else top.add(target))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            else:
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    if MODULES[module].name == "__init__.py" and "pkgutil.iter_modules(__path__)" in ast.unparse(tree):
        # a package that imports every module in its folder (strategies/, cli/): edges to all of them
        top |= {m for m in MODULES if m.rpartition(".")[0] == module}
    return top, local


GRAPH = {m: _imports(m)[0] for m in MODULES}
# with the function-local imports too: two local imports can hide a loop between them
FULL_GRAPH = {m: GRAPH[m] | {target for _, target in _imports(m)[1]} for m in MODULES}


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A chain of imports from `start` to `goal`, or None."""
    stack, seen = [[start]], {start}
    while stack:
        chain = stack.pop()
        for nxt in sorted(graph.get(chain[-1], ())):
            if nxt == goal:
                return chain + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append(chain + [nxt])
    return None


def test_module_level_imports_have_no_cycle():
    cycles = []
    for module, targets in GRAPH.items():
        for target in targets:
            back = _path(GRAPH, target, module)
            if back:
                cycles.append(" -> ".join([module, *back]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_no_function_local_import_hides_a_cycle():
    hiding = []
    for module in MODULES:
        for line, target in _imports(module)[1]:
            back = _path(FULL_GRAPH, target, module)
            if back:
                hiding.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {target} inside a function; "
                              f"together with the imports it leads to this closes {' -> '.join([module, *back])}")
    assert not hiding, "\n".join(hiding)


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_every_module_imports_in_a_fresh_interpreter(order):
    """Import order must not matter (a hidden cycle shows as a partially initialised module)."""
    names = sorted(MODULES, reverse=order == "reversed")
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
