"""Several LLM endpoints behind one backend. The scheduling rules are checked fast with stand-in
servers; the feature itself with two real llama.cpp servers, one of which is killed midway."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pytest

from rag.errors import BackendUnavailable, ContextOverflow, UnknownBackend
from rag.llm.base import ChatStream, LLMBackend, Message, Usage
from rag.llm.choose import choose_backend
from rag.llm.pool import BackendPool
from rag.settings import Settings
from tests.servers import LLAMA_ALIAS, ServerProcess, openai_url, start_llama_server

QUESTION = [{"role": "user", "content": "Name one colour."}]


class StandIn(LLMBackend):
    """A stand-in server for the scheduling rules only: answers with its label, or fails as told."""

    def __init__(self, label: str, delay: float = 0.0):
        self.label = label
        self.model = "m"
        self.num_ctx = 4096
        self.delay = delay
        self.error: Exception | None = None
        self.fail_after_first_piece = False
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.label

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        def pieces() -> Iterator[str]:
            with self._lock:
                self.calls += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                time.sleep(self.delay)
                if self.error:
                    raise self.error
                yield self.label
                if self.fail_after_first_piece:
                    raise BackendUnavailable(f"{self.label} dropped the connection")
                yield "."
            finally:
                with self._lock:
                    self.in_flight -= 1

        return ChatStream(pieces(), lambda: Usage(1, 2))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        return {"by": self.complete(messages, max_tokens=max_tokens).text}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_spread_over_endpoints_within_their_concurrency() -> None:
    a, b = StandIn("A", delay=0.02), StandIn("B", delay=0.02)
    pool = BackendPool([(a, 2), (b, 3)])
    with ThreadPoolExecutor(8) as workers:
        texts = list(workers.map(lambda _: pool.complete(QUESTION, max_tokens=4).text, range(20)))
    assert len(texts) == 20 and set(texts) <= {"A.", "B."}
    assert a.calls + b.calls == 20 and a.calls > 0 and b.calls > 0
    assert a.max_in_flight <= 2 and b.max_in_flight <= 3
    assert [s.served for s in pool.status()] == [a.calls, b.calls]


def test_failing_endpoint_sits_out_then_is_tried_again() -> None:
    a, b, clock = StandIn("A"), StandIn("B"), Clock()
    a.error = BackendUnavailable("A is down")
    pool = BackendPool([(a, 1), (b, 1)], retry_s=30, clock=clock)

    assert [pool.complete(QUESTION, max_tokens=4).text for _ in range(4)] == ["B."] * 4
    assert a.calls == 1  # tried once, then left out
    assert [s.up for s in pool.status()] == [False, True]
    assert pool.status()[0].last_error == "A is down"

    clock.now += 31
    a.error = None
    texts = {pool.complete(QUESTION, max_tokens=4).text for _ in range(4)}
    assert "A." in texts and pool.status()[0].up


def test_every_endpoint_failing_is_one_clear_error() -> None:
    a, b = StandIn("A"), StandIn("B")
    a.error, b.error = BackendUnavailable("A refused"), BackendUnavailable("B refused")
    pool = BackendPool([(a, 1), (b, 1)])
    with pytest.raises(BackendUnavailable, match="every LLM endpoint failed") as caught:
        pool.structured(QUESTION, {"type": "object"}, max_tokens=4)
    assert "A refused" in str(caught.value) and "B refused" in str(caught.value)
    assert "QUIRE_LLM__ENDPOINTS" in str(caught.value)


def test_a_request_too_long_is_not_held_against_the_endpoint() -> None:
    a = StandIn("A")
    a.error = ContextOverflow("too long")
    pool = BackendPool([(a, 1), (StandIn("B"), 1)])
    with pytest.raises(ContextOverflow):
        pool.complete(QUESTION, max_tokens=4)
    assert pool.status()[0].up and pool.status()[0].failures == 0


def test_stream_moves_on_before_the_first_piece_but_not_after() -> None:
    a, b = StandIn("A"), StandIn("B")
    a.error = BackendUnavailable("A is down")
    pool = BackendPool([(a, 1), (b, 1)])
    stream = pool.stream_chat(QUESTION, max_tokens=4)
    assert stream.text() == "B." and stream.usage == Usage(1, 2)

    b.fail_after_first_piece = True
    with pytest.raises(BackendUnavailable, match="dropped"):
        list(pool.stream_chat(QUESTION, max_tokens=4))  # "B" was already shown: no silent restart
    assert [s.in_flight for s in pool.status()] == [0, 0]


def test_registry_builds_a_pool_from_the_endpoints_setting() -> None:
    listed = Settings(llm={"backend": "openai", "endpoints": "http://127.0.0.1:9/v1,http://127.0.0.1:10/v1"})
    pool = choose_backend(listed.llm).backend
    assert isinstance(pool, BackendPool)
    assert ["127.0.0.1:9/v1" in s.endpoint for s in pool.status()] == [True, False]
    assert "127.0.0.1:10/v1" in pool.status()[1].endpoint

    objects = '[{"url": "http://127.0.0.1:9", "concurrency": 8}, "http://127.0.0.1:10"]'
    pool = choose_backend(Settings(llm={"backend": "ollama", "endpoints": objects}).llm).backend
    assert isinstance(pool, BackendPool)
    assert [m.concurrency for m in pool._members] == [8, 4]  # the default endpoint_concurrency

    with pytest.raises(UnknownBackend, match="QUIRE_LLM__BACKEND=openai or ollama"):
        choose_backend(Settings(llm={"endpoints": "http://127.0.0.1:9/v1"}).llm)


@pytest.mark.slow
def test_two_real_servers_one_killed_midway_every_request_completes(
    llama_server: ServerProcess, tmp_path: Path
) -> None:
    second = start_llama_server(tmp_path)
    try:
        settings = Settings(
            llm={
                "backend": "openai",
                "model": LLAMA_ALIAS,
                "num_ctx": 2048,
                "endpoints": f"{openai_url(llama_server)},{openai_url(second)}",
                "endpoint_concurrency": 2,
                "endpoint_retry_s": 600,
            }
        )
        pool = choose_backend(settings.llm).backend
        assert isinstance(pool, BackendPool)
        with ThreadPoolExecutor(4) as workers:
            # Four at once fill both endpoints' two slots: each server answers two.
            warm = list(workers.map(lambda _: pool.complete(QUESTION, max_tokens=6).text, range(4)))
            assert [s.served for s in pool.status()] == [2, 2]
            texts: list[str] = []
            futures = [workers.submit(pool.complete, QUESTION, max_tokens=6) for _ in range(8)]
            for future in as_completed(futures):
                texts.append(future.result().text)
                if len(texts) == 2:
                    second.kill()  # a crash, mid-batch, with requests in flight
        assert all(t.strip() for t in warm + texts) and len(texts) == 8
        first_status, second_status = pool.status()
        assert first_status.served + second_status.served == 12
        assert second_status.failures >= 1 and not second_status.up and "127.0.0.1" in second_status.last_error
        assert "openai:quire-test" in first_status.endpoint
    finally:
        second.stop()
