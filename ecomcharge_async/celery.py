"""The Celery app for sharded imports: workers run `celery -A ecomcharge_async.celery worker`.

Configured from the worker's environment, the Celery way: `CELERY_BROKER_URL`
and `CELERY_RESULT_BACKEND` (both default to the Redis on localhost),
`ECOMCHARGE_SHOP_ID` / `ECOMCHARGE_SECRET_KEY` / `ECOMCHARGE_BASE_URL` for the
API, and `ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT` (seconds) for how long Redis
waits before it hands a task of a vanished worker to another one.

Tasks are acknowledged only when they end and are requeued when the process
running them dies, so a killed worker loses no shard; the shard's journal makes
the re-run resume instead of creating rows again, and makes a second copy of a
running shard wait its turn (`ShardBusy`, retried) instead of importing in parallel.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from celery import Celery, Task

from ._core.durations import duration_rule, required_seconds
from ._core.errors import AuthenticationError
from .bulk import Counts, ImportSettings, InputError, JournalError, ShardBusy, run_shard

#: Default broker and result backend: a Redis on this machine.
LOCAL_REDIS = "redis://localhost:6379/0"
#: Celery's own default for Redis: one hour.
DEFAULT_VISIBILITY_TIMEOUT = 3600.0
TASK_NAME = "ecomcharge_async.import_shard"


def visibility_timeout(environ: dict[str, str] | None = None) -> float:
    """ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT in seconds, or Celery's default of an hour."""
    env = os.environ if environ is None else environ
    text = env.get("ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_VISIBILITY_TIMEOUT
    name = "ECOMCHARGE_CELERY_VISIBILITY_TIMEOUT"
    try:
        return required_seconds(name, float(text))
    except ValueError:
        raise ValueError(f"{name} must be {duration_rule()}, got {text!r}") from None


def make_app() -> Celery:
    """A Celery app configured from the environment (what `app` below is)."""
    timeout = visibility_timeout()
    celery = Celery("ecomcharge_async")
    celery.conf.update(
        broker_url=os.environ.get("CELERY_BROKER_URL") or LOCAL_REDIS,
        result_backend=os.environ.get("CELERY_RESULT_BACKEND") or LOCAL_REDIS,
        broker_transport_options={
            "visibility_timeout": timeout,
            # Look for tasks of vanished workers every timeout/4 (1 s to 60 s), not
            # kombu's default of every 100 s, so they run again soon after the timeout.
            "unacked_restore_interval": max(1, min(60, round(timeout / 4))),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_acks_late=True,  # a shard's message stays on the broker until the shard ends
        task_reject_on_worker_lost=True,  # ... and goes back at once if its process dies
        worker_prefetch_multiplier=1,  # a worker reserves no more shards than it runs
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
    )
    return celery


app: Celery = make_app()


def retry_delay(timeout: float) -> float:
    """How long a refused copy waits: short, and well inside the visibility timeout."""
    return max(0.5, min(30.0, timeout / 4))


@app.task(bind=True, name=TASK_NAME, max_retries=None)
def import_shard(
    self: Task[Any, Any],
    path: str,
    shard: int,
    shards: int,
    *,
    journal: str,
    failures: str | None = None,
    concurrency: int | Literal["auto"] = "auto",
    max_concurrency: int = ImportSettings().max_concurrency,
    rate: float | None = None,
    input_id: str | None = None,
) -> dict[str, Any]:
    """Import shard `shard` of `shards` of `path`; return its report as a dict.

    Problems of the input or the journal come back as `{"error": message}`
    (the command exits 2), refused credentials with `"exit": 3` as a local
    import's; none is a task failure to retry.
    """

    def on_counts(counts: Counts) -> None:
        self.update_state(state="PROGRESS", meta={"shard": shard, **counts.to_dict()})

    try:
        settings = ImportSettings(
            concurrency=concurrency,
            max_concurrency=max_concurrency,
            rate=rate,
            shard=(shard, shards),
        )
        return run_shard(
            path,
            settings,
            journal=journal,
            failures=failures,
            input_id=input_id,
            on_counts=on_counts,
        )
    except ShardBusy as exc:
        raise self.retry(exc=exc, countdown=retry_delay(visibility_timeout())) from None
    except AuthenticationError as exc:
        message = f"the API refused the credentials ({exc.message})"
        return {"shard": shard, "error": message, "exit": 3}
    except (InputError, JournalError, OSError, ValueError) as exc:
        return {"shard": shard, "error": str(exc)}
