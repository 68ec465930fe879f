"""`edge-llm-ros view`: a recorded bag made ready for Foxglove (or RViz), and single
annotated frames as PNG files.

The output bag is a copy of the recording (every topic, its QoS and the definitions of
its types) plus the visualisation topics of edge_llm_ros.viz, each message logged at the
receive time of the message it shows, so a viewer's timeline lines them up, and, when
the recording has no frame tree, /tf_static with the sensors' mounting (scene_fusion's
extrinsics), so a 3D view places the lidar frame's points and boxes on base_link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_llm_ros.bag import (
    BagRecorder,
    bag_typestore,
    build_typestore,
    deserialize,
    iter_messages,
    offered_qos_yaml,
    open_bag,
    serialize,
)
from edge_llm_ros.bag.reader import BagInfo, QosProfile
from edge_llm_ros.tools.offline.node_configs import node_params
from edge_llm_ros.viz.ros_messages import TF_MESSAGE
from edge_llm_ros.viz.visualizer import (
    INPUT_SUFFIXES,
    TF_STATIC,
    SensorRig,
    Visualizer,
    VizOutput,
    role_of,
)

#: How /tf_static is offered (as tf2's static broadcaster does): a player re-offers it
#: latched, so a viewer that comes late still gets the frame tree.
LATCHED = QosProfile(history="keep_last", depth=1, reliability="reliable",
                     durability="transient_local", deadline_ns=None, lifespan_ns=None,
                     liveliness="automatic", liveliness_lease_duration_ns=None,
                     avoid_ros_namespace_conventions=False)
#: Inputs that give something to look at on their own (camera_info only helps).
SHOWN_ROLES = ("image", "lidar_objects", "ground_truth", "scene", "decision")


class ViewInputError(ValueError):
    """The bag holds nothing `view` can show; the message lists what it does hold."""


@dataclass
class ViewResult:
    output: Path | None
    viz_counts: dict[str, int] = field(default_factory=dict)  # topic -> messages written
    pngs: list[Path] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # role -> bag topic
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"output": str(self.output) if self.output else None,
                "viz_topics": self.viz_counts, "pngs": len(self.pngs),
                "png_dir": str(self.pngs[0].parent) if self.pngs else None,
                "inputs": self.inputs, "skipped": self.skipped}


def default_output(bag: Path) -> Path:
    """Beside the bag: out/run1 -> out/run1-viz, drive.mcap (or .db3) -> drive-viz."""
    bag = Path(bag)
    return bag.with_name((bag.stem if bag.suffix in (".mcap", ".db3") else bag.name) + "-viz")


def input_topics(info: BagInfo) -> dict[str, str]:
    """Role -> the bag topic that plays it (first by name when namespaces repeat one);
    a topic of an unexpected type plays no role."""
    found: dict[str, str] = {}
    for topic in sorted(info.topics, key=lambda t: t.name):
        role = role_of(topic.name)
        if role and role not in found and topic.msgtype == INPUT_SUFFIXES[role][1]:
            found[role] = topic.name
    return found


def _describe_topics(info: BagInfo) -> str:
    return ", ".join(f"{t.name} ({t.msgtype})" for t in info.topics) or "no topics"


def check_inputs(info: BagInfo, want_png: bool) -> dict[str, str]:
    """The roles the bag can fill; ViewInputError when nothing could be shown (or, for
    PNG frames, there is no camera image), listing what the bag holds."""
    found = input_topics(info)
    expected = ", ".join(f"{INPUT_SUFFIXES[r][0]} ({INPUT_SUFFIXES[r][1]})"
                         for r in SHOWN_ROLES)
    if not any(r in found for r in SHOWN_ROLES):
        raise ViewInputError(f"bag '{info.path}' holds nothing to show: it needs one of "
                             f"{expected}; it has: {_describe_topics(info)}")
    if want_png and "image" not in found:
        raise ViewInputError(f"bag '{info.path}': --png needs camera frames "
                             f"({INPUT_SUFFIXES['image'][0]}, sensor_msgs/msg/Image); it has: "
                             f"{_describe_topics(info)}")
    return found


def view_bag(bag: Path, output: Path | None = None, png_dir: Path | None = None,
             png_every: int = 1, write_bag: bool = True,
             params_files: Sequence[Path] = ()) -> ViewResult:
    """Write the Foxglove-ready copy of `bag` (unless `write_bag` is False) and every
    `png_every`-th annotated frame to `png_dir`. The projection uses scene_fusion's
    extrinsics (its defaults, then `params_files`) and the bag's camera_info."""
    if png_every < 1:
        raise ValueError(f"png_every must be >= 1, got {png_every}")
    info = open_bag(bag)
    found = check_inputs(info, png_dir is not None)
    # Inputs decode with the definitions stored in the bag; the visualisation is built
    # with (and the copy learns the definitions of) the standard types.
    standard = build_typestore()
    typestore = bag_typestore(bag, standard)
    typestore.register({name: fields for name, fields in standard.fielddefs.items()
                        if name not in typestore.fielddefs})
    fusion = node_params("scene_fusion", params_files)
    simulator = node_params("simulator", params_files)
    rig = SensorRig(np.asarray(fusion["camera_from_lidar"]), np.asarray(fusion["base_from_lidar"]),
                    str(simulator["frames.lidar"]), str(simulator["frames.base_link"]),
                    str(simulator["frames.camera"]))
    visualizer = Visualizer(standard, rig.camera_from(),
                            wait_for_detections="detections" in found)
    roles = {topic: role for role, topic in found.items()}
    result = ViewResult(output=(output or default_output(bag)) if write_bag else None,
                        inputs=found)
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
    recorder = BagRecorder(result.output, "mcap", typestore) if result.output else None
    annotated = 0
    last_ns = info.start_ns
    try:
        if recorder is not None:
            for topic in info.topics:
                recorder.add_topic(topic.name, topic.msgtype, offered_qos_yaml(topic.offered_qos))
            if not {"/tf", TF_STATIC} & set(info.topic_names):  # the bag has no frame tree
                recorder.add_topic(TF_STATIC, TF_MESSAGE, offered_qos_yaml([LATCHED]))
                recorder.write(TF_STATIC, info.start_ns, serialize(
                    standard, rig.tf_static(standard, info.start_ns), TF_MESSAGE))
                result.viz_counts[TF_STATIC] = 1
        for m in iter_messages(bag):
            if recorder is not None:
                recorder.write(m.topic, m.timestamp_ns, m.rawdata)
            role = roles.get(m.topic)
            if role is not None:
                message = deserialize(typestore, m.rawdata, m.msgtype)
                last_ns = m.timestamp_ns
                for out in visualizer.on_message(role, message):
                    annotated = _emit(out, m.timestamp_ns, recorder, standard, result, png_dir,
                                      png_every, annotated)
        for out in visualizer.finish():  # the last image, held for boxes of its instant
            annotated = _emit(out, last_ns, recorder, standard, result, png_dir, png_every,
                              annotated)
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    if recorder is not None:
        recorder.close()
    result.skipped = dict(visualizer.skipped)
    return result


def _emit(out: VizOutput, log_time_ns: int, recorder: BagRecorder | None, typestore: Any,
          result: ViewResult, png_dir: Path | None, png_every: int, annotated: int) -> int:
    """Write one visualisation message (and, for every png_every-th annotated image, its
    PNG file); returns the count of annotated images so far."""
    if recorder is not None:
        recorder.add_topic(out.topic, out.msgtype)
        recorder.write(out.topic, log_time_ns, serialize(typestore, out.message, out.msgtype))
    result.viz_counts[out.topic] = result.viz_counts.get(out.topic, 0) + 1
    if out.image_rgb is None:
        return annotated
    if png_dir is not None and annotated % png_every == 0:
        path = png_dir / f"frame_{annotated:05d}_{out.stamp_ns}.png"
        cv2.imwrite(str(path), cv2.cvtColor(out.image_rgb, cv2.COLOR_RGB2BGR))
        result.pngs.append(path)
    return annotated + 1
