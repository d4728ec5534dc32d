"""The simulated eComCharge: bytes in, bytes out, the documented rules applied.

One backend serves both fronts: `FakeTransport` (in process) and the loopback
aiohttp.web server (real HTTP), so both answer exactly alike. Only the
`Fault.refuse()` fault differs, as it must: over HTTP an accepted connection can
be reset but no longer refused.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._core.customers import CUSTOMER
from .._core.http import Request, Response, find_header
from .._core.models import FIELDS, Customer
from . import _rules
from ._faults import DEFAULT_RANDOM_FAULTS, Fault, FaultPlan
from ._transport import FakeTransport

MAX_BODY_BYTES = 64 * 1024
#: The credentials of the demo shop behind `ecomcharge demo`, `import --fake` and `serve`.
DEMO_SHOP_ID = "361"
DEMO_SECRET = "demo-secret"
_JSON = {"Content-Type": "application/json"}


def _json_response(status: int, payload: Any) -> Response:
    return Response(status=status, headers=_JSON, body=json.dumps(payload).encode())


def _error(status: int, message: str) -> Response:
    return _json_response(status, {"message": message})


#: Where the fake's 401 points; the platform's own answer links a page of its docs.
HELP_URL = "https://api.ecomcharge.com/docs/errors#unauthorized"
UNAUTHORIZED = {
    "error": {
        "code": "unauthorized",
        "friendly_message": "You can't have access to this area",
        "help": HELP_URL,
        "message": "Unauthorized",
    }
}


def _not_allowed(allow: str) -> Response:
    return Response(
        status=405,
        headers={**_JSON, "Allow": allow},
        body=json.dumps({"message": "Method not allowed"}).encode(),
    )


def _unprocessable(base: str) -> Response:
    """A body the API cannot read as parameters: 422, the documented status of bad input.

    The API doc lists 422 for invalid parameters and no 400 or 415, so a body
    that is no JSON object is one more invalid-parameters case, under `base`.
    """
    return _json_response(422, {"message": base, "errors": {"base": [base]}})


class FakeEcomCharge:
    """An in-memory eComCharge shop for offline tests.

    >>> fake = FakeEcomCharge(shop_id="361", secret_key="s")
    >>> client = Client("361", "s", transport=fake.transport())  # doctest: +SKIP

    `customers` is what the shop holds, in creation order. `inject()` and
    `inject_random()` make it misbehave on purpose.
    """

    def __init__(
        self, shop_id: str = "361", secret_key: str = "s", *, seed: int | None = None
    ) -> None:
        self.shop_id = shop_id
        self._expected_auth = self._basic(shop_id, secret_key)
        self._store: dict[str, dict[str, Any]] = {}
        self._ids = random.Random(seed)
        self.faults: FaultPlan = FaultPlan()
        self.request_count: int = 0
        self._routes: dict[str, Callable[[Request], Response]] = {}

    def __repr__(self) -> str:
        return f"FakeEcomCharge(shop_id={self.shop_id!r}, customers={len(self._store)})"

    @staticmethod
    def _basic(shop_id: str, secret_key: str) -> str:
        return "Basic " + base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode()

    # -- what tests look at -------------------------------------------------------

    @property
    def customers(self) -> list[Customer]:
        """The customers the shop holds, in creation order."""
        return [CUSTOMER.read(record) for record in self._store.values()]

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """The stored customers as JSON-ready dicts, in creation order."""
        return iter(self._store.values())

    def add(self, *, id: str | None = None, **fields: str) -> Customer:
        """Store a customer directly (no validation), as if created earlier."""
        record = self._record(fields, id)
        self._store[record["id"] or ""] = record
        return Customer(**record)  # type: ignore[arg-type]

    def add_record(self, record: Mapping[str, Any]) -> None:
        """Store a JSON object exactly as given; the API will answer it as is.

        For records the documented create cannot make but the real API can hold:
        customers created with a subscription (no `email` or `ip`), nulls,
        numbers where strings belong (`"zip": 92006`), fields added later.
        """
        customer_id = record.get("id")
        if not isinstance(customer_id, str) or not customer_id:
            raise ValueError("a record needs a non-empty string `id`")
        self._store[customer_id] = dict(record)

    # -- fault injection ----------------------------------------------------------

    def inject(self, *faults: Fault | None) -> None:
        """Apply these faults to the next requests, one each, in order (None: no fault)."""
        self.faults.script(faults)

    def inject_random(
        self,
        rate: float,
        *,
        seed: int | None = None,
        faults: tuple[Fault, ...] = DEFAULT_RANDOM_FAULTS,
    ) -> None:
        """After the scripted faults, give each request a fault with probability `rate`."""
        self.faults.set_random(rate, seed, faults)

    def take_fault(self) -> Fault | None:
        """The fault for the request now arriving, if any (the fronts call this)."""
        self.request_count += 1
        return self.faults.next()

    # -- the API ------------------------------------------------------------------

    def route(self, path: str, handler: Callable[[Request], Response]) -> None:
        """Answer a top-level `path` and the paths under it (`/plans`, `/plans/...`) with `handler`.

        For endpoints the fake does not model: the credentials are checked
        first, faults apply as to any request, and both fronts (in process and
        over HTTP) reach `handler` alike.
        """
        if not path.startswith("/") or path.count("/") != 1 or len(path) < 2:
            raise ValueError("a route is one path segment like '/plans'")
        self._routes[path] = handler

    def transport(self) -> FakeTransport:
        """A `Transport` that talks to this fake in process."""
        return FakeTransport(self)

    def handle(self, request: Request) -> Response:
        """Answer one request exactly as eComCharge would (faults are the fronts' job)."""
        if find_header(request.headers, "Authorization") != self._expected_auth:
            # The platform's documented error object (its back-office client shows it).
            return _json_response(401, UNAUTHORIZED)
        path = urlsplit(request.url).path.rstrip("/")
        handler = self._routes.get("/" + path.split("/", 2)[1]) if path else None
        if handler is not None:
            return handler(request)
        if path == "/customers":
            if request.method == "POST":
                return self._create(request)
            if request.method == "GET":
                return self._list()
            return _not_allowed("GET, POST")
        if path.startswith("/customers/") and path.count("/") == 2:
            if request.method == "GET":
                return self._get(path.rsplit("/", 1)[1])
            return _not_allowed("GET")
        return _error(404, "Not found")

    def _create(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY_BYTES:
            return _error(413, "Request body too large")
        content_type = (find_header(request.headers, "Content-Type") or "").split(";")[0].strip()
        if content_type.lower() != "application/json":
            return _unprocessable("Content-Type must be application/json")
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            return _unprocessable("Body is not valid JSON")
        if not isinstance(data, dict):
            return _unprocessable("Body must be a JSON object")
        errors = _rules.validate_customer(data)
        if errors:
            return _json_response(422, {"message": _rules.error_message(errors), "errors": errors})
        record = self._record(data)
        self._store[record["id"] or ""] = record
        return _json_response(201, record)

    def _get(self, customer_id: str) -> Response:
        record = self._store.get(customer_id)
        if record is None:
            return _error(404, "Customer not found")
        return _json_response(200, record)

    def _list(self) -> Response:
        return Response(status=200, headers=_JSON, body=b"".join(self.list_chunks()))

    def list_chunks(self, batch: int = 1000) -> Iterator[bytes]:
        """The GET /customers body in pieces of `batch` customers, so a front can stream it."""
        records = list(self._store.values())  # a snapshot: creates may land meanwhile
        yield b"["
        for start in range(0, len(records), batch):
            piece = ",".join(json.dumps(r) for r in records[start : start + batch])
            yield (piece if start == 0 else "," + piece).encode()
        yield b"]"

    def is_list_request(self, request: Request) -> bool:
        """Whether `request` is an authorised GET /customers (a front may stream it)."""
        return (
            request.method == "GET"
            and urlsplit(request.url).path.rstrip("/") == "/customers"
            and find_header(request.headers, "Authorization") == self._expected_auth
        )

    def _record(
        self, data: Mapping[str, Any], customer_id: str | None = None
    ) -> dict[str, str | None]:
        record: dict[str, str | None] = {"id": customer_id or self._new_id()}
        for field in FIELDS:
            value = data.get(field)
            record[field] = value if isinstance(value, str) else None
        return record

    def _new_id(self) -> str:
        while True:
            customer_id = f"cst_{self._ids.getrandbits(64):016x}"
            if customer_id not in self._store:
                return customer_id
