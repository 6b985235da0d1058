"""Recursive-descent parser for CQL 1.5 (libraries and single expressions).

Written by hand after the reference grammar (cql.g4 with fhirpath.g4):
operator precedence follows the grammar's alternative order, from the
tightest (terms, member access) to the loosest (``union``/``intersect``/
``except``/``|``). Many keywords are also identifiers in some positions; the
parser decides from context, as the grammar's ``keywordIdentifier`` and
``functionIdentifier`` rules allow.
"""

from __future__ import annotations

from . import ast
from .errors import CqlSyntaxError, CqlUnsupportedError
from .lexer import (
    DATE,
    DATETIME,
    EOF,
    IDENT,
    LONG,
    NUMBER,
    QIDENT,
    SPECIAL,
    STRING,
    SYMBOL,
    TIME,
    Token,
    tokenize,
)

# Words that may never be used as plain identifiers (aliases, define names).
KEYWORDS = frozenset("""
    after aggregate all and as asc ascending before between by called case cast code Code codesystem
    codesystems collapse concept Concept contains context convert date day days default define desc
    descending difference display distinct div duration during else end ends except exists expand false
    flatten fluent from function hour hours if implies in include includes intersect Interval is let
    library List maximum meets millisecond milliseconds minimum minute minutes mod month months not
    null occurs of or overlaps parameter per point predecessor private properly public return same
    second seconds singleton sort start starting starts successor such then time timezoneoffset to true
    Tuple union using valueset version week weeks where when width with within without xor year years
""".split())

# Keywords that may still name things in a referential position (grammar: keywordIdentifier).
KEYWORD_IDENTIFIERS = frozenset("""
    asc ascending by called code codesystem codesystems concept contains context date default define
    desc descending display div end ends except fluent function implies include includes intersect
    library meets mod overlaps parameter predecessor private public start starting starts successor
    time timezoneoffset union using valueset version where width xor
""".split())

PRECISIONS = ("year", "month", "week", "day", "hour", "minute", "second", "millisecond")
PLURAL_PRECISIONS = {p + "s": p for p in PRECISIONS}
CALENDAR_UNITS = frozenset(PRECISIONS) | frozenset(PLURAL_PRECISIONS)
COMPONENTS = frozenset(PRECISIONS) | {"date", "time", "timezoneoffset"}

# Levels of the `expression` rule, loosest first (higher binds tighter).
L_SET, L_IMPLIES, L_OR, L_AND, L_MEMBER, L_EQUAL, L_TIMING, L_COMPARE, L_BETWEEN = range(1, 10)
L_EXISTS, L_NOT, L_CAST, L_TYPE, L_ISNULL = range(10, 15)
# Levels of the `expressionTerm` rule.
T_ADD, T_MUL, T_POW, T_EXTRACT, T_POLARITY = range(1, 6)

_SET_OPS = {"union", "intersect", "except", "|"}
_COMPARE_OPS = {"<", "<=", ">", ">="}
_EQUAL_OPS = {"=", "!=", "~", "!~"}
_STATEMENT_WORDS = frozenset(
    {"define", "context", "parameter", "valueset", "codesystem", "code", "concept", "include", "using",
     "public", "private", "library"})


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[Token] = tokenize(text)
        self.i = 0
        self._paren: ast.Expr | None = None  # the last parenthesized expression (a valid query source)

    # ------------------------------------------------------------ token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, n: int = 1) -> Token:
        j = self.i + n
        return self.tokens[j] if j < len(self.tokens) else self.tokens[-1]

    def loc(self, tok: Token | None = None) -> ast.Loc:
        tok = tok or self.tok
        return (tok.line, tok.col)

    def error(self, message: str, tok: Token | None = None) -> CqlSyntaxError:
        tok = tok or self.tok
        return CqlSyntaxError(message, tok.line, tok.col)

    def describe(self, tok: Token) -> str:
        if tok.kind == EOF:
            return "end of input"
        if tok.kind == STRING:
            return f"string '{tok.text}'"
        if tok.kind == QIDENT:
            return f'identifier "{tok.text}"'
        return f"'{tok.text}'"

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def is_word(self, word: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == IDENT and tok.text == word

    def is_sym(self, sym: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == SYMBOL and tok.text == sym

    def accept_word(self, word: str) -> bool:
        if self.is_word(word):
            self.i += 1
            return True
        return False

    def accept_sym(self, sym: str) -> bool:
        if self.is_sym(sym):
            self.i += 1
            return True
        return False

    def expect_word(self, word: str) -> Token:
        if not self.is_word(word):
            raise self.error(f"expected '{word}' but found {self.describe(self.tok)}")
        return self.advance()

    def expect_sym(self, sym: str) -> Token:
        if not self.is_sym(sym):
            raise self.error(f"expected '{sym}' but found {self.describe(self.tok)}")
        return self.advance()

    def expect_string(self) -> str:
        if self.tok.kind != STRING:
            raise self.error(f"expected a string but found {self.describe(self.tok)}")
        return self.advance().text

    def is_plain_identifier(self, tok: Token | None = None) -> bool:
        """An `identifier` in the grammar: not a keyword, or quoted."""
        tok = tok or self.tok
        return tok.kind == QIDENT or (tok.kind == IDENT and tok.text not in KEYWORDS)

    def is_referential(self, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return self.is_plain_identifier(tok) or (tok.kind == IDENT and tok.text in KEYWORD_IDENTIFIERS)

    def identifier(self) -> str:
        if not self.is_plain_identifier():
            raise self.error(f"expected an identifier but found {self.describe(self.tok)}")
        return self.advance().text

    def referential_identifier(self) -> str:
        if not self.is_referential():
            raise self.error(f"expected an identifier but found {self.describe(self.tok)}")
        return self.advance().text

    def any_identifier(self) -> str:
        """identifierOrFunctionIdentifier / member names: any identifier or keyword."""
        if self.tok.kind not in (IDENT, QIDENT):
            raise self.error(f"expected an identifier but found {self.describe(self.tok)}")
        return self.advance().text

    # ------------------------------------------------------------ library

    def parse_library(self) -> ast.Library:
        lib = ast.Library(loc=self.loc())
        if self.accept_word("library"):
            lib.name = self.qualified_name()
            if self.accept_word("version"):
                lib.version = self.expect_string()
        context: str | None = None
        while self.tok.kind != EOF:
            start = self.tok
            access = "public"
            if self.is_word("public") or self.is_word("private"):
                access = self.advance().text
            word = self.tok.text if self.tok.kind == IDENT else None
            if word == "using" and access == "public" and self.tok is start:
                self.advance()
                model = self.identifier()
                version = self.expect_string() if self.accept_word("version") else None
                lib.usings.append(ast.UsingDef(model, version, loc=self.loc(start)))
            elif word == "include" and self.tok is start:
                self.advance()
                path = self.qualified_name()
                version = self.expect_string() if self.accept_word("version") else None
                alias = self.identifier() if self.accept_word("called") else path.split(".")[-1]
                lib.includes.append(ast.IncludeDef(path, version, alias, loc=self.loc(start)))
            elif word == "codesystem":
                self.advance()
                name = self.identifier()
                self.expect_sym(":")
                cs_id = self.expect_string()
                version = self.expect_string() if self.accept_word("version") else None
                lib.codesystems.append(ast.CodeSystemDef(name, cs_id, version, access, loc=self.loc(start)))
            elif word == "valueset":
                self.advance()
                name = self.identifier()
                self.expect_sym(":")
                vs_id = self.expect_string()
                version = self.expect_string() if self.accept_word("version") else None
                systems: list[tuple[str | None, str]] = []
                if self.accept_word("codesystems"):
                    self.expect_sym("{")
                    systems.append(self.library_qualified_name())
                    while self.accept_sym(","):
                        systems.append(self.library_qualified_name())
                    self.expect_sym("}")
                lib.valuesets.append(ast.ValueSetDef(name, vs_id, version, systems, access, loc=self.loc(start)))
            elif word == "code":
                self.advance()
                name = self.identifier()
                self.expect_sym(":")
                code = self.expect_string()
                self.expect_word("from")
                system = self.library_qualified_name()
                display = self.expect_string() if self.accept_word("display") else None
                lib.codes.append(ast.CodeDef(name, code, system, display, access, loc=self.loc(start)))
            elif word == "concept":
                self.advance()
                name = self.identifier()
                self.expect_sym(":")
                self.expect_sym("{")
                codes = [self.library_qualified_name()]
                while self.accept_sym(","):
                    codes.append(self.library_qualified_name())
                self.expect_sym("}")
                display = self.expect_string() if self.accept_word("display") else None
                lib.concepts.append(ast.ConceptDef(name, codes, display, access, loc=self.loc(start)))
            elif word == "parameter":
                self.advance()
                name = self.identifier()
                type_spec = None
                if not self.is_word("default") and self.starts_type_spec():
                    type_spec = self.type_specifier()
                default = self.parse_expression() if self.accept_word("default") else None
                lib.parameters.append(ast.ParameterDef(name, type_spec, default, access, loc=self.loc(start)))
            elif word == "context" and self.tok is start:
                self.advance()
                name = self.identifier()
                model = None
                if self.accept_sym("."):
                    model, name = name, self.identifier()
                context = name
                lib.statements.append(ast.ContextDef(model, name, loc=self.loc(start)))
            elif word == "define":
                self.advance()
                if self.is_word("public") or self.is_word("private"):
                    access = self.advance().text
                fluent = self.accept_word("fluent")
                if self.accept_word("function"):
                    lib.statements.append(self.function_definition(access, fluent, context, start))
                elif fluent:
                    raise self.error("expected 'function' after 'fluent'")
                else:
                    name = self.identifier()
                    self.expect_sym(":")
                    expr = self.parse_expression()
                    lib.statements.append(ast.ExpressionDef(name, expr, access, context, loc=self.loc(start)))
            else:
                raise self.error(f"expected a definition but found {self.describe(self.tok)}")
        return lib

    def function_definition(self, access: str, fluent: bool, context: str | None,
                            start: Token) -> ast.FunctionDef:
        name = self.any_identifier()
        self.expect_sym("(")
        operands: list[tuple[str, ast.TypeSpec]] = []
        if not self.is_sym(")"):
            while True:
                op_name = self.referential_identifier()
                operands.append((op_name, self.type_specifier()))
                if not self.accept_sym(","):
                    break
        self.expect_sym(")")
        return_type = self.type_specifier() if self.accept_word("returns") else None
        self.expect_sym(":")
        body = None if self.accept_word("external") else self.parse_expression()
        return ast.FunctionDef(name, operands, return_type, body, fluent, access, context, loc=self.loc(start))

    def qualified_name(self) -> str:
        parts = [self.identifier()]
        while self.is_sym(".") and self.is_plain_identifier(self.peek()):
            self.advance()
            parts.append(self.identifier())
        return ".".join(parts)

    def library_qualified_name(self) -> tuple[str | None, str]:
        first = self.referential_identifier()
        if self.accept_sym("."):
            return first, self.referential_identifier()
        return None, first

    # ------------------------------------------------------------ type specifiers

    def starts_type_spec(self) -> bool:
        tok = self.tok
        if tok.kind == QIDENT:
            return True
        return tok.kind == IDENT and tok.text not in _STATEMENT_WORDS

    def type_specifier(self) -> ast.TypeSpec:
        start = self.tok
        if self.is_word("List") and self.is_sym("<", self.peek()):
            self.advance()
            self.advance()
            element = self.type_specifier()
            self.expect_sym(">")
            return ast.ListTypeSpec(element, loc=self.loc(start))
        if self.is_word("Interval") and self.is_sym("<", self.peek()):
            self.advance()
            self.advance()
            point = self.type_specifier()
            self.expect_sym(">")
            return ast.IntervalTypeSpec(point, loc=self.loc(start))
        if self.is_word("Tuple") and self.is_sym("{", self.peek()):
            self.advance()
            self.advance()
            elements: list[tuple[str, ast.TypeSpec]] = []
            while True:
                name = self.any_identifier()
                self.accept_sym(":")  # CQL before 1.4 separated name and type with a colon
                elements.append((name, self.type_specifier()))
                if not self.accept_sym(","):
                    break
            self.expect_sym("}")
            return ast.TupleTypeSpec(elements, loc=self.loc(start))
        if self.is_word("Choice") and self.is_sym("<", self.peek()):
            self.advance()
            self.advance()
            choices = [self.type_specifier()]
            while self.accept_sym(","):
                choices.append(self.type_specifier())
            self.expect_sym(">")
            return ast.ChoiceTypeSpec(choices, loc=self.loc(start))
        return self.named_type_specifier()

    def named_type_specifier(self) -> ast.NamedTypeSpec:
        start = self.tok
        parts = [self.any_identifier()]
        while self.is_sym(".") and self.peek().kind in (IDENT, QIDENT):
            self.advance()
            parts.append(self.any_identifier())
        return ast.NamedTypeSpec(tuple(parts[:-1]), parts[-1], loc=self.loc(start))

    # ------------------------------------------------------------ expressions

    def parse_expression(self, min_level: int = 0) -> ast.Expr:
        left = self.parse_prefix()
        while True:
            tok = self.tok
            start_loc = self.loc(tok)
            if tok.kind == IDENT:
                word = tok.text
                if word == "is" and L_ISNULL >= min_level:
                    nxt = self.peek()
                    negated = self.is_word("not", nxt)
                    test_tok = self.peek(2) if negated else nxt
                    if test_tok.kind == IDENT and test_tok.text in ("null", "true", "false"):
                        self.i += 3 if negated else 2
                        left = ast.BooleanTest(left, test_tok.text, negated, loc=start_loc)
                        continue
                    if L_TYPE >= min_level and not negated:
                        self.advance()
                        left = ast.TypeTest(left, self.type_specifier(), loc=start_loc)
                        continue
                    break
                if word == "as" and L_TYPE >= min_level:
                    self.advance()
                    left = ast.As(left, self.type_specifier(), False, loc=start_loc)
                    continue
                if (word == "between" or (word == "properly" and self.is_word("between", self.peek()))) \
                        and L_BETWEEN >= min_level:
                    properly = self.accept_word("properly")
                    self.expect_word("between")
                    low = self.parse_term_expr()
                    self.expect_word("and")
                    high = self.parse_term_expr()
                    left = ast.Between(left, low, high, properly, loc=start_loc)
                    continue
                if L_TIMING >= min_level:
                    phrase = self.try_timing_phrase()
                    if phrase is not None:
                        right = self.parse_expression(L_TIMING + 1)
                        left = ast.Timing(left, phrase, right, loc=start_loc)
                        continue
                if word in ("in", "contains") and L_MEMBER >= min_level:
                    self.advance()
                    precision = self.try_precision_of()
                    right = self.parse_expression(L_MEMBER + 1)
                    left = ast.Binary(word, left, right, precision, loc=start_loc)
                    continue
                if word == "and" and L_AND >= min_level:
                    self.advance()
                    left = ast.Binary("and", left, self.parse_expression(L_AND + 1), loc=start_loc)
                    continue
                if word in ("or", "xor") and L_OR >= min_level:
                    self.advance()
                    left = ast.Binary(word, left, self.parse_expression(L_OR + 1), loc=start_loc)
                    continue
                if word == "implies" and L_IMPLIES >= min_level:
                    self.advance()
                    left = ast.Binary("implies", left, self.parse_expression(L_IMPLIES + 1), loc=start_loc)
                    continue
                if word in _SET_OPS and L_SET >= min_level:
                    self.advance()
                    left = ast.Binary(word, left, self.parse_expression(L_SET + 1), loc=start_loc)
                    continue
                break
            if tok.kind == SYMBOL:
                sym = tok.text
                if sym in _COMPARE_OPS and L_COMPARE >= min_level:
                    self.advance()
                    left = ast.Binary(sym, left, self.parse_expression(L_COMPARE + 1), loc=start_loc)
                    continue
                if sym in _EQUAL_OPS and L_EQUAL >= min_level:
                    self.advance()
                    left = ast.Binary(sym, left, self.parse_expression(L_EQUAL + 1), loc=start_loc)
                    continue
                if sym == "|" and L_SET >= min_level:
                    self.advance()
                    left = ast.Binary("union", left, self.parse_expression(L_SET + 1), loc=start_loc)
                    continue
                break
            if tok.kind == NUMBER and L_TIMING >= min_level:
                phrase = self.try_timing_phrase()
                if phrase is not None:
                    right = self.parse_expression(L_TIMING + 1)
                    left = ast.Timing(left, phrase, right, loc=start_loc)
                    continue
            break
        return left

    def parse_prefix(self) -> ast.Expr:
        tok = self.tok
        start_loc = self.loc(tok)
        if tok.kind == IDENT:
            word = tok.text
            if word == "not":
                self.advance()
                return ast.Unary("not", self.parse_expression(L_NOT), loc=start_loc)
            if word == "exists":
                self.advance()
                return ast.Unary("exists", self.parse_expression(L_EXISTS), loc=start_loc)
            if word == "cast":
                self.advance()
                operand = self.parse_expression(L_ISNULL)
                self.expect_word("as")
                return ast.As(operand, self.type_specifier(), True, loc=start_loc)
            if word in PLURAL_PRECISIONS and self.is_word("between", self.peek()):
                self.advance()
                return self.between_tail("duration", PLURAL_PRECISIONS[word], start_loc)
            if word in ("duration", "difference") and self.is_word("in", self.peek()) \
                    and self.peek(2).text in PLURAL_PRECISIONS and self.is_word("between", self.peek(3)):
                self.i += 3
                return self.between_tail(word, PLURAL_PRECISIONS[self.tokens[self.i - 1].text], start_loc)
            if word == "from":
                self.advance()
                return self.parse_query(self.aliased_source(), multi=True)
        self._paren = None
        expr = self.parse_term_expr()
        if self.is_query_source(expr) and self.is_plain_identifier() and not self._starts_multiword_keyword():
            alias_tok = self.tok
            alias = self.advance().text
            source = ast.AliasedSource(expr, alias, loc=self.loc(alias_tok))
            return self.parse_query(source, multi=False)
        return expr

    def _starts_multiword_keyword(self) -> bool:
        # 'less than', 'more than' and 'on or' are single keywords in the grammar,
        # so their first word can't be taken for a query alias.
        tok, nxt = self.tok, self.peek()
        return tok.kind == IDENT and (tok.text in ("less", "more") and self.is_word("than", nxt)
                                      or tok.text == "on" and self.is_word("or", nxt))

    def between_tail(self, kind: str, precision: str, start_loc: ast.Loc) -> ast.Expr:
        self.expect_word("between")
        low = self.parse_term_expr()
        self.expect_word("and")
        high = self.parse_term_expr()
        return ast.DurationBetween(kind, precision, low, high, loc=start_loc)

    def is_query_source(self, expr: ast.Expr) -> bool:
        # The grammar allows a retrieve, a qualified identifier or a parenthesized
        # expression; member access on a parenthesized expression is accepted too
        # (`(X as Y).items I`), which is unambiguous.
        if isinstance(expr, ast.Retrieve):
            return True
        while isinstance(expr, ast.Member):
            expr = expr.source
        return isinstance(expr, ast.Identifier) or expr is self._paren

    # ------------------------------------------------------------ timing phrases

    def try_precision_of(self) -> str | None:
        if self.tok.kind == IDENT and self.tok.text in PRECISIONS and self.is_word("of", self.peek()):
            precision = self.tok.text
            self.i += 2
            return precision
        return None

    def _phrase_body_starts(self, tok: Token, nxt: Token) -> bool:
        if tok.kind == NUMBER:
            return True
        if tok.kind != IDENT:
            return False
        word = tok.text
        if word in ("same", "during", "before", "after", "within"):
            return True
        if word == "properly":
            return not self.is_word("between", nxt)
        if word == "included":
            return self.is_word("in", nxt)
        if word == "on":
            return self.is_word("or", nxt)
        if word in ("less", "more"):
            return self.is_word("than", nxt)
        return False

    def try_timing_phrase(self) -> ast.TimingPhrase | None:
        save = self.i
        start_loc = self.loc()
        tok = self.tok
        prefix = None
        if tok.kind == IDENT and tok.text in ("starts", "ends", "occurs"):
            if self._phrase_body_starts(self.peek(), self.peek(2)):
                prefix = tok.text
                self.advance()
            elif tok.text in ("starts", "ends"):
                self.advance()
                return ast.TimingPhrase(tok.text, precision=self.try_precision_of(), loc=start_loc)
            else:
                return None
        tok = self.tok
        word = tok.text if tok.kind == IDENT else None
        if word == "same":
            self.advance()
            precision = None
            if self.tok.kind == IDENT and self.tok.text in PRECISIONS:
                precision = self.advance().text
            if self.accept_word("as"):
                relation = "as"
            elif self.is_word("or") and self.peek().text in ("before", "after"):
                self.advance()
                relation = self.advance().text
            else:
                raise self.error("expected 'as', 'or before' or 'or after'")
            return ast.TimingPhrase("same", prefix=prefix, precision=precision, relation=relation,
                                    suffix=self.boundary_suffix(), loc=start_loc)
        properly = False
        if word == "properly" and not self.is_word("between", self.peek()):
            self.advance()
            properly = True
            word = self.tok.text if self.tok.kind == IDENT else None
        if word == "includes" and prefix is None:
            self.advance()
            precision = self.try_precision_of()
            return ast.TimingPhrase("includes", properly=properly, precision=precision,
                                    suffix=self.boundary_suffix(), loc=start_loc)
        if word == "during" or (word == "included" and self.is_word("in", self.peek())):
            self.i += 1 if word == "during" else 2
            return ast.TimingPhrase("included_in", prefix=prefix, properly=properly,
                                    precision=self.try_precision_of(), loc=start_loc)
        if word == "within":
            self.advance()
            quantity = self.quantity_literal()
            self.expect_word("of")
            return ast.TimingPhrase("within", prefix=prefix, properly=properly, quantity=quantity,
                                    suffix=self.boundary_suffix(), loc=start_loc)
        if properly:
            raise self.error("expected 'includes', 'during', 'included in' or 'within' after 'properly'")
        if word == "meets" and prefix is None or word == "overlaps" and prefix is None:
            self.advance()
            relation = self.advance().text if self.tok.kind == IDENT and self.tok.text in ("before", "after") \
                else None
            return ast.TimingPhrase(word, relation=relation, precision=self.try_precision_of(), loc=start_loc)
        quantity = None
        qualifier = None
        if self.tok.kind == NUMBER:
            quantity = self.quantity_literal()
            if self.is_word("or") and self.peek().text in ("more", "less"):
                self.advance()
                qualifier = "or " + self.advance().text
        elif word in ("less", "more") and self.is_word("than", self.peek()):
            self.i += 2
            qualifier = word + " than"
            quantity = self.quantity_literal()
        inclusive = False
        if self.is_word("on") and self.is_word("or", self.peek()):
            self.i += 2
            inclusive = True
        if self.tok.kind == IDENT and self.tok.text in ("before", "after"):
            relation = self.advance().text
            if not inclusive and self.is_word("or") and self.is_word("on", self.peek()):
                self.i += 2
                inclusive = True
            precision = self.try_precision_of()
            return ast.TimingPhrase("before_after", prefix=prefix, relation=relation, inclusive=inclusive,
                                    quantity=quantity, offset_qualifier=qualifier, precision=precision,
                                    suffix=self.boundary_suffix(), loc=start_loc)
        if quantity is not None or inclusive:
            raise self.error("expected 'before' or 'after'")
        self.i = save
        return None

    def boundary_suffix(self) -> str | None:
        if self.tok.kind == IDENT and self.tok.text in ("start", "end") and not self.is_word("of", self.peek()):
            return self.advance().text
        return None

    # ------------------------------------------------------------ expression terms

    def parse_term_expr(self, min_level: int = 0) -> ast.Expr:
        left = self.parse_term_prefix()
        while True:
            tok = self.tok
            start_loc = self.loc(tok)
            if tok.kind == SYMBOL:
                sym = tok.text
                if sym == ".":
                    self.advance()
                    name_tok = self.tok
                    name = self.any_identifier()
                    if self.is_sym("("):
                        left = ast.Call(name, self.arguments(), left, loc=self.loc(name_tok))
                    else:
                        left = ast.Member(left, name, loc=self.loc(name_tok))
                    continue
                if sym == "[":
                    self.advance()
                    index = self.parse_expression()
                    self.expect_sym("]")
                    left = ast.Index(left, index, loc=start_loc)
                    continue
                if sym == "^" and T_POW >= min_level:
                    self.advance()
                    left = ast.Binary("^", left, self.parse_term_expr(T_POW + 1), loc=start_loc)
                    continue
                if sym in ("*", "/") and T_MUL >= min_level:
                    self.advance()
                    left = ast.Binary(sym, left, self.parse_term_expr(T_MUL + 1), loc=start_loc)
                    continue
                if sym in ("+", "-", "&") and T_ADD >= min_level:
                    self.advance()
                    left = ast.Binary(sym, left, self.parse_term_expr(T_ADD + 1), loc=start_loc)
                    continue
                break
            if tok.kind == IDENT and tok.text in ("div", "mod") and T_MUL >= min_level:
                self.advance()
                left = ast.Binary(tok.text, left, self.parse_term_expr(T_MUL + 1), loc=start_loc)
                continue
            break
        return left

    def parse_term_prefix(self) -> ast.Expr:
        tok = self.tok
        start_loc = self.loc(tok)
        if tok.kind == SYMBOL and tok.text in ("+", "-"):
            self.advance()
            if self.tok.kind in (NUMBER, LONG) and not self.is_sym("^", self.peek()) \
                    and not self.is_sym(".", self.peek()):
                sign = "-" if tok.text == "-" else ""
                return self.number_term(sign, start_loc)
            operand = self.parse_term_expr(T_POLARITY)
            return ast.Unary("negate" if tok.text == "-" else "plus", operand, loc=start_loc)
        if tok.kind == IDENT:
            word = tok.text
            nxt = self.peek()
            if word in ("start", "end") and self.is_word("of", nxt):
                self.i += 2
                return ast.Unary(word, self.parse_term_expr(T_EXTRACT), loc=start_loc)
            if word in COMPONENTS and self.is_word("from", nxt):
                self.i += 2
                return ast.ComponentFrom(word, self.parse_term_expr(T_EXTRACT), loc=start_loc)
            if word in ("duration", "difference") and self.is_word("in", nxt) \
                    and self.peek(2).text in PLURAL_PRECISIONS and self.is_word("of", self.peek(3)):
                precision = PLURAL_PRECISIONS[self.peek(2).text]
                self.i += 4
                return ast.DurationOf(word, precision, self.parse_term_expr(T_EXTRACT), loc=start_loc)
            if word in ("width", "successor", "predecessor") and self.is_word("of", nxt) or \
                    word in ("singleton", "point") and self.is_word("from", nxt):
                self.i += 2
                return ast.Unary(word, self.parse_term_expr(T_EXTRACT), loc=start_loc)
            if word in ("minimum", "maximum") and nxt.kind in (IDENT, QIDENT) and not self.is_sym("(", nxt):
                self.advance()
                return ast.TypeExtent(word, self.named_type_specifier(), loc=start_loc)
            if word == "convert":
                self.advance()
                operand = self.parse_expression()
                self.expect_word("to")
                if self.tok.kind == STRING:
                    return ast.Convert(operand, None, self.advance().text, loc=start_loc)
                if self.tok.kind == IDENT and self.tok.text in CALENDAR_UNITS:
                    return ast.Convert(operand, None, self.advance().text, loc=start_loc)
                return ast.Convert(operand, self.type_specifier(), None, loc=start_loc)
            if word == "if":
                self.advance()
                condition = self.parse_expression()
                self.expect_word("then")
                then = self.parse_expression()
                self.expect_word("else")
                return ast.If(condition, then, self.parse_expression(), loc=start_loc)
            if word == "case":
                self.advance()
                comparand = None if self.is_word("when") else self.parse_expression()
                items: list[tuple[ast.Expr, ast.Expr]] = []
                while self.accept_word("when"):
                    when = self.parse_expression()
                    self.expect_word("then")
                    items.append((when, self.parse_expression()))
                if not items:
                    raise self.error("expected 'when'")
                self.expect_word("else")
                otherwise = self.parse_expression()
                self.expect_word("end")
                return ast.Case(comparand, items, otherwise, loc=start_loc)
            if word in ("distinct", "flatten") and not self.is_sym("(", nxt):
                self.advance()
                return ast.Unary(word, self.parse_expression(), loc=start_loc)
            if word in ("expand", "collapse") and not self.is_sym("(", nxt):
                self.advance()
                operand = self.parse_expression()
                per: str | ast.Expr | None = None
                if self.accept_word("per"):
                    if self.tok.kind == IDENT and self.tok.text in PRECISIONS:
                        per = self.advance().text
                    else:
                        per = self.parse_expression()
                return ast.ExpandCollapse(word, operand, per, loc=start_loc)
        return self.parse_term()

    def arguments(self) -> list[ast.Expr]:
        self.expect_sym("(")
        args: list[ast.Expr] = []
        if not self.is_sym(")"):
            args.append(self.parse_expression())
            while self.accept_sym(","):
                args.append(self.parse_expression())
        self.expect_sym(")")
        return args

    def number_term(self, sign: str, start_loc: ast.Loc) -> ast.Expr:
        tok = self.advance()
        if tok.kind == LONG:
            return ast.Literal("long", sign + tok.text, loc=start_loc)
        quantity = self.quantity_tail(sign + tok.text, start_loc)
        if quantity is not None:
            if self.is_sym(":") and self.peek().kind == NUMBER:
                self.advance()
                denominator = self.quantity_literal()
                return ast.RatioLiteral(quantity, denominator, loc=start_loc)
            return quantity
        if self.is_sym(":") and self.peek().kind == NUMBER:
            self.advance()
            numerator = ast.QuantityLiteral(sign + tok.text, None, loc=start_loc)
            return ast.RatioLiteral(numerator, self.quantity_literal(), loc=start_loc)
        kind = "decimal" if "." in tok.text else "integer"
        return ast.Literal(kind, sign + tok.text, loc=start_loc)

    def quantity_tail(self, number: str, start_loc: ast.Loc) -> ast.QuantityLiteral | None:
        if self.tok.kind == STRING:
            return ast.QuantityLiteral(number, self.advance().text, loc=start_loc)
        if self.tok.kind == IDENT and self.tok.text in CALENDAR_UNITS:
            return ast.QuantityLiteral(number, self.advance().text, loc=start_loc)
        return None

    def quantity_literal(self) -> ast.QuantityLiteral:
        start_loc = self.loc()
        sign = ""
        if self.is_sym("-") or self.is_sym("+"):
            sign = "-" if self.advance().text == "-" else ""
        if self.tok.kind != NUMBER:
            raise self.error(f"expected a quantity but found {self.describe(self.tok)}")
        number = sign + self.advance().text
        return self.quantity_tail(number, start_loc) or ast.QuantityLiteral(number, None, loc=start_loc)

    def parse_term(self) -> ast.Expr:
        tok = self.tok
        start_loc = self.loc(tok)
        kind = tok.kind
        if kind in (NUMBER, LONG):
            return self.number_term("", start_loc)
        if kind == STRING:
            self.advance()
            return ast.Literal("string", tok.text, loc=start_loc)
        if kind in (DATE, DATETIME, TIME):
            self.advance()
            return ast.Literal(kind, tok.text, loc=start_loc)
        if kind == SPECIAL:
            self.advance()
            return ast.Special(tok.text, loc=start_loc)
        if kind == SYMBOL:
            if tok.text == "(":
                self.advance()
                expr = self.parse_expression()
                self.expect_sym(")")
                self._paren = expr
                return expr
            if tok.text == "[":
                return self.retrieve()
            if tok.text == "{":
                return self.brace_selector(None, start_loc)
            if tok.text == "%":
                raise CqlUnsupportedError("external constants (%name) are not supported", tok.line, tok.col)
            raise self.error(f"unexpected {self.describe(tok)}")
        if kind == IDENT:
            word = tok.text
            nxt = self.peek()
            if word in ("true", "false"):
                self.advance()
                return ast.Literal("boolean", word == "true", loc=start_loc)
            if word == "null":
                self.advance()
                return ast.Literal("null", None, loc=start_loc)
            if word == "Interval" and nxt.kind == SYMBOL and nxt.text in ("[", "("):
                self.advance()
                low_closed = self.advance().text == "["
                low = self.parse_expression()
                self.expect_sym(",")
                high = self.parse_expression()
                if not (self.is_sym("]") or self.is_sym(")")):
                    raise self.error(f"expected ']' or ')' but found {self.describe(self.tok)}")
                high_closed = self.advance().text == "]"
                return ast.IntervalSelector(low, high, low_closed, high_closed, loc=start_loc)
            if word == "List" and nxt.kind == SYMBOL and nxt.text in ("<", "{"):
                self.advance()
                element_type = None
                if self.accept_sym("<"):
                    element_type = self.type_specifier()
                    self.expect_sym(">")
                if not self.is_sym("{"):
                    raise self.error("expected '{'")
                return self.list_selector(element_type, start_loc)
            if word == "Tuple" and self.is_sym("{", nxt):
                self.advance()
                return self.tuple_selector(start_loc)
            if word == "Code" and nxt.kind == STRING:
                return self.code_selector()
            if word == "Concept" and self.is_sym("{", nxt) and self.is_word("Code", self.peek(2)):
                self.advance()
                self.advance()
                codes = [self.code_selector()]
                while self.accept_sym(","):
                    codes.append(self.code_selector())
                self.expect_sym("}")
                display = self.expect_string() if self.accept_word("display") else None
                return ast.ConceptSelector(codes, display, loc=start_loc)
            if self.starts_instance_selector():
                type_spec = self.named_type_specifier()
                return self.brace_selector(type_spec, start_loc)
            if self.is_sym("(", nxt):
                self.advance()
                return ast.Call(word, self.arguments(), loc=start_loc)
            if self.is_referential(tok):
                self.advance()
                return ast.Identifier(word, loc=start_loc)
            raise self.error(f"unexpected keyword '{word}'")
        if kind == QIDENT:
            self.advance()
            if self.is_sym("("):
                return ast.Call(tok.text, self.arguments(), loc=start_loc)
            return ast.Identifier(tok.text, loc=start_loc)
        raise self.error(f"unexpected {self.describe(tok)}")

    def starts_instance_selector(self) -> bool:
        j = self.i
        tokens = self.tokens
        if tokens[j].kind not in (IDENT, QIDENT):
            return False
        j += 1
        while tokens[j].kind == SYMBOL and tokens[j].text == "." and tokens[j + 1].kind in (IDENT, QIDENT):
            j += 2
        if not (tokens[j].kind == SYMBOL and tokens[j].text == "{"):
            return False
        after = tokens[j + 1]
        if after.kind == SYMBOL:
            return after.text in (":", "}")
        return after.kind in (IDENT, QIDENT) and tokens[j + 2].kind == SYMBOL and tokens[j + 2].text == ":"

    def code_selector(self) -> ast.CodeSelector:
        start_loc = self.loc()
        self.expect_word("Code")
        code = self.expect_string()
        self.expect_word("from")
        system = self.library_qualified_name()
        display = self.expect_string() if self.accept_word("display") else None
        return ast.CodeSelector(code, system, display, loc=start_loc)

    def brace_selector(self, type_spec: ast.NamedTypeSpec | None, start_loc: ast.Loc) -> ast.Expr:
        """`{ ... }`: a list, or a tuple (`{ a: 1 }`, `{ : }`), or an instance after a type name."""
        nxt = self.peek()
        is_tuple = (self.is_sym(":", nxt) or
                    (nxt.kind in (IDENT, QIDENT) and self.is_sym(":", self.peek(2))))
        if type_spec is not None:
            self.expect_sym("{")
            elements = self.element_selectors()
            return ast.InstanceSelector(type_spec, elements, loc=start_loc)
        if is_tuple:
            return self.tuple_selector(start_loc)
        return self.list_selector(None, start_loc)

    def element_selectors(self) -> list[tuple[str, ast.Expr]]:
        elements: list[tuple[str, ast.Expr]] = []
        if self.accept_sym(":"):
            self.expect_sym("}")
            return elements
        if self.accept_sym("}"):
            return elements
        while True:
            name = self.any_identifier()
            self.expect_sym(":")
            elements.append((name, self.parse_expression()))
            if not self.accept_sym(","):
                break
        self.expect_sym("}")
        return elements

    def tuple_selector(self, start_loc: ast.Loc) -> ast.TupleSelector:
        self.expect_sym("{")
        return ast.TupleSelector(self.element_selectors(), loc=start_loc)

    def list_selector(self, element_type: ast.TypeSpec | None, start_loc: ast.Loc) -> ast.ListSelector:
        self.expect_sym("{")
        items: list[ast.Expr] = []
        if not self.is_sym("}"):
            items.append(self.parse_expression())
            while self.accept_sym(","):
                items.append(self.parse_expression())
        self.expect_sym("}")
        return ast.ListSelector(element_type, items, loc=start_loc)

    # ------------------------------------------------------------ retrieve and queries

    def retrieve(self) -> ast.Retrieve:
        start_loc = self.loc()
        self.expect_sym("[")
        context = None
        j = self.i
        while self.tokens[j].kind in (IDENT, QIDENT) and self.is_sym(".", self.tokens[j + 1]):
            j += 2
        if self.tokens[j].kind in (IDENT, QIDENT) and self.is_sym("->", self.tokens[j + 1]):
            context = self.parse_term_expr()
            self.expect_sym("->")
        type_spec = self.named_type_specifier()
        code_path = comparator = terminology = None
        if self.accept_sym(":"):
            save = self.i
            path = self.try_code_path()
            if path is not None and (self.is_word("in") or self.is_sym("=") or self.is_sym("~")):
                code_path = path
                comparator = self.advance().text
            else:
                self.i = save
            terminology = self.parse_expression()
        self.expect_sym("]")
        return ast.Retrieve(type_spec, context, code_path, comparator, terminology, loc=start_loc)

    def try_code_path(self) -> str | None:
        if not self.is_referential():
            return None
        parts = [self.advance().text]
        while self.is_sym(".") and self.is_referential(self.peek()):
            self.advance()
            parts.append(self.advance().text)
        return ".".join(parts)

    def aliased_source(self) -> ast.AliasedSource:
        start_loc = self.loc()
        if self.is_sym("["):
            expr: ast.Expr = self.retrieve()
        elif self.is_sym("("):
            self.advance()
            expr = self.parse_expression()
            self.expect_sym(")")
        else:
            expr = ast.Identifier(self.referential_identifier(), loc=start_loc)
            while self.is_sym("."):
                self.advance()
                name_tok = self.tok
                expr = ast.Member(expr, self.referential_identifier(), loc=self.loc(name_tok))
        alias = self.identifier()
        return ast.AliasedSource(expr, alias, loc=start_loc)

    def parse_query(self, first: ast.AliasedSource, multi: bool) -> ast.Query:
        sources = [first]
        if multi:
            while self.accept_sym(","):
                sources.append(self.aliased_source())
        lets: list[tuple[str, ast.Expr]] = []
        if self.accept_word("let"):
            while True:
                name = self.identifier()
                self.expect_sym(":")
                lets.append((name, self.parse_expression()))
                if not self.accept_sym(","):
                    break
        relationships: list[ast.Relationship] = []
        while self.is_word("with") or self.is_word("without"):
            start_loc = self.loc()
            kind = self.advance().text
            source = self.aliased_source()
            self.expect_word("such")
            self.expect_word("that")
            relationships.append(ast.Relationship(kind, source, self.parse_expression(), loc=start_loc))
        where = self.parse_expression() if self.accept_word("where") else None
        return_expr = None
        return_distinct = True
        aggregate = None
        if self.accept_word("return"):
            if self.accept_word("all"):
                return_distinct = False
            else:
                self.accept_word("distinct")
            return_expr = self.parse_expression()
        elif self.is_word("aggregate"):
            start_loc = self.loc()
            self.advance()
            distinct = False
            if self.accept_word("distinct"):
                distinct = True
            else:
                self.accept_word("all")
            name = self.identifier()
            starting = None
            if self.accept_word("starting"):
                starting = self.starting_value()
            self.expect_sym(":")
            aggregate = ast.Aggregate(name, self.parse_expression(), starting, distinct, loc=start_loc)
        sort = None
        if self.accept_word("sort"):
            sort = []
            if self.accept_word("by"):
                while True:
                    item_loc = self.loc()
                    expr = self.parse_term_expr()
                    sort.append(ast.SortItem(expr, self.sort_direction(), loc=item_loc))
                    if not self.accept_sym(","):
                        break
            else:
                item_loc = self.loc()
                if not (self.tok.kind == IDENT and self.tok.text in ("asc", "ascending", "desc", "descending")):
                    raise self.error("expected 'by' or a sort direction after 'sort'")
                sort.append(ast.SortItem(None, self.sort_direction(), loc=item_loc))
        return ast.Query(sources, lets, relationships, where, return_expr, return_distinct, aggregate, sort,
                         loc=first.loc)

    def starting_value(self) -> ast.Expr:
        start_loc = self.loc()
        if self.is_sym("("):
            self.advance()
            expr = self.parse_expression()
            self.expect_sym(")")
            return expr
        if self.tok.kind == NUMBER:
            number = self.advance().text
            quantity = self.quantity_tail(number, start_loc)
            if quantity is not None:
                return quantity
            return ast.Literal("decimal" if "." in number else "integer", number, loc=start_loc)
        if self.tok.kind == STRING:
            return ast.Literal("string", self.advance().text, loc=start_loc)
        return self.parse_term_expr()

    def sort_direction(self) -> bool:
        if self.tok.kind == IDENT and self.tok.text in ("desc", "descending"):
            self.advance()
            return True
        if self.tok.kind == IDENT and self.tok.text in ("asc", "ascending"):
            self.advance()
        return False


def parse_library(text: str) -> ast.Library:
    """Parse the text of a CQL library."""
    return Parser(text).parse_library()


def parse_expression(text: str) -> ast.Expr:
    """Parse one CQL expression (the whole text)."""
    parser = Parser(text)
    expr = parser.parse_expression()
    if parser.tok.kind != EOF:
        raise parser.error(f"unexpected {parser.describe(parser.tok)} after the expression")
    return expr
