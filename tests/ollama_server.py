"""A small Ollama-protocol server on 127.0.0.1, written from Ollama's API documentation.

No real Ollama daemon can run where the tests run, so this speaks the same HTTP protocol
(`/api/chat` and `/api/generate` with NDJSON streaming or one JSON object, `/api/show`,
`/api/tags`, `/api/ps`, `/api/embed`, `/api/version`, errors as `{"error": ...}` with Ollama's status
codes) and answers with the real embedded model (SmolLM2 through llama-cpp-python) and the
real embedding model. It behaves like Ollama where Quire depends on it:

- the window is `options.num_ctx` when sent, else the server default (2048, like Ollama on
  small machines), capped by `forced_limit` (a server or proxy that ignores `num_ctx`);
- a prompt longer than the window is cut silently as Ollama's runner does (keep the first
  `NUM_KEEP` tokens and the last ones) and the reply's `prompt_eval_count` says how many
  tokens were evaluated, fewer than were sent;
- a prompt prefix still in the KV cache from the previous request is not evaluated again and
  not counted in `prompt_eval_count`, like Ollama's runner.

Every request body is kept in `requests` so tests can check what the client sent. Setting
`fault` makes the generating endpoints fail the ways a real Ollama does (see `Fault`).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from typing import Any

from rag.llm.llamacpp import LlamaCppBackend
from rag.store.embed import Embedder

DEFAULT_NUM_CTX = 2048
NUM_KEEP = 4  # tokens Ollama keeps from the start of a prompt it truncates
EMBED_MODEL = "all-minilm:latest"


@dataclass(frozen=True)
class Fault:
    """How `/api/chat` and `/api/generate` misbehave, each as seen from a real Ollama:

    - `delay_s`: nothing is sent for this long (a server busy with other requests, or loading a
      model that does not fit in memory), then the answer comes as usual;
    - `status`: the request fails with this HTTP status and Ollama's `{"error": ...}` body (the
      runner was killed, for instance by the kernel's OOM killer);
    - `drop_after`: the connection is closed after this many streamed chunks, without the end of
      the chunked body (Ollama stopped or crashed in the middle of an answer).
    """

    delay_s: float = 0.0
    status: HTTPStatus | None = None
    error: str = "llama runner process has terminated: signal: killed"
    drop_after: int | None = None


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class ServedModel:
    """The chat model behind every name in `names`, with Ollama's per-runner KV-cache state."""

    backend: LlamaCppBackend
    names: tuple[str, ...]
    forced_limit: int | None = None
    cached: list[int] = field(default_factory=list)  # tokens in the KV cache after the last request
    loaded_window: int = 0  # the runner's window, as `/api/ps` reports it
    lock: threading.Lock = field(default_factory=threading.Lock)

    def window(self, options: dict[str, Any]) -> int:
        wanted = int(options.get("num_ctx") or DEFAULT_NUM_CTX)
        limits = [wanted, self.backend.num_ctx - 1] + ([self.forced_limit] if self.forced_limit else [])
        return min(limits)

    def generate(self, prompt: str, options: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
        """Token pieces, then the final statistics, for a rendered prompt."""
        llama = self.backend.llama
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        window = self.window(options)
        self.loaded_window = window
        if len(tokens) > window:  # Ollama: "truncating input prompt" (a log line, no error)
            tokens = tokens[:NUM_KEEP] + tokens[len(tokens) - (window - NUM_KEEP) :]
        # Ollama shifts the window to keep generating; here the reply just stops at the model's n_ctx.
        max_tokens = max(1, min(int(options.get("num_predict") or 128), self.backend.num_ctx - len(tokens)))
        with self.lock:
            reused = _common_prefix(tokens, self.cached)
            reused = min(reused, len(tokens) - 1)  # the last prompt token is always evaluated
            started = time.perf_counter_ns()
            produced: list[str] = []
            stream = llama.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=float(options.get("temperature", 0.8)),
                seed=options.get("seed"),
                stream=True,
                grammar=_grammar(schema),
            )
            finish = "stop"
            for event in stream:
                choice = event["choices"][0]
                if choice.get("text"):
                    produced.append(choice["text"])
                    yield {"piece": choice["text"]}
                finish = choice.get("finish_reason") or finish
            self.cached = list(llama._input_ids[: llama.n_tokens])
            elapsed = time.perf_counter_ns() - started
        yield {
            "done": True,
            "done_reason": "length" if finish == "length" else "stop",
            "total_duration": elapsed,
            "load_duration": 0,
            "prompt_eval_count": len(tokens) - reused,
            "prompt_eval_duration": elapsed // 2,
            "eval_count": len(produced),
            "eval_duration": elapsed // 2,
        }


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _grammar(schema: Any) -> Any:
    """Ollama's `format`: "json" or a JSON schema, enforced by a grammar as Ollama does."""
    if not schema:
        return None
    from llama_cpp import LlamaGrammar

    if schema == "json":
        return LlamaGrammar.from_json_schema(json.dumps({"type": "object"}), verbose=False)
    return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OllamaProtocolServer:
    """Start with `start()`, stop with `stop()`; `host` is the URL the `ollama` client takes."""

    def __init__(self, model: ServedModel, embedder: Embedder | None = None):
        self.model = model
        self.embedder = embedder
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.old_ps = False
        self.fault: Fault | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OllamaProtocolServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.requests if p == path]

    # --- endpoints --------------------------------------------------------------------------
    def _chat_model(self, body: dict[str, Any]) -> ServedModel:
        name = body.get("model")
        if not name:
            raise ApiError(HTTPStatus.BAD_REQUEST, "model is required")
        if _full_name(name) not in self.model.names:
            raise ApiError(HTTPStatus.NOT_FOUND, f'model "{name}" not found, try pulling it first')
        return self.model

    def version(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"version": "0.6.0-quire-test"}

    def tags(self, _: dict[str, Any]) -> dict[str, Any]:
        names = list(self.model.names) + ([EMBED_MODEL] if self.embedder else [])
        return {
            "models": [
                {
                    "name": n,
                    "model": n,
                    "modified_at": _now(),
                    "size": 0,
                    "digest": "0" * 64,
                    "details": {"format": "gguf", "family": "llama", "parameter_size": "135M"},
                }
                for n in names
            ]
        }

    def ps(self, _: dict[str, Any]) -> dict[str, Any]:
        """Loaded models with their window (`context_length`, since mid-2025); `old_ps` leaves it out."""
        if not self.model.loaded_window:
            return {"models": []}
        entry: dict[str, Any] = {"name": self.model.names[0], "model": self.model.names[0], "size": 0,
                                 "digest": "0" * 64, "expires_at": _now(), "size_vram": 0}  # fmt: skip
        if not self.old_ps:
            entry["context_length"] = self.model.loaded_window
        return {"models": [entry]}

    def show(self, body: dict[str, Any]) -> dict[str, Any]:
        self._chat_model(body)
        return {
            "modelfile": "",
            "parameters": f"num_ctx {DEFAULT_NUM_CTX}",
            "template": "{{ .Prompt }}",
            "details": {"format": "gguf", "family": "llama", "parameter_size": "135M"},
            "model_info": {
                "general.architecture": "llama",
                "llama.context_length": self.model.backend.num_ctx,
            },  # noqa: E501
            "capabilities": ["completion"],
        }

    def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.embedder is None or _full_name(body.get("model", "")) != EMBED_MODEL:
            missing = body.get("model")
            raise ApiError(HTTPStatus.NOT_FOUND, f'model "{missing}" not found, try pulling it first')
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        return {"model": body["model"], "embeddings": self.embedder.embed(texts)}

    def chat(self, body: dict[str, Any]) -> Generator[dict[str, Any], None, None]:
        model = self._chat_model(body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
            raise ApiError(HTTPStatus.BAD_REQUEST, "messages must be a list of {role, content}")
        plain = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        prompt = model.backend.render_chat(plain)
        for part in model.generate(prompt, body.get("options") or {}, body.get("format")):
            if "piece" in part:
                yield {"model": body["model"], "created_at": _now(),
                       "message": {"role": "assistant", "content": part["piece"]}, "done": False}  # fmt: skip
            else:
                yield {"model": body["model"], "created_at": _now(),
                       "message": {"role": "assistant", "content": ""}, **part}  # fmt: skip

    def generate(self, body: dict[str, Any]) -> Generator[dict[str, Any], None, None]:
        model = self._chat_model(body)
        if body.get("raw"):
            prompt = body.get("prompt") or ""
        else:
            messages = ([{"role": "system", "content": body["system"]}] if body.get("system") else []) + [
                {"role": "user", "content": body.get("prompt") or ""}
            ]
            prompt = model.backend.render_chat(messages)
        for part in model.generate(prompt, body.get("options") or {}, body.get("format")):
            if "piece" in part:
                yield {"model": body["model"], "created_at": _now(), "response": part["piece"], "done": False}
            else:
                yield {"model": body["model"], "created_at": _now(), "response": "", **part}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self
        routes = {
            ("GET", "/api/version"): (server.version, False),
            ("GET", "/api/tags"): (server.tags, False),
            ("GET", "/api/ps"): (server.ps, False),
            ("POST", "/api/show"): (server.show, False),
            ("POST", "/api/embed"): (server.embed, False),
            ("POST", "/api/chat"): (server.chat, True),
            ("POST", "/api/generate"): (server.generate, True),
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_HEAD(self) -> None:  # `ollama serve` answers HEAD / for health checks
                self._send(HTTPStatus.OK, b"", "text/plain")

            def _route(self, method: str) -> None:
                path = self.path.split("?")[0]
                try:
                    body = self._body()
                    server.requests.append((path, body))
                    if method == "GET" and path == "/":
                        self._send(HTTPStatus.OK, b"Ollama is running", "text/plain")
                        return
                    route = routes.get((method, path))
                    if route is None:
                        raise ApiError(HTTPStatus.NOT_FOUND, "404 page not found")
                    handler, streams = route
                    if not streams:
                        self._json(HTTPStatus.OK, handler(body))
                    elif self._misbehave():
                        self._answer_stream(handler(body), body.get("stream", True))
                except ApiError as error:
                    self._json(error.status, {"error": str(error)})

            def _misbehave(self) -> bool:
                """Apply the server's fault; False when the client left while the server stalled."""
                fault = server.fault
                if fault is None:
                    return True
                time.sleep(fault.delay_s)
                if self._client_gone():  # Ollama, too, drops a request whose client disconnected
                    self.close_connection = True
                    return False
                if fault.status is not None:
                    raise ApiError(fault.status, fault.error)
                return True

            def _client_gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not raw.strip():
                    return {}
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError as error:
                    raise ApiError(HTTPStatus.BAD_REQUEST, f"invalid JSON: {error}") from error
                if not isinstance(value, dict):
                    raise ApiError(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
                return value

            def _answer_stream(self, parts: Generator[dict[str, Any], None, None], stream: bool) -> None:
                first = next(parts)  # errors (unknown model, bad messages) surface before any byte is sent
                if not stream:
                    self._json(HTTPStatus.OK, _merge([first, *parts]))
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                drop_after = server.fault.drop_after if server.fault else None
                try:
                    for sent, part in enumerate(chain([first], parts)):
                        if sent == drop_after:
                            self.close_connection = True  # no closing chunk: the body ends mid-stream
                            return
                        self._chunk(json.dumps(part).encode() + b"\n")
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    self.close_connection = True
                finally:
                    parts.close()  # ends the generation and frees the model for the next request

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: HTTPStatus, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json; charset=utf-8")

            def _send(self, status: HTTPStatus, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A non-streamed reply: the final statistics with the whole text, as Ollama sends it."""
    final = dict(parts[-1])
    if "message" in final:
        text = "".join(p["message"]["content"] for p in parts)
        final["message"] = {"role": "assistant", "content": text}
    else:
        final["response"] = "".join(p.get("response", "") for p in parts)
    return final


def _full_name(name: str) -> str:
    return name if ":" in name else f"{name}:latest"
