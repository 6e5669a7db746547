"""OCR engines on the scanned CUAD contract: character accuracy against its ground truth, pages/s.

Tesseract (Debian `tesseract-ocr`) runs through Quire's own path (`ingest.ocr`: pdfium render,
one Tesseract per page, pages in parallel) over every page. RapidOCR (PyPI `rapidocr-onnxruntime`,
models in the wheel) is far slower here, so it reads the first `--rapid-pages` pages, and
Tesseract's figure on the same pages is printed beside it.
Accuracy = 1 - Levenshtein distance / ground-truth length, whitespace collapsed.

Run: python bench/ocr.py [--data ../shared/data] [--rapid-pages 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import pypdfium2 as pdfium  # noqa: E402
from rapidfuzz import fuzz  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from ingest.ocr import ocr_pages  # noqa: E402
from rag.settings import IngestSettings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ocr.json"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def accuracy(text: str, truth: str, partial: bool) -> float:
    """Against the whole truth, or (for a first-pages sample) the best-matching leading window."""
    text = normalise(text)
    if partial:
        window = fuzz.partial_ratio_alignment(text, truth[: len(text) * 2])
        truth = truth[window.dest_start : window.dest_end]
    return 1 - Levenshtein.distance(text, truth) / len(truth)


def tesseract(document: pdfium.PdfDocument, pages: list[int], settings: IngestSettings) -> tuple[str, float]:
    began = time.perf_counter()
    results = ocr_pages(document, pages, settings.ocr_dpi, settings.ocr_language, 600)
    return "\n".join(results[i].text for i in pages), time.perf_counter() - began


def rapidocr(document: pdfium.PdfDocument, pages: list[int], dpi: int) -> tuple[str, float] | None:
    try:
        import numpy as np
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()
    began = time.perf_counter()
    texts = []
    for index in pages:
        image = document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("RGB")
        found, _ = engine(np.array(image))
        texts.append("\n".join(item[1] for item in found or []))
    return "\n".join(texts), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--rapid-pages", type=int, default=1)
    args = parser.parse_args()
    entry = json.loads((args.data / "scanned" / "manifest.json").read_text())[0]
    truth = normalise((args.data / entry["ground_truth_txt"]).read_text(encoding="utf-8"))
    document = pdfium.PdfDocument(args.data / entry["pdf"])
    settings = IngestSettings()
    every = list(range(len(document)))
    sample = every[: args.rapid_pages]
    rows = {}
    text, seconds = tesseract(document, every, settings)
    rows["tesseract (all pages)"] = {
        "pages": len(every),
        "seconds": seconds,
        "accuracy": accuracy(text, truth, False),
    }
    text, seconds = tesseract(document, sample, settings)
    rows["tesseract (sample)"] = {
        "pages": len(sample),
        "seconds": seconds,
        "accuracy": accuracy(text, truth, True),
    }
    rapid = rapidocr(document, sample, settings.ocr_dpi)
    if rapid is None:
        print("rapidocr-onnxruntime is not installed: pip install rapidocr-onnxruntime to include it")
    else:
        rows["rapidocr (sample)"] = {
            "pages": len(sample),
            "seconds": rapid[1],
            "accuracy": accuracy(rapid[0], truth, True),
        }
    print(f"{'engine':<24} {'pages':>5} {'seconds':>8} {'pages/s':>8} {'char acc':>9}")
    for name, row in rows.items():
        row["pages_per_s"] = row["pages"] / row["seconds"]
        print(f"{name:<24} {row['pages']:>5} {row['seconds']:>8.1f} {row['pages_per_s']:>8.3f} {row['accuracy']:>9.2%}")
    if rapid is not None:
        ratio = rows["tesseract (sample)"]["pages_per_s"] / rows["rapidocr (sample)"]["pages_per_s"]
        print(f"Tesseract is {ratio:.1f}x faster than RapidOCR on the same pages")
        rows["speed_ratio_tesseract_over_rapidocr"] = ratio
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"dpi": settings.ocr_dpi, "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
