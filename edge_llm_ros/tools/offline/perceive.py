"""`edge-llm-ros perceive`: the perception pipeline on files, for people
debugging offline and for tests. The same cores the nodes run: camera
detector, lidar detector and scene fusion, on one image + point cloud +
KITTI calibration; JSON out and an annotated PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.projection import box_corners, project_points
from edge_llm_ros.perception.draw import draw_detections, draw_projected_boxes
from edge_llm_ros.perception.kitti import KittiCalib, parse_kitti_calib, read_kitti_bin, read_pcd
from edge_llm_ros.perception.lidar import LidarDetector, LidarDetectorConfig
from edge_llm_ros.reasoning.scene_io import scene_to_dict
from edge_llm_ros.tools.evaluation.perception import KITTI_LIDAR_CONFIG
from edge_llm_ros.tools.offline.node_configs import perception_params

# A KITTI Velodyne sits 1.73 m above the road; base_link is the road below it.
KITTI_LIDAR_HEIGHT_M = 1.73


@dataclass(frozen=True)
class CameraGeometry:
    """Pinhole K of the image and the lidar -> camera optical transform."""

    K: np.ndarray
    T_camera_from_lidar: np.ndarray

    @classmethod
    def from_kitti(cls, calib: KittiCalib, camera: int = 2) -> CameraGeometry:
        """Camera `camera` of a KITTI rig: K from P, whose 4th column is the
        camera's offset from camera 0 (in pixels times focal length)."""
        P = calib.projection(camera)
        K = P[:, :3].copy()
        offset = np.eye(4)
        offset[:3, 3] = np.linalg.solve(K, P[:, 3])  # P = K [I | t]
        return cls(K, offset @ calib.t_rect_from_velo)


def read_cloud(path: Path) -> np.ndarray:
    """KITTI .bin or PCD -> (N, 4) x, y, z, intensity."""
    if path.suffix.lower() == ".pcd":
        return read_pcd(path)
    return read_kitti_bin(path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return value


def perceive(
    image_path: Path | None,
    cloud_path: Path | None,
    calib_path: Path | None,
    model_path: Path | None = None,
    lidar_config: LidarDetectorConfig | None = None,
    lidar_height_m: float = KITTI_LIDAR_HEIGHT_M,
    annotated_png: Path | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run what is given (image and/or cloud); fuse when both and a calibration
    are there. Returns a JSON-ready dict: detections_2d, objects_3d, scene, timing.

    `params` are the camera_detector, lidar_detector and scene_fusion node parameters
    (node_configs.perception_params; default: the nodes' defaults): the detectors and the
    fuser are configured as those nodes configure theirs. The geometry comes from the
    calibration, and a KITTI .bin is read with KITTI's HDL-64E settings unless
    `lidar_config` is given."""
    params = params if params is not None else perception_params()
    if image_path is None and cloud_path is None:
        raise ValueError("give an image, a point cloud, or both")
    result: dict[str, Any] = {"inputs": {"image": str(image_path) if image_path else None,
                                         "cloud": str(cloud_path) if cloud_path else None,
                                         "calibration": str(calib_path) if calib_path else None},
                              "timing_ms": {}}
    image_rgb = None
    detections = []
    if image_path is not None:
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image '{image_path}'")
        image_rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        from edge_llm_ros.perception.camera.detector import CameraDetector, detector_kwargs
        from edge_llm_ros.perception.camera.model_source import resolve_model

        camera = params["camera_detector"]
        # the model the node would load: packaged names, the weights cache, a download
        path = resolve_model(str(model_path or camera["model_path"])).path
        detector = CameraDetector(path, **detector_kwargs(camera))
        cam = detector.detect(bgr, "bgr8")
        detections = cam.detections
        result["timing_ms"]["camera_detector"] = round(cam.timing_ms["total"], 2)
        result["detections_2d"] = [asdict(d) for d in detections]
    objects = []
    if cloud_path is not None:
        points = read_cloud(cloud_path)
        if lidar_config is None:  # a KITTI .bin comes from KITTI's HDL-64E
            lidar_config = (KITTI_LIDAR_CONFIG if cloud_path.suffix.lower() == ".bin"
                            else LidarDetectorConfig.from_params(params["lidar_detector"]))
        lidar = LidarDetector(lidar_config).detect(points)
        objects = lidar.objects
        result["timing_ms"]["lidar_detector"] = round(lidar.timing_ms["total"], 2)
        result["objects_3d"] = [
            {"id": i, "class_name": o.class_name, "score": o.score,
             "center_m": o.center_m.tolist(), "size_m": o.size_m.tolist(),
             "yaw_rad": o.yaw_rad, "point_count": o.point_count}
            for i, o in enumerate(objects)]
        result["frame"] = "lidar"
    geometry = CameraGeometry.from_kitti(parse_kitti_calib(calib_path)) if calib_path else None
    if geometry is not None and image_rgb is not None:
        height, width = image_rgb.shape[:2]
        base_from_lidar = np.eye(4)
        base_from_lidar[2, 3] = lidar_height_m
        node_config = FusionConfig.from_params(params["scene_fusion"])
        # one frame: its geometry from the calibration, every track reported at once
        fuser = SceneFuser(replace(node_config, T_camera_from_lidar=geometry.T_camera_from_lidar,
                                   T_base_from_lidar=base_from_lidar, confirm_hits=1))
        fuser.set_camera_model(geometry.K, width, height)
        stamp = 1_000_000_000
        fuser.add_odometry(stamp, 0.0, 0.0)
        if cloud_path is not None:
            fuser.add_lidar_arrays(stamp, np.array([o.center_m for o in objects]).reshape(-1, 3),
                                   np.array([o.size_m for o in objects]).reshape(-1, 3),
                                   np.array([o.yaw_rad for o in objects]),
                                   [o.class_name for o in objects],
                                   np.array([o.score for o in objects]))
        fuser.add_camera_arrays(stamp, np.array([d.box_px for d in detections]).reshape(-1, 4),
                                [d.class_name for d in detections],
                                np.array([d.score for d in detections]), (width, height))
        scene = fuser.summarize(stamp)
        result["scene"] = scene_to_dict(scene)  # the scene file format `decide` reads
        result["timing_ms"]["scene_fusion"] = round(scene.stage_latencies[-1].processing_time_ms,
                                                    2)
        if annotated_png is not None:
            canvas = draw_detections(image_rgb, "rgb8", detections)
            corners = []
            for o in objects:
                uv, in_front = project_points(box_corners(o.center_m, o.size_m, o.yaw_rad)[0],
                                              geometry.T_camera_from_lidar, geometry.K)
                corners.append(uv if bool(np.all(in_front)) else None)
            draw_projected_boxes(canvas, corners,
                                 [f"#{i} {o.class_name}" for i, o in enumerate(objects)],
                                 [o.class_name for o in objects])
            annotated_png.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(annotated_png), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            result["annotated_png"] = str(annotated_png)
    elif annotated_png is not None and image_rgb is not None:
        canvas = draw_detections(image_rgb, "rgb8", detections)
        cv2.imwrite(str(annotated_png), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        result["annotated_png"] = str(annotated_png)
    return _jsonable(result)
