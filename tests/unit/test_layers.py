"""The layers of README "Layout" hold: import-linter's contracts (pyproject.toml) are kept, and
no module imports itself back through another."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from core.settings import REPO_DIR

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
ROOTS = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", *args], cwd=REPO_DIR, capture_output=True, text=True)


def test_the_import_contracts_are_kept():
    done = _lint_imports()
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    # The same packages with core declared on top: every real import of core is then "upward".
    config = tmp_path / "upside_down.toml"
    roots = ", ".join(f'"{r}"' for r in ROOTS)
    config.write_text(
        f"[tool.importlinter]\nroot_packages = [{roots}]\n\n[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\nlayers = ["core", "spark_jobs"]\n'
    )
    done = _lint_imports("--config", str(config))
    assert done.returncode != 0
    assert "spark_jobs" in done.stdout and "BROKEN" in done.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for n in graph.find_modules_directly_imported_by(m) & modules:
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            component = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return found


def test_no_import_cycles():
    graph = grimp.build_graph(*ROOTS)
    modules = {m for m in graph.modules if not graph.find_children(m)}  # modules, not packages
    assert _cycles(graph, modules) == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic import a\n")
    (pkg / "c.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", cache_dir=None)
    assert _cycles(graph, {"cyclic.a", "cyclic.b", "cyclic.c"}) == [["cyclic.a", "cyclic.b"]]
    shutil.rmtree(pkg)
