"""Quire ingestion: files in -> parsed pages -> chunks -> embeddings -> store. No LLM here."""

from rag import privacy as _privacy  # noqa: F401
