"""Parse one file in a child process with a memory cap and a time limit.

Hostile PDFs loop, nest or decompress without end; a parser inside the main process would
take the whole batch (and the app) down with it. The child is a fresh interpreter
(`python -m ingest.isolate`), started per file: it caps its own address space, reads the
request (path, kind, limits, password) from stdin, and answers one JSON object on stdout.
The parent kills it after `max_seconds` and turns every way of dying into a readable reason.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from rag.types import PageSpan

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _child_env() -> dict[str, str]:
    """This checkout first on the path (the child must run the same code), few malloc arenas
    (each reserves 64 MB of address space, which would count against the cap)."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MALLOC_ARENA_MAX": "2", "OMP_THREAD_LIMIT": "1"}


def _death_reason(returncode: int, limits: dict[str, Any]) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else "?"
        return (
            f"the parser crashed on this file ({name}): it is damaged, or needs more than "
            f"{limits['max_memory_mb']} MB (QUIRE_INGEST__MAX_MEMORY_MB)"
        )
    return f"the parser stopped with exit status {returncode}: the file is damaged"


def run_isolated(
    path: Path, kind: str, limits: dict[str, Any], password: str | None
) -> tuple[str, tuple[PageSpan, ...]]:
    """Text and page map of a file, parsed in a child; IngestError with a reason on any failure."""
    request = json.dumps({"path": str(path), "kind": kind, "limits": limits, "password": password})
    seconds = float(limits["max_seconds"])
    child = subprocess.Popen(
        [sys.executable, "-m", "ingest.isolate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
        start_new_session=True,  # its own process group: Tesseract children die with it
    )
    try:
        out, _ = child.communicate(request.encode(), timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise IngestError(
            f"parsing took longer than {seconds:g} s and was stopped (QUIRE_INGEST__MAX_SECONDS): "
            "the file may be built to loop, or is very large"
        ) from None
    try:
        answer = json.loads(out)
    except ValueError:
        raise IngestError(_death_reason(child.returncode, limits)) from None
    if "error" in answer:
        raise IngestError(answer["error"])
    return answer["text"], tuple(PageSpan(**page) for page in answer["pages"])


def _cap_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve() -> None:
    """Child side: one request in, one JSON answer out."""
    request = json.loads(sys.stdin.read())
    limits = request["limits"]
    _cap_memory(int(limits["max_memory_mb"]))
    try:
        from ingest.parse import extract  # after the cap: imports count against it too

        text, pages = extract(Path(request["path"]), request["kind"], limits, request["password"])
        answer: dict[str, Any] = {"text": text, "pages": [asdict(page) for page in pages]}
    except IngestError as error:
        answer = {"error": str(error)}
    except MemoryError:
        answer = {
            "error": f"reading this file needs more than {limits['max_memory_mb']} MB of memory "
            "(QUIRE_INGEST__MAX_MEMORY_MB): it may be a decompression bomb"
        }
    except RecursionError:
        answer = {"error": "the file is nested too deeply to read: it is damaged or built to break parsers"}
    except Exception as error:  # any other library failure is this file's failure, with its words
        answer = {"error": f"the file could not be read ({type(error).__name__}: {error})"}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    _serve()
