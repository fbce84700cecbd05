"""The state database (`STATE_DIR/state.db`, SQLite in WAL mode): the model's identity, the
checkpoint, the alarms with their feedback, and the sinks' outbox.

What makes a restart after `kill -9` exact:
- an alarm has a deterministic key (`STREAM:SEQUENCE_ID`, or `template:KEY` for a new template)
  that is UNIQUE in the table: replaying the journal from the checkpoint recomputes the same alarms,
  and those already stored are recognised and neither stored nor sent again;
- an alarm, its sources and its outbox entries (one per sink) are written in one transaction, so a
  stored alarm is always queued for every sink, exactly once;
- the checkpoint (windower state, the record it covers up to, stream number, followed files,
  new-template keys seen, counters) is one row replaced in one transaction, after the alarms it
  produced were committed.
`synchronous=FULL`: a committed transaction survives a power cut too, so a sink never announces
an alarm the database could lose.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from pathlib import Path

from logad.errors import InputError
from logad.io import json_default

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), rseq INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    state BLOB NOT NULL, saved_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    stream INTEGER NOT NULL, sequence_id TEXT, score REAL, threshold REAL, detector TEXT,
    start_time REAL, end_time REAL, source TEXT, first_offset INTEGER, last_offset INTEGER,
    n_lines INTEGER, body TEXT NOT NULL, closed_at REAL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_time ON alarms (end_time);
CREATE TABLE IF NOT EXISTS alarm_sources (alarm_id INTEGER NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (source, alarm_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feedback (alarm_id INTEGER PRIMARY KEY, verdict TEXT NOT NULL, note TEXT,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id INTEGER NOT NULL, sink TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,
    last_error TEXT, done_at REAL, UNIQUE (alarm_id, sink));
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
"""
VERDICTS = {"true_positive": "true_positive", "tp": "true_positive", "true": "true_positive",
            "false_positive": "false_positive", "fp": "false_positive", "false": "false_positive"}
MAX_PAGE = 1000


class IdentityError(InputError):
    """The state folder belongs to another model."""


class Store:
    """One SQLite database; a connection per thread (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.db.executescript(_SCHEMA)

    # ------------------------------------------------------------------ connections
    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=OFF")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def _tx(self):
        return _Transaction(self.db)

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.Error:  # pragma: no cover
                    pass
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ identity
    def claim(self, identity: dict) -> bool:
        """Record which model this state belongs to, or check it is the same one; True when the
        state is new. IdentityError for a state made by another model."""
        rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            with self._tx() as db:
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                               [("schema", str(SCHEMA_VERSION)), ("identity", json.dumps(identity)),
                                ("created_at", repr(time.time()))])
            return True
        if rows.get("schema") != str(SCHEMA_VERSION):
            raise InputError(f"{self.path} has state schema {rows.get('schema')!r}; this logad reads {SCHEMA_VERSION}")
        theirs = json.loads(rows.get("identity", "{}"))
        if theirs.get("digest") != identity.get("digest"):
            raise IdentityError(
                f"state folder {str(self.path.parent)!r} was made by another model ({theirs.get('detector')} "
                f"from {theirs.get('path')!r}, digest {str(theirs.get('digest'))[:12]}); this model "
                f"({identity.get('path')!r}) has digest {str(identity.get('digest'))[:12]}: give another --state-dir")
        return False

    def identity(self) -> dict:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        return json.loads(row[0]) if row else {}

    # ------------------------------------------------------------------ checkpoint
    def load_checkpoint(self) -> tuple[int, int, dict] | None:
        row = self.db.execute("SELECT rseq, next_offset, state FROM checkpoint WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            state = json.loads(zlib.decompress(row[2]).decode("utf-8"))
        except (zlib.error, ValueError) as exc:
            raise InputError(f"{self.path}: the checkpoint is corrupt ({exc})") from exc
        return int(row[0]), int(row[1]), state

    # ------------------------------------------------------------------ writing alarms (+ checkpoint)
    def commit(self, alarms: list[dict], sinks: list[str], checkpoint: tuple[int, int, dict] | None = None) -> list[int | None]:
        """Store alarms (those whose key is stored already are skipped: None in the answer), queue
        each new one for every sink, and replace the checkpoint, all in one transaction."""
        ids: list[int | None] = []
        now = time.time()
        state_b = None
        if checkpoint is not None:
            state_b = zlib.compress(json.dumps(checkpoint[2], separators=(",", ":")).encode("utf-8"), 1)
        with self._tx() as db:
            for a in alarms:
                body = {k: v for k, v in a.items() if k not in _COLUMNS}
                cur = db.execute(
                    "INSERT OR IGNORE INTO alarms (key, kind, stream, sequence_id, score, threshold, detector, "
                    "start_time, end_time, source, first_offset, last_offset, n_lines, body, closed_at, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (a["key"], a["kind"], a["stream"], a.get("sequence_id"), a.get("score"), a.get("threshold"),
                     a.get("detector"), a.get("start_time"), a.get("end_time"), a.get("source"),
                     a.get("first_offset"), a.get("last_offset"), a.get("n_lines"),
                     json.dumps(body, separators=(",", ":"), allow_nan=False, default=json_default),
                     a.get("closed_at"), a.get("created_at", now)))
                if cur.rowcount != 1:
                    ids.append(None)
                    continue
                aid = int(cur.lastrowid)
                ids.append(aid)
                db.executemany("INSERT OR IGNORE INTO alarm_sources (alarm_id, source) VALUES (?, ?)",
                               [(aid, s) for s in a.get("sources") or [a.get("source") or ""]])
                db.executemany("INSERT OR IGNORE INTO outbox (alarm_id, sink, next_at) VALUES (?, ?, ?)",
                               [(aid, s, now) for s in sinks])
            if checkpoint is not None:
                db.execute("INSERT OR REPLACE INTO checkpoint (id, rseq, next_offset, state, saved_at) "
                           "VALUES (1, ?, ?, ?, ?)", (checkpoint[0], checkpoint[1], state_b, now))
        return ids

    # ------------------------------------------------------------------ reading alarms
    def alarms(self, *, since: float | None = None, source: str | None = None, min_score: float | None = None,
               kind: str | None = None, after: int = 0, limit: int = 100) -> tuple[list[dict], int | None]:
        """A page of alarms in id order after `after`, and the cursor of the next page (or None)."""
        where, args = ["a.id > ?"], [after]
        if since is not None:
            where.append("COALESCE(a.end_time, a.created_at) >= ?")
            args.append(since)
        if min_score is not None:
            where.append("a.score >= ?")
            args.append(min_score)
        if kind is not None:
            where.append("a.kind = ?")
            args.append(kind)
        join = ""
        if source is not None:
            join = "JOIN alarm_sources s ON s.alarm_id = a.id AND s.source = ?"
            args.insert(0, source)
        limit = max(1, min(int(limit), MAX_PAGE))
        rows = self.db.execute(
            f"SELECT a.*, f.verdict, f.note, f.at FROM alarms a {join} LEFT JOIN feedback f ON f.alarm_id = a.id "
            f"WHERE {' AND '.join(where)} ORDER BY a.id LIMIT ?", (*args, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        names = self._names()
        out = [_row(dict(zip(names, r))) for r in rows]
        return out, (out[-1]["id"] if more and out else None)

    def alarm(self, alarm_id: int) -> dict | None:
        row = self.db.execute("SELECT a.*, f.verdict, f.note, f.at FROM alarms a LEFT JOIN feedback f "
                              "ON f.alarm_id = a.id WHERE a.id = ?", (alarm_id,)).fetchone()
        return _row(dict(zip(self._names(), row))) if row else None

    def latest(self, limit: int = 50) -> list[dict]:
        """The newest alarms, newest first (the dashboard's feed when it opens)."""
        rows = self.db.execute("SELECT a.*, f.verdict, f.note, f.at FROM alarms a LEFT JOIN feedback f "
                               "ON f.alarm_id = a.id ORDER BY a.id DESC LIMIT ?", (max(1, int(limit)),)).fetchall()
        names = self._names()
        return [_row(dict(zip(names, r))) for r in rows]

    def alarm_times(self, limit: int = 5000) -> list[tuple]:
        """(id, kind, start_time, end_time, score, sequence_id) of the newest alarms, newest first."""
        return self.db.execute("SELECT id, kind, start_time, end_time, score, sequence_id FROM alarms "
                               "ORDER BY id DESC LIMIT ?", (max(1, int(limit)),)).fetchall()

    def _names(self) -> list[str]:
        names = getattr(self, "_cols", None)
        if names is None:
            cur = self.db.execute("SELECT a.*, f.verdict, f.note, f.at FROM alarms a LEFT JOIN feedback f "
                                  "ON f.alarm_id = a.id LIMIT 0")
            names = self._cols = [d[0] for d in cur.description]
        return names

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self.db.execute("SELECT COUNT(*) FROM alarms").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM alarms WHERE kind = ?", (kind,)).fetchone()[0])

    def feedback(self, alarm_id: int, verdict: str, note: str | None = None) -> dict | None:
        """Record a true/false positive verdict (the latest one counts); None for an unknown alarm."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM alarms WHERE id = ?", (alarm_id,)).fetchone() is None:
                return None
            db.execute("INSERT OR REPLACE INTO feedback (alarm_id, verdict, note, at) VALUES (?, ?, ?, ?)",
                       (alarm_id, verdict, note, time.time()))
        return self.alarm(alarm_id)

    def feedback_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT verdict, COUNT(*) FROM feedback GROUP BY verdict").fetchall())

    # ------------------------------------------------------------------ outbox (sinks)
    def due(self, now: float, limit: int = 50) -> list[tuple[int, int, str, int]]:
        """(outbox id, alarm id, sink, attempts so far) of deliveries due now."""
        return self.db.execute("SELECT id, alarm_id, sink, attempts FROM outbox WHERE state = 'pending' "
                               "AND next_at <= ? ORDER BY id LIMIT ?", (now, limit)).fetchall()

    def delivered(self, outbox_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, done_at = ?, last_error = NULL "
                       "WHERE id = ?", (time.time(), outbox_id))

    def retry(self, outbox_id: int, next_at: float | None, error: str) -> None:
        """Count a failed attempt; `next_at` None gives up (state 'failed')."""
        with self._tx() as db:
            if next_at is None:
                db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, done_at = ? "
                           "WHERE id = ?", (error[:500], time.time(), outbox_id))
            else:
                db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?",
                           (error[:500], next_at, outbox_id))

    def outbox_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())


_COLUMNS = {"key", "kind", "stream", "sequence_id", "score", "threshold", "detector", "start_time", "end_time",
            "source", "first_offset", "last_offset", "n_lines", "closed_at", "created_at"}


def _row(r: dict) -> dict:
    body = json.loads(r.pop("body"))
    verdict, note, at = r.pop("verdict"), r.pop("note"), r.pop("at")
    out = {**r, **body}
    out["feedback"] = None if verdict is None else {"verdict": verdict, "note": note, "at": at}
    return out


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
