"""Ask: the evidence first, then the model's reply, over all, one or several documents.

The best passages, their answering sentence marked, appear as soon as retrieval has them (well
under a second), each with a chip that opens its page beside the conversation, highlighted. The
model's reply streams below; the demo model's reply is folded away as what it is, and a
degenerate reply (one sentence over and over) is hidden behind a note: the evidence stands."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import streamlit as st

from rag.errors import QuireError
from rag.service import DEMO_MODEL_NOTICE, Quire
from rag.types import Answer, Citation, DocumentInfo, Evidence
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


MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]<>()#+-.!|$~:"})
EVIDENCE_SHOWN = 3  # the best few: a person reads these first, the rest are in the reply's sources
DEMO_REPLY_LABEL = "Reply of the built-in demo model: it proves the plumbing, it is not the answer"


def marked(evidence: Evidence) -> str:
    """The evidence text as Markdown, its answering sentence highlighted, the rest escaped."""
    cut = evidence.sentence_start - evidence.start, evidence.sentence_end - evidence.start
    before, sentence, after = evidence.text[: cut[0]], evidence.text[cut[0] : cut[1]], evidence.text[cut[1] :]
    plain = [" ".join(part.split()).translate(MARKDOWN_SPECIAL) for part in (before, sentence, after)]
    return f"{plain[0]} :orange-background[{plain[1]}] {plain[2]}".strip()


def evidence_citation(evidence: Evidence) -> Citation:
    """The answering sentence as a verified citation: it is the stored text at its offsets."""
    return Citation(
        evidence.doc_id, evidence.name, evidence.page, evidence.sentence_start, evidence.sentence_end,
        evidence.sentence, True,
    )  # fmt: skip


def show_evidence(turn_index: int, evidence: tuple[Evidence, ...]) -> None:
    if not evidence:
        st.caption("No passage of the documents matches this question.")
        return
    st.markdown("**Evidence**")
    for i, item in enumerate(evidence[:EVIDENCE_SHOWN]):
        with st.container(border=True, key=f"evidence-{turn_index}-{i}"):
            st.markdown(marked(item))
            st.button(
                f"{item.name} · p. {item.page}",
                icon=":material/description:",
                key=f"evidence-chip-{turn_index}-{i}",
                on_click=open_source,
                args=(evidence_citation(item),),
            )


def show_reply(turn_index: int, answer: Answer, demo: bool) -> None:
    """The model's words under the evidence: folded away when hidden or from the demo model."""
    if answer.hidden_reason:
        st.info(f"{answer.hidden_reason}. The evidence above stands.", icon=":material/visibility_off:")
        with st.expander("Show the hidden reply anyway"):
            st.markdown(answer.answer)
    elif demo:
        with st.expander(DEMO_REPLY_LABEL):
            st.markdown(answer.answer)
    else:
        st.markdown(answer.answer)
    show_support(answer)
    show_answer_details(turn_index, answer)


def show_support(answer: Answer) -> None:
    """Which statements of the reply the evidence above backs, and which it does not."""
    if not answer.support or answer.hidden_reason:
        return
    unsupported = [s.statement for s in answer.support if s.evidence is None]
    backed = len(answer.support) - len(unsupported)
    line = f"{backed} of {len(answer.support)} statements of the reply are backed by the evidence above"
    if unsupported:
        line += "; not backed: " + "; ".join(f"\u201c{s[:120]}\u201d" for s in unsupported[:3])
    st.caption(f":material/fact_check: {line}.")


def render_turn(index: int, turn: dict[str, Any]) -> None:
    with st.chat_message(turn["role"]):
        if turn.get("error"):
            st.error(turn["text"])
            return
        answer = turn.get("answer")
        if answer is None:
            st.markdown(turn["text"])
            return
        show_evidence(index, answer.evidence)
        show_reply(index, answer, turn.get("demo", False))


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


def stream_reply(quire: Quire, question: str, doc_ids: tuple[str, ...], turn_index: int, demo: bool) -> dict[str, Any]:
    """Show the evidence the moment it comes, stream the reply under it; return the finished turn."""
    final: dict[str, Answer] = {}
    events = iter(quire.stream_ask(question, doc_ids))

    def pieces() -> Iterator[str]:
        for event in events:
            if isinstance(event, Answer):
                final["answer"] = event
            elif isinstance(event, str):
                yield event

    try:
        with st.spinner("Finding the evidence…"):
            evidence = next(events)
        show_evidence(turn_index, evidence if isinstance(evidence, tuple) else ())
        slot = st.empty()
        with slot.container():
            if demo:
                with st.expander(DEMO_REPLY_LABEL):
                    st.write_stream(pieces())
            else:
                st.write_stream(pieces())
    except QuireError as error:
        st.error(str(error))
        return {"role": "assistant", "text": str(error), "error": True}
    except Exception as error:  # noqa: BLE001 - a person sees a message, the log keeps the trace
        log.exception("answering failed")
        message = f"Something went wrong while answering ({type(error).__name__}: {error})."
        st.error(message)
        return {"role": "assistant", "text": message, "error": True}
    answer = final["answer"]
    with slot.container():
        show_reply(turn_index, answer, demo)
    return {"role": "assistant", "text": answer.answer, "answer": answer, "demo": demo}


def demo_banner(quire: Quire) -> bool | None:
    """Warn when the tiny built-in model answers. True for the demo model, False for a capable one,
    None when no backend can be built at all."""
    try:
        with st.spinner("Loading the model…"):
            choice = quire.backend_choice()
    except QuireError as error:
        st.error(f"No model can answer: {error}")
        return None
    if choice.backend.is_demo:
        st.warning(DEMO_MODEL_NOTICE, icon=":material/science:")
    return choice.backend.is_demo


@st.cache_resource(show_spinner=False)
def warm_up(_quire: Quire) -> threading.Thread:
    """Once per app process, in the background: the first question's evidence then comes as fast as the next."""
    thread = threading.Thread(target=_quire.retriever.warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread


def view() -> None:
    quire = state.service()
    st.header("Ask")
    documents = documents_or_hint(quire)
    if not documents:
        return
    warm_up(quire)
    demo = demo_banner(quire)
    if demo is None:
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
                history.append(stream_reply(quire, question, doc_ids, len(history), demo))
    with source:
        ref = st.session_state.get("source")
        if ref is None:
            st.caption("Click a citation under an answer to see the page it quotes, highlighted.")
        else:
            show_source(quire, ref)
