"""The pytest plugin: a user's project gets the fixtures just by installing the package."""

from __future__ import annotations

import json
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge, Fault

USER_TESTS = """
    import asyncio

    import pytest

    import ecomcharge_async as ec
    import ecomcharge_async.testing

    seen = []


    {mark}
    async def test_signup_creates_a_customer(ecomcharge_client, ecomcharge_fake):
        seen.append(ecomcharge_client)
        customer = await ecomcharge_client.customers.create(
            ec.NewCustomer(email="a@example.com", ip="127.0.0.1")
        )
        assert ecomcharge_fake.customers == [customer]
        assert await ecomcharge_client.customers.get(customer.id) == customer


    {mark}
    async def test_validation_errors_come_from_the_fake(ecomcharge_client):
        with pytest.raises(ec.ValidationError) as info:
            await ecomcharge_client.customers.create(ec.NewCustomer(email="a@example.com", ip=""))
        assert info.value.errors == {{"ip": ["address is invalid", "can't be blank"]}}


    {mark}
    async def test_retries_do_not_sleep(ecomcharge_client, ecomcharge_fake):
        # The default policy would wait the 30 s the server asks for, for real.
        ecomcharge_fake.inject(ec.testing.Fault.status(503, retry_after=30), None)
        async with asyncio.timeout(10):
            assert await ecomcharge_client.customers.list() == []
        assert ecomcharge_fake.request_count == 2


    def test_each_test_gets_a_fresh_fake_and_a_closed_client(ecomcharge_fake):
        assert ecomcharge_fake.customers == []
        assert seen and seen[0].closed
"""


def _ini(mode: str) -> str:
    return textwrap.dedent(f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins["ecomcharge"] == "ecomcharge_async.testing.pytest_plugin"


@pytest.mark.parametrize(
    ("mode", "mark"), [("strict", "@pytest.mark.asyncio"), ("auto", "")], ids=["strict", "auto"]
)
def test_a_user_project_gets_the_fixtures_without_a_conftest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, mark: str
) -> None:
    # A developer's environment must not leak into the fixture client.
    monkeypatch.setenv("ECOMCHARGE_BASE_URL", "http://example.com")
    monkeypatch.setenv("ECOMCHARGE_SECRET_KEY", "real-key")
    pytester.makeini(_ini(mode))
    pytester.makepyfile(test_signup=textwrap.dedent(USER_TESTS.format(mark=mark)))
    # no:randomly: the last test looks back at the first one's client.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    pytester.makeini(_ini("auto"))
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    for name, doc in [
        ("ecomcharge_fake", "A fresh, empty fake eComCharge shop"),
        ("ecomcharge_client", "A `Client` talking to `ecomcharge_fake` in process"),
        ("ecomcharge_sync_client", "A `SyncClient` talking to `ecomcharge_fake` in process"),
    ]:
        result.stdout.fnmatch_lines([f"{name} -- *", f"*{doc}*"])


ANYIO_USER_TESTS = """
    import asyncio

    import pytest

    import ecomcharge_async as ec
    import ecomcharge_async.testing

    pytestmark = pytest.mark.anyio


    @pytest.fixture
    def anyio_backend():
        return "asyncio"


    async def test_signup_under_anyio(ecomcharge_client, ecomcharge_fake):
        customer = await ecomcharge_client.customers.create(
            ec.NewCustomer(email="a@example.com", ip="127.0.0.1")
        )
        assert ecomcharge_fake.customers == [customer]
"""

# pytest-asyncio is made unimportable, as in a project that never installed it.
RUN_WITHOUT_PYTEST_ASYNCIO = """
import sys


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pytest_asyncio":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NotInstalled())
import pytest
raise SystemExit(pytest.main(["-p", "no:asyncio", "-p", "no:cacheprovider", "-W", "error"]))
"""


def test_without_pytest_asyncio_the_client_fixture_works_under_anyio(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_anyio=textwrap.dedent(ANYIO_USER_TESTS))
    result = pytester.run(sys.executable, "-c", RUN_WITHOUT_PYTEST_ASYNCIO)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*1 passed*"])


async def test_the_fixtures_in_this_suite(
    ecomcharge_client: ec.Client, ecomcharge_fake: FakeEcomCharge
) -> None:
    ecomcharge_fake.inject(Fault.status(429, retry_after=45))
    customer = await ecomcharge_client.customers.create(
        ec.NewCustomer(email="a@example.com", ip="::1")
    )
    assert ecomcharge_fake.customers == [customer]
    assert ecomcharge_fake.request_count == 2


BOTH_BACKENDS_USER_TESTS = """
    import pytest

    import ecomcharge_async as ec

    pytestmark = pytest.mark.anyio


    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(request):
        return request.param


    async def test_signup(ecomcharge_client, ecomcharge_fake):
        customer = await ecomcharge_client.customers.create(
            ec.NewCustomer(email="a@example.com", ip="127.0.0.1")
        )
        assert ecomcharge_fake.customers == [customer]
"""

REFUSAL = (
    "*ecomcharge_fake runs on asyncio only (aiohttp has no trio support), but this test "
    "runs on anyio's 'trio' backend: give it anyio_backend = 'asyncio'"
)


def test_under_anyio_asyncio_works_and_trio_is_refused_with_one_message(
    pytester: pytest.Pytester,
) -> None:
    # A user's config with warnings as errors and no pytest-asyncio loop-scope setting.
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_anyio=textwrap.dedent(BOTH_BACKENDS_USER_TESTS))
    result = pytester.run(sys.executable, "-c", RUN_WITHOUT_PYTEST_ASYNCIO)
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_signup?trio?*", REFUSAL])
    assert "no running event loop" not in output
    assert "Traceback" not in output


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_with_pytest_asyncio_installed_anyio_tests_get_the_same_answers(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makeini(_ini(mode))
    pytester.makepyfile(test_anyio=textwrap.dedent(BOTH_BACKENDS_USER_TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([REFUSAL])


#: What importing the plugin may load of ours: the modules Python must import to reach it.
PLUGIN_ALONE = [
    "ecomcharge_async",
    "ecomcharge_async.testing",
    "ecomcharge_async.testing.pytest_plugin",
]
#: The SDK's own dependencies: none of them is needed before a fixture is used.
SDK_DEPENDENCIES = ("aiohttp", "attr", "attrs", "cattrs", "msgspec", "yarl", "multidict")


def test_importing_the_plugin_loads_nothing_of_the_sdk(pytester: pytest.Pytester) -> None:
    # A fresh interpreter, as pytest's start in a user's project: every module pytest
    # imports for the plugin is paid by every run, whether it uses the fixtures or not.
    probe = (
        "import json, sys; import ecomcharge_async.testing.pytest_plugin; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = pytester.run(sys.executable, "-c", probe)
    assert result.ret == 0, result.stderr.str()
    loaded = json.loads(result.stdout.lines[-1])
    assert [m for m in loaded if m.partition(".")[0] == "ecomcharge_async"] == PLUGIN_ALONE
    assert [m for m in loaded if m.partition(".")[0] in SDK_DEPENDENCIES] == []


SYNC_USER_TESTS = """
    import pytest

    import ecomcharge_async as ec
    from ecomcharge_async.testing import Fault

    seen = []


    def test_a_view_creates_a_customer(ecomcharge_sync_client, ecomcharge_fake):
        seen.append(ecomcharge_sync_client)
        customer = ecomcharge_sync_client.customers.create(
            ec.NewCustomer(email="a@example.com", ip="127.0.0.1")
        )
        assert ecomcharge_fake.customers == [customer]
        with pytest.raises(ec.NotFoundError):
            ecomcharge_sync_client.customers.get("cst_0000000000000000")


    def test_retries_do_not_sleep(ecomcharge_sync_client, ecomcharge_fake):
        ecomcharge_fake.inject(Fault.status(503, retry_after=30), None)
        assert ecomcharge_sync_client.customers.list() == []
        assert ecomcharge_fake.request_count == 2


    def test_the_client_was_closed_after_its_test(ecomcharge_fake):
        assert ecomcharge_fake.customers == []
        assert seen and seen[0].closed
"""


@pytest.mark.parametrize("asyncio_plugin", ["with", "without"])
def test_a_user_project_gets_the_sync_fixture(
    pytester: pytest.Pytester, asyncio_plugin: str
) -> None:
    # A project with pytest-asyncio (strict mode), and one that never installed it.
    pytester.makeini(
        _ini("strict") if asyncio_plugin == "with" else "[pytest]\nfilterwarnings = error\n"
    )
    pytester.makepyfile(test_views=textwrap.dedent(SYNC_USER_TESTS))
    no_asyncio = ["-p", "no:asyncio"] if asyncio_plugin == "without" else []
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", *no_asyncio
    )
    result.assert_outcomes(passed=3)


def test_the_sync_fixture_in_this_suite(
    ecomcharge_sync_client: ec.SyncClient, ecomcharge_fake: FakeEcomCharge
) -> None:
    ecomcharge_fake.inject(Fault.status(429, retry_after=45))
    customer = ecomcharge_sync_client.customers.create(
        ec.NewCustomer(email="a@example.com", ip="::1")
    )
    assert ecomcharge_fake.customers == [customer]
    assert ecomcharge_fake.request_count == 2
