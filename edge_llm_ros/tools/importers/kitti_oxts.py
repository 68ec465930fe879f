"""KITTI raw OXTS (GPS/IMU) samples -> the planar odometry the pipeline reads (/odom).

One sample per frame, `oxts/data/NNNNNNNNNN.txt`: 30 numbers, of which these are used:
lat, lon (degrees), yaw (heading, radians, 0 east, counter-clockwise), vf (forward speed,
m/s) and wu (yaw rate about the up axis, rad/s). scene_fusion reads the twist (speed and
yaw rate); the pose is the position in a Mercator plane (x east, y north, metres) from
the drive's first sample, as the KITTI development kit computes it, with the heading.
The samples describe the IMU; speed and yaw rate are the same for base_link on a rigid
body driving without side slip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

EARTH_RADIUS_M = 6378137.0  # WGS84 equatorial radius, the development kit's

_LAT, _LON, _YAW, _VF, _WU = 0, 1, 5, 8, 22
_FIELDS = 30


@dataclass(frozen=True)
class OxtsSample:
    lat_deg: float
    lon_deg: float
    yaw_rad: float
    forward_speed_mps: float
    yaw_rate_radps: float


def read_oxts(path: Path) -> OxtsSample:
    """One OXTS file; ValueError naming the file when it is not 30 numbers."""
    try:
        values = [float(v) for v in path.read_text(encoding="utf-8").split()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    except ValueError:
        raise ValueError(f"{path}: non-numeric value") from None
    if len(values) != _FIELDS or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{path}: expected {_FIELDS} finite numbers, got {len(values)}")
    return OxtsSample(values[_LAT], values[_LON], values[_YAW], values[_VF], values[_WU])


def mercator_m(lat_deg: float, lon_deg: float, scale: float) -> tuple[float, float]:
    """(x east, y north) metres of a latitude/longitude on the Mercator plane of `scale`
    (cos of the drive's first latitude)."""
    x = scale * lon_deg * math.pi * EARTH_RADIUS_M / 180.0
    y = scale * EARTH_RADIUS_M * math.log(math.tan((90.0 + lat_deg) * math.pi / 360.0))
    return x, y


class PlanarPose:
    """Positions relative to the first sample seen (the drive's origin)."""

    def __init__(self) -> None:
        self._origin: tuple[float, float, float] | None = None  # scale, x0, y0

    def __call__(self, sample: OxtsSample) -> tuple[float, float, float]:
        """(x, y, yaw) of a sample: metres east and north of the origin, heading."""
        if self._origin is None:
            scale = math.cos(math.radians(sample.lat_deg))
            self._origin = (scale, *mercator_m(sample.lat_deg, sample.lon_deg, scale))
        scale, x0, y0 = self._origin
        x, y = mercator_m(sample.lat_deg, sample.lon_deg, scale)
        return x - x0, y - y0, sample.yaw_rad
