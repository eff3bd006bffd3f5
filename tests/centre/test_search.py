"""Incident search helpers: words against ids, codes and labels; addresses from personal parts."""

from __future__ import annotations

import pytest

from planner.centre.search import address_of, matches_words


@pytest.mark.parametrize(
    ("query", "texts", "expected"),
    [
        ("cardiac arrest", ("I-7", "CARDIAC_ARREST", None), True),
        ("CARDIAC", ("I-7", "CARDIAC_ARREST", "Cardiac or respiratory arrest"), True),
        ("i-7", ("I-7", "CHEST_PAIN", None), True),
        ("chest fall", ("I-7", "CHEST_PAIN", "Chest pain"), False),  # every word must occur
        ("market st", ("12 Market Street",), True),
        ("front", ("12 Market Street",), False),
        ("", ("anything",), True),
    ],
)
def test_every_word_of_the_query_must_occur(
    query: str, texts: tuple[str | None, ...], expected: bool
) -> None:
    assert matches_words(query, *texts) is expected


def test_the_address_is_the_address_field_else_the_methane_exact_location() -> None:
    assert address_of({"address": "12 Market St", "methane": {"exact_location": "rear"}}) == (
        "12 Market St"
    )
    assert address_of({"address": "  ", "methane": {"exact_location": "Car park B"}}) == (
        "Car park B"
    )
    assert address_of({"details": "no address given"}) is None
    assert address_of({"methane": "not a mapping"}) is None
