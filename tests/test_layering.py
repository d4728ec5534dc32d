"""The package's modules import each other without cycles (module-level imports).

A cycle makes import order matter and hides which layer depends on which; this
test names the modules of any cycle. Imports under `if TYPE_CHECKING:` and
inside functions are left out: they do not run when the module loads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ecomcharge_async

PACKAGE = Path(ecomcharge_async.__file__).parent
NAME = "ecomcharge_async"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports when it loads."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                stem = node.module or ""
                root = f"{base}.{stem}".strip(".") if node.level else stem
                # `from . import _x` imports the module `_x`; `from ._x import y` imports `_x`.
                targets = [f"{root}.{alias.name}" for alias in node.names] + [root]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
                    break
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20  # the walk found the package
    assert find_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_relative_and_package_imports() -> None:
    graph = import_graph()
    assert f"{NAME}._core.http" in graph[f"{NAME}._core.errors"]
    assert f"{NAME}._core.logs" in graph[NAME]  # a package (__init__) importing a module


# The folders are the layers: each may import those before it in this list, never after
# (the command line runs imports on the fake with --fake, so it sits above testing).
LAYERS = ["_version", "_core", "_transports", "bulk", "testing", "cli", "celery", "otel"]
# The client builds its default transport; `python -m ecomcharge_async.testing serve` is a
# command line too, and parses its options with the CLI's argument types.
ALLOWED = {
    (f"{NAME}._core.client", f"{NAME}._transports.aiohttp_transport"),
    (f"{NAME}.testing.__main__", f"{NAME}.cli._argtypes"),
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = sorted(
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if _layer(module) in LAYERS
        and _layer(target) in LAYERS
        and LAYERS.index(_layer(target)) > LAYERS.index(_layer(module))
        and (module, target) not in ALLOWED
    )
    assert upward == []


def test_every_module_sits_in_a_layer_folder() -> None:
    loose = sorted(
        module
        for module in import_graph()
        if module.count(".") == 1 and _layer(module) not in [*LAYERS, "__main__"]
    )
    assert loose == []
