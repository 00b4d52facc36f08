"""The filter language's parser: recursive descent over the grammar of docs/filters.md.

    filter   := or EOF
    or       := and { ("||" | "or") and }
    and      := unary { ("&&" | "and") unary }
    unary    := ("!" | "not") unary | "(" or ")" | test
    test     := FIELD [ relation ]
    relation := CMP value | "contains" STRING | "matches" STRING | "in" "{" value { "," value } "}"
    CMP      := "==" | "!=" | "<" | "<=" | ">" | ">="
    value    := STRING | NUMBER | "true" | "false"

Each node is checked against the field's type as it is parsed (a string compared with a number
is an error at the value's column), then made into a closure: a filter is a tree of Python
functions, never text handed to `eval`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

from analyzer.query.fields import FIELDS, PAYLOAD_SCAN_CHARS, Field, Subject
from analyzer.query.lexer import FilterError, Token, tokenize

__all__ = ["MAX_DEPTH", "MAX_PATTERN_CHARS", "REGEX_TIMEOUT_S", "FilterRunError", "Test", "parse"]

MAX_DEPTH = 64  # nested parentheses and negations
MAX_PATTERN_CHARS = 256  # a `matches` pattern
MAX_SET = 256  # values in `in {...}`
REGEX_TIMEOUT_S = 0.05  # one `matches` on one record (the `regex` package's timeout)

Pred = Callable[[Subject], bool]
_CMP = ("==", "!=", "<", "<=", ">", ">=")
_KEYWORDS = {"and": "&&", "or": "||", "not": "!"}


class FilterRunError(RuntimeError):
    """A filter stopped while it ran (a pattern past its time bound)."""


class Test:
    """What one test needs at run time (kept for messages and for listing the fields used).
    `op` and `value` are set for a `contains` test (`op == "contains"`, `value` the needle);
    `required` when every record that one alternative of the filter keeps passes this test (a
    test of a top-level `&&` chain, not under `!` or in parentheses), `alt` that alternative (the
    top-level `||` splits the filter in alternatives 0, 1, ...): an index may then narrow the
    records before the filter runs (webui/index.py)."""

    def __init__(self, field: Field, column: int) -> None:
        self.field = field
        self.column = column
        self.op: str | None = None
        self.value: Any = None
        self.required = False
        self.alt = 0


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.tests: list[Test] = []
        self.alt = 0  # the top-level alternative being parsed

    # -- tokens --
    def peek(self) -> Token:
        t = self.tokens[self.i]
        if t.kind == "name" and t.text in _KEYWORDS:
            return Token("op", _KEYWORDS[t.text], t.column)
        return t

    def take(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def fail(self, column: int, message: str) -> FilterError:
        return FilterError(column, message, self.text)

    @staticmethod
    def shown(t: Token) -> str:
        if t.kind == "end":
            return "the end of the filter"
        if t.kind == "string":
            return "a string"
        return f"'{t.text}'"

    # -- grammar --
    def parse(self) -> Pred:
        if self.peek().kind == "end":
            raise self.fail(1, "the filter is empty")
        pred = self.or_(0)
        t = self.peek()
        if t.kind != "end":
            if t.kind == "op" and t.text == ")":
                raise self.fail(t.column, "this ')' closes nothing")
            raise self.fail(t.column, f"expected '&&', '||' or the end of the filter, found {self.shown(t)}")
        return pred

    def or_(self, depth: int) -> Pred:
        parts = [self.and_(depth)]
        while self.peek().kind == "op" and self.peek().text == "||":
            self.take()
            self.alt += depth == 0
            parts.append(self.and_(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda s: any(p(s) for p in parts)

    def and_(self, depth: int) -> Pred:
        parts = [self.unary(depth)]
        while self.peek().kind == "op" and self.peek().text == "&&":
            self.take()
            parts.append(self.unary(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda s: all(p(s) for p in parts)

    def unary(self, depth: int) -> Pred:
        t = self.peek()
        if depth >= MAX_DEPTH:
            raise self.fail(t.column, f"the filter nests deeper than {MAX_DEPTH} levels")
        if t.kind == "op" and t.text == "!":
            self.take()
            inner = self.unary(depth + 1)
            return lambda s: not inner(s)
        if t.kind == "op" and t.text == "(":
            self.take()
            inner = self.or_(depth + 1)
            close = self.take()
            if close.kind != "op" or close.text != ")":
                raise self.fail(
                    close.column,
                    f"expected ')' to close the '(' at column {t.column}, found {self.shown(close)}",
                )
            return inner
        if t.kind != "name":
            raise self.fail(t.column, f"expected a field name, found {self.shown(t)}")
        at = len(self.tests)
        pred = self.test()
        self.tests[at].required = depth == 0  # a test of a top-level && chain
        self.tests[at].alt = self.alt
        return pred

    def test(self) -> Pred:
        name = self.take()
        f = FIELDS.get(name.text)
        if f is None:
            near = [k for k in FIELDS if k.split(".")[-1] == name.text.split(".")[-1]]
            hint = f" (did you mean {near[0]}?)" if near else " (docs/filters.md lists them)"
            raise self.fail(name.column, f"unknown field '{name.text}'{hint}")
        self.tests.append(Test(f, name.column))
        op = self.peek()
        if op.kind == "op" and op.text in _CMP:
            self.take()
            return self.compare(f, op, self.value(f, op))
        if op.kind == "name" and op.text in ("contains", "matches"):
            self.take()
            return self.text_test(f, op)
        if op.kind == "name" and op.text == "in":
            self.take()
            return self.member(f, op)
        if op.kind == "name":
            raise self.fail(
                op.column, f"unknown operator '{op.text}' (use ==, !=, <, >, contains, matches, in)"
            )
        if f.type == "bool":
            return lambda s: f.value(s) is True
        return lambda s: f.value(s) is not None  # a bare field: the record has it

    def value(self, f: Field, after: Token) -> Any:
        t = self.take()
        if t.kind == "string":
            v: Any = t.text
            kind = "string"
        elif t.kind == "number":
            v, kind = t.value, "number"
        elif t.kind == "name" and t.text in ("true", "false"):
            v, kind = t.text == "true", "bool"
        else:
            raise self.fail(t.column, f"expected a value after '{after.text}', found {self.shown(t)}")
        if kind != f.type:
            raise self.fail(t.column, f"{f.name} is a {f.type}, not a {kind}: {self.literal(f)}")
        if f.choices and v not in f.choices:
            raise self.fail(t.column, f"{f.name} is one of {', '.join(f.choices)}, never {v!r}")
        return v

    @staticmethod
    def literal(f: Field) -> str:
        return {
            "string": 'compare it with a quoted string, e.g. "chat"',
            "number": "compare it with a number, e.g. 200",
            "bool": "test it alone, or compare it with true or false",
        }[f.type]

    def compare(self, f: Field, op: Token, v: Any) -> Pred:
        if op.text not in ("==", "!=") and f.type != "number":
            raise self.fail(op.column, f"'{op.text}' compares numbers; {f.name} is a {f.type}")
        get = f.value
        return {
            "==": lambda s: (x := get(s)) is not None and x == v,
            "!=": lambda s: (x := get(s)) is not None and x != v,
            "<": lambda s: (x := get(s)) is not None and x < v,
            "<=": lambda s: (x := get(s)) is not None and x <= v,
            ">": lambda s: (x := get(s)) is not None and x > v,
            ">=": lambda s: (x := get(s)) is not None and x >= v,
        }[op.text]

    def text_test(self, f: Field, op: Token) -> Pred:
        if f.type != "string":
            raise self.fail(op.column, f"'{op.text}' applies to text; {f.name} is a {f.type}")
        t = self.take()
        if t.kind != "string":
            raise self.fail(t.column, f"expected a quoted string after '{op.text}', found {self.shown(t)}")
        get = f.value
        if op.text == "contains":
            needle = t.text
            self.tests[-1].op, self.tests[-1].value = "contains", needle
            return lambda s: (x := get(s)) is not None and needle in x[:PAYLOAD_SCAN_CHARS]
        if len(t.text) > MAX_PATTERN_CHARS:
            raise self.fail(t.column, f"a pattern is at most {MAX_PATTERN_CHARS} characters")
        try:
            pattern = regex.compile(t.text, regex.VERSION0)
        except (regex.error, OverflowError, RecursionError) as exc:
            where = getattr(exc, "pos", None)
            exact = isinstance(where, int) and t.value == len(t.text)  # no escape moved the characters
            col = t.column + 1 + where if exact and isinstance(where, int) else t.column
            raise self.fail(
                col, f"this pattern is not a regular expression: {getattr(exc, 'msg', exc)}"
            ) from None

        def matches(s: Subject) -> bool:
            x = get(s)
            if x is None:
                return False
            try:
                return pattern.search(x[:PAYLOAD_SCAN_CHARS], timeout=REGEX_TIMEOUT_S) is not None
            except TimeoutError:
                raise FilterRunError(
                    f"filter: column {t.column}: the pattern took more than {REGEX_TIMEOUT_S * 1000:.0f} ms"
                    " on one record; make it simpler (no nested repetition)"
                ) from None

        return matches

    def member(self, f: Field, op: Token) -> Pred:
        if f.type == "bool":
            raise self.fail(op.column, f"'in' needs a string or number field; {f.name} is a bool")
        t = self.take()
        if t.kind != "op" or t.text != "{":
            raise self.fail(t.column, f"expected '{{' after 'in', found {self.shown(t)}")
        values = [self.value(f, t)]
        while self.peek().kind == "op" and self.peek().text == ",":
            comma = self.take()
            if len(values) >= MAX_SET:
                raise self.fail(self.peek().column, f"a set holds at most {MAX_SET} values")
            values.append(self.value(f, comma))
        close = self.take()
        if close.kind != "op" or close.text != "}":
            raise self.fail(close.column, f"expected ',' or '}}' in the set, found {self.shown(close)}")
        wanted = frozenset(values)
        get = f.value
        return lambda s: get(s) in wanted


def parse(text: str) -> tuple[Pred, list[Test]]:
    """The predicate of a filter and the tests it is made of; FilterError when it is not one."""
    p = _Parser(text)
    return p.parse(), p.tests
