"""Settings sidebar: who answers (backend, model, num_ctx with its memory cost), how much text
retrieval puts in front of the model, and whether Ollama is up, with the fix when it is not."""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag.llm.choose import BACKEND_NAMES
from rag.llm.probe import OllamaStatus, describe_kv_cache, ollama_status
from rag.settings import MAX_NUM_CTX, LLMSettings
from ui import state

NUM_CTX_CHOICES = [2048, 4096, 8192, 16384, 32768, 65536, MAX_NUM_CTX]
BACKEND_HELP = {
    "auto": "auto: Ollama when it has the model, else the built-in model",
    "ollama": "ollama: a local Ollama server",
    "llamacpp": "llamacpp: embedded GGUF (built-in demo model unless QUIRE_LLM__MODEL_PATH is set)",
    "openai": "openai: an OpenAI-compatible server (vLLM, llama.cpp server)",
}


@st.cache_data(ttl=20, show_spinner=False)
def cached_ollama_status(host: str, model: str) -> OllamaStatus:
    return ollama_status(LLMSettings(ollama_host=host, model=model))


def _save() -> None:
    base = state.base_service().settings
    prefs = {key: st.session_state[f"pref_{key}"] for key in state.PREF_KEYS}
    state.save_prefs(base, prefs)


def _recheck() -> None:
    cached_ollama_status.clear()
    state.forget_backends()


def settings_form(prefs: dict[str, Any]) -> None:
    for key, value in prefs.items():
        st.session_state.setdefault(f"pref_{key}", value)
    if st.session_state["pref_num_ctx"] not in NUM_CTX_CHOICES:
        NUM_CTX_CHOICES.append(st.session_state["pref_num_ctx"])
        NUM_CTX_CHOICES.sort()
    st.selectbox("Backend", BACKEND_NAMES, key="pref_backend", on_change=_save, format_func=lambda n: BACKEND_HELP[n])
    st.text_input("Model (Ollama / OpenAI-compatible)", key="pref_model", on_change=_save)
    st.select_slider("Context window (num_ctx)", NUM_CTX_CHOICES, key="pref_num_ctx", on_change=_save)
    st.caption(describe_kv_cache(int(st.session_state["pref_num_ctx"])))
    st.number_input(
        "Retrieval budget (characters of passages)",
        min_value=200,
        max_value=400_000,
        step=1000,
        key="pref_budget_chars",
        on_change=_save,
        help="How much retrieved text goes in front of the model when whole documents do not fit.",
    )


def expected_backend(backend: str, model: str, status: OllamaStatus) -> str:
    """Who will answer, said without loading a model (the first question loads it)."""
    if backend == "auto":
        if status.ok:
            return f"Ollama · {model}"
        return "the built-in demo model (SmolLM2-135M), because Ollama is not ready (see below)"
    if backend == "llamacpp":
        return "the embedded llama.cpp model (QUIRE_LLM__MODEL_PATH, else the built-in demo model)"
    if backend == "ollama":
        return f"Ollama · {model}" + ("" if status.ok else " — " + status.message)
    return f"the OpenAI-compatible server · {model}"


def answering_line(status: OllamaStatus) -> None:
    chosen = state.chosen_backend()
    if chosen is not None:
        st.markdown(f"Answering: **{chosen.name}** · {chosen.model} · num_ctx {chosen.num_ctx:,}")
        return
    st.markdown(
        "Answering: " + expected_backend(st.session_state["pref_backend"], st.session_state["pref_model"], status)
    )


def ollama_panel(status: OllamaStatus) -> None:
    if status.ok:
        st.success(status.message, icon=":material/check_circle:")
    else:
        st.warning(status.message, icon=":material/warning:")
    st.button("Check again", on_click=_recheck, key="ollama_recheck")


def render() -> None:
    base = state.base_service().settings
    prefs = state.load_prefs(base)
    with st.sidebar:
        st.subheader("Model")
        settings_form(prefs)
        status = cached_ollama_status(base.llm.ollama_host, st.session_state["pref_model"])
        answering_line(status)
        st.subheader("Ollama")
        ollama_panel(status)
        st.caption(f"Workspace {base.workspace} · data in {base.state_dir.resolve()}")
