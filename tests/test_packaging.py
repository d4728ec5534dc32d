"""What PyPI shows: the README renders there (absolute links only) and the metadata is whole.

`nox -s build` checks the built sdist and wheel with `twine check --strict`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
import tomllib
from pathlib import Path

import ecomcharge_async

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCS_URL = "https://ecomcharge-async.readthedocs.io/en/latest/"

#: Markdown links and images, autolinks and HTML href/src attributes.
LINKS = re.compile(r"\]\(\s*<?([^)\s>]+)|<(https?://[^>]+)>|(?:href|src)=\"([^\"]+)\"")


def readme_links() -> list[str]:
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    return [next(part for part in match.groups() if part) for match in LINKS.finditer(text)]


def test_every_readme_link_is_absolute() -> None:
    links = readme_links()
    assert any(link.startswith(DOCS_URL) for link in links), links
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == [], "relative links break on PyPI: point them at the docs site"


def test_the_link_check_sees_relative_links() -> None:
    found = LINKS.finditer('[a](docs/x.md) <https://a.example/> <img src="b.png">')
    assert [next(p for p in m.groups() if p) for m in found] == [
        "docs/x.md",
        "https://a.example/",
        "b.png",
    ]


def test_the_package_metadata_is_complete() -> None:
    project = PYPROJECT["project"]
    assert (project["license"], project["license-files"]) == ("MIT", ["LICENSE"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert set(project["urls"]) == {"Documentation", "Source", "Changelog", "Issues"}
    assert project["urls"]["Documentation"] == DOCS_URL
    classifiers = set(project["classifiers"])
    needed = {"Framework :: AsyncIO", "Framework :: aiohttp", "Framework :: Pytest"}
    assert needed | {"Typing :: Typed"} <= classifiers
    # PEP 639: the license expression replaces the License classifiers.
    assert not [c for c in classifiers if c.startswith("License ::")]
    minors = sorted(
        c.rsplit(".", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)
    )
    assert project["requires-python"] == f">=3.{minors[0]}"


def test_test_and_docs_requirements_are_groups_not_extras() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert {"test", "docs"}.isdisjoint(extras)
    assert "httpx" in extras
    groups = PYPROJECT["dependency-groups"]
    names = {re.split(r"[<>=\[ ]", req, maxsplit=1)[0] for req in groups["test"]}
    assert {"pytest", "pytest-timeout", "pytest-randomly", "pytest-xdist", "trio"} <= names


def _declares_all(module: str) -> bool:
    """Read, not imported: some public modules need an optional extra (celery)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    return any(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and "__all__" in ast.unparse(node).split("=")[0]
        for node in tree.body
    )


def test_the_reference_check_covers_every_public_module() -> None:
    """docs/check_reference.py (run by nox -s docs) compares these modules' __all__."""
    tree = ast.parse((ROOT / "docs" / "check_reference.py").read_text())
    [checked] = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "PUBLIC"
    ]
    modules = ["ecomcharge_async"] + [
        info.name
        for info in pkgutil.walk_packages(ecomcharge_async.__path__, "ecomcharge_async.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    public = {name for name in modules if _declares_all(name)}
    assert public == set(checked)
