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
        ec.Response(200)  # type: ignore[misc]


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
