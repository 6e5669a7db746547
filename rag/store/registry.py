"""The document registry: a small SQLite file holding each document's text, page map and chunks.

Vectors live in Chroma; everything needed to cite (text, offsets, pages) lives here, so a
quote can always be checked against the exact stored text. A document becomes visible only
when its row says `ready`, which is written last, in one transaction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rag.types import Chunk, DocumentInfo, PageSpan, ParsedDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,            -- 'writing' while vectors are added, 'ready' once complete
    pages TEXT NOT NULL,             -- JSON list of PageSpan
    text TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    section TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (doc_id, idx)
);
CREATE TABLE IF NOT EXISTS meta (   -- facts about the whole store (the embedding that made its vectors)
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_name ON documents(name);
-- covers `version()`, so it never reads the rows' text (a full scan of them took ~40 ms at 100k chunks)
CREATE INDEX IF NOT EXISTS documents_version ON documents(status, doc_id, chunk_count);
"""


class Registry:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()  # per thread: a connection, its write count, the version it saw
        with self._tx() as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            with db:
                yield db
        finally:
            self._local.writes = getattr(self._local, "writes", 0) + 1  # its own data_version misses these

    # --- writing ----------------------------------------------------------------------------
    def begin(self, doc: ParsedDocument, chunks: list[Chunk]) -> None:
        """Record a document as 'writing' with its chunks; invisible to readers until `commit`."""
        pages = json.dumps([asdict(p) for p in doc.pages])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._tx() as db:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.doc_id,))
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, 'writing', ?, ?, ?, ?)",
                (doc.doc_id, doc.name, doc.path, doc.kind, pages, doc.text, len(chunks), now),
            )
            db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.doc_id, c.index, c.start, c.end, c.page_start, c.page_end, c.section) for c in chunks],
            )

    def commit(self, doc_id: str, replaces: list[str]) -> None:
        """Make a document visible and hide the versions it replaces, in one step.

        The replaced rows stay, marked 'removing', until their vectors are gone: a crash in
        between leaves them for the next sweep instead of leaving vectors nobody owns."""
        with self._tx() as db:
            db.execute("UPDATE documents SET status = 'ready' WHERE doc_id = ?", (doc_id,))
            for old in replaces:
                db.execute("UPDATE documents SET status = 'removing' WHERE doc_id = ?", (old,))

    def hide(self, doc_id: str) -> None:
        """Mark a document 'removing': invisible at once, its rows deleted after its vectors."""
        with self._tx() as db:
            db.execute("UPDATE documents SET status = 'removing' WHERE doc_id = ?", (doc_id,))

    def delete(self, doc_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    # --- reading ----------------------------------------------------------------------------
    def status(self, doc_id: str) -> str | None:
        row = self._db().execute("SELECT status FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row["status"] if row else None

    def unfinished(self) -> list[str]:
        rows = self._db().execute("SELECT doc_id FROM documents WHERE status != 'ready'").fetchall()
        return [r["doc_id"] for r in rows]

    def ready_named(self, name: str) -> list[tuple[str, str]]:
        """(doc id, source path) of the ready documents called `name`."""
        rows = (
            self._db()
            .execute("SELECT doc_id, path FROM documents WHERE name = ? AND status = 'ready'", (name,))
            .fetchall()
        )
        return [(r["doc_id"], r["path"]) for r in rows]

    def ready_names(self) -> dict[str, str]:
        """doc id -> file name of every ready document, in name order: what the document router
        needs, without each document's page list (parsing 16,000 of those took most of a second)."""
        rows = self._db().execute("SELECT doc_id, name FROM documents WHERE status = 'ready' ORDER BY name").fetchall()
        return {r[0]: r[1] for r in rows}

    def documents(self) -> list[DocumentInfo]:
        rows = (
            self._db()
            .execute(
                "SELECT doc_id, name, path, kind, pages, chunk_count, ingested_at FROM documents "
                "WHERE status = 'ready' ORDER BY name"
            )
            .fetchall()
        )
        return [self._info(r) for r in rows]

    def info(self, doc_id: str) -> DocumentInfo | None:
        row = (
            self._db()
            .execute(
                "SELECT doc_id, name, path, kind, pages, chunk_count, ingested_at FROM documents "
                "WHERE doc_id = ? AND status = 'ready'",
                (doc_id,),
            )
            .fetchone()
        )
        return self._info(row) if row else None

    @staticmethod
    def _info(row: sqlite3.Row) -> DocumentInfo:
        pages = json.loads(row["pages"])
        return DocumentInfo(
            doc_id=row["doc_id"],
            name=row["name"],
            pages=len(pages),
            chunks=row["chunk_count"],
            ingested_at=row["ingested_at"],
            path=row["path"],
            kind=row["kind"],
            page_quality=tuple(p["quality"] for p in pages),
        )

    def text(self, doc_id: str) -> str:
        row = self._db().execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row["text"] if row else ""

    def pages(self, doc_id: str) -> tuple[PageSpan, ...]:
        row = self._db().execute("SELECT pages FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return tuple(PageSpan(**p) for p in json.loads(row["pages"])) if row else ()

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """Chunks of ready documents (all, or one), with their text cut from the stored document."""
        return [c for chunks in self.chunks_by_document(doc_id) for c in chunks]

    def chunks_by_document(self, doc_id: str | None = None) -> Iterator[list[Chunk]]:
        """The chunks of each ready document in turn (doc_id order), with only that document's text
        in memory: what a pass over a million chunks needs."""
        query = (
            "SELECT * FROM chunks WHERE doc_id IN (SELECT doc_id FROM documents WHERE status = 'ready')"
            + (" AND doc_id = ?" if doc_id else "")
            + " ORDER BY doc_id, idx"
        )
        rows = self._db().execute(query, (doc_id,) if doc_id else ())
        for owner, group in itertools.groupby(rows, key=lambda r: r["doc_id"]):
            text = self.text(owner)
            yield [self._chunk(r, text) for r in group]

    @staticmethod
    def _chunk(row: sqlite3.Row, text: str) -> Chunk:
        """A chunk row with its text cut from its document's `text`."""
        return Chunk(
            doc_id=row["doc_id"],
            index=row["idx"],
            text=text[row["start"] : row["end"]],
            start=row["start"],
            end=row["end"],
            page_start=row["page_start"],
            page_end=row["page_end"],
            section=row["section"],
        )

    def chunk_spans(self, doc_id: str) -> dict[int, tuple[int, int]]:
        """Chunk index -> (start, end) of one document: what retrieval needs to turn a hit into a
        passage, without cutting every chunk's text as `chunks` does."""
        rows = self._db().execute("SELECT idx, start, end FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def version(self) -> str:
        """A digest of which documents are ready, with their chunk counts: what derived indexes
        (the keyword index, the document router) compare against to know they are stale.

        Asked twice per query, so it is computed again only when the database changed: SQLite's
        `data_version` moves when another connection (another thread or process) committed, the
        thread's write count when its own connection did. Recomputing took ~3 ms at 1,600 documents."""
        db = self._db()
        changes = (db.execute("PRAGMA data_version").fetchone()[0], getattr(self._local, "writes", 0))
        known = getattr(self._local, "version", None)
        if known is not None and known[0] == changes:
            return known[1]
        totals = self.ready_chunk_totals()
        digest = hashlib.sha256("".join(f"{d}:{n};" for d, n in totals.items()).encode()).hexdigest()
        self._local.version = (changes, digest)
        return digest

    def ready_chunk_totals(self) -> dict[str, int]:
        """Chunks per ready document as the documents table records them (what `version` digests),
        in doc_id order."""
        rows = (
            self._db()
            .execute("SELECT doc_id, chunk_count FROM documents WHERE status = 'ready' ORDER BY doc_id")
            .fetchall()
        )
        return {r[0]: r[1] for r in rows}

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per ready document, counted from the chunk rows (not the cached total)."""
        rows = (
            self._db()
            .execute(
                "SELECT d.doc_id, COUNT(c.idx) AS n FROM documents d LEFT JOIN chunks c USING (doc_id) "
                "WHERE d.status = 'ready' GROUP BY d.doc_id"
            )
            .fetchall()
        )
        return {r["doc_id"]: r["n"] for r in rows}

    def counts(self) -> dict[str, int]:
        db = self._db()
        return {
            "documents": db.execute("SELECT COUNT(*) FROM documents WHERE status='ready'").fetchone()[0],
            "chunks": db.execute(
                "SELECT COUNT(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.status='ready'"
            ).fetchone()[0],
        }

    def meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def chunk(self, doc_id: str, index: int) -> Chunk | None:
        row = self._db().execute("SELECT * FROM chunks WHERE doc_id = ? AND idx = ?", (doc_id, index)).fetchone()
        if row is None or self.status(doc_id) != "ready":
            return None
        return self._chunk(row, self.text(doc_id))
