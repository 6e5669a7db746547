"""Who gets in: a password beyond loopback, lockout after failures, and workspaces that never
see each other's documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.auth import LoginGuard, is_loopback_host, require_password_for
from rag.errors import PasswordRequired
from tests.conftest import CONTRACT_TEXT, run_cli


def test_loopback_needs_no_password() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        assert is_loopback_host(host)
        require_password_for(host, "")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", ""])
def test_other_addresses_need_a_password(host: str) -> None:
    with pytest.raises(PasswordRequired, match="QUIRE_AUTH__PASSWORD"):
        require_password_for(host, "")
    require_password_for(host, "s3cret")


def test_lockout_after_repeated_failures(tmp_path: Path) -> None:
    guard = LoginGuard(tmp_path / "logins.json", "correct horse", max_failures=3, lockout_s=60)
    assert not guard.attempt("wrong", now=1000).ok
    assert not guard.attempt("wrong", now=1001).ok
    assert not guard.attempt("wrong", now=1002).ok
    locked = guard.attempt("correct horse", now=1003)
    assert not locked.ok and "Too many" in locked.message
    assert guard.attempt("correct horse", now=1070).ok  # window passed
    # a restart keeps the count: a new guard reads the same file
    LoginGuard(tmp_path / "logins.json", "correct horse", 3, 60).attempt("x", now=2000)
    assert "left" in LoginGuard(tmp_path / "logins.json", "correct horse", 3, 60).attempt("y", now=2001).message


def test_serve_refuses_open_address_without_password(tmp_path: Path) -> None:
    result = run_cli("serve", "--host", "0.0.0.0", data_dir=tmp_path, env={"QUIRE_AUTH__PASSWORD": ""})
    assert result.returncode == 1
    assert "QUIRE_AUTH__PASSWORD" in result.stderr


@pytest.mark.slow
def test_workspaces_are_invisible_to_each_other(tmp_path: Path) -> None:
    doc = tmp_path / "secret-acme.txt"
    doc.write_text(CONTRACT_TEXT, encoding="utf-8")
    data = tmp_path / "data"
    assert run_cli("--workspace", "acme", "ingest", str(doc), data_dir=data).returncode == 0
    listed_b = json.loads(run_cli("--workspace", "globex", "docs", "--json", data_dir=data).stdout)
    assert listed_b == []
    found_b = json.loads(run_cli("--workspace", "globex", "retrieve", "governing law", "--json", data_dir=data).stdout)
    assert found_b["passages"] == []
    missing = run_cli("--workspace", "globex", "rm", "secret-acme.txt", data_dir=data)
    assert missing.returncode == 1
    listed_a = json.loads(run_cli("--workspace", "acme", "docs", "--json", data_dir=data).stdout)
    assert [d["name"] for d in listed_a] == ["secret-acme.txt"]
    listed_default = json.loads(run_cli("docs", "--json", data_dir=data).stdout)
    assert listed_default == []
