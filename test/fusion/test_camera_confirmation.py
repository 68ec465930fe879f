"""Camera confirmation of lidar objects: covered, ruled out, guarded."""

from __future__ import annotations

import numpy as np

from edge_llm_ros.fusion.camera_confirmation import (
    ConfirmationConfig,
    confirm_with_camera,
    hidden_from_camera,
    inside_share,
)

NAN4 = [np.nan] * 4
CFG = ConfirmationConfig(range_m=30.0, corridor_half_m=1.5, min_iou=0.3)


def test_inside_share_is_the_inner_box_share() -> None:
    share = inside_share(np.array([[0, 0, 10, 10], [5, 5, 15, 15]]), np.array([[0, 0, 20, 20]]))
    assert share[:, 0].tolist() == [1.0, 1.0]
    assert inside_share(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 20, 10]]))[0, 0] == 0.5


def test_covered_by_iou_or_containment_and_compatible_class_only() -> None:
    projected = np.array([[100, 100, 140, 200],  # same box as the camera's person
                          [300, 120, 330, 180],  # a car fragment inside a car box
                          [500, 100, 540, 200],  # a pole: no box
                          [700, 100, 740, 200]])  # a "pedestrian" under a car box
    detections = np.array([[102, 98, 141, 205], [280, 100, 420, 200], [690, 90, 760, 210]])
    res = confirm_with_camera(projected, ["pedestrian", "unknown", "pedestrian", "pedestrian"],
                              np.full(4, 15.0), np.full(4, 5.0), detections,
                              ["pedestrian", "car", "car"], CFG)
    assert res.covered.tolist() == [True, True, False, False]
    assert res.covering_class[:2] == ["pedestrian", "car"]
    assert res.drop.tolist() == [False, False, True, True]


def test_guards_corridor_range_view_and_off() -> None:
    projected = np.array([[500, 100, 540, 200]] * 3 + [NAN4])
    forward = np.array([15.0, 15.0, 45.0, 15.0])
    lateral = np.array([5.0, 1.0, 5.0, 5.0])  # beside, in the corridor, far, not in view
    res = confirm_with_camera(projected, ["pedestrian"] * 4, forward, lateral,
                              np.empty((0, 4)), [], CFG)
    assert res.drop.tolist() == [True, False, False, False]
    off = ConfirmationConfig(range_m=0.0, corridor_half_m=1.5, min_iou=0.3)
    assert not confirm_with_camera(projected, ["pedestrian"] * 4, forward, lateral,
                                   np.empty((0, 4)), [], off).drop.any()


def test_what_the_camera_could_not_see_is_not_ruled_out() -> None:
    """A person behind a parked car (in the image) keeps its cluster: the camera's
    silence is no evidence; the car in front of it is not hidden by what is behind."""
    projected = np.array([[400, 150, 520, 260], [450, 140, 470, 230]])
    distance = np.array([12.0, 20.0])
    assert hidden_from_camera(projected, distance, 0.6).tolist() == [False, True]
    res = confirm_with_camera(projected, ["car", "pedestrian"], np.array([12.0, 20.0]),
                              np.array([4.0, 4.0]), np.array([[398, 148, 522, 262]]), ["car"],
                              CFG)
    assert res.covered.tolist() == [True, False] and not res.drop.any()


def test_the_node_parameters_reach_the_fusion_config() -> None:
    from edge_llm_ros.fusion.config import FusionConfig
    from edge_llm_ros.params import node_defaults

    params = dict(node_defaults("scene_fusion"))
    assert params["camera_confirm_range_m"] == 0.0  # off unless asked for
    params.update(camera_confirm_range_m=30.0, camera_confirm_corridor_m=2.0)
    config = FusionConfig.from_params(params)
    assert (config.camera_confirm_range_m, config.camera_confirm_corridor_m) == (30.0, 2.0)
