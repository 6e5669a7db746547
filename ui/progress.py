"""Job progress on the page: a fragment that polls the journal while something runs.

Only the fragment reruns each second, not the page, so typing a question is never interrupted;
when a job finishes the whole page reruns once so that lists and results show what it made.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.jobs import Job, JobJournal

POLL_SECONDS = 1.0
STATE_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/progress_activity:",
    "done": ":green[:material/check_circle:]",
    "failed": ":red[:material/error:]",
    "interrupted": ":orange[:material/warning:]",
}


def job_line(job: Job) -> str:
    return f"{STATE_ICONS.get(job.state, '')} **{job.title}** · {job.state} · {job.message}"


def watch_jobs(
    journal: JobJournal,
    kind: str,
    key: str,
    render: Callable[[list[Job]], None],
    limit: int = 8,
) -> None:
    """Render the latest `kind` jobs with `render`, refreshing while any of them is active."""
    jobs = journal.jobs(kind, limit)
    active = {j.job_id for j in jobs if j.active}
    seen_key = f"_active_{key}"
    st.session_state[seen_key] = active

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel() -> None:
        current = journal.jobs(kind, limit)
        now_active = {j.job_id for j in current if j.active}
        if st.session_state.get(seen_key, set()) - now_active:
            st.session_state[seen_key] = now_active
            st.rerun()  # something finished: refresh the whole page once
        st.session_state[seen_key] = now_active
        render(current)

    panel()


def show_progress(job: Job) -> None:
    st.progress(job.progress, text=f"{job.title}: {job.message}")
