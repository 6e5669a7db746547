"""The morning report of a batch: `index.md`, `index.html` and the portfolio `clauses.csv`/`.xlsx`.

Everything here is rebuilt from the journal and the per-document outputs when a run starts, as
files finish (paced: `rag.batch.run.ReportPacer`) and at its end (finished or stopped), so the report
matches what is on disk even after a crash. Each file is written atomically; a reader never sees half a report.
"""

from __future__ import annotations

import csv
import html
import io
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rag.batch.files import atomic_write
from rag.batch.journal import FileStatus, Journal
from rag.batch.plan import BatchPlan
from rag.clauses.portfolio import csv_bytes, xlsx_bytes
from rag.clauses.report import STATUSES

PORTFOLIO_CSV = "clauses.csv"
PORTFOLIO_XLSX = "clauses.xlsx"

log = logging.getLogger("quire.batch")


def write_report(journal: Journal, plan: BatchPlan) -> list[Path]:
    """The index first (it is quick, and links the portfolio once that exists), then the portfolio."""
    statuses = journal.file_statuses(plan.step_names)
    rows = clause_rows(plan.out_dir, statuses) if "review" in plan.step_names else {}
    written = []
    summary = _summary(statuses, plan, journal.last_run() or {}, clause_lines(rows))
    for name, text in (("index.md", render_markdown(summary)), ("index.html", render_html(summary))):
        atomic_write(plan.out_dir / name, text.encode("utf-8"))
        written.append(plan.out_dir / name)
    if "review" in plan.step_names:
        written += write_portfolio([row for file_rows in rows.values() for row in file_rows], plan.out_dir)
    return written


def refresh_report(journal: Journal, plan: BatchPlan) -> None:
    """`write_report` during a run: a failure is logged, not raised, because the night's work matters
    more than its report, which the next finished file (or the end of the run) writes again."""
    try:
        write_report(journal, plan)
    except Exception:  # noqa: BLE001 - e.g. a full disk: the steps' own errors are handled where they happen
        log.exception("the report could not be rewritten; it will be tried again after the next file")


def clause_lines(rows: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Per file, how its categories came out ("2 present · 36 needs review · 3 absent"): the
    morning's first look at which contracts want a person's attention."""
    lines = {}
    for path, file_rows in rows.items():
        tally = Counter(row["status"] for row in file_rows)
        lines[path] = " · ".join(f"{n} {status.replace('_', ' ')}" for status in STATUSES if (n := tally[status]))
    return lines


def _summary(
    statuses: list[FileStatus], plan: BatchPlan, run: dict[str, Any], clauses: dict[str, str]
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.state] = counts.get(status.state, 0) + 1
    portfolio = [n for n in (PORTFOLIO_CSV, PORTFOLIO_XLSX) if (plan.out_dir / n).exists()]
    return {
        "folder": str(plan.folder),
        "steps": plan.step_names,
        "run": run,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": statuses,
        "complete": sum(1 for s in statuses if s.complete),
        "counts": counts,
        "failures": [s for s in statuses if s.state == "failed"],
        "portfolio": portfolio if "review" in plan.step_names else [],
        "clauses": clauses if "review" in plan.step_names else None,
    }


IN_PROGRESS_HINT = (
    "The run was still going when this was written. If no batch is running now, it was interrupted "
    "(a crash, a reboot): run the same command again to finish the rest; finished work is kept."
)


def _run_line(s: dict[str, Any]) -> tuple[str, str]:
    """The run's number and outcome, and what to do when the report was written mid-run."""
    outcome = s["run"].get("outcome")
    return f"run {s['run'].get('run_id', '?')} {outcome or 'in progress'}", "" if outcome else IN_PROGRESS_HINT


Link = tuple[str, str]  # (text shown, file name in the output folder)


def _link_md(link: Link) -> str:
    return f"[{link[0]}]({quote(link[1])})"


def _named(names: list[str]) -> list[Link]:
    return [(name, name) for name in names]


def _output_links(status: FileStatus) -> list[Link]:
    """`summary.md`, `clauses.csv`...: an output's link text in its file's row, which already names the file."""
    return [(name.removeprefix(f"{status.out_name}."), name) for name in status.outputs]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class DocumentRow:
    state: str
    cells: list[str]  # file, state and, when the batch reviews, how its clauses came out
    outputs: list[Link]


def _document_table(s: dict[str, Any]) -> tuple[list[str], list[DocumentRow]]:
    """The Documents table's header and rows, shared by both formats."""
    clauses = s["clauses"]
    header = ["file", "state", *([] if clauses is None else ["clauses"]), "outputs"]
    rows = [
        DocumentRow(
            f.state, [f.path, f.state, *([] if clauses is None else [clauses.get(f.path, "")])], _output_links(f)
        )
        for f in s["files"]
    ]
    return header, rows


def render_markdown(s: dict[str, Any]) -> str:
    run, hint = _run_line(s)
    lines = [
        "# Batch report",
        "",
        f"Folder `{s['folder']}` · steps {' + '.join(s['steps'])} · {run} · written {s['written_at']}",
        "",
        *([hint, ""] if hint else []),
        f"**{s['complete']} of {len(s['files'])} files complete**, {len(s['failures'])} failed.",
        "",
        "| state | files |",
        "|---|---|",
        *[f"| {state} | {n} |" for state, n in sorted(s["counts"].items())],
        "",
    ]
    if s["failures"]:
        lines += ["## Failures", "", "| file | step | reason |", "|---|---|---|"]
        lines += [f"| {_cell(f.path)} | {f.failed_step} | {_cell(f.error or '')} |" for f in s["failures"]]
        lines.append("")
    if s["portfolio"]:
        lines += ["## Portfolio", "", " · ".join(map(_link_md, _named(s["portfolio"]))), ""]
    header, rows = _document_table(s)
    lines += ["## Documents", "", f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    lines += [f"| {' | '.join(map(_cell, row.cells))} | {' · '.join(map(_link_md, row.outputs))} |" for row in rows]
    return "\n".join(lines) + "\n"


def render_html(s: dict[str, Any]) -> str:
    e = html.escape
    run, hint = _run_line(s)

    def links(targets: list[Link]) -> str:
        return " · ".join(f'<a href="{e(quote(name))}">{e(text)}</a>' for text, name in targets)

    rows = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in sorted(s["counts"].items()))
    failures = "".join(
        f"<tr><td>{e(f.path)}</td><td>{e(f.failed_step or '')}</td><td>{e(f.error or '')}</td></tr>"
        for f in s["failures"]
    )
    header, document_rows = _document_table(s)
    documents = "".join(
        f'<tr class="{e(row.state)}">{"".join(f"<td>{e(c)}</td>" for c in row.cells)}<td>{links(row.outputs)}</td></tr>'
        for row in document_rows
    )
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Batch report</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.failed{background:#fee}</style>",
        "</head><body>",
        "<h1>Batch report</h1>",
        f"<p>Folder <code>{e(s['folder'])}</code> · steps {e(' + '.join(s['steps']))} · {e(run)} · "
        f"written {e(s['written_at'])}</p>",
        *([f"<p>{e(hint)}</p>"] if hint else []),
        f"<p><strong>{s['complete']} of {len(s['files'])} files complete</strong>, {len(s['failures'])} failed.</p>",
        f"<table><tr><th>state</th><th>files</th></tr>{rows}</table>",
    ]
    if failures:
        parts.append(f"<h2>Failures</h2><table><tr><th>file</th><th>step</th><th>reason</th></tr>{failures}</table>")
    if s["portfolio"]:
        parts.append(f"<h2>Portfolio</h2><p>{links(_named(s['portfolio']))}</p>")
    parts.append(f"<h2>Documents</h2><table><tr>{''.join(f'<th>{h}</th>' for h in header)}</tr>{documents}</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def clause_rows(out_dir: Path, statuses: list[FileStatus]) -> dict[str, list[dict[str, str]]]:
    """Each reviewed file's clause rows (keyed by its path in the folder), read back from its own CSV."""
    by_file: dict[str, list[dict[str, str]]] = {}
    for status in statuses:
        for name in status.outputs:
            if name.endswith(".clauses.csv"):
                text = (out_dir / name).read_text(encoding="utf-8-sig")  # drops the BOM; older files have none
                by_file[status.path] = list(csv.DictReader(io.StringIO(text)))
    return by_file


def write_portfolio(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """The portfolio in the clause review's own formats (`rag/clauses/portfolio.py`), each file written whole
    to a temporary name first so a reader never sees part of it."""

    written = []
    for name, to_bytes in ((PORTFOLIO_CSV, csv_bytes), (PORTFOLIO_XLSX, xlsx_bytes)):
        atomic_write(out_dir / name, to_bytes(rows))
        written.append(out_dir / name)
    return written
