"""Offline testing: a simulated eComCharge that applies the documented rules.

from ecomcharge_async.testing import FakeEcomCharge
fake = FakeEcomCharge(shop_id="361", secret_key="s")
client = Client("361", "s", transport=fake.transport())
"""

from ._backend import FakeEcomCharge
from ._faults import Fault
from ._transport import FakeTransport

__all__ = ["FakeEcomCharge", "FakeTransport", "Fault"]
