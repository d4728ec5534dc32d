"""Request and Response: plain values that never print credentials or bodies."""

from __future__ import annotations

import attrs
import pytest

import ecomcharge_async as ec


def test_request_repr_redacts_credentials_and_hides_the_body() -> None:
    request = ec.Request(
        method="POST",
        url="https://api.ecomcharge.com/customers",
        headers={"Authorization": "Basic c2VjcmV0", "cookie": "x=1", "Accept": "application/json"},
        body=b'{"email":"someone@example.com"}',
    )
    text = repr(request)
    assert "c2VjcmV0" not in text
    assert "x=1" not in text
    assert "someone@example.com" not in text
    assert "<redacted>" in text
    assert "<31 bytes>" in text
    assert "application/json" in text


def test_values_are_frozen_and_keyword_only() -> None:
    response = ec.Response(status=200)
    assert response.body == b""
    assert response.headers == {}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        response.status = 500  # type: ignore[misc]
    with pytest.raises(TypeError):
        ec.Response(200)  # type: ignore[call-arg]


def test_headers_are_copied_so_the_caller_cannot_change_them() -> None:
    headers = {"X-A": "1"}
    request = ec.Request(method="GET", url="https://x.example", headers=headers)
    headers["X-A"] = "2"
    assert request.headers["X-A"] == "1"
    assert attrs.evolve(request, headers={**request.headers, "X-B": "2"}).headers["X-B"] == "2"


def test_header_lookup_is_case_insensitive() -> None:
    response = ec.Response(status=200, headers={"Retry-After": "3"})
    assert response.header("retry-after") == "3"
    assert response.header("Retry-After") == "3"
    assert response.header("x-missing") is None


def test_the_hot_paths_builders_make_the_same_frozen_values() -> None:
    # `new_request` and `new_response` fill every field themselves: one missed (a field
    # added to the class) fails here, as the values must equal what the classes build.
    from ecomcharge_async._core.http import new_request, new_response
    from ecomcharge_async._core.policy import DEFAULT_RETRY

    headers = {"Authorization": "Basic c2VjcmV0", "Content-Type": "application/json"}
    fast = new_request(
        "POST", "https://x/c", "c.create", None, headers, b"{}", True, 5.0, DEFAULT_RETRY
    )
    built = ec.Request(
        method="POST",
        url="https://x/c",
        operation="c.create",
        route=None,
        headers=headers,
        body=b"{}",
        stream=True,
        timeout=5.0,
        retry=DEFAULT_RETRY,
    )
    answer = new_response(201, headers, b"{}")
    for value, expected in (
        (fast, built),
        (answer, ec.Response(status=201, headers=headers, body=b"{}")),
    ):
        assert type(value) is type(expected)
        assert attrs.asdict(value, recurse=False) == attrs.asdict(expected, recurse=False)
        assert value == expected
        assert repr(value) == repr(expected)
        assert value.headers == headers
        assert value.headers is not headers  # copied, as the classes' converter does
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.body = b"changed"  # type: ignore[misc]
    assert attrs.evolve(fast, attempt=2).attempt == 2


def test_the_hot_paths_builders_know_every_converter_and_validator() -> None:
    # `new_request`/`new_response` copy headers as `_copied_headers` does and run no
    # validator nor post-init hook: one added to either class must be added there too
    # (then update this list), or the builders would make values the classes refuse.
    from ecomcharge_async._core.http import _copied_headers

    for cls in (ec.Request, ec.Response):
        checks = {
            f.name: (f.converter, f.validator)
            for f in attrs.fields(cls)
            if f.converter or f.validator
        }
        assert checks == {"headers": (_copied_headers, None)}, cls
        assert not hasattr(cls, "__attrs_post_init__")
        assert not hasattr(cls, "__attrs_pre_init__")
