"""HTTP plumbing shared by the blueprints: JSON in, JSON and OperationOutcome out, CORS.

- Bodies are parsed as JSON whatever the ``Content-Type`` says (clients send
  ``text/plain`` to dodge CORS preflights); a parse error is a 400 whose
  OperationOutcome gives line, column and character position.
- Every non-2xx answer carries an OperationOutcome, except 401, which is bare.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from .models import IssueCode, operation_outcome

JSON_MIMETYPE = "application/json"
FHIR_JSON_MIMETYPE = "application/fhir+json"

CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE = "600"


class ApiError(Exception):
    """An error answer: HTTP status, OperationOutcome issue code, and messages for the caller."""

    def __init__(self, status: int, code: IssueCode, diagnostics: str | list[str],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics if isinstance(diagnostics, str) else "; ".join(diagnostics))
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, mimetype: str = JSON_MIMETYPE) -> Response:
    """A response with ``body`` serialized compactly, field order kept."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(data, status=status, mimetype=mimetype)


def outcome_response(status: int, code: IssueCode, diagnostics: str | list[str],
                     headers: dict[str, str] | None = None) -> Response:
    """A non-2xx answer with an OperationOutcome body (a bare one for 401)."""
    if status == 401:
        response = Response(status=401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    response = json_response(operation_outcome(code, diagnostics), status, FHIR_JSON_MIMETYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them.
    raise ValueError(f"{name} is not a JSON value")


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object; ``ApiError`` 400 with the position otherwise, 422
    when it nests deeper than the app's ``CDS_MAX_JSON_DEPTH``."""
    data = request.get_data(cache=False)
    if not data.strip():
        raise ApiError(400, "invalid", "the request body is empty; a JSON object is expected")
    try:
        body = json.loads(data, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "structure",
                       f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno} (char {exc.pos})") from None
    except UnicodeDecodeError as exc:
        raise ApiError(400, "structure",
                       f"the request body is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ApiError(422, "too-costly", "the request body's JSON is nested too deeply") from None
    except ValueError:  # e.g. an integer of more than 4300 digits, NaN
        raise ApiError(400, "structure", "the request body holds a JSON value that can't be read") from None
    if not isinstance(body, dict):
        raise ApiError(400, "structure", "the request body must be a JSON object")
    from .limits import check_json_depth

    check_json_depth(data, current_app.config.get("CDS_MAX_JSON_DEPTH", 64))
    return body


def http_exception_response(error: HTTPException) -> Response:
    """An OperationOutcome for a werkzeug HTTP error (404, 405, 413, ...)."""
    status = error.code or 500
    codes: dict[int, IssueCode] = {404: "not-found", 405: "not-supported", 413: "too-long",
                                   415: "not-supported", 429: "throttled"}
    headers = {k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")}
    message = error.description or error.name
    if status == 413:
        message = "the request body is too large"
    return outcome_response(status, codes.get(status, "processing" if status < 500 else "exception"),
                            message, headers)


class Cors:
    """CORS for the CDS routes: preflights answered, allowed origins echoed.

    In development mode with no origins configured, every origin is allowed;
    in production only the configured ones (``CDS_CORS_ORIGINS``).
    """

    def __init__(self, origins: tuple[str, ...], development: bool) -> None:
        self.any_origin = "*" in origins or (development and not origins)
        self.origins = frozenset(o for o in origins if o != "*")

    def allowed(self, origin: str | None) -> bool:
        return bool(origin) and (self.any_origin or origin.rstrip("/") in self.origins)

    def preflight(self) -> Response:
        """The answer to an ``OPTIONS`` request (no authentication needed)."""
        response = Response(status=204)
        response.headers["Allow"] = CORS_METHODS
        origin = request.headers.get("Origin")
        if self.allowed(origin):
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
        return self.decorate(response)

    def decorate(self, response: Response) -> Response:
        """Add the allow-origin headers when the request's origin is allowed."""
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if self.allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "X-Request-Id"
        return response
