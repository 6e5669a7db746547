"""A portfolio, not a folder: `quire batch run` over 1,000 distinct contract files, documents per hour.

The folder is built from the shared data, never from copies (identical files would only test the
content-hash skip): the 410 cuad_train texts and the 30 dev texts, the 30 dev PDFs, then PDFs
rendered from those 440 texts (one page per 60 lines of 95 characters) and, to reach 1,000, Word
files from the first of them. The batch runs ingestion only, with the default settings, in its own
process; the command is the one a person types, so a session that is cut off resumes it by running
this script again with the same `--work` folder (the journal keeps what was done).

    python bench/portfolio.py [--files 1000] [--work DIR]   # writes bench/results/portfolio.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import make_pdf  # noqa: E402

SHARED = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results" / "portfolio.json"
LINES_PER_PAGE = 60
LINE_CHARS = 95


def source_texts() -> list[Path]:
    texts = sorted((SHARED / "cuad_train" / "contracts").glob("*.txt")) + sorted((SHARED / "contracts").glob("*.txt"))
    if not texts:
        sys.exit(f"no contract texts under {SHARED}: set QUIRE_SHARED_DATA")
    return texts


def pdf_pages(text: str) -> list[str]:
    """The text as pages of wrapped lines, as a word processor would print it."""
    lines = [wrapped for line in text.splitlines() for wrapped in (textwrap.wrap(line, LINE_CHARS) or [""])]
    return ["\n".join(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)] or [""]


def write_docx(text: str, path: Path) -> None:
    import docx

    document = docx.Document()
    for paragraph in text.split("\n\n"):
        document.add_paragraph(paragraph.strip())
    document.save(str(path))


def build_folder(folder: Path, count: int) -> list[Path]:
    """`count` distinct files (made once; a second call finds them)."""
    texts = source_texts()
    planned: list[tuple[Path, Path, str]] = [(t, folder / "txt" / t.name, "copy") for t in texts]
    planned += [(p, folder / "pdf" / p.name, "copy") for p in sorted((SHARED / "contracts").glob("*.pdf"))]
    planned += [(t, folder / "rendered" / f"{t.stem}.pdf", "pdf") for t in texts]
    planned += [(t, folder / "docx" / f"{t.stem}.docx", "docx") for t in texts]
    planned = planned[:count]
    for source, target, how in planned:
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if how == "copy":
            target.write_bytes(source.read_bytes())
        elif how == "pdf":
            make_pdf(target, pdf_pages(source.read_text(encoding="utf-8", errors="replace")))
        else:
            write_docx(source.read_text(encoding="utf-8", errors="replace"), target)
    return [target for _, target, _ in planned]


def run_batch(folder: Path, out: Path, data_dir: Path) -> float:
    env = {**os.environ, "QUIRE_DATA_DIR": str(data_dir)}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rag", "batch", "run", str(folder), "--out", str(out)], env=env, check=True)
    return time.perf_counter() - began


def batch_status(out: Path, data_dir: Path) -> dict:
    env = {**os.environ, "QUIRE_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "rag", "batch", "status", str(out), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def store_counts(data_dir: Path) -> dict[str, int]:
    from rag.settings import Settings
    from rag.store.registry import Registry

    return Registry(Settings(data_dir=data_dir).state_dir / "registry.sqlite3").counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--work", type=Path, help="Keep the folder, store and output here (resumable).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quire-portfolio-") as scratch:
        work = args.work or Path(scratch)
        began = time.perf_counter()
        files = build_folder(work / "folder", args.files)
        build_s = time.perf_counter() - began
        load = os.getloadavg()[0]
        seconds = run_batch(work / "folder", work / "out", work / "data")
        status = batch_status(work / "out", work / "data")
        counts = store_counts(work / "data")
    result = {
        "files": len(files),
        "by_kind": {
            kind: sum(1 for f in files if f.parent.name == kind) for kind in ("txt", "pdf", "rendered", "docx")
        },
        "folder_build_s": round(build_s, 1),
        "batch_s": round(seconds, 1),
        "documents_per_hour": round(len(files) / seconds * 3600),
        "load_before": round(load, 2),
        "store": counts,
        "status": status,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "status"}))


if __name__ == "__main__":
    main()
