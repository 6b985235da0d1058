"""Benchmark the service under gunicorn: discovery and each hook with full prefetch.

    .venv/bin/python benchmarks/bench_service.py [--requests 500] [--workers 2] [--threads 4]

Starts ``cds-hooks serve`` on a free loopback port with a fresh SQLite
database and the bundled rule sets (``rules/``), builds one request per hook
from ``fhir/examples`` with every prefetch key filled (the patient padded with
unrelated resources to about 200, as in the architecture's budget), then
measures:

- service-side latency (the ``Server-Timing`` header: parse, gather, evaluate,
  render, answer) and round-trip latency, median and p99, one request at a time;
- requests per second with several concurrent clients.

If the bundled rule set can't be served by this build (``/readyz`` not ready),
it says so and measures the in-test rule set instead (``--fake`` forces that),
which shows the service's own overhead without the CQL engine.
A benchmark, not a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cds_hooks.cli import EXAMPLE_ANCHOR, _find_service  # noqa: E402
from cds_hooks.examples import load_example  # noqa: E402
from cds_hooks.prefetch import fill_prefetch  # noqa: E402
from tests.service.gunicorn_runner import free_port, gunicorn, serve_command  # noqa: E402

BUDGETS_MS = {"hook median": 5.0, "hook p99": 25.0, "discovery median": 1.0}


def pad(resources: list[dict], patient_id: str, total: int = 200) -> list[dict]:
    """Add older, unrelated history until the patient has ``total`` resources: conditions,
    finished prescriptions and creatinine results, all of which the prefetch templates
    return, so the service and the engine see every one of them."""
    padded = list(resources)
    subject = {"reference": f"Patient/{patient_id}"}
    n = 0
    while len(padded) < total:
        n += 1
        when = f"{2018 + n % 5}-{(n % 12) + 1:02d}-{(n % 27) + 1:02d}"
        kind = n % 3
        if kind == 0:
            padded.append({
                "resourceType": "Condition", "id": f"pad-c-{n}", "subject": subject,
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                               "code": "resolved"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                                     "display": "Hypertensive disorder"}]},
                "onsetDateTime": when})
        elif kind == 1:
            padded.append({
                "resourceType": "MedicationRequest", "id": f"pad-m-{n}", "status": "completed",
                "intent": "order", "subject": subject, "authoredOn": when,
                "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                          "code": "197361", "display": "amlodipine 5 MG Oral Tablet"}]}})
        else:
            padded.append({
                "resourceType": "Observation", "id": f"pad-o-{n}", "status": "final", "subject": subject,
                "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0", "display": "Creatinine"}]},
                "effectiveDateTime": f"{when}T08:00:00Z",
                "valueQuantity": {"value": 80 + n % 20, "unit": "umol/L", "system": "http://unitsofmeasure.org",
                                  "code": "umol/L"}})
    return padded


def real_requests() -> dict[str, tuple[str, dict]]:
    """One (service id, request) per hook from the bundled examples, prefetch filled."""
    examples = ROOT / "fhir" / "examples"
    chosen: dict[str, tuple[str, dict]] = {}
    for path in sorted((examples / "requests").glob("*.json")):
        body = load_example(path, EXAMPLE_ANCHOR)
        hook = body["hook"]
        if hook in chosen:
            continue
        service = _find_service(ROOT / "rules", hook, None)
        if service is None:
            continue
        bundle = load_example(examples / "patients" / f"{path.stem.split('.')[0]}.json", EXAMPLE_ANCHOR)
        resources = [e["resource"] for e in bundle.get("entry", [])]
        resources = pad(resources, body["context"]["patientId"])
        body["prefetch"] = fill_prefetch(service.get("prefetch") or {}, body["context"], resources, hook=hook)
        chosen[hook] = (service["id"], body)
    return chosen


def fake_requests() -> dict[str, tuple[str, dict]]:
    from tests.service.data import PATIENT_ID, full_prefetch, patient_resources, request

    resources = pad(patient_resources(), PATIENT_ID)
    return {
        "patient-view": ("test-patient-view", request("patient-view", prefetch=full_prefetch(resources))),
        "order-select": ("test-order-select", request("order-select", prefetch={
            "patient": resources[0], "conditions": full_prefetch(resources)["conditions"]})),
        "order-sign": ("test-order-sign", request("order-sign", prefetch={
            "patient": resources[0], "encounter": None, "user": None})),
    }


def measure(session: requests.Session, method: str, url: str, body: bytes | None, count: int) -> dict:
    service_ms, round_ms = [], []
    headers = {"Content-Type": "application/json"}
    for _ in range(count):
        data = body
        if body is not None:  # a fresh hookInstance per call, as a real client sends
            data = body.replace(b"__HOOK_INSTANCE__", str(uuid.uuid4()).encode())
        started = time.perf_counter()
        response = session.request(method, url, data=data, headers=headers)
        round_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        service_ms.append(float(response.headers["Server-Timing"].split("dur=")[1]))
    return {"service": summary(service_ms), "round_trip": summary(round_ms)}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


def throughput(url: str, body: bytes, clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                data = body.replace(b"__HOOK_INSTANCE__", str(uuid.uuid4()).encode())
                session.post(url, data=data, headers={"Content-Type": "application/json"})
                done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint for latency")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for requests/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the requests/s run")
    parser.add_argument("--fake", action="store_true", help="measure the in-test rule set")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cds-bench-"))
    port = free_port()
    env = {"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "CDS_LOG_LEVEL": "WARNING"}
    argv = serve_command(port, args.workers, args.threads)
    which = "bundled rule sets"
    if args.fake:
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                "--threads", str(args.threads), "--worker-class", "gthread", "tests.service.fake_app:create()"]
        env["CDS_TEST_DB"] = str(tmp / "fake.sqlite3")
        which = "in-test rule set"
    with gunicorn(argv, env, port=port, log_path=tmp / "server.log") as base:
        ready = requests.get(f"{base}/readyz").status_code == 200
        if not ready:
            print(f"The bundled rule set is not served by this build (see {tmp / 'server.log'}); "
                  "re-run with --fake to measure the service with the in-test rule set.")
            return 0
        calls = fake_requests() if args.fake else real_requests()
        print(f"Service under gunicorn ({args.workers} workers x {args.threads} threads), {which}, "
              f"{args.requests} sequential requests per endpoint after warm-up; times in ms.")
        results = {}
        with requests.Session() as session:
            measure(session, "GET", f"{base}/cds-services", None, 50)
            results["discovery"] = measure(session, "GET", f"{base}/cds-services", None, args.requests)
            for hook, (service_id, body) in calls.items():
                body["hookInstance"] = "__HOOK_INSTANCE__"
                data = json.dumps(body).encode()
                url = f"{base}/cds-services/{service_id}"
                measure(session, "POST", url, data, 50)
                results[hook] = measure(session, "POST", url, data, args.requests)
                results[hook]["bytes"] = len(data)
        print(f"{'endpoint':<14}{'service median':>16}{'service p99':>13}{'round-trip median':>19}"
              f"{'round-trip p99':>16}{'request KB':>12}")
        for name, result in results.items():
            s, r = result["service"], result["round_trip"]
            size = f"{result['bytes'] / 1024:.0f}" if "bytes" in result else ""
            print(f"{name:<14}{s['median']:>16.3f}{s['p99']:>13.3f}{r['median']:>19.3f}{r['p99']:>16.3f}{size:>12}")
        first_hook = next(iter(calls))
        service_id, body = calls[first_hook]
        rate = throughput(f"{base}/cds-services/{service_id}", json.dumps(body).encode(), args.clients,
                          args.seconds)
        print(f"\nrequests/s, {first_hook}, {args.clients} concurrent clients on the same 2 cores: {rate:.0f}")
        hooks = [v for k, v in results.items() if k != "discovery"]
        checks = {
            "hook median": max(h["service"]["median"] for h in hooks),
            "hook p99": max(h["service"]["p99"] for h in hooks),
            "discovery median": results["discovery"]["service"]["median"],
        }
        print("\nbudgets (service side): " + "; ".join(
            f"{name} {value:.2f} ms {'<' if value < BUDGETS_MS[name] else '>='} {BUDGETS_MS[name]} ms"
            for name, value in checks.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
