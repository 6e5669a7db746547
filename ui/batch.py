"""Batch: start a folder job in its own process, watch it, open its report.

The job is `quire batch FOLDER --out DIR`, started detached from the app, so it survives a
closed tab and an app restart; the app only remembers where its output goes and asks
`quire batch status DIR --json` how far it got.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from rag.settings import Settings
from ui import state
from ui.features import disabled_panel, has_batch

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_REPORT_BYTES = 20 * 2**20


def batches_file(settings: Settings) -> Path:
    return settings.data_dir / "ui" / "batches.json"


def known_batches(settings: Settings) -> list[dict[str, Any]]:
    try:
        return json.loads(batches_file(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def cli(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", "--data-dir", str(settings.data_dir.resolve()), *args]


def start_batch(settings: Settings, folder: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "app-launch.log").open("ab") as log:
        process = subprocess.Popen(
            cli(settings, "batch", str(folder), "--out", str(out)),
            cwd=REPO_ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    record = {
        "folder": str(folder),
        "out": str(out),
        "pid": process.pid,
        "started": datetime.now(UTC).isoformat(),
    }
    path = batches_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([record, *known_batches(settings)], indent=1), encoding="utf-8")


@st.cache_data(ttl=2, show_spinner=False)
def batch_status(data_dir: str, out: str) -> dict[str, Any]:
    settings = Settings(data_dir=Path(data_dir))
    try:
        done = subprocess.run(
            cli(settings, "batch", "status", out, "--json"),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return {"error": "the status command did not answer within 30 s"}
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no status yet"]}
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"error": "the status command printed something that is not JSON"}


def show_batch(settings: Settings, record: dict[str, Any]) -> None:
    status = batch_status(str(settings.data_dir.resolve()), record["out"])
    with st.expander(f"{Path(record['folder']).name} → {record['out']}", expanded=True):
        if "error" in status:
            st.warning(f"No status yet: {status['error']}")
        done, total = status.get("done"), status.get("total")
        if isinstance(done, int) and isinstance(total, int) and total:
            st.progress(done / total, text=f"{done} of {total} documents · {status.get('state', '')}")
        st.json(status, expanded=False)
        report_files(Path(record["out"]))


def report_files(out: Path) -> None:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.stat().st_size <= MAX_REPORT_BYTES)[:30]
    for path in files:
        if path.suffix == ".md" and path.stem.lower().startswith("report"):
            st.markdown(path.read_text(encoding="utf-8", errors="replace"))
    for path in files:
        st.download_button(
            str(path.relative_to(out)),
            path.read_bytes(),
            path.name,
            key=f"dl-{path}",
            icon=":material/download:",
        )


def view() -> None:
    settings = state.base_service().settings
    st.header("Batch")
    if not has_batch():
        disabled_panel(
            "Batch jobs",
            "the `quire batch` command",
            "It will run a whole folder (ingest, summaries, clause tables) in its own process, "
            "overnight if need be, and keep going when this tab or the app is closed.",
        )
        st.text_input("Folder on this machine", disabled=True, key="batch_folder")
        st.button("Start batch", disabled=True, key="batch_start")
        return
    folder = st.text_input("Folder on this machine", key="batch_folder", placeholder="/path/to/contracts")
    if st.button("Start batch", type="primary", key="batch_start"):
        path = Path(folder).expanduser()
        if not folder or not path.is_dir():
            st.error(
                f"{folder or 'nothing'} is not a folder on this machine: type the full path of a folder."
            )
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            start_batch(settings, path, settings.data_dir / "batches" / f"{path.name}-{stamp}")
            st.rerun()

    @st.fragment(run_every=3.0)
    def jobs() -> None:
        for record in known_batches(settings)[:10]:
            show_batch(settings, record)

    jobs()
