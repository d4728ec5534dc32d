"""Sphinx configuration: furo, MyST Markdown pages and autodoc of the public API.

Built by `nox -s docs` as `sphinx-build -W -n`: every warning and every
unresolved cross-reference fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecomcharge_async import __version__  # noqa: E402

project = "ecomcharge-async"
author = "ecomcharge-async developers"
copyright = "2026, ecomcharge-async developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"ecomcharge-async {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}
# Every unresolved reference is a warning, so the build (-W) fails on it: the same
# locally (nox -s docs) and on Read the Docs, which does not pass -n.
nitpicky = True
# Show defaults as written (`asyncio.sleep`), not as reprs that break the signature.
autodoc_preserve_defaults = True
autodoc_type_aliases = {"Handler": "ecomcharge_async.Handler"}
# attrs classes: the generated __init__ documents the fields; the class body repeats them.
autoclass_content = "class"

# There is no network at build time, so no intersphinx inventories: references to
# the standard library and to aiohttp/httpx types cannot be resolved. Exactly those
# are ignored; a broken reference to our own API still fails the build.
nitpick_ignore = [
    ("py:class", "aiohttp.client.ClientSession"),
    ("py:class", "httpx.AsyncClient"),
    ("py:class", "ssl.SSLContext"),
    ("py:class", "pathlib.Path"),
    ("py:class", "typing.Any"),
    ("py:class", "pytest.FixtureRequest"),
    ("py:class", "opentelemetry.trace.TracerProvider"),
]
# Private types that appear in public signatures: the client's "option not given"
# sentinel, what `Customers` and `RawResponse` are built from (users get them ready
# made), and the fake's backend protocol.
nitpick_ignore += [
    ("py:class", "ecomcharge_async._core.client._Omitted"),
    ("py:class", "ecomcharge_async._core.requester.Requester"),
    ("py:class", "ecomcharge_async._serde.codec.Decoder"),
    ("py:class", "ecomcharge_async._core.requester.T"),
    ("py:class", "ecomcharge_async._core.client.T"),
    ("py:class", "ecomcharge_async._core.sync_request.SyncRequests"),
    ("py:class", "ecomcharge_async.testing._transport.Backend"),
]
nitpick_ignore_regex = [("py:class", r"collections\.abc\.[A-Za-z]+")]
