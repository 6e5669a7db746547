"""Batch: start a folder job in its own process, watch it, open its report.

The job is `quire batch FOLDER --out DIR`, started detached from the app, so it survives a
closed tab and an app restart; the app only remembers where its output goes and reads how far
it got from the batch's own journal (what `quire batch status DIR --json` prints). A batch that
a reboot interrupted is resumed with the same command on the same output folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from rag.batch.folder import batch_status as read_batch_status
from rag.batch.journal import hours_minutes
from rag.errors import QuireError
from rag.settings import Settings
from ui import state

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_REPORT_BYTES = 20 * 2**20
REPORT_NAMES = ("index.html", "index.md", "clauses.xlsx", "clauses.csv", "batch.log")
OUTPUT_SUFFIXES = (".summary.md", ".clauses.csv", ".clauses.json")
FLAG_OF_STEP = {"summarize": "--summaries", "review": "--clauses"}
LAUNCH_LOG = "app-launch.log"  # what `quire batch` printed, e.g. why it could not start
STARTING_S = 120  # how long a batch may take to open its journal before the page stops waiting for it


def batches_file(settings: Settings) -> Path:
    return settings.state_dir / "ui" / "batches.json"


def known_batches(settings: Settings) -> list[dict[str, Any]]:
    try:
        return json.loads(batches_file(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def cli(settings: Settings, *args: str) -> list[str]:
    data_dir = str(settings.data_dir.resolve())
    return [sys.executable, "-m", "rag", "--data-dir", data_dir, "--workspace", settings.workspace, *args]


def start_batch(settings: Settings, folder: Path, out: Path, steps: tuple[str, ...] = ()) -> None:
    """Start `quire batch` detached (its own session), so closing the app does not stop it."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / LAUNCH_LOG).open("ab") as log:
        process = subprocess.Popen(
            cli(settings, "batch", str(folder), "--out", str(out), *steps),
            cwd=REPO_ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    record = {
        "folder": str(folder),
        "out": str(out),
        "pid": process.pid,
        "started": datetime.now(UTC).isoformat(),
        "flags": list(steps),
    }
    others = [r for r in known_batches(settings) if r.get("out") != str(out)]  # a resumed batch moves to the top
    path = batches_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([record, *others], indent=1), encoding="utf-8")


def resume_flags(record: dict[str, Any], status: dict[str, Any]) -> tuple[str, ...]:
    """The step flags the batch was started with, so that running it again does the same work (a record
    written before the app kept them: the steps of the journal's last run)."""
    if "flags" in record:
        return tuple(record["flags"])
    return tuple(FLAG_OF_STEP[step] for step in status.get("steps", []) if step in FLAG_OF_STEP)


def batch_status(out: str) -> dict[str, Any]:
    """What `quire batch status OUT --json` prints, read from the batch's journal in this process."""
    try:
        return read_batch_status(Path(out))
    except QuireError as error:
        return {"error": str(error)}


def being_watched(record: dict[str, Any], status: dict[str, Any]) -> bool:
    """Running, or just started and not yet with a journal to read: the page keeps refreshing."""
    if status.get("running"):
        return True
    started = datetime.fromisoformat(record["started"])
    return "error" in status and (datetime.now(UTC) - started).total_seconds() < STARTING_S


def last_outcome(status: dict[str, Any]) -> str | None:
    """How the journal's last run ended ("finished", "stopped"), None while it runs or when it died."""
    return (status.get("run") or {}).get("outcome")


def batch_state(status: dict[str, Any]) -> str:
    if status.get("running"):
        return "running"
    return last_outcome(status) or "interrupted (a crash or a reboot): Resume continues it"


def show_batch(settings: Settings, record: dict[str, Any]) -> None:
    status = batch_status(record["out"])
    with st.expander(f"{Path(record['folder']).name} → {record['out']}", expanded=True):
        if "error" in status:
            st.warning(f"No status yet: {status['error']}")
            launch_log = Path(record["out"]) / LAUNCH_LOG
            if launch_log.is_file() and launch_log.stat().st_size:  # why the batch did not start
                st.code(launch_log.read_text(encoding="utf-8", errors="replace")[-3000:])
            return
        files, complete = int(status.get("files") or 0), int(status.get("complete") or 0)
        left = f" · about {hours_minutes(status['seconds_left'])} left" if status.get("seconds_left") else ""
        st.progress(
            complete / files if files else 0.0, text=f"{complete} of {files} files · {batch_state(status)}{left}"
        )
        st.caption(" · ".join(f"{k} {v}" for k, v in (status.get("counts") or {}).items()))
        for item in status.get("in_progress", []):
            st.caption(f"now: {item['step']} {Path(item['path']).name}")
        for failure in status.get("failures", []):
            st.error(f"{Path(failure['path']).name} failed at {failure['step']}: {failure['error']}")
        if not status.get("running"):
            run_again_button(settings, record, status)
        report_files(Path(record["out"]))


def run_again_button(settings: Settings, record: dict[str, Any], status: dict[str, Any]) -> None:
    """Resume an interrupted batch, or run a finished one again (it retries failures and changed files)."""
    if st.button(
        "Run again" if last_outcome(status) == "finished" else "Resume",
        key=f"again-{record['out']}",
        icon=":material/replay:",
        help="Same folder, same output folder: finished work is kept; failed and changed files are done again.",
    ):
        start_batch(settings, Path(record["folder"]), Path(record["out"]), resume_flags(record, status))
        st.rerun()


def outputs_by_document(out: Path) -> dict[str, list[Path]]:
    """Each document's outputs (`NAME.summary.md`, `NAME.clauses.csv/.json`, in that order), by NAME."""
    grouped: dict[str, list[Path]] = {}
    for suffix in OUTPUT_SUFFIXES:
        for path in sorted(out.glob(f"[!.]*{suffix}")):
            grouped.setdefault(path.name.removesuffix(suffix), []).append(path)
    return dict(sorted(grouped.items()))


def download(path: Path, key: str) -> None:
    if path.is_file() and path.stat().st_size <= MAX_REPORT_BYTES:
        st.download_button(path.name, path.read_bytes(), path.name, key=key, icon=":material/download:")


def report_files(out: Path) -> None:
    """The morning report and the portfolio first, then one document's outputs at a time (a night's
    batch writes hundreds of files: a button for each would bury the report)."""
    index = out / "index.md"
    if index.is_file():
        with st.popover("Open the report"):
            st.markdown(index.read_text(encoding="utf-8", errors="replace"))
    for name in REPORT_NAMES:
        download(out / name, f"dl-{out}-{name}")
    documents = outputs_by_document(out)
    if documents:
        chosen = st.selectbox("Outputs of", list(documents), key=f"doc-{out}")
        for path in documents.get(chosen or "", []):
            download(path, f"dl-{path}")


def view() -> None:
    settings = state.base_service().settings
    st.header("Batch")
    folder = st.text_input("Folder on this machine", key="batch_folder", placeholder="/path/to/contracts")
    summaries = st.checkbox("Summaries", value=True, key="batch_summaries")
    clauses = st.checkbox("Clause tables and portfolio", value=True, key="batch_clauses")
    if st.button("Start batch", type="primary", key="batch_start"):
        path = Path(folder).expanduser()
        if not folder or not path.is_dir():
            st.error(f"{folder or 'nothing'} is not a folder on this machine: type the full path of a folder.")
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            steps = ("--summaries",) * summaries + ("--clauses",) * clauses
            start_batch(settings, path, settings.state_dir / "batches" / f"{path.name}-{stamp}", steps)
            st.rerun()

    records = known_batches(settings)[:10]
    running = any(being_watched(r, batch_status(r["out"])) for r in records)

    @st.fragment(run_every=3.0 if running else None)
    def jobs() -> None:
        for record in records:
            show_batch(settings, record)

    jobs()
