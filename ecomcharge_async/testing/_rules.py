"""The documented validation rules of POST /customers: the one source of truth.

The fake eComCharge answers with these; the field-error wording follows the
API's documented example (`{"ip": ["address is invalid", "can't be blank"]}`).
Where the API doc is silent, the rules are those of a Rails-style API, written
down in docs/contract.md: null is absent, blank is "can't be blank" for a
required field and "is invalid" for a field with a format, nothing is trimmed.
The patterns are the ones docs/openapi.yaml publishes (tests/test_openapi.py
compares them), written so Python and JSON Schema (ECMA 262) read them alike.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .._core.models import FIELDS

# ISO 3166-1 alpha-2, officially assigned codes.
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
    BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV
    CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD
    GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM
    IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK
    LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW
    MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR
    PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS
    ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY
    UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a table reads better than 249 quoted strings
)

REQUIRED = ("email", "ip")
STATE_REQUIRED_IN = frozenset({"US", "CA"})
#: Fields with no format: any string, blank included, is stored as sent.
FREE_TEXT = ("first_name", "last_name", "address", "city", "phone")

# Matched with fullmatch: Python's `$` would also accept a trailing newline.
EMAIL_PATTERN = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$"
US_ZIP_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"
STATE_PATTERN = r"^[A-Z]{2}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_US_ZIP = re.compile(US_ZIP_PATTERN)
_STATE = re.compile(STATE_PATTERN)

BLANK = "can't be blank"
INVALID = "is invalid"
IP_INVALID = "address is invalid"
NOT_A_STRING = "must be a string"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _valid_ip(value: str) -> bool:
    """An IPv4 or IPv6 address as JSON Schema's formats read it: no zone (`%eth0`)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value


def validate_customer(data: dict[str, Any]) -> dict[str, list[str]]:
    """Per-field errors for a create request; empty when the customer is valid.

    Unknown keys are ignored, as the API ignores parameters it does not know.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field in FIELDS:
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            add(field, NOT_A_STRING)

    def text(field: str) -> str | None:
        value = data.get(field)
        return value if isinstance(value, str) else None

    email = text("email")
    if "email" not in errors:
        if _blank(email):
            add("email", BLANK)
        elif email is not None and not _EMAIL.fullmatch(email):
            add("email", INVALID)

    ip = text("ip")
    if "ip" not in errors:
        if _blank(ip):
            add("ip", IP_INVALID)
            add("ip", BLANK)
        elif ip is not None and not _valid_ip(ip):
            add("ip", IP_INVALID)

    country = text("country")
    if country is not None and country not in COUNTRIES:
        add("country", INVALID)

    zip_code = text("zip")
    if country == "US" and zip_code is not None and not _US_ZIP.fullmatch(zip_code):
        add("zip", INVALID)

    state = text("state")
    if "state" not in errors:
        if _blank(state) and country in STATE_REQUIRED_IN:
            add("state", BLANK)
        elif state is not None and not _STATE.fullmatch(state):
            add("state", INVALID)
    return errors


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def error_message(errors: dict[str, list[str]]) -> str:
    """The API's one-line summary: `"Ip address is invalid. Ip can't be blank"`.

    Errors under `base` (not tied to one field) are whole sentences already.
    """
    return ". ".join(
        message if field == "base" else f"{_label(field)} {message}"
        for field, messages in errors.items()
        for message in messages
    )
