"""Quire's web app: upload documents, see the library, ask questions with cited answers.

The page only calls `rag.service.Quire`; it never reaches into the store or the models.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import rag  # noqa: F401  (sets the offline switches before any model library loads)
from ingest.pipeline import IngestProgress
from rag.errors import QuireError
from rag.llm.base import DEMO_MODEL_NOTICE
from rag.service import Quire
from rag.settings import Settings
from rag.types import Answer, Citation


@st.cache_resource(show_spinner="Loading Quire…")
def service() -> Quire:
    return Quire(Settings())


def citation_line(c: Citation) -> str:
    if c.verified:
        return f'**{c.name}**, page {c.page}: "{c.quote}"'
    return f"**{c.name}**: a quote the model gave was not found in the document (not shown)."


def show_answer_details(answer: Answer) -> None:
    for c in answer.citations:
        st.markdown(("✅ " if c.verified else "⚠️ ") + citation_line(c))
    st.caption(f"In view: {answer.in_view} · {answer.backend}:{answer.model} · num_ctx {answer.num_ctx}")


def upload_panel(quire: Quire) -> None:
    files = st.file_uploader(
        "Add documents (PDF, DOCX, HTML, EML, TXT, MD)", type=["pdf", "docx", "html", "htm", "eml", "txt", "md"], accept_multiple_files=True, key="uploads"
    )
    if not files or not st.button("Ingest", type="primary"):
        return
    bar = st.progress(0.0, text="Starting…")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, upload in enumerate(files):
            path = Path(folder) / f"{index:04d}" / Path(upload.name).name
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
        done = {"files": 0}

        def on_result(result) -> None:
            done["files"] += 1
            bar.progress(done["files"] / len(paths), text=f"{result.name}: {result.status}")

        report = quire.ingest(paths, progress=IngestProgress(on_result=on_result))
    for result in report.documents:
        if result.status == "failed":
            st.error(f"{result.name}: {result.error}")
        else:
            st.success(f"{result.name}: {result.status} ({result.pages} pages, {result.chunks} chunks)")


def library_panel(quire: Quire) -> list[str]:
    documents = quire.documents()
    if not documents:
        st.info("No documents yet: upload a contract to start.")
        return []
    st.dataframe(
        [{"name": d.name, "pages": d.pages, "chunks": d.chunks, "ingested": d.ingested_at} for d in documents],
        hide_index=True,
        use_container_width=True,
    )
    names = {d.name: d.doc_id for d in documents}
    chosen = st.multiselect("Ask about (empty = all documents)", list(names))
    return [names[n] for n in chosen]


def chat_panel(quire: Quire, doc_ids: list[str]) -> None:
    history = st.session_state.setdefault("history", [])
    for turn in history:
        with st.chat_message(turn["role"]):
            st.markdown(turn["text"])
            if turn.get("answer"):
                show_answer_details(turn["answer"])
    question = st.chat_input("Ask about your documents, e.g. Which law governs this agreement?")
    if not question:
        return
    history.append({"role": "user", "text": question})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        final: dict[str, Answer] = {}

        def pieces():
            for event in quire.stream_ask(question, doc_ids):
                if isinstance(event, Answer):
                    final["answer"] = event
                else:
                    yield event

        try:
            st.write_stream(pieces())
        except QuireError as error:
            st.error(str(error))
            return
        answer = final["answer"]
        show_answer_details(answer)
    history.append({"role": "assistant", "text": answer.answer, "answer": answer})


def main() -> None:
    st.set_page_config(page_title="Quire", page_icon="📜", layout="wide")
    st.title("Quire")
    st.caption("Private document QA for contracts. Nothing leaves this machine.")
    quire = service()
    try:
        choice = quire.backend_choice()
    except QuireError as error:
        st.error(str(error))
        return
    if choice.backend.is_demo:
        st.warning(DEMO_MODEL_NOTICE)
    with st.sidebar:
        st.subheader("Model")
        st.write(f"{choice.backend.name}: **{choice.backend.model}** (num_ctx {choice.backend.num_ctx})")
        st.caption(choice.reason)
        st.subheader("Documents")
        upload_panel(quire)
    doc_ids = library_panel(quire)
    chat_panel(quire, doc_ids)


main()
