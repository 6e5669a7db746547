"""Which features this build has. A view whose service method has not landed shows a disabled
panel saying what brings it; once the method exists the same view lights up, with no UI change."""

from __future__ import annotations

import importlib.util

import streamlit as st

from rag.service import Quire


def has_summaries(quire: Quire) -> bool:
    return callable(getattr(quire, "summarize", None))


def has_clause_review(quire: Quire) -> bool:
    return callable(getattr(quire, "review_clauses", None))


def has_batch() -> bool:
    """True when the command line has a `batch` command (jobs run in their own process) and the
    journal reader the page polls."""
    if importlib.util.find_spec("rag.batch") is None:
        return False
    from rag.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name or (g.typer_instance.info.name if g.typer_instance else "") for g in app.registered_groups}
    return "batch" in names


def disabled_panel(title: str, arrives_with: str, what_it_does: str) -> None:
    """A clearly switched-off view: what it will do, and what brings it."""
    st.info(
        f"**{title} arrive with {arrives_with}.** This build does not include it yet. {what_it_does}",
        icon=":material/lock:",
    )
