"""Alphabet classes written by new_language: compact, exact and valid inside a YAML regex class."""

import re

import pytest

from crossling_asr.new_language.text_rules import compact_class


@pytest.mark.parametrize(
    "chars, expected",
    [
        ("abcdefz", "a-fz"),  # a run of 6 becomes a range, a lone letter stays
        ("abcxyz", "abcxyz"),  # runs of 3 stay as letters (a range would not be shorter)
        ("dcbaa", "a-d"),  # order and repeats do not matter
        ("a-]^", "\\-\\]\\^a"),  # class metacharacters escaped (sorted by code point: - ] ^ a)
        ("\u0301e", "e\\u0301"),  # a combining mark written as an escape, not glued to its neighbour
        ("", ""),
    ],
)
def test_compact_class_by_hand(chars, expected):
    assert compact_class(chars) == expected


def test_compact_class_matches_exactly_the_given_letters():
    letters = "aábcdeéfghijklmnñoópqrstuúüvwxyz"
    pattern = re.compile(f"[{compact_class(letters)}]")
    every_latin_letter = [chr(p) for p in range(0x20, 0x250)]
    assert {ch for ch in every_latin_letter if pattern.fullmatch(ch)} == set(letters)
