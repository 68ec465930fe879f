"""Dead-reckoned ego pose from speed and yaw rate.

Tracking happens in this odometry frame (x, y, yaw of base_link at the first
odometry sample = 0): a parked car stands still there, so the constant-velocity
model holds for everything that really moves at constant velocity, and
absolute velocities fall out of the filter directly. Dead reckoning drifts,
but only the pose *differences* over a track's lifetime (seconds) matter, and
over seconds that drift is centimetres. Without odometry the pose stays the
identity: the ego is assumed to stand still and velocities are relative.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EgoSample:
    stamp_ns: int
    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    yaw_rate_radps: float
    acceleration_mps2: float


def integrate(x: float, y: float, yaw: float, speed: float, yaw_rate: float,
              dt_s: float) -> tuple[float, float, float]:
    """Pose after driving dt_s (may be < 0) on an arc at constant speed and yaw rate."""
    dyaw = yaw_rate * dt_s
    if abs(dyaw) < 1e-9:
        return x + speed * dt_s * math.cos(yaw), y + speed * dt_s * math.sin(yaw), yaw
    r = speed / yaw_rate
    return (x + r * (math.sin(yaw + dyaw) - math.sin(yaw)),
            y - r * (math.cos(yaw + dyaw) - math.cos(yaw)), yaw + dyaw)


def se2(x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 transform of a planar pose (rotation about z, translation in x, y)."""
    c, s = math.cos(yaw), math.sin(yaw)
    t = np.eye(4)
    t[:2, :2] = [[c, -s], [s, c]]
    t[0, 3], t[1, 3] = x, y
    return t


class EgoMotion:
    """Odometry samples integrated into poses; pose at any stamp by interpolation/extrapolation."""

    def __init__(self, history_s: float = 5.0) -> None:
        self._history_ns = int(history_s * 1e9)
        self._stamps: list[int] = []
        self._samples: list[EgoSample] = []

    @property
    def latest(self) -> EgoSample | None:
        return self._samples[-1] if self._samples else None

    def add(self, stamp_ns: int, speed_mps: float, yaw_rate_radps: float,
            acceleration_mps2: float | None = None) -> bool:
        """Append a sample; False (ignored) unless it is newer than the last one."""
        last = self.latest
        if last is not None and stamp_ns <= last.stamp_ns:
            return False
        if last is None:
            x = y = yaw = 0.0
            accel = 0.0 if acceleration_mps2 is None else acceleration_mps2
        else:
            dt = (stamp_ns - last.stamp_ns) * 1e-9
            # Trapezoid between the two samples: the mean speed and yaw rate.
            x, y, yaw = integrate(last.x_m, last.y_m, last.yaw_rad,
                                  0.5 * (last.speed_mps + speed_mps),
                                  0.5 * (last.yaw_rate_radps + yaw_rate_radps), dt)
            if acceleration_mps2 is None:  # smoothed difference of speeds
                accel = 0.5 * last.acceleration_mps2 + 0.5 * (speed_mps - last.speed_mps) / dt
            else:
                accel = acceleration_mps2
        self._stamps.append(stamp_ns)
        self._samples.append(EgoSample(stamp_ns, x, y, yaw, speed_mps, yaw_rate_radps, accel))
        cut = bisect.bisect_left(self._stamps, stamp_ns - self._history_ns)
        if cut > 0:
            cut = min(cut, len(self._stamps) - 1)
            del self._stamps[:cut]
            del self._samples[:cut]
        return True

    def pose_at(self, stamp_ns: int) -> tuple[float, float, float]:
        """(x, y, yaw) of base_link in the odometry frame at a stamp.

        Between samples: linear interpolation; outside them: the nearest
        sample's speed and yaw rate held (a short extrapolation, since sensor
        stamps run a little ahead of or behind odometry).
        """
        if not self._samples:
            return 0.0, 0.0, 0.0
        i = bisect.bisect_right(self._stamps, stamp_ns)
        if i == 0 or i == len(self._samples):
            s = self._samples[0 if i == 0 else -1]
            return integrate(s.x_m, s.y_m, s.yaw_rad, s.speed_mps, s.yaw_rate_radps,
                             (stamp_ns - s.stamp_ns) * 1e-9)
        a, b = self._samples[i - 1], self._samples[i]
        f = (stamp_ns - a.stamp_ns) / (b.stamp_ns - a.stamp_ns)
        return (a.x_m + f * (b.x_m - a.x_m), a.y_m + f * (b.y_m - a.y_m),
                a.yaw_rad + f * (b.yaw_rad - a.yaw_rad))

    def odom_from_base(self, stamp_ns: int) -> np.ndarray:
        return se2(*self.pose_at(stamp_ns))

    def base_to_base(self, to_ns: int, from_ns: int) -> np.ndarray:
        """T_base(to)_from_base(from): where points fixed in the world move between two stamps."""
        return np.linalg.inv(self.odom_from_base(to_ns)) @ self.odom_from_base(from_ns)
