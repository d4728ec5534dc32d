"""Hypothesis strategies shared by the serialization tests: customers and whatever JSON."""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

import ecomcharge_async as ec

text = st.text(max_size=40)
optional = st.none() | text
OPTIONAL_FIELDS = ("first_name", "last_name", "address", "city", "country", "zip", "state", "phone")

new_customers = st.builds(
    ec.NewCustomer, email=text, ip=text, **dict.fromkeys(OPTIONAL_FIELDS, optional)
)
customers = st.builds(
    ec.Customer, id=text, email=text, ip=text, **dict.fromkeys(OPTIONAL_FIELDS, optional)
)

FIELD_NAMES = [field.name for field in attrs.fields(ec.Customer)]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
field_values = st.one_of(st.text(max_size=12), st.none(), json_values)
#: Objects with a customer's fields (or some of them, or others), of any JSON values; or any JSON.
customer_like = (
    st.dictionaries(st.sampled_from([*FIELD_NAMES, "extra", "plan"]), field_values, max_size=12)
    | json_values
)
