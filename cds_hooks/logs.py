"""JSON log lines, one object per line, with the request id of the call.

The request id is the ``hookInstance`` of a hook call (the spec's correlation
id) and a random id otherwise. What must never appear in a log line: access
tokens, JWTs, admin tokens and FHIR resource content. Patient ids appear only
as a keyed hash (``patient_ref``), so lines about one patient can be linked
without naming the patient.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("cds_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            # Type and frames only: exception messages and source lines may quote data.
            exc_type, _, tb = record.exc_info
            entry["exception"] = exc_type.__name__ if exc_type else None
            entry["traceback"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (test capture, gunicorn)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send the ``cds_hooks`` loggers' output to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("cds_hooks")
    logger.setLevel(level)
    if not any(getattr(h, "_cds_json", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._cds_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    # urllib3 logs every request URL at DEBUG, and FHIR search URLs name the patient:
    # keep those lines from ever being made, whatever the root level is set to.
    logging.getLogger("urllib3").setLevel(max(logging.WARNING, logging.getLogger("urllib3").level))


class PatientHasher:
    """Keyed hash of patient ids for log lines (HMAC-SHA256, first 16 hex digits)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, patient_id: str | None) -> str | None:
        if not patient_id:
            return None
        return hmac.new(self._key, patient_id.encode(), hashlib.sha256).hexdigest()[:16]
