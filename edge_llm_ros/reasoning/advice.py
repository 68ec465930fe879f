"""Remote plans on board: untrusted advice, validated and bounded before the reasoner sees it."""

from __future__ import annotations

import math

from edge_llm_ros.reasoning.actions import MAX_TARGET_SPEED_MPS
from edge_llm_ros.reasoning.encoding import RemoteHint
from edge_llm_ros.types import ACTION_NAMES, STATUS_OK, RemotePlan

MAX_REMOTE_RATIONALE_CHARS = 200
MAX_REMOTE_STEPS = 16


class AdviceRejectedError(ValueError):
    """A remote plan that must not be used; the message says why."""


def validate_plan(plan: RemotePlan, now_ns: int) -> RemoteHint:
    """The hint the model may see, or AdviceRejectedError. Never trusts the remote's text."""
    if plan.status != STATUS_OK:
        raise AdviceRejectedError(f"plan {plan.request_id!r} has status {plan.status}, not OK")
    if not plan.steps:
        raise AdviceRejectedError(f"plan {plan.request_id!r} has no steps")
    if len(plan.steps) > MAX_REMOTE_STEPS:
        raise AdviceRejectedError(f"plan {plan.request_id!r} has {len(plan.steps)} steps "
                             f"(at most {MAX_REMOTE_STEPS})")
    ttl = plan.time_to_live_s
    if not (isinstance(ttl, (int, float)) and math.isfinite(ttl) and 0.0 < ttl <= 60.0):
        raise AdviceRejectedError(f"plan {plan.request_id!r} has time-to-live {ttl!r} s")
    age_s = (now_ns - plan.stamp_ns) / 1e9
    if age_s > ttl:
        raise AdviceRejectedError(
            f"plan {plan.request_id!r} is stale ({age_s:.2f} s > {ttl:.2f} s)")
    if age_s < -1.0:
        raise AdviceRejectedError(
            f"plan {plan.request_id!r} is stamped {-age_s:.2f} s in the future")
    step = plan.steps[0]
    if not 0 <= step.action < len(ACTION_NAMES):
        raise AdviceRejectedError(f"plan {plan.request_id!r}: unknown action {step.action}")
    speed = step.target_speed_mps
    if not (isinstance(speed, (int, float)) and math.isfinite(speed)
            and 0.0 <= speed <= MAX_TARGET_SPEED_MPS):
        raise AdviceRejectedError(f"plan {plan.request_id!r}: target speed {speed!r} m/s")
    return RemoteHint(ACTION_NAMES[step.action], float(speed))


def bounded_rationale(text: str) -> str:
    """Remote text for logs and records only: printable, bounded."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean[:MAX_REMOTE_RATIONALE_CHARS]
