"""Fast embeddings must be the same embeddings: bf16 vectors point where the fp32 ones do."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.chunk import chunk_spans
from rag.store.embed import Embedder, resolve_precision
from tests.conftest import CONTRACT_TEXT


def test_auto_precision_is_a_concrete_one() -> None:
    assert resolve_precision("auto") in ("fp32", "bf16")
    assert resolve_precision("fp32") == "fp32"


@pytest.mark.slow
def test_bf16_embeddings_match_fp32() -> None:
    texts = [CONTRACT_TEXT[s:e] for s, e in chunk_spans(CONTRACT_TEXT, 300)]
    exact = np.array(Embedder(precision="fp32").embed(texts))
    fast = np.array(Embedder(precision="bf16").embed(texts))
    cosines = (exact * fast).sum(axis=1) / np.linalg.norm(fast, axis=1)
    assert cosines.min() > 0.99
    # and the nearest chunk of a question does not move
    question = Embedder(precision="fp32").embed_query("Which law governs the agreement?")
    assert int(np.argmax(exact @ question)) == int(np.argmax(fast @ question))


@pytest.mark.slow
def test_a_shorter_window_reads_only_the_head_of_a_chunk() -> None:
    """QUIRE_EMBED__MAX_TOKENS=16: two texts that differ only after their 16th token embed alike."""
    head = "The Supplier shall deliver the goods to the Buyer's warehouse in Rotterdam within thirty days"
    texts = [head + " and the Buyer pays on delivery.", head + " of the order; title passes at the dock gate."]
    short = np.array(Embedder(precision="fp32", max_tokens=16).embed(texts))
    full = np.array(Embedder(precision="fp32").embed(texts))
    assert float(short[0] @ short[1]) > 0.9999
    assert float(full[0] @ full[1]) < 0.99
    assert str(Embedder(max_tokens=16).spec) == "all-MiniLM-L6-v2@16"
