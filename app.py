"""Quire's web app: a thin entry point; the views live in `ui/`.

Views call `rag.service.Quire` (and the job runner for long work); they never reach into the
store or the models.
"""

from __future__ import annotations

import logging

import streamlit as st

import rag  # noqa: F401  (sets the offline switches before any model library loads)
from rag.errors import QuireError
from rag.settings import Settings
from ui import ask, batch, clauses, library, login, sidebar, summaries


def main() -> None:
    st.set_page_config(page_title="Quire", page_icon=":material/menu_book:", layout="wide")
    if not login.signed_in(Settings()):  # before anything loads or shows
        return
    pages = [
        st.Page(library.view, title="Library", icon=":material/library_books:", default=True),
        st.Page(ask.view, title="Ask", icon=":material/chat:", url_path="ask"),
        st.Page(summaries.view, title="Summaries", icon=":material/summarize:", url_path="summaries"),
        st.Page(clauses.view, title="Clauses", icon=":material/checklist:", url_path="clauses"),
        st.Page(batch.view, title="Batch", icon=":material/folder_open:", url_path="batch"),
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.title("Quire")
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
