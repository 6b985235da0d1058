"""String operators and regular expressions (cql/operators/string.py).

CQL strings in these expressions are written with Python raw strings so that
``'\\d'`` in the CQL text is the regex ``\\d`` after CQL unescaping.
"""

from __future__ import annotations

import pytest

from cql.errors import CqlRuntimeError, CqlUnsupportedError
from cql.library import evaluate_expression
from cql.operators.string import compile_pattern

NOW = "2024-01-15T10:00:00.000+00:00"


def ev(text: str):
    return evaluate_expression(text, now=NOW)


@pytest.mark.parametrize("text, expected", [
    ("'a' + 'b'", "ab"),
    ("'a' + null", None),
    ("'a' & null & 'b'", "ab"),
    ("Concatenate('a', 'b', 'c', 'd')", "abcd"),
    ("Concatenate('a', null, 'c')", None),
    ("Combine({'A', 'B', 'C', null})", "ABC"),
    ("Combine({'A', 'B'}, ', ')", "A, B"),
    ("Combine({'A', 'B'}, null)", "AB"),       # a null separator is ignored
    ("Combine({null, null})", None),            # nothing left once nulls are ignored
    ("Combine({}, '-')", None),
    ("Combine(null as List<String>, '-')", None),
])
def test_concatenate_and_combine(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Split('A B C', ' ')", ["A", "B", "C"]),
    ("Split('A B C', ',')", ["A B C"]),
    ("Split('a,,b,', ',')", ["a", "", "b", ""]),
    ("Split('a::b', '::')", ["a", "b"]),
    ("Split('a.b', '.')", ["a", "b"]),          # the separator is not a pattern
    ("Split('abc', '')", ["a", "b", "c"]),
    ("Split('', ',')", [""]),
    ("Split('a,b', null)", ["a,b"]),
    ("Split(null, ',')", None),
    (r"SplitOnMatches('a1b22c', '\\d+')", ["a", "b", "c"]),
    (r"SplitOnMatches('a1b2c', '(\\d)')", ["a", "b", "c"]),   # groups are not returned
    (r"SplitOnMatches('abc', '\\d')", ["abc"]),
    ("SplitOnMatches('abc', '')", ["a", "b", "c"]),
    ("SplitOnMatches('a b', null)", ["a b"]),
    ("SplitOnMatches(null, ',')", None),
])
def test_split(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Substring('ABCDE', 2)", "CDE"),
    ("Substring('ABCDE', 2, 1)", "C"),
    ("Substring('ABCDE', 4, 10)", "E"),
    ("Substring('ABCDE', 2, 0)", ""),
    ("Substring('ABCDE', 2, -1)", None),
    ("Substring('ABCDE', 2, null)", "CDE"),
    ("Substring('ABCDE', 5)", None),
    ("Substring('ABCDE', -1)", None),
    ("Substring('', 0)", ""),
    ("Substring('', 1)", None),
    ("Substring('ABCDE', null)", None),
    ("'ABCDE'[2]", "C"),
    ("'ABCDE'[5]", None),
    ("'ABCDE'[-1]", None),
    ("PositionOf('B', 'ABCDEDCBA')", 1),
    ("LastPositionOf('B', 'ABCDEDCBA')", 7),
    ("PositionOf('Z', 'ABCDE')", -1),
    ("PositionOf('', 'ABC')", 0),
    ("LastPositionOf(null, 'ABC')", None),
    ("StartsWith('ABC', '')", True),
    ("EndsWith('ABC', '')", True),
    ("EndsWith('ABC', 'BC')", True),
    ("StartsWith('ABC', 'abc')", False),
    ("Length('ABCDE')", 5),
    ("Length('')", 0),
    ("Length(null as String)", None),
    ("Upper('straße')", "STRASSE"),
    ("Lower('ÀB')", "àb"),
])
def test_string_functions(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("text, expected", [
    # partial matching; ^ and $ anchor to the whole string
    (r"Matches('1,2three', '\\d,\\d\\w+')", True),
    (r"Matches('1,2three', '\\w+')", True),
    (r"Matches('1,2three', '^\\w+$')", False),
    ("Matches('http://fhir.org/guides/cqf/common/Library/FHIR-ModelInfo|4.0.1', 'Library')", True),
    ("Matches('abc', 'ABC')", False),                       # case-sensitive
    ("Matches('abc', '(?i)ABC')", True),
    ("Matches('xABC', 'x(?i)abc')", True),                  # flags in mid-pattern
    ("Matches('XABC', 'x(?i)abc')", False),
    ("Matches('xAbC', 'x(?i:a)bC')", True),
    ("Matches('xAbc', 'x(?i:a)bC')", False),
    (r"Matches('a\nb', '^a.b$')", True),                    # single line mode
    (r"Matches('é', '^\\w$')", False),                      # \w is ASCII, as in Java
    (r"Matches('٣', '\\d')", False),
    (r"Matches('a b', 'a\\sb')", True),
    ("Matches('abc', '\\\\p{Alpha}+')", True),
    (r"Matches('abc1', '^\\p{Alpha}+$')", False),
    (r"Matches('ABC', '^\\p{Upper}+$')", True),
    (r"Matches('a1', '^[\\p{Alpha}\\p{Digit}]+$')", True),
    (r"Matches('a.b', '\\Qa.b\\E')", True),
    (r"Matches('axb', '\\Qa.b\\E')", False),
    (r"Matches('aa', '(?<c>a)\\k<c>')", True),
    (r"Matches('ab', '(?<c>a)\\k<c>')", False),
    ("Matches('b', '[a[bc]]')", True),                      # nested classes are a union
    ("Matches('d', '[a[bc]]')", False),
    ("Matches('|', '^[a|b]$')", True),
    (r"Matches('ab', 'b\\z')", True),
    ("Matches('ab\n', 'b\\\\Z')", True),
    (r"Matches(' ', '\\h')", True),
    (r"Matches('\t', '\\v')", False),                        # \v is vertical whitespace in Java
    (r"Matches('\n', '\\v')", True),
    (r"Matches('A', '\\x{41}')", True),
    (r"Matches('A', '\\0101')", True),                       # Java octal
    ("Matches('aaa', 'a++')", True),                         # possessive quantifier
    ("Matches(null, 'a')", None),
])
def test_matches(text, expected):
    assert ev(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("ReplaceMatches('ABCDE', 'C', 'XYZ')", "ABXYZDE"),
    ("ReplaceMatches('ABCDE', 'XYZ', '123')", "ABCDE"),
    ("ReplaceMatches('ABCDE', 'C', null)", None),
    (r"ReplaceMatches('All that glitters', '\\s', '\\$')", "All$that$glitters"),
    ("ReplaceMatches('abc', '(b)', '[$1]')", "a[b]c"),
    ("ReplaceMatches('abc', '(b)', '[$0$1]')", "a[bb]c"),
    ("ReplaceMatches('abc', '(?<x>b)', '<${x}>')", "a<b>c"),
    ("ReplaceMatches('abc', '(b)', '$10')", "ab0c"),          # $1 then '0': there is no group 10
    ("ReplaceMatches('abc', '(b)|(z)', '[$2]')", "a[]c"),     # a group that did not match is empty
    (r"ReplaceMatches('a.b', '\\.', '\\n')", "anb"),           # backslash quotes the next character
    (r"ReplaceMatches('a.b', '\\.', '\\\\')", "a\\b"),
    ("ReplaceMatches('abc', 'x*', '-')", "-a-b-c-"),
])
def test_replace_matches(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("substitution", [r"'$2'", r"'${y}'", r"'$'", r"'$x'", r"'a\\'"])
def test_bad_substitutions(substitution):
    with pytest.raises(CqlRuntimeError, match="substitution"):
        ev(f"ReplaceMatches('abc', '(b)', {substitution})")


@pytest.mark.parametrize("pattern", ["[", "(abc", "a{2,1}", "*a", "(?<1x>a)", "\\", "a\\", "(?Q)"])
def test_invalid_patterns(pattern):
    with pytest.raises(CqlRuntimeError, match="Invalid regular expression"):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"\p{L}", r"[a-z&&[^b]]", r"\G", r"\R", r"(?U)a", r"[^a[^b]]", r"x(?i)a|b"])
def test_unsupported_patterns(pattern):
    with pytest.raises(CqlUnsupportedError):
        compile_pattern(pattern)


def test_invalid_pattern_at_run_time_is_a_runtime_error():
    with pytest.raises(CqlRuntimeError, match="Invalid regular expression"):
        ev("Matches('abc', '(')")
