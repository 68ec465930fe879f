"""The model's output contract: a JSON object, action first, and the grammar that enforces it.

Output: {"a":"<action>","v":<target speed m/s, 0..40>,"ids":[<object slots>],"why":"<reason>"}

The prompt ends with the object's opening `{"a":"`, so the first generated token
is already the action's: the action is settled right after prefill. The GBNF
grammar below constrains everything after that opening; llama.cpp's grammar
sampler (or the GPU runtime's guided decoder) enforces it token by token, so an
answer cut anywhere is still a prefix of a valid object.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from edge_llm_ros.reasoning.actions import MAX_RATIONALE_CHARS
from edge_llm_ros.types import ACTION_NAMES

ANSWER_OPENING = '{"a":"'
MAX_SLOTS = 9  # objects are referred to by their 1-based slot in the prompt

DECISION_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "a": {"enum": list(ACTION_NAMES)},
        "v": {"type": "integer", "minimum": 0, "maximum": 40},
        "ids": {"type": "array", "items": {"type": "integer", "minimum": 1,
                                             "maximum": MAX_SLOTS}},
        "why": {"type": "string", "maxLength": MAX_RATIONALE_CHARS},
    },
    "required": ["a", "v", "ids", "why"],
    "additionalProperties": False,
}


MAX_SPEED_MPS = 40  # the schema's "v" maximum


def continuation_grammar(max_rationale_chars: int = MAX_RATIONALE_CHARS,
                         speed_ceilings_mps: Mapping[str, float] | None = None) -> str:
    """GBNF for the answer after ANSWER_OPENING (the schema above, fixed key order).

    `speed_ceilings_mps`: only these actions, each no faster than its ceiling (the safety
    envelope of one scene), so the model chooses among what may stand instead of being
    overruled afterwards; None: every action at any schema speed."""
    tail = r'",\"ids\":[" ids "],\"why\":\"" why "\"}"'
    rules = ['ids ::= ([1-9] ("," [1-9]){0,4})?',
             f"why ::= [a-zA-Z0-9 .,;:%/()_+=-]{{0,{max_rationale_chars}}}"]
    if speed_ceilings_mps is None:
        actions = " | ".join(f'"{name}"' for name in ACTION_NAMES)
        return "\n".join([
            r'root ::= action "\",\"v\":" speed ' + tail,
            f"action ::= {actions}",
            'speed ::= [0-9] | [1-3] [0-9] | "40"',
            *rules]) + "\n"
    by_ceiling: dict[int, list[str]] = {}
    for name in ACTION_NAMES:  # schema order, so equal envelopes give equal grammars
        if name in speed_ceilings_mps and speed_ceilings_mps[name] >= 0:
            ceiling = min(int(speed_ceilings_mps[name]), MAX_SPEED_MPS) \
                if math.isfinite(speed_ceilings_mps[name]) else MAX_SPEED_MPS
            by_ceiling.setdefault(ceiling, []).append(name)
    if not by_ceiling:
        raise ValueError("a grammar needs at least one action")
    alternatives = []
    for ceiling, names in sorted(by_ceiling.items()):
        actions = " | ".join(f'"{name}"' for name in names)
        alternatives.append(f'({actions}) "\\",\\"v\\":" speed{ceiling}')
        speeds = " | ".join(f'"{v}"' for v in range(ceiling, -1, -1))
        rules.append(f"speed{ceiling} ::= {speeds}")
    return "\n".join([f"root ::= ({' | '.join(alternatives)}) " + tail] + rules) + "\n"


def settled_action(generated: str) -> str | None:
    """The action once the generated text pins it down (unique prefix), else None."""
    head = generated.split('"', 1)[0]
    if '"' in generated:
        return head if head in ACTION_NAMES else None
    matches = [name for name in ACTION_NAMES if name.startswith(head)] if head else []
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class ParsedAnswer:
    action: str
    target_speed_mps: float | None  # None: the answer was cut before it
    slots: tuple[int, ...] | None
    rationale: str  # possibly cut short
    complete: bool


_SPEED = re.compile(r'"v":(\d{1,2})[,}]')
_IDS = re.compile(r'"ids":\[([0-9,]*)\]')
_WHY = re.compile(r'"why":"([^"]*)')


class AnswerError(ValueError):
    """Text that is not a (prefix of a) valid answer."""


def parse_answer(generated: str) -> ParsedAnswer:
    """Parse the continuation after ANSWER_OPENING, complete or cut at the deadline."""
    text = ANSWER_OPENING + generated
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        action = obj.get("a")
        if action not in ACTION_NAMES:
            raise AnswerError(f"unknown action {action!r}")
        speed, ids, why = obj.get("v"), obj.get("ids"), obj.get("why")
        if not isinstance(speed, int) or not 0 <= speed <= 40:
            raise AnswerError(f"target speed {speed!r} outside 0..40")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise AnswerError(f"ids {ids!r} is not a list of integers")
        if not isinstance(why, str):
            raise AnswerError("rationale is not a string")
        return ParsedAnswer(action, float(speed), tuple(ids), why[:MAX_RATIONALE_CHARS], True)
    action = settled_action(generated)
    if action is None:
        raise AnswerError(f"no action settled in {generated[:40]!r}")
    m = _SPEED.search(text)
    speed = float(m.group(1)) if m else None
    m = _IDS.search(text)
    slots = tuple(int(s) for s in m.group(1).split(",") if s) if m else None
    m = _WHY.search(text)
    return ParsedAnswer(action, speed, slots, m.group(1)[:MAX_RATIONALE_CHARS] if m else "",
                        False)


def format_answer(action: str, target_speed_mps: float, slots: tuple[int, ...] | list[int],
                  rationale: str) -> str:
    """The continuation a perfect model would produce (training targets)."""
    why = re.sub(r"[^a-zA-Z0-9 .,;:%/()_+=-]", "", rationale)[:MAX_RATIONALE_CHARS]
    speed = int(round(min(max(target_speed_mps, 0.0), 40.0)))
    ids = ",".join(str(s) for s in list(slots)[:5])
    return f'{action}","v":{speed},"ids":[{ids}],"why":"{why}"}}'
