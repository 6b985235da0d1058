"""A local FHIR test server: a small WSGI app on 127.0.0.1 in a thread.

It serves resources held in memory with ``cds_hooks.fhir_search`` (reads and
the prefetch search subset) and can misbehave on purpose: answer slowly, page
its results, fail with an HTTP error, or answer with an OperationOutcome.
Tests talk to it over real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qsl, urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cds_hooks.fhir_search import UnsupportedSearch, matching, parse_query

FHIR_JSON = "application/fhir+json"


class FhirTestServer:
    """Serve ``resources`` at ``base_url``; change the behaviour attributes to misbehave."""

    def __init__(self, resources: list[dict], *, path: str = "/fhir") -> None:
        self.resources = resources
        self.path = path
        self.delay = 0.0  # seconds before answering
        self.page_size: int | None = None  # page every search result
        self.status: int | None = None  # answer every request with this HTTP status
        self.operation_outcome = False  # answer 200 with an OperationOutcome
        self.outcome_in_bundle: str | None = None  # add an OperationOutcome of this severity to Bundles
        self.foreign_next = False  # next links point at another server
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        # Don't wait for handlers still sleeping (the slow-server tests) when closing.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.base_url = f"http://127.0.0.1:{self._server.server_port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> FhirTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def queries(self) -> list[str]:
        """The relative queries received (``Type/id`` or ``Type?...``), in order."""
        with self._lock:
            return [r["query"] for r in self.requests]

    @Request.application
    def _app(self, request: Request) -> Response:
        relative = request.path[len(self.path):].lstrip("/")
        query_string = request.query_string.decode()
        with self._lock:
            self.requests.append({
                "query": relative + (f"?{query_string}" if query_string else ""),
                "authorization": request.headers.get("Authorization"),
                "accept": request.headers.get("Accept"),
            })
        if self.delay:
            time.sleep(self.delay)
        if self.status is not None:
            return self._json({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "exception", "diagnostics": "test failure"}]}, self.status)
        if self.operation_outcome:
            return self._json({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "forbidden", "diagnostics": "not allowed"}]})
        if not request.path.startswith(self.path):
            return self._json({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-found"}]}, 404)
        params = parse_qsl(query_string, keep_blank_values=True)
        given = dict(params)
        offset = int(given.get("_offset", "0"))
        if "_page" in given:  # page numbers, as in the spec's pagination example
            offset = (int(given["_page"]) - 1) * int(given.get("_count", self.page_size or 1))
        kept = [(k, v) for k, v in params if k not in ("_offset", "_page")]
        try:
            parsed = parse_query(relative + ("?" + urlencode(kept) if kept else ""))
        except UnsupportedSearch as exc:
            return self._json({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-supported", "diagnostics": str(exc)}]}, 400)
        found = matching(self.resources, parsed)
        if parsed.resource_id is not None:
            if not found:
                return self._json({"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "not-found"}]}, 404)
            return self._json(found[0])
        size = parsed.count if parsed.count is not None else self.page_size
        page = found[offset: offset + size] if size else found
        bundle: dict = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                        "entry": [{"resource": r} for r in page]}
        if size and offset + size < len(found):
            base = "http://127.0.0.1:9" + self.path if self.foreign_next else self.base_url
            next_query = urlencode([*kept, ("_offset", str(offset + size))])
            bundle["link"] = [{"relation": "next", "url": f"{base}/{relative}?{next_query}"}]
        if self.outcome_in_bundle:
            bundle["entry"].append({"resource": {"resourceType": "OperationOutcome", "issue": [
                {"severity": self.outcome_in_bundle, "code": "informational", "diagnostics": "note"}]},
                "search": {"mode": "outcome"}})
        return self._json(bundle)

    @staticmethod
    def _json(body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)
