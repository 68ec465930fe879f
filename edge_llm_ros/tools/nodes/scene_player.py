"""scene_player node: SceneSummaries generated from the packaged scenarios, stamped now,
at a fixed rate — drives the reasoner and the offload link without perception (bench,
link tests, and users trying the decision side alone)."""

from __future__ import annotations

import dataclasses

import numpy as np

from edge_llm_ros import msg
from edge_llm_ros.nodes.base import EdgeNode
from edge_llm_ros.nodes.convert import make_header, rgb_image_to_msg, summary_to_msg
from edge_llm_ros.params import ConfigError
from edge_llm_ros.sim.scenario import list_scenarios
from edge_llm_ros.tools.training.reasoner_dataset import make_scene


def synthetic_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A road-like rgb8 frame (sky, asphalt, lane marks, boxes, sensor noise): compresses
    like a camera image, not like a flat colour."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.uint8)
    horizon = height * 2 // 5
    image[:horizon] = (150, 180, 215)
    image[horizon:] = (85, 85, 90)
    for i in range(8):
        y = horizon + (height - horizon) * i // 8
        image[y: y + 3, width // 2 - 4: width // 2 + 4] = 230
    for _ in range(6):
        x, y = int(rng.integers(0, width - 40)), int(rng.integers(horizon - 20, height - 40))
        w, h = int(rng.integers(20, 90)), int(rng.integers(15, 60))
        image[y: y + h, x: x + w] = rng.integers(30, 220, 3)
    noise = rng.normal(0.0, 6.0, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


class ScenePlayerNode(EdgeNode):
    def __init__(self, node_name: str | None = None, **kwargs: object) -> None:
        super().__init__("scene_player", node_name, **kwargs)
        p = self.params
        known = list_scenarios()
        self._scenarios = [str(s) for s in p["scenarios"]] or known
        unknown = [s for s in self._scenarios if s not in known]
        if unknown:
            raise ConfigError(f"node '{self.get_name()}': unknown scenario(s) "
                              f"{', '.join(unknown)}; known: {', '.join(known)}")
        self._seed = int(p["first_seed"])
        self._count = 0
        self._frame = (synthetic_frame(int(p["image_width"]), int(p["image_height"]))
                       if bool(p["publish_image"]) else None)
        self.scene_pub = self.create_source_publisher(msg.SceneSummary, "scene/summary")
        from sensor_msgs.msg import Image

        self.image_pub = self.create_source_publisher(Image, "camera/image_raw")
        self._period_s = 1.0 / float(p["rate_hz"])
        self._timer = None

    def start(self) -> None:
        self._timer = self.create_timer(self._period_s, self._tick)

    def _tick(self) -> None:
        name = self._scenarios[self._count % len(self._scenarios)]
        labelled = make_scene(name, self._seed + self._count // len(self._scenarios))
        self._count += 1
        now_ns = self.get_clock().now().nanoseconds
        scene = dataclasses.replace(labelled.scene, stamp_ns=now_ns)
        message = summary_to_msg(scene)
        self.scene_pub.publish(message)
        if self._frame is not None:
            self.image_pub.publish(rgb_image_to_msg(self._frame, make_header(now_ns, "camera")))
        self.health.counters["scenes"] = self._count
