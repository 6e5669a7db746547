"""Parse files in a child process with a memory cap and a per-file time limit.

Hostile PDFs loop, nest or decompress without end; a parser inside the main process would
take the whole batch (and the app) down with it. The child (`python -m ingest.isolate`) caps
its own address space, then answers one JSON line per request line (path, kind, limits,
password) on stdout. It is kept for the next file, since starting an interpreter costs more
than parsing a typical contract (bench/pdf_parsers.py); after any failure, a timeout, or a
change of limits it is replaced. The parent turns every way of dying into a readable reason.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ingest.extract import extract
from rag.errors import IngestError
from rag.types import PageSpan

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _child_env() -> dict[str, str]:
    """This checkout first on the path (the child must run the same code), few malloc arenas
    (each reserves 64 MB of address space, which would count against the cap)."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MALLOC_ARENA_MAX": "2", "OMP_THREAD_LIMIT": "1"}


def _death_reason(returncode: int | None, memory_mb: int) -> str:
    if returncode is not None and returncode < 0:
        known = -returncode in signal.Signals._value2member_map_
        name = signal.Signals(-returncode).name if known else str(-returncode)
        return (
            f"the parser crashed on this file ({name}): it is damaged, or needs more than "
            f"{memory_mb} MB (QUIRE_INGEST__MAX_MEMORY_MB)"
        )
    return f"the parser stopped with exit status {returncode}: the file is damaged"


class _Worker:
    """One child interpreter; parent side."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.isolate", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_child_env(),
            start_new_session=True,  # its own process group: Tesseract children die with it
        )

    def ask(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise IngestError(_death_reason(self.process.wait(), self.memory_mb)) from None
        ready, _, _ = select.select([self.process.stdout], [], [], seconds)
        if not ready:
            self.kill()
            raise IngestError(
                f"parsing took longer than {seconds:g} s and was stopped (QUIRE_INGEST__MAX_SECONDS): "
                "the file may be built to loop, or is very large"
            )
        line = self.process.stdout.readline()
        if not line:
            raise IngestError(_death_reason(self.process.wait(), self.memory_mb))
        return json.loads(line)

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


_lock = threading.Lock()
_worker: _Worker | None = None


def run_isolated(
    path: Path, kind: str, limits: dict[str, Any], password: str | None
) -> tuple[str, tuple[PageSpan, ...]]:
    """Text and page map of a file, parsed in the child; IngestError with a reason on any failure."""
    global _worker
    memory_mb = int(limits["max_memory_mb"])
    request = {"path": str(path), "kind": kind, "limits": limits, "password": password}
    with _lock:
        if _worker is None or _worker.memory_mb != memory_mb or _worker.process.poll() is not None:
            if _worker is not None:
                _worker.kill()
            _worker = _Worker(memory_mb)
        try:
            answer = _worker.ask(request, float(limits["max_seconds"]))
        except IngestError:
            _worker.kill()
            _worker = None
            raise
        if "error" in answer:
            _worker.kill()  # a failed parse may have left the child in a bad state: start afresh
            _worker = None
            raise IngestError(answer["error"])
    return answer["text"], tuple(PageSpan(**page) for page in answer["pages"])


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    """Child side: one request, one answer; every failure becomes a reason."""
    limits = request["limits"]
    try:
        text, pages = extract(Path(request["path"]), request["kind"], limits, request["password"])
        return {"text": text, "pages": [asdict(page) for page in pages]}
    except IngestError as error:
        return {"error": str(error)}
    except MemoryError:
        return {
            "error": f"reading this file needs more than {limits['max_memory_mb']} MB of memory "
            "(QUIRE_INGEST__MAX_MEMORY_MB): it may be a decompression bomb"
        }
    except RecursionError:
        return {"error": "the file is nested too deeply to read: it is damaged or built to break parsers"}
    except Exception as error:  # any other library failure is this file's failure, with its words
        return {"error": f"the file could not be read ({type(error).__name__}: {error})"}


def _serve(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for line in sys.stdin:
        sys.stdout.write(json.dumps(_answer(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
