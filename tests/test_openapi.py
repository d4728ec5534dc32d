"""docs/openapi.yaml, the models and the fake's rules describe one API: none may drift alone.

The field lists come from the attrs classes, the rules from the module the fake
validates with; `drift()` lists every difference from the document, and the
mutated copies below show it notices each kind of change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from ecomcharge_async import Customer, NewCustomer, Request
from ecomcharge_async.testing import FakeEcomCharge, _rules

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
Spec = dict[str, Any]


def load() -> Spec:
    spec: Spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def _nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type", [])
    return "null" in (kind if isinstance(kind, list) else [kind])


def _clauses(new: dict[str, Any]) -> list[tuple[set[str], dict[str, Any]]]:
    """Each `allOf` if/then of NewCustomer as (the countries it applies to, its `then`)."""
    found = []
    for clause in new.get("allOf", []):
        country = clause["if"]["properties"]["country"]
        codes = set(country.get("enum", [])) | ({country["const"]} if "const" in country else set())
        found.append((codes, clause["then"]))
    return found


def _statuses(spec: Spec) -> dict[str, set[str]]:
    return {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def drift(spec: Spec) -> list[str]:
    """Every place where the document and the code disagree; empty when they agree."""
    problems: list[str] = []

    def check(what: str, documented: object, coded: object) -> None:
        if documented != coded:
            problems.append(f"{what}: the document says {documented!r}, the code {coded!r}")

    schemas = spec["components"]["schemas"]
    new, customer = schemas["NewCustomer"], schemas["Customer"]
    props = new["properties"]
    new_fields = attrs.fields(NewCustomer)
    optional = {f.name for f in new_fields if f.default is None}

    # NewCustomer: what the SDK sends.
    check("NewCustomer fields", set(props), {f.name for f in new_fields})
    check("NewCustomer required", set(new["required"]), {f.name for f in new_fields} - optional)
    check("fields that may be null", {n for n, p in props.items() if _nullable(p)}, optional)

    # The fake's rules.
    check("the fake's fields", set(props), set(_rules.FIELDS))
    check("the fake's required fields", set(new["required"]), set(_rules.REQUIRED))
    clauses = _clauses(new)
    conditional = {name for _, then in clauses for name in then.get("properties", {})}
    formats = {"enum", "pattern", "format", "anyOf"}
    free = {n for n, p in props.items() if not formats & set(p) and n not in conditional}
    check("free-text fields", free, set(_rules.FREE_TEXT))
    check("countries", set(props["country"]["enum"]) - {None}, set(_rules.COUNTRIES))
    check("email pattern", props["email"].get("pattern"), _rules.EMAIL_PATTERN)
    check("state pattern", props["state"].get("pattern"), _rules.STATE_PATTERN)
    state_in = {
        code for codes, then in clauses if "state" in then.get("required", []) for code in codes
    }
    check("state required in", state_in, set(_rules.STATE_REQUIRED_IN))
    us_zip = [
        then["properties"]["zip"].get("pattern") for codes, then in clauses if codes == {"US"}
    ]
    check("US zip pattern", us_zip, [_rules.US_ZIP_PATTERN])

    # Customer: what the SDK reads. Only `id` is certain; the rest may be missing.
    customer_fields = [f.name for f in attrs.fields(Customer)]
    check("Customer fields", set(customer["properties"]), set(customer_fields))
    check("Customer is NewCustomer and id", set(customer["properties"]), {*props, "id"})
    check(
        "Customer required",
        set(customer["required"]),
        {f.name for f in attrs.fields(Customer) if f.default is attrs.NOTHING},
    )
    id_type = attrs.fields(Customer).id.type
    check(
        "Customer id in code",
        (customer_fields[0], getattr(id_type, "__name__", id_type)),
        ("id", "str"),
    )

    # The documented answers of each operation, and nothing else.
    check(
        "statuses",
        _statuses(spec),
        {
            "POST /customers": {"201", "401", "422"},
            "GET /customers": {"200", "401"},
            "GET /customers/{customer_id}": {"200", "401", "404"},
        },
    )
    return problems


def test_the_document_agrees_with_the_models_and_the_fake() -> None:
    assert drift(load()) == []


def test_the_document_is_openapi_3_1_with_basic_auth() -> None:
    spec = load()
    assert spec["openapi"].startswith("3.1.")
    assert spec["components"]["securitySchemes"]["shopKey"] == {
        "type": "http",
        "scheme": "basic",
        "description": spec["components"]["securitySchemes"]["shopKey"]["description"],
    }
    assert spec["security"] == [{"shopKey": []}]


def test_the_documents_examples_follow_the_fakes_rules() -> None:
    spec = load()
    post = spec["paths"]["/customers"]["post"]
    example = post["requestBody"]["content"]["application/json"]["example"]
    assert _rules.validate_customer(example) == {}
    created = post["responses"]["201"]["content"]["application/json"]["example"]
    assert {k: v for k, v in created.items() if k != "id"} == example
    examples = spec["components"]["responses"]["Invalid"]["content"]["application/json"]["examples"]
    invalid = examples["documented"]["value"]
    assert _rules.error_message(invalid["errors"]) == invalid["message"]
    request = {"city": "Denver", "zip": "92006", "state": "CO", "email": "customer@example.com"}
    assert _rules.validate_customer(request) == invalid["errors"]


def test_the_documents_error_bodies_are_the_fakes() -> None:
    """The 401 error object and the `base` errors of a body that is not a JSON object."""
    spec = load()
    fake = FakeEcomCharge(shop_id="361", secret_key="s")
    url = "https://api.ecomcharge.com/customers"
    wrong_key = fake.handle(Request(method="GET", url=url))
    unauthorized = spec["components"]["responses"]["Unauthorized"]["content"]["application/json"]
    assert (wrong_key.status, json.loads(wrong_key.body)) == (401, unauthorized["example"])
    headers = {"Authorization": "Basic MzYxOnM=", "Content-Type": "application/json"}
    not_object = fake.handle(Request(method="POST", url=url, headers=headers, body=b"[1, 2]"))
    invalid = spec["components"]["responses"]["Invalid"]["content"]["application/json"]
    expected = invalid["examples"]["notAnObject"]["value"]
    assert (not_object.status, json.loads(not_object.body)) == (422, expected)


def _schemas(spec: Spec) -> dict[str, Any]:
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def _new_props(spec: Spec) -> dict[str, Any]:
    props: dict[str, Any] = _schemas(spec)["NewCustomer"]["properties"]
    return props


MUTATIONS: dict[str, Callable[[Spec], None]] = {
    "a field dropped": lambda s: _new_props(s).pop("phone"),
    "a field added": lambda s: _new_props(s).update(fax={"type": ["string", "null"]}),
    "a field made required": lambda s: _schemas(s)["NewCustomer"]["required"].append("city"),
    "a required field made nullable": lambda s: _new_props(s)["email"].update(
        type=["string", "null"]
    ),
    "a free-text field given a format": lambda s: _new_props(s)["phone"].update(pattern="^[0-9]+$"),
    "a country dropped": lambda s: _new_props(s)["country"]["enum"].remove("DE"),
    "the email pattern changed": lambda s: _new_props(s)["email"].update(pattern="^.+@.+$"),
    "the state pattern changed": lambda s: _new_props(s)["state"].update(pattern="^[A-Z]{2,3}$"),
    "the US zip pattern changed": lambda s: _schemas(s)["NewCustomer"]["allOf"][1]["then"][
        "properties"
    ]["zip"].update(pattern="^[0-9]{5}$"),
    "state required in one more country": lambda s: _schemas(s)["NewCustomer"]["allOf"][0]["if"][
        "properties"
    ]["country"]["enum"].append("MX"),
    "Customer without id": lambda s: _schemas(s)["Customer"]["properties"].pop("id"),
    "Customer with email required": lambda s: _schemas(s)["Customer"]["required"].append("email"),
    "an undocumented status": lambda s: s["paths"]["/customers"]["get"]["responses"].update(
        {"500": {"description": "oops"}}
    ),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_drift_is_noticed(mutate: Callable[[Spec], None]) -> None:
    spec = copy.deepcopy(load())
    mutate(spec)
    assert drift(spec) != []
