"""Fetching prefetch data the client didn't send, from the client's FHIR server.

One ``requests.Session`` per process (connection reuse), a thread pool so that
every key of a call is fetched in parallel, and one deadline for the whole
call: no new request starts after it, every socket wait is bounded by it, and
the caller stops waiting at it. Each key may page (``link[relation=next]``) up
to a page cap, and each response is read up to a size cap.

The access token is passed per call, only in the ``Authorization`` header, and
never kept: it is not logged, not put on the session, and no request starts
after the deadline (which comes before the answer is sent).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .limits import json_depth_exceeds

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class FetchJob:
    """What to fetch for one prefetch key: a first URL (absolute) and what was already had."""

    url: str
    is_read: bool = False
    initial: tuple[dict, ...] = ()
    follow_next: bool = True  # False when the template asked for one page (``_count``)


@dataclass
class FetchResult:
    """The resources of one key, or why they couldn't be had (``problem``)."""

    resources: list[dict] = field(default_factory=list)
    problem: str | None = None
    pages: int = 0
    not_found: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Failure(Exception):
    def __init__(self, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.reason = reason  # short, for metrics labels
        self.problem = problem  # for the OperationOutcome; never holds the token


def bundle_resources(bundle: Mapping[str, Any]) -> tuple[list[dict], str | None]:
    """The resources of a Bundle's entries, and the problem if one is an error OperationOutcome.

    OperationOutcomes that only inform or warn (servers add them to search
    results, e.g. for an ignored parameter) are dropped without failing.
    """
    resources: list[dict] = []
    problem = None
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            continue
        if resource["resourceType"] == "OperationOutcome":
            if outcome_is_error(resource):
                problem = "the Bundle holds an OperationOutcome reporting an error"
            continue
        resources.append(resource)
    return resources, problem


def outcome_is_error(outcome: Mapping[str, Any]) -> bool:
    """True when an OperationOutcome has an issue of severity error or fatal (or no usable issue)."""
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(not isinstance(i, Mapping) or i.get("severity") not in ("warning", "information")
               for i in issues)


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The Bundle's ``link[relation=next]`` URL, if any."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def within_base(url: str, base: str) -> str | None:
    """``url`` resolved against ``base`` if it lies under ``base``; None otherwise.

    Next links come from the client's data, so following one elsewhere would
    let a caller point this service at any address.
    """
    base = base.rstrip("/") + "/"
    absolute = urljoin(base, url)
    target, root = urlsplit(absolute), urlsplit(base)
    # Dot segments ("/r4/../admin") and their encoded forms would climb out of the base path.
    segments = unquote(target.path).split("/")
    if "." in segments or ".." in segments:
        return None
    if (target.scheme, target.netloc) != (root.scheme, root.netloc) or not target.path.startswith(root.path):
        return None
    return absolute


class FhirClient:
    """Parallel, deadline-bound FHIR reads and searches against a client's FHIR server."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, max_pages: int,
                 max_response_bytes: int, max_workers: int, max_json_depth: int = 64,
                 on_call: Callable[[str], None] | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.max_json_depth = max_json_depth
        self.read_timeout = read_timeout
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes
        self._on_call = on_call or (lambda outcome: None)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fhir-fetch")
        self.session = requests.Session()
        # No cookies (they would carry one client's state into another's
        # calls), no proxy or .netrc credentials from the environment.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=max_workers, pool_maxsize=max_workers, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        """Stop the worker threads and close pooled connections."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    def fetch_all(self, base: str, token: str | None, jobs: Mapping[str, FetchJob],
                  deadline: float) -> dict[str, FetchResult]:
        """Run every job in parallel; return by ``time.monotonic()`` ``deadline`` at the latest."""
        if not jobs:
            return {}
        cancelled = threading.Event()
        futures = {key: self._executor.submit(self._run, job, base, token, deadline, cancelled)
                   for key, job in jobs.items()}
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        cancelled.set()  # nothing still running may start another request
        results = {}
        for key, future in futures.items():
            if future.done() and not future.cancelled():
                results[key] = future.result()
            else:
                future.cancel()
                self._on_call("timeout")
                results[key] = FetchResult(problem="the FHIR server did not answer before the deadline")
        return results

    def _run(self, job: FetchJob, base: str, token: str | None, deadline: float,
             cancelled: threading.Event) -> FetchResult:
        result = FetchResult(resources=list(job.initial))
        url: str | None = job.url
        try:
            while url is not None:
                if result.pages >= self.max_pages:
                    raise _Failure("page_cap", f"more than {self.max_pages} pages of results")
                result.pages += 1
                status, body = self._get(url, token, deadline, cancelled)
                if status in (404, 410) and job.is_read:
                    result.not_found = True
                    self._on_call("ok")
                    return result
                if status != 200:
                    raise _Failure("http_status", f"the FHIR server answered HTTP {status}")
                if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
                    raise _Failure("invalid", "the FHIR server's answer is not a FHIR resource")
                if body["resourceType"] == "OperationOutcome":
                    raise _Failure("operation_outcome", "the FHIR server answered with an OperationOutcome")
                if body["resourceType"] == "Bundle" and not job.is_read:
                    resources, problem = bundle_resources(body)
                    if problem:
                        raise _Failure("operation_outcome", f"the FHIR server's result: {problem}")
                    result.resources.extend(resources)
                    following = next_link(body) if job.follow_next else None
                    url = within_base(following, base) if following else None
                    if following and url is None:
                        raise _Failure("foreign_link", "a next link points outside the FHIR server")
                else:
                    result.resources.append(body)
                    url = None
                self._on_call("ok")
        except _Failure as failure:
            self._on_call(failure.reason)
            result.problem = failure.problem
        return result

    def _get(self, url: str, token: str | None, deadline: float,
             cancelled: threading.Event) -> tuple[int, Any]:
        remaining = deadline - time.monotonic()
        if cancelled.is_set() or remaining <= 0.005:
            raise _Failure("timeout", "the FHIR server did not answer before the deadline")
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
        try:
            response = self.session.get(url, headers=headers, timeout=timeout, stream=True,
                                        allow_redirects=False)
        except requests.Timeout:
            raise _Failure("timeout", "the FHIR server did not answer in time") from None
        except requests.RequestException as exc:
            raise _Failure("connection", f"the FHIR server could not be reached ({type(exc).__name__})") from None
        with response:
            if response.status_code != 200:
                return response.status_code, None
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
                raise _Failure("too_large", f"a FHIR response exceeds {self.max_response_bytes} bytes")
            chunks = []
            size = 0
            try:
                for chunk in response.iter_content(chunk_size=65536):
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise _Failure("too_large", f"a FHIR response exceeds {self.max_response_bytes} bytes")
                    if time.monotonic() > deadline or cancelled.is_set():
                        raise _Failure("timeout", "the FHIR server did not finish answering before the deadline")
                    chunks.append(chunk)
            except requests.RequestException:
                raise _Failure("timeout", "the FHIR server's answer was cut off or too slow") from None
        raw = b"".join(chunks)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise _Failure("invalid", "the FHIR server's answer is not valid JSON") from None
        # The same nesting limit as for request bodies: the data goes to the same rules.
        if json_depth_exceeds(raw, self.max_json_depth):
            raise _Failure("too_deep", f"the FHIR server's answer nests more than {self.max_json_depth} deep")
        return 200, body
