"""Settings: env parsing, and README's configuration table matching the fields exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings, iter_env_fields, readme_with_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_described() -> None:
    missing = [name for name, field in iter_env_fields() if not (field.description or "").strip()]
    assert not missing, f"settings without a description: {missing}"


def test_readme_table_matches_settings() -> None:
    readme = README.read_text(encoding="utf-8")
    assert readme_with_table(readme) == readme, (
        "README's configuration table differs from rag/settings.py: run `python -m rag.settings README.md`"
    )


def test_env_nesting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUIRE_LLM__NUM_CTX", "32768")
    monkeypatch.setenv("QUIRE_LLM__BACKEND", "ollama")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.llm.num_ctx == 32768
    assert settings.llm.backend == "ollama"


def test_ollama_host_follows_ollama_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:11434")
    assert Settings().llm.ollama_host == "http://10.1.2.3:11434"


def test_num_ctx_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_LLM__NUM_CTX", "200000")
    with pytest.raises(ValueError):
        Settings()
