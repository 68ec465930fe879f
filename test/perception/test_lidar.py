"""Lidar detector on ray-cast sweeps with known ground truth
(edge_llm_ros.tools.synthetic.lidar_sweeps).

The synthetic lidar is HDL-64-like (64 beams, +2 to -24.9 degrees); cars are
convex solids with a raked bonnet and rear window, cyclists a see-through bike
with a rider, pedestrians legs plus torso, so clusters look like real ones
rather than perfect boxes. Timing is never asserted here (see bench.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_llm_ros.perception.lidar import (
    DEFAULT_CLASS_PRIORS,
    STAGES,
    LidarDetector,
    LidarDetectorConfig,
    _car_fragments,
    class_prior_scores,
    classify_sizes,
    fit_lshape_yaw,
    transform_objects,
)
from edge_llm_ros.tools.bench.perception import benchmark_lidar
from edge_llm_ros.tools.synthetic.lidar_sweeps import (
    GroundPlane,
    SyntheticSweep,
    box_solid,
    place,
    realistic_sweep,
    simulate_sweep,
)
from edge_llm_ros.types import Object3D

FLAT = GroundPlane(1.8)
# The synthetic sensor has 64 beams: the node's default cluster tolerance is for 32-beam
# sensors, and its top beam is judged only where a test says so.
HDL64 = {"cluster_tolerance_m": 0.2, "sensor_top_elevation_deg": None}


def _config(**fields: object) -> LidarDetectorConfig:
    return LidarDetectorConfig(**{**HDL64, **fields})  # type: ignore[arg-type]


def _yaw_err_deg(a: float, b: float) -> float:
    """Box yaw difference modulo 180 degrees (a box has no heading)."""
    return abs(math.degrees(math.remainder(a - b, math.pi)))


def _nearest(objects: list[Object3D], xy: tuple[float, float]) -> tuple[Object3D, float]:
    d = [math.hypot(o.center_m[0] - xy[0], o.center_m[1] - xy[1]) for o in objects]
    j = int(np.argmin(d))
    return objects[j], d[j]


def _sweep(objs: list, ground: GroundPlane = FLAT, seed: int = 0) -> SyntheticSweep:
    return simulate_sweep(objs, ground=ground, seed=seed)


# ------------------------------------------------------------------ degenerate input

@pytest.mark.parametrize("points", [
    np.zeros((0, 4), np.float32),
    np.zeros((0, 3)),
    np.full((1000, 4), np.nan, np.float32),
    np.array([[5.0, 1.0, -1.0, 0.0]] * 3, np.float32),
    np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32),
    np.full((50, 4), np.inf, np.float32),
])
def test_empty_nan_and_tiny_inputs_give_no_objects(points: np.ndarray) -> None:
    result = LidarDetector(_config()).detect(points)
    assert result.objects == []
    assert result.n_input == points.shape[0]
    assert set(result.timing_ms) == {*STAGES, "total"}
    assert all(v >= 0.0 for v in result.timing_ms.values())


def test_nan_points_mixed_into_a_real_sweep_are_ignored() -> None:
    sweep = _sweep([place("car", 12.0, 4.0, 30.0)])
    clean = LidarDetector(_config()).detect(sweep.points)
    dirty_pts = np.concatenate([sweep.points, np.full((500, 4), np.nan, np.float32)])
    shuffled = dirty_pts[np.random.default_rng(1).permutation(len(dirty_pts))]
    dirty = LidarDetector(_config()).detect(shuffled)
    assert [o.class_name for o in dirty.objects] == [o.class_name for o in clean.objects]
    assert dirty.n_cropped == clean.n_cropped


def test_bad_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"points must be \(N, >=3\)"):
        LidarDetector(_config()).detect(np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"points must be \(N, >=3\)"):
        LidarDetector(_config()).detect(np.zeros(12))


@pytest.mark.parametrize("kwargs, message", [
    ({"voxel_size_m": 0.0}, "voxel_size_m must be > 0"),
    ({"roi_x_m": (10.0, -10.0)}, "roi_x_m must be"),
    ({"min_range_m": 90.0}, "min_range_m < max_range_m"),
    ({"ground_neighbourhood_cells": 4}, "must be odd"),
    ({"min_cluster_points": 0}, "min_cluster_points"),
    ({"sensor_top_elevation_deg": 95.0}, "sensor_top_elevation_deg must be in"),
])
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**kwargs)


# ------------------------------------------------------------------ ground removal

def _ground_quality(sweep: SyntheticSweep, detector: LidarDetector) -> tuple[float, float]:
    """(share of true ground points called ground, share of object points > 0.3 m kept)."""
    pts, cfg = sweep.points, detector.config
    inside = ((np.hypot(pts[:, 0], pts[:, 1]) < cfg.max_range_m)
              & (np.abs(pts[:, 1]) < cfg.roi_y_m[1]) & (np.abs(pts[:, 0]) < cfg.roi_x_m[1]))
    est = detector.estimate_ground(pts)
    true_h = pts[:, 2] - sweep.ground.z_at(pts[:, 0], pts[:, 1])
    ground = inside & (sweep.point_labels == -1)
    objects = inside & (sweep.point_labels >= 0) & (true_h > 0.3)
    return float(est.is_ground[ground].mean()), float((~est.is_ground[objects]).mean())


@pytest.mark.parametrize("ground", [
    GroundPlane(1.7), GroundPlane(2.0),  # the sensor-height hint (1.8) is only a hint
    GroundPlane(1.9, slope_x=0.04, slope_y=-0.02),  # 2.3 and 1.1 degrees
    GroundPlane(1.75, slope_x=-0.03, slope_y=0.03),
])
def test_ground_removed_objects_kept(ground: GroundPlane) -> None:
    # The truck stands downhill: uphill its top would be above the +2 degree top beam.
    truck_x = -25.0 if ground.slope_x > 0 else 25.0
    objs = [place("car", 12.0, 4.0, 50.0, ground=ground),
            place("car", -15.0, -5.0, 0.0, ground=ground),
            place("pedestrian", -8.0, 5.0, ground=ground),
            place("cyclist", 14.0, -4.0, 10.0, ground=ground),
            place("truck", truck_x, 7.0, 5.0, ground=ground)]
    sweep = _sweep(objs, ground=ground, seed=2)
    detector = LidarDetector(_config())
    ground_recall, object_kept = _ground_quality(sweep, detector)
    assert ground_recall > 0.995
    assert object_kept > 0.995
    # The fitted plane follows the true one.
    a, b, c = detector.estimate_ground(sweep.points).plane
    assert a == pytest.approx(ground.slope_x, abs=0.005)
    assert b == pytest.approx(ground.slope_y, abs=0.005)
    assert c == pytest.approx(-ground.sensor_height_m, abs=0.05)
    # ... and every road user is still found, standing on the (sloped) ground.
    result = detector.detect(sweep.points)
    for obj in objs:
        found, dist = _nearest(result.objects, obj.center_m[:2])
        big = obj.class_name == "truck"  # 9 m long: its far end is partly hidden
        assert dist < (1.5 if big else 0.6), (obj, found)
        assert found.class_name == obj.class_name
        bottom = found.center_m[2] - found.size_m[2] / 2
        assert bottom == pytest.approx(ground.z_at(*obj.center_m[:2]), abs=0.2 if big else 0.1)


def test_raised_verge_is_ground_not_an_object() -> None:
    """A 0.3 m raised verge (kerb and grass strip) beside the road stays ground."""
    ground = FLAT
    verge = [box_solid(15.0, -8.0, -1.8, 40.0, 4.0, -1.5, 0.0, 0.3)]
    sweep = simulate_sweep([place("car", 14.0, -3.5, 0.0)], ground=ground, clutter=verge,
                           seed=3)
    result = LidarDetector(_config()).detect(sweep.points)
    assert [o.class_name for o in result.objects] == ["car"]
    verge_pts = sweep.point_labels == -2
    est = LidarDetector(_config()).estimate_ground(sweep.points)
    assert est.is_ground[verge_pts].mean() > 0.97


# ------------------------------------------------------------------ clustering

@pytest.mark.parametrize("gap_m", [0.6, 0.8, 1.2])
def test_two_cars_in_a_row_are_separated(gap_m: float) -> None:
    objs = [place("car", 10.0, -4.0), place("car", 10.0 + 4.5 + gap_m, -4.0)]
    result = LidarDetector(_config()).detect(_sweep(objs).points)
    cars = [o for o in result.objects if o.class_name == "car"]
    assert len(result.objects) == 2 and len(cars) == 2
    for obj in objs:
        _, dist = _nearest(cars, obj.center_m[:2])
        assert dist < 0.5


@pytest.mark.parametrize("gap_m", [0.6, 0.8])
def test_pedestrian_beside_a_car_is_separated(gap_m: float) -> None:
    car = place("car", 12.0, 4.0)
    ped = place("pedestrian", 12.0, 4.0 - 0.9 - gap_m - 0.3)
    result = LidarDetector(_config()).detect(_sweep([car, ped]).points)
    assert sorted(o.class_name for o in result.objects) == ["car", "pedestrian"]
    found, dist = _nearest(result.objects, ped.center_m[:2])
    assert found.class_name == "pedestrian" and dist < 0.3


def test_cyclist_beside_a_car_is_separated() -> None:
    car = place("car", 12.0, -4.0)
    cyclist = place("cyclist", 12.0, -4.0 + 0.9 + 0.6 + 0.3)
    result = LidarDetector(_config()).detect(_sweep([car, cyclist]).points)
    assert sorted(o.class_name for o in result.objects) == ["car", "cyclist"]


def _ground_grid_with_column(n_column: int) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(4.0, 30.0, 0.5), np.arange(-10.0, 10.0, 0.5))
    ground = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, -1.8), np.zeros(gx.size)])
    column = np.column_stack([np.full(n_column, 10.0), np.full(n_column, 2.0),
                              np.linspace(-1.2, -0.3, n_column), np.ones(n_column)])
    return np.concatenate([ground, column]).astype(np.float32)


def test_min_cluster_points_respected() -> None:
    cfg = _config(min_cluster_points=8, reject_structure=False)  # a lone post
    assert LidarDetector(cfg).detect(_ground_grid_with_column(7)).objects == []
    found = LidarDetector(cfg).detect(_ground_grid_with_column(8)).objects
    assert len(found) == 1 and found[0].point_count == 8
    assert found[0].center_m[:2] == pytest.approx([10.0, 2.0], abs=0.05)


def test_structures_longer_than_max_object_length_are_dropped() -> None:
    wall = [box_solid(10.0, 9.0, -1.8, 30.0, 0.3, 1.0, 0.0, 0.5)]
    sweep = simulate_sweep([place("car", 10.0, 4.0)], ground=FLAT, clutter=wall, seed=4)
    result = LidarDetector(_config()).detect(sweep.points)
    assert [o.class_name for o in result.objects] == ["car"]
    assert result.objects[0].size_m[0] < 5.0


def test_point_indices_point_at_the_objects_points() -> None:
    sweep = _sweep([place("car", 12.0, 4.0, 30.0), place("pedestrian", 8.0, -5.0)])
    result = LidarDetector(_config(return_point_indices=True)).detect(sweep.points)
    assert len(result.objects) == 2
    for obj in result.objects:
        assert obj.point_indices is not None and obj.point_indices.size == obj.point_count
        labels = sweep.point_labels[obj.point_indices]
        assert np.bincount(labels[labels >= 0]).max() / labels.size > 0.99
    assert LidarDetector(_config()).detect(sweep.points).objects[0].point_indices is None


# ------------------------------------------------------------------ box fitting

def test_lshape_yaw_on_exact_l_shapes() -> None:
    rng = np.random.default_rng(5)
    xy, labels, truth = [], [], []
    for k, yaw in enumerate(np.deg2rad([3.0, 17.0, 33.0, 48.0, 61.0, 87.0])):
        c, s = math.cos(yaw), math.sin(yaw)
        u = np.concatenate([np.linspace(0, 4.5, 60), np.zeros(25)])  # long and short side
        w = np.concatenate([np.zeros(60), np.linspace(0, 1.8, 25)])
        pts = np.column_stack([c * u - s * w, s * u + c * w]) + rng.normal(0, 0.02, (85, 2))
        xy.append(pts + [10.0 * k, 5.0])
        labels.append(np.full(85, k))
        truth.append(yaw)
    yaw = fit_lshape_yaw(np.concatenate(xy), np.concatenate(labels), len(truth))
    for got, want in zip(yaw, truth, strict=True):
        assert abs(math.degrees(math.remainder(got - want, math.pi / 2))) < 1.5


def test_rotated_cars_yaw_size_and_centre() -> None:
    """Random poses 8-20 m away, kept when both visible faces meet the beams at >= 20 deg
    (an edge-on face returns too few points to measure)."""
    rng = np.random.default_rng(7)
    detector = LidarDetector(_config())
    checked = 0
    for seed in range(40):
        r, bearing = rng.uniform(8.0, 20.0), rng.uniform(-math.pi, math.pi)
        yaw_deg = rng.uniform(-90.0, 90.0)
        incidence = abs(math.degrees(math.remainder(math.radians(yaw_deg) - bearing, math.pi)))
        if not 20.0 <= incidence <= 70.0:
            continue
        car = place("car", r * math.cos(bearing), r * math.sin(bearing), yaw_deg)
        result = detector.detect(_sweep([car], seed=seed).points)
        found, dist = _nearest(result.objects, car.center_m[:2])
        assert found.class_name == "car"
        assert _yaw_err_deg(found.yaw_rad, car.yaw_rad) < 3.0
        np.testing.assert_allclose(found.size_m, car.size_m, atol=0.15)
        assert dist < 0.2
        assert found.center_m[2] == pytest.approx(car.center_m[2], abs=0.15)
        checked += 1
    assert checked >= 15


def test_car_seen_end_on_is_completed_to_a_car() -> None:
    """Straight ahead only the rear shows: the box grows forward, not toward the sensor."""
    car = place("car", 15.0, 0.0, 0.0)
    result = LidarDetector(_config()).detect(_sweep([car], seed=8).points)
    found, dist = _nearest(result.objects, car.center_m[:2])
    assert found.class_name == "car"
    assert _yaw_err_deg(found.yaw_rad, 0.0) < 5.0
    assert found.size_m[0] == pytest.approx(3.9, abs=0.05)  # the typical length
    assert dist < 0.5
    raw = LidarDetector(_config(complete_car_boxes=False)).detect(
        _sweep([car], seed=8).points)
    _, raw_dist = _nearest(raw.objects, car.center_m[:2])
    assert raw_dist > 1.0  # without completion the box sits on the visible rear


@pytest.mark.parametrize("cls, yaw_deg", [("pedestrian", 0.0), ("cyclist", 30.0),
                                          ("cyclist", -70.0), ("truck", 10.0)])
def test_other_classes_sizes(cls: str, yaw_deg: float) -> None:
    obj = place(cls, 11.0, -5.0, yaw_deg)
    # Told the +2 degree top beam, the detector knows the truck's top is cut off.
    cfg = _config(sensor_top_elevation_deg=2.0)
    result = LidarDetector(cfg).detect(_sweep([obj], seed=9).points)
    found, dist = _nearest(result.objects, obj.center_m[:2])
    assert found.class_name == cls
    assert dist < 0.3
    if cls == "truck":  # 11 m away only the lowest 1.8 + 11 * tan(2 deg) = 2.2 m are seen
        assert 2.0 < found.size_m[2] < obj.size_m[2]
    else:
        assert found.size_m[2] == pytest.approx(obj.size_m[2], abs=0.15)
    if cls != "pedestrian":  # a person's footprint has no meaningful yaw
        assert _yaw_err_deg(found.yaw_rad, obj.yaw_rad) < 5.0
        assert found.size_m[0] == pytest.approx(obj.size_m[0], abs=0.2)


# ------------------------------------------------------------------ classification

def test_classify_sizes_canonical() -> None:
    sizes = np.array([[4.5, 1.8, 1.5], [9.0, 2.5, 3.4], [0.6, 0.6, 1.75], [1.8, 0.6, 1.75],
                      [0.3, 0.3, 0.5], [25.0, 1.0, 3.0], [4.0, 4.0, 1.5]])
    classes, scores = classify_sizes(sizes)
    assert classes == ["car", "truck", "pedestrian", "cyclist", "unknown", "unknown", "unknown"]
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert np.all(scores[:4] == 1.0)


def test_classify_shape_cues() -> None:
    car_rear = np.array([[1.8, 0.6, 1.5]])  # a car's back, or a cyclist from the side?
    assert classify_sizes(car_rear, top_fraction=np.array([0.9]))[0] == ["car"]
    assert classify_sizes(car_rear, top_fraction=np.array([0.3]))[0] == ["cyclist"]
    # Parked motorcycles in a row: car-sized, but points fill the box instead of its outline.
    bikes = np.array([[4.0, 1.7, 1.4]])
    assert classify_sizes(bikes, edge_fraction=np.array([0.15]))[0] == ["unknown"]
    assert classify_sizes(bikes, edge_fraction=np.array([0.7]))[0] == ["car"]
    # A pole cut off by the top beam is as tall as a person only in the data.
    pole = np.array([[0.4, 0.3, 1.9]])
    assert classify_sizes(pole)[0] == ["pedestrian"]
    assert classify_sizes(pole, truncated=np.array([True]))[0] == ["unknown"]
    assert classify_sizes(np.array([[2.5, 0.3, 2.6]]), truncated=np.array([True]))[0] == ["truck"]


def test_truncation_needs_the_sensor_field_of_view() -> None:
    """Lamp posts 7-9 m away reach above the +2 degree beam and look 2.0 m tall: told the
    beam, the detector calls them unknown; not told (None or NaN), they pass for people."""
    posts = [box_solid(x, y, -1.8, 0.25, 0.25, 5.2, 0.0, 0.7) for x, y in ((7.0, 3.0),
                                                                          (-6.0, -5.0))]
    sweep = simulate_sweep([], ground=FLAT, clutter=posts, seed=11)
    told = LidarDetector(_config(sensor_top_elevation_deg=2.0,
                                 reject_structure=False)).detect(sweep.points)
    assert [o.class_name for o in told.objects] == ["unknown", "unknown"]
    # with structure rejection on (the default), unknown posts are dropped altogether
    told = LidarDetector(_config(sensor_top_elevation_deg=2.0)).detect(sweep.points)
    assert told.objects == []
    for top in (None, float("nan")):
        cfg = _config(sensor_top_elevation_deg=top)
        untold = LidarDetector(cfg).detect(sweep.points)
        assert [o.class_name for o in untold.objects] == ["pedestrian", "pedestrian"]


def test_unknown_score_is_one_minus_best() -> None:
    classes, scores = classify_sizes(np.array([[0.3, 0.3, 0.5]]))
    assert classes == ["unknown"] and scores[0] == pytest.approx(1.0)


# ------------------------------------------------------------------ frames

def test_transform_objects() -> None:
    obj = Object3D(np.array([10.0, 2.0, -1.0]), np.array([4.5, 1.8, 1.5]), 0.3, "car", 0.9, 100)
    assert transform_objects([obj], np.eye(4))[0].center_m == pytest.approx(obj.center_m)
    yaw = math.radians(90.0)  # target frame: lidar turned 90 degrees and lifted 1.9 m
    T = np.eye(4)
    T[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0],
                 [0.0, 0.0, 1.0]]
    T[:3, 3] = [1.0, 0.0, 1.9]
    moved = transform_objects([obj], T)[0]
    assert moved.center_m == pytest.approx([1.0 - 2.0, 10.0, 0.9])
    assert _yaw_err_deg(moved.yaw_rad, 0.3 + yaw) < 1e-9
    assert -math.pi / 2 < moved.yaw_rad <= math.pi / 2
    assert moved.size_m is obj.size_m and moved.class_name == "car"
    corners = moved.corners()
    assert corners.mean(axis=0) == pytest.approx(moved.center_m)
    with pytest.raises(ValueError, match="4x4"):
        transform_objects([obj], np.eye(3))


# ------------------------------------------------------------------ a whole street

def test_realistic_street_sweep() -> None:
    sweep = realistic_sweep(seed=0)
    assert sweep.points.shape == (120_000, 4)
    np.testing.assert_array_equal(sweep.points, realistic_sweep(seed=0).points)  # deterministic
    cfg = _config(sensor_top_elevation_deg=2.0)  # the synthetic lidar's top beam
    result = LidarDetector(cfg).detect(sweep.points)
    assert result.n_input == 120_000 and result.n_ground > 60_000
    checked = 0
    for obj, n in zip(sweep.objects, sweep.object_point_counts, strict=True):
        if n < 150 or math.hypot(*obj.center_m[:2]) > 25.0:
            continue  # occluded or far: not a fair test of the detector
        same = [o for o in result.objects if o.class_name == obj.class_name]
        assert same, obj
        _, dist = _nearest(same, obj.center_m[:2])
        # A truck seen from behind is boxed on its visible rear, 4.5 m from its centre.
        assert dist < (0.5 if obj.class_name != "truck" else 5.0), obj
        checked += 1
    assert checked >= 10
    # No pedestrian or cyclist where there is none (lamp posts, trunks are unknown).
    truth = np.array([o.center_m[:2] for o in sweep.objects])
    for obj in result.objects:
        if obj.class_name in ("pedestrian", "cyclist"):
            assert np.min(np.hypot(*(truth - obj.center_m[:2]).T)) < 0.5, obj


def test_benchmark_smoke() -> None:
    report = benchmark_lidar(n_frames=3, n_points=30_000, n_sweeps=1, warmup=0)
    assert report["n_frames"] == 3 and report["n_points"] == 30_000
    assert set(report["stages"]) == set(STAGES)
    assert report["total"]["median_ms"] > 0.0
    assert report["objects_per_frame"] > 0


# ------------------------------------------------------------------ corridor and structure

def _street_with_structure() -> tuple[list, list]:
    """A car and a pedestrian by the road, with what stands around a street: a 6 m fence
    (1.2 m high), a lamp post and a bollard."""
    objs = [place("car", 14.0, -1.0, 0.0), place("pedestrian", 12.0, -6.0)]
    structure = [
        box_solid(18.0, 8.0, -1.8, 6.0, 0.1, -0.6, 0.0, 0.4),  # fence
        box_solid(9.0, 5.0, -1.8, 0.2, 0.2, 3.2, 0.0, 0.6),  # lamp post
        box_solid(7.0, -4.0, -1.8, 0.3, 0.3, -0.9, 0.0, 0.5),  # bollard
    ]
    return objs, structure


def test_structure_is_rejected_and_road_users_kept() -> None:
    objs, structure = _street_with_structure()
    sweep = simulate_sweep(objs, ground=FLAT, clutter=structure, seed=4)
    kept = LidarDetector(_config()).detect(sweep.points).objects
    assert sorted(o.class_name for o in kept) == ["car", "pedestrian"]
    for obj in objs:
        found, dist = _nearest(kept, obj.center_m[:2])
        assert dist < 0.6 and found.class_name == obj.class_name
    # without the rejection the fence, the post and the bollard are all reported
    everything = LidarDetector(_config(reject_structure=False)).detect(
        sweep.points).objects
    for xy in ((18.0, 8.0), (9.0, 5.0), (7.0, -4.0)):
        assert _nearest(everything, xy)[1] < 1.0, xy


@pytest.mark.parametrize("ground", [FLAT, GroundPlane(1.9, slope_x=0.04, slope_y=-0.02)])
def test_corridor_holds_the_road_and_drops_what_is_off_it(ground: GroundPlane) -> None:
    # a steady slope is no kerb: the road around the vehicle stays one corridor
    sweep = simulate_sweep([place("car", 14.0, -1.0, 0.0, ground=ground)], ground=ground,
                           seed=5)
    est = LidarDetector(_config()).estimate_ground(sweep.points)
    assert est.road_level is not None
    r = np.hypot(sweep.points[:, 0], sweep.points[:, 1])
    road = (sweep.point_labels == -1) & (r < 30)
    assert (est.road_level[road] == 2).mean() > 0.95
    # An unknown object on a plateau 0.5 m up is off the corridor, the same object on the
    # road is kept: with cells without returns filled from their neighbours
    # (road_fill_cells). By default such cells join what is around them, which holds
    # more of the real road on the labelled KITTI frames (recall 0.90 against 0.67) but
    # lets the road leak round the plateau's edge through its shadow.
    plateau = [box_solid(20.0, -14.0, -1.8, 12.0, 8.0, -1.3, 0.0, 0.3),
               box_solid(20.0, -14.0, -1.3, 1.4, 1.4, -0.2, 0.0, 0.2)]
    on_road = [box_solid(20.0, 3.0, -1.8, 1.4, 1.4, -0.7, 0.0, 0.2)]
    sweep = simulate_sweep([], ground=FLAT, clutter=plateau + on_road, seed=6)
    kept = LidarDetector(_config(road_fill_cells=2.5)).detect(sweep.points).objects
    assert _nearest(kept, (20.0, 3.0))[1] < 1.0  # boxed on its visible faces
    assert all(math.hypot(o.center_m[0] - 20.0, o.center_m[1] + 14.0) > 2.0 for o in kept)
    everything = LidarDetector(_config(reject_structure=False)).detect(
        sweep.points).objects
    assert _nearest(everything, (20.0, -14.0))[1] < 1.0


# ------------------------------------------------------------------ beams, pieces, reflectors

def test_height_slack_lets_a_car_whose_roof_fell_between_beams_be_a_car() -> None:
    names = list(DEFAULT_CLASS_PRIORS)
    far_car = np.array([[3.6, 1.6, 0.95]])  # roof missed: only 0.95 m seen
    assert class_prior_scores(far_car, DEFAULT_CLASS_PRIORS)[0, names.index("car")] < 0.3
    slack = class_prior_scores(far_car, DEFAULT_CLASS_PRIORS, height_slack_m=np.array([0.3]))
    assert slack[0, names.index("car")] == pytest.approx(1.0)
    # the slack only lowers the minima: a tall pedestrian is judged as it was
    tall = np.array([[0.6, 0.5, 2.1]])
    i = names.index("pedestrian")
    assert class_prior_scores(tall, DEFAULT_CLASS_PRIORS, height_slack_m=np.array([0.5]))[
        0, i] == pytest.approx(class_prior_scores(tall, DEFAULT_CLASS_PRIORS)[0, i])
    # classify_sizes still gives what the scores say
    assert classify_sizes(far_car)[0] == ["unknown"]


def test_pieces_of_a_car_are_dropped_and_neighbours_kept() -> None:
    centers = np.array([[10.0, 0.0, 0.0], [11.5, 0.9, 0.0], [10.0, 2.0, 0.0],
                        [30.0, 0.0, 0.0]])
    sizes = np.array([[3.9, 1.65, 1.5], [0.5, 0.3, 1.2], [0.6, 0.5, 1.7], [0.5, 0.3, 1.2]])
    yaw = np.zeros(4)
    classes = ["car", "pedestrian", "pedestrian", "unknown"]
    kept = np.ones(4, dtype=bool)
    # the mirror-sized piece 0.1 m outside the car's side is part of it; the person 1.2 m
    # beside it and the far object are not
    assert _car_fragments(centers, sizes, yaw, classes, kept, 0.5).tolist() == [
        False, True, False, False]
    # a car already dropped takes nothing with it
    assert not _car_fragments(centers, sizes, yaw, classes, np.array([False, True, True, True]),
                              0.5).any()


def test_retroreflective_posts_are_dropped_when_asked() -> None:
    person = place("pedestrian", 12.0, -2.0)
    posts = [box_solid(14.0, 2.0, -1.8, 0.4, 0.4, -0.6, 0.0, 0.9),  # striped barrier post
             box_solid(16.0, -3.0, -1.8, 0.4, 0.4, -0.6, 0.0, 0.3)]  # the same, matt
    sweep = simulate_sweep([person], ground=FLAT, clutter=posts, seed=7)
    plain = LidarDetector(_config(reject_structure=True)).detect(sweep.points).objects
    assert _nearest(plain, (14.0, 2.0))[1] < 0.6
    kept = LidarDetector(_config(reflector_min_intensity=0.6)).detect(sweep.points).objects
    assert all(math.hypot(o.center_m[0] - 14.0, o.center_m[1] - 2.0) > 1.0 for o in kept)
    assert _nearest(kept, (16.0, -3.0))[1] < 0.6
    found, dist = _nearest(kept, (12.0, -2.0))
    assert dist < 0.6 and found.class_name == "pedestrian"
