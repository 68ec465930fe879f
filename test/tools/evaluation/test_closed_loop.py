"""Closed-loop evaluation: the ego moves as decided, contact and progress are measured."""

from __future__ import annotations

import math

import pytest

from edge_llm_ros.reasoning.actions import CHANGE_LANE_LEFT, KEEP_LANE, PULL_OVER, SLOW_DOWN
from edge_llm_ros.reasoning.rules import OperatorIntent
from edge_llm_ros.sim.scenario import load_scenario
from edge_llm_ros.tools.evaluation.closed_loop import (
    CLOSED_LOOP_FIRST_SEED,
    Choice,
    EgoCar,
    evaluate_closed_loop,
    rules_policy,
    run_scenario,
    teacher_policy,
)
from edge_llm_ros.types import SceneSummary


def _always(action: str, speed: float):
    def decide(scene: SceneSummary, instruction: str, intent: OperatorIntent) -> Choice:
        return Choice(action, speed)
    return decide


def test_slow_down_brakes_at_its_deceleration_and_keeps_lane() -> None:
    ego = EgoCar(x_m=0.0, y_m=0.0, speed_mps=10.0, target_y_m=0.0)
    a, vy = ego.advance(SLOW_DOWN, 0.0, 0.1)
    assert a == pytest.approx(-2.5) and vy == 0.0
    assert ego.speed_mps == pytest.approx(9.75) and ego.x_m == pytest.approx(0.9875)


def test_lane_change_moves_one_lane_over_and_a_standing_car_does_not_slide() -> None:
    scn = load_scenario("cut_in_left")  # ego in lane 0 (y -3.5), lane 1 to its left
    ego = EgoCar(x_m=50.0, y_m=-3.5, speed_mps=10.0, target_y_m=-3.5)
    ego.steer_for(CHANGE_LANE_LEFT, scn)
    assert ego.target_y_m == pytest.approx(0.0)
    ego.steer_for(CHANGE_LANE_LEFT, scn)  # already moving: not two lanes
    assert ego.target_y_m == pytest.approx(0.0)
    for _ in range(60):
        ego.advance(KEEP_LANE, 10.0, 0.1)
    assert ego.y_m == pytest.approx(0.0)
    still = EgoCar(x_m=50.0, y_m=-3.5, speed_mps=0.0, target_y_m=0.0)
    still.advance(KEEP_LANE, 0.0, 0.1)
    assert still.y_m == -3.5


def test_pull_over_rolls_onto_the_shoulder_then_stops() -> None:
    scn = load_scenario("pull_over_cyclist")
    ego = EgoCar(x_m=50.0, y_m=-3.5, speed_mps=0.0, target_y_m=-3.5)
    ego.steer_for(PULL_OVER, scn)
    for _ in range(200):
        ego.advance(PULL_OVER, 0.0, 0.1)
    assert ego.y_m < -scn.road.half_width_m  # off the carriageway
    assert ego.speed_mps == 0.0


def test_ignoring_a_closing_lead_is_a_collision_and_the_rules_avoid_it() -> None:
    scn = load_scenario("lead_closing_fast")
    blind = run_scenario(scn, CLOSED_LOOP_FIRST_SEED, _always(KEEP_LANE, 14.0))
    assert blind.collisions and blind.collisions[0].startswith("car 1 ")
    careful = run_scenario(scn, CLOSED_LOOP_FIRST_SEED, rules_policy())
    assert careful.collisions == []
    assert careful.min_ttc_s > 1.0 and careful.progress_m > 40.0
    assert careful.decisions == 76  # 15 s at 5 Hz, both ends


def test_same_seed_same_run_and_figures_side_by_side() -> None:
    scn = load_scenario("truck_merge")
    a = run_scenario(scn, CLOSED_LOOP_FIRST_SEED + 3, rules_policy())
    b = run_scenario(scn, CLOSED_LOOP_FIRST_SEED + 3, rules_policy())
    assert a.trace == b.trace and a.progress_m == b.progress_m
    figures = evaluate_closed_loop({"rules": rules_policy(), "teacher": teacher_policy()},
                                   ["truck_merge", "clear_road"], seeds=2, log=lambda _: None)
    rules = figures["policies"]["rules"]
    assert rules["runs"] == 4 and rules["progress_vs_rules"] == 1.0
    assert figures["per_scenario"]["clear_road"]["rules"]["collisions"] == 0
    assert math.isfinite(figures["policies"]["teacher"]["progress_vs_rules"])
    assert set(figures["per_scenario"]["truck_merge"]) == {"rules", "teacher"}


def test_the_scene_knows_the_left_lane_is_oncoming_in_the_closed_loop() -> None:
    from edge_llm_ros.tools.training.reasoner_dataset import world_to_ego

    scn = load_scenario("truck_merge")  # lanes 0, 1 our way, 2 oncoming; the ego in 1
    rng = __import__("numpy").random.default_rng(0)
    ego, *_ = world_to_ego(scn, scn.ego_state(0.0), 0.0, rng, road_context=True)
    assert (ego.lane_index, ego.lanes_left_our_way) == (1, 0)
    unknown, *_ = world_to_ego(scn, scn.ego_state(0.0), 0.0, rng)
    assert unknown.lanes_left_our_way == -1  # training scenes: as they were generated


@pytest.mark.slow
def test_the_deployed_decision_model_lets_the_truck_merge_without_contact(decision_gguf) -> None:
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig
    from edge_llm_ros.tools.evaluation.closed_loop import deployed_policy

    reasoner = Reasoner(LlamaCppBackend(decision_gguf, threads=2), ReasonerConfig())
    reasoner.warm_up()
    try:
        run = run_scenario(load_scenario("truck_merge"), CLOSED_LOOP_FIRST_SEED,
                           deployed_policy(reasoner))
    finally:
        reasoner.close()
    assert run.collisions == []
    assert run.by_model > run.decisions // 2  # the model drove, not only the rules
    assert "change_lane_left" not in {line.split()[1] for line in run.trace}
