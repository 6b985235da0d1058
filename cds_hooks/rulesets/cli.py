"""``cds-hooks rules ...``: author, check, publish and manage rule-set versions.

Authoring commands work on folders (or archives) and need no database:

    cds-hooks rules validate PATH          every problem, as file:line: message
    cds-hooks rules test PATH              run the version's tests, with a diff on failure
    cds-hooks rules diff OLD NEW --patients DIR
                                           impact preview: cards gained, lost, reworded

Lifecycle commands act on the service's database (``CDS_DATABASE_URL``, default
the SQLite file under ``instance/``), or on a running service's admin API with
``--server URL`` and the admin token in ``CDS_ADMIN_TOKEN`` (never on the
command line, where other users could read it):

    cds-hooks rules publish PATH
    cds-hooks rules activate ID VERSION
    cds-hooks rules rollback ID
    cds-hooks rules retire ID VERSION
    cds-hooks rules list
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from .content import ContentError, RuleSetContent
from .problems import Problem

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rules`` command and its subcommands to the main parser."""
    rules = subparsers.add_parser("rules", help="validate, test, publish and manage rule sets",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check a rule-set version folder; every problem with file and line")
    validate.add_argument("path", type=Path, help="version folder (rules/<id>/<version>) or archive")
    validate.add_argument("--json", action="store_true", help="print problems as JSON")
    validate.set_defaults(func=cmd_validate)

    test = sub.add_parser("test", help="run a version's tests (tests/*.yaml)")
    test.add_argument("path", type=Path, help="version folder or archive")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.add_argument("--json", action="store_true", help="print results as JSON")
    test.set_defaults(func=cmd_test)

    diff = sub.add_parser("diff", help="impact preview: run two versions over patient data and compare cards")
    diff.add_argument("old", type=Path, help="the current version (folder or archive)")
    diff.add_argument("new", type=Path, help="the candidate version (folder or archive)")
    diff.add_argument("--patients", type=Path, required=True,
                      help="folder of patient bundles and hook requests (e.g. fhir/examples)")
    diff.add_argument("--shift-dates-from", type=date.fromisoformat, metavar="DATE",
                      help="move example dates by (today - DATE), e.g. 2026-11-01 for fhir/examples")
    diff.add_argument("--json", action="store_true", help="print the report as JSON")
    diff.set_defaults(func=cmd_diff)

    def lifecycle(name: str, help_text: str, func: Callable, *positionals: tuple[str, str, Any]) -> None:
        parser = sub.add_parser(name, help=help_text)
        for arg, arg_help, arg_type in positionals:
            parser.add_argument(arg, help=arg_help, type=arg_type)
        parser.add_argument("--database-url", help="database URL (default: CDS_DATABASE_URL or instance/)")
        parser.add_argument("--server", default=os.environ.get("CDS_ADMIN_URL"),
                            help="base URL of a running service: use its admin API (token from CDS_ADMIN_TOKEN)")
        parser.add_argument("--actor", help="name recorded in the audit log (database mode; default cli:<user>)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(func=func)

    lifecycle("publish", "validate, test and publish a version (as a draft)", cmd_publish,
              ("path", "version folder or archive", Path))
    lifecycle("activate", "make a published version the active one", cmd_activate,
              ("id", "rule-set id", str), ("version", "version to activate", str))
    lifecycle("rollback", "return to the previously active version", cmd_rollback, ("id", "rule-set id", str))
    lifecycle("retire", "withdraw a version that is not active", cmd_retire,
              ("id", "rule-set id", str), ("version", "version to retire", str))
    lifecycle("list", "list rule sets, versions and states", cmd_list)


# --------------------------------------------------------------------------- helpers


def read_content(path: Path) -> RuleSetContent:
    """A version from a folder (links followed) or from a zip / tar.gz archive."""
    if path.is_dir():
        return RuleSetContent.from_folder(path)
    return RuleSetContent.from_archive(path.read_bytes())


def _expected_id(path: Path) -> str | None:
    from .loader import expected_ruleset_id

    return expected_ruleset_id(path) if path.is_dir() else None


def print_problems(problems: list[Problem] | tuple[Problem, ...], base: Path | None, out: Any = None) -> None:
    """Problems as ``path/file:line:column: severity: message`` (editors jump to them)."""
    out = out or sys.stdout
    for problem in problems:
        location = problem.location()
        if base is not None and base.is_dir():
            location = f"{(base / problem.file).as_posix()}{location[len(problem.file):]}"
        print(f"{location}: {problem.severity}: {problem.message}", file=out)


def _count_line(problems: list[Problem] | tuple[Problem, ...]) -> str:
    errors = sum(1 for p in problems if p.is_error)
    return f"{errors} error(s), {len(problems) - errors} warning(s)"


def _load(path: Path) -> tuple[Any, list[Problem]]:
    from .loader import check_content

    try:
        content = read_content(path)
    except (ContentError, OSError) as exc:
        return None, [Problem(str(path), None, str(exc))]
    result = check_content(content, expected_id=_expected_id(path))
    return result.ruleset, result.problems


# --------------------------------------------------------------------------- authoring


def cmd_validate(args: argparse.Namespace) -> int:
    """``rules validate PATH``."""
    ruleset, problems = _load(args.path)
    if args.json:
        print(json.dumps({"valid": ruleset is not None, "problems": [p.to_json() for p in problems]}, indent=2))
    else:
        print_problems(problems, args.path)
        if ruleset is not None:
            print(f"{ruleset.id} {ruleset.version} is valid (sha256 {ruleset.sha256}); {_count_line(problems)}")
        else:
            print(f"{args.path} is not valid: {_count_line(problems)}")
    return EXIT_OK if ruleset is not None else EXIT_FAILED


def cmd_test(args: argparse.Namespace) -> int:
    """``rules test PATH``."""
    from .testing import run_tests

    ruleset, problems = _load(args.path)
    if ruleset is None:
        print_problems(problems, args.path, sys.stderr if args.json else sys.stdout)
        print(f"{args.path} is not valid: {_count_line(problems)}; tests not run", file=sys.stderr)
        return EXIT_FAILED
    report = run_tests(ruleset)
    if args.json:
        print(json.dumps({"passed": report.passed, "cases": [c.to_json() for c in report.cases],
                          "problems": [p.to_json() for p in report.problems]}, indent=2))
    else:
        print(report.render(verbose=args.verbose))
    return EXIT_OK if report.passed and report.cases else EXIT_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    """``rules diff OLD NEW --patients DIR``."""
    from .impact import discover_cases, impact

    loaded = []
    for path in (args.old, args.new):
        ruleset, problems = _load(path)
        if ruleset is None:
            print_problems(problems, path, sys.stderr)
            print(f"{path} is not valid: {_count_line(problems)}", file=sys.stderr)
            return EXIT_FAILED
        loaded.append(ruleset)
    if not args.patients.is_dir():
        print(f"no such folder: {args.patients}", file=sys.stderr)
        return EXIT_FAILED
    cases = discover_cases(args.patients, shift_from=args.shift_dates_from)
    if not cases:
        print(f"no patient bundles or hook requests found under {args.patients}", file=sys.stderr)
        return EXIT_FAILED
    report = impact(loaded[0], loaded[1], cases)
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json else report.render())
    return EXIT_OK if not report.errors else EXIT_FAILED


# --------------------------------------------------------------------------- lifecycle


def _actor(args: argparse.Namespace) -> Any:
    from .store import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Actor(args.actor or f"cli:{user}", role="local")


def _store(args: argparse.Namespace) -> Any:
    from cds_hooks.storage.db import Database

    from .store import RuleSetStore

    url = args.database_url or os.environ.get("CDS_DATABASE_URL")
    if not url:
        from cds_hooks.config import Config

        instance = os.environ.get("CDS_INSTANCE_DIR")
        config = Config(instance_dir=Path(instance)) if instance else Config()
        url = config.resolved_database_url()
    database = Database(url)
    database.migrate()
    return RuleSetStore(database)


def _print_result(args: argparse.Namespace, body: dict[str, Any], text: str) -> None:
    print(json.dumps(body, indent=2) if args.json else text)


def _report_lifecycle_error(exc: Any) -> int:
    print(f"refused: {exc.message}", file=sys.stderr)
    print_problems(exc.problems, None, sys.stderr)
    return EXIT_FAILED


def _change(args: argparse.Namespace, local: Callable[[Any, Any], Any], remote: tuple[str, str]) -> int:
    from .store import LifecycleError

    if args.server:
        return _remote(args, *remote)
    try:
        result = local(_store(args), _actor(args))
    except LifecycleError as exc:
        return _report_lifecycle_error(exc)
    body = result.version.to_json() | {"changed": result.changed}
    if result.previous:
        body["previousVersion"] = result.previous
    verb = "" if result.changed else " (no change)"
    _print_result(args, body, f"{body['id']} {body['version']}: {body['state']}{verb} (sha256 {body['sha256']})")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    """``rules publish PATH``."""
    try:
        content = read_content(args.path)
    except (ContentError, OSError) as exc:
        print(f"cannot read {args.path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.server:
        return _remote(args, "POST", "/admin/api/rulesets", content.to_archive())
    return _change(args, lambda store, actor: store.publish(content, actor), ("", ""))


def cmd_activate(args: argparse.Namespace) -> int:
    """``rules activate ID VERSION``."""
    return _change(args, lambda store, actor: store.activate(args.id, args.version, actor),
                   ("POST", f"/admin/api/rulesets/{args.id}/versions/{args.version}/activate"))


def cmd_rollback(args: argparse.Namespace) -> int:
    """``rules rollback ID``."""
    return _change(args, lambda store, actor: store.rollback(args.id, actor),
                   ("POST", f"/admin/api/rulesets/{args.id}/rollback"))


def cmd_retire(args: argparse.Namespace) -> int:
    """``rules retire ID VERSION``."""
    return _change(args, lambda store, actor: store.retire(args.id, args.version, actor),
                   ("POST", f"/admin/api/rulesets/{args.id}/versions/{args.version}/retire"))


def cmd_list(args: argparse.Namespace) -> int:
    """``rules list``."""
    if args.server:
        return _remote(args, "GET", "/admin/api/rulesets")
    store = _store(args)
    versions = store.list_versions()
    if args.json:
        print(json.dumps({"generation": store.generation(), "versions": [v.to_json() for v in versions]}, indent=2))
        return EXIT_OK
    if not versions:
        print("no rule sets published")
    for info in versions:
        marker = "*" if info.state == "active" else " "
        print(f"{marker} {info.ruleset_id:<24} {info.version:<12} {info.state:<8} {info.sha256[:16]}  "
              f"{info.published_at:%Y-%m-%d %H:%M} {info.published_by}")
    return EXIT_OK


def _remote(args: argparse.Namespace, method: str, path: str, data: bytes | None = None) -> int:
    """Do the operation through a running service's admin API."""
    import requests

    token = os.environ.get("CDS_ADMIN_TOKEN")
    if not token:
        print("--server needs the admin token in the CDS_ADMIN_TOKEN environment variable", file=sys.stderr)
        return EXIT_FAILED
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/gzip"
    url = args.server.rstrip("/") + path
    try:
        response = requests.request(method, url, data=data, headers=headers, timeout=120)
    except requests.RequestException as exc:
        print(f"cannot reach {args.server}: {type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILED
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        print(f"refused ({response.status_code})", file=sys.stderr)
        for issue in (body or {}).get("issue", []) if isinstance(body, dict) else []:
            print(f"  {issue.get('diagnostics', '')}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(body, indent=2))
    return EXIT_OK
