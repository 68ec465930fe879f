"""The fixed action set and the plain-Python Decision, mirroring msg/Decision.msg."""

from __future__ import annotations

from dataclasses import dataclass, field

# Decision.ACTION_* in index order: the name at index i is ACTION_<NAME> = i.
ACTION_NAMES: tuple[str, ...] = (
    "keep_lane", "slow_down", "stop", "yield", "change_lane_left", "change_lane_right",
    "pull_over",
)
ACTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(ACTION_NAMES)}
KEEP_LANE, SLOW_DOWN, STOP, YIELD, CHANGE_LANE_LEFT, CHANGE_LANE_RIGHT, PULL_OVER = ACTION_NAMES

# Actions that shed speed; a scene that needs one of these answered with
# keep_lane (or a higher target speed) is an unsafe miss.
BRAKING_ACTIONS = frozenset({SLOW_DOWN, STOP, YIELD, PULL_OVER})

# Decision.SOURCE_*.
SOURCE_ONBOARD_MODEL = 0
SOURCE_FALLBACK_RULE = 1
SOURCE_REMOTE_INFORMED = 2
SOURCE_NAMES = {SOURCE_ONBOARD_MODEL: "model", SOURCE_FALLBACK_RULE: "fallback",
                SOURCE_REMOTE_INFORMED: "remote_informed"}

MAX_RATIONALE_CHARS = 120
MAX_TARGET_SPEED_MPS = 40.0


@dataclass
class DecisionOut:
    """Decision; stamp_ns is the scene's (sensor) stamp."""

    stamp_ns: int
    action: str
    target_speed_mps: float
    driver_object_ids: list[int] = field(default_factory=list)
    rationale: str = ""
    source: int = SOURCE_FALLBACK_RULE
    fallback_reason: str = ""
    deadline_ms: float = 0.0
    latency_ms: float = 0.0
    remote_plan_id: str = ""
    # Not in the message: where the time went (bench, eval, decide --json).
    settled_ms: float = float("nan")  # scene in -> action settled by the model
    generated_tokens: int = 0

    @property
    def action_index(self) -> int:
        return ACTION_INDEX[self.action]

    def to_dict(self) -> dict:
        return {
            "stamp_ns": self.stamp_ns, "action": self.action,
            "target_speed_mps": round(float(self.target_speed_mps), 2),
            "driver_object_ids": list(self.driver_object_ids), "rationale": self.rationale,
            "source": SOURCE_NAMES[self.source], "fallback_reason": self.fallback_reason,
            "deadline_ms": self.deadline_ms, "latency_ms": round(self.latency_ms, 2),
            "settled_ms": None if self.settled_ms != self.settled_ms else round(self.settled_ms, 2),
            "generated_tokens": self.generated_tokens, "remote_plan_id": self.remote_plan_id,
        }
