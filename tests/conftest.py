"""Session-wide log hygiene check: no token a test used may appear in any log of the run.

While the tests run, this plugin

- notes every bearer token and FHIR ``access_token`` that reaches a Flask app in
  this process or leaves it through ``requests`` (the service under gunicorn,
  the JWK Set and FHIR test servers), besides the tokens tests note themselves
  with ``tests.leaks.remember``;
- writes every log record of this process (the service's JSON lines and any
  library's) to a session log file.

When the run ends, that file and every ``*.log`` under the run's temporary
directory (the gunicorn logs of the end-to-end tests) are searched for each
token and for anything shaped like a JWT. A find fails the run, naming the
file; the token itself is never printed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
from pathlib import Path

import pytest

from tests.leaks import find_leaks, read_logs, remember, remembered

_ACCESS_TOKEN = re.compile(rb'"access_token"\s*:\s*"([^"\\]{1,4096})"')
_MAX_BODY_SCAN = 8 * 1024 * 1024
_state: dict = {}


def _note_authorization(value) -> None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        scheme, _, token = value.strip().partition(" ")
        remember(token.strip() if token else scheme)


def _note_body(body) -> None:
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    if isinstance(body, bytes) and len(body) <= _MAX_BODY_SCAN:
        for match in _ACCESS_TOKEN.finditer(body):
            remember(match.group(1).decode("utf-8", "replace"))


def _instrument() -> None:
    import requests
    from flask import Flask

    original_wsgi = Flask.wsgi_app

    def wsgi_app(self, environ, start_response):
        _note_authorization(environ.get("HTTP_AUTHORIZATION"))
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and 0 < int(length) <= _MAX_BODY_SCAN:
            body = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(body)
            _note_body(body)
        return original_wsgi(self, environ, start_response)

    original_send = requests.Session.send

    def send(self, request, **kwargs):
        _note_authorization(request.headers.get("Authorization"))
        _note_body(request.body)
        return original_send(self, request, **kwargs)

    Flask.wsgi_app = wsgi_app
    requests.Session.send = send
    _state["restore"] = lambda: (setattr(Flask, "wsgi_app", original_wsgi),
                                 setattr(requests.Session, "send", original_send))


def pytest_configure(config: pytest.Config) -> None:
    from cds_hooks.logs import JsonFormatter

    directory = Path(tempfile.mkdtemp(prefix="cds-test-logs-"))
    path = directory / "session.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    # The service's loggers don't propagate (they write JSON to stderr), so the
    # handler goes on them as well as on the root logger.
    for name in ("", "cds_hooks"):
        logging.getLogger(name).addHandler(handler)
    _state.update(handler=handler, path=path)
    _instrument()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    handler = _state.get("handler")
    if handler is None:
        return
    for name in ("", "cds_hooks"):
        logging.getLogger(name).removeHandler(handler)
    handler.close()
    _state.pop("restore", lambda: None)()
    paths = [_state["path"]]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        with contextlib.suppress(OSError, ValueError):
            paths += sorted(factory.getbasetemp().rglob("*.log"))
    leaks = find_leaks(read_logs(paths), remembered())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter is not None:
            reporter.write_sep("=", "tokens found in logs", red=True)
            for leak in sorted(set(leaks))[:50]:
                reporter.write_line(leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None and session.config.getoption("verbose") > 0:
        reporter.write_line(f"log check: {len(remembered())} tokens, {len(paths)} logs, no leaks")
