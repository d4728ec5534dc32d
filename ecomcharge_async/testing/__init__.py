"""Offline testing: a simulated eComCharge that applies the documented rules.

`FakeEcomCharge` is the simulated shop; `fake.transport()` reaches it in
process and `serve(fake)` over real HTTP on loopback; `Fault` makes it
misbehave on purpose. The pytest plugin (`pytest_plugin`) gives every project
that installs the package the fixtures `ecomcharge_fake` and `ecomcharge_client`.

The names are imported on first use: pytest loads the plugin, a submodule of
this package, in every run of a project that installs the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._backend import FakeEcomCharge
    from ._faults import Fault
    from ._server import serve
    from ._transport import FakeTransport

__all__ = ["FakeEcomCharge", "FakeTransport", "Fault", "serve"]

_HOMES = {
    "FakeEcomCharge": "._backend",
    "FakeTransport": "._transport",
    "Fault": "._faults",
    "serve": "._server",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use, then keep the name here."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
