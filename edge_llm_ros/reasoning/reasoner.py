"""The reasoner core: a Decision for every scene by its deadline, from the model when it is in time.

Generation runs on one worker thread; decide() waits for it only until the
deadline (minus a small publish margin). At that moment whatever the model has
settled counts: an action settled but its speed or ids not yet generated is
completed from the rule policy for that same action; no settled action means
the rule policy decides (source = fallback). The worker is told to stop and the
next scene finds it free again after at most one token. Rule decisions inside
the safety envelope (time-to-collision below the stop threshold, a pedestrian
or cyclist about to cross, a road user cutting in) cannot be overridden by the
model or remote advice, nor can a manoeuvre the envelope forbids (a lane change
into an occupied or oncoming lane, a pull over into an occupied shoulder) be chosen.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge_llm_ros.params.specs import default_of
from edge_llm_ros.reasoning.actions import (
    CHANGE_LANE_LEFT,
    CHANGE_LANE_RIGHT,
    KEEP_LANE,
    PULL_OVER,
    SLOW_DOWN,
    STOP,
    YIELD,
)
from edge_llm_ros.reasoning.backend import GenerationRequest, GenerationStats, ReasonerBackend
from edge_llm_ros.reasoning.encoding import (
    RemoteHint,
    dynamic_text,
    encode_scene,
    select_objects,
    static_prefix,
)
from edge_llm_ros.reasoning.rules import (
    OperatorIntent,
    RuleDecision,
    RuleThresholds,
    describe_object,
    parse_instruction,
    rule_decide,
)
from edge_llm_ros.reasoning.sanitize import sanitize_scene
from edge_llm_ros.reasoning.schema import (
    AnswerError,
    continuation_grammar,
    parse_answer,
    settled_action,
)
from edge_llm_ros.types import (
    ACTION_NAMES,
    LANE_EGO,
    SOURCE_FALLBACK_RULE,
    SOURCE_ONBOARD_MODEL,
    SOURCE_REMOTE_INFORMED,
    Decision,
    EgoState,
    SceneSummary,
    TrackedObject,
)

# A generation cut at the previous deadline stops within one token; wait that long for it.
BUSY_WAIT_MS = 15.0

# How cautious an action is; the safety envelope never lets a decision go lower.
CAUTION = {KEEP_LANE: 0, CHANGE_LANE_LEFT: 1, CHANGE_LANE_RIGHT: 1, SLOW_DOWN: 2, PULL_OVER: 2,
           YIELD: 3, STOP: 4}


def envelope_actions(rule: RuleDecision) -> tuple[str, ...]:
    """The actions the envelope lets stand in this scene (the rules' own among them): not a
    forbidden manoeuvre, only the escape when the rules' answer is one, and in a critical
    scene nothing less cautious than the rules."""
    if rule.binding:
        return (rule.action,)
    return tuple(a for a in ACTION_NAMES if a == rule.action or (
        a not in rule.forbidden
        and not (rule.critical and CAUTION[a] < CAUTION[rule.action])))


def envelope_speed_ceiling_mps(rule: RuleDecision, action: str) -> float:
    """The highest target speed the envelope lets `action` have: staying in lane no faster
    than a slower lead allows; in a critical scene, no faster than the rules."""
    ceiling = rule.lane_speed_cap_mps + 0.5 if action in (KEEP_LANE, SLOW_DOWN) else math.inf
    if rule.critical:
        ceiling = min(ceiling, rule.target_speed_mps + 0.5)
    return ceiling


def envelope_overrules(rule: RuleDecision, action: str, speed_mps: float) -> bool:
    """Whether the rules' decision must replace an answer (one the grammar did not already
    rule out: an unconstrained model, or an answer cut before its speed)."""
    return action not in envelope_actions(rule) or \
        speed_mps > envelope_speed_ceiling_mps(rule, action)


def envelope_grammar(rule: RuleDecision) -> str:
    """The answer grammar of one scene: the model chooses among what may stand."""
    return continuation_grammar(speed_ceilings_mps={
        a: envelope_speed_ceiling_mps(rule, a) for a in envelope_actions(rule)})


@dataclass(frozen=True)
class ReasonerConfig:
    """Defaults: the reasoner node's parameters (declared once, in its spec)."""

    deadline_ms: float = default_of("reasoner", "deadline_ms")
    max_new_tokens: int = default_of("reasoner", "max_new_tokens")
    # stop waiting this long before the deadline to publish
    publish_margin_ms: float = default_of("reasoner", "deadline_margin_ms")
    thresholds: RuleThresholds = field(default_factory=RuleThresholds)
    constrained: bool = True  # grammar-constrained decoding (off only for the naive baseline)
    # Publish as soon as the model has settled the action (speed and ids it has not
    # generated yet come from the rule policy for that action; the rationale is cut
    # there) instead of using the rest of the budget to complete the answer.
    publish_on_action: bool = default_of("reasoner", "publish_on_action")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **core: Any) -> ReasonerConfig:
        """From a reasoner node's parameters, plus core-only fields."""
        return cls(deadline_ms=float(params["deadline_ms"]),
                   max_new_tokens=int(params["max_new_tokens"]),
                   publish_margin_ms=float(params["deadline_margin_ms"]),
                   publish_on_action=bool(params["publish_on_action"]),
                   thresholds=RuleThresholds.from_params(params), **core)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.deadline_ms) and self.deadline_ms > 0.0):
            raise ValueError(f"deadline_ms must be > 0, got {self.deadline_ms}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class _Job:
    request: GenerationRequest
    started: float  # perf_counter at decide() entry
    lock: threading.Lock = field(default_factory=threading.Lock)
    text: str = ""
    pieces: int = 0
    settled_at: float = math.nan
    cut: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)  # done, or settled (early)
    wake_on_settle: bool = False
    stats: GenerationStats | None = None
    error: str = ""

    def still_wanted(self) -> bool:
        with self.lock:
            return not self.cut

    def on_piece(self, piece: str) -> bool:
        with self.lock:
            if self.cut:
                return False
            self.text += piece
            self.pieces += 1
            if math.isnan(self.settled_at) and _settled(self.text):
                self.settled_at = time.perf_counter()
                if self.wake_on_settle:
                    self.wake.set()
            return True


def _settled(text: str) -> bool:
    return settled_action(text) is not None


@dataclass
class ReasonerCounters:
    decisions: int = 0
    model: int = 0
    fallback: int = 0
    envelope_overrides: int = 0
    model_busy: int = 0
    model_errors: int = 0
    bad_scenes: int = 0


def speed_for(action: str, scene: SceneSummary, rule: RuleDecision,
              intent: OperatorIntent, th: RuleThresholds) -> float:
    """A target speed for `action` when the model chose it but was cut before its speed."""
    if action == rule.action:
        return rule.target_speed_mps
    ego_v = max(scene.ego.speed_mps, 0.0)
    limit = scene.ego.speed_limit_mps if scene.ego.speed_limit_mps > 0.0 else math.inf
    cap = min(limit, intent.speed_cap_mps)
    if action in (STOP, PULL_OVER):
        return 0.0
    if action == YIELD:
        return min(ego_v, 3.0)
    if action == SLOW_DOWN:
        return max(min(ego_v - 3.0, cap), 0.0)
    return min(ego_v, cap) if math.isfinite(cap) else ego_v


class Reasoner:
    """Thread-safe for one caller at a time (the node's decision thread)."""

    def __init__(self, backend: ReasonerBackend | None, config: ReasonerConfig = ReasonerConfig()
                 ) -> None:
        self.backend = backend
        self.config = config
        self.counters = ReasonerCounters()
        self.last_problems: list[str] = []
        self._last_job: _Job | None = None
        self._grammar = continuation_grammar() if config.constrained else None
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=1)
        self._busy = threading.Event()
        self._worker: threading.Thread | None = None
        if backend is not None:
            self._worker = threading.Thread(target=self._run, name="reasoner-model", daemon=True)
            self._worker.start()

    # ---------------------------------------------------------------- worker
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job.stats = self.backend.generate(job.request, job.on_piece, job.still_wanted)
            except Exception as exc:  # noqa: BLE001 - reported in the decision, never raised
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                self._busy.clear()
                job.done.set()
                job.wake.set()

    @property
    def last_stats(self) -> GenerationStats | None:
        """Timing of the last generation; None until it has finished (see wait_idle)."""
        return None if self._last_job is None else self._last_job.stats

    def _wait_idle_until(self, until: float) -> bool:
        while self._busy.is_set():
            if time.perf_counter() >= until:
                return False
            time.sleep(0.0005)
        return True

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until the model is free (a cut generation finishes its current token)."""
        end = time.perf_counter() + timeout_s
        while self._busy.is_set():
            if time.perf_counter() > end:
                return False
            time.sleep(0.001)
        return True

    def warm_up(self, instruction: str = "") -> None:
        """Fill the static prefix's key/value cache, then answer one made-up scene in full,
        before the first real scene: the first real decision then finds every weight page
        in memory and the grammar sampler built, and is no slower than later ones."""
        if self.backend is None:
            return
        self._busy.set()
        try:
            fmt = self.backend.prompt_format
            prefix = static_prefix(instruction, parse_instruction(instruction), fmt)
            self.backend.warm_up(prefix)
            scene = SceneSummary(stamp_ns=0, ego=EgoState(speed_mps=12.0, speed_limit_mps=13.9,
                                                          lane_index=1),
                                 objects=[TrackedObject(
                                     track_id=1, class_name="car", confidence=0.9,
                                     position_m=(24.0, 0.0, 0.8), size_m=(4.5, 1.8, 1.5),
                                     velocity_mps=(8.0, 0.0, 0.0), distance_m=20.0,
                                     relative_speed_mps=4.0, time_to_collision_s=5.0,
                                     lane_relation=LANE_EGO)])
            self.backend.generate(GenerationRequest(
                prefix, dynamic_text(encode_scene(scene, select_objects(scene), fmt), None),
                self.config.max_new_tokens, self._grammar), lambda _piece: True)
        finally:
            self._busy.clear()

    def close(self) -> None:
        if self._worker is not None:
            with self._jobs.mutex:
                self._jobs.queue.clear()
            self._jobs.put(None)
            self._worker.join(timeout=5.0)
            self._worker = None
        if self.backend is not None:
            self.backend.close()

    # ---------------------------------------------------------------- decide
    def decide(self, scene: SceneSummary, instruction: str = "",
               remote: RemoteHint | None = None, remote_plan_id: str = "",
               budget_ms: float | None = None, started: float | None = None,
               intent: OperatorIntent | None = None) -> Decision:
        """Decide by started + budget_ms (perf_counter clock); budget defaults to deadline_ms.
        `intent`: the instruction's structured intent when the instruction stage has read it;
        None: the keyword parser's."""
        t0 = time.perf_counter() if started is None else started
        cfg = self.config
        budget_ms = cfg.deadline_ms if budget_ms is None else budget_ms
        wake_at = t0 + max(budget_ms - cfg.publish_margin_ms, 0.0) / 1000.0
        scene, problems = sanitize_scene(scene)
        self.last_problems = problems
        if problems:
            self.counters.bad_scenes += 1
        intent = parse_instruction(instruction) if intent is None else intent
        rule = rule_decide(scene, intent, cfg.thresholds)
        shown = select_objects(scene)

        job: _Job | None = None
        reason = ""
        if self.backend is None:
            reason = "no model loaded"
        elif budget_ms <= cfg.publish_margin_ms:
            reason = f"scene arrived with {budget_ms:.0f} ms of its deadline left"
        elif self._busy.is_set() and not self._wait_idle_until(
                t0 + min(BUSY_WAIT_MS, budget_ms / 4.0) / 1000.0):
            reason = "model still busy with the previous scene"
            self.counters.model_busy += 1
        else:
            fmt = self.backend.prompt_format
            grammar = envelope_grammar(rule) if cfg.constrained else None
            request = GenerationRequest(static_prefix(instruction, intent, fmt),
                                        dynamic_text(encode_scene(scene, shown, fmt), remote),
                                        cfg.max_new_tokens, grammar)
            job = _Job(request, t0, wake_on_settle=cfg.publish_on_action)
            self._busy.set()
            self._jobs.put(job)
            job.wake.wait(timeout=max(wake_at - time.perf_counter(), 0.0))
            with job.lock:
                job.cut = True
                text = job.text
            self._last_job = job
            if job.error:
                reason = f"model failed: {job.error}"
                self.counters.model_errors += 1

        decision = None
        if job is not None and not reason:
            decision = self._from_model(text, job, scene, shown, rule, intent, remote,
                                        remote_plan_id)
            if decision is None:
                reason = "model had not settled an action by the deadline"
        if decision is None:
            decision = Decision(stamp_ns=scene.stamp_ns, action=rule.action,
                                   target_speed_mps=rule.target_speed_mps,
                                   driver_object_ids=list(rule.driver_object_ids),
                                   rationale=rule.rationale, source=SOURCE_FALLBACK_RULE,
                                   fallback_reason=reason)
        decision.deadline_ms = cfg.deadline_ms
        decision.latency_ms = (time.perf_counter() - t0) * 1000.0
        if job is not None:
            decision.generated_tokens = job.pieces
        self.counters.decisions += 1
        if decision.source == SOURCE_FALLBACK_RULE:
            self.counters.fallback += 1
        else:
            self.counters.model += 1
        return decision

    def _from_model(self, text: str, job: _Job, scene: SceneSummary, shown: list,
                    rule: RuleDecision, intent: OperatorIntent, remote: RemoteHint | None,
                    remote_plan_id: str) -> Decision | None:
        try:
            answer = parse_answer(text)
        except AnswerError:
            return None
        action = answer.action
        th = self.config.thresholds
        speed = answer.target_speed_mps
        if speed is None:  # cut before its speed: the rules' for that action, within bounds
            speed = speed_for(action, scene, rule, intent, th)
            ceiling = envelope_speed_ceiling_mps(rule, action)
            if action in envelope_actions(rule) and math.isfinite(ceiling):
                speed = max(min(speed, float(math.floor(ceiling))), 0.0)
        if answer.slots is not None:
            ids = [shown[s - 1].track_id for s in answer.slots if 1 <= s <= len(shown)]
        else:
            ids = list(rule.driver_object_ids) if action == rule.action else []
        source = SOURCE_REMOTE_INFORMED if remote is not None else SOURCE_ONBOARD_MODEL
        rationale = answer.rationale
        if not rationale and action == rule.action:
            rationale = rule.rationale  # cut before its own: the policy's reason for the same
        elif not rationale:
            # Cut before its own reason and the policy chose otherwise: say what it saw.
            rationale = (f"model's {action}; " + describe_object(shown[0], "nearest at")
                         if shown else f"model's {action}; no objects")
        decision = Decision(stamp_ns=scene.stamp_ns, action=action, target_speed_mps=speed,
                               driver_object_ids=ids, rationale=rationale, source=source,
                               remote_plan_id=remote_plan_id if remote is not None else "",
                               settled_ms=(job.settled_at - job.started) * 1000.0)
        if envelope_overrules(rule, action, speed):
            self.counters.envelope_overrides += 1
            decision.action = rule.action
            decision.target_speed_mps = rule.target_speed_mps
            decision.driver_object_ids = list(rule.driver_object_ids)
            decision.rationale = rule.rationale
            decision.source = SOURCE_FALLBACK_RULE
            decision.fallback_reason = (f"safety envelope: model said {action} at "
                                        f"{speed:.0f} m/s; {rule.rationale}")
        return decision

