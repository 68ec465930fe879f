"""A speed as said in an instruction: its number (digits or words, English, German,
Chinese) and its unit (km/h, mph, m/s in the words people use), typos tolerated.

Why not the classifier: the reader's sentence encoder tells *that* a clause caps the
speed, but embeddings blur quantities; numbers and units are a closed vocabulary that
a small parser reads exactly.
"""

from __future__ import annotations

import re

# Unit surfaces by unit, lower case; compared with a small edit distance (typos).
UNIT_SURFACES: dict[str, tuple[str, ...]] = {
    "kmh": ("km/h", "kmh", "kph", "km/std", "km per hour", "km an hour", "kilometres per hour",
            "kilometers per hour", "kilometres an hour", "kilometers an hour", "kilometre",
            "kilometer", "stundenkilometer", "kilometer pro stunde", "kilometern pro stunde",
            "sachen", "公里/小时", "公里每小时", "公里", "千米每小时", "千米/小时", "千米", "迈"),
    "mph": ("mph", "miles per hour", "miles an hour", "mile per hour", "meilen pro stunde",
            "meilen", "英里/小时", "英里每小时", "英里", "迈尔"),
    "mps": ("m/s", "mps", "metres per second", "meters per second", "metre per second",
            "meter per second", "meter pro sekunde", "metern pro sekunde", "米/秒", "米每秒",
            "米一秒"),
}
# The tightest reading of a bare number: the same value in km/h is the lowest speed.
DEFAULT_UNIT = "kmh"
MAX_SPEED_VALUE = 300

_EN_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9}
_EN_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
             "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
            "eighty": 80, "ninety": 90}
_DE_UNITS = {"ein": 1, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
             "sieben": 7, "acht": 8, "neun": 9}
_DE_TEENS = {"zehn": 10, "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14,
             "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19}
_DE_TENS = {"zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60,
            "siebzig": 70, "achtzig": 80, "neunzig": 90}
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_WORD_VALUES = {**_EN_UNITS, **_EN_TEENS, **_EN_TENS, **_DE_UNITS, **_DE_TEENS, **_DE_TENS}
_HUNDRED_WORDS = ("hundred", "hundert")

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[一二两三四五六七八九十百零]+|[^\W\d_\u4e00-\u9fff]+|\S",
                    re.UNICODE)


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of neighbours costs one)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = int(a[i - 1] != b[j - 1])
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _close(word: str, known: str) -> bool:
    if word == known:
        return True
    # Typos here keep the first letter, and short number words are too near other
    # words ("right" is one letter from "eight") to be guessed at.
    return len(known) >= 5 and word[:1] == known[:1] and abs(len(word) - len(known)) <= 1 \
        and _edit_distance(word, known) <= 1


def _word_value(word: str) -> int | None:
    """A number word (typos allowed in longer words), German compounds included."""
    w = word.lower()
    if w in _WORD_VALUES:
        return _WORD_VALUES[w]
    # Only the tens and teens are guessed at: "there" is one swap from "three".
    near = [(_edit_distance(w, k), v) for k, v in _WORD_VALUES.items()
            if v >= 10 and _close(w, k)]
    if near:
        return min(near)[1]
    for known in _HUNDRED_WORDS:
        if _close(w, known) or _close(w, "ein" + known):
            return 100
    m = re.fullmatch(r"(ein|zwei|drei)hundert", w)
    if m:
        return _DE_UNITS[m.group(1)] * 100
    m = re.fullmatch(r"(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)und(\w+)", w)
    if m:
        tens = next((v for k, v in _DE_TENS.items() if _close(m.group(2), k)), None)
        if tens is not None:
            return tens + _DE_UNITS[m.group(1)]
    return None


def _chinese_value(text: str) -> int | None:
    """一百二十, 三十五, 十五, 八十, 六 -> int; None when it is not a plain numeral."""
    if not text:
        return None
    total, digit = 0, None
    for ch in text:
        if ch in _ZH_DIGITS:
            if digit is not None:
                return None  # two digits in a row: a date or a list, not a speed
            digit = _ZH_DIGITS[ch]
        elif ch == "百":
            total += (digit if digit is not None else 1) * 100
            digit = None
        elif ch == "十":
            total += (digit if digit is not None else 1) * 10
            digit = None
    return total + (digit or 0)


def _numbers(text: str) -> list[tuple[int, int]]:
    """(value, end offset) of every number said in the text, in order."""
    found: list[tuple[int, int]] = []
    tokens = list(_TOKEN.finditer(text))
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        raw = tok.group(0)
        value: int | None = None
        end = tok.end()
        if raw[0].isdigit():
            value = int(float(raw.replace(",", ".")))
        elif raw[0] in "一二两三四五六七八九十百零":
            value = _chinese_value(raw)
        else:
            value = _word_value(raw)
            if value is not None and i + 2 < len(tokens) and tokens[i + 1].group(0) == "-":
                i += 1  # thirty-five
            if value is not None and i + 1 < len(tokens):
                nxt = tokens[i + 1].group(0).lower()
                if value < 10 and any(_close(nxt, h) for h in _HUNDRED_WORDS):
                    value, end, i = value * 100, tokens[i + 1].end(), i + 1
                elif value % 10 == 0 and 20 <= value < 100 and nxt in _EN_UNITS:
                    value, end, i = value + _EN_UNITS[nxt], tokens[i + 1].end(), i + 1
            if raw.lower() == "a" and i + 1 < len(tokens) and \
                    any(_close(tokens[i + 1].group(0).lower(), h) for h in _HUNDRED_WORDS):
                value, end, i = 100, tokens[i + 1].end(), i + 1
        if value is not None:
            found.append((value, end))
        i += 1
    return found


def unit_after(text: str) -> tuple[str, int] | None:
    """(unit, its surface's edit distance) for the unit that starts `text`, if any."""
    head = text.lstrip(" -").lower()
    best: tuple[float, int, str, int] | None = None
    for unit, surfaces in UNIT_SURFACES.items():
        for surface in surfaces:
            allowed = 0 if len(surface) <= 4 else 1 if len(surface) <= 9 else 2
            if len(head) < len(surface) - allowed or head[:1] != surface[:1]:
                continue
            dist = min(_edit_distance(head[:n], surface)
                       for n in range(len(surface) - allowed, len(surface) + allowed + 1))
            if dist > allowed:
                continue
            # Prefer the closest, then the longest surface (most specific).
            key = (dist / len(surface), -len(surface), unit, dist)
            if best is None or key < best:
                best = key
    return None if best is None else (best[2], best[3])


def read_speed(text: str) -> tuple[int, str] | None:
    """(value as said, unit) of the speed in `text`: the number followed by a unit, else
    the first plausible number read in DEFAULT_UNIT; None when no number is said."""
    numbers = [(v, end) for v, end in _numbers(text) if 0 < v <= MAX_SPEED_VALUE]
    if not numbers:
        return None
    for value, end in numbers:
        unit = unit_after(text[end:])
        if unit is not None:
            return value, unit[0]
    return numbers[0][0], DEFAULT_UNIT
