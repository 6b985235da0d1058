"""Prometheus metrics of one app: requests, latency, cards, feedback, FHIR fallback.

Each app has its own registry (tests build many apps in one process). Under
gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by
``cds-hooks serve`` and ``/metrics`` aggregates every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Hook calls should take milliseconds; the top buckets catch FHIR fallback and deadlines.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metrics, registered in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cds_requests", "CDS Hooks requests by endpoint, service, hook and HTTP status",
            ["endpoint", "service", "hook", "status"], registry=r)
        self.latency = Histogram(
            "cds_request_duration_seconds", "Time to answer CDS Hooks requests, service side",
            ["endpoint", "service", "hook"], buckets=_LATENCY_BUCKETS, registry=r)
        self.cards = Counter(
            "cds_cards_issued", "Cards returned, by rule set and card id", ["ruleset", "card_id"], registry=r)
        self.feedback = Counter(
            "cds_feedback", "Feedback entries stored, by service, outcome and whether the card was known",
            ["service", "outcome", "card"], registry=r)
        self.feedback_duplicates = Counter(
            "cds_feedback_duplicates", "Feedback entries received again and not stored twice", registry=r)
        self.fhir_calls = Counter(
            "cds_fhir_fallback_requests", "FHIR requests made for missing prefetch data, by result",
            ["result"], registry=r)
        self.prefetch_failures = Counter(
            "cds_prefetch_key_failures", "Prefetch keys whose data couldn't be had, by service and key",
            ["service", "key"], registry=r)
        self.issued_dropped = Counter(
            "cds_issued_cards_unrecorded", "Issued cards that could not be recorded for feedback", registry=r)

    def fhir_call(self, result: str) -> None:
        """Count one FHIR fallback request (``ok`` or the reason it failed)."""
        self.fhir_calls.labels(result=result).inc()

    def exposition(self) -> bytes:
        """The metrics text; every worker's values when running multi-process."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
