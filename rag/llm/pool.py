"""Several LLM servers behind the one backend seam, for batches bigger than one GPU.

Requests go to the least busy endpoint that is up, never more at once per endpoint than its
concurrency (a server queues or rejects beyond its `OLLAMA_NUM_PARALLEL` / batch size anyway).
An endpoint that fails is taken out for `retry_s` and the request moves on to the next one,
so a server stopped in the middle of a night costs retries, not documents. Because the pool is
itself an `LLMBackend`, the batch, answers and summaries use it without knowing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rag.errors import BackendUnavailable, ModelNotFound
from rag.llm.base import ChatStream, Completion, LLMBackend, Message, Usage

# Errors that say "this server", not "this request": another endpoint may well succeed.
FAILOVER_ERRORS = (BackendUnavailable, ModelNotFound)
# How often a request waiting for a free slot looks again (an endpoint may have come back).
WAIT_SLICE_S = 0.5

T = TypeVar("T")


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    up: bool
    in_flight: int
    served: int
    failures: int
    last_error: str


class _Member:
    """One endpoint's mutable bookkeeping; only touched under the pool's lock."""

    def __init__(self, backend: LLMBackend, concurrency: int):
        self.backend = backend
        self.concurrency = concurrency
        self.in_flight = 0
        self.served = 0
        self.failures = 0
        self.down_until = 0.0
        self.last_error = ""


class BackendPool(LLMBackend):
    name = "pool"

    def __init__(
        self,
        backends: Sequence[tuple[LLMBackend, int]],
        retry_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not backends:
            raise ValueError("a pool needs at least one backend")
        self._members = [_Member(backend, max(1, concurrency)) for backend, concurrency in backends]
        self.retry_s = retry_s
        self._clock = clock
        self._cond = threading.Condition()
        first = self._members[0].backend
        self.model = first.model
        self.num_ctx = min(m.backend.num_ctx for m in self._members)  # plan for the smallest window
        self.is_demo = any(m.backend.is_demo for m in self._members)

    def describe(self) -> str:
        return f"pool of {len(self._members)}: " + ", ".join(m.backend.describe() for m in self._members)

    def count_tokens(self, text: str) -> int:
        return self._members[0].backend.count_tokens(text)

    def status(self) -> list[EndpointStatus]:
        with self._cond:
            now = self._clock()
            return [
                EndpointStatus(
                    m.backend.describe(), m.down_until <= now, m.in_flight, m.served, m.failures, m.last_error
                )
                for m in self._members
            ]

    # --- choosing an endpoint ---------------------------------------------------------------
    def _acquire(self, tried: set[int]) -> int:
        """Index of the least busy endpoint that is up and untried; waits while all are busy."""
        with self._cond:
            while True:
                now = self._clock()
                usable = [i for i, m in enumerate(self._members) if i not in tried and m.down_until <= now]
                if not usable:
                    raise self._all_failed(tried)
                free = [i for i in usable if self._members[i].in_flight < self._members[i].concurrency]
                if free:
                    chosen = min(free, key=self._load)
                    self._members[chosen].in_flight += 1
                    return chosen
                self._cond.wait(WAIT_SLICE_S)

    def _load(self, index: int) -> tuple[float, int]:
        member = self._members[index]
        return member.in_flight / member.concurrency, member.served

    def _release(self, index: int, error: Exception | None = None, served: bool = False) -> None:
        with self._cond:
            member = self._members[index]
            member.in_flight -= 1
            if error is not None:
                member.failures += 1
                member.down_until = self._clock() + self.retry_s
                member.last_error = str(error)
            elif served:
                member.served += 1
                member.down_until = 0.0
            self._cond.notify_all()

    def _all_failed(self, tried: set[int]) -> BackendUnavailable:
        lines = "; ".join(
            f"{m.backend.describe()}: {m.last_error or 'resting after an error'}"
            for i, m in enumerate(self._members)
            if i in tried or m.down_until > self._clock()
        )
        return BackendUnavailable(
            f"every LLM endpoint failed ({lines}). Start them or fix QUIRE_LLM__ENDPOINTS; an endpoint is "
            f"tried again {self.retry_s:g} s after it failed (QUIRE_LLM__ENDPOINT_RETRY_S)."
        )

    # --- calls ------------------------------------------------------------------------------
    def _call(self, request: Callable[[LLMBackend], T]) -> T:
        """Run a whole request on one endpoint, moving to the next while endpoints fail."""
        tried: set[int] = set()
        while True:
            index = self._acquire(tried)
            try:
                result = request(self._members[index].backend)
            except FAILOVER_ERRORS as error:
                self._release(index, error)
                tried.add(index)
                continue
            except BaseException:
                self._release(index)  # the request's own fault (too long, bad JSON): not the server's
                raise
            self._release(index, served=True)
            return result

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        return self._call(lambda backend: backend.complete(messages, max_tokens=max_tokens))

    def structured(self, messages: list[Message], schema: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
        return self._call(lambda backend: backend.structured(messages, schema, max_tokens=max_tokens))

    def stream_chat(self, messages: list[Message], *, max_tokens: int) -> ChatStream:
        """Fails over until the first piece arrives; after that the text is out, so errors surface."""
        usage: dict[str, Usage | None] = {}

        def pieces() -> Iterator[str]:
            tried: set[int] = set()
            while True:
                index = self._acquire(tried)
                started = False
                try:
                    stream = self._members[index].backend.stream_chat(messages, max_tokens=max_tokens)
                    for piece in stream:
                        started = True
                        yield piece
                except FAILOVER_ERRORS as error:
                    self._release(index, error)
                    if started:
                        raise
                    tried.add(index)
                    continue
                except BaseException:
                    self._release(index)
                    raise
                self._release(index, served=True)
                usage["u"] = stream.usage
                return

        return ChatStream(pieces(), lambda: usage.get("u"))
