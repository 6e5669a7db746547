"""Quire: questions in -> retrieval -> context plan -> LLM -> verified answer."""

from rag import privacy as _privacy  # noqa: F401  (must run before any model library loads)

__version__ = "0.1.0"
