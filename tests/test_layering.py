"""The package's modules import each other without cycles (module-level imports).

A cycle makes import order matter and hides which layer depends on which; this
test names the modules of any cycle. Imports under `if TYPE_CHECKING:` and
inside functions are left out: they do not run when the module loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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


# The layers, lowest first: each may import those before it in this list, never after.
# A layer is folders or modules; a module belongs to the longest entry naming it. Below
# the rest of `_core` sit the values serialization reads into and raises (models, errors
# and what they import), then `_serde`, which the services use to encode and decode.
# (The command line runs imports on the fake with --fake, so it sits above testing; the
# argument types both command lines parse options with sit below both.)
LAYERS = [
    ("_version",),
    (
        "_core.models",
        "_core.errors",
        "_core.error_body",
        "_core.http",
        "_core.policy",
        "_core.durations",
    ),
    ("_serde",),
    ("_core",),
    ("_transports",),
    ("_argtypes",),
    ("bulk",),
    ("testing",),
    ("cli",),
    ("celery",),
    ("otel",),
]


def _layer(module: str) -> int | None:
    """The index in LAYERS of the layer `module` belongs to; None: in no layer."""
    inner = module.removeprefix(f"{NAME}.")
    best: tuple[int, int] | None = None  # (length of the entry naming it, layer)
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (inner == entry or inner.startswith(f"{entry}.")) and (
                best is None or len(entry) > best[0]
            ):
                best = (len(entry), index)
    return None if best is None or module == NAME else best[1]


def test_a_module_belongs_to_the_longest_entry_naming_it() -> None:
    assert _layer(f"{NAME}._core.errors") == 1
    assert _layer(f"{NAME}._serde.codec") == 2
    assert _layer(f"{NAME}._core.customers") == 3
    assert _layer(f"{NAME}._core") == 3
    assert _layer(NAME) is None


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            here, there = _layer(module), _layer(target)
            if here is not None and there is not None and there > here:
                upward.append((module, target))
    assert sorted(set(upward)) == []


def test_every_module_sits_in_a_layer() -> None:
    loose = sorted(
        module
        for module in import_graph()
        if module.count(".") == 1 and _layer(module) is None and not module.endswith("__main__")
    )
    assert loose == []


def test_serialization_loads_no_http_library() -> None:
    """Encoding and decoding need the models and errors, never aiohttp or httpx."""
    code = (
        "import sys, ecomcharge_async._serde.codec, ecomcharge_async._serde.converter\n"
        "print(sorted({'aiohttp', 'httpx'} & sys.modules.keys()))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def private_bulk_imports(module: str, source: str) -> list[str]:
    """What `module` imports from bulk's private modules, wherever the import stands.

    Every import counts here (inside functions and `if TYPE_CHECKING:` too): the
    layers above bulk build on its public names only.
    """
    package = module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            stem = node.module or ""
            root = f"{base}.{stem}".strip(".") if node.level else stem
            targets = [root] + [f"{root}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            inner = target.removeprefix(f"{NAME}.bulk.")
            if inner != target and inner.startswith("_"):
                found.append(f"{module} imports {NAME}.bulk.{inner.split('.')[0]}")
    return sorted(set(found))


def test_the_cli_and_celery_use_only_the_public_names_of_bulk() -> None:
    """`cli` and `celery` import what `bulk` exports, never one of its private modules."""
    checked, found = 0, []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if module.startswith((f"{NAME}.cli", f"{NAME}.celery")):
            checked += 1
            found += private_bulk_imports(module, path.read_text(encoding="utf-8"))
    assert checked > 5  # the walk found the command line and the Celery app
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from ..bulk._rows import RowReader",
        "from ..bulk import _rows",
        "def f():\n    from ecomcharge_async.bulk._journal import Journal",
        "import ecomcharge_async.bulk._scan",
    ],
)
def test_the_private_import_check_sees_every_form(source: str) -> None:
    assert private_bulk_imports(f"{NAME}.cli._import", source) != []
    assert private_bulk_imports(f"{NAME}.cli._import", "from ..bulk import RowReader") == []


def test_a_client_on_the_fake_loads_no_http_library() -> None:
    """`_core` imports no HTTP library: the default transport is imported when first needed."""
    code = (
        "import asyncio, sys\n"
        "import ecomcharge_async as ec\n"
        "from ecomcharge_async.testing import FakeEcomCharge\n"
        "async def main():\n"
        "    fake = FakeEcomCharge(shop_id='361', secret_key='s')\n"
        "    async with ec.Client('361', 's', transport=fake.transport()) as client:\n"
        "        new = ec.NewCustomer(email='a@example.com', ip='1.2.3.4')\n"
        "        await client.customers.create(new)\n"
        "        assert len(await client.request('GET', '/customers')) == 1\n"
        "asyncio.run(main())\n"
        "print(sorted({'aiohttp', 'httpx'} & sys.modules.keys()))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_the_default_transport_is_aiohttp_imported_on_first_use() -> None:
    code = (
        "import sys, ecomcharge_async as ec\n"
        "client = ec.Client('361', 's')\n"
        "print(type(client._transport).__name__, 'aiohttp' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["AiohttpTransport", "True"]
