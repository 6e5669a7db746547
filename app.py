"""Quire's web app: a thin entry point; the views live in `ui/`.

Views call `rag.service.Quire` (and the job runner for long work); they never reach into the
store or the models.
"""

from __future__ import annotations

import logging

import rag  # noqa: F401  (sets the offline switches before any model library loads)
import streamlit as st

from rag.errors import QuireError

from ui import ask, batch, clauses, library, sidebar, summaries


def main() -> None:
    st.set_page_config(page_title="Quire", page_icon="📜", layout="wide")
    pages = [
        st.Page(library.view, title="Library", icon="📚", url_path="library", default=True),
        st.Page(ask.view, title="Ask", icon="💬", url_path="ask"),
        st.Page(summaries.view, title="Summaries", icon="📝", url_path="summaries"),
        st.Page(clauses.view, title="Clauses", icon="📋", url_path="clauses"),
        st.Page(batch.view, title="Batch", icon="🗂️", url_path="batch"),
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.title("📜 Quire")
        st.caption("Private document QA for contracts. Nothing leaves this machine.")
    try:
        sidebar.render()
        page.run()
    except QuireError as error:
        st.error(str(error))
    except Exception as error:  # noqa: BLE001 - people get a message; the server log keeps the trace
        logging.getLogger("quire.app").exception("page failed")
        st.error(f"Something went wrong ({type(error).__name__}: {error}). The server log has the details.")


main()
