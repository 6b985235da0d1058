"""Admin tokens: who may use the admin API, and with which role.

The file named by ``CDS_ADMIN_TOKENS_FILE`` is a YAML list of
``{name, role, sha256}``: a name for the audit log, a role (viewer < author <
publisher), and the hex SHA-256 of the token. The file never holds a token.
A presented token is hashed and compared with every entry in constant time,
so neither the comparison nor the number of entries leaks which bytes matched.
The file is re-read when it changes, so tokens can be rotated without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

log = logging.getLogger(__name__)

ROLES = ("viewer", "author", "publisher")
Role = Literal["viewer", "author", "publisher"]


class TokenFileError(ValueError):
    """The tokens file is missing or malformed (messages never include token material)."""


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class AdminIdentity:
    """An authenticated admin: the entry's name and role."""

    name: str
    role: str

    def has_role(self, needed: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as written in the tokens file."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token_file(text: str) -> tuple[TokenEntry, ...]:
    """Entries of a tokens file: a YAML list, or a mapping with a ``tokens`` list."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise TokenFileError(f"the admin tokens file is not valid YAML{where}") from None
    if isinstance(data, dict) and set(data) == {"tokens"}:
        data = data["tokens"]
    if data is None:
        return ()
    try:
        entries = TypeAdapter(list[TokenEntry]).validate_python(data)
    except ValidationError as exc:
        # Report where, never the value: a misplaced raw token must not reach a log.
        places = sorted({".".join(str(p) for p in err["loc"]) or "file" for err in exc.errors()})
        raise TokenFileError("the admin tokens file must be a list of {name, role, sha256} entries with a "
                             f"64-hex-digit sha256; problems at: {', '.join(places)}") from None
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise TokenFileError("names in the admin tokens file must be unique")
    hashes = [e.sha256.lower() for e in entries]
    if len(set(hashes)) != len(hashes):
        raise TokenFileError("two entries in the admin tokens file have the same sha256")
    return tuple(TokenEntry(name=e.name, role=e.role, sha256=e.sha256.lower()) for e in entries)


class AdminTokens:
    """The tokens file, loaded and re-read when its modification time or size changes."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._entries: tuple[TokenEntry, ...] = ()
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self._load()  # fail at start-up, not at the first request

    @property
    def configured(self) -> bool:
        return self.path is not None

    def _load(self) -> None:
        assert self.path is not None
        try:
            stat = self.path.stat()
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenFileError(f"cannot read the admin tokens file: {exc.strerror}") from None
        self._entries = parse_token_file(text)
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def entries(self) -> tuple[TokenEntry, ...]:
        """Current entries; a file that became unreadable or invalid keeps the last good ones."""
        if self.path is None:
            return ()
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return self._entries
        if stamp != self._stamp:
            with self._lock:
                try:
                    self._load()
                    log.info("admin tokens reloaded (%d entries)", len(self._entries))
                except TokenFileError as exc:
                    log.error("admin tokens file not reloaded: %s", exc)
                    self._stamp = stamp
        return self._entries

    def authenticate(self, token: str | None) -> AdminIdentity | None:
        """The identity a token belongs to, or None."""
        if not token:
            return None
        presented = hash_token(token).encode("ascii")
        found: TokenEntry | None = None
        for entry in self.entries():
            # Compare with every entry (no early exit) in constant time.
            if hmac.compare_digest(presented, entry.sha256.encode("ascii")) and found is None:
                found = entry
        return AdminIdentity(found.name, found.role) if found else None
