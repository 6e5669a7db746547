"""How the figure check of clause review behaves on the lawyers' own answers.

A found clause whose answer states a duration or dollar amount that its quotes do not is flagged
(`rag.clauses.values.unsupported_figures`). This measures, on the CUAD labels, (1) how many
correct answers it would flag against their own spans (should be none), (2) how many answers it
flags when paired with another contract's spans of the same category whose figures differ (should
be all), and (3) why the notice-period and money extractors are not used as evidence on their own:
the share of their hits that fall inside a lawyer's span of the category they would speak for.

Usage: python bench/figure_check.py [LABELS.jsonl]   (default: $QUIRE_SHARED_DATA/cuad_labels.jsonl)
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.clauses.values import unsupported_figures  # noqa: E402
from rag.rules import Found, find_durations, find_money  # noqa: E402

DEFAULT_LABELS = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "cuad_labels.jsonl"
Labelled = tuple[str, str, list[str]]  # category, the lawyers' answer, their spans' text


def notice_periods(text: str) -> list[Found]:
    """Durations written within 80 characters of the word 'notice'."""
    return [hit for hit in find_durations(text) if "notice" in text[max(0, hit.start - 80) : hit.end + 80].lower()]


def figure_answers(rows: list[dict]) -> list[Labelled]:
    answers = [
        (category, label["answer"], [span["text"] for span in label["spans"]])
        for row in rows
        for category, label in row["clauses"].items()
        if label and label.get("answer") and label.get("spans")
    ]
    print(f"labelled answers: {len(answers)}")
    return [a for a in answers if find_durations(a[1]) or find_money(a[1])]


def report_figure_check(answers: list[Labelled]) -> None:
    own = sum(bool(unsupported_figures(answer, quotes)) for _, answer, quotes in answers)
    print(f"answers stating a figure: {len(answers)}; flagged against their own spans: {own}")
    differ = same = caught = passed = 0
    for (category, answer, _), (other_category, other_answer, quotes) in itertools.permutations(answers, 2):
        if category != other_category:
            continue
        flagged = bool(unsupported_figures(answer, quotes))
        if unsupported_figures(answer, [other_answer]):  # the two answers state different figures
            differ, caught = differ + 1, caught + flagged
        else:
            same, passed = same + 1, passed + (not flagged)
    print(f"paired with another contract's spans: {caught} of {differ} pairs whose figures differ flagged,")
    print(f"  {passed} of {same} pairs with the same figure left alone")


def report_rule_evidence(rows: list[dict], data_dir: Path) -> None:
    for finder, category in ((notice_periods, "Notice Period to Terminate Renewal"), (find_money, "Cap on Liability")):
        hits = inside = 0
        for row in rows:
            text = (data_dir / row["txt"]).read_text(encoding="utf-8", errors="replace")
            spans = (row["clauses"].get(category) or {}).get("spans", [])
            found = finder(text)
            hits += len(found)
            inside += sum(any(s["start"] <= f.start and f.end <= s["end"] for s in spans) for f in found)
        print(f"{finder.__name__} as evidence for {category!r}: {inside} of {hits} hits inside a lawyer's span")


def main() -> None:
    labels = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_LABELS
    if not labels.is_file():
        sys.exit(f"no labels at {labels}: pass the path of cuad_labels.jsonl, or set QUIRE_SHARED_DATA")
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    report_figure_check(figure_answers(rows))
    report_rule_evidence(rows, labels.parent)


if __name__ == "__main__":
    main()
