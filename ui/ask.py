"""Ask: a streamed chat over all, one or several documents, with citation chips that open the
cited page beside the conversation, the quote highlighted on it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import streamlit as st

from rag.errors import QuireError
from rag.service import DEMO_MODEL_NOTICE, Quire
from rag.types import Answer, Citation, DocumentInfo
from ui import state
from ui.viewer import SourceRef, show_source
from ui.widgets import documents_or_hint

log = logging.getLogger(__name__)
EXAMPLE_QUESTION = "Which law governs this agreement?"


def answer_footer(answer: Answer) -> str:
    """What the model had in view and who answered: the two facts that explain an answer's quality."""
    return (
        f"In view: {answer.in_view or 'nothing'} · answered by {answer.backend}:{answer.model} "
        f"· num_ctx {answer.num_ctx:,}"
    )


def chips(answer: Answer) -> list[Citation]:
    """Verified citations, one per place (document, page, offsets)."""
    unique: dict[tuple[str, int, int], Citation] = {}
    for c in answer.citations:
        if c.verified:
            unique.setdefault((c.doc_id, c.page, c.start), c)
    return list(unique.values())


def open_source(citation: Citation) -> None:
    st.session_state["source"] = SourceRef.of(citation)


def show_answer_details(turn_index: int, answer: Answer) -> None:
    found = chips(answer)
    if found:
        columns = st.columns(min(len(found), 4))
        for i, citation in enumerate(found):
            columns[i % len(columns)].button(
                f"{citation.name} · p. {citation.page}",
                icon=":material/description:",
                key=f"cite-{turn_index}-{i}",
                on_click=open_source,
                args=(citation,),
                help=f"“{citation.quote[:200]}”",
            )
    unverified = sum(1 for c in answer.citations if not c.verified)
    if unverified:
        st.caption(
            f":material/warning: {unverified} quote(s) the model gave were not found in the documents "
            "and are not shown as quotes."
        )
    st.caption(answer_footer(answer))


def render_turn(index: int, turn: dict[str, Any]) -> None:
    with st.chat_message(turn["role"]):
        if turn.get("error"):
            st.error(turn["text"])
            return
        st.markdown(turn["text"])
        if turn.get("answer") is not None:
            show_answer_details(index, turn["answer"])


def scope_picker(documents: list[DocumentInfo]) -> tuple[str, ...]:
    labels = {
        d.name if sum(x.name == d.name for x in documents) == 1 else f"{d.name} ({d.doc_id[:8]})": d for d in documents
    }
    chosen = st.multiselect(
        "Ask about",
        list(labels),
        key="ask_scope",
        placeholder="All documents",
        help="Leave empty to ask about every document.",
    )
    picked = tuple(labels[c].doc_id for c in chosen)
    what = f"{len(documents)} document{'s' if len(documents) != 1 else ''}" if not picked else f"{len(picked)} chosen"
    st.caption(f"Asking about {'all ' if not picked else ''}{what}.")
    return picked


def stream_reply(quire: Quire, question: str, doc_ids: tuple[str, ...]) -> dict[str, Any]:
    """Stream the answer into the current chat message; return the finished turn."""
    final: dict[str, Answer] = {}

    def pieces() -> Iterator[str]:
        for event in quire.stream_ask(question, doc_ids):
            if isinstance(event, Answer):
                final["answer"] = event
            else:
                yield event

    try:
        with st.spinner("Reading the documents…"):
            events = pieces()
            first = next(events, "")
        st.write_stream(_chain(first, events))
    except QuireError as error:
        st.error(str(error))
        return {"role": "assistant", "text": str(error), "error": True}
    except Exception as error:  # noqa: BLE001 - a person sees a message, the log keeps the trace
        log.exception("answering failed")
        message = f"Something went wrong while answering ({type(error).__name__}: {error})."
        st.error(message)
        return {"role": "assistant", "text": message, "error": True}
    answer = final["answer"]
    return {"role": "assistant", "text": answer.answer, "answer": answer}


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def demo_banner(quire: Quire) -> bool:
    """Warn when the tiny built-in model answers; False when no backend can be built at all."""
    try:
        with st.spinner("Loading the model…"):
            choice = quire.backend_choice()
    except QuireError as error:
        st.error(f"No model can answer: {error}")
        return False
    if choice.backend.is_demo:
        st.warning(DEMO_MODEL_NOTICE, icon=":material/science:")
    return True


def view() -> None:
    quire = state.service()
    st.header("Ask")
    documents = documents_or_hint(quire)
    if not documents:
        return
    if not demo_banner(quire):
        return
    doc_ids = scope_picker(documents)
    question = st.chat_input(f"Ask about your documents, e.g. {EXAMPLE_QUESTION}")
    chat, source = st.columns([5, 4], gap="large")
    history: list[dict[str, Any]] = st.session_state.setdefault("history", [])
    with chat:
        for index, turn in enumerate(history):
            render_turn(index, turn)
        if question:
            history.append({"role": "user", "text": question})
            render_turn(len(history) - 1, history[-1])
            with st.chat_message("assistant"):
                turn = stream_reply(quire, question, doc_ids)
                history.append(turn)
                if turn.get("answer") is not None:
                    show_answer_details(len(history) - 1, turn["answer"])
    with source:
        ref = st.session_state.get("source")
        if ref is None:
            st.caption("Click a citation under an answer to see the page it quotes, highlighted.")
        else:
            show_source(quire, ref)
