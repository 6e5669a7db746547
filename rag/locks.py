"""A process-level write lock per store, so two Quire processes never write the same store at once.

Chroma's embedded store and the registry are safe across threads of one process (the service holds its own
locks), not across processes: two `quire ingest` runs at once could interleave writes. An flock on a file in the
store's state directory serialises writers; the kernel drops it when a process dies, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import QuireError

LOCK_NAME = "write.lock"


class StoreBusy(QuireError):
    """Another process holds the store's write lock for longer than the timeout."""


def _holder(handle) -> str:
    handle.seek(0)
    return handle.read().strip() or "unknown"


@contextmanager
def write_lock(
    state_dir: Path, timeout_s: float = 600.0, on_wait: Callable[[str], None] = lambda message: None
) -> Iterator[None]:
    """Hold the store's write lock; wait up to `timeout_s` for another process to finish, telling `on_wait` once."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_NAME, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = _holder(handle)
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"another Quire process is writing to this store (pid {pid}); try again when it has finished"
                    ) from None
                if not told:
                    on_wait(f"another Quire process is writing to this store (pid {pid}); waiting…")
                    told = True
                time.sleep(0.1)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
