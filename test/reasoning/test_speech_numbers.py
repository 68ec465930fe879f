"""Speeds as people say them: digits and words in three languages, units in their spoken
forms, typos, and numbers that are not followed by a unit."""

from __future__ import annotations

import pytest

from edge_llm_ros.reasoning.speech_numbers import read_speed, unit_after


@pytest.mark.parametrize(("text", "expected"), [
    ("keep it under 40 km/h", (40, "kmh")),
    ("no faster than thirty-five mph", (35, "mph")),
    ("seventy five kilometres per hour max", (75, "kmh")),
    ("at most a hundred kph", (100, "kmh")),
    ("hold 12 metres per second", (12, "mps")),
    ("10 mrtres per seond is fast enough", (10, "mps")),  # typos in the unit
    ("never above siixty kilometers an hour", (60, "kmh")),  # a typo in the number
    ("höchstens fünfunddreißig Stundenkilometer", (35, "kmh")),
    ("nicht mehr als 50 Sachen", (50, "kmh")),
    ("halte 25 Meilen pro Stunde", (25, "mph")),
    ("限速一百二十公里", (120, "kmh")),
    ("速度不要超过六十迈", (60, "kmh")),
    ("别超过40英英里/小时", (40, "mph")),  # a doubled character
    ("开到五米每秒", (5, "mps")),
    ("keep it under 50", (50, "kmh")),  # no unit: the tightest reading
])
def test_speeds_as_said(text: str, expected: tuple[int, str]) -> None:
    assert read_speed(text) == expected


def test_the_number_with_a_unit_wins_over_an_earlier_one() -> None:
    assert read_speed("in 5 minutes go no faster than 30 mph") == (30, "mph")


@pytest.mark.parametrize("text", ["go right here", "take the next exit", "there is a car",
                                  "", "wir fahren jetzt los", "请靠边停车"])
def test_no_number_is_no_speed(text: str) -> None:
    # "right" is one letter from "eight", "there" one swap from "three": not numbers.
    assert read_speed(text) is None


def test_units_need_their_first_letter_and_a_close_spelling() -> None:
    assert unit_after(" km/h please") == ("kmh", 0)
    assert unit_after(" miles an hour")[0] == "mph"
    assert unit_after(" minutes") is None
    assert unit_after(" kilos") is None
