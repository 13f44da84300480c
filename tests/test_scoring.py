"""Scoring answers against expected ones: the rules a batch user relies on for accuracy."""

from __future__ import annotations

import pytest

from agent.scoring import ScoringError, check_expected, first_number, score, split_items


@pytest.mark.parametrize(
    "text, value",
    [
        ("1,234 kg", 1234.0),
        ("The total is $1,234,567.89.", 1234567.89),
        ("about 12.5%", 12.5),
        ("\u22123 \u00b0C", -3.0),
        ("1\u202f234 m", 1234.0),
        ("1'250 CHF", 1250.0),
        ("seven", 7.0),
        ("one of the 3 squares is red", 3.0),
        ("1.5e3 Hz", 1500.0),
        ("version 1.2.3 then 7", 7.0),
        ("no numbers here", None),
    ],
)
def test_first_number_reads_units_separators_and_signs(text, value):
    assert first_number(text) == value


@pytest.mark.parametrize(
    "answer, expected, kw, right",
    [
        ("1,234 kg", 1234, {}, True),
        ("The gauge reads 42 psi.", "42 psi", {"match": "numeric"}, True),
        ("It reads 41.6", 42, {"tolerance": 0.5}, True),
        ("It reads 41.4", 42, {"tolerance": 0.5}, False),
        ("It reads 101", 100, {"tolerance": "2%"}, True),
        ("It reads 103", 100, {"tolerance": "2%"}, False),
        ("1234", "1,234", {"match": "numeric"}, True),
        ("12", 1234, {}, False),
        ("there are no squares", 0, {}, False),
        ("I could not read it", 5, {}, False),
    ],
)
def test_numeric_match(answer, expected, kw, right):
    assert score(answer, expected, **kw) is right


@pytest.mark.parametrize(
    "answer, expected, match, right",
    [
        ("  Paris\n", "Paris", "exact", True),
        ("paris", "Paris", "exact", False),
        ("  PARIS.  ", "paris", "normalized", True),
        ('"Quarterly   Report"', "quarterly report", "normalized", True),
        ("Paris, France", "paris", "normalized", False),
        ("The capital is Paris, France.", "paris", "contains", True),
        ("Comparison table", "paris", "contains", False),
        ("the cat sat", "CAT  sat", "contains", True),
        ("concatenate", "cat", "contains", False),
    ],
)
def test_text_matches_case_whitespace_and_words(answer, expected, match, right):
    assert score(answer, expected, match=match) is right


@pytest.mark.parametrize(
    "answer, right",
    [
        ("red, green and blue", True),
        ("Blue; RED; green.", True),
        ("- green\n- blue\n- red", True),
        ('["blue", "green", "red"]', True),
        ("red, green, and blue", True),
        ("red and green", False),
        ("red, green, blue, yellow", False),
    ],
)
def test_set_match_ignores_order_and_format_but_not_membership(answer, right):
    assert score(answer, ["red", "green", "blue"]) is right


def test_set_items_that_are_numbers_compare_as_numbers():
    assert score("1,000, 2000 and 3", [1000, "2,000", 3])
    assert not score("1,000, 2000", [1000, 2000, 3])


def test_a_list_is_alternatives_for_single_answer_rules_and_all_required_for_contains():
    assert score("colour", ["color", "colour"], match="normalized")
    assert score("about 7 of them", [7, 8], match="numeric")
    assert score("red and blue squares", ["red", "blue"], match="contains")
    assert not score("red squares", ["red", "blue"], match="contains")


def test_no_answer_is_never_right():
    assert score(None, "x") is False


def test_split_items_keeps_thousands_together():
    assert split_items("1,000, 2,500 and 3") == ["1,000", "2,500", "3"]


@pytest.mark.parametrize(
    "expected, match, tolerance, message",
    [
        ("x", "fuzzy", None, "unknown match"),
        ("forty-ish", "numeric", None, "has no number"),
        ([], None, None, "empty list"),
        ({"a": 1}, None, None, "strings or numbers"),
        ("x", "exact", 1, "only to match numeric"),
        (3, None, "lots", "percentage"),
        (3, None, -1, "non-negative"),
    ],
)
def test_bad_scoring_fields_are_reported(expected, match, tolerance, message):
    with pytest.raises(ScoringError, match=message):
        check_expected(expected, match, tolerance)
