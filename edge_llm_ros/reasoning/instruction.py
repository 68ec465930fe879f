"""An operator instruction's structured intent, and the short text the instruction model
answers it in.

Why a text form: the instruction model is a language model like the decision model
(same runtime, same GGUF tooling), so its answer is a short tag line under a grammar,
parsed strictly here:

    cap 30 kmh stay caution weather        speed cap (value as said, unit), stay in lane,
                                           caution and its reason
    pull flag override                     pull over; the text also tried to override safety
    none                                   nothing the vehicle acts on

Tags come in a fixed order (cap, pull, stop, stay, left|right, hurry, caution, flag).
The intent only ever tightens what the vehicle does (`operator_intent`): a cap lowers
the speed limit, caution caps the speed, pull/stop ask for a pull over, stay forbids
lane changes; hurry and a requested lane change are recorded, never a reason to go
faster or to change lanes past the envelope, and flagged text is never obeyed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edge_llm_ros.reasoning.rules import (
    SLOW_INSTRUCTION_CAP_MPS,
    SPEED_NUMBER,
    OperatorIntent,
    parse_instruction,
)

INSTRUCTION_PROMPT_FORMAT = "instruction"  # the prompt format the instruction model names
MAX_INSTRUCTION_CHARS = 160
MAX_ANSWER_TOKENS = 24

UNIT_MPS = {"kmh": 1.0 / 3.6, "mph": 0.44704, "mps": 1.0}
UNIT_LABELS = {"kmh": "km/h", "mph": "mph", "mps": "m/s"}
CAUTION_REASONS = ("weather", "slippery", "visibility", "children", "roadworks", "passenger",
                   "pedestrians", "unspecified")
FLAGS = ("override", "unsafe")
LANE_SIDES = ("left", "right")
MAX_CAP_VALUE = 300  # larger numbers are not a speed anyone asks for

SOURCE_MODEL = "model"
SOURCE_REGEX = "regex"


@dataclass(frozen=True)
class InstructionIntent:
    """What one instruction asks for; units in names, '' for an unset choice."""

    speed_cap_value: int = 0  # as said, in speed_cap_unit; 0 with unit '' when none
    speed_cap_unit: str = ""  # one of UNIT_MPS or ''
    pull_over: bool = False
    stop: bool = False
    stay_in_lane: bool = False
    change_lane: str = ""  # 'left', 'right' or ''
    hurry: bool = False
    caution_reason: str = ""  # one of CAUTION_REASONS or '' (no caution asked)
    override_attempt: bool = False  # tries to switch off or talk past safety
    unsafe_request: bool = False  # asks for something unsafe (red light, sidewalk, ...)

    @property
    def speed_cap_mps(self) -> float:
        if not self.speed_cap_unit:
            return math.inf
        return self.speed_cap_value * UNIT_MPS[self.speed_cap_unit]

    @property
    def flagged(self) -> bool:
        return self.override_attempt or self.unsafe_request

    @property
    def is_empty(self) -> bool:
        return self == InstructionIntent()


def intent_to_text(intent: InstructionIntent) -> str:
    """The canonical tag line (the instruction model's training target)."""
    tags = []
    if intent.speed_cap_unit:
        tags.append(f"cap {intent.speed_cap_value} {intent.speed_cap_unit}")
    tags += [name for name, on in (("pull", intent.pull_over), ("stop", intent.stop),
                                   ("stay", intent.stay_in_lane)) if on]
    if intent.change_lane:
        tags.append(intent.change_lane)
    if intent.hurry:
        tags.append("hurry")
    if intent.caution_reason:
        tags.append(f"caution {intent.caution_reason}")
    flags = [f for f, on in (("override", intent.override_attempt),
                             ("unsafe", intent.unsafe_request)) if on]
    if flags:
        tags.append("flag " + " ".join(flags))
    return " ".join(tags) or "none"


class IntentParseError(ValueError):
    """The model's answer is not a tag line."""


_CAP = re.compile(r"cap (\d{1,3}) (kmh|mph|mps)")


def intent_from_text(text: str) -> InstructionIntent:
    """Strict inverse of intent_to_text (tags in any order; each at most once)."""
    words = text.split()
    if words == ["none"]:
        return InstructionIntent()
    fields: dict = {}
    i = 0

    def take(name: str, value: object) -> None:
        if name in fields:
            raise IntentParseError(f"{name} given twice in {text!r}")
        fields[name] = value

    while i < len(words):
        w = words[i]
        if w == "cap":
            m = _CAP.fullmatch(" ".join(words[i:i + 3]))
            if m is None or int(m.group(1)) > MAX_CAP_VALUE:
                raise IntentParseError(f"bad speed cap in {text!r}")
            take("speed_cap_value", int(m.group(1)))
            fields["speed_cap_unit"] = m.group(2)
            i += 3
            continue
        if w in ("pull", "stop", "stay", "hurry"):
            take({"pull": "pull_over", "stay": "stay_in_lane"}.get(w, w), True)
        elif w in LANE_SIDES:
            take("change_lane", w)
        elif w == "caution" and i + 1 < len(words) and words[i + 1] in CAUTION_REASONS:
            take("caution_reason", words[i + 1])
            i += 1
        elif w == "flag":
            flags = []
            while i + 1 < len(words) and words[i + 1] in FLAGS:
                flags.append(words[i + 1])
                i += 1
            if not flags:
                raise IntentParseError(f"flag without a kind in {text!r}")
            take("override_attempt", "override" in flags)
            fields["unsafe_request"] = "unsafe" in flags
        else:
            raise IntentParseError(f"unknown tag {w!r} in {text!r}")
        i += 1
    if not fields:
        raise IntentParseError(f"empty intent answer {text!r}")
    return InstructionIntent(**fields)


def answer_grammar() -> str:
    """GBNF for the tag line, so the model cannot answer anything intent_from_text rejects."""
    reasons = " | ".join(f'"{r}"' for r in CAUTION_REASONS)
    return (
        'root ::= "none" | tags\n'
        'tags ::= cap? pull? stop? stay? lane? hurry? caution? flag?\n'
        'cap ::= "cap " [1-9] [0-9]? [0-9]? " " ("kmh" | "mph" | "mps") " "?\n'
        'pull ::= "pull" " "?\n'
        'stop ::= "stop" " "?\n'
        'stay ::= "stay" " "?\n'
        'lane ::= ("left" | "right") " "?\n'
        'hurry ::= "hurry" " "?\n'
        f'caution ::= "caution " ({reasons}) " "?\n'
        'flag ::= "flag " ("override" | "unsafe" | "override unsafe")\n'
    )


def clean_instruction(text: str) -> str:
    """One line, at most MAX_INSTRUCTION_CHARS, no chat-template markers (a fake system
    tag in the text stays visible to the model as plain words, never as a turn)."""
    text = text.replace("<|", "< |").replace("|>", "| >")
    return " ".join(text.split())[:MAX_INSTRUCTION_CHARS]


def instruction_prompt(text: str) -> tuple[str, str]:
    """(static prefix, dynamic part ending where the answer starts)."""
    return ("<|im_start|>instruction\n",
            f"{clean_instruction(text)}<|im_end|>\n<|im_start|>intent\n")


def operator_intent(intent: InstructionIntent) -> OperatorIntent:
    """What the rules, the envelope and the decision model act on: only ever tighter
    than no instruction at all."""
    cap = intent.speed_cap_mps
    if intent.caution_reason:
        cap = min(cap, SLOW_INSTRUCTION_CAP_MPS)
    return OperatorIntent(speed_cap_mps=cap, pull_over=intent.pull_over or intent.stop,
                          avoid_lane_change=intent.stay_in_lane)


def regex_intent(text: str) -> InstructionIntent:
    """The keyword parser's reading as an InstructionIntent: the fallback until the model
    has answered, and the baseline the model is measured against."""
    parsed = parse_instruction(text)
    value, unit = 0, ""
    m = SPEED_NUMBER.search(text or "")
    if m:
        value = int(m.group(1))
        unit = "kmh" if m.group(2).lower().startswith("k") else "mps"
    caution = ("unspecified" if not unit and math.isfinite(parsed.speed_cap_mps) else "")
    return InstructionIntent(speed_cap_value=value, speed_cap_unit=unit,
                             pull_over=parsed.pull_over, stay_in_lane=parsed.avoid_lane_change,
                             caution_reason=caution)
