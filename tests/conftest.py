"""Shared fixtures. Every test runs under a guard that fails it when it opens a socket to an
address other than loopback: nothing leaves the machine, and the suite proves it."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rag  # noqa: F401  (offline switches first)
from rag.settings import Settings
from tests.servers import chroma_server, llama_server  # noqa: F401  (session-scoped real servers)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("QUIRE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CONTRACTS = SHARED_DATA / "contracts"


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
    elif isinstance(address, str | bytes):
        return True  # AF_UNIX path
    else:
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class EgressAttempt(AssertionError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise EgressAttempt(f"test tried to connect to {address!r}: only loopback is allowed")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise EgressAttempt(f"test tried to connect to {address!r}: only loopback is allowed")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _is_loopback((host,)):
        raise EgressAttempt(f"test tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_egress(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated in a temporary data dir; Ollama pointed at a closed port so `auto` is embedded."""
    return Settings(
        data_dir=tmp_path / "data",
        llm={"backend": "llamacpp", "ollama_host": "http://127.0.0.1:9"},
    )


def requires_shared_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not CONTRACTS.is_dir(), reason=f"the shared evaluation data is not at {SHARED_DATA} (a user's clone lacks it)"
    )


def run_cli(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `quire` from this checkout as a separate process, as a user would."""
    full_env = {**os.environ, "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rag", "--data-dir", str(data_dir), *args],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


CONTRACT_TEXT = """MASTER SERVICES AGREEMENT

This Master Services Agreement (the "Agreement") is entered into as of January 5, 2021 by and between
Acme Widgets Inc., a Delaware corporation ("Acme"), and Blue River Logistics LLC ("Supplier").

ARTICLE 1. SERVICES

1.1 Supplier shall provide the logistics services described in Schedule A.

1.2 Supplier shall perform the services with reasonable skill and care.

ARTICLE 2. TERM AND TERMINATION

2.1 This Agreement begins on the Effective Date and continues for three (3) years, renewing
automatically for successive one-year terms unless either party gives ninety (90) days' notice.

2.2 Either party may terminate this Agreement for material breach not cured within thirty (30) days.

ARTICLE 3. LIABILITY

3.1 In no event shall either party's aggregate liability exceed the fees paid in the twelve months
before the claim.

ARTICLE 4. GOVERNING LAW

4.1 This Agreement shall be governed by and construed in accordance with the laws of the State of New York,
without regard to its conflict of laws principles.
"""


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real text PDF with one page per string (reportlab-free: pypdf can't write text, so we
    build the content streams by hand with the standard Helvetica font)."""
    objects: list[bytes] = []

    def add(obj: bytes) -> int:
        objects.append(obj)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    page_ids: list[int] = []
    pages_id_placeholder = len(objects) + 1 + 2 * len(pages)
    for text in pages:
        lines = []
        for line in text.splitlines():
            safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            lines.append(f"({safe}) Tj T*".encode("latin-1", "replace"))
        stream = b"BT /F1 10 Tf 12 TL 40 800 Td " + b" ".join(lines) + b" ET"
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id_placeholder, content, font)
            )
        )
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    pages_id = add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)))
    assert pages_id == pages_id_placeholder
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def contract_txt(tmp_path: Path) -> Path:
    path = tmp_path / "docs" / "msa.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONTRACT_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def contract_pdf(tmp_path: Path) -> Path:
    """The same contract as a 3-page PDF: governing law on page 3."""
    parts = CONTRACT_TEXT.split("ARTICLE 2.")
    second, third = ("ARTICLE 2." + parts[1]).split("ARTICLE 4.")
    path = tmp_path / "docs" / "msa.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_pdf(path, [parts[0], second, "ARTICLE 4." + third])
