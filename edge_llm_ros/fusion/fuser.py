"""SceneFuser: the whole of scene fusion behind five calls, no ROS.

The node feeds it converted messages as they arrive (`add_*` only validate
and queue: they run in subscription callbacks and must stay cheap) and calls
`summarize(now_ns)` on a timer; that call processes the queued frames in
stamp order, so a camera frame that arrives a little after the lidar sweep of
the same instant is still fused with it.

How the streams combine, per frame, in stamp order:
- lidar sweep: paired with the camera frame nearest in time (within
  `sync_tolerance_ms`); the lidar boxes, moved to the camera frame's instant
  by the ego motion in between, are projected into the image and associated
  with the 2D detections; matched objects take the camera's class. Every
  lidar object becomes a tracker measurement (fused or lidar-only).
- camera frame while the lidar is alive (a sweep within
  `lidar_freshness_ms` of it): used only through that pairing. Detections no
  lidar object matches are dropped and counted (`camera_detections_unmatched`):
  a flat-ground guess would too often duplicate a lidar track.
- camera frame while the lidar is down: each detection is ranged on a flat
  ground from its box's bottom edge (`camera_measurements`) and updates the
  tracker on its own, so tracking survives a lidar outage.

Rejected input is counted, never raised: see `rejected_counts()`.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edge_llm_ros.fusion.association import (
    WILDCARD_CLASSES,
    associate,
    fuse_labels,
    normalize_class,
)
from edge_llm_ros.fusion.camera_confirmation import ConfirmationConfig, confirm_with_camera
from edge_llm_ros.fusion.config import FusionConfig
from edge_llm_ros.fusion.egomotion import EgoMotion
from edge_llm_ros.fusion.projection import ground_points_from_pixels, project_boxes
from edge_llm_ros.fusion.scene import ObjectsInBase, build_objects, relate_to_path
from edge_llm_ros.fusion.tracker import Measurements, Tracker
from edge_llm_ros.types import (
    MODE_CAMERA_ONLY,
    MODE_FUSED,
    MODE_LIDAR_ONLY,
    MODE_NONE,
    Detection2D,
    EgoState,
    Object3D,
    SceneSummary,
    StageLatency,
)

__all__ = ["FusionConfig", "SceneFuser"]

_CAMERA_HISTORY = 16  # camera frames kept for pairing with later-processed sweeps
_REJECT_KEYS = (
    "lidar_out_of_order", "camera_out_of_order", "odometry_out_of_order",
    "lidar_stale", "camera_stale", "lidar_future", "camera_future",
    "lidar_objects_invalid", "camera_detections_invalid", "odometry_invalid",
    "camera_without_model", "time_jump_resets",
)


@dataclass
class _LidarFrame:
    stamp_ns: int
    centers: np.ndarray  # (N,3) lidar frame
    sizes: np.ndarray  # (N,3)
    yaws: np.ndarray  # (N,)
    classes: list[str]
    scores: np.ndarray
    processing_time_ms: float
    received_ns: int | None

    def subset(self, keep: np.ndarray) -> _LidarFrame:
        return _LidarFrame(self.stamp_ns, self.centers[keep], self.sizes[keep], self.yaws[keep],
                           [c for c, k in zip(self.classes, keep, strict=True) if k],
                           self.scores[keep], self.processing_time_ms, self.received_ns)


@dataclass
class _CameraFrame:
    stamp_ns: int
    boxes: np.ndarray  # (M,4) in pixels of an image_size image
    classes: list[str]
    scores: np.ndarray
    image_size: tuple[int, int]
    processing_time_ms: float
    received_ns: int | None


@dataclass
class CameraModel:
    K: np.ndarray
    width_px: int
    height_px: int


def _rows(values: Sequence, n: int, width: int) -> np.ndarray | None:
    """Values as an (n, width) float array, or None when any row is malformed."""
    try:
        a = np.asarray(values, dtype=float)
    except (ValueError, TypeError):
        return None
    return a.reshape(n, width) if a.size == n * width else None


class SceneFuser:
    """Camera + lidar + odometry in, `SceneSummary` out; see the module docstring."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config = config or FusionConfig()
        self._derive_mounting()
        self.camera_model: CameraModel | None = None
        self.speed_limit_mps = 0.0
        self.lane_index = -1
        self.num_lanes = 0
        self.lanes_left_our_way = -1
        self.reset()

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every track, frame and pose; e.g. after a time jump. Counters survive, and
        ids continue from where they were, so an id never names two objects."""
        old = getattr(self, "tracker", None)
        self.tracker = Tracker(self.config)
        if old is not None:
            self.tracker.carry_ids_from(old)
        self.ego = EgoMotion(self.config.odometry_history_s)
        self._pending: list[_LidarFrame | _CameraFrame] = []
        self._camera_history: deque[_CameraFrame] = deque(maxlen=_CAMERA_HISTORY)
        self._lidar_stamps: deque[int] = deque(maxlen=64)
        self._last_in: dict[str, int] = {}
        self._camera_used: _CameraFrame | None = None
        self._lidar_used: _LidarFrame | None = None
        if not hasattr(self, "_rejected"):
            self._rejected = dict.fromkeys(_REJECT_KEYS, 0)
            self._stats = dict.fromkeys(
                ("frames_fused", "frames_lidar_only", "frames_camera_only",
                 "camera_frames_paired", "camera_detections_unmatched",
                 "camera_detections_no_range", "lidar_objects_unconfirmed_dropped"), 0)

    def rejected_counts(self) -> dict[str, int]:
        """Input rejected since start, by reason (for diagnostics)."""
        return dict(self._rejected)

    def stats(self) -> dict[str, int]:
        """What fusion did with the accepted input, for diagnostics."""
        out = dict(self._stats)
        out["tracks_created"] = self.tracker.tracks_created
        out["tracks_alive"] = len(self.tracker)
        out["tracks_confirmed"] = int(np.count_nonzero(self.tracker.confirmed))
        return out

    def _derive_mounting(self) -> None:
        cfg = self.config
        self._T_base_from_camera = cfg.T_base_from_lidar @ np.linalg.inv(cfg.T_camera_from_lidar)
        self._lidar_yaw_in_base = math.atan2(cfg.T_base_from_lidar[1, 0],
                                             cfg.T_base_from_lidar[0, 0])

    def set_extrinsics(self, T_camera_from_lidar: np.ndarray,
                       T_base_from_lidar: np.ndarray) -> None:
        """Replace the sensor mounting (e.g. once /tf_static has it); tracks are kept, and
        frames from now on are projected and placed with the new transforms."""
        self.config = replace(self.config, T_camera_from_lidar=T_camera_from_lidar,
                              T_base_from_lidar=T_base_from_lidar)
        self._derive_mounting()

    def set_camera_model(self, K: np.ndarray, width_px: int, height_px: int) -> None:
        """Intrinsics from CameraInfo (rectified / undistorted pinhole K)."""
        K = np.asarray(K, dtype=float).reshape(3, 3)
        if not np.all(np.isfinite(K)) or K[0, 0] <= 0.0 or K[1, 1] <= 0.0:
            raise ValueError(f"camera K must be finite with positive focal lengths, got {K}")
        if width_px < 1 or height_px < 1:
            raise ValueError(f"camera size must be positive, got {width_px}x{height_px}")
        self.camera_model = CameraModel(K, int(width_px), int(height_px))

    def set_road_context(self, speed_limit_mps: float = 0.0, lane_index: int = -1,
                         num_lanes: int = 0, lanes_left_our_way: int = -1) -> None:
        """What a map or the driver knows; with lane_index and num_lanes the lane count
        on each side replaces `lanes_left`/`lanes_right`; lanes_left_our_way (-1 unknown)
        goes into the scene for the safety envelope."""
        self.speed_limit_mps = float(speed_limit_mps)
        self.lanes_left_our_way = int(lanes_left_our_way)
        self.lane_index = int(lane_index)
        self.num_lanes = int(num_lanes)

    def _check_order(self, stream: str, stamp_ns: int) -> bool:
        last = self._last_in.get(stream)
        if last is not None and stamp_ns <= last:
            jump_ms = self.config.time_jump_reset_ms
            if jump_ms > 0.0 and last - stamp_ns > jump_ms * 1e6:
                # The clock went back (bag loop, simulator restart): start over.
                self._rejected["time_jump_resets"] += 1
                self.reset()
                self._last_in[stream] = stamp_ns
                return True
            self._rejected[f"{stream}_out_of_order"] += 1
            return False
        self._last_in[stream] = stamp_ns
        return True

    # ------------------------------------------------------------ input
    def add_odometry(self, stamp_ns: int, speed_mps: float, yaw_rate_radps: float,
                     acceleration_mps2: float | None = None) -> bool:
        """Ego speed and yaw rate (e.g. from nav_msgs/Odometry twist); False when rejected."""
        vals = [speed_mps, yaw_rate_radps] + ([] if acceleration_mps2 is None
                                               else [acceleration_mps2])
        if not all(math.isfinite(v) for v in vals):
            self._rejected["odometry_invalid"] += 1
            return False
        if not self._check_order("odometry", stamp_ns):
            return False
        return self.ego.add(stamp_ns, float(speed_mps), float(yaw_rate_radps),
                            None if acceleration_mps2 is None else float(acceleration_mps2))

    def add_lidar(self, stamp_ns: int, objects: Sequence[Object3D],
                  processing_time_ms: float = 0.0, received_ns: int | None = None) -> bool:
        """One sweep's Object3D list (lidar frame); False when the frame is rejected."""
        n = len(objects)
        centers = _rows([o.center_m for o in objects], n, 3)
        sizes = _rows([o.size_m for o in objects], n, 3)
        if centers is None or sizes is None:  # some object has a malformed vector
            good = [o for o in objects
                    if np.size(o.center_m) == 3 and np.size(o.size_m) == 3]
            self._rejected["lidar_objects_invalid"] += n - len(good)
            objects, n = good, len(good)
            centers = _rows([o.center_m for o in objects], n, 3)
            sizes = _rows([o.size_m for o in objects], n, 3)
        return self.add_lidar_arrays(
            stamp_ns, centers, sizes, np.array([o.yaw_rad for o in objects], dtype=float),
            [o.class_name for o in objects], np.array([o.score for o in objects], dtype=float),
            processing_time_ms, received_ns)

    def add_lidar_arrays(self, stamp_ns: int, centers_m: np.ndarray, sizes_m: np.ndarray,
                         yaws_rad: np.ndarray, class_names: Sequence[str], scores: np.ndarray,
                         processing_time_ms: float = 0.0, received_ns: int | None = None
                         ) -> bool:
        """`add_lidar` for callers that already hold arrays: (N,3), (N,3), (N,), N, (N,)."""
        n = len(class_names)
        centers = np.asarray(centers_m, dtype=float).reshape(n, 3)
        sizes = np.asarray(sizes_m, dtype=float).reshape(n, 3)
        yaws = np.asarray(yaws_rad, dtype=float).reshape(n)
        scores = np.asarray(scores, dtype=float).reshape(n)
        ok = (np.isfinite(centers).all(axis=1) & np.isfinite(sizes).all(axis=1)
              & (sizes >= 0.0).all(axis=1) & np.isfinite(yaws) & np.isfinite(scores))
        bad = n - int(np.count_nonzero(ok))
        if bad:
            self._rejected["lidar_objects_invalid"] += bad
        if not self._check_order("lidar", stamp_ns):
            return False
        aliases = self.config.class_aliases
        keep = np.flatnonzero(ok)
        frame = _LidarFrame(stamp_ns, centers[keep], sizes[keep], yaws[keep],
                            [normalize_class(class_names[i], aliases) for i in keep.tolist()],
                            np.clip(scores[keep], 0.0, 1.0), float(processing_time_ms),
                            received_ns)
        self._lidar_stamps.append(stamp_ns)
        self._pending.append(frame)
        return True

    def add_camera(self, stamp_ns: int, detections: Sequence[Detection2D],
                   image_size: tuple[int, int], processing_time_ms: float = 0.0,
                   received_ns: int | None = None) -> bool:
        """One image's Detection2D list; image_size (width, height) of the boxes' image."""
        n = len(detections)
        boxes = _rows([d.box_px for d in detections], n, 4)
        if boxes is None:
            good = [d for d in detections if np.size(d.box_px) == 4]
            self._rejected["camera_detections_invalid"] += n - len(good)
            detections, n = good, len(good)
            boxes = _rows([d.box_px for d in detections], n, 4)
        return self.add_camera_arrays(
            stamp_ns, boxes, [d.class_name for d in detections],
            np.array([d.score for d in detections], dtype=float), image_size,
            processing_time_ms, received_ns)

    def add_camera_arrays(self, stamp_ns: int, boxes_px: np.ndarray, class_names: Sequence[str],
                          scores: np.ndarray, image_size: tuple[int, int],
                          processing_time_ms: float = 0.0, received_ns: int | None = None
                          ) -> bool:
        """`add_camera` for callers that already hold arrays: boxes (M,4), M names, (M,)."""
        m = len(class_names)
        boxes = np.asarray(boxes_px, dtype=float).reshape(m, 4)
        scores = np.asarray(scores, dtype=float).reshape(m)
        ok = (np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
              & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
        bad = m - int(np.count_nonzero(ok))
        if bad:
            self._rejected["camera_detections_invalid"] += bad
        if not self._check_order("camera", stamp_ns):
            return False
        w, h = int(image_size[0]), int(image_size[1])
        keep = np.flatnonzero(ok)
        aliases = self.config.class_aliases
        frame = _CameraFrame(stamp_ns, boxes[keep],
                             [normalize_class(class_names[i], aliases) for i in keep.tolist()],
                             np.clip(scores[keep], 0.0, 1.0), (max(w, 1), max(h, 1)),
                             float(processing_time_ms), received_ns)
        self._camera_history.append(frame)
        self._pending.append(frame)
        return True

    # ------------------------------------------------------------ processing
    def _lidar_alive(self, stamp_ns: int) -> bool:
        """Is there a lidar sweep within the lidar freshness limit of this instant?"""
        if not self._lidar_stamps:
            return False
        stamps = self._lidar_stamps
        limit = self.config.lidar_freshness_ms * 1e6
        i = bisect.bisect_left(stamps, stamp_ns)
        return any(abs(stamps[j] - stamp_ns) <= limit for j in (i - 1, i) if 0 <= j < len(stamps))

    def _nearest_camera(self, stamp_ns: int) -> _CameraFrame | None:
        best, best_dt = None, self.config.sync_tolerance_ms * 1e6
        for f in self._camera_history:
            dt = abs(f.stamp_ns - stamp_ns)
            if dt <= best_dt:
                best, best_dt = f, dt
        return best

    def _scaled_boxes(self, frame: _CameraFrame) -> np.ndarray:
        """Boxes in pixels of the CameraInfo image (detector may report another size)."""
        cam = self.camera_model
        assert cam is not None
        sx, sy = cam.width_px / frame.image_size[0], cam.height_px / frame.image_size[1]
        if sx == 1.0 and sy == 1.0:
            return frame.boxes
        return frame.boxes * np.array([sx, sy, sx, sy])

    def _to_odom(self, stamp_ns: int, xy_base: np.ndarray, cov_base: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray | None, float]:
        ex, ey, eyaw = self.ego.pose_at(stamp_ns)
        c, s = math.cos(eyaw), math.sin(eyaw)
        R = np.array([[c, -s], [s, c]])
        xy = xy_base @ R.T + (ex, ey)
        cov = None if cov_base is None else R @ cov_base @ R.T
        return xy, cov, eyaw

    def _process_lidar(self, f: _LidarFrame) -> None:
        cfg = self.config
        if self.tracker.time_ns is not None and f.stamp_ns < self.tracker.time_ns:
            self._rejected["lidar_stale"] += 1
            return
        n = len(f.classes)
        T = cfg.T_base_from_lidar
        centers_b = f.centers @ T[:3, :3].T + T[:3, 3]
        classes, conf = list(f.classes), f.scores.copy()
        weight = f.scores.copy()
        seen_cam = np.zeros(n, dtype=bool)
        cam = self._nearest_camera(f.stamp_ns) if self.camera_model is not None else None
        if cam is not None and n:
            model = self.camera_model
            assert model is not None
            # Move the sweep to the image's instant (ego motion only), then into the camera.
            T_eff = (cfg.T_camera_from_lidar @ np.linalg.inv(T)
                     @ self.ego.base_to_base(cam.stamp_ns, f.stamp_ns) @ T)
            boxes, _ = project_boxes(f.centers, f.sizes, f.yaws, T_eff, model.K,
                                     model.width_px, model.height_px)
            res = associate(boxes, f.classes, self._scaled_boxes(cam), cam.classes,
                            cfg.association_min_iou, cfg.class_groups)
            classes, conf = fuse_labels(f.classes, f.scores, cam.classes, cam.scores,
                                        res.matches)
            li, di = res.matches[:, 0], res.matches[:, 1]
            seen_cam[li] = True
            weight[li] = cfg.camera_class_weight * np.maximum(cam.scores[di], 0.05)
            if cfg.camera_confirm_range_m > 0.0:
                keep = self._confirm(boxes, f, cam, centers_b, classes, seen_cam)
                f = f.subset(keep)
                centers_b, conf, weight = centers_b[keep], conf[keep], weight[keep]
                classes = [c for c, k in zip(classes, keep, strict=True) if k]
                seen_cam = seen_cam[keep]
                n = len(classes)
            self._stats["camera_frames_paired"] += 1
            self._stats["camera_detections_unmatched"] += len(res.unmatched_detections)
        self._stats["frames_fused" if cam is not None else "frames_lidar_only"] += 1
        # "unknown" is no evidence against a class the camera gave the track earlier.
        vague = np.array([c in WILDCARD_CLASSES for c in classes], dtype=bool)
        weight = np.where(vague, 1e-3, weight)
        xy, _, eyaw = self._to_odom(f.stamp_ns, centers_b[:, :2], None)
        var = cfg.lidar_position_std_m ** 2
        cov = np.zeros((n, 2, 2))
        cov[:, 0, 0] = cov[:, 1, 1] = var
        meas = Measurements(
            xy=xy, cov=cov, z=centers_b[:, 2], size=f.sizes, size_measured=np.ones(n, bool),
            yaw=f.yaws + self._lidar_yaw_in_base + eyaw, yaw_measured=np.ones(n, bool),
            class_names=classes, class_weight=np.maximum(weight, 1e-4), confidence=conf,
            seen_by_camera=seen_cam, seen_by_lidar=np.ones(n, bool))
        self.tracker.update(f.stamp_ns, meas)
        self._lidar_used = f

    def _confirm(self, boxes: np.ndarray, f: _LidarFrame, cam: _CameraFrame,
                 centers_b: np.ndarray, classes: list[str], seen_cam: np.ndarray) -> np.ndarray:
        """Which lidar objects stay under camera confirmation (camera_confirmation);
        covered ones take their cover's class (Confirmation.relabel)."""
        cfg = self.config
        res = confirm_with_camera(
            boxes, f.classes, centers_b[:, 0], centers_b[:, 1], self._scaled_boxes(cam),
            cam.classes, ConfirmationConfig(cfg.camera_confirm_range_m,
                                            cfg.camera_confirm_corridor_m,
                                            cfg.association_min_iou), cfg.class_groups)
        res.relabel(classes, seen_cam)
        seen_cam |= res.covered
        self._stats["lidar_objects_unconfirmed_dropped"] += int(res.drop.sum())
        return ~res.drop

    def camera_measurements(self, boxes_px: np.ndarray, classes: Sequence[str],
                            scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
        """Flat-ground estimate of each detection: centres (M,3) and covariances (M,2,2) in
        base_link, sizes (M,3), and which detections could be ranged (M,) bool.

        The box's bottom-centre pixel is cast onto the plane z=0 of base_link
        (camera height and pitch from the extrinsics): that is the nearest
        ground contact. The centre lies half the object's depth further along
        the view; the depth comes from the class size and the metric width of
        the box (a car seen from behind shows its width and hides its length;
        seen side-on, the reverse). Limits: the ground must be flat and level
        with base_link (slopes, kerbs and pitching under braking bias the range,
        roughly by range * pitch error / camera-height-angle); boxes cut by the
        image bottom (objects closer than the visible ground) come out too far;
        the range error grows with the square of the range (1 px of box bottom
        is about range^2 / (f * camera height)); at or above the horizon there
        is no range at all.
        """
        cam = self.camera_model
        assert cam is not None
        cfg = self.config
        m = len(boxes_px)
        u = 0.5 * (boxes_px[:, 0] + boxes_px[:, 2])
        v = boxes_px[:, 3]
        ground, down = ground_points_from_pixels(np.column_stack([u, v]), cam.K,
                                                 self._T_base_from_camera)
        cam_xy = self._T_base_from_camera[:2, 3]
        view = ground[:, :2] - cam_xy
        rng = np.hypot(view[:, 0], view[:, 1])
        ok = down & (rng > 0.0) & (rng <= cfg.camera_only_max_range_m)
        rng_safe = np.where(ok, rng, 1.0)
        unit = view / rng_safe[:, None]
        sizes = np.array([cfg.size_for(c) for c in classes], dtype=float).reshape(m, 3)
        # Metric width of the box at the contact's depth (optical z of the contact point).
        T_cam_from_base = np.linalg.inv(self._T_base_from_camera)
        depth = np.where(ok, ground @ T_cam_from_base[2, :3] + T_cam_from_base[2, 3], 1.0)
        width_m = (boxes_px[:, 2] - boxes_px[:, 0]) * depth / cam.K[0, 0]
        lo, hi = sizes[:, :2].min(axis=1), sizes[:, :2].max(axis=1)
        extent = np.clip(sizes[:, 0] + sizes[:, 1] - width_m, lo, hi)
        centers = np.column_stack([ground[:, :2] + 0.5 * extent[:, None] * unit,
                                   0.5 * sizes[:, 2]])
        sr = np.maximum(cfg.camera_range_min_std_m, cfg.camera_range_rel_std * rng_safe)
        sl = np.full(m, cfg.camera_lateral_std_m)
        # Covariance: sr along the view ray, sl across it.
        ux, uy = unit[:, 0], unit[:, 1]
        cov = np.empty((m, 2, 2))
        cov[:, 0, 0] = sr ** 2 * ux * ux + sl ** 2 * uy * uy
        cov[:, 1, 1] = sr ** 2 * uy * uy + sl ** 2 * ux * ux
        cov[:, 0, 1] = cov[:, 1, 0] = (sr ** 2 - sl ** 2) * ux * uy
        return centers, cov, sizes, ok

    def _process_camera(self, f: _CameraFrame) -> None:
        if self.camera_model is None:
            self._rejected["camera_without_model"] += 1
            return
        if self._lidar_alive(f.stamp_ns):  # used through lidar pairing
            self._camera_used = f
            return
        if self.tracker.time_ns is not None and f.stamp_ns < self.tracker.time_ns:
            self._rejected["camera_stale"] += 1
            return
        centers, cov_b, sizes, ok = self.camera_measurements(self._scaled_boxes(f), f.classes,
                                                              f.scores)
        self._stats["camera_detections_no_range"] += int(np.count_nonzero(~ok))
        idx = np.flatnonzero(ok)
        k = len(idx)
        xy, _, eyaw = self._to_odom(f.stamp_ns, centers[idx, :2], None)
        c, s = math.cos(eyaw), math.sin(eyaw)
        R = np.array([[c, -s], [s, c]])
        cls = [f.classes[i] for i in idx.tolist()]
        meas = Measurements(
            xy=xy, cov=R @ cov_b[idx] @ R.T, z=centers[idx, 2], size=sizes[idx],
            size_measured=np.zeros(k, bool), yaw=np.zeros(k), yaw_measured=np.zeros(k, bool),
            class_names=cls,
            class_weight=self.config.camera_class_weight * np.maximum(f.scores[idx], 0.05),
            confidence=f.scores[idx], seen_by_camera=np.ones(k, bool),
            seen_by_lidar=np.zeros(k, bool))
        self.tracker.update(f.stamp_ns, meas)
        self._stats["frames_camera_only"] += 1
        self._camera_used = f

    def _process_pending(self, now_ns: int) -> None:
        if not self._pending:
            return
        frames = sorted(self._pending,
                        key=lambda fr: (fr.stamp_ns, 0 if isinstance(fr, _LidarFrame) else 1))
        self._pending.clear()
        future = now_ns + self.config.max_future_ms * 1e6
        for fr in frames:
            lidar = isinstance(fr, _LidarFrame)
            if fr.stamp_ns > future:
                self._rejected["lidar_future" if lidar else "camera_future"] += 1
            elif isinstance(fr, _LidarFrame):
                self._process_lidar(fr)
            else:
                self._process_camera(fr)

    # ------------------------------------------------------------ output
    def _objects_in_base(self, stamp_ns: int) -> ObjectsInBase:
        snap = self.tracker.snapshot()
        ex, ey, eyaw = self.ego.pose_at(stamp_ns)
        c, s = math.cos(eyaw), math.sin(eyaw)
        R_bo = np.array([[c, s], [-s, c]])  # base_from_odom rotation
        xy = (snap.xy - (ex, ey)) @ R_bo.T
        vel = snap.velocity @ R_bo.T
        speed = np.hypot(vel[:, 0], vel[:, 1])
        # Heading of the length axis: measured box yaw, else the direction of motion.
        yaw = np.where(snap.yaw_known, snap.yaw - eyaw,
                       np.where(speed > 1.0, np.arctan2(vel[:, 1], vel[:, 0]), 0.0))
        return ObjectsInBase(ids=snap.ids, xyz=np.column_stack([xy, snap.z]), velocity=vel,
                             size=snap.size, yaw=yaw, class_names=snap.class_names,
                             confidence=snap.confidence, seen_by_camera=snap.seen_by_camera,
                             seen_by_lidar=snap.seen_by_lidar)

    def _fresh(self, stamp_ns: int | None, now_ns: int, limit_ms: float) -> bool:
        return stamp_ns is not None and now_ns - stamp_ns <= limit_ms * 1e6

    def summarize(self, now_ns: int) -> SceneSummary:
        """Process queued frames, then describe the scene at the newest sensor stamp used."""
        t0 = time.perf_counter()
        cfg = self.config
        self._process_pending(now_ns)
        self.tracker.prune(now_ns)
        cam, lid, odo = self._camera_used, self._lidar_used, self.ego.latest
        camera_fresh = self._fresh(cam.stamp_ns if cam else None, now_ns,
                                   cfg.camera_freshness_ms)
        lidar_fresh = self._fresh(lid.stamp_ns if lid else None, now_ns, cfg.lidar_freshness_ms)
        odometry_fresh = self._fresh(odo.stamp_ns if odo else None, now_ns,
                                     cfg.odometry_freshness_ms)
        mode = (MODE_FUSED if camera_fresh and lidar_fresh else MODE_CAMERA_ONLY
                if camera_fresh else MODE_LIDAR_ONLY if lidar_fresh else MODE_NONE)
        if self.tracker.time_ns is not None:
            stamp = self.tracker.time_ns
        elif odo is not None:
            stamp = odo.stamp_ns
        else:
            stamp = now_ns
        ego = EgoState(speed_limit_mps=self.speed_limit_mps, lane_index=self.lane_index,
                       lanes_left_our_way=self.lanes_left_our_way)
        if odo is not None:
            ego.speed_mps, ego.yaw_rate_radps = odo.speed_mps, odo.yaw_rate_radps
            ego.acceleration_mps2 = odo.acceleration_mps2
        lanes_left = lanes_right = None
        if self.lane_index >= 0 and self.num_lanes > self.lane_index:
            lanes_left, lanes_right = self.num_lanes - 1 - self.lane_index, self.lane_index
        objects = []
        if len(self.tracker):
            objs = self._objects_in_base(stamp)
            if len(objs):
                rel = relate_to_path(objs, ego.speed_mps, ego.yaw_rate_radps, cfg, lanes_left,
                                     lanes_right)
                objects = build_objects(objs, rel, cfg.max_objects)
        latencies = []
        for name, frame, fresh in (("camera_detector", cam, camera_fresh),
                                   ("lidar_detector", lid, lidar_fresh)):
            if fresh and frame is not None:
                pipe = (math.nan if frame.received_ns is None
                        else (frame.received_ns - frame.stamp_ns) * 1e-6)
                latencies.append(StageLatency(name, frame.processing_time_ms, pipe))
        proc_ms = (time.perf_counter() - t0) * 1e3
        latencies.append(StageLatency("scene_fusion", proc_ms,
                                         (now_ns - stamp) * 1e-6 + proc_ms))
        return SceneSummary(stamp_ns=int(stamp), ego=ego, objects=objects,
                               perception_mode=mode, camera_fresh=camera_fresh,
                               lidar_fresh=lidar_fresh, odometry_fresh=odometry_fresh,
                               stage_latencies=latencies)
