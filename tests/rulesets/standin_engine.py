"""A tiny stand-in for the CQL engine's library API (docs/seams.md), for tests of
the rule-set machinery that must not depend on the real engine's coverage.

It understands just enough CQL for small test libraries: the library header,
``valueset``, ``parameter``, and ``define`` statements whose expressions use
``and``, ``or``, ``not``, ``=``, ``exists [Type]``, ``exists [Type: "VS"]``,
``Count([Type])``, literals, lists of strings and references to other defines
and parameters, plus ``Refs("Draft Orders")`` (the "Type/id" strings of a list
of resources). Anything else is a CqlSyntaxError with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cql import CqlSemanticError, CqlSyntaxError


@dataclass(frozen=True)
class DefineInfo:
    name: str
    type: str
    public: bool
    line: int


@dataclass(frozen=True)
class ValueSetInfo:
    name: str
    id: str
    version: str | None
    line: int


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    type: str
    has_default: bool
    line: int


_TOKEN = re.compile(r'\s*(?:(?P<str>\'[^\']*\')|(?P<qid>"[^"]*")|(?P<num>\d+(?:\.\d+)?)|'
                    r'(?P<op>[\[\]\(\)\{\},:=])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))')


class _Parser:
    def __init__(self, text: str, line: int, lib: StandInLibrary) -> None:
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise CqlSyntaxError(f"unexpected text {text[pos:pos + 10]!r}", line, pos + 1)
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.line = line
        self.lib = lib

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise CqlSyntaxError(f"expected {value or 'more'}", self.line)
        self.i += 1
        return tok

    def parse(self) -> tuple[Any, str]:
        node = self.expr()
        if self.peek() is not None:
            raise CqlSyntaxError(f"unexpected {self.peek()[1]!r}", self.line)
        return node

    def expr(self) -> tuple[Any, str]:
        left = self.conj()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.conj()
            left = (lambda a, b: lambda env: _or(a(env), b(env)))(left[0], right[0]), "System.Boolean"
        return left

    def conj(self) -> tuple[Any, str]:
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda env: _and(a(env), b(env)))(left[0], right[0]), "System.Boolean"
        return left

    def unary(self) -> tuple[Any, str]:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.unary()
            return (lambda a: lambda env: None if a(env) is None else not a(env))(inner[0]), "System.Boolean"
        left = self.primary()
        if self.peek() == ("op", "="):
            self.take()
            right = self.primary()
            return (lambda a, b: lambda env: a(env) == b(env))(left[0], right[0]), "System.Boolean"
        return left

    def primary(self) -> tuple[Any, str]:
        kind, value = self.take()
        if kind == "str":
            return (lambda env: value[1:-1]), "System.String"
        if kind == "num":
            return ((lambda env: int(value)), "System.Integer") if "." not in value else (
                (lambda env: __import__("decimal").Decimal(value)), "System.Decimal")
        if kind == "qid":
            name = value[1:-1]
            if name in self.lib.defines:
                return (lambda env: env["defines"][name]), self.lib.defines[name].type
            if name in self.lib.parameters:
                return (lambda env: env["parameters"].get(name)), self.lib.parameters[name].type
            raise CqlSemanticError(f"could not resolve identifier {name}", self.line)
        if kind == "op" and value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "op" and value == "{":
            items = []
            while self.peek() != ("op", "}"):
                items.append(self.take()[1][1:-1])
                if self.peek() == ("op", ","):
                    self.take()
            self.take("}")
            return (lambda env: list(items)), "List<System.String>"
        if kind == "word":
            if value in ("true", "false"):
                return (lambda env: value == "true"), "System.Boolean"
            if value == "null":
                return (lambda env: None), "System.Any"
            if value == "exists":
                retrieve = self.retrieve()
                return (lambda env: len(retrieve(env)) > 0), "System.Boolean"
            if value == "Count":
                self.take("(")
                retrieve = self.retrieve()
                self.take(")")
                return (lambda env: len(retrieve(env))), "System.Integer"
            if value == "Refs":
                self.take("(")
                inner = self.primary()
                self.take(")")
                return (lambda env: [f"{r['resourceType']}/{r['id']}" for r in inner[0](env) or []]), \
                    "List<System.String>"
        raise CqlSyntaxError(f"unexpected {value!r}", self.line)

    def retrieve(self) -> Any:
        if self.peek() == ("op", "("):
            self.take("(")
            inner = self.retrieve()
            self.take(")")
            return inner
        if self.peek() and self.peek()[0] == "qid":
            node, _ = self.primary()
            return lambda env: node(env) or []
        self.take("[")
        rtype = self.take()[1]
        vs = None
        if self.peek() == ("op", ":"):
            self.take(":")
            vs = self.take()[1][1:-1]
            if vs not in self.lib.valuesets:
                raise CqlSemanticError(f"could not resolve value set {vs}", self.line)
        self.take("]")

        def run(env: dict) -> list:
            found = [r for r in env["data"] if r.get("resourceType") == rtype]
            if vs is None:
                return found
            url = self.lib.valuesets[vs].id
            codes = env["codes"].get(url)
            if codes is None:
                from cql import CqlRuntimeError
                raise CqlRuntimeError(f"value set {url} was not provided")
            return [r for r in found if _codes(r) & codes]

        return run


def _codes(resource: dict) -> set[tuple[str, str]]:
    out = set()
    for key in ("code", "medicationCodeableConcept"):
        for coding in (resource.get(key) or {}).get("coding", []):
            out.add((coding.get("system"), coding.get("code")))
    return out


def _and(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


_HEADER = re.compile(r"^library\s+(\w+)\s+version\s+'([^']+)'\s*$")
_VALUESET = re.compile(r'^valueset\s+"([^"]+)"\s*:\s*\'([^\']+)\'(?:\s+version\s+\'([^\']+)\')?\s*$')
_PARAMETER = re.compile(r'^parameter\s+"([^"]+)"\s+([A-Za-z<>.]+)(?:\s+default\s+(.+))?$')
_DEFINE = re.compile(r'^define\s+(private\s+)?"([^"]+)"\s*:\s*(.*)$')
_TYPES = {"String": "System.String", "Integer": "System.Integer", "Boolean": "System.Boolean",
          "Decimal": "System.Decimal"}


class StandInLibrary:
    def __init__(self, text: str) -> None:
        self.name = self.version = None
        self.defines: dict[str, DefineInfo] = {}
        self.valuesets: dict[str, ValueSetInfo] = {}
        self.parameters: dict[str, ParameterInfo] = {}
        self._exprs: dict[str, Any] = {}
        self._defaults: dict[str, Any] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith(("using", "context", "include", "codesystem")):
                continue
            if m := _HEADER.match(line):
                self.name, self.version = m.group(1), m.group(2)
            elif m := _VALUESET.match(line):
                self.valuesets[m.group(1)] = ValueSetInfo(m.group(1), m.group(2), m.group(3), number)
            elif m := _PARAMETER.match(line):
                type_text = _TYPES.get(m.group(2), m.group(2).replace("List<MedicationRequest>",
                                                                      "List<FHIR.MedicationRequest>"))
                self.parameters[m.group(1)] = ParameterInfo(m.group(1), type_text, m.group(3) is not None, number)
                if m.group(3) is not None:
                    self._defaults[m.group(1)] = _Parser(m.group(3), number, self).parse()[0]
            elif m := _DEFINE.match(line):
                name = m.group(2)
                expr, type_text = _Parser(m.group(3), number, self).parse()
                self.defines[name] = DefineInfo(name, type_text, m.group(1) is None, number)
                self._exprs[name] = expr
            else:
                raise CqlSyntaxError(f"cannot parse {line[:30]!r}", number, 1)
        if self.name is None:
            raise CqlSyntaxError("missing library header", 1, 1)

    def evaluate(self, data: Any, patient_id: str | None = None, valuesets: Any = (),
                 parameters: dict | None = None, now: str | None = None) -> dict[str, Any]:
        resources = data if isinstance(data, list) else [e["resource"] for e in data.get("entry", [])]
        codes: dict[str, set] = {}
        for vs in valuesets:
            codes[vs["url"]] = {(c.get("system"), c.get("code"))
                                for c in (vs.get("expansion") or {}).get("contains", [])}
        env: dict[str, Any] = {"data": resources, "codes": codes, "defines": {}, "parameters": {}}
        for name, default in self._defaults.items():
            env["parameters"][name] = default(env)
        env["parameters"].update(parameters or {})
        for name, expr in self._exprs.items():
            env["defines"][name] = expr(env)
        return {name: value for name, value in env["defines"].items() if self.defines[name].public}


def compile_library(text: str, libraries: dict | None = None) -> StandInLibrary:
    """The engine API's entry point."""
    return StandInLibrary(text)


def evaluate_expression(text: str) -> Any:
    return _Parser(text, 1, StandInLibrary("library X version '0'")).parse()[0]({})
