"""Secrets the tests used, and the check that none of them reached a log.

Tests (and the session hooks in ``tests/conftest.py``) call ``remember`` with
every token they send: JWTs, FHIR access tokens, admin tokens. At the end of
the run every log the run produced is searched for each of them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path

_lock = threading.Lock()
_secrets: set[str] = set()
# Short values ("t0k") could occur in a log by chance; only longer ones are searched for.
MIN_SECRET_CHARS = 8
# Anything shaped like a compact JWS/JWT, whoever made it.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")


def remember(secret: str) -> str:
    """Note ``secret`` as used by a test; returns it unchanged."""
    # Low-entropy values ("00000000" from a generator) would match unrelated text.
    if isinstance(secret, str) and len(secret) >= MIN_SECRET_CHARS and len(set(secret)) >= 4:
        with _lock:
            _secrets.add(secret)
    return secret


def remembered() -> set[str]:
    """Every secret noted so far."""
    with _lock:
        return set(_secrets)


def find_leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[str]) -> list[str]:
    """Where each secret, or anything shaped like a JWT, occurs in ``(name, text)`` pairs."""
    secrets = sorted(set(secrets), key=len, reverse=True)
    found = []
    for name, text in texts:
        for secret in secrets:
            if secret in text:
                found.append(f"{name}: a token used by the tests ({secret[:6]}...)")
        for match in JWT_SHAPE.finditer(text):
            found.append(f"{name}: a JWT-shaped string ({match.group()[:12]}...)")
    return found


def read_logs(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """``(path, text)`` of every readable log file."""
    out = []
    for path in paths:
        try:
            out.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out
