"""The coordinator's layers (../shared/DESIGN.md "Layout"): no import cycle, no import against
the layer order. Imports inside ``if TYPE_CHECKING:`` are types only and do not count; imports
inside functions do (they are dependencies all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "runner" / "gnt"

# package -> the packages it may import (besides itself and the root ``gnt``).
_BELOW_CONFIG = {"core", "opcodes"}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "opcodes": {"core"},
    "client": {"core", "opcodes"},
    # The gnt-* commands parse and submit; the daemon-less subcommands (cluster init/destroy,
    # master-failover, copyfile/command, console) call admin.
    "cli": {"core", "opcodes", "client", "admin"},
    "rapi": {"core", "opcodes", "client"},
    "config": _BELOW_CONFIG,
    "nodes": _BELOW_CONFIG | {"config"},
    "query": _BELOW_CONFIG | {"config", "nodes"},
    "iallocator": _BELOW_CONFIG | {"config", "nodes"},
    "lu": _BELOW_CONFIG | {"config", "nodes", "query", "iallocator"},
    "jobs": _BELOW_CONFIG | {"config", "nodes", "query", "iallocator", "lu"},
    # daemon.control asks a running daemon for a ping through the client, as any client does.
    "daemon": _BELOW_CONFIG | {"config", "nodes", "query", "iallocator", "lu", "jobs", "client"},
    "admin": _BELOW_CONFIG | {"config", "nodes", "client", "daemon.control"},
}


def _module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(sub) for sub in ast.walk(inner))
    return skipped


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the gnt modules it imports (a name imported from a package counts as that
    submodule when it is one)."""
    files = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "gnt")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = module.split(".") if is_package else module.split(".")[:-1]
                    here = here[:len(here) - node.level + 1]
                    base = ".".join(here + ([base] if base else []))
                if base.split(".")[0] != "gnt":
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports against :data:`ALLOWED`, as ``importer -> imported`` lines."""
    bad = []
    for module, targets in sorted(graph.items()):
        layer = _layer(module)
        if not layer:
            continue
        allowed = ALLOWED.get(layer)
        if allowed is None:
            bad.append(f"{module}: module outside the layers of DESIGN.md")
            continue
        for target in sorted(targets):
            other = _layer(target)
            if other in ("", layer) or other in allowed:
                continue
            if ".".join(target.split(".")[1:3]) in allowed:     # e.g. daemon.control
                continue
            bad.append(f"{module} -> {target}")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_every_module_is_in_a_layer() -> None:
    top = {_layer(m) for m in import_graph()} - {""}
    assert top <= set(ALLOWED), f"packages not in DESIGN.md's layout: {sorted(top - set(ALLOWED))}"
    assert not list(PACKAGE.glob("[!_]*.py")), "modules directly under gnt/ (put them in a layer)"


def test_no_import_against_the_layer_order() -> None:
    assert layer_violations(import_graph()) == []


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


# --- the checks themselves can fail ---------------------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "gnt"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_sees_an_upward_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "core/__init__.py": "", "lu/__init__.py": "",
                            "core/errors.py": "def f():\n    from gnt.lu import base\n",
                            "lu/base.py": "from gnt.core import errors\n"})
    graph = import_graph(root)
    assert layer_violations(graph) == ["gnt.core.errors -> gnt.lu.base"]
    assert find_cycle(graph) == ["gnt.core.errors", "gnt.lu.base", "gnt.core.errors"]


@pytest.mark.parametrize("guarded", [True, False])
def test_checker_ignores_type_only_imports(tmp_path: Path, guarded: bool) -> None:
    body = "from gnt.jobs.locking import LockManager\n"
    if guarded:
        body = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    " + body
    root = _tree(tmp_path, {"__init__.py": "", "lu/__init__.py": "", "jobs/__init__.py": "",
                            "lu/base.py": body, "jobs/locking.py": ""})
    assert (layer_violations(import_graph(root)) == []) is guarded


# --- the seam to the nodes --------------------------------------------------------------------
# Logical units reach nodes only through gnt.nodes: node work as roles through the executor,
# node questions through gnt.nodes.rpc. They open no SSH connection, build no shell command and
# start no process of their own.
LU_FORBIDDEN = {"gnt.nodes.ssh", "gnt.nodes.agent", "subprocess", "shlex", "socket", "pty",
                "paramiko", "asyncssh", "fabric"}
LU_FORBIDDEN_CALLS = {"os.system", "os.popen", "os.spawnv", "os.execv", "os.fork"}


def seam_violations(package: Path = PACKAGE) -> list[str]:
    """Imports and calls in ``package/lu`` that reach a node (or the shell) directly."""
    bad = []
    for path in sorted((package / "lu").rglob("*.py")):
        module = _module_name(path, package)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Call):
                names = [ast.unparse(node.func)]
                bad += [f"{module}: calls {n}" for n in names if n in LU_FORBIDDEN_CALLS]
                continue
            bad += [f"{module}: imports {n}" for n in names
                    if n in LU_FORBIDDEN or n.split(".", maxsplit=1)[0] in LU_FORBIDDEN]
    return bad


def test_logical_units_reach_nodes_only_through_the_nodes_package() -> None:
    assert seam_violations() == []


def test_seam_checker_sees_ssh_and_shell(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "lu/__init__.py": "",
                            "lu/a.py": "from gnt.nodes import ssh\nimport shlex\n",
                            "lu/b.py": "import os\nos.system('rm -rf /x')\n",
                            "lu/c.py": "from gnt.nodes import rpc\n"})
    assert seam_violations(root) == ["gnt.lu.a: imports gnt.nodes.ssh", "gnt.lu.a: imports shlex",
                                     "gnt.lu.b: calls os.system"]
