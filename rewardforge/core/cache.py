"""A verdict cache: the same (reward, params, sample) is never judged twice.

In memory by default (bounded LRU); give a path to also keep verdicts on disk in SQLite, so a
re-run of an evaluation or a resumed training run reuses them. Only `ok` and `skipped` verdicts
are cached: errors (a judge outage, a timeout) are worth retrying.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from rewardforge.core.types import Score


class VerdictCache:
    """Thread-safe cache from (reward key, sample key) to Score."""

    def __init__(self, path: str | Path | None = None, *, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._memory: OrderedDict[bytes, Score] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key BLOB PRIMARY KEY, score BLOB NOT NULL)")

    @staticmethod
    def key(reward_key: str, sample_key: bytes) -> bytes:
        return hashlib.blake2b(reward_key.encode() + b"\0" + sample_key, digest_size=20).digest()

    def get(self, key: bytes) -> Score | None:
        with self._lock:
            score = self._memory.get(key)
            if score is not None:
                self._memory.move_to_end(key)
            elif self._db is not None:
                row = self._db.execute("SELECT score FROM verdicts WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    score = Score.model_validate_json(row[0])
                    self._remember(key, score)
            if score is None:
                self.misses += 1
                return None
            self.hits += 1
            return score.model_copy(deep=True)

    def put(self, key: bytes, score: Score) -> None:
        if score.status == "error":
            return
        with self._lock:
            self._remember(key, score)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO verdicts (key, score) VALUES (?, ?)",
                    (key, score.model_dump_json().encode()),
                )

    def _remember(self, key: bytes, score: Score) -> None:
        self._memory[key] = score
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    def __len__(self) -> int:
        return len(self._memory)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_shared: dict[str | None, VerdictCache] = {}
_shared_lock = threading.Lock()


def shared_cache(path: str | Path | None = None) -> VerdictCache:
    """The process-wide cache: one in memory (`path=None`), plus one per SQLite file, opened once."""
    key = None if path is None else str(Path(path).resolve())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = VerdictCache(key)
        return _shared[key]


def reset_shared_caches() -> None:
    """Forget every process-wide cache (on-disk verdicts stay on disk), as a fresh process would."""
    with _shared_lock:
        caches = list(_shared.values())
        _shared.clear()
    for cache in caches:
        cache.close()
