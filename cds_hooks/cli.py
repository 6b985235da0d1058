"""The ``cds-hooks`` command: ``serve``, ``example``, and the rule-set commands (``rules ...``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

EXAMPLE_ANCHOR = "2026-11-01"  # the date all example data is written against (docs/ruleset-format.md)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cds-hooks`` console script."""
    parser = argparse.ArgumentParser(prog="cds-hooks", description="CDS Hooks service for painful neuropathy")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the CDS Hooks API with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("CDS_WORKERS", "2")))
    serve.add_argument("--threads", type=int, default=int(os.environ.get("CDS_THREADS", "4")))
    serve.add_argument("--timeout", type=int, default=30, help="seconds before a stuck worker is restarted")
    serve.set_defaults(func=_serve)

    example = sub.add_parser("example", help="print a complete hook request from fhir/examples")
    example.add_argument("name", help="request name, e.g. warfarin.patient-view (fhir/examples/requests/NAME.json)")
    example.add_argument("--service", help="service id whose prefetch to fill (default: the one for the hook)")
    example.add_argument("--rules", type=Path, help="rule-set folder (default: CDS_RULES_DIR or rules/)")
    example.add_argument("--examples", type=Path, help="examples folder (default: fhir/examples)")
    example.add_argument("--no-prefetch", action="store_true", help="leave prefetch out (the service fetches)")
    example.set_defaults(func=_example)

    from .rulesets.cli import register

    register(sub)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


# --------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before anything imports prometheus_client: it picks the multi-process
        # value store at import time.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cds-metrics-")
    from gunicorn.app.base import BaseApplication

    from .config import Config, ConfigError
    from .logs import configure_logging

    try:
        config = Config.from_env()
        _prepare(config)
    except ConfigError as exc:
        print(f"cds-hooks: configuration error: {exc}", file=sys.stderr)
        return 2

    class Application(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{args.host}:{args.port}",
                "workers": args.workers,
                "threads": args.threads,
                "worker_class": "gthread" if args.threads > 1 else "sync",
                "timeout": args.timeout,
                "graceful_timeout": 10,
                "keepalive": 5,
                "accesslog": None,  # the app logs every CDS request itself, as JSON
                "errorlog": "-",
                "loglevel": "warning",
                "child_exit": _child_exit,
                "worker_exit": _worker_exit,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from .app import create_app

            return create_app(config)

    configure_logging(config.log_level)
    Application().run()
    return 0


def _prepare(config: Any) -> None:
    """Migrate the database and publish bundled rules once, before workers start."""
    from .clients import load_trusted_clients
    from .config import ConfigError
    from .storage.db import Database

    if config.trusted_clients_file is not None:
        try:
            trusted = load_trusted_clients(config.trusted_clients_file)
            if not config.development:
                # Malformed or private keys fail the start here, not in every worker.
                from .jwks import ClientKeys, JwksFetcher

                fetcher = JwksFetcher()
                ClientKeys(trusted.clients, fetcher)
                fetcher.close()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    database = Database(config.resolved_database_url())
    database.migrate()
    if config.bootstrap_rules:
        from .rulesets import bootstrap_bundled

        bootstrap_bundled(database, config.rules_dir)
    database.dispose()


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _worker_exit(server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", None) or {}
    if "cds" in extensions:
        extensions["cds"].close()


# --------------------------------------------------------------------------- example


def _example(args: argparse.Namespace) -> int:
    from .config import PROJECT_ROOT
    from .examples import load_example
    from .prefetch import fill_prefetch

    examples = args.examples or PROJECT_ROOT / "fhir" / "examples"
    name = args.name.removesuffix(".json")
    request_path = Path(args.name) if Path(args.name).is_file() else examples / "requests" / f"{name}.json"
    if not request_path.is_file():
        available = sorted(p.stem for p in (examples / "requests").glob("*.json"))
        print(f"cds-hooks: no example request {name!r}; available: {', '.join(available) or 'none'}",
              file=sys.stderr)
        return 2
    request = load_example(request_path, EXAMPLE_ANCHOR)
    request["hookInstance"] = str(uuid.uuid4())
    if not args.no_prefetch:
        patient_path = examples / "patients" / f"{request_path.stem.split('.')[0]}.json"
        if not patient_path.is_file():
            print(f"cds-hooks: no patient bundle {patient_path}", file=sys.stderr)
            return 2
        bundle = load_example(patient_path, EXAMPLE_ANCHOR)
        resources = [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
        service = _find_service(args.rules, request["hook"], args.service)
        if service is None:
            print(f"cds-hooks: no service for hook {request['hook']!r} in the rule sets", file=sys.stderr)
            return 2
        request["prefetch"] = fill_prefetch(service.get("prefetch") or {}, request["context"], resources,
                                            hook=request["hook"])
    json.dump(request, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _find_service(rules_dir: Path | None, hook: str, service_id: str | None) -> dict | None:
    """The service (manifest entry) with ``service_id``, or the first for ``hook``, in the
    newest version of each rule set under ``rules_dir``."""
    import yaml

    from .config import Config

    rules_dir = rules_dir or Config(auth="off").rules_dir
    for ruleset_dir in sorted(p for p in rules_dir.iterdir() if p.is_dir()) if rules_dir.is_dir() else []:
        versions = [p for p in ruleset_dir.iterdir() if (p / "manifest.yaml").is_file()]
        if not versions:
            continue
        newest = max(versions, key=lambda p: _version_key(p.name))
        manifest = yaml.safe_load((newest / "manifest.yaml").read_text(encoding="utf-8")) or {}
        for service in manifest.get("services") or []:
            if (service_id and service.get("id") == service_id) or (not service_id and service.get("hook") == hook):
                return service
    return None


def _version_key(text: str) -> tuple:
    core = text.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(part) if part.isdigit() else 0 for part in core.split("."))


if __name__ == "__main__":
    sys.exit(main())
