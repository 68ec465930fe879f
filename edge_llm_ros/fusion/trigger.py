"""When scene fusion publishes: as soon as a new sweep can be fused, not on a clock.

The reasoner's deadline counts from the sensor stamp, so every millisecond a
finished summary waits is taken from the model. A fixed-rate timer makes it
wait half a period on average (50 ms at 10 Hz) and up to a whole one. Here a
summary goes out when a new lidar sweep has arrived and either the camera
frame of the same instant (within the sync tolerance) is in too, the camera is
not delivering at all, or `camera_wait_ms` has passed since the sweep arrived
(a late camera frame is then still used, only not for this sweep). With the
lidar down, each new camera frame triggers a summary (camera-only mode). With
neither delivering, a heartbeat keeps the (degraded) summary going out at the
base rate, so the loss is visible downstream.

All times are nanoseconds: stamps on the sensor clock, `now` on the node's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_llm_ros.params.specs import default_of


def _d(name: str) -> Any:
    return default_of("scene_fusion", name)


@dataclass(frozen=True)
class TriggerConfig:
    """Defaults: the scene_fusion node's parameters (declared once, in its spec)."""

    camera_wait_ms: float = _d("camera_wait_ms")  # longest a sweep waits for its camera frame
    sync_tolerance_ms: float = _d("sync_tolerance_ms")  # this close in stamp: the sweep's frame
    camera_freshness_ms: float = _d("camera_freshness_ms")  # no frame this long: not waited for
    lidar_freshness_ms: float = _d("lidar_freshness_ms")  # no sweep this long: frames trigger
    heartbeat_ms: float = 1000.0 / _d("rate_hz")  # summary period while no sensor delivers

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TriggerConfig:
        """From a scene_fusion node's parameters (publish_on sensor)."""
        return cls(camera_wait_ms=float(params["camera_wait_ms"]),
                   sync_tolerance_ms=float(params["sync_tolerance_ms"]),
                   camera_freshness_ms=float(params["camera_freshness_ms"]),
                   lidar_freshness_ms=float(params["lidar_freshness_ms"]),
                   heartbeat_ms=1000.0 / float(params["rate_hz"]))

    def __post_init__(self) -> None:
        for name in ("camera_wait_ms", "sync_tolerance_ms", "camera_freshness_ms",
                     "lidar_freshness_ms"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.heartbeat_ms > 0.0:
            raise ValueError(f"heartbeat_ms must be > 0, got {self.heartbeat_ms}")


class SummaryTrigger:
    """Says when a summary is due; the caller publishes and then calls `published`."""

    def __init__(self, config: TriggerConfig = TriggerConfig()) -> None:
        self.config = config
        self._sweep_stamp: int | None = None  # newest sweep not yet in a published summary
        self._sweep_arrived: int | None = None
        self._sweep_published: int | None = None
        self._camera_stamp: int | None = None  # newest camera frame received
        self._camera_arrived: int | None = None
        self._camera_published: int | None = None  # newest camera stamp already published
        self._lidar_arrived: int | None = None
        self._last_publish: int | None = None
        self.waits_timed_out = 0  # sweeps published without their camera frame

    def on_lidar(self, stamp_ns: int, now_ns: int) -> None:
        newest = self._sweep_stamp if self._sweep_stamp is not None else self._sweep_published
        if newest is None or stamp_ns > newest:
            self._sweep_stamp, self._sweep_arrived = stamp_ns, now_ns
        self._lidar_arrived = now_ns

    def on_camera(self, stamp_ns: int, now_ns: int) -> None:
        if self._camera_stamp is None or stamp_ns > self._camera_stamp:
            self._camera_stamp = stamp_ns
        self._camera_arrived = now_ns

    def _alive(self, arrived: int | None, now_ns: int, freshness_ms: float) -> bool:
        return arrived is not None and now_ns - arrived <= freshness_ms * 1e6

    def _camera_covers_sweep(self) -> bool:
        return (self._camera_stamp is not None and self._sweep_stamp is not None
                and self._camera_stamp >= self._sweep_stamp - self.config.sync_tolerance_ms * 1e6)

    def due(self, now_ns: int) -> bool:
        """A summary should go out now."""
        cfg = self.config
        if self._sweep_stamp is not None:
            if self._camera_covers_sweep():
                return True
            if not self._alive(self._camera_arrived, now_ns, cfg.camera_freshness_ms):
                return True
            if now_ns - self._sweep_arrived >= cfg.camera_wait_ms * 1e6:
                self.waits_timed_out += 1
                return True
            return False
        if self._alive(self._lidar_arrived, now_ns, cfg.lidar_freshness_ms):
            return False  # the next sweep will trigger
        if self._alive(self._camera_arrived, now_ns, cfg.camera_freshness_ms):
            return self._camera_stamp != self._camera_published  # camera-only: each new frame
        return self._last_publish is None or \
            now_ns - self._last_publish >= cfg.heartbeat_ms * 1e6  # nothing delivers

    def published(self, now_ns: int) -> None:
        if self._sweep_stamp is not None:
            self._sweep_published = self._sweep_stamp
        self._sweep_stamp = self._sweep_arrived = None
        self._camera_published = self._camera_stamp
        self._last_publish = now_ns
