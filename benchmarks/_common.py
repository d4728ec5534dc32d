"""What the benchmarks share: credentials, sample customers, the fake server process, medians."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
SHOP_ID = "361"
SECRET_KEY = "bench-secret-key"

#: The customer every client creates: all ten documented fields set, as in the API example.
PAYLOAD: dict[str, str] = {
    "first_name": "John",
    "last_name": "Doe",
    "address": "1st Street",
    "country": "US",
    "city": "Denver",
    "zip": "92006",
    "state": "CO",
    "phone": "+1-555-555-5555",
    "email": "customer@example.com",
    "ip": "127.0.0.1",
}

_FIRST = ("John", "Anna", "Wei", "Olga", "Pedro", "Amina", "Lars", "Yuki")
_LAST = ("Doe", "Smith", "Zhang", "Ivanova", "Garcia", "Okafor", "Berg", "Sato")
_PLACES = (
    ("US", "Denver", "80202", "CO"),
    ("CA", "Toronto", "M5H 2N2", "ON"),
    ("DE", "Berlin", "10115", None),
)


def sample_customer(i: int) -> dict[str, str]:
    """A varied, deterministic customer record: every third one has only the required fields."""
    fields = {
        "email": f"user{i}@example.com",
        "ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
    }
    if i % 3 == 2:
        return fields
    country, city, zip_code, state = _PLACES[i % len(_PLACES)]
    fields.update(
        first_name=_FIRST[i % len(_FIRST)],
        last_name=_LAST[i // len(_FIRST) % len(_LAST)],
        address=f"{i % 900 + 1} Main Street",
        country=country,
        city=city,
        zip=zip_code,
        phone=f"+1-555-{i % 10000:04d}",
    )
    if state is not None:
        fields["state"] = state
    return fields


class FakeServer(NamedTuple):
    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (Linux /proc), or None elsewhere."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def child_server(script: str, *args: str) -> Iterator[tuple[str, int]]:
    """Run a loopback server script of this folder in its own process (so its CPU is not
    ours); yield its URL and pid.

    The child prints its URL once it listens and serves until its stdin closes, so it
    cannot outlive this process.
    """
    command = [sys.executable, str(HERE / script), *args]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{script} {' '.join(args)} did not start (exit {proc.poll()})")
        yield url, proc.pid
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def fake_server(customers: int = 0) -> Iterator[FakeServer]:
    """Run the loopback fake in its own process; yield its address."""
    with child_server("fake_server.py", "--customers", str(customers)) as (url, pid):
        yield FakeServer(url, pid)


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB, since it started its program.

    Linux's `ru_maxrss` carries the parent's peak across fork and exec, so a child
    started by a big benchmark would report the parent's memory; `VmHWM` is the
    peak of this program's own memory. Elsewhere, fall back to `ru_maxrss`.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of one figure over the rounds, plus the rounds themselves."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": list(values),
    }


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, Any]:
    """Ratios of figures measured in the same round, summarised over the rounds.

    On a shared machine the load drifts between rounds; a ratio taken within
    one round, where both ran back to back, drifts much less than the figures.
    """
    return summary([ratio(a, b) for a, b in zip(ours, theirs, strict=True)])


def pydantic_models() -> tuple[Any, Any] | str:
    """pydantic v2 models with the fields of ours (NewCustomer, Customer), or why there are none.

    Made from the attrs fields, so the field lists stay those of the SDK's
    models: a required field is a required `str`, an optional one `str | None`.
    """
    try:
        from pydantic import create_model
    except ImportError:
        return "pydantic is not installed (nox -s bench installs it)"
    import attrs

    import ecomcharge_async as ec

    def mirror(cls: type) -> Any:
        fields: dict[str, Any] = {
            f.name: (str, ...) if f.default is attrs.NOTHING else (str | None, None)
            for f in attrs.fields(cls)
        }
        return create_model(cls.__name__, **fields)

    return mirror(ec.NewCustomer), mirror(ec.Customer)
