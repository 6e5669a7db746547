"""docker-compose.yml and the Dockerfile: valid for Compose, the services and profiles the README
promises, and every `QUIRE_*` variable they set is a setting the app really reads. No Docker engine
runs here; Debian's docker-compose validates and resolves the file without one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag.errors import BackendUnavailable
from rag.llm.choose import choose_backend
from rag.settings import Settings, iter_env_fields
from tests.conftest import REPO_ROOT
from tests.servers import free_port

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
OLLAMA_KNOBS = {
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KV_CACHE_TYPE",
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_CONTEXT_LENGTH",
}
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
PASSWORD = {"QUIRE_AUTH__PASSWORD": "correct horse battery staple"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: object, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, enough to read this file's values."""

    def substitute(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise ValueError(rest)
        return rest or ""

    return INTERPOLATION.sub(substitute, str(value))


def app_environment(host_env: dict[str, str]) -> dict[str, str]:
    """What the app container would see, given the host's environment."""
    seen: dict[str, str] = {}
    for name, value in compose()["services"]["app"]["environment"].items():
        if value is not None:
            seen[name] = interpolate(value, host_env)
        elif name in host_env:  # no value: passed through only when the host sets it
            seen[name] = host_env[name]
    return seen


def run_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("Debian's docker-compose is not installed (`make sysdeps` installs it)")
    return subprocess.run(
        [binary, "-f", str(COMPOSE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )


def test_docker_compose_validates_the_file() -> None:
    result = run_compose("config", "-q", env=PASSWORD)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_the_app_without_a_password() -> None:
    result = run_compose("config", "-q", env={"QUIRE_AUTH__PASSWORD": ""})  # empty counts as unset
    assert result.returncode != 0 and "set QUIRE_AUTH__PASSWORD" in result.stderr


def test_docker_compose_resolves_server_mode_from_the_environment() -> None:
    host_env = {"QUIRE_STORE__MODE": "server", "QUIRE_LLM__ENDPOINTS": "http://a:8000/v1", **PASSWORD}
    result = run_compose("config", env=host_env)
    assert result.returncode == 0, result.stderr
    app_env = yaml.safe_load(result.stdout)["services"]["app"]["environment"]
    assert app_env["QUIRE_STORE__MODE"] == "server"
    assert app_env["QUIRE_LLM__ENDPOINTS"] == "http://a:8000/v1"
    assert app_env["QUIRE_AUTH__PASSWORD"] == PASSWORD["QUIRE_AUTH__PASSWORD"]


def test_services_and_profiles() -> None:
    services = compose()["services"]
    assert set(services) == {"ollama-gpu", "ollama-cpu", "ollama-pull", "chroma", "app"}
    assert services["ollama-gpu"]["profiles"] == ["gpu"]
    assert services["ollama-cpu"]["profiles"] == ["cpu"]
    assert set(services["ollama-pull"]["profiles"]) == {"gpu", "cpu"}
    assert services["chroma"]["profiles"] == ["chroma"]
    assert "profiles" not in services["app"]  # `docker compose up` alone runs the app (remote Ollama)

    devices = services["ollama-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
    assert "deploy" not in services["ollama-cpu"]


def test_ollama_services_use_the_official_image_with_models_volume_and_knobs() -> None:
    services = compose()["services"]
    for name in ("ollama-gpu", "ollama-cpu"):
        ollama = services[name]
        assert ollama["image"].startswith("ollama/ollama:")
        assert any(v.endswith(":/root/.ollama") for v in ollama["volumes"])
        assert OLLAMA_KNOBS <= set(ollama["environment"])
        assert ollama["healthcheck"]["test"][:2] == ["CMD", "ollama"]
        assert "ollama" in ollama["networks"]["default"]["aliases"]  # what OLLAMA_HOST names
    pull = services["ollama-pull"]
    assert pull["image"].startswith("ollama/ollama:") and pull["restart"] == "no"
    assert "ollama pull" in pull["command"][0] and "llama3.1:8b" in pull["command"][0]
    assert services["chroma"]["image"].startswith("chromadb/chroma:")


def test_app_service_health_volume_and_loopback_publishing() -> None:
    app = compose()["services"]["app"]
    assert app["build"] == "."
    assert "/_stcore/health" in " ".join(app["healthcheck"]["test"])
    data_mount = next(v for v in app["volumes"] if v.endswith(":/data"))
    assert data_mount and app["environment"]["QUIRE_DATA_DIR"] == "/data"
    published = interpolate(app["ports"][0], {})
    assert published == "127.0.0.1:8501:8501"  # nothing but this host reaches it by default


def test_every_quire_variable_is_a_real_setting() -> None:
    known = {name for name, _ in iter_env_fields(Settings)}
    text = COMPOSE.read_text() + DOCKERFILE.read_text()
    used = set(re.findall(r"\bQUIRE_[A-Z0-9_]+", text))
    assert used, "the deployment files set no QUIRE_ variable at all"
    assert used <= known, f"not settings in rag/settings.py: {sorted(used - known)}"


@pytest.mark.parametrize(
    ("host_env", "mode", "backend", "endpoints"),
    [
        ({}, "embedded", "ollama", 0),
        ({"QUIRE_STORE__MODE": "server"}, "server", "ollama", 0),
        (
            {"QUIRE_LLM__BACKEND": "openai", "QUIRE_LLM__ENDPOINTS": "http://g1:8000/v1,http://g2:8000/v1"},
            "embedded",
            "openai",
            2,
        ),
    ],
)
def test_app_environment_builds_valid_settings(
    host_env: dict[str, str], mode: str, backend: str, endpoints: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("QUIRE_") or n == "OLLAMA_HOST"]:
        monkeypatch.delenv(name)
    with pytest.raises(ValueError, match="set QUIRE_AUTH__PASSWORD"):
        app_environment(host_env)
    for name, value in app_environment({**host_env, **PASSWORD}).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.auth.password == PASSWORD["QUIRE_AUTH__PASSWORD"]
    assert settings.data_dir == Path("/data")
    assert settings.server.host == "0.0.0.0"
    assert settings.llm.ollama_host == "http://ollama:11434"
    assert (settings.store.mode, settings.store.host, settings.store.port) == (mode, "chroma", 8000)
    assert settings.llm.backend == backend and len(settings.llm.endpoints) == endpoints


def test_dockerfile_slim_non_root_healthy_with_cpu_torch_first() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "/_stcore/health" in text.split("HEALTHCHECK", 1)[1]
    torch = text.index("torch==2.13.0")
    assert "download.pytorch.org/whl/cpu" in text[torch : text.index("\n", torch)]
    assert torch < text.index("pip install -e .")
    assert 'VOLUME ["/data"]' in text and "QUIRE_DATA_DIR=/data" in text
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "data", ".git"} <= set(ignored)  # no local state or models baked into the image


@pytest.mark.parametrize(
    ("ollama_host", "expected"),
    [
        ("gpu-box", "http://gpu-box:11434"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("https://ollama.internal.example", "https://ollama.internal.example"),
        ("[fd00::5]", "http://[fd00::5]:11434"),
    ],
)
def test_remote_ollama_host_is_read_as_ollama_reads_it(
    ollama_host: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUIRE_LLM__OLLAMA_HOST", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", ollama_host)
    settings = Settings(llm={"backend": "ollama"})
    assert settings.llm.ollama_host == expected
    assert choose_backend(settings.llm).backend.host == expected  # built, not contacted


def test_ollama_host_elsewhere_is_where_requests_go(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.delenv("QUIRE_LLM__OLLAMA_HOST", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    backend = choose_backend(Settings(llm={"backend": "ollama"}).llm).backend
    with pytest.raises(BackendUnavailable, match=rf"127\.0\.0\.1:{port}.*OLLAMA_HOST"):
        backend.complete([{"role": "user", "content": "hello"}], max_tokens=4)
