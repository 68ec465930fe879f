"""Accuracy of the lidar detector: on simulator scenarios against ground
truth, and on the real KITTI frame against a reference established by
inspection (`edge-llm-ros bench perception` reports both)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.perception.kitti import parse_kitti_calib, project_velo_to_image, read_kitti_bin
from edge_llm_ros.perception.lidar import LidarDetector, LidarDetectorConfig

# KITTI object testing frame 000002 ships without labels. Reference established by
# inspection (see test/perception/test_kitti.py for how): the clearly visible cars,
# name -> (centre x, y in the lidar frame, m; tolerance, m; image region u0, v0, u1, v1).
KITTI_000002_CARS: dict[str, tuple[float, float, float, tuple[int, int, int, int]]] = {
    "silver": (6.7, -3.9, 1.2, (970, 180, 1242, 375)),
    "black": (10.55, -4.85, 0.8, (775, 175, 1050, 300)),
    "red": (18.45, 5.75, 0.8, (365, 205, 435, 265)),
    "white": (24.0, 5.7, 0.8, (420, 200, 475, 250)),
    "blue": (28.95, 5.8, 1.2, (460, 195, 500, 240)),
    "beige": (48.0, -4.2, 1.0, (640, 178, 700, 202)),
}
# KITTI's HDL-64E: mounted at 1.73 m, highest beam at +2 degrees, 64 beams (finer clusters).
KITTI_LIDAR_CONFIG = LidarDetectorConfig(sensor_height_m=1.73, sensor_top_elevation_deg=2.0,
                                         cluster_tolerance_m=0.2)


def evaluate_kitti_000002(kitti_dir: Path,
                          config: LidarDetectorConfig = KITTI_LIDAR_CONFIG) -> dict[str, Any]:
    """Per reference car: found?, centre error, projected centre inside its image region."""
    points = read_kitti_bin(kitti_dir / "000002.bin")
    calib = parse_kitti_calib(kitti_dir / "000002.txt")
    objects = LidarDetector(config).detect(points).objects
    cars = [o for o in objects if o.class_name == "car"]
    rows = {}
    for name, (x, y, tol, region) in KITTI_000002_CARS.items():
        dists = [math.hypot(o.center_m[0] - x, o.center_m[1] - y) for o in cars]
        if not dists or min(dists) > tol:
            rows[name] = {"found": False}
            continue
        car = cars[int(np.argmin(dists))]
        uv, depth = project_velo_to_image(car.center_m[None, :], calib)
        u, v = uv[0]
        rows[name] = {"found": True, "center_error_m": round(min(dists), 3),
                      "projection_on_object": bool(depth[0] > 0 and region[0] <= u <= region[2]
                                                   and region[1] <= v <= region[3])}
    found = [r for r in rows.values() if r["found"]]
    corridor = [o for o in objects if 0 < o.center_m[0] <= 50 and abs(o.center_m[1]) <= 7.5
                and o.class_name != "unknown"]
    return {
        "reference_cars": len(KITTI_000002_CARS),
        "cars_found": len(found),
        "center_error_m_median": round(float(np.median([r["center_error_m"] for r in found])), 3)
        if found else None,
        "projections_on_object": sum(r["projection_on_object"] for r in found),
        "classed_objects_in_street_corridor": len(corridor),
        "pedestrians_or_cyclists_reported": sum(o.class_name in ("pedestrian", "cyclist")
                                                for o in objects),
        "per_car": rows,
    }


def evaluate_lidar_on_sim(scenarios: tuple[str, ...] = ("car_braking_ahead", "mixed_traffic",
                                                        "pedestrian_crossing",
                                                        "cyclist_overtaking",
                                                        "stopped_vehicle_in_lane"),
                          seeds: tuple[int, ...] = (1, 2), frames_per_run: int = 40,
                          config: LidarDetectorConfig | None = None, min_points: int = 15,
                          match_m: float = 2.0) -> dict[str, Any]:
    """3D recall / precision / centre error against the simulator's ground truth.

    A ground-truth object counts when the sweep put at least `min_points` on it
    (what a lidar could find); a detection matches the nearest unmatched truth
    within `match_m` (centres, lidar frame). Classes are scored separately:
    a match with the wrong class counts as a class error, not a hit.
    """
    from edge_llm_ros.sim import Simulator, load_scenario

    detector = LidarDetector(config or LidarDetectorConfig())  # the node's defaults
    truths = hits = class_hits = detections = 0
    errors: list[float] = []
    per_class: dict[str, dict[str, int]] = {}
    for name in scenarios:
        for seed in seeds:
            with Simulator(load_scenario(name), seed=seed, camera=None) as sim:
                step = max(1, int(sim.scenario.duration_s * 10 / frames_per_run))
                frame_index = 0
                while not sim.done:
                    frame = sim.step()
                    frame_index += 1
                    if frame_index % step:
                        continue
                    T = sim.T_lidar_from_base
                    gt = [o for o in frame.objects if o.lidar_point_count >= min_points]
                    gt_xy = np.array([(T[:3, :3] @ o.center_base_m + T[:3, 3])[:2]
                                      for o in gt]).reshape(-1, 2)
                    found = [o for o in detector.detect(frame.points_lidar).objects
                             if o.class_name != "unknown"]
                    detections += len(found)
                    truths += len(gt)
                    for o in gt:
                        per_class.setdefault(o.class_name, {"truth": 0, "hit": 0})
                        per_class[o.class_name]["truth"] += 1
                    taken: set[int] = set()
                    for det in found:
                        if not len(gt_xy):
                            break
                        d = np.hypot(*(gt_xy - det.center_m[:2]).T)
                        d[list(taken)] = np.inf
                        j = int(np.argmin(d))
                        if d[j] <= match_m:
                            taken.add(j)
                            hits += 1
                            errors.append(float(d[j]))
                            if det.class_name == gt[j].class_name:
                                class_hits += 1
                                per_class[gt[j].class_name]["hit"] += 1
    return {
        "scenarios": list(scenarios), "seeds": list(seeds), "frames_per_run": frames_per_run,
        "ground_truth_objects": truths, "detections": detections,
        "recall": round(hits / truths, 3) if truths else None,
        "precision": round(hits / detections, 3) if detections else None,
        "class_accuracy_of_matches": round(class_hits / hits, 3) if hits else None,
        "center_error_m_median": round(float(np.median(errors)), 3) if errors else None,
        "center_error_m_p90": round(float(np.percentile(errors, 90)), 3) if errors else None,
        "recall_by_class": {c: round(v["hit"] / v["truth"], 3) for c, v in per_class.items()
                            if v["truth"]},
    }
