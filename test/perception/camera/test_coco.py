"""The COCO mapping on boxes: riders merged into cyclists, parked two-wheelers dropped."""

from __future__ import annotations

import pytest

from edge_llm_ros.perception.camera.coco import (
    COCO_CLASS_MAP,
    assign_riders,
    is_coco_names,
    map_coco_detections,
    rider_overlap,
)
from edge_llm_ros.types import Detection2D

COCO_IDS = {"person": 0, "bicycle": 1, "car": 2, "motorcycle": 3, "bus": 5, "truck": 7,
            "dog": 16}

# A cyclist seen side-on, 15 m ahead: the bicycle's box (wheels to handlebars) and
# the rider's (head to the feet on the pedals), as COCO models draw them.
BICYCLE_SIDE = (300.0, 260.0, 420.0, 330.0)
RIDER_SIDE = (335.0, 200.0, 385.0, 320.0)


def _det(name: str, box: tuple[float, float, float, float], score: float = 0.8) -> Detection2D:
    return Detection2D(COCO_IDS[name], name, score, box)


def test_coco_names_are_recognised() -> None:
    coco = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
            "boat", "dog"]
    assert is_coco_names(coco)
    assert is_coco_names({i: n for i, n in enumerate(coco)}.values())
    assert not is_coco_names(["car", "truck", "pedestrian", "cyclist"])  # the simulator model
    assert not is_coco_names(["person", "car", "bus", "truck", "bicycle"])  # no motorcycle


def test_rider_geometry() -> None:
    assert rider_overlap(RIDER_SIDE, BICYCLE_SIDE) == pytest.approx(50 * 60 / (50 * 120))
    # Seen from behind: the rider's box is as narrow as the bike's and stands over it.
    assert rider_overlap((200, 100, 240, 230), (205, 150, 235, 240)) > 0.3
    # A pedestrian nearer the camera than the bike: feet far below its wheels.
    assert rider_overlap((340, 220, 380, 360), BICYCLE_SIDE) == 0.0
    # Beside the bike, not over it (centre outside its box).
    assert rider_overlap((425, 200, 465, 330), BICYCLE_SIDE) == 0.0
    # Head below the handlebars: not riding (a child behind a parked bike, say).
    assert rider_overlap((340, 270, 360, 325), BICYCLE_SIDE) == 0.0
    # Feet above the machine's lower part: far behind it, not on it.
    assert rider_overlap((345, 150, 365, 270), BICYCLE_SIDE) == 0.0
    assert rider_overlap((0, 0, 0, 0), BICYCLE_SIDE) == 0.0


def test_each_person_rides_the_machine_it_sits_on_best() -> None:
    near = (340.0, 275.0, 440.0, 330.0)  # a second bicycle, partly behind the first
    riders = assign_riders([RIDER_SIDE, (600, 200, 640, 330)], [near, BICYCLE_SIDE])
    assert riders == {0: 1}  # the rider overlaps BICYCLE_SIDE more; the pedestrian rides none


def test_cyclist_merged_parked_bike_dropped_rest_renamed() -> None:
    dets = [
        _det("car", (10, 250, 120, 330), 0.9),
        _det("person", RIDER_SIDE, 0.7),
        _det("bicycle", BICYCLE_SIDE, 0.6),
        _det("bicycle", (500, 280, 560, 320), 0.85),  # parked, nobody on it
        _det("person", (600, 200, 640, 330), 0.75),  # walking
        _det("bus", (100, 100, 250, 300), 0.95),
        _det("truck", (0, 0, 50, 50), 0.5),
        _det("dog", (450, 300, 480, 330), 0.9),
    ]
    out = map_coco_detections(dets)
    assert [d.class_name for d in out] == ["car", "cyclist", "pedestrian", "truck", "truck"]
    cyclist = out[1]
    assert cyclist.box_px == (300.0, 200.0, 420.0, 330.0)  # the union of bike and rider
    assert cyclist.score == 0.7 and cyclist.class_id == COCO_IDS["bicycle"]
    assert out[2].box_px == (600.0, 200.0, 640.0, 330.0) and out[2].score == 0.75
    assert [d.class_id for d in out[3:]] == [COCO_IDS["bus"], COCO_IDS["truck"]]


def test_motorcycle_with_a_pillion_is_one_cyclist() -> None:
    moto = (200.0, 300.0, 330.0, 380.0)
    driver, pillion = (230.0, 230.0, 280.0, 370.0), (255.0, 225.0, 300.0, 365.0)
    out = map_coco_detections([_det("person", driver, 0.8), _det("motorcycle", moto, 0.9),
                               _det("person", pillion, 0.6)])
    assert len(out) == 1
    assert out[0].class_name == "cyclist" and out[0].box_px == (200.0, 225.0, 330.0, 380.0)
    assert out[0].score == 0.9


def test_a_custom_map_renames_what_it_names() -> None:
    out = map_coco_detections([_det("person", RIDER_SIDE), _det("bicycle", BICYCLE_SIDE),
                               _det("bus", (0, 0, 10, 10))],
                              {**COCO_CLASS_MAP, "bicycle": "bike_rider", "bus": "bus"})
    assert [d.class_name for d in out] == ["bike_rider", "bus"]
    assert map_coco_detections([]) == []
