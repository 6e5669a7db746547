"""Faults: two writers at once (a process-level lock), hostile file names at the service level, a full
disk and a read-only data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.names import MAX_NAME_CHARS, display_name
from rag.errors import StoreBusy
from rag.store.locks import write_lock
from tests.conftest import CONTRACT_TEXT, REPO_ROOT, run_cli

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rag.store.locks import write_lock
    with write_lock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(state_dir: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state_dir), str(seconds)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_times_out_with_the_holders_pid(tmp_path: Path) -> None:
    proc = _hold_lock(tmp_path, 5)
    try:
        messages: list[str] = []
        with pytest.raises(StoreBusy, match=rf"pid {proc.pid}.*try again"):
            with write_lock(tmp_path, timeout_s=0.3, on_wait=messages.append):
                pass
        assert messages and "waiting" in messages[0]
    finally:
        proc.kill()
        proc.wait()


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    proc = _hold_lock(tmp_path, 60)
    proc.kill()  # SIGKILL: the kernel drops the flock, no stale lock is left behind
    proc.wait()
    with write_lock(tmp_path, timeout_s=1):
        pass


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32.pdf", "system32.pdf"),
        ("bad\x1b[2Jname\x07.pdf", "bad[2Jname.pdf"),
        ("\u202eevil\u200b.pdf", "evil.pdf"),
        ("/", "unnamed"),
    ],
)
def test_display_name_strips_path_parts_and_control_characters(raw: str, expected: str) -> None:
    assert display_name(raw) == expected


def test_display_name_caps_length_and_keeps_the_extension() -> None:
    name = display_name("a" * 4000 + ".pdf")
    assert len(name) <= MAX_NAME_CHARS and name.endswith("….pdf")


@pytest.mark.slow
def test_two_processes_ingesting_at_once_leave_a_consistent_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folders = []
    for n in range(2):
        folder = tmp_path / f"in{n}"
        folder.mkdir()
        for k in range(3):
            (folder / f"c{n}{k}.txt").write_text(
                CONTRACT_TEXT + f"\nSchedule {n}-{k}: unique party number {n * 10 + k}.\n"
            )
        folders.append(folder)
    env = {"PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rag", "--data-dir", str(data), "ingest", str(f)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    listing = run_cli("docs", "--json", data_dir=data)
    assert listing.returncode == 0, listing.stderr
    from rag.settings import Settings
    from rag.store.store import Store

    store = Store(Settings(data_dir=data))
    counts = store.registry.counts()
    assert counts["documents"] == 6
    assert counts["chunks"] == store.vector_count()


@pytest.mark.slow
def test_hostile_names_are_stored_by_hash_and_shown_sanitised(tmp_path: Path, settings) -> None:
    from rag.service import Quire

    inbox = tmp_path / "inbox"
    (inbox / "etc").mkdir(parents=True)
    odd = [
        inbox / "etc" / "passwd.pdf.txt",
        inbox / ("n" * 250 + ".txt"),  # near the 255-byte limit of one path component
        inbox / "\u0430cme\u2024contract.txt",  # Cyrillic a, one-dot leader
        inbox / "tab\there\x01.txt",
    ]
    for k, path in enumerate(odd):
        path.write_text(CONTRACT_TEXT + f"\nVariant {k}.\n")
    report = Quire(settings).ingest([inbox / "etc" / ".." / "etc" / "passwd.pdf.txt", *odd[1:]])
    names = [r.name for r in report.documents]
    assert all(r.status == "ingested" and len(r.doc_id) == 64 for r in report.documents), report.documents
    assert all("/" not in n and len(n) <= MAX_NAME_CHARS and n.isprintable() for n in names), names
    assert not [p for p in settings.data_dir.rglob("*.txt")], "no file is written under its uploaded name"


def _require_mount_namespace(why: str) -> None:
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip(f"mount namespaces unavailable (needs root or user namespaces); {why}")


@pytest.mark.slow
def test_disk_full_gives_a_clear_error_and_keeps_earlier_documents(tmp_path: Path) -> None:
    _require_mount_namespace("cannot mount a small tmpfs")
    for name, copies in (("small", 1), ("big", 400)):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text((CONTRACT_TEXT + "\n") * copies)
    data = tmp_path / "data"
    data.mkdir()
    cli = f"{sys.executable} -m rag --data-dir {data}"
    script = (
        f"mount -t tmpfs -o size=2m tmpfs {data} && {cli} ingest {tmp_path / 'small'} && "
        f"{{ {cli} ingest {tmp_path / 'big'}; echo big_rc=$?; }} && "
        f"mount -o remount,size=64m {data} && {cli} docs --json && {cli} ingest {tmp_path / 'big'} && {cli} docs --json"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "disk holding Quire's data is full" in out and "Traceback" not in out
    listings = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(listings) == 2 and "small.txt" in listings[0] and "big.txt" not in listings[0]
    assert "big.txt" in listings[1]


@pytest.mark.slow
def test_read_only_data_folder_gives_a_clear_error_and_leaves_the_store_intact(tmp_path: Path) -> None:
    # tests run as root, which chmod does not stop: a read-only bind mount does, in a private mount namespace
    _require_mount_namespace("cannot bind-mount the data folder read-only")
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(CONTRACT_TEXT + f"\nSchedule: the {name} copy.\n")
    data = tmp_path / "data"
    assert run_cli("ingest", str(tmp_path / "first"), data_dir=data).returncode == 0
    cli = f"{sys.executable} -m rag --data-dir {data}"
    read_only = "mount --bind {0} {0} && mount -o remount,bind,ro {0}"
    script = (
        f"{read_only.format(data / 'chroma')} && {{ {cli} ingest {tmp_path / 'second'}; echo chroma_rc=$?; }} && "
        f"{read_only.format(data)} && {{ {cli} ingest {tmp_path / 'second'}; echo data_rc=$?; }} && "
        f"{{ {cli} ask 'How long is the term?'; echo ask_rc=$?; }}"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "chroma_rc=1" in out and "data_rc=1" in out and "ask_rc=1" in out, out
    said = " ".join(done.stderr.split())
    assert said.count("cannot be written (Read-only file system)") == 3 and "Traceback" not in out, out
    assert f"{data / 'chroma'} cannot be written" in said and "Remount it read-write" in said

    # writable again: the store holds what it held, is consistent, and answers from it
    listing = run_cli("docs", "--json", data_dir=data)
    assert [d["name"] for d in json.loads(listing.stdout)] == ["first.txt"]
    check = run_cli("doctor", "--check", data_dir=data)
    assert check.returncode == 0, check.stdout + check.stderr
    answer = run_cli("ask", "--json", "How long is the term?", data_dir=data)
    assert answer.returncode == 0, answer.stderr
    reply = json.loads(answer.stdout)
    assert reply["answer"].strip() and reply["context_tokens"] > 0  # answered from the stored contract
