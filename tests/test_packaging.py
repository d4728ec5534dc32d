"""What PyPI shows: the README's links lead somewhere real and the metadata is whole.

Neither a docs site nor a public repository exists yet, so the README links to the
Markdown sources shipped in the sdist, and the metadata names no project URL.
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
#: What the sdist ships besides the package (pyproject's sdist include list).
SDIST_INCLUDE = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]

#: Markdown links and images, autolinks and HTML href/src attributes.
LINKS = re.compile(r"\]\(\s*<?([^)\s>]+)|<(https?://[^>]+)>|(?:href|src)=\"([^\"]+)\"")


def readme_links() -> list[str]:
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    return [next(part for part in match.groups() if part) for match in LINKS.finditer(text)]


def test_every_readme_link_leads_to_a_real_page() -> None:
    links = readme_links()
    relative = [link for link in links if not link.startswith("https://")]
    assert relative, links
    for link in relative:
        path = link.split("#", 1)[0]
        assert (ROOT / path).is_file(), f"the README links to {link}, which does not exist"
        assert path.split("/", 1)[0] in SDIST_INCLUDE, f"the sdist does not ship {path}"
    # Not published yet: a link there would lead nowhere.
    assert not [link for link in links if "readthedocs.io" in link], links


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
    # No docs site or public repository exists yet: no URL until one does.
    assert "urls" not in project
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
