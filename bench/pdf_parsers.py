"""pypdf against pypdfium2 on the dev contracts: speed, and text quality against CUAD's text.

Quality = character similarity (1 - Levenshtein distance / length, whitespace collapsed) between
a parser's text and the CUAD `.txt` of the same contract. Also measured in the same run: which
hostile PDFs each parser opens at all (each in a child with a time limit), and what parsing in a
limited child process (`ingest.isolate`) costs per file against parsing in-process.

Run: python bench/pdf_parsers.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdfium2 as pdfium  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from ingest.discover import describe  # noqa: E402
from ingest.extract import extract  # noqa: E402
from ingest.parse import parse_file  # noqa: E402
from rag.settings import IngestSettings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pdf_parsers.json"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def with_pypdf(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def with_pdfium(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    pages = []
    for index in range(len(document)):
        page = document[index]
        textpage = page.get_textpage()
        pages.append(textpage.get_text_range())
        textpage.close()
        page.close()
    document.close()
    return pages


PARSERS = {"pypdf": with_pypdf, "pypdfium2": with_pdfium}


def measure_contracts(contracts: list[Path]) -> dict:
    rows = []
    for pdf in contracts:
        data, truth = pdf.read_bytes(), normalise(pdf.with_suffix(".txt").read_text(encoding="utf-8"))
        row: dict = {"name": pdf.name}
        for name, parser in PARSERS.items():
            began = time.perf_counter()
            pages = parser(data)
            row[name] = {
                "seconds": time.perf_counter() - began,
                "pages": len(pages),
                "similarity": Levenshtein.normalized_similarity(normalise("\n".join(pages)), truth),
            }
        rows.append(row)
    return {"contracts": rows}


OPEN_ONE = """
import sys, io
which, path = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
if which == 'pypdf':
    from pypdf import PdfReader
    pages = [p.extract_text() or '' for p in PdfReader(io.BytesIO(data)).pages]
else:
    import pypdfium2 as pdfium
    d = pdfium.PdfDocument(data)
    pages = [d[i].get_textpage().get_text_range() for i in range(len(d))]
print(sum(1 for p in pages if p.strip()))
"""


def measure_hostile(files: list[Path]) -> list[dict]:
    """Does each parser give any text (no password given)? A child per file, 20 s each."""
    rows = []
    for path in files:
        row: dict = {"name": path.name}
        for name in PARSERS:
            try:
                done = subprocess.run(
                    [sys.executable, "-c", OPEN_ONE, name, str(path)],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                row[name] = int(done.stdout.strip() or 0) > 0 if done.returncode == 0 else False
            except subprocess.TimeoutExpired:
                row[name] = "timeout"
        rows.append(row)
    return rows


def measure_isolation(contracts: list[Path]) -> dict:
    """Per-file cost of the parsing child: full parse in a child vs the same `extract` in-process."""
    settings = IngestSettings()
    limits = settings.model_dump()
    began = time.perf_counter()
    for pdf in contracts:
        extract(pdf, "pdf", limits, None)
    inprocess = time.perf_counter() - began
    began = time.perf_counter()
    for pdf in contracts:
        parse_file(describe(pdf), settings)
    isolated = time.perf_counter() - began
    return {"files": len(contracts), "in_process_s": inprocess, "isolated_s": isolated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    contracts = sorted((args.data / "contracts").glob("*.pdf"))
    if not contracts:
        sys.exit(f"no contracts under {args.data / 'contracts'}")
    result = measure_contracts(contracts)
    rows = result["contracts"]
    summary = {}
    for name in PARSERS:
        seconds = sum(r[name]["seconds"] for r in rows)
        pages = sum(r[name]["pages"] for r in rows)
        summary[name] = {
            "seconds": round(seconds, 2),
            "pages_per_s": round(pages / seconds, 1),
            "mean_similarity": round(sum(r[name]["similarity"] for r in rows) / len(rows), 4),
            "min_similarity": round(min(r[name]["similarity"] for r in rows), 4),
            "better_on": sum(
                1 for r in rows if r[name]["similarity"] > max(r[o]["similarity"] for o in PARSERS if o != name) + 1e-9
            ),
        }
    summary["speed_ratio_pdfium_over_pypdf"] = round(summary["pypdf"]["seconds"] / summary["pypdfium2"]["seconds"], 2)
    hostile = measure_hostile(sorted((args.data / "bad_pdfs").glob("*.pdf")))
    summary["hostile_with_text"] = {name: sum(1 for r in hostile if r[name] is True) for name in PARSERS}
    summary["hostile_timeouts"] = {name: sum(1 for r in hostile if r[name] == "timeout") for name in PARSERS}
    summary["hostile_only_pypdf"] = [r["name"] for r in hostile if r["pypdf"] is True and r["pypdfium2"] is not True]
    isolation = measure_isolation(contracts)
    isolation["overhead_per_file_s"] = round(
        (isolation["isolated_s"] - isolation["in_process_s"]) / isolation["files"], 3
    )
    summary["isolation"] = isolation

    print(f"{len(rows)} contracts, {sum(r['pypdf']['pages'] for r in rows)} pages")
    print(f"{'parser':<10} {'seconds':>8} {'pages/s':>8} {'mean sim':>9} {'min sim':>8} {'better on':>9}")
    for name in PARSERS:
        s = summary[name]
        print(
            f"{name:<10} {s['seconds']:>8} {s['pages_per_s']:>8} {s['mean_similarity']:>9} {s['min_similarity']:>8} {s['better_on']:>9}"
        )
    print(f"pypdfium2 is {summary['speed_ratio_pdfium_over_pypdf']}x faster than pypdf")
    print(
        f"hostile PDFs giving text: {summary['hostile_with_text']} of {len(hostile)}; timeouts {summary['hostile_timeouts']}"
    )
    print(f"only pypdf reads: {summary['hostile_only_pypdf']}")
    print(
        f"isolated parsing: {isolation['isolated_s']:.2f} s vs in-process {isolation['in_process_s']:.2f} s "
        f"= {isolation['overhead_per_file_s']} s per file"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "contracts": rows, "hostile": hostile}, indent=1))


if __name__ == "__main__":
    main()
