"""The public surface: `__all__` is sorted, resolves, and holds what DESIGN.md promises."""

from __future__ import annotations

import sys

import pytest

import ecomcharge_async as ec
import ecomcharge_async.testing as testing

# The public names DESIGN.md ("Public contract") promises users and tests.
DESIGN_NAMES = {
    "Client",
    "NewCustomer",
    "Customer",
    "Transport",
    "Request",
    "Response",
    "AiohttpTransport",
    "RetryPolicy",
    "EcomChargeError",
    "APIError",
    "ValidationError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "ConnectError",
    "DecodeError",
}
DESIGN_TESTING_NAMES = {"FakeEcomCharge", "FakeTransport", "Fault"}


def test_all_is_sorted_and_unique() -> None:
    assert ec.__all__ == sorted(set(ec.__all__))
    assert testing.__all__ == sorted(set(testing.__all__))


def test_all_holds_every_promised_name() -> None:
    assert set(ec.__all__) >= DESIGN_NAMES
    assert set(testing.__all__) >= DESIGN_TESTING_NAMES


def test_every_name_in_all_resolves() -> None:
    for module in (ec, testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ecomcharge_async import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == ec.__all__


def test_public_classes_are_not_missing_from_all() -> None:
    """A class defined in the package and re-exported at the top must be listed."""
    exported = {
        name
        for name, value in vars(ec).items()
        if isinstance(value, type)
        and value.__module__.startswith("ecomcharge_async.")
        and not name.startswith("_")
    }
    assert exported <= set(ec.__all__)


def test_error_classes_form_the_documented_tree() -> None:
    parents = {
        ec.APIError: ec.EcomChargeError,
        ec.ValidationError: ec.APIError,
        ec.AuthenticationError: ec.APIError,
        ec.NotFoundError: ec.APIError,
        ec.RateLimitError: ec.APIError,
        ec.ServerError: ec.APIError,
        ec.APIConnectionError: ec.EcomChargeError,
        ec.APITimeoutError: ec.APIConnectionError,
        ec.ConnectError: ec.APIConnectionError,
        ec.DecodeError: ec.EcomChargeError,
    }
    for child, parent in parents.items():
        assert child.__bases__ == (parent,), child.__name__


def test_the_version_has_one_source() -> None:
    from importlib.metadata import version

    from ecomcharge_async._version import __version__

    assert ec.__version__ == __version__ == version("ecomcharge-async")


def test_httpx_transport_is_listed_by_dir_but_not_in_all() -> None:
    # Not in __all__: `from ecomcharge_async import *` must work without httpx.
    assert "HttpxTransport" in dir(ec)
    assert "HttpxTransport" not in ec.__all__


def test_without_httpx_the_lazy_name_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # what an install without httpx sees
    monkeypatch.delitem(sys.modules, "ecomcharge_async._transports.httpx_transport", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'ecomcharge-async\[httpx\]'"):
        ec.HttpxTransport  # noqa: B018


def test_unknown_attributes_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        ec.Nope  # type: ignore[attr-defined]  # noqa: B018
