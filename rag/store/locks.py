"""A process-level write lock per store, so two Quire processes never write the same store at once.

Chroma's embedded store and the registry are safe across threads of one process (the service holds its own
locks), not across processes: two `quire ingest` runs at once could interleave writes. An flock on a file in the
store's state directory serialises writers; the kernel drops it when a process dies, so a crash never leaves a
stale lock behind. `require_writable` turns a read-only data folder into one clear error before
anything is opened, instead of a library error deep inside whichever command came first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rag.errors import StoreBusy, StoreReadOnly

LOCK_NAME = "write.lock"
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def holder(handle: IO[str]) -> str:
    """The pid written into a lock file by the process that holds it (see `stamped`)."""
    handle.seek(0)
    return handle.read().strip() or "unknown"


@contextmanager
def stamped(handle: IO[str]) -> Iterator[None]:
    """With the flock on `handle` taken: this process's pid in the file while it holds it, so that a
    process that finds the lock taken can say who has it; the pid cleared and the lock let go after."""
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)


def require_writable(*folders: Path) -> None:
    """Raise `StoreReadOnly` when a folder cannot be written, creating missing ones.

    Embedded Chroma writes to its SQLite file even to open it for a query, so a read-only folder
    would stop reading commands too; a real file created and dropped tells what this process may
    do (root ignores permission bits, not a read-only mount), with the system's reason.
    """
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            if error.errno not in READ_ONLY_ERRNOS:
                raise
            raise StoreReadOnly(
                f"Quire's data folder {folder} cannot be written ({error.strerror}); the embedded Chroma store "
                "writes there even to answer questions, so this store is unusable until it can. Remount it "
                "read-write or give this user write access, or set QUIRE_DATA_DIR to another folder. "
                "Nothing in the store was changed."
            ) from error


@contextmanager
def write_lock(
    state_dir: Path, timeout_s: float = 600.0, on_wait: Callable[[str], None] = lambda message: None
) -> Iterator[None]:
    """Hold the store's write lock; wait up to `timeout_s` for another process to finish, telling `on_wait` once."""
    require_writable(state_dir)
    with open(state_dir / LOCK_NAME, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = holder(handle)
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"another Quire process is writing to this store (pid {pid}); try again when it has finished"
                    ) from None
                if not told:
                    on_wait(f"another Quire process is writing to this store (pid {pid}); waiting…")
                    told = True
                time.sleep(0.1)
        with stamped(handle):
            yield
