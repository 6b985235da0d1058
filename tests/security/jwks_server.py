"""A JWK Set server on 127.0.0.1 in a thread: the ``jku`` of the tests, over real HTTP.

It serves ``keys`` (a JWK Set) at ``/jwks.json`` and counts requests; it can
answer slowly, with a huge body, or with a redirect, to test the fetcher's
limits.
"""

from __future__ import annotations

import json
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class JwksServer:
    """Serve a JWK Set at ``url``; change the attributes to misbehave."""

    def __init__(self, keys: dict | None = None) -> None:
        self.keys = keys or {"keys": []}
        self.delay = 0.0
        self.padding = 0  # bytes of whitespace added to the body
        self.redirect_to: str | None = None
        self.status = 200
        self.hits = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self.url = f"{self.base}/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.hits += 1
        if self.delay:
            time.sleep(self.delay)
        if self.redirect_to:
            return Response(status=302, headers={"Location": self.redirect_to})
        if request.path != "/jwks.json":
            return Response(status=404)
        body = json.dumps(self.keys) + " " * self.padding
        return Response(body, status=self.status, mimetype="application/json")
