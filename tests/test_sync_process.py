"""`SyncClient` across process events: `os.fork()` after use, and exit without `close()`."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import test_sync
from conftest import ServerProcess
from test_sync import KINDS, NEW

import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

# The fixtures that serve the fake on loopback and build sync clients, shared.
loopback = test_sync.loopback
make_sync = test_sync.make_sync


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Python 3.12+ warns when a process with threads forks (the loop thread is one)."""
    if sys.version_info >= (3, 12):
        with pytest.warns(DeprecationWarning, match="fork"):
            yield
    else:
        yield


def in_child(work: Callable[[], Any]) -> Any:
    """Run `work` in a forked child and return what it returned (JSON), or fail."""
    read_end, write_end = os.pipe()
    with forking():
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                os.write(write_end, json.dumps(work()).encode())
                code = 0
            finally:
                _save_coverage()
                os._exit(code)
    os.close(write_end)
    received = b""
    with os.fdopen(read_end, "rb") as pipe:
        while select.select([pipe], [], [], 30)[0]:
            piece = os.read(pipe.fileno(), 65536)
            if not piece:
                break
            received += piece
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, received
    return json.loads(received)


def _save_coverage() -> None:
    """A forked child ends with os._exit: save what it measured, if coverage runs."""
    with contextlib.suppress(ImportError):
        import coverage

        measuring = coverage.Coverage.current()
        if measuring is not None:
            measuring.stop()
            measuring.save()


@pytest.mark.parametrize("kind", KINDS)
def test_a_forked_child_gets_its_own_loop_and_connections(
    kind: str, make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge, request: Any
) -> None:
    client = make_sync(kind)
    derived = client.with_options(timeout=5).with_options(retry=None)
    parent_made = client.customers.create(NEW)
    assert derived.customers.get(parent_made.id) == parent_made
    parent_loop = [t for t in threading.enumerate() if t.name == "ecomcharge-loop"]
    assert len(parent_loop) == 1
    peers = request.getfixturevalue("loopback").peers if kind == "aiohttp" else []
    before = list(peers)

    def child() -> dict[str, Any]:
        made = client.customers.create(ec.NewCustomer(email="child@example.com", ip=NEW.ip))
        got = derived.customers.get(made.id)
        loops = [t for t in threading.enumerate() if t.name == "ecomcharge-loop"]
        listed = [c.id for c in client.customers.list()]
        client.close()
        return {
            "made": made.id,
            "got": got.id,
            "listed": listed,
            "loops": len(loops),
            "new_loop": loops[0] is not parent_loop[0],
            "derived_closed": derived.closed,
            "derived_options": [derived.timeout, derived.retry],
        }

    seen = in_child(child)
    assert seen["got"] == seen["made"]
    assert (seen["loops"], seen["new_loop"], seen["derived_closed"]) == (1, True, True)
    assert seen["derived_options"] == [5, None]
    assert seen["listed"] == [parent_made.id, seen["made"]]
    # The parent's client and connections are untouched by the child's close.
    assert not client.closed
    assert client.customers.get(parent_made.id) == parent_made
    if kind == "aiohttp":
        assert len(before) == 1
        assert peers == [before[0], peers[1]]  # the child connected anew, once
        assert [c.id for c in fake.customers] == seen["listed"]
        client.customers.list()
        assert len(peers) == 2  # the parent's own connection is still in its pool
    else:
        assert [c.id for c in fake.customers] == [parent_made.id]  # the child had a copy


def test_an_iteration_begun_before_the_fork_cannot_go_on_in_the_child(
    make_sync: Callable[..., ec.SyncClient], fake: FakeEcomCharge
) -> None:
    for i in range(300):
        fake.add(email=f"{i}@example.com", ip=NEW.ip)
    client = make_sync("fake")
    customers = client.customers.iter()
    assert next(customers).email == "0@example.com"

    def child() -> list[str]:
        seen = [next(customers).email]  # what the parent fetched already is here
        with pytest.raises(RuntimeError, match=r"begun in the parent before os\.fork"):
            list(customers)
        customers.close()
        return [*seen, *(c.email or "" for c in client.customers.iter())][:3]

    assert in_child(child) == ["1@example.com", "0@example.com", "1@example.com"]
    assert [c.email for c in customers][:2] == ["1@example.com", "2@example.com"]


def test_a_client_first_used_in_the_child_works_there(
    make_sync: Callable[..., ec.SyncClient],
) -> None:
    client = make_sync("aiohttp")
    seen = in_child(lambda: client.customers.create(NEW).email)
    assert seen == NEW.email
    assert client.customers.list()[0].email == NEW.email


EXIT_SCRIPT = """
import sys
import ecomcharge_async as ec
from ecomcharge_async.testing import FakeEcomCharge

if sys.argv[1] == "fake":
    fake = FakeEcomCharge(shop_id="361", secret_key="demo-secret")
    options = {"transport": fake.transport()}
else:
    options = {"base_url": sys.argv[1]}
client = ec.SyncClient("361", "demo-secret", **options)
for i in range(300):
    client.customers.create(ec.NewCustomer(email=f"{i}@example.com", ip="127.0.0.1"))
other = ec.SyncClient("361", "demo-secret", **options)
derived = client.with_options(timeout=5)
customers = derived.customers.iter()  # left half read
print(next(customers).email, len(other.customers.list()))
"""


@pytest.mark.parametrize("kind", KINDS)
def test_exit_without_close_is_prompt_and_silent(
    kind: str, start_server: Callable[..., ServerProcess]
) -> None:
    target = start_server().url if kind == "aiohttp" else "fake"
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(EXIT_SCRIPT), target],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "0@example.com 300\n"


def test_a_used_aiohttp_transport_of_your_own_refuses_in_the_child(
    make_sync: Callable[..., ec.SyncClient],
) -> None:
    client = make_sync("aiohttp", transport=ec.AiohttpTransport(limit=2))
    client.customers.list()

    def child() -> str:
        try:
            client.customers.list()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "belongs to the event loop it was first used in" in in_child(child)
    assert client.customers.list() == []  # the parent's is as it was


def test_importing_the_package_loads_no_sync_machinery_and_a_new_client_no_thread() -> None:
    probe = (
        "import sys, threading, ecomcharge_async as ec; "
        "print(sorted(m for m in sys.modules "
        "if m.endswith(('._core.sync', '.loop_thread', '.process_loop')))); "
        "client = ec.SyncClient('361', 's'); "
        "print([t.name for t in threading.enumerate()])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "[]\n['MainThread']\n"), done.stderr
