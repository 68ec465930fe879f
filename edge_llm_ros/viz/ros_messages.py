"""Visualisation as standard ROS 2 messages (rosbags' types: no rclpy, no
visualization_msgs wheel): MarkerArray of boxes and text, Image of the annotated frame.

Each MarkerArray starts with a DELETEALL marker, so a viewer shows exactly the objects
of the latest message and nothing lingers from earlier frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore
from scipy.spatial.transform import Rotation

from edge_llm_ros.viz.boxes import VizBox

MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
IMAGE = "sensor_msgs/msg/Image"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
#: Marker.type / Marker.action values (visualization_msgs/msg/Marker).
CUBE, TEXT_VIEW_FACING = 1, 9
ADD, DELETEALL = 0, 3
BOX_ALPHA = 0.45
LABEL_HEIGHT_M = 0.6  # text markers' letter height
#: Where the decision's text floats: above the ego vehicle, metres in base_link.
DECISION_TEXT_XYZ_M = (0.0, 0.0, 4.0)


def header(ts: Typestore, stamp_ns: int, frame_id: str) -> Any:
    t = ts.types
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec,
                                                                           nanosec=nanosec),
                                    frame_id=frame_id)


def _marker(ts: Typestore, hdr: Any, ns: str, marker_id: int, kind: int, action: int = ADD,
            xyz: Sequence[float] = (0.0, 0.0, 0.0), yaw_rad: float = 0.0,
            scale: Sequence[float] = (1.0, 1.0, 1.0),
            rgba: Sequence[float] = (1.0, 1.0, 1.0, 1.0), text: str = "") -> Any:
    t = ts.types
    vec3, colour = t["geometry_msgs/msg/Vector3"], t["std_msgs/msg/ColorRGBA"]
    pose = t["geometry_msgs/msg/Pose"](
        position=t["geometry_msgs/msg/Point"](x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])),
        orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=math.sin(yaw_rad / 2.0),
                                                      w=math.cos(yaw_rad / 2.0)))
    return t["visualization_msgs/msg/Marker"](
        header=hdr, ns=ns, id=int(marker_id), type=kind, action=action, pose=pose,
        scale=vec3(x=float(scale[0]), y=float(scale[1]), z=float(scale[2])),
        color=colour(r=float(rgba[0]), g=float(rgba[1]), b=float(rgba[2]), a=float(rgba[3])),
        lifetime=t["builtin_interfaces/msg/Duration"](sec=0, nanosec=0), frame_locked=False,
        points=[], colors=[], texture_resource="",
        texture=t["sensor_msgs/msg/CompressedImage"](header=hdr, format="", data=np.zeros(
            0, dtype=np.uint8)),
        uv_coordinates=[], text=text, mesh_resource="",
        mesh_file=t["visualization_msgs/msg/MeshFile"](filename="", data=np.zeros(
            0, dtype=np.uint8)),
        mesh_use_embedded_materials=False)


def box_markers(ts: Typestore, boxes: Sequence[VizBox], stamp_ns: int, frame_id: str,
                ns: str) -> Any:
    """MarkerArray: DELETEALL, then per box a translucent CUBE (id 2k) in its class colour
    and its label as TEXT_VIEW_FACING above it (id 2k+1)."""
    hdr = header(ts, stamp_ns, frame_id)
    markers = [_marker(ts, hdr, ns, 0, CUBE, DELETEALL)]
    for k, box in enumerate(boxes):
        rgb = [c / 255.0 for c in box.colour_rgb]
        box_hdr = header(ts, stamp_ns, box.frame_id)
        markers.append(_marker(ts, box_hdr, ns, 2 * k, CUBE, xyz=box.center_m,
                               yaw_rad=box.yaw_rad, scale=box.size_m, rgba=(*rgb, BOX_ALPHA)))
        top = (box.center_m[0], box.center_m[1], box.center_m[2] + box.size_m[2] / 2 + 0.5)
        markers.append(_marker(ts, box_hdr, ns, 2 * k + 1, TEXT_VIEW_FACING, xyz=top,
                               scale=(0.0, 0.0, LABEL_HEIGHT_M), rgba=(*rgb, 1.0),
                               text=box.label))
    return ts.types[MARKER_ARRAY](markers=markers)


def text_markers(ts: Typestore, text: str, stamp_ns: int, frame_id: str, ns: str,
                 xyz: Sequence[float] = DECISION_TEXT_XYZ_M) -> Any:
    """MarkerArray: DELETEALL, then `text` as one TEXT_VIEW_FACING marker at `xyz`."""
    hdr = header(ts, stamp_ns, frame_id)
    return ts.types[MARKER_ARRAY](markers=[
        _marker(ts, hdr, ns, 0, CUBE, DELETEALL),
        _marker(ts, hdr, ns, 0, TEXT_VIEW_FACING, xyz=xyz, scale=(0.0, 0.0, 1.0), text=text)])


def image_message(ts: Typestore, image_rgb: np.ndarray, stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/Image rgb8 of an (H, W, 3) uint8 array."""
    height, width = image_rgb.shape[:2]
    return ts.types[IMAGE](header=header(ts, stamp_ns, frame_id), height=height, width=width,
                           encoding="rgb8", is_bigendian=0, step=width * 3,
                           data=np.ascontiguousarray(image_rgb, dtype=np.uint8).reshape(-1))


def static_transforms(ts: Typestore, stamp_ns: int, parent_frame: str,
                      children: Mapping[str, np.ndarray]) -> Any:
    """tf2_msgs/TFMessage of `parent_frame` -> each child frame, from 4x4 transforms
    T_parent_from_child: what /tf_static carries, so a 3D view joins the sensor frames."""
    t = ts.types
    vec3, quat = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
    transforms = []
    for child, T in children.items():
        T = np.asarray(T, dtype=float).reshape(4, 4)
        x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
        transforms.append(t["geometry_msgs/msg/TransformStamped"](
            header=header(ts, stamp_ns, parent_frame), child_frame_id=child,
            transform=t["geometry_msgs/msg/Transform"](
                translation=vec3(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3])),
                rotation=quat(x=float(x), y=float(y), z=float(z), w=float(w)))))
    return t[TF_MESSAGE](transforms=transforms)
