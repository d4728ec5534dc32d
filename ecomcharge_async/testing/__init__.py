"""Offline testing: a simulated eComCharge that applies the documented rules.

`FakeEcomCharge` is the simulated shop; `fake.transport()` reaches it in
process and `serve(fake)` over real HTTP on loopback; `Fault` makes it
misbehave on purpose. The pytest plugin (`pytest_plugin`) gives every project
that installs the package the fixtures `ecomcharge_fake` and `ecomcharge_client`.
"""

from ._backend import FakeEcomCharge
from ._faults import Fault
from ._server import serve
from ._transport import FakeTransport

__all__ = ["FakeEcomCharge", "FakeTransport", "Fault", "serve"]
