"""Small pieces several views share."""

from __future__ import annotations

import streamlit as st

from rag.service import Quire
from rag.types import DocumentInfo


def documents_or_hint(quire: Quire) -> list[DocumentInfo]:
    """The stored documents; when there are none, the pages that need one say where to add it."""
    documents = quire.documents()
    if not documents:
        st.info("The library is empty: add a contract on the **Library** page first.")
    return documents


def document_label(info: DocumentInfo, documents: list[DocumentInfo]) -> str:
    """The name, with an id prefix only when two documents share it."""
    twins = sum(d.name == info.name for d in documents)
    return info.name if twins == 1 else f"{info.name} ({info.doc_id[:8]})"


def pick_document(documents: list[DocumentInfo], key: str) -> DocumentInfo | None:
    labels = {document_label(d, documents): d for d in documents}
    chosen = st.selectbox("Document", list(labels), key=key, disabled=not labels)
    return labels.get(chosen) if chosen else None
