"""Switch off every phone-home path before the libraries that have one are imported.

Quire's users choose it because documents never leave the machine. Each variable below
silences one library that otherwise calls out (measured on these machines):
Hugging Face hub lookups, onnxruntime and unstructured telemetry, Chroma's posthog
client, tiktoken's encoding download. `rag/__init__.py` imports this module first.
"""

from __future__ import annotations

import os

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",  # huggingface_hub / sentence-transformers: never ask the hub
    "TRANSFORMERS_OFFLINE": "1",  # transformers: same, older switch
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime (pulled in by pymupdf/rapidocr)
    "DO_NOT_TRACK": "1",  # unstructured and other tools honouring the convention
    "ANONYMIZED_TELEMETRY": "False",  # chromadb reads this as its default
    "SCARF_NO_ANALYTICS": "true",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # keep model-loading bars out of CLI output
    "TQDM_DISABLE": "1",
}


def apply_offline_env() -> None:
    """Set the switches unless the user already set them explicitly."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


apply_offline_env()
