"""Pydantic models of the admin API's answers.

The routes build their bodies through these models, so the OpenAPI document
(generated from pydantic models) describes exactly what is sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        """JSON-ready, without unset optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


State = Literal["draft", "active", "retired"]


class VersionOut(_Out):
    """A published rule-set version."""

    id: str
    version: str
    sha256: str = Field(description="SHA-256 of the version's canonical content")
    state: State
    title: str | None = None
    publishedAt: str
    publishedBy: str


class ActiveOut(_Out):
    version: str
    sha256: str


class RuleSetOut(_Out):
    """A rule set with all its published versions."""

    id: str
    title: str | None = None
    active: ActiveOut | None = None
    versions: list[VersionOut]


class RuleSetListOut(_Out):
    """``GET /admin/api/rulesets``."""

    generation: int = Field(description="serving generation; changes whenever what is served may change")
    rulesets: list[RuleSetOut]


class ChangeOut(VersionOut):
    """The outcome of publish, activate, rollback and retire."""

    changed: bool = Field(description="false when the operation changed nothing (already in that state)")
    previousVersion: str | None = Field(None, description="the version that was active before")


class AuditEntryOut(_Out):
    id: int
    at: str
    actor: str
    role: str | None = None
    action: str
    rulesetId: str | None = None
    oldVersion: str | None = None
    newVersion: str | None = None
    sha256: str | None = None
    remoteAddr: str | None = None
    outcome: Literal["ok", "refused", "forbidden"]
    detail: dict[str, Any] | None = None


class AuditPageOut(_Out):
    """``GET /admin/api/audit``: newest first."""

    entries: list[AuditEntryOut]
    next: int | None = Field(None, description="pass as ?before= for the next (older) page")

    def body(self) -> dict[str, Any]:
        # Every entry lists every field (null when empty), so the log reads as a table.
        return self.model_dump(mode="json", exclude={"next"} if self.next is None else set())


class OverrideReasonCount(_Out):
    system: str | None = None
    code: str | None = None
    display: str | None = None
    count: int


class FeedbackRowOut(_Out):
    rulesetId: str
    version: str
    sha256: str
    cardId: str
    issued: int
    accepted: int
    overridden: int
    overrideReasons: list[OverrideReasonCount]


class FeedbackSummaryOut(_Out):
    """``GET /admin/api/feedback/summary``."""

    summary: list[FeedbackRowOut]
