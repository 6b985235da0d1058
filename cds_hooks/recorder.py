"""Recording issued cards so that feedback can be tied to the exact rules.

A hook call hands its cards' rows to ``IssuedCardRecorder.record`` and answers
at once; a background thread writes them in batches. This keeps a database
commit (milliseconds on SQLite, a network round trip on PostgreSQL) off the
hook-call path. Rows are lost only if the process dies within a flush
interval; feedback for such a card is still stored, flagged as unknown.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

from .storage.db import Database
from .storage.models import IssuedCard

log = logging.getLogger(__name__)

_BATCH = 500


class IssuedCardRecorder:
    """Batches ``IssuedCard`` rows and writes them from one background thread per process."""

    def __init__(self, database: Database, *, flush_seconds: float = 0.2, max_pending: int = 20000,
                 on_dropped: Callable[[int], None] | None = None) -> None:
        self._database = database
        self._flush_seconds = flush_seconds
        self._queue: queue.Queue[list[dict] | None] = queue.Queue(maxsize=max_pending)
        self._on_dropped = on_dropped or (lambda n: None)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def record(self, rows: list[dict]) -> None:
        """Queue rows for writing; never blocks the caller."""
        if not rows:
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            log.error("issued-card queue full; cards not recorded", extra={"cards": len(rows)})
            self._on_dropped(len(rows))

    def pending(self) -> bool:
        """True while rows are queued or being written."""
        return self._queue.unfinished_tasks > 0

    def flush(self) -> None:
        """Wait until every queued row is written (tests, feedback, shutdown)."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.join()

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_thread(self) -> None:
        # Started lazily, and again in a forked child (threads don't survive fork).
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="issued-cards", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batches = [first]
            rows = list(first)
            stop = False
            # Gather what else arrives within the flush interval into one transaction.
            while len(rows) < _BATCH:
                try:
                    more = self._queue.get(timeout=self._flush_seconds)
                except queue.Empty:
                    break
                batches.append(more)
                if more is None:
                    stop = True
                    break
                rows.extend(more)
            try:
                self._write(rows)
            except Exception:
                log.exception("writing issued cards failed", extra={"cards": len(rows)})
                self._on_dropped(len(rows))
            finally:
                for _ in batches:
                    self._queue.task_done()
            if stop:
                return

    def _write(self, rows: list[dict]) -> None:
        self._database.insert_ignoring_duplicates(IssuedCard, rows)
