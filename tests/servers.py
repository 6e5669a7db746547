"""Real servers on 127.0.0.1 for the deployment tests: `chroma run` and llama.cpp's OpenAI-compatible
server. Started once per session (a second each), on a free port, with their state in a temp dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

LLAMA_ALIAS = "quire-test"
LLAMA_CTX = 2048
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    """A server subprocess; `kill()` simulates a crash, `stop()` a clean shutdown."""

    process: subprocess.Popen
    port: int
    log: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(command: list[str], port: int, ready_url: str, log: Path) -> ServerProcess:
    """Start `command` and wait until `ready_url` answers 200; fail with the server's log otherwise."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(ready_url, timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{command[0]} did not come up on port {port}:\n{tail}")


def start_llama_server(workdir: Path) -> ServerProcess:
    """llama-cpp-python's OpenAI-compatible server with the built-in SmolLM2 model, one thread."""
    from rag.llm.llamacpp import demo_model_path

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(demo_model_path()), "--model_alias", LLAMA_ALIAS,
        "--n_ctx", str(LLAMA_CTX), "--n_threads", "1", "--verbose", "false",
        "--interrupt_requests", "false",  # queue concurrent requests instead of cutting the running one
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    return start_server(command, port, f"http://127.0.0.1:{port}/v1/models", workdir / f"llama-{port}.log")


def chroma_binary() -> str | None:
    """The `chroma` CLI installed with the chromadb package (next to this Python first)."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    binary = chroma_binary()
    if binary is None:
        pytest.fail("the `chroma` command of the chromadb package is missing: run `make install`")
    workdir = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    command = [binary, "run", "--path", str(workdir / "db"), "--host", "127.0.0.1", "--port", str(port)]
    server = start_server(command, port, f"http://127.0.0.1:{port}/api/v2/heartbeat", workdir / "chroma.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_llama_server(tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


def openai_url(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}/v1"
