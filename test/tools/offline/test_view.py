"""`edge-llm-ros view` on a real recording of the pipeline (simulator, camera and lidar
detectors, fusion, the reasoner over DDS, recorded to MCAP): the Foxglove-ready copy,
its visualisation topics read back as Foxglove reads them, and the PNG frames."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from mcap.reader import make_reader
from scipy.spatial.transform import Rotation

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
from edge_llm_ros.sim import rig
from edge_llm_ros.viz.ros_messages import CUBE, DELETEALL, TEXT_VIEW_FACING
from edge_llm_ros.viz.visualizer import Visualizer, camera_transforms

REPO_ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.ros, pytest.mark.slow]
WIDTH_PX, HEIGHT_PX = 320, 240
VIZ = ("/viz/objects", "/viz/lidar_objects", "/viz/ground_truth", "/viz/decision",
       "/viz/image_annotated")


def _edge(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_llm_ros.tools.cli", *args],
                          capture_output=True, text=True, timeout=timeout_s, cwd=REPO_ROOT)


@pytest.fixture(scope="module")
def pipeline_bag(tmp_path_factory: pytest.TempPathFactory, ros_available: None) -> Path:
    """Ten seconds of the braking scenario through every on-board stage (rules reasoner)."""
    bag = tmp_path_factory.mktemp("view") / "run"
    cmd = [sys.executable, "-m", "edge_llm_ros.tools.cli", "run", "--nodes",
           "simulator,camera_detector,lidar_detector,scene_fusion,reasoner,bag_recorder"]
    for name in ("simulator", "vehicle", "bag"):
        cmd += ["--params-file", str(REPO_ROOT / "config" / f"{name}.yaml")]
    for p in ("reasoner.model.backend=rules", "simulator.scenario=car_braking_ahead",
              f"simulator.camera.width_px={WIDTH_PX}", f"simulator.camera.height_px={HEIGHT_PX}",
              f"bag_recorder.output_path={bag}"):
        cmd += ["-p", p]
    env = {**os.environ, "ROS_DOMAIN_ID": str(150 + os.getpid() % 80)}
    done = subprocess.run([*cmd, "--duration", "10"], capture_output=True, text=True,
                          timeout=240, env=env, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return bag


@pytest.fixture(scope="module")
def viewed(pipeline_bag: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, Path, dict[str, Any]]:
    """`view BAG -o OUT --png DIR --png-every 4 --json`: (output bag, PNG dir, summary)."""
    out_dir = tmp_path_factory.mktemp("viewed")
    done = _edge("view", str(pipeline_bag), "-o", str(out_dir / "bag"), "--png",
                 str(out_dir / "png"), "--png-every", "4", "--json")
    assert done.returncode == 0, done.stderr
    return out_dir / "bag", out_dir / "png", json.loads(done.stdout.strip().splitlines()[-1])


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def test_the_copy_holds_every_recorded_message_plus_the_viz_topics(
        pipeline_bag: Path, viewed: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, summary = viewed
    src, dst = open_bag(pipeline_bag), open_bag(out)
    assert dst.storage_id == "mcap"
    counts = {t.name: t.message_count for t in dst.topics}
    for topic in src.topics:  # the recording, unchanged
        assert counts[topic.name] == topic.message_count, topic.name
    # the simulator puts its sensors' mounting on /tf_static: the copy keeps that tree
    assert set(counts) == set(src.topic_names) | set(VIZ)
    assert counts["/tf_static"] == 1
    have = {t.name: t.message_count for t in src.topics}
    # one marker array per scene, decision, lidar sweep and ground-truth tick
    assert counts["/viz/objects"] == have["/scene/summary"] > 0
    assert counts["/viz/decision"] == have["/decision"] > 0
    assert counts["/viz/lidar_objects"] == have["/perception/objects_3d"] > 0
    assert counts["/viz/ground_truth"] == have["/ground_truth/objects"] > 0
    # one annotated image per camera frame the detector answered (both in the bag)
    image_stamps = {_stamp(deserialize(build_typestore(), m.rawdata, m.msgtype))
                    for m in iter_messages(pipeline_bag, ["/camera/image_raw"])}
    det_stamps = {_stamp(deserialize(build_typestore(), m.rawdata, m.msgtype))
                  for m in iter_messages(pipeline_bag, ["/perception/detections_2d"])}
    assert counts["/viz/image_annotated"] == len(image_stamps & det_stamps) > 0
    assert summary["viz_topics"] == {t: counts[t] for t in VIZ}  # no second tree


def test_the_frame_tree_is_the_simulated_rig_offered_latched(
        viewed: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, _ = viewed
    (tf,) = [deserialize(build_typestore(), m.rawdata, m.msgtype)
             for m in iter_messages(out, ["/tf_static"])]
    mounts = {t.child_frame_id: t for t in tf.transforms}
    assert {t.header.frame_id for t in tf.transforms} == {"base_link"}
    assert set(mounts) == {"lidar", "camera_optical"}
    for frame, xyz in (("lidar", rig.LIDAR_MOUNT_XYZ_M), ("camera_optical",
                                                          rig.CAMERA_MOUNT_XYZ_M)):
        v = mounts[frame].transform.translation
        assert [v.x, v.y, v.z] == pytest.approx(list(xyz))
    # the camera looks along base_link's +x: its optical z axis is base_link's x
    q = mounts["camera_optical"].transform.rotation
    R = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    assert R[:, 2] == pytest.approx([1.0, 0.0, 0.0], abs=1e-9)
    (topic,) = [t for t in open_bag(out).topics if t.name == "/tf_static"]
    assert topic.offered_qos[0].durability == "transient_local"


def test_the_viz_channels_are_what_foxglove_decodes(
        viewed: tuple[Path, Path, dict[str, Any]]) -> None:
    """Read with the mcap library as Foxglove does: each viz channel is CDR with a
    ros2msg schema, and the schema stored in the bag alone decodes its messages."""
    out, _, _ = viewed
    (storage,) = out.glob("*.mcap")
    with storage.open("rb") as f:
        summary = make_reader(f).get_summary()
    channels = {c.topic: c for c in summary.channels.values()}
    for topic in VIZ:
        schema = summary.schemas[channels[topic].schema_id]
        assert channels[topic].message_encoding == "cdr"
        assert schema.encoding == "ros2msg"
        expected = ("sensor_msgs/msg/Image" if topic.endswith("annotated")
                    else "visualization_msgs/msg/MarkerArray")
        assert schema.name == expected
    ts = bag_typestore(out)  # the bag's own definitions, no default store
    for m in iter_messages(out, ["/viz/decision"]):
        markers = ts.deserialize_cdr(m.rawdata, m.msgtype).markers
        assert [k.action for k in markers][:1] == [DELETEALL]
        assert markers[1].type == TEXT_VIEW_FACING and "m/s" in markers[1].text
        assert "fallback (no model loaded)" in markers[1].text  # the rules reasoner decided


def test_tracked_objects_are_boxes_at_the_scene_positions(
        viewed: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, _ = viewed
    ts = bag_typestore(out)
    scenes = [ts.deserialize_cdr(m.rawdata, m.msgtype)
              for m in iter_messages(out, ["/scene/summary"])]
    arrays = [ts.deserialize_cdr(m.rawdata, m.msgtype)
              for m in iter_messages(out, ["/viz/objects"])]
    assert len(scenes) == len(arrays)
    seen = 0
    for scene, array in zip(scenes, arrays, strict=True):
        cubes = [m for m in array.markers if m.type == CUBE and m.action != DELETEALL]
        labels = [m.text for m in array.markers if m.type == TEXT_VIEW_FACING]
        assert len(cubes) == len(labels) == len(scene.objects)
        for obj, cube, label in zip(scene.objects, cubes, labels, strict=True):
            assert cube.header.frame_id == "base_link"
            assert _stamp(cube) == _stamp(scene)
            p, s = cube.pose.position, cube.scale
            assert [p.x, p.y, p.z] == pytest.approx(
                [obj.position_m.x, obj.position_m.y, obj.position_m.z], abs=1e-5)
            assert [s.x, s.y, s.z] == pytest.approx(
                [obj.size_m.x, obj.size_m.y, obj.size_m.z], abs=1e-5)
            assert label.startswith(f"{obj.class_name} #{obj.track_id} ")
            if math.isfinite(obj.time_to_collision_s):
                assert f"TTC {obj.time_to_collision_s:.1f} s" in label
            seen += 1
    assert seen > 0, "the braking scenario's lead car was never tracked"


def test_png_frames_decode_at_the_camera_size(
        viewed: tuple[Path, Path, dict[str, Any]], pipeline_bag: Path) -> None:
    out, png_dir, summary = viewed
    pngs = sorted(png_dir.glob("*.png"))
    annotated = summary["viz_topics"]["/viz/image_annotated"]
    assert len(pngs) == summary["pngs"] == math.ceil(annotated / 4)
    for path in pngs:
        image = cv2.imread(str(path))
        assert image is not None and image.shape == (HEIGHT_PX, WIDTH_PX, 3), path
    # the same pixels as the bag's annotated image of that stamp, decision banner on top
    ts = bag_typestore(out)
    stamp = int(pngs[-1].stem.rsplit("_", 1)[1])
    frame = next(ts.deserialize_cdr(m.rawdata, m.msgtype)
                 for m in iter_messages(out, ["/viz/image_annotated"])
                 if _stamp(ts.deserialize_cdr(m.rawdata, m.msgtype)) == stamp)
    rgb = np.asarray(frame.data).reshape(HEIGHT_PX, WIDTH_PX, 3)
    assert np.array_equal(cv2.imread(str(pngs[-1]))[..., ::-1], rgb)
    raw = next(ts.deserialize_cdr(m.rawdata, m.msgtype)
               for m in iter_messages(out, ["/camera/image_raw"])
               if _stamp(ts.deserialize_cdr(m.rawdata, m.msgtype)) == stamp)
    sky = np.asarray(raw.data).reshape(HEIGHT_PX, WIDTH_PX, 3)[:10]
    assert rgb[:10].mean() < 60 < sky.mean()


def test_images_meet_their_detections_in_either_order(pipeline_bag: Path) -> None:
    """A large image may reach the recorder after the detections made from it."""
    ts = build_typestore()
    images = {_stamp(msg): msg for msg in (deserialize(ts, m.rawdata, m.msgtype) for m in
                                           iter_messages(pipeline_bag, ["/camera/image_raw"]))}
    dets = [deserialize(ts, m.rawdata, m.msgtype)
            for m in iter_messages(pipeline_bag, ["/perception/detections_2d"])]
    pairs = [(images[_stamp(d)], d) for d in dets if _stamp(d) in images][:3]
    assert pairs
    T = camera_transforms(np.eye(4), np.eye(4))
    for first, second in (("image", "detections"), ("detections", "image")):
        viz = Visualizer(ts, T)
        outputs = []
        for image, det in pairs:
            msgs = {"image": image, "detections": det}
            outputs += viz.on_message(first, msgs[first]) + viz.on_message(second,
                                                                            msgs[second])
        assert [o.stamp_ns for o in outputs] == [_stamp(d) for _, d in pairs]
        assert all(o.topic == "/viz/image_annotated" for o in outputs)


def _small_bag(path: Path, topics: dict[str, str]) -> Path:
    """A bag of empty messages on `topics` (topic -> type), written by the project."""
    ts = build_typestore()
    with BagRecorder(path, "mcap", ts) as rec:
        for topic, msgtype in topics.items():
            rec.add_topic(topic, msgtype)
            fields = {name: _default(ts, desc) for name, desc in ts.fielddefs[msgtype][1]}
            rec.write(topic, 1_000, serialize(ts, ts.types[msgtype](**fields), msgtype))
    return path


def _default(ts: Any, desc: Any) -> Any:
    """A zero value of a rosbags field description (rosbags' types have no defaults)."""
    kind, arg = desc
    if kind == 1:  # base type
        name = arg[0]
        return "" if name == "string" else (False if name == "bool" else 0)
    if kind == 2:  # message
        return ts.types[arg](**{n: _default(ts, d) for n, d in ts.fielddefs[arg][1]})
    if kind == 3:  # fixed array
        sub, n = arg
        return np.zeros(n) if sub[0] == 1 else [_default(ts, sub) for _ in range(n)]
    return [] if arg[0][0] != 1 else np.zeros(0, dtype=np.uint8)


def test_a_bag_without_the_pipeline_topics_is_refused_naming_what_it_holds(
        tmp_path: Path) -> None:
    bag = _small_bag(tmp_path / "odom_only", {"/odom": "nav_msgs/msg/Odometry"})
    done = _edge("view", str(bag))
    assert done.returncode == 2
    assert "holds nothing to show" in done.stderr and "/odom (nav_msgs/msg/Odometry)" in done.stderr
    assert "scene/summary" in done.stderr  # and what it would need
    assert not (tmp_path / "odom_only-viz").exists()


def test_png_needs_camera_frames(tmp_path: Path) -> None:
    bag = _small_bag(tmp_path / "decisions", {"/decision": "edge_llm_ros/msg/Decision"})
    done = _edge("view", str(bag), "--png", str(tmp_path / "png"))
    assert done.returncode == 2 and "--png needs camera frames" in done.stderr
    assert "/decision (edge_llm_ros/msg/Decision)" in done.stderr
    # without --png the decision alone is worth a view: beside the bag by default
    done = _edge("view", str(bag), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["viz_topics"] == {"/viz/decision": 1, "/tf_static": 1}
    assert Counter(t.name for t in open_bag(tmp_path / "decisions-viz").topics) == Counter(
        ["/decision", "/viz/decision", "/tf_static"])
    again = _edge("view", str(bag))  # never overwrites
    assert again.returncode == 2 and "already exists" in again.stderr


def test_an_imported_kitti_bag_draws_its_labels_with_the_bags_own_frame_tree(
        kitti_labelled_dir: Path, tmp_path: Path) -> None:
    """KITTI's labels as ground truth (velodyne frame) beside an imported drive: `view`
    projects them with the bag's /tf_static (velodyne -> ... -> cam2_rect) and the bag's
    camera_info, not with the simulator's extrinsics, so each labelled car's box is drawn
    on that car."""
    from edge_llm_ros.perception.kitti import parse_kitti_calib
    from edge_llm_ros.tools.evaluation.perception import read_kitti_labels
    from edge_llm_ros.tools.importers.kitti_bag import import_kitti
    from edge_llm_ros.viz.boxes import class_colour_rgb

    frames = ("000000", "000001", "000002", "000003", "000004")
    src = tmp_path / "kitti"
    for sub, suffix in (("velodyne", "bin"), ("calib", "txt"), ("image_2", "png"),
                        ("label_2", "txt")):
        (src / sub).mkdir(parents=True)
        for f in frames:
            (src / sub / f"{f}.{suffix}").symlink_to(kitti_labelled_dir / sub / f"{f}.{suffix}")
    imported = import_kitti(src, tmp_path / "imported", layout="object")
    assert imported.frames_written == len(frames)

    ts = build_typestore()
    t, pkg = ts.types, "edge_llm_ros/msg/"
    bag = tmp_path / "kitti_with_truth"
    labels: dict[int, list[Any]] = {}
    with BagRecorder(bag, "mcap", ts) as rec:
        for topic in open_bag(imported.bag).topics:
            rec.add_topic(topic.name, topic.msgtype, offered_qos_yaml(topic.offered_qos))
        rec.add_topic("/ground_truth/objects", pkg + "Object3DArray")
        names = iter(frames)
        for m in iter_messages(imported.bag):
            if m.topic == "/lidar/points":  # the frame's labels, as ground truth of the sweep
                name = next(names)
                boxes, _ = read_kitti_labels(kitti_labelled_dir / "label_2" / f"{name}.txt",
                                             parse_kitti_calib(src / "calib" / f"{name}.txt"))
                boxes = [b for b in boxes if b.class_name == "car"]
                stamp = _stamp(deserialize(ts, m.rawdata, m.msgtype))
                labels[stamp] = boxes
                vec3, point = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Point"]
                sec, nanosec = divmod(stamp, 1_000_000_000)
                objects = [t[pkg + "Object3D"](
                    id=i, class_name="car", score=1.0,
                    center_m=point(x=b.center_m[0], y=b.center_m[1], z=b.center_m[2]),
                    size_m=vec3(x=b.size_m[0], y=b.size_m[1], z=b.size_m[2]),
                    yaw_rad=b.yaw_rad, velocity_mps=vec3(x=0.0, y=0.0, z=0.0), point_count=0)
                    for i, b in enumerate(boxes)]
                truth = t[pkg + "Object3DArray"](header=t["std_msgs/msg/Header"](
                    stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                    frame_id="velodyne"), objects=objects, processing_time_ms=0.0)
                rec.write("/ground_truth/objects", m.timestamp_ns,
                          serialize(ts, truth, pkg + "Object3DArray"))
            rec.write(m.topic, m.timestamp_ns, m.rawdata)

    done = _edge("view", str(bag), "--png", str(tmp_path / "png"), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "/tf_static" not in summary["viz_topics"]  # the bag's own tree is kept
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == len(frames)
    car = np.array(class_colour_rgb("car"), dtype=float)
    checked = 0
    for path, name in zip(pngs, frames, strict=True):
        boxes = labels[sorted(labels)[frames.index(name)]]
        drawn = cv2.imread(str(path))[..., ::-1].astype(float)
        raw = cv2.imread(str(kitti_labelled_dir / "image_2" / f"{name}.png"))[..., ::-1]
        # anti-aliased lines: pixels near the class colour, beyond what the photo has
        near_car = np.linalg.norm(drawn - car, axis=-1) < 60
        near_car_raw = np.linalg.norm(raw.astype(float) - car, axis=-1) < 60
        for box in boxes:
            x0, y0, x1, y1 = (int(v) for v in box.box_px)
            if x0 < 5 or x1 > drawn.shape[1] - 5 or (x1 - x0) < 30:
                continue
            region = np.s_[y0 - 2:y1 + 3, x0 - 2:x1 + 3]
            # the box's edges run along the labelled box's border
            assert near_car[region].sum() - near_car_raw[region].sum() > (x1 - x0), (
                path.name, box.box_px)
            checked += 1
    assert checked >= 3
