"""Nothing leaves the machine, proven: the CLI flow and the web app run in a network namespace
that has only loopback, under strace, and every connect() they attempt is checked.

The namespace makes egress impossible; strace shows whether anything even tried (a library
that phones home fails silently in the namespace, so "it worked" alone would prove little).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONTRACT_TEXT, REPO_ROOT, make_pdf

pytestmark = pytest.mark.slow

CONNECT = re.compile(
    r"connect\(\d+, \{sa_family=(AF_INET6?), (?:sin6?_port=htons\((\d+)\), )?.*?(?:inet_addr|inet_pton\(AF_INET6?, )\(?\"([^\"]+)\""
)


def _namespace_available() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare/ip (util-linux, iproute2) are not installed"
    if not shutil.which("strace"):
        return "strace is not installed (make sysdeps installs it)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"network namespaces are unavailable here: {probe.stderr.decode().strip()}"
    return None


SKIP_REASON = _namespace_available()
needs_namespace = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def outside_connections(strace_log: Path) -> list[str]:
    """Every connect() in the trace whose address is not loopback."""
    found = []
    for line in strace_log.read_text(errors="replace").splitlines():
        match = CONNECT.search(line)
        if not match:
            continue
        address = match.group(3)
        if not (address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")):
            found.append(line.strip())
    return found


def run_isolated(script: str, tmp_path: Path, timeout: float = 900) -> tuple[subprocess.CompletedProcess, Path]:
    """Run a shell script in a fresh network namespace (loopback only) under strace."""
    log = tmp_path / "strace.log"
    env = {
        **os.environ,
        "QUIRE_DATA_DIR": str(tmp_path / "data"),
        "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:11434",
        "PY": sys.executable,
    }
    wrapped = (
        f"ip link set lo up && exec strace -f -qq --seccomp-bpf -e trace=connect -o {log} sh -euc {shlex_quote(script)}"
    )
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", wrapped], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    return result, log


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@needs_namespace
def test_parser_sees_outside_connections(tmp_path: Path) -> None:
    """The checker itself works: an attempted connection to a public address is reported."""
    probe = 'import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect_ex(("192.0.2.1", 443))\n'
    (tmp_path / "probe.py").write_text(probe)
    result, log = run_isolated(f'"$PY" {tmp_path / "probe.py"}', tmp_path)
    assert result.returncode == 0, result.stderr
    assert any("192.0.2.1" in line for line in outside_connections(log))


@needs_namespace
def test_cli_flow_stays_on_the_machine(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "msa.txt").write_text(CONTRACT_TEXT, encoding="utf-8")
    make_pdf(docs / "msa.pdf", [CONTRACT_TEXT[:900], CONTRACT_TEXT[900:]])
    script = f"""
    "$PY" -m rag ingest {docs} --json > {tmp_path}/ingest.json
    "$PY" -m rag docs --json > /dev/null
    "$PY" -m rag ask "Which law governs this agreement?" --json > {tmp_path}/ask.json
    "$PY" -m rag doctor --json > /dev/null
    """
    result, log = run_isolated(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"verified": true' in (tmp_path / "ask.json").read_text()
    assert outside_connections(log) == []


@needs_namespace
def test_web_app_stays_on_the_machine(tmp_path: Path) -> None:
    """The Streamlit server starts and serves, and the app script runs, without reaching out."""
    port = 8765
    check = (
        "import time, urllib.request\n"
        "for _ in range(240):\n"
        "    try:\n"
        f"        urllib.request.urlopen('http://127.0.0.1:{port}/_stcore/health', timeout=1); break\n"
        "    except Exception: time.sleep(0.5)\n"
        f"assert b'<html' in urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=5).read().lower()\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(REPO_ROOT / 'app.py')!r}, default_timeout=300)\n"
        "at.run()\n"
        "assert not at.exception, at.exception\n"
    )
    (tmp_path / "check.py").write_text(check)
    script = f"""
    "$PY" -m rag serve --port {port} > {tmp_path}/serve.log 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null' EXIT
    "$PY" {tmp_path / "check.py"}
    sleep 3
    """
    result, log = run_isolated(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:] + (tmp_path / "serve.log").read_text()[-2000:]
    assert outside_connections(log) == []
