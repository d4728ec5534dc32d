"""Check that the built API reference documents exactly the public names.

Run by `nox -s docs` after the build: `python docs/check_reference.py docs/_build/html`.
For each public module, the names in `__all__` must equal the names the site's
objects.inv holds directly under that module, so nothing public is missing and
nothing private is shown.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile

#: Public modules, and names they export without listing them in `__all__`.
PUBLIC = {
    "ecomcharge_async": ("HttpxTransport",),  # imported on first use: httpx is an extra
    "ecomcharge_async.bulk": (),
    "ecomcharge_async.otel": (),
    "ecomcharge_async.testing": (),
    "ecomcharge_async.testing.pytest_plugin": (),
}
KINDS = ("py:class", "py:exception", "py:function", "py:data", "py:attribute", "py:method")


def documented(site: Path) -> set[str]:
    with (site / "objects.inv").open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    data = inventory.data if hasattr(inventory, "data") else inventory
    return {name for kind in KINDS for name in data.get(kind, {})}


def mismatches(site: Path) -> list[str]:
    names = documented(site)
    problems = []
    for module_name, extra in PUBLIC.items():
        module = importlib.import_module(module_name)
        public = {*module.__all__, *extra}
        shown = {
            name.removeprefix(f"{module_name}.")
            for name in names
            if name.startswith(f"{module_name}.")
            and "." not in name.removeprefix(f"{module_name}.")
        }
        if missing := sorted(public - shown):
            problems.append(f"{module_name}: not in the reference: {', '.join(missing)}")
        if private := sorted(shown - public):
            problems.append(f"{module_name}: documented but not public: {', '.join(private)}")
    return problems


if __name__ == "__main__":
    problems = mismatches(Path(sys.argv[1]))
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)
