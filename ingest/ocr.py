"""OCR for PDF pages without a usable text layer: render with pdfium, read with Tesseract.

Measured on the scanned CUAD contract (bench/ocr.py): Tesseract reads it at over 99%
character accuracy; RapidOCR's wheel models (Chinese/English) drop the spaces between
English words (65%) and are several times slower, so Tesseract it is. Tesseract runs as a
separate program per page (one thread each, pages in parallel): a crash or a hang in it
costs that page, never the ingestion.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pypdfium2 as pdfium

from rag.errors import IngestError

TESSERACT_HINT = "install Tesseract (Debian/Ubuntu: apt-get install tesseract-ocr, or `make sysdeps`)"


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float  # mean word confidence, 0..1


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def render_page(document: pdfium.PdfDocument, index: int, dpi: int) -> bytes:
    """A grayscale PGM image of one page (cheap to encode, read natively by Tesseract)."""
    page = document[index]
    try:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        page.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    return buffer.getvalue()


def text_from_tsv(tsv: str) -> OcrPage:
    """Words joined into lines and paragraphs in Tesseract's reading order, and their mean confidence."""
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: list[float] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        paragraph = paragraphs.setdefault((int(row["block_num"]), int(row["par_num"])), {})
        paragraph.setdefault(int(row["line_num"]), []).append(word)
        confidence = float(row["conf"])
        if confidence >= 0:
            confidences.append(confidence / 100)
    text = "\n\n".join(
        "\n".join(" ".join(words) for _, words in sorted(lines.items())) for lines in paragraphs.values()
    )
    return OcrPage(text, round(sum(confidences) / len(confidences), 3) if confidences else 0.0)


def ocr_image(image: bytes, language: str, timeout: float) -> OcrPage:
    binary = tesseract_path()
    if binary is None:
        raise IngestError(f"this page has no text layer and OCR needs Tesseract: {TESSERACT_HINT}")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # pages run in parallel instead
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", language, "--psm", "3", "tsv"],
            input=image,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=True,
        )
    except subprocess.TimeoutExpired as error:
        raise IngestError(f"OCR of a page took more than {timeout:.0f} s") from error
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise IngestError(f"Tesseract failed on a page: {message[0]}") from error
    return text_from_tsv(done.stdout.decode("utf-8", errors="replace"))


def ocr_pages(
    document: pdfium.PdfDocument, indexes: list[int], dpi: int, language: str, timeout: float
) -> dict[int, OcrPage]:
    """OCR the given 0-based pages, as many at once as there are cores."""
    render_lock = threading.Lock()  # pdfium is not thread-safe; Tesseract runs outside the lock

    def one(index: int) -> OcrPage:
        with render_lock:
            image = render_page(document, index, dpi)
        return ocr_image(image, language, timeout)

    workers = max(1, min(len(indexes), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(indexes, pool.map(one, indexes), strict=True))
