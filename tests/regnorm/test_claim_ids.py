"""The rule for claim ids: case and spaces are ignored; empty items and repeats are refused."""

import pytest

from regnorm import claims as C


@C.claim("C7")
def check_c7(ctx):
    return []


@C.claim("C5")
def check_c5(ctx):
    return []


CHECKS = [check_c7, check_c5]


@pytest.fixture
def registry():
    """``resolve_ids`` choosing from two checks of one's own (C7 listed before C5)."""
    return lambda ids: C.resolve_ids(ids, CHECKS)


@pytest.mark.parametrize(
    "ids, expected",
    [
        ("C5", ["C5"]),
        (" c5 ,C7", ["C5", "C7"]),
        ([" c7 ", "C5"], ["C7", "C5"]),
        (("c5",), ["C5"]),
    ],
)
def test_ids_are_normalized_in_the_order_given(registry, ids, expected):
    assert registry(ids) == expected


@pytest.mark.parametrize(
    "ids, match",
    [
        ("C5,,C7", r"claims='C5,,C7': item 2 is empty"),
        ("C5,", r"item 2 is empty"),
        ("", r"item 1 is empty"),
        (["C5", " "], r"item 2 is empty"),
        ("C5,c5", r"C5 is named more than once"),
        (["C7", " C7"], r"C7 is named more than once"),
        ([], r"at least one claim id"),
        (" c77 ", r"unknown claim id 'c77'"),
        ("C5,C6", r"claim C6 is in THEORY.md but no check is registered"),
    ],
)
def test_bad_selections_are_refused(registry, ids, match):
    with pytest.raises(ValueError, match=match):
        registry(ids)


@pytest.mark.parametrize("ids", [["C5", 7], 5, {"C5"}])
def test_non_strings_are_refused(registry, ids):
    with pytest.raises(TypeError, match="claim"):
        registry(ids)


def test_none_is_every_registered_claim(registry):
    assert registry(None) == ["C5", "C7"]
