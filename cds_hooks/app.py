"""The Flask application factory.

``create_app(config)`` wires configuration, storage (migrated at start-up),
the rule-set registry, authentication, the FHIR client, metrics and logging
into one ``ServiceState`` (``app.extensions["cds"]``), and registers the
blueprints: discovery, services, feedback, health, and the admin API.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .auth import Authenticator, build_authenticator
from .clients import TrustedClients, load_trusted_clients
from .config import Config, ConfigError
from .fhir_client import FhirClient
from .http import ApiError, Cors, http_exception_response, outcome_response
from .logs import PatientHasher, configure_logging, request_id
from .metrics import Metrics
from .prefetch import PlanCache
from .recorder import IssuedCardRecorder
from .storage.db import Database

log = logging.getLogger("cds_hooks.app")


@dataclass
class ServiceState:
    """Everything the request handlers share; built once per app."""

    config: Config
    database: Database
    registry: Any  # RuleSetRegistry or StaticRegistry: ``current()`` gives a snapshot
    authenticator: Authenticator
    trusted_clients: TrustedClients | None
    metrics: Metrics
    fhir: FhirClient
    recorder: IssuedCardRecorder
    plans: PlanCache
    hash_patient: PatientHasher
    cors: Cors
    _discovery: tuple[Any, bytes] | None = field(default=None, repr=False)

    def discovery_body(self, snapshot: Any) -> bytes:
        """The discovery document for ``snapshot``, serialized once per snapshot."""
        cached = self._discovery
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        from .blueprints.discovery import render_discovery

        body = render_discovery(snapshot)
        self._discovery = (snapshot, body)
        return body

    def close(self) -> None:
        """Flush recorded cards, stop threads, close connections."""
        self.recorder.close()
        self.fhir.close()
        self.database.dispose()


def state() -> ServiceState:
    """The ``ServiceState`` of the current app."""
    return current_app.extensions["cds"]


def create_app(config: Config | None = None, *, registry: Any = None, database: Database | None = None,
               authenticator: Authenticator | None = None) -> Flask:
    """Build the service. ``registry``, ``database`` and ``authenticator`` replace the
    defaults (tests); otherwise they come from ``config`` (default: the environment)."""
    config = config or Config.from_env()
    configure_logging(config.log_level)
    trusted = load_trusted_clients(config.trusted_clients_file) if config.trusted_clients_file else None
    if config.auth == "jwt" and trusted is None:
        raise ConfigError("CDS_AUTH=jwt needs trusted clients (CDS_TRUSTED_CLIENTS)")
    if config.development:
        log.warning("DEVELOPMENT MODE: authentication is OFF (CDS_AUTH=off); any caller may use this "
                    "service and name any fhirServer. Never expose it beyond this machine.")

    if database is None:
        database = Database(config.resolved_database_url())
    database.migrate()
    if registry is None:
        registry = _default_registry(config, database)

    metrics = Metrics()
    app = Flask("cds_hooks")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["CDS_MAX_JSON_DEPTH"] = config.max_json_depth
    app.url_map.strict_slashes = False
    app.extensions["cds"] = ServiceState(
        config=config,
        database=database,
        registry=registry,
        authenticator=authenticator or build_authenticator(config, trusted, database),
        trusted_clients=trusted,
        metrics=metrics,
        fhir=FhirClient(connect_timeout=config.fhir_connect_timeout, read_timeout=config.fhir_read_timeout,
                        max_pages=config.fhir_max_pages, max_response_bytes=config.fhir_max_response_bytes,
                        max_workers=config.fhir_max_workers, max_json_depth=config.max_json_depth,
                        on_call=metrics.fhir_call),
        recorder=IssuedCardRecorder(database, flush_seconds=config.record_flush_seconds,
                                    on_dropped=metrics.issued_dropped.inc),
        plans=PlanCache(),
        hash_patient=PatientHasher(config.log_hash_key),
        cors=Cors(config.cors_origins, config.development),
    )

    from . import openapi
    from .admin.blueprint import register_admin
    from .blueprints import discovery, feedback, health, services

    app.register_blueprint(discovery.bp)
    app.register_blueprint(services.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    register_admin(app)

    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _default_registry(config: Config, database: Database) -> Any:
    from .rulesets import RuleSetRegistry, bootstrap_bundled

    if config.bootstrap_rules:
        bootstrap_bundled(database, config.rules_dir)
    return RuleSetRegistry(database, poll_interval=config.registry_poll_seconds)


# --------------------------------------------------------------------------- per request


def _start_request() -> None:
    g.started = time.perf_counter()
    g.endpoint_kind = None  # discovery | service | feedback, set by the CDS blueprints
    g.service_label = ""
    g.hook_label = ""
    g.log_fields = {}
    g.request_id_token = request_id.set(uuid.uuid4().hex[:16])


def _end_request(_error: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)


def _finish_request(response: Response) -> Response:
    elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
    kind = getattr(g, "endpoint_kind", None)
    rid = request_id.get()
    if rid:
        response.headers["X-Request-Id"] = rid
    # Service-side time, for clients and the benchmark (W3C Server Timing).
    response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.3f}"
    if kind is not None:
        st = state()
        response = st.cors.decorate(response)
        if request.method != "OPTIONS":
            st.metrics.requests.labels(kind, g.service_label, g.hook_label, str(response.status_code)).inc()
            st.metrics.latency.labels(kind, g.service_label, g.hook_label).observe(elapsed)
            log.info("request", extra={
                "method": request.method, "path": request.path, "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 3), "endpoint": kind, **g.log_fields})
    if response.status_code in (204, 401) and not response.content_length:
        response.headers.pop("Content-Type", None)  # bare answers have no body to type
    # Answers may hold patient data or depend on rule-set state: never cache them.
    response.headers.setdefault("Cache-Control", "no-store")
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    if _hsts(current_app):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.status_code >= 400:
        _drain_unread_body()
    return response


# A refusal (401, 403, 413...) may leave the request body unread, and gunicorn then drops a
# connection it has just announced as keep-alive: the client's next request on it fails.
# Reading what is left, up to this bound, keeps the connection usable; past it (an abusive
# upload) the connection is dropped.
_DRAIN_LIMIT = 32 * 1024 * 1024


def _drain_unread_body() -> None:
    length = request.content_length
    if not length or length > _DRAIN_LIMIT:
        return
    try:
        exhaust = getattr(request.stream, "exhaust", None)
        if exhaust is not None:
            exhaust()
    except (HTTPException, OSError):
        # Over the body limit (413) or the client went away: nothing to keep alive.
        return


# Every answer is JSON (or empty) for programs, never a page to render, frame or
# follow links from; browsers are told so.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def _hsts(app: Flask) -> bool:
    # Only when the public URL is https: HSTS over plain HTTP would be ignored,
    # and a development server on http://127.0.0.1 must not pin localhost to TLS.
    base = app.extensions["cds"].config.public_base_url if "cds" in app.extensions else None
    return bool(base and base.lower().startswith("https://"))


def _api_error(error: ApiError) -> Response:
    return outcome_response(error.status, error.code, error.diagnostics, error.headers)


def _http_error(error: HTTPException) -> Response:
    return http_exception_response(error)


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error")
    return outcome_response(500, "exception", "internal error; see the service log for this request id")
