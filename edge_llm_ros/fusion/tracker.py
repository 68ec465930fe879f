"""Multi-object tracker: constant-velocity Kalman filters in the odometry frame.

Why this shape:
- State (x, y, vx, vy) lives in the dead-reckoned odometry frame (see
  `egomotion`), not in base_link: ego motion is then compensated exactly by
  the measurement transform, the motion model stays linear, and the velocity
  in the state *is* the absolute velocity (rotated into base_link on output).
- All tracks share one clock (the last accepted frame's stamp) and are
  predicted together with the actual dt, so variable frame rates and
  mixed camera/lidar updates need nothing special. A frame stamped before
  that clock is rejected (and counted): a Kalman filter cannot go back in time.
- Association is Hungarian on the squared Mahalanobis distance with a
  chi-square gate (plus a hard metric gate): the per-measurement covariance
  lets a precise lidar centroid and a range-uncertain camera-only estimate
  gate correctly against the same track.
- Birth from any unassociated measurement as a tentative track; reported
  once it has `confirm_hits` updates; dies after `max_misses` missed frames
  (sooner while tentative) or `max_coast_ms` without update. Ids are a
  counter and never reused.
Everything is vectorised over tracks and measurements with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge_llm_ros.fusion.association import class_compatibility
from edge_llm_ros.fusion.config import FusionConfig

_BIG = 1e9
_H_IDX = np.array([0, 1])


@dataclass
class Measurements:
    """One frame's object measurements, already in the odometry frame."""

    xy: np.ndarray  # (M,2) centre, metres
    cov: np.ndarray  # (M,2,2) position covariance, m^2
    z: np.ndarray  # (M,) centre height, metres (odom z = base_link z: planar motion)
    size: np.ndarray  # (M,3) length, width, height
    size_measured: np.ndarray  # (M,) bool: metric size (lidar) rather than a class default
    yaw: np.ndarray  # (M,) heading of the length axis in the odometry frame
    yaw_measured: np.ndarray  # (M,) bool
    class_names: list[str]
    class_weight: np.ndarray  # (M,) weight of this measurement's class vote
    confidence: np.ndarray  # (M,) 0..1
    seen_by_camera: np.ndarray  # (M,) bool
    seen_by_lidar: np.ndarray  # (M,) bool

    def __len__(self) -> int:
        return len(self.xy)

    @staticmethod
    def empty() -> Measurements:
        z = np.zeros(0)
        b = np.zeros(0, dtype=bool)
        return Measurements(np.zeros((0, 2)), np.zeros((0, 2, 2)), z, np.zeros((0, 3)), b, z, b,
                            [], z, z, b, b)


@dataclass
class TrackSnapshot:
    """Tracks as arrays (odometry frame), for the scene builder."""

    ids: np.ndarray
    xy: np.ndarray
    velocity: np.ndarray
    z: np.ndarray
    size: np.ndarray
    yaw: np.ndarray
    yaw_known: np.ndarray
    class_names: list[str]
    confidence: np.ndarray
    seen_by_camera: np.ndarray
    seen_by_lidar: np.ndarray
    hits: np.ndarray
    misses: np.ndarray
    cov: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 4, 4)))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class UpdateResult:
    accepted: bool
    matched: int = 0
    born: int = 0
    died: int = 0
    pairs: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))


def _empty_arrays(n: int, n_classes: int) -> dict[str, np.ndarray]:
    """Per-track arrays, all of length n (the names are the Tracker attributes)."""
    return {
        "ids": np.zeros(n, dtype=np.int64), "x": np.zeros((n, 4)), "P": np.zeros((n, 4, 4)),
        "z": np.zeros(n), "size": np.zeros((n, 3)), "size_known": np.zeros(n, dtype=bool),
        "yaw": np.zeros(n), "yaw_known": np.zeros(n, dtype=bool),
        "votes": np.zeros((n, n_classes)), "confidence": np.zeros(n),
        "hits": np.zeros(n, dtype=np.int64), "misses": np.zeros(n, dtype=np.int64),
        "confirmed": np.zeros(n, dtype=bool), "last_update_ns": np.zeros(n, dtype=np.int64),
        "seen_cam": np.zeros(n, dtype=bool), "seen_lidar": np.zeros(n, dtype=bool),
    }


def wrap_half_pi(a: np.ndarray) -> np.ndarray:
    """Angle difference modulo pi, in [-pi/2, pi/2): a box's length axis has no front."""
    return (a + np.pi / 2.0) % np.pi - np.pi / 2.0


class Tracker:
    """Track arrays plus the frame clock; `update` runs predict, associate, update, birth, death."""

    # Per-track arrays (row i = track i), created by _alloc / _birth.
    ids: np.ndarray  # (N,) int64 stable id
    x: np.ndarray  # (N,4) x, y, vx, vy in the odometry frame
    P: np.ndarray  # (N,4,4) state covariance
    z: np.ndarray  # (N,) centre height
    size: np.ndarray  # (N,3) length, width, height
    size_known: np.ndarray  # (N,) bool: size measured (lidar), not a class default
    yaw: np.ndarray  # (N,) length-axis heading, odometry frame
    yaw_known: np.ndarray  # (N,) bool
    votes: np.ndarray  # (N,C) decayed class votes
    confidence: np.ndarray  # (N,)
    hits: np.ndarray  # (N,) updates so far
    misses: np.ndarray  # (N,) consecutive missed frames
    confirmed: np.ndarray  # (N,) bool
    last_update_ns: np.ndarray  # (N,) int64
    seen_cam: np.ndarray  # (N,) bool: camera-associated in the last frame
    seen_lidar: np.ndarray  # (N,) bool: lidar-measured in the last frame

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config = config or FusionConfig()
        self.time_ns: int | None = None
        self._next_id = 1
        self.tracks_created = 0
        self.frames_rejected_stale = 0
        self._class_index: dict[str, int] = {}
        self._class_names: list[str] = []
        self._alloc(0)

    def carry_ids_from(self, other: Tracker) -> None:
        """Continue another tracker's id counter and creation count (after a reset)."""
        self._next_id = other._next_id
        self.tracks_created = other.tracks_created

    # ------------------------------------------------------------ storage
    def _alloc(self, n: int) -> None:
        for name, value in _empty_arrays(n, max(1, len(self._class_names))).items():
            setattr(self, name, value)

    _ARRAYS = ("ids", "x", "P", "z", "size", "size_known", "yaw", "yaw_known", "votes",
               "confidence", "hits", "misses", "confirmed", "last_update_ns", "seen_cam",
               "seen_lidar")

    def __len__(self) -> int:
        return len(self.ids)

    def _keep(self, mask: np.ndarray) -> None:
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[mask])

    def _class_columns(self, names: Sequence[str]) -> np.ndarray:
        cols = np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            c = self._class_index.get(name)
            if c is None:
                c = self._class_index[name] = len(self._class_names)
                self._class_names.append(name)
            cols[i] = c
        if len(self._class_names) > self.votes.shape[1]:
            pad = len(self._class_names) - self.votes.shape[1]
            self.votes = np.pad(self.votes, ((0, 0), (0, pad)))
        return cols

    def class_names(self) -> list[str]:
        if not len(self):
            return []
        best = np.argmax(self.votes, axis=1)
        return [self._class_names[i] if self._class_names else "unknown" for i in best.tolist()]

    # ------------------------------------------------------------ filter
    def predict(self, dt_s: float) -> None:
        """Constant-velocity prediction of every track by dt_s (white-noise acceleration)."""
        if dt_s <= 0.0 or not len(self):
            return
        x = self.x
        x[:, 0] += dt_s * x[:, 2]
        x[:, 1] += dt_s * x[:, 3]
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt_s
        q = self.config.accel_std_mps2 ** 2
        Q = np.zeros((4, 4))
        Q[0, 0] = Q[1, 1] = q * dt_s ** 4 / 4.0
        Q[0, 2] = Q[2, 0] = Q[1, 3] = Q[3, 1] = q * dt_s ** 3 / 2.0
        Q[2, 2] = Q[3, 3] = q * dt_s ** 2
        self.P = F @ self.P @ F.T + Q

    def distance_matrix(self, meas: Measurements) -> np.ndarray:
        """(N,M) squared Mahalanobis distance of each measurement from each predicted track."""
        d = meas.xy[None, :, :] - self.x[:, None, :2]
        S = self.P[:, None, :2, :2] + meas.cov[None, :, :, :]
        a, b, c = S[..., 0, 0], S[..., 0, 1], S[..., 1, 1]
        det = a * c - b * b
        dx, dy = d[..., 0], d[..., 1]
        return (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det

    def _associate(self, meas: Measurements) -> np.ndarray:
        n, m = len(self), len(meas)
        if n == 0 or m == 0:
            return np.empty((0, 2), dtype=np.int64)
        cfg = self.config
        d2 = self.distance_matrix(meas)
        eu2 = np.sum((meas.xy[None, :, :] - self.x[:, None, :2]) ** 2, axis=-1)
        gate = (d2 <= cfg.gate_chi2) & (eu2 <= cfg.max_gate_distance_m ** 2)
        rows, cols = gate.any(axis=1), gate.any(axis=0)
        if not rows.any():
            return np.empty((0, 2), dtype=np.int64)
        ri, ci = np.flatnonzero(rows), np.flatnonzero(cols)
        sub_gate = gate[np.ix_(ri, ci)]
        cost = d2[np.ix_(ri, ci)]
        if cfg.class_mismatch_cost > 0.0:
            names = self.class_names()
            compat = class_compatibility([names[i] for i in ri.tolist()],
                                         [meas.class_names[j] for j in ci.tolist()],
                                         cfg.class_groups)
            cost = cost + np.where(compat, 0.0, cfg.class_mismatch_cost)
        cost = np.where(sub_gate, cost, _BIG)
        r, c = linear_sum_assignment(cost)
        ok = sub_gate[r, c]
        return np.column_stack([ri[r[ok]], ci[c[ok]]]).astype(np.int64)

    def _kalman_update(self, ti: np.ndarray, mj: np.ndarray, meas: Measurements) -> None:
        P = self.P[ti]  # (K,4,4)
        S = P[:, :2, :2] + meas.cov[mj]
        a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
        det = a * c - b * b
        S_inv = np.empty_like(S)
        S_inv[:, 0, 0], S_inv[:, 1, 1] = c / det, a / det
        S_inv[:, 0, 1] = S_inv[:, 1, 0] = -b / det
        gain = P[:, :, :2] @ S_inv  # (K,4,2)
        innov = meas.xy[mj] - self.x[ti, :2]
        self.x[ti] += np.einsum("kij,kj->ki", gain, innov)
        P = P - gain @ P[:, :2, :]
        self.P[ti] = 0.5 * (P + np.swapaxes(P, 1, 2))

    # ------------------------------------------------------------ frame
    def update(self, stamp_ns: int, meas: Measurements) -> UpdateResult:
        """Advance to stamp_ns and fold in one frame's measurements.

        Returns accepted=False (state untouched) when the frame is older than
        the tracker's clock.
        """
        if self.time_ns is not None and stamp_ns < self.time_ns:
            self.frames_rejected_stale += 1
            return UpdateResult(False)
        cfg = self.config
        if self.time_ns is not None:
            self.predict((stamp_ns - self.time_ns) * 1e-9)
        self.time_ns = stamp_ns
        cols = self._class_columns(meas.class_names)
        pairs = self._associate(meas)
        ti, mj = pairs[:, 0], pairs[:, 1]
        n = len(self)
        if len(pairs):
            self._kalman_update(ti, mj, meas)
            alpha = cfg.size_smoothing
            # Size: lidar measurements smooth in; a class default only fills a gap.
            sm = meas.size_measured[mj]
            known = self.size_known[ti]
            w = np.where(sm, np.where(known, alpha, 1.0), np.where(known, 0.0, 1.0))
            self.size[ti] += w[:, None] * (meas.size[mj] - self.size[ti])
            self.size_known[ti] |= sm
            self.z[ti] += np.where(sm, alpha, 0.0) * (meas.z[mj] - self.z[ti])
            ym = meas.yaw_measured[mj]
            yk = self.yaw_known[ti]
            wy = np.where(ym, np.where(yk, alpha, 1.0), 0.0)
            self.yaw[ti] += wy * wrap_half_pi(meas.yaw[mj] - self.yaw[ti])
            self.yaw_known[ti] |= ym
            ca = cfg.confidence_smoothing
            self.confidence[ti] += ca * (meas.confidence[mj] - self.confidence[ti])
            self.votes[ti] *= 0.9
            np.add.at(self.votes, (ti, cols[mj]), meas.class_weight[mj])
            self.hits[ti] += 1
            self.last_update_ns[ti] = stamp_ns
        missed = np.ones(n, dtype=bool)
        missed[ti] = False
        self.misses[missed] += 1
        self.misses[ti] = 0
        self.confidence[missed] *= cfg.miss_confidence_decay
        self.seen_cam[:] = False
        self.seen_lidar[:] = False
        self.seen_cam[ti] = meas.seen_by_camera[mj]
        self.seen_lidar[ti] = meas.seen_by_lidar[mj]
        self.confirmed |= self.hits >= cfg.confirm_hits
        # Death before birth, so the newborn are never judged on one frame.
        dead = (np.where(self.confirmed, self.misses >= cfg.max_misses,
                         self.misses >= cfg.tentative_max_misses)
                | (stamp_ns - self.last_update_ns > cfg.max_coast_ms * 1e6))
        died = int(np.count_nonzero(dead))
        if died:
            self._keep(~dead)
        free = np.ones(len(meas), dtype=bool)
        free[mj] = False
        born = self._birth(stamp_ns, meas, np.flatnonzero(free), cols)
        return UpdateResult(True, len(pairs), born, died, pairs)

    def _birth(self, stamp_ns: int, meas: Measurements, idx: np.ndarray,
               cols: np.ndarray) -> int:
        k = len(idx)
        if k == 0:
            return 0
        cfg = self.config
        new = _empty_arrays(k, self.votes.shape[1])
        new["ids"] = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        self.tracks_created += k
        new["x"][:, :2] = meas.xy[idx]
        new["P"][:, :2, :2] = meas.cov[idx]
        new["P"][:, 2, 2] = new["P"][:, 3, 3] = cfg.init_velocity_std_mps ** 2
        new["z"] = meas.z[idx]
        new["size"] = meas.size[idx]
        new["size_known"] = meas.size_measured[idx]
        new["yaw"] = np.where(meas.yaw_measured[idx], meas.yaw[idx], 0.0)
        new["yaw_known"] = meas.yaw_measured[idx]
        new["votes"][np.arange(k), cols[idx]] = meas.class_weight[idx]
        new["confidence"] = meas.confidence[idx]
        new["hits"][:] = 1
        new["confirmed"][:] = cfg.confirm_hits <= 1
        new["last_update_ns"][:] = stamp_ns
        new["seen_cam"] = meas.seen_by_camera[idx]
        new["seen_lidar"] = meas.seen_by_lidar[idx]
        for name in self._ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        return k

    def prune(self, now_ns: int) -> int:
        """Drop tracks not updated for max_coast_ms (when sensors die, no frame does it)."""
        if not len(self):
            return 0
        dead = now_ns - self.last_update_ns > self.config.max_coast_ms * 1e6
        died = int(np.count_nonzero(dead))
        if died:
            self._keep(~dead)
        return died

    def snapshot(self, confirmed_only: bool = True) -> TrackSnapshot:
        m = self.confirmed if confirmed_only else np.ones(len(self), dtype=bool)
        names = self.class_names()
        return TrackSnapshot(
            ids=self.ids[m], xy=self.x[m, :2], velocity=self.x[m, 2:], z=self.z[m],
            size=self.size[m], yaw=self.yaw[m], yaw_known=self.yaw_known[m],
            class_names=[n for n, keep in zip(names, m.tolist(), strict=True) if keep],
            confidence=self.confidence[m], seen_by_camera=self.seen_cam[m],
            seen_by_lidar=self.seen_lidar[m], hits=self.hits[m], misses=self.misses[m],
            cov=self.P[m])
