"""The one cattrs converter: liberal in what it reads, the surface users extend.

A model decodes as long as its required fields are there: missing or null
optional fields are None, a number where a string belongs is read as its text,
unknown fields are ignored, since the API (and customers made through other
APIs) will not always match the documented example. What it cannot read at
all (a missing `id`, an object, array or boolean in a string field) raises,
and the codec turns that into a `DecodeError` that says where and what.
"""

from __future__ import annotations

import math
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn

from .._core.models import NewCustomer
from .explain import json_type


def _liberal_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    return _number_text(value)


def _liberal_optional_str(value: Any, _: Any) -> str | None:
    # The dedicated hook keeps `str | None` as fast as a plain field: cattrs'
    # generic union handling is several times slower.
    if value is None or type(value) is str:
        return value
    return _number_text(value)


def _number_text(value: Any) -> str:
    """A JSON number's text (`92006` -> "92006"); anything else is unreadable as a string."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return str(value)
    if isinstance(value, str):  # a str subclass, from a user's own structure() call
        return str(value)
    raise TypeError(f"expected a string, got {json_type(value)}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_structure_hook(str, _liberal_str)
    conv.register_structure_hook(str | None, _liberal_optional_str)
    # What POST /customers sends leaves unset fields out (the codec's encoder agrees).
    conv.register_unstructure_hook(
        NewCustomer,
        make_dict_unstructure_fn(NewCustomer, conv, _cattrs_omit_if_default=True),
    )
    return conv


#: The one cattrs converter: `converter.structure(data, Customer)` reads a decoded
#: dict as liberally as a response (a webhook's payload, a stored record), and
#: `converter.unstructure(new_customer)` is what POST /customers sends. Response
#: bodies of the documented shape are decoded in C straight into the same classes;
#: what that fast path refuses is read through this converter, with your hooks.
converter: cattrs.Converter = _make_converter()
