"""Message <-> record conversions: a record survives the round trip through its message,
field for field (float32 fields to float32 precision)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_llm_ros import msg
from edge_llm_ros.nodes.convert import (
    detection_arrays,
    detections_to_msg,
    make_header,
    object3d_array_msg,
    object3d_msg,
    object_arrays,
    plan_from_msg,
    plan_request_from_msg,
    plan_to_msg,
    stamp_to_ns,
    summary_from_msg,
    summary_to_msg,
)
from edge_llm_ros.types import (
    LANE_LEFT,
    MODE_LIDAR_ONLY,
    STATUS_OK,
    Detection2D,
    EgoState,
    PlannedStep,
    RemotePlan,
    SceneSummary,
    StageLatency,
    TrackedObject,
)

STAMP_NS = 1_700_000_123_456_789_012


def _scene() -> SceneSummary:
    obj = TrackedObject(7, "car", 0.75, (12.5, 3.25, 0.5), (4.5, 1.75, 1.5), (-2.0, 0.5, 0.0),
                        8.0, 2.5, time_to_collision_s=math.inf, lane_relation=LANE_LEFT,
                        seen_by_camera=True, seen_by_lidar=False)
    return SceneSummary(STAMP_NS, EgoState(13.5, -0.5, 0.125, 25.0, 1, 0), [obj], MODE_LIDAR_ONLY,
                        camera_fresh=False, lidar_fresh=True, odometry_fresh=True,
                        stage_latencies=[StageLatency("lidar", 12.5, math.nan)])


def test_stamps_round_trip_to_the_nanosecond() -> None:
    assert stamp_to_ns(make_header(STAMP_NS, "x").stamp) == STAMP_NS


def test_scene_summary_round_trips() -> None:
    scene = _scene()
    back = summary_from_msg(summary_to_msg(scene))
    assert math.isnan(back.stage_latencies[0].pipeline_latency_ms)
    back.stage_latencies[0].pipeline_latency_ms = scene.stage_latencies[0].pipeline_latency_ms
    assert back == scene  # every value above is exact in float32


def test_remote_plan_round_trips() -> None:
    plan = RemotePlan("r9", "v1", STATUS_OK, STAMP_NS, STAMP_NS - 5_000_000,
                      (PlannedStep(1, 6.5, 1.0), PlannedStep(2, 0.0, 2.0)), "slow then stop",
                      time_to_live_s=2.0, remote_compute_ms=125.5, model_id="m")
    assert plan_from_msg(plan_to_msg(plan)) == plan


def test_plan_request_carries_the_scene_and_clocks() -> None:
    message = msg.PlanRequest(header=make_header(STAMP_NS, "base_link"), request_id="r1",
                              vehicle_id="v1", scene=summary_to_msg(_scene()),
                              operator_instruction="x" * 500, payload_tier=0,
                              planning_deadline_ms=800.0,
                              sent_at=make_header(STAMP_NS + 10, "").stamp)
    request = plan_request_from_msg(message, received_ns=42, keyframe_note="")
    assert request.scene.objects[0].track_id == 7
    assert (request.sent_at_ns, request.received_ns) == (STAMP_NS + 10, 42)
    assert len(request.instruction) == 200


def test_detections_become_the_fusers_arrays() -> None:
    dets = [Detection2D(0, "car", 0.5, (1.0, 2.0, 30.0, 40.0)),
            Detection2D(1, "pedestrian", 0.25, np.array([5.0, 6.0, 7.0, 8.0]))]
    message = detections_to_msg(dets, make_header(STAMP_NS, "camera"), 640, 480, 3.5)
    assert (message.image_width_px, message.image_height_px) == (640, 480)
    boxes, names, scores = detection_arrays(message)
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40], [5, 6, 7, 8]])
    assert names == ["car", "pedestrian"] and scores.tolist() == [0.5, 0.25]


@pytest.mark.parametrize("count", [0, 2])
def test_objects_become_the_fusers_arrays(count: int) -> None:
    objects = [object3d_msg(i, "car", (10.0 + i, 1.0, 0.5), (4.5, 1.75, 1.5), 0.25,
                            (0.0, 0.0, 0.0), 40, score=0.5) for i in range(count)]
    message = object3d_array_msg(objects, make_header(STAMP_NS, "lidar"))
    centers, sizes, yaws, names, scores = object_arrays(message)
    assert centers.shape == sizes.shape == (count, 3)
    assert yaws.tolist() == [0.25] * count and names == ["car"] * count
    assert scores.tolist() == [0.5] * count


def test_instruction_intents_round_trip_and_bad_fields_are_refused() -> None:
    from edge_llm_ros.nodes.convert import instruction_intent_from_msg, interpretation_to_msg
    from edge_llm_ros.reasoning.instruction import InstructionIntent
    from edge_llm_ros.reasoning.interpreter import Interpretation

    intents = [InstructionIntent(), InstructionIntent(30, "kmh", stay_in_lane=True),
               InstructionIntent(25, "mph", pull_over=True, caution_reason="weather"),
               InstructionIntent(8, "mps", stop=True, change_lane="left", hurry=True,
                                 override_attempt=True, unsafe_request=True)]
    for intent in intents:
        m = interpretation_to_msg(Interpretation("text", intent, "model", 12.5),
                                  make_header(5, "base_link"))
        assert m.instruction == "text" and m.source == msg.OperatorIntent.SOURCE_MODEL
        assert instruction_intent_from_msg(m) == intent
        assert (m.speed_cap_mps == intent.speed_cap_mps
                or abs(m.speed_cap_mps - intent.speed_cap_mps) < 1e-4)
    bad = interpretation_to_msg(Interpretation("x", intents[1], "regex", 0.0),
                                make_header(5, "base_link"))
    assert bad.source == msg.OperatorIntent.SOURCE_REGEX
    for field, value in (("speed_cap_unit", "knots"), ("speed_cap_value", float("nan")),
                         ("change_lane", "up"), ("caution_reason", "sunny")):
        broken = interpretation_to_msg(Interpretation("x", intents[1], "model", 0.0),
                                       make_header(5, "base_link"))
        setattr(broken, field, value)
        with pytest.raises(ValueError):
            instruction_intent_from_msg(broken)
