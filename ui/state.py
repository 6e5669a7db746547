"""What lives across reruns and tabs: the service, the job runner and the sidebar's choices.

Models and the store load once per server process (`st.cache_resource`); the sidebar's
choices are kept in a small JSON file under the data dir so that a reload keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from rag.llm.base import LLMBackend
from rag.service import Quire
from rag.settings import Settings
from ui.jobs import JobJournal, JobRunner

PREF_KEYS = ("backend", "model", "num_ctx", "budget_chars")


@st.cache_resource(show_spinner="Opening the document store…")
def base_service() -> Quire:
    return Quire(Settings())


@st.cache_resource(show_spinner=False)
def job_runner(state_dir: str) -> JobRunner:
    return JobRunner(JobJournal(Path(state_dir) / "ui" / "jobs.sqlite3"))


def prefs_path(settings: Settings) -> Path:
    return settings.state_dir / "ui" / "preferences.json"


def load_prefs(settings: Settings) -> dict[str, Any]:
    """The sidebar's last choices, falling back to the configured settings."""
    prefs: dict[str, Any] = {
        "backend": settings.llm.backend,
        "model": settings.llm.model,
        "num_ctx": settings.llm.num_ctx,
        "budget_chars": settings.retrieval.budget_chars,
    }
    try:
        saved = json.loads(prefs_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return prefs
    if isinstance(saved, dict):
        prefs.update({k: saved[k] for k in PREF_KEYS if k in saved})
    return prefs


def save_prefs(settings: Settings, prefs: dict[str, Any]) -> None:
    path = prefs_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: prefs[k] for k in PREF_KEYS}, indent=1), encoding="utf-8")


def settings_with(settings: Settings, prefs: dict[str, Any]) -> Settings:
    llm = settings.llm.model_copy(
        update={"backend": prefs["backend"], "model": prefs["model"], "num_ctx": int(prefs["num_ctx"])}
    )
    retrieval = settings.retrieval.model_copy(update={"budget_chars": int(prefs["budget_chars"])})
    return settings.model_copy(update={"llm": llm, "retrieval": retrieval})


@st.cache_resource(show_spinner=False, max_entries=4)
def _configured(prefs_json: str) -> Quire:
    base = base_service()
    return base.with_llm_settings(settings_with(base.settings, json.loads(prefs_json)))


def service() -> Quire:
    """The service with the sidebar's backend, model, num_ctx and retrieval budget."""
    base = base_service()
    return _configured(json.dumps(load_prefs(base.settings), sort_keys=True))


def chosen_backend() -> LLMBackend | None:
    """The backend answering with the current settings, if a question has loaded it already."""
    choice = service().peek_backend_choice()
    return choice.backend if choice else None


def forget_backends() -> None:
    """After Ollama starts or a model is pulled: choose the backend again on the next question."""
    _configured.clear()


def runner() -> JobRunner:
    return job_runner(str(base_service().settings.state_dir.resolve()))
