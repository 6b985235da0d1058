"""Command line for rule authors: evaluate a CQL library on FHIR data.

    cql eval LIBRARY.cql --data BUNDLE.json [--valueset VS.json ...] [--include OTHER.cql ...]
             [--param NAME=CQL ...] [--param-json NAME=FILE.json ...] [--now ISO] [--patient ID]
             [--define NAME ...]

Prints ``name: value`` for each public define (or the ones named with
``--define``), the value as CQL text. ``--valueset`` takes ValueSet files,
Bundles of ValueSets, or folders of such files. ``--param`` values are CQL
expressions (``--param "Hook='patient-view'"``, ``--param "Limit=12"``);
``--param-json`` reads a parameter's value from a JSON file (a FHIR resource, a
list of resources, or a Bundle whose resources make a list). On any error the
message names the file, line and column, and the exit status is 1 (2 for
wrong arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import CqlError
from .library import compile_library, evaluate_expression
from .parser import parse_library
from .values.render import to_cql


class CliError(Exception):
    """A problem with the command's inputs, already located."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise CliError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise CliError(f"{path}: not UTF-8 text: {err}") from None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as err:
        raise CliError(f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None


def _valueset_files(paths: Sequence[str]) -> list[tuple[Path, Any]]:
    out = []
    for name in paths:
        path = Path(name)
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            out.append((file, _read_json(file)))
    return out


def _library_name(path: Path, text: str) -> str:
    try:
        tree = parse_library(text)
    except CqlError as err:
        raise CliError(_located(err, {None: path})) from None
    if tree.name is None:
        raise CliError(f"{path}:1:1: an included library needs a 'library Name version ...' declaration")
    return tree.name


def _located(err: CqlError, files: dict[str | None, Path]) -> str:
    path = files.get(err.library) or files.get(None)
    line = err.line if err.line is not None else 1
    column = err.column if err.column is not None else 1
    where = f"{path}:{line}:{column}" if path is not None else f"{err.library or 'CQL'}:{line}:{column}"
    return f"{where}: {type(err).__name__}: {err.message}"


def _parameters(pairs: Sequence[str], json_pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--param {pair!r}: expected NAME=CQL expression")
        try:
            params[name] = evaluate_expression(text)
        except CqlError as err:
            column = err.column if err.column is not None else 1
            raise CliError(f"--param {name}:1:{column}: {type(err).__name__}: {err.message}") from None
    for pair in json_pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--param-json {pair!r}: expected NAME=FILE.json")
        value = _read_json(Path(file))
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value = [e.get("resource") for e in value.get("entry") or [] if isinstance(e, dict)]
        params[name] = value
    return params


def evaluate_command(args: argparse.Namespace, out: Any) -> int:
    library_path = Path(args.library)
    text = _read_text(library_path)
    files: dict[str | None, Path] = {None: library_path}
    libraries: dict[str, str] = {}
    for name in args.include or []:
        path = Path(name)
        other = _read_text(path)
        lib_name = _library_name(path, other)
        libraries[lib_name] = other
        files[lib_name] = path
    try:
        main_name = parse_library(text).name
    except CqlError as err:
        raise CliError(_located(err, files)) from None
    if main_name is not None:
        files[main_name] = library_path
    data = _read_json(Path(args.data)) if args.data else None
    valuesets = [vs for _, vs in _valueset_files(args.valueset or [])]
    parameters = _parameters(args.param or [], args.param_json or [])
    try:
        library = compile_library(text, libraries=libraries)
        unknown = [p for p in parameters if p not in library.parameters]
        if unknown:
            raise CliError(f"{library_path}: the library has no parameter " + ", ".join(repr(p) for p in unknown))
        names = args.define or None
        if names:
            missing = [n for n in names if n not in library.defines]
            if missing:
                raise CliError(f"{library_path}: the library has no define " + ", ".join(repr(n) for n in missing))
        results = library.evaluate(data, patient_id=args.patient, valuesets=valuesets, parameters=parameters,
                                   now=args.now, defines=names)
    except CqlError as err:
        raise CliError(_located(err, files)) from None
    for name, value in results.items():
        out.write(f"{name}: {to_cql(value)}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cql", description="Evaluate CQL libraries on FHIR R4 data.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    ev = commands.add_parser("eval", help="evaluate a library and print each public define's value")
    ev.add_argument("library", help="the CQL library file")
    ev.add_argument("--data", help="FHIR data: a Bundle, or a JSON list of resources")
    ev.add_argument("--valueset", action="append", metavar="FILE_OR_DIR",
                    help="a FHIR ValueSet (or Bundle of them, or a folder of them); repeatable")
    ev.add_argument("--include", action="append", metavar="FILE", help="a library the main one includes; repeatable")
    ev.add_argument("--param", action="append", metavar="NAME=CQL",
                    help="a parameter value as a CQL expression; repeatable")
    ev.add_argument("--param-json", action="append", metavar="NAME=FILE",
                    help="a parameter value from JSON (FHIR resources); repeatable")
    ev.add_argument("--now", help="the evaluation date/time (ISO 8601; default: now)")
    ev.add_argument("--patient", help="id of the context patient (default: the only Patient in the data)")
    ev.add_argument("--define", action="append", metavar="NAME", help="evaluate only this define; repeatable")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "eval":
            return evaluate_command(args, sys.stdout)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
