"""Long waits started early and joined later, on the provider host's own threads.

Pulumi's Python provider host serves every dynamic resource of a stack with four gRPC workers, so a
provider call that waits (readiness, a rollout) holds one of four slots. The providers start their
work at `check`, the engine's first call for a resource during `pulumi up`, which returns at once;
`create`/`update` then join it. Twelve endpoints are then worked on together, not in rounds of four.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Waiting is I/O: threads are cheap, and 32 covers stacks far larger than the engine runs at once.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="serving-jobs")
_RUNNING: dict[str, Future] = {}
_LOCK = threading.Lock()


def start(key: str, work: Callable[[], T]) -> Future[T]:
    """Start `work` under `key`, or return the job already running under it."""
    with _LOCK:
        future = _RUNNING.get(key)
        if future is None:
            future = _POOL.submit(work)
            _RUNNING[key] = future
        return future


def join(key: str, work: Callable[[], T]) -> T:
    """The result of the job under `key` (started now if `check` did not start it), then forget it,
    so that the next `pulumi up`, or a retry, works afresh."""
    future = start(key, work)
    try:
        return future.result()
    finally:
        with _LOCK:
            if _RUNNING.get(key) is future:
                del _RUNNING[key]
