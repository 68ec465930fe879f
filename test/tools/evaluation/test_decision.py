"""The decision eval's verdicts: unsafe counts, and which of them no action could avoid."""

from __future__ import annotations

from edge_llm_ros.tools.evaluation.decision import PolicyTally, has_safe_option
from edge_llm_ros.tools.training.decision_dataset import make_decision_scene


def test_a_scene_with_no_safe_action_is_told_apart_from_a_policy_mistake() -> None:
    # Held-out dense scene where a pedestrian reaches the ego whatever it does (the teacher
    # itself is judged unsafe there), and an ordinary one where stopping is safe.
    doomed = make_decision_scene("dense_one_threat", 5_000_011)
    fine = make_decision_scene("oncoming_passing", 5_000_005)
    assert not has_safe_option(doomed)
    assert has_safe_option(fine)
    tally = PolicyTally()
    tally.add(doomed, "stop", 0.0, avoidable=has_safe_option(doomed))
    tally.add(fine, "slow_down", 9.0, avoidable=has_safe_option(fine))  # hits a standing car
    tally.add(fine, "stop", 0.0, avoidable=True)
    figures = tally.figures()
    assert (figures["scenes"], figures["unsafe"], figures["unsafe_avoidable"]) == (3, 2, 1)
    assert figures["agreement_with_teacher"] == round(2 / 3, 4)  # both labels are stop
