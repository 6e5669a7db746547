"""What a clause review hands out: one finding per category, the report per document.

These records are the stable interface the CLI, the web app, the batch runner and the
portfolio writers share; `to_json` and `csv_rows` are their documented shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["present", "absent", "not_checked", "needs_review"]
Engine = Literal["locator", "model", "rules"]  # what decided a finding
STATUSES: tuple[Status, ...] = ("present", "absent", "not_checked", "needs_review")
CSV_FIELDS = ("document", "doc_id", "category", "status", "engine", "score", "value", "pages", "quote", "note")
QUOTE_JOINER = " […] "


@dataclass(frozen=True)
class ClauseQuote:
    """Words found verbatim in the stored document text, with where they are."""

    text: str
    page: int
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "page": self.page, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ClauseQuote:
        return cls(str(raw["text"]), int(raw["page"]), int(raw["start"]), int(raw["end"]))


@dataclass(frozen=True)
class ClauseFinding:
    category: str
    status: Status
    quotes: tuple[ClauseQuote, ...] = ()
    value: str = ""
    note: str = ""
    engine: Engine = "model"
    score: float | None = None  # the locator's calibrated score, when it decided

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "status": self.status,
            "engine": self.engine,
            "score": self.score,
            "quotes": [q.to_json() for q in self.quotes],
            "value": self.value,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ClauseFinding:
        quotes = tuple(ClauseQuote.from_json(q) for q in raw.get("quotes", []))
        score = raw.get("score")
        return cls(
            raw["category"],
            raw["status"],
            quotes,
            raw.get("value", ""),
            raw.get("note", ""),
            raw.get("engine", "model"),
            None if score is None else float(score),
        )


@dataclass(frozen=True)
class ClauseReport:
    doc_id: str
    name: str
    findings: tuple[ClauseFinding, ...]
    backend: str
    model: str
    seconds: float = 0.0

    def finding(self, category: str) -> ClauseFinding:
        return next(f for f in self.findings if f.category == category)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.status == s) for s in STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "name": self.name,
            "backend": self.backend,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ClauseReport:
        """A report read back from `to_json` (a batch's `NAME.clauses.json`, `quire clauses --json`)."""
        findings = tuple(ClauseFinding.from_json(f) for f in raw["findings"])
        return cls(raw["doc_id"], raw["name"], findings, raw["backend"], raw["model"], float(raw.get("seconds", 0.0)))

    def csv_rows(self) -> list[dict[str, str]]:
        """One row per category, keys `CSV_FIELDS`: a spreadsheet a reviewer can sort and filter."""
        return [
            {
                "document": self.name,
                "doc_id": self.doc_id,
                "category": f.category,
                "status": f.status,
                "engine": f.engine,
                "score": "" if f.score is None else f"{f.score:.2f}",
                "value": f.value,
                "pages": ", ".join(str(p) for p in sorted({q.page for q in f.quotes})),
                "quote": QUOTE_JOINER.join(q.text for q in f.quotes),
                "note": f.note,
            }
            for f in self.findings
        ]
