"""``cds-hooks rules ...``: author, check, publish and manage rule-set versions."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rules`` command and its subcommands to the main parser."""
    rules = subparsers.add_parser("rules", help="validate, test, publish and manage rule sets")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    validate = sub.add_parser("validate", help="check a rule-set version folder")
    validate.add_argument("path")
    validate.set_defaults(func=_not_implemented)


def _not_implemented(args: argparse.Namespace) -> int:
    raise NotImplementedError("rules commands are being written")
