"""Scoring an answer against the expected one.

Match rules (a job's `match`; the default follows the type of `expected`):
- `exact`: the same text, apart from surrounding whitespace;
- `normalized` (default for strings): case, accents' width forms, runs of whitespace, surrounding
  quotes and a trailing full stop do not matter;
- `numeric` (default for numbers): the first number in the answer equals the expected number
  within `tolerance` (absolute, or relative when written as "2%"); thousands separators,
  currency signs and units are understood, units are not compared; an answer with no digits
  may spell a number from zero to twenty;
- `contains`: the expected text appears in the answer as whole words (normalized);
- `set` (default for lists): the answer lists exactly the expected items, in any order.

A list `expected` under exact/normalized/numeric means "any of these is right"; under
`contains`, every item must appear.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

MATCH_RULES = ("exact", "normalized", "numeric", "contains", "set")

_NUMBER_WORDS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
# Thousands are grouped with commas, thin or no-break spaces, or apostrophes ("1,234,567.5",
# "1 234", "1'234"); a plain space is not a separator ("3 4" is two numbers).
_NUMBER = re.compile(
    r"(?<![\w.])([-+\u2212]?)"
    r"((?:\d{1,3}(?:[,']\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE]([-+]?\d+))?"
    r"(?![\w.]*\d)"
)
_WORD_NUMBER = re.compile(r"\b(%s)\b" % "|".join(_NUMBER_WORDS), re.IGNORECASE)
_TOLERANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


class ScoringError(ValueError):
    """An `expected`/`match`/`tolerance` combination that cannot be scored."""


def default_match(expected: Any) -> str:
    if isinstance(expected, bool):
        return "normalized"
    if isinstance(expected, (int, float)):
        return "numeric"
    if isinstance(expected, list):
        return "set"
    return "normalized"


def check_expected(expected: Any, match: str | None, tolerance: Any = None) -> str:
    """Validate a job's scoring fields; return the match rule in force. Raises ScoringError."""
    rule = match or default_match(expected)
    if rule not in MATCH_RULES:
        raise ScoringError(f"unknown match {rule!r}; use one of {', '.join(MATCH_RULES)}")
    items = expected if isinstance(expected, list) else [expected]
    if not items:
        raise ScoringError("expected is an empty list")
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            raise ScoringError(f"expected items must be strings or numbers, not {json.dumps(item)}")
    if rule == "numeric":
        for item in items:
            if first_number(str(item) if not isinstance(item, (int, float)) else repr(item)) is None:
                raise ScoringError(f"match numeric but expected {json.dumps(item)} has no number")
    if tolerance is not None:
        if rule != "numeric":
            raise ScoringError("tolerance applies only to match numeric")
        parse_tolerance(tolerance)
    return rule


def score(answer: str | None, expected: Any, match: str | None = None, tolerance: Any = None) -> bool:
    """True when `answer` is right under the match rule (see the module doc)."""
    if answer is None:
        return False
    rule = check_expected(expected, match, tolerance)
    answer = str(answer)
    if rule == "set":
        wanted = expected if isinstance(expected, list) else split_items(str(expected))
        return {_item_key(x) for x in split_items(answer)} == {_item_key(x) for x in wanted}
    if rule == "contains":
        items = expected if isinstance(expected, list) else [expected]
        return all(_contains_words(answer, str(x)) for x in items)
    alternatives = expected if isinstance(expected, list) else [expected]
    if rule == "exact":
        return any(answer.strip() == str(x).strip() for x in alternatives)
    if rule == "normalized":
        return any(normalize(answer) == normalize(str(x)) for x in alternatives)
    got = first_number(answer)
    if got is None:
        return False
    absolute, relative = parse_tolerance(tolerance)
    for x in alternatives:
        want = float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else first_number(str(x))
        if want is not None and abs(got - want) <= max(absolute, relative * abs(want), 1e-9 * max(1.0, abs(want))):
            return True
    return False


def normalize(text: str) -> str:
    """Case-, width- and whitespace-insensitive form of a short answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    text = text.strip(" \"'`\u201c\u201d\u2018\u2019")
    return text.rstrip(".").strip()


def first_number(text: str) -> float | None:
    """The first number written in `text`: "1,234.5 kg" → 1234.5, "−3" → -3.0, "seven" → 7.0."""
    # NFKC would turn the thin and no-break spaces used as thousands separators into plain ones.
    text = unicodedata.normalize("NFKC", re.sub(r"(?<=\d)[\u202f\u00a0\u2009](?=\d{3})", ",", text))
    match = _NUMBER.search(text)
    if match is None:
        word = _WORD_NUMBER.search(text)  # digits win: "one of the 3 squares" is 3
        return float(_NUMBER_WORDS[word.group(1).lower()]) if word else None
    sign, digits, exponent = match.groups()
    value = float(re.sub(r"[,']", "", digits))
    if exponent:
        value *= 10 ** int(exponent)
    return -value if sign in ("-", "\u2212") else value


def parse_tolerance(tolerance: Any) -> tuple[float, float]:
    """(absolute, relative): 0.5 → (0.5, 0); "2%" → (0, 0.02); None → (0, 0)."""
    if tolerance is None:
        return 0.0, 0.0
    if isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool):
        if tolerance < 0 or math.isnan(tolerance):
            raise ScoringError(f"tolerance must be a non-negative number, not {tolerance}")
        return float(tolerance), 0.0
    m = _TOLERANCE.match(str(tolerance))
    if not m:
        raise ScoringError(f'tolerance must be a number or a percentage like "2%", not {json.dumps(tolerance)}')
    value = float(m.group(1))
    return (0.0, value / 100) if m.group(2) else (value, 0.0)


def split_items(answer: str) -> list[str]:
    """The items of a list answer: a JSON list, or text split on newlines, semicolons,
    commas followed by a space, and a final "and"; bullets and numbering are dropped."""
    stripped = answer.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
            if isinstance(value, list):
                return [str(v) for v in value]
        except json.JSONDecodeError:
            pass
    items = []
    for line in stripped.splitlines():
        line = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", "", line)
        for piece in re.split(r";|,?\s+and\s+|,\s+|,(?=\D)|\s*&\s*", line):
            piece = piece.strip().rstrip(".").strip()
            if piece:
                items.append(piece)
    return items


def _item_key(item: Any) -> str:
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return repr(float(item))
    text = normalize(str(item))
    number = first_number(text)
    # "1,000" and "1000" are one item; "3 apples" stays text.
    if number is not None and re.fullmatch(r"[-+\u2212]?[\d,.\u202f\u00a0\u2009' ]+", text):
        return repr(number)
    return text


def _contains_words(answer: str, expected: str) -> bool:
    words = re.findall(r"\w+", normalize(answer))
    wanted = re.findall(r"\w+", normalize(expected))
    if not wanted:
        return normalize(expected) in normalize(answer)
    n = len(wanted)
    return any(words[i : i + n] == wanted for i in range(len(words) - n + 1))
