"""Who gets in: a password for the web app when it listens beyond this machine.

Bound to 127.0.0.1 (the default) only local users can reach Quire. Binding to any other
address requires a password, compared in constant time, with a lockout after repeated
failures so that it cannot be guessed quickly. Failures are counted in the data dir so that
a restart does not reset the lockout.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
from dataclasses import dataclass
from pathlib import Path

from rag.errors import PasswordRequired

MAX_FAILURES = 5
LOCKOUT_SECONDS = 300.0


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_password_for(host: str, password: str) -> None:
    """Refuse to serve beyond loopback without a password."""
    if not is_loopback_host(host) and not password:
        raise PasswordRequired(
            f"binding to {host} makes Quire reachable from other machines: set QUIRE_AUTH__PASSWORD "
            "(or serve on 127.0.0.1)"
        )


def password_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str


class LoginGuard:
    """Checks passwords and locks out after MAX_FAILURES failures within the lockout window."""

    def __init__(
        self, state_file: Path, expected: str, max_failures: int = MAX_FAILURES, lockout_s: float = LOCKOUT_SECONDS
    ):
        self.state_file = state_file
        self.expected = expected
        self.max_failures = max_failures
        self.lockout_s = lockout_s

    def _failures(self, now: float) -> list[float]:
        try:
            stamps = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [t for t in stamps if now - t < self.lockout_s]

    def _save(self, stamps: list[float]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(stamps), encoding="utf-8")
        temporary.replace(self.state_file)

    def attempt(self, given: str, now: float | None = None) -> LoginResult:
        now = time.time() if now is None else now
        failures = self._failures(now)
        if len(failures) >= self.max_failures:
            wait = int(self.lockout_s - (now - failures[0])) + 1
            return LoginResult(False, f"Too many failed attempts: try again in {wait} seconds.")
        if password_matches(given, self.expected):
            self._save([])
            return LoginResult(True, "")
        self._save([*failures, now])
        left = self.max_failures - len(failures) - 1
        return LoginResult(False, f"Wrong password ({left} attempts left before a {int(self.lockout_s)} s lockout).")
