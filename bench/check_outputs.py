"""Check what an overnight batch wrote, against the store it wrote from.

For every `*.clauses.json` in the batch's --out folder: each shown quote is exactly the stored
document text at its offsets, on the page it names. For every `*.summary.md`: the coverage line
says all pages fed it (a line naming pages without text is printed for a person to read). Prints
one line per document and a total; exits 1 on any mismatch or missing coverage line. This is the
done-when evidence for "every shown quote is verbatim in the source".

Usage: python bench/check_outputs.py OUT_DIR DATA_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.settings import Settings  # noqa: E402
from rag.store.registry import Registry  # noqa: E402
from rag.types import page_at  # noqa: E402

COVERAGE = re.compile(r"\*\*Coverage:\*\* (.*)")
PARTIAL = re.compile(r"\d+ of \d+ pages")


def quote_problems(registry: Registry, report: dict) -> tuple[int, list[str]]:
    """(quotes checked, what is wrong) for one clause report."""
    text, pages = registry.text(report["doc_id"]), registry.pages(report["doc_id"])
    checked, problems = 0, []
    for finding in report["findings"]:
        for quote in finding["quotes"]:
            checked += 1
            page = page_at(pages, quote["start"])
            if text[quote["start"] : quote["end"]] != quote["text"]:
                problems.append(f"{finding['category']}: quote not at its offsets")
            elif page != quote["page"]:
                problems.append(f"{finding['category']}: quote on page {page}, not {quote['page']}")
    return checked, problems


def main(out_dir: Path, data_dir: Path) -> int:
    registry = Registry(Settings().with_data_dir(data_dir).state_dir / "registry.sqlite3")
    failures = quotes = reports = summaries = 0
    for path in sorted(out_dir.glob("*.clauses.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        checked, problems = quote_problems(registry, report)
        reports, quotes = reports + 1, quotes + checked
        failures += len(problems)
        counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items() if v)
        print(
            f"{path.name}: {checked} quotes verbatim{'' if not problems else ' EXCEPT ' + '; '.join(problems)} ({counts})"
        )
    full = 0
    for path in sorted(out_dir.glob("*.summary.md")):
        summaries += 1
        found = COVERAGE.search(path.read_text(encoding="utf-8"))
        if not found:
            failures += 1
            print(f"{path.name}: no coverage line")
        elif not PARTIAL.match(found.group(1)):  # "all 12 pages (1-12)", "its one page (page 1)"
            full += 1
        else:
            print(f"{path.name}: coverage {found.group(1)}")
    print(f"{reports} clause reports, {quotes} quotes; {summaries} summaries, {full} of all pages; {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
