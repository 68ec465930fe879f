"""The teacher evaluation: the rollout judge, and the 40-scene failure kinds.

Each failure kind of the hand-written 40-scene review is rebuilt here: the
decision the rule policy made before the lateral envelope (written down as a
fact of that version) is unsafe by the rollout, the teacher's is safe, and so
is today's rule policy's.
"""

from __future__ import annotations

import pytest

from edge_llm_ros.planning.teacher import TeacherConfig, teach
from edge_llm_ros.reasoning.rules import OperatorIntent, parse_instruction, rule_decide
from edge_llm_ros.tools.evaluation.teacher import evaluate_teacher, judge, main
from edge_llm_ros.tools.training.hard_cases import Actor, road_scene

PULL_OVER = parse_instruction("please pull over, let me out")

# (scene, intent, the old rules' decision)
FAILURE_KINDS = {
    "pull over with a cyclist alongside on the right": (
        road_scene(8.0, [Actor(4, "cyclist", 0.0, -2.5, 7.0)], lane_index=0), PULL_OVER,
        ("pull_over", 0.0)),
    "truck merging from the next lane a few metres ahead": (
        road_scene(15.0, [Actor(6, "truck", 3.0, -3.5, 13.0, 0.8)], limit_mps=16.7),
        OperatorIntent(), ("keep_lane", 17.0)),
    "lead car closing at 10 m/s 40 m ahead": (
        road_scene(15.0, [Actor(3, "car", 40.0, 0.0, 5.0)], limit_mps=16.7),
        OperatorIntent(), ("keep_lane", 17.0)),
    "cut-in from the left": (
        road_scene(15.0, [Actor(7, "car", 8.0, 3.5, 11.0, -1.0)], limit_mps=16.7),
        OperatorIntent(), ("keep_lane", 17.0)),
    "cut-in from the right": (
        road_scene(15.0, [Actor(7, "car", 8.0, -3.5, 11.0, 1.0)], limit_mps=16.7),
        OperatorIntent(), ("keep_lane", 17.0)),
}


@pytest.mark.parametrize("kind", list(FAILURE_KINDS))
def test_the_teacher_is_safe_where_the_old_rules_were_not(kind: str) -> None:
    scene, intent, (old_action, old_speed) = FAILURE_KINDS[kind]
    assert judge(scene, old_action, old_speed).unsafe
    t = teach(scene, intent)
    verdict = judge(scene, t.action, t.target_speed_mps)
    assert not verdict.unsafe, (t.action, t.target_speed_mps, verdict.reason)
    assert t.driver_object_ids and str(t.driver_object_ids[0]) in t.rationale
    rules = rule_decide(scene, intent)
    assert not judge(scene, rules.action, rules.target_speed_mps).unsafe, rules


def test_the_judge_names_what_is_unsafe() -> None:
    stopped = road_scene(12.0, [Actor(1, "car", 30.0, 0.0, 0.0)])
    v = judge(stopped, "keep_lane", 12.0)
    assert v.unsafe and v.reason.startswith("collision with car 1") and v.collision_s < 3.0
    assert not judge(stopped, "stop", 0.0).unsafe
    close = road_scene(12.0, [Actor(1, "car", 10.5, 0.0, 5.0)])  # brakes in time, barely
    v = judge(close, "slow_down", 5.0)
    assert v.reason.startswith("ttc") and v.collision_s == float("inf")
    clear = road_scene(12.0, [], lane_index=0)
    assert judge(clear, "change_lane_right", 12.0).reason == "no lane to the right"
    assert judge(clear, "keep_lane", 20.0).reason == "target above the speed limit"
    assert not judge(clear, "keep_lane", 14.0).unsafe


def test_the_evaluation_reports_every_family_and_both_policies() -> None:
    report = evaluate_teacher(2, families=["merge", "pull_over_conflict"],
                              config=TeacherConfig(samples=4), log=lambda _: None)
    assert set(report["per_family"]) == {"merge", "pull_over_conflict"}
    for fam in report["per_family"].values():
        assert set(fam) == {"rules", "teacher"}
        assert all(0 <= r["unsafe"] <= 2 and 0.0 <= r["agreement"] <= 1.0 for r in fam.values())
    assert report["scenes"] == 4 and report["overall"]["teacher"]["unsafe"] >= 0
    assert 0.0 < report["teacher_ms"]["median"] <= report["teacher_ms"]["p99"]


def test_the_command_writes_its_report(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    main(["--per-family", "1", "--families", "over_limit", "--samples", "2", "--json", str(out)])
    assert '"over_limit"' in out.read_text() and '"overall"' in capsys.readouterr().out
