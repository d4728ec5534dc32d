"""`headers=` and `user_agent=`: what the client refuses, at construction, with nothing sent.

Each refusal is checked on `Client(...)` and on `with_options(...)` against the
fake served on loopback, whose request count shows that nothing left.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from conftest import SECRET, SHOP_ID

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge
from ecomcharge_async.testing._server import serve

OWNED = [
    "Authorization", "authorization", "Proxy-Authorization", "Host", "HOST", "Content-Length",
    "Content-Type", "content-type", "Content-Encoding", "Transfer-Encoding", "Connection",
    "Keep-Alive", "Upgrade", "TE", "te", "Trailer", "Expect",
]  # fmt: skip
NOT_TOKENS = {
    "X(a),b": "'(' is not allowed",
    "X-é": "'é' is not allowed",
    "X Bad": "' ' is not allowed",
    "X-Evil:": "':' is not allowed",
    "X-\r\nEvil": "U+000D is not allowed",
    'X-"q"': "'\"' is not allowed",
    "X@Y": "'@' is not allowed",
}
SECRET_VALUE = "s3cr3t-token-value"
BAD_VALUES = {
    SECRET_VALUE + "\r\nX-Evil: 1": "contains a line break (CR or LF), which would end the header",
    SECRET_VALUE + "\n": "contains a line break",
    SECRET_VALUE + "\x00": "contains a control character at position 19",
    SECRET_VALUE + "\t": "contains a control character",
    SECRET_VALUE + "\x7f": "contains a control character",
    SECRET_VALUE + "é": "contains a non-ASCII character",
    SECRET_VALUE + "\u2028": "contains a non-ASCII character",
}


@pytest.fixture
async def api(fake: FakeEcomCharge) -> AsyncIterator[str]:
    async with serve(fake) as url:
        yield url


async def refused_everywhere(
    fake: FakeEcomCharge, api: str, error: type[Exception], message: str, **options: object
) -> list[str]:
    """Refuse `options` on Client and with_options; nothing may reach the server."""
    texts = []
    with pytest.raises(error, match=message) as info:
        ec.Client(SHOP_ID, SECRET, base_url=api, **options)  # type: ignore[arg-type]
    texts.append(str(info.value))
    async with ec.Client(SHOP_ID, SECRET, base_url=api) as client:
        if "headers" in options:
            with pytest.raises(error, match=message) as info:
                client.with_options(headers=options["headers"])  # type: ignore[arg-type]
            texts.append(str(info.value))
        assert fake.request_count == 0  # refused before anything was sent
        assert await client.customers.list() == []  # the client itself still works
    assert fake.request_count == 1
    return texts


@pytest.mark.parametrize("name", OWNED)
async def test_headers_that_frame_route_or_authenticate_are_refused_by_name(
    fake: FakeEcomCharge, api: str, name: str
) -> None:
    texts = await refused_everywhere(
        fake, api, ValueError, f"headers= cannot set {name}: it ", headers={name: "x"}
    )
    assert all("'x'" not in text for text in texts)


async def test_each_refusal_says_what_to_do_instead(fake: FakeEcomCharge, api: str) -> None:
    hints = {
        "Authorization": "pass shop_id= and secret_key=",
        "Proxy-Authorization": "proxy=http://user:password@host:port",
        "Host": "set base_url=",
        "Transfer-Encoding": "the HTTP library's to set",
        "Content-Encoding": "label the plain JSON body as compressed",
        "Expect": "100 Continue",
    }
    for name, hint in hints.items():
        with pytest.raises(ValueError, match=hint):
            ec.Client(SHOP_ID, SECRET, base_url=api, headers={name: "x"})


@pytest.mark.parametrize(("name", "problem"), NOT_TOKENS.items(), ids=list(range(len(NOT_TOKENS))))
async def test_header_names_must_be_rfc_9110_tokens(
    fake: FakeEcomCharge, api: str, name: str, problem: str
) -> None:
    await refused_everywhere(
        fake, api, ValueError, re.escape(f"is not an HTTP token: {problem}"), headers={name: "v"}
    )


@pytest.mark.parametrize(("value", "problem"), BAD_VALUES.items(), ids=list(range(len(BAD_VALUES))))
async def test_header_values_must_be_printable_ascii_and_are_never_echoed(
    fake: FakeEcomCharge, api: str, value: str, problem: str
) -> None:
    texts = await refused_everywhere(
        fake, api, ValueError, re.escape(f"header X-Token {problem}"), headers={"X-Token": value}
    )
    assert all(SECRET_VALUE not in text for text in texts)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Number": 7}, "header X-Number must be a string, got int"),
        ({7: "v"}, "a header name must be a string, got int"),
        ([("X-A", "v")], "headers must be a mapping of str to str, got list"),
        ({"": "v"}, "a header name must not be empty"),
    ],
)
async def test_header_types_are_checked(
    fake: FakeEcomCharge, api: str, headers: object, message: str
) -> None:
    error = ValueError if message.endswith("empty") else TypeError
    await refused_everywhere(fake, api, error, re.escape(message), headers=headers)


async def test_a_name_given_twice_in_different_cases_is_refused(
    fake: FakeEcomCharge, api: str
) -> None:
    await refused_everywhere(
        fake,
        api,
        ValueError,
        re.escape("headers= names X-Tenant twice (also as x-tenant)"),
        headers={"X-Tenant": "a", "x-tenant": "b"},
    )


async def test_a_bad_user_agent_is_refused_without_echoing_it(
    fake: FakeEcomCharge, api: str
) -> None:
    texts = await refused_everywhere(
        fake, api, ValueError, "user_agent contains a non-ASCII", user_agent=SECRET_VALUE + "™"
    )
    assert all(SECRET_VALUE not in text for text in texts)


async def test_tokens_and_printable_values_are_sent_as_given(
    fake: FakeEcomCharge, api: str
) -> None:
    seen: list[ec.Request] = []

    async def record(request: ec.Request, call_next: ec.Handler, /) -> ec.Response:
        seen.append(request)
        return await call_next(request)

    odd = {"X-A!#$%&'*+-.^_`|~9": "v", "Accept": "application/json; q=1", "X-Sp": " a b ~ "}
    async with ec.Client(
        SHOP_ID, SECRET, base_url=api, headers=odd, attempt_middleware=[record]
    ) as client:
        await client.with_options(headers={"User-Agent": "mine/1.0"}).customers.list()
    for name, value in {**odd, "User-Agent": "mine/1.0"}.items():
        assert seen[0].headers[name] == value
    assert fake.request_count == 1
