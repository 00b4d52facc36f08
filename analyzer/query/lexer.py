"""The filter language's tokens (docs/filters.md, "Grammar").

Hand-written scanner: each token keeps the column (1-based) it starts at, so every error can
point at it. No `eval`, no regex over the whole text: one pass, character by character.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_FILTER_CHARS", "FilterError", "Token", "tokenize"]

MAX_FILTER_CHARS = 2000  # a filter is typed by a person; longer text is refused, not scanned


class FilterError(ValueError):
    """A filter that cannot be used: `column` (1-based) is where, `str()` one sentence."""

    def __init__(self, column: int, message: str, text: str = "") -> None:
        super().__init__(f"filter: column {column}: {message}")
        self.column = column
        self.message = message
        self.text = text

    def caret(self) -> str:
        """The filter and a caret line under the column (the filter's control characters shown
        as spaces so the caret lines up)."""
        shown = "".join(c if c.isprintable() else " " for c in self.text[:200])
        return f"  {shown}\n  {' ' * (min(self.column, len(shown) + 1) - 1)}^"

    def to_dict(self) -> dict[str, object]:
        return {"error": str(self), "column": self.column, "filter": self.text}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "name", "string", "number", "op", "end"
    text: str  # the token as written (a string's value for "string")
    column: int
    value: object = None  # a number's value; a string's length as written (escapes included)


_OPS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "{", "}", ",")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789.")
_DIGITS = frozenset("0123456789")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(MAX_FILTER_CHARS + 1, f"a filter is at most {MAX_FILTER_CHARS} characters", text)
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        col = i + 1
        if c in _NAME_START:
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            out.append(Token("name", text[i:j], col))
            i = j
        elif c in _DIGITS or (c in "-+." and i + 1 < n and text[i + 1] in _DIGITS):
            i = _number(text, i, out)
        elif c in "\"'":
            i = _string(text, i, out)
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                if c == "=":
                    raise FilterError(col, "'=' is not an operator: write '==' to compare", text)
                if c in "&|":
                    raise FilterError(col, f"'{c}' is not an operator: write '{c}{c}'", text)
                raise FilterError(col, f"unexpected character {c!r}", text)
            out.append(Token("op", op, col))
            i += len(op)
    out.append(Token("end", "", n + 1))
    return out


def _number(text: str, i: int, out: list[Token]) -> int:
    j = i + 1
    while j < len(text) and (text[j] in _DIGITS or text[j] in ".eExXabcdefABCDEF_" or text[j - 1] in "eE"):
        j += 1
    word = text[i:j]
    try:
        value: float | int = int(word, 0)
    except ValueError:
        try:
            value = float(word)
        except ValueError:
            raise FilterError(i + 1, f"{word!r} is not a number", text) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FilterError(i + 1, f"{word!r} is not a finite number", text)
    out.append(Token("number", word, i + 1, value))
    return j


def _string(text: str, i: int, out: list[Token]) -> int:
    quote = text[i]
    j = i + 1
    chars: list[str] = []
    while j < len(text):
        c = text[j]
        if c == quote:
            out.append(Token("string", "".join(chars), i + 1, j - i - 1))  # value: characters as written
            return j + 1
        if c == "\\":
            if j + 1 >= len(text):
                break
            e = text[j + 1]
            if e in _ESCAPES:
                chars.append(_ESCAPES[e])
                j += 2
                continue
            width = {"x": 2, "u": 4}.get(e)
            digits = text[j + 2 : j + 2 + width] if width else ""
            if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                chars.append(chr(int(digits, 16)))
                j += 2 + width
                continue
            chars.append("\\" + e)  # kept as written: a regex escape such as \d or \.
            j += 2
            continue
        chars.append(c)
        j += 1
    raise FilterError(i + 1, f"this string has no closing {quote}", text)
