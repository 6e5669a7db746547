"""The Ollama backend through the official `ollama` client, against an Ollama-protocol server
backed by the real embedded model (tests/ollama_server.py): streaming, JSON-schema output,
num_ctx and keep_alive on every call, errors that say what to do (down, model missing, slow, failing,
dying mid-answer; through the service and the CLI too), the `auto` choice, and the detection of
Ollama's silent prompt truncation (without mistaking a KV-cache hit for one)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import ollama
import pytest

from rag.errors import BackendUnavailable, ContextOverflow, ModelNotFound
from rag.llm.choose import choose_backend
from rag.llm.llamacpp import LlamaCppBackend
from rag.llm.ollama import OllamaBackend
from rag.service import Quire
from rag.settings import LLMSettings, Settings
from rag.tokens import CHATML_TEMPLATE
from tests.conftest import CONTRACT_TEXT, run_cli
from tests.ollama_server import EMBED_MODEL, Fault, OllamaProtocolServer, ServedModel

pytestmark = pytest.mark.slow

SERVED = "smollm2:135m"
CLAUSE = (
    "12.{n} The Supplier shall keep every record of the services for {n} years after the end of the term, "
    "and shall give the Customer access to those records on ten business days' notice. "
)


@pytest.fixture(scope="session")
def served_llm() -> LlamaCppBackend:
    return LlamaCppBackend(None, num_ctx=2048, threads=2)


@pytest.fixture(scope="session")
def ollama_server(served_llm: LlamaCppBackend, embedder) -> Iterator[OllamaProtocolServer]:
    server = OllamaProtocolServer(ServedModel(served_llm, names=(SERVED,)), embedder).start()
    yield server
    server.stop()


@pytest.fixture
def server(ollama_server: OllamaProtocolServer) -> Iterator[OllamaProtocolServer]:
    """The session server with its knobs reset after each test."""
    yield ollama_server
    ollama_server.model.forced_limit = None
    ollama_server.old_ps = False
    ollama_server.fault = None


def backend_for(
    server: OllamaProtocolServer,
    served_llm: LlamaCppBackend,
    model: str = SERVED,
    num_ctx: int = 1024,
    timeout_s: float = 300.0,
):
    """An Ollama backend that counts with the served model's tokenizer, as Quire does with Llama-3's."""
    return OllamaBackend(
        host=server.host,
        model=model,
        num_ctx=num_ctx,
        keep_alive="7m",
        timeout_s=timeout_s,
        token_counter=served_llm.count_tokens,
        template=CHATML_TEMPLATE,
    )


def chat(question: str, document: str = "") -> list[dict[str, str]]:
    user = f"<sources>\n{document}\n</sources>\n\nQuestion: {question}" if document else question
    return [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": user}]


def long_document(clauses: int) -> str:
    return "".join(CLAUSE.format(n=n) for n in range(1, clauses + 1))


@pytest.fixture(scope="session")
def embedder():
    from rag.store.embed import Embedder

    return Embedder()


def test_server_speaks_the_protocol(server: OllamaProtocolServer) -> None:
    client = ollama.Client(host=server.host)
    assert [m.model for m in client.list().models] == [SERVED, EMBED_MODEL]
    assert client.show(SERVED).modelinfo["llama.context_length"] == 2048
    vectors = client.embed(model="all-minilm", input=["governing law", "term"]).embeddings
    assert len(vectors) == 2 and len(vectors[0]) == 384
    reply = client.generate(model=SERVED, prompt="Say yes.", options={"num_predict": 4, "temperature": 0})
    assert reply.done and reply.prompt_eval_count and reply.eval_count
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404 and "not found" in missing.value.error


def test_stream_sends_num_ctx_and_keep_alive_and_reconciles_tokens(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    backend = backend_for(server, served_llm)
    messages = chat("Name a colour. " + "Answer in one word. " * 3)
    server.model.cached = []  # a cold KV cache: Ollama then evaluates (and counts) the whole prompt
    stream = backend.stream_chat(messages, max_tokens=12)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces).strip()
    body = server.bodies("/api/chat")[-1]
    assert body["options"]["num_ctx"] == 1024 and body["options"]["num_predict"] == 12
    assert body["keep_alive"] == "7m" and body["stream"] is True
    # the count Quire plans with is the count the server reports, template overhead included: exact
    # with the GGUF template, within a token per message (BPE merges at the joins) by the formula
    assert stream.usage is not None and stream.usage.evaluated_tokens == served_llm.count_messages(messages)
    assert abs(stream.usage.evaluated_tokens - backend.count_messages(messages)) <= len(messages)


def test_structured_output_follows_the_schema(server: OllamaProtocolServer, served_llm: LlamaCppBackend) -> None:
    schema = {
        "type": "object",
        "properties": {"party": {"type": "string"}, "years": {"type": "integer"}},
        "required": ["party", "years"],
    }
    backend = backend_for(server, served_llm)
    value = backend.structured(chat("Acme signs for 3 years. Give party and years as JSON."), schema, max_tokens=40)
    assert set(value) == {"party", "years"} and isinstance(value["years"], int)
    body = server.bodies("/api/chat")[-1]
    assert body["format"] == schema and body["options"]["num_ctx"] == 1024 and body["keep_alive"] == "7m"


def test_server_down_says_start_ollama(served_llm: LlamaCppBackend) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    backend = OllamaBackend(host=f"http://127.0.0.1:{closed_port}", model="llama3.1:8b", num_ctx=1024)
    with pytest.raises(BackendUnavailable, match="start it with `ollama serve`"):
        list(backend.stream_chat(chat("hi"), max_tokens=4))
    with pytest.raises(BackendUnavailable, match="ollama serve"):
        backend.structured(chat("hi"), {"type": "object"}, max_tokens=4)


def test_unknown_model_says_pull(server: OllamaProtocolServer, served_llm: LlamaCppBackend) -> None:
    backend = backend_for(server, served_llm, model="llama3.1:8b")
    with pytest.raises(ModelNotFound, match="run: ollama pull llama3.1:8b"):
        list(backend.stream_chat(chat("hi"), max_tokens=4))
    with pytest.raises(ModelNotFound, match="ollama pull llama3.1:8b"):
        backend.structured(chat("hi"), {"type": "object"}, max_tokens=4)


def test_auto_picks_ollama_only_when_it_has_the_model(server: OllamaProtocolServer) -> None:
    served = choose_backend(LLMSettings(backend="auto", ollama_host=server.host, model=SERVED, num_ctx=1024))
    assert served.backend.name == "ollama" and SERVED in served.reason
    missing = choose_backend(LLMSettings(backend="auto", ollama_host=server.host, model="llama3.1:8b", num_ctx=1024))
    assert missing.backend.name == "llamacpp" and "ollama pull llama3.1:8b" in missing.reason


def test_silent_truncation_is_reproduced_and_detected(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    document = long_document(6)
    messages = chat("How long are records kept?", document)
    backend = backend_for(server, served_llm)
    sent = backend.count_messages(messages)
    assert 200 < sent < 1024 - 16  # fits the num_ctx Quire asks for

    server.model.forced_limit = 128  # the server ignores num_ctx, as behind a proxy or an old Ollama
    server.model.cached = []
    raw = ollama.Client(host=server.host).chat(model=SERVED, messages=messages, options={"num_predict": 2})
    assert raw.prompt_eval_count == 128 < sent  # what Ollama does: a shorter prompt, no error

    with pytest.raises(ContextOverflow, match=r"only \d+ of about \d+ prompt tokens.*128-token window"):
        list(backend.stream_chat(messages, max_tokens=4))
    with pytest.raises(ContextOverflow, match="num_ctx"):
        backend.structured(messages, {"type": "object"}, max_tokens=8)

    server.old_ps = True  # an Ollama too old to report its window: judged by the shared prefix
    with pytest.raises(ContextOverflow, match="smaller window"):
        list(backend_for(server, served_llm).stream_chat(messages, max_tokens=4))


def test_kv_cache_hit_is_not_taken_for_truncation(server: OllamaProtocolServer, served_llm: LlamaCppBackend) -> None:
    document = long_document(5)
    first = backend_for(server, served_llm)
    list(first.stream_chat(chat("How long are records kept?", document), max_tokens=4))
    # a new process (another `quire ask`) knows nothing of the cache Ollama still holds
    second = backend_for(server, served_llm)
    messages = chat("How much notice is needed?", document)
    stream = second.stream_chat(messages, max_tokens=4)
    list(stream)
    assert stream.usage is not None and stream.usage.evaluated_tokens < second.count_messages(messages) // 4
    assert stream.usage.prompt_tokens >= second.count_messages(messages)  # the answer still reports it all


def test_cache_hit_on_an_old_server_is_told_by_recent_prompts(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    server.old_ps = True
    server.model.cached = []  # this backend is the only client, so it knows what Ollama may have cached
    backend = backend_for(server, served_llm)
    document = long_document(4)
    list(backend.stream_chat(chat("How long are records kept?", document), max_tokens=4))
    stream = backend.stream_chat(chat("Who gives access?", document), max_tokens=4)
    list(stream)  # evaluated far fewer tokens than sent, explained by the prefix this backend sent before
    assert stream.usage is not None and stream.usage.evaluated_tokens < 60


def test_prompt_beyond_num_ctx_is_refused_before_sending(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    backend = backend_for(server, served_llm, num_ctx=512)
    calls = len(server.requests)
    with pytest.raises(ContextOverflow, match="raise QUIRE_LLM__NUM_CTX"):
        list(backend.stream_chat(chat("?", long_document(14)), max_tokens=64))
    assert len(server.requests) == calls


def test_connection_cut_mid_answer_says_the_answer_is_incomplete(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    backend = backend_for(server, served_llm)
    server.fault = Fault(drop_after=3)
    pieces: list[str] = []
    with pytest.raises(BackendUnavailable, match=r"closed the connection before finishing.*incomplete.*ollama serve"):
        for piece in backend.stream_chat(chat("Count from one to twenty."), max_tokens=48):
            pieces.append(piece)
    assert 1 <= len(pieces) <= 3  # the pieces sent before the cut arrived, and nothing after it
    server.fault = None
    assert "".join(backend.stream_chat(chat("Count from one to five."), max_tokens=12)).strip()


def test_slow_server_times_out_with_the_setting_to_raise(
    server: OllamaProtocolServer, served_llm: LlamaCppBackend
) -> None:
    backend = backend_for(server, served_llm, timeout_s=0.5)
    server.fault = Fault(delay_s=5)
    for call in (
        lambda: list(backend.stream_chat(chat("hi"), max_tokens=4)),
        lambda: backend.structured(chat("hi"), {"type": "object"}, max_tokens=4),
    ):
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"sent nothing for 0.5 s.*raise QUIRE_LLM__TIMEOUT_S"):
            call()
        assert time.monotonic() - started < 3  # the timeout, not the server's stall, decides


def test_server_error_says_to_look_at_ollamas_log(server: OllamaProtocolServer, served_llm: LlamaCppBackend) -> None:
    backend = backend_for(server, served_llm)
    server.fault = Fault(status=HTTPStatus.INTERNAL_SERVER_ERROR)
    expected = r"failed \(500\): llama runner process has terminated: signal: killed\. Look at Ollama's log"
    with pytest.raises(BackendUnavailable, match=expected):
        list(backend.stream_chat(chat("hi"), max_tokens=4))
    with pytest.raises(BackendUnavailable, match=expected):
        backend.structured(chat("hi"), {"type": "object"}, max_tokens=4)


@pytest.fixture(scope="module")
def contract_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding one ingested contract, for asking through Ollama."""
    root = tmp_path_factory.mktemp("ollama-ask")
    (root / "contract.txt").write_text(CONTRACT_TEXT)
    data = root / "data"
    report = Quire(Settings(data_dir=data)).ingest([root / "contract.txt"])
    assert [d.status for d in report.documents] == ["ingested"]
    return data


OLLAMA_ASK = {"backend": "ollama", "model": SERVED, "num_ctx": 2048, "max_answer_tokens": 48, "timeout_s": 5}


@pytest.mark.parametrize(
    "fault, says",
    [
        (Fault(drop_after=2), "closed the connection before finishing"),
        (Fault(delay_s=12), "sent nothing for 5 s"),
        (Fault(status=HTTPStatus.INTERNAL_SERVER_ERROR), r"failed \(500\)"),
    ],
    ids=["cut-mid-answer", "slow", "http-500"],
)
def test_ask_reports_the_fault_and_answers_once_ollama_recovers(
    server: OllamaProtocolServer, contract_store: Path, fault: Fault, says: str
) -> None:
    quire = Quire(Settings(data_dir=contract_store, llm={**OLLAMA_ASK, "ollama_host": server.host}))
    server.fault = fault
    with pytest.raises(BackendUnavailable, match=says):
        quire.ask("How long is the initial term?")
    server.fault = None  # the same service, still running, answers once Ollama does
    answer = quire.ask("How long is the initial term?")
    assert answer.answer and answer.backend == "ollama" and answer.passages


def test_cli_ask_cut_mid_answer_prints_a_clear_error(server: OllamaProtocolServer, contract_store: Path) -> None:
    server.fault = Fault(drop_after=3)
    env = {f"QUIRE_LLM__{key.upper()}": str(value) for key, value in OLLAMA_ASK.items()}
    done = run_cli(
        "ask",
        "How long is the initial term?",
        data_dir=contract_store,
        env={**env, "QUIRE_LLM__OLLAMA_HOST": server.host},
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: Ollama at" in said and "closed the connection before finishing" in said, said
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.strip()  # the part of the answer that arrived before the cut was shown
