"""KITTI -> MCAP on real frames, read back with the project's bag reader: every point and
pixel, the intrinsics, and a /tf_static tree that projects exactly as the calibration."""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_llm_ros.bag import open_bag
from edge_llm_ros.fusion.tf_tree import StaticTfTree, matrix_from_transform
from edge_llm_ros.perception.kitti import parse_kitti_calib, read_kitti_bin
from edge_llm_ros.perception.pointcloud import FieldSpec, decode_xyzi
from edge_llm_ros.tools.importers.kitti_bag import (
    FRAME_CAMERA,
    FRAME_LIDAR,
    KITTI_LIDAR_HEIGHT_M,
    import_kitti,
)
from edge_llm_ros.tools.importers.kitti_source import (
    KITTI_EPOCH_NS,
    KittiImportError,
    parse_timestamp_ns,
)


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _tree_of(message: Any) -> StaticTfTree:
    tree = StaticTfTree()
    for t in message.transforms:
        r, v = t.transform.rotation, t.transform.translation
        tree.set(t.header.frame_id, t.child_frame_id,
                 matrix_from_transform((v.x, v.y, v.z), (r.x, r.y, r.z, r.w)))
    return tree


def _check_projection(tree: StaticTfTree, K: np.ndarray, calib_file: Path,
                      points: np.ndarray) -> None:
    """The bag's K and camera <- lidar chain put every point in front of the camera on the
    pixel KITTI's `P2 @ R0_rect @ Tr_velo_to_cam` gives, to a hundredth of a pixel (the
    printed rotations are snapped to true rotations: ~1e-3 px at 1 m; leaving out R0_rect
    or camera 2's 6 cm offset would cost pixels)."""
    c = parse_kitti_calib(calib_file)
    T = tree.lookup(FRAME_CAMERA, FRAME_LIDAR)
    assert T is not None
    X = np.c_[points[:, :3].astype(float), np.ones(len(points))]
    want = (c.P2 @ c.t_rect_from_velo @ X.T).T
    got = (K @ (T @ X.T)[:3]).T
    ahead = want[:, 2] > 1.0
    assert ahead.sum() > 10_000
    err = np.abs(got[ahead, :2] / got[ahead, 2:] - want[ahead, :2] / want[ahead, 2:])
    assert err.max() < 1e-2
    assert np.allclose(got[ahead, 2], want[ahead, 2], atol=1e-4)  # depth, metres


def test_object_layout_round_trip(kitti_labelled_dir: Path,
                                  tmp_path: Path, read_bag: Any) -> None:
    out = tmp_path / "bag"
    report = import_kitti(kitti_labelled_dir, out)
    names = sorted(p.stem for p in (kitti_labelled_dir / "velodyne").glob("*.bin"))
    assert report.frames_written == len(names) == 11 and report.frames_skipped == 0
    info = open_bag(out)
    assert info.storage_id == "mcap"
    assert {t.name: t.msgtype for t in info.topics} == {
        "/lidar/points": "sensor_msgs/msg/PointCloud2",
        "/camera/image_raw": "sensor_msgs/msg/Image",
        "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
        "/tf_static": "tf2_msgs/msg/TFMessage"}
    tf_qos = info.topic("/tf_static").offered_qos
    assert tf_qos and tf_qos[0].durability == "transient_local"
    assert all(t.has_definition for t in info.topics)  # Foxglove decodes without our msg/

    bag = read_bag(out)
    # Frames of other drives bring other calibrations: the tree is re-sent when it changes.
    calib_texts = [(kitti_labelled_dir / "calib" / f"{n}.txt").read_text() for n in names]
    changes = 1 + sum(a != b for a, b in zip(calib_texts, calib_texts[1:], strict=False))
    assert len(bag["/tf_static"]) == report.tf_static_messages == changes > 1
    tf_by_stamp = [(t, _tree_of(m)) for t, m in bag["/tf_static"]]

    for i, name in enumerate(names):
        stamp = KITTI_EPOCH_NS + i * 100_000_000  # nominal 10 Hz
        log_ns, cloud = bag["/lidar/points"][i]
        _, image = bag["/camera/image_raw"][i]
        _, info_msg = bag["/camera/camera_info"][i]
        assert log_ns == stamp_ns(cloud.header) == stamp_ns(image.header) == stamp
        assert cloud.header.frame_id == FRAME_LIDAR
        assert image.header.frame_id == info_msg.header.frame_id == FRAME_CAMERA

        scan = read_kitti_bin(kitti_labelled_dir / "velodyne" / f"{name}.bin")
        assert cloud.width * cloud.height == len(scan) > 100_000
        assert bytes(cloud.data) == (kitti_labelled_dir / "velodyne" / f"{name}.bin").read_bytes()
        decoded = decode_xyzi([FieldSpec.of(f) for f in cloud.fields], cloud.point_step,
                              cloud.row_step, cloud.width, cloud.height, bytes(cloud.data),
                              bool(cloud.is_bigendian))
        assert np.array_equal(decoded.points[:, 3], scan[:, 3])
        assert scan[:, 3].min() >= 0.0 and scan[:, 3].max() <= 1.0

        png = cv2.imread(str(kitti_labelled_dir / "image_2" / f"{name}.png"), cv2.IMREAD_COLOR)
        assert (image.height, image.width) == png.shape[:2] and image.encoding == "bgr8"
        assert image.step == 3 * image.width
        assert np.array_equal(np.asarray(image.data).reshape(png.shape), png)
        assert (info_msg.height, info_msg.width) == png.shape[:2]

        c = parse_kitti_calib(kitti_labelled_dir / "calib" / f"{name}.txt")
        K = np.asarray(info_msg.k).reshape(3, 3)
        assert np.array_equal(K, c.P2[:, :3])
        assert np.array_equal(np.asarray(info_msg.p).reshape(3, 4), c.P2)
        assert np.array_equal(np.asarray(info_msg.r), np.eye(3).reshape(-1))
        assert not np.any(info_msg.d)
        tree = [tr for t, tr in tf_by_stamp if t <= stamp][-1]  # the tree as of this frame
        _check_projection(tree, K, kitti_labelled_dir / "calib" / f"{name}.txt", scan)
        base = tree.lookup("base_link", FRAME_LIDAR)
        assert np.allclose(base[:3, :3], np.eye(3))
        assert np.allclose(base[:3, 3], [0.0, 0.0, KITTI_LIDAR_HEIGHT_M])


def test_base_link_is_the_one_perceive_uses() -> None:
    from edge_llm_ros.tools.offline import perceive

    assert perceive.KITTI_LIDAR_HEIGHT_M == KITTI_LIDAR_HEIGHT_M


def test_flat_single_frame_folder(kitti_dir: Path,
                                  tmp_path: Path, read_bag: Any) -> None:
    """shared/data/kitti: 000002.bin/.png/.txt side by side."""
    report = import_kitti(kitti_dir, tmp_path / "bag", layout="object")
    assert report.frames_written == 1
    bag = read_bag(tmp_path / "bag")
    assert len(bag["/lidar/points"]) == len(bag["/tf_static"]) == 1
    K = np.asarray(bag["/camera/camera_info"][0][1].k).reshape(3, 3)
    _check_projection(_tree_of(bag["/tf_static"][0][1]), K, kitti_dir / "000002.txt",
                      read_kitti_bin(kitti_dir / "000002.bin"))


def test_raw_drive_with_timestamps(raw_drive: Any, kitti_labelled_dir: Path,
                                   tmp_path: Path, read_bag: Any) -> None:
    report = import_kitti(raw_drive.path.parent, tmp_path / "bag")  # the date folder finds it
    assert report.layout == "raw" and report.stamps_from == "timestamps.txt"
    assert report.frames_written == 5 and report.tf_static_messages == 1
    bag = read_bag(tmp_path / "bag")
    lidar = [parse_timestamp_ns(s) for s in raw_drive.lidar_stamps]
    camera = [parse_timestamp_ns(s) for s in raw_drive.camera_stamps]
    assert [stamp_ns(m.header) for _, m in bag["/lidar/points"]] == lidar
    assert [t for t, _ in bag["/lidar/points"]] == lidar
    assert [stamp_ns(m.header) for _, m in bag["/camera/image_raw"]] == camera
    assert [stamp_ns(m.header) for _, m in bag["/camera/camera_info"]] == camera
    assert bag["/tf_static"][0][0] == min(lidar[0], camera[0])
    assert "/odom" not in bag and report.odometry_messages == 0  # no oxts/ folder
    for (_, cloud), name in zip(bag["/lidar/points"], raw_drive.source_frames, strict=True):
        assert bytes(cloud.data) == (kitti_labelled_dir / "velodyne" / f"{name}.bin").read_bytes()
    # Calibration from the raw files (written from 000001's object calibration).
    K = np.asarray(bag["/camera/camera_info"][0][1].k).reshape(3, 3)
    calib = kitti_labelled_dir / "calib" / f"{raw_drive.source_frames[0]}.txt"
    _check_projection(_tree_of(bag["/tf_static"][0][1]), K, calib,
                      read_kitti_bin(kitti_labelled_dir / "velodyne" / "000001.bin"))


def test_raw_drive_without_timestamps_is_nominal_10hz(raw_drive: Any,
                                                      tmp_path: Path, read_bag: Any) -> None:
    for sensor in ("velodyne_points", "image_02"):
        (raw_drive.path / sensor / "timestamps.txt").unlink()
    report = import_kitti(raw_drive.path, tmp_path / "bag", rate_hz=10.0)
    assert report.stamps_from.startswith("nominal 10 Hz")
    midnight = calendar.timegm((2011, 9, 26, 0, 0, 0)) * 1_000_000_000
    bag = read_bag(tmp_path / "bag")
    want = [midnight + i * 100_000_000 for i in range(5)]
    assert [stamp_ns(m.header) for _, m in bag["/lidar/points"]] == want
    assert [stamp_ns(m.header) for _, m in bag["/camera/image_raw"]] == want


def test_raw_drive_with_one_timestamps_file(raw_drive: Any,
                                            tmp_path: Path, read_bag: Any) -> None:
    (raw_drive.path / "image_02" / "timestamps.txt").unlink()
    report = import_kitti(raw_drive.path, tmp_path / "bag", max_frames=3)
    assert report.frames_written == 3 and "image_02" in report.notes[0]
    bag = read_bag(tmp_path / "bag")
    lidar = [parse_timestamp_ns(s) for s in raw_drive.lidar_stamps[:3]]
    assert [stamp_ns(m.header) for _, m in bag["/camera/image_raw"]] == lidar


def test_bad_frames_are_skipped_and_counted(raw_drive: Any,
                                            tmp_path: Path, read_bag: Any) -> None:
    data = raw_drive.path / "velodyne_points" / "data"
    (data / "0000000001.bin").write_bytes((data / "0000000001.bin").read_bytes()[:-3])
    (data / "0000000003.bin").unlink()  # image 3 has no scan
    (raw_drive.path / "image_02" / "data" / "0000000004.png").write_bytes(b"not a png")
    report = import_kitti(raw_drive.path, tmp_path / "bag")
    assert report.frames_written == 2
    assert report.skipped == {"corrupt scan": ["0000000001"], "image without scan":
                              ["0000000003"], "unreadable image": ["0000000004"]}
    assert len(read_bag(tmp_path / "bag")["/lidar/points"]) == 2


def test_nothing_importable_leaves_no_bag(raw_drive: Any, tmp_path: Path) -> None:
    for scan in (raw_drive.path / "velodyne_points" / "data").glob("*.bin"):
        scan.write_bytes(b"\0" * 17)
    out = tmp_path / "bag"
    with pytest.raises(KittiImportError, match="no frame could be imported .*5 corrupt scan"):
        import_kitti(raw_drive.path, out)
    assert not out.exists()


def test_existing_output_is_not_overwritten(kitti_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    with pytest.raises(KittiImportError, match="already exists"):
        import_kitti(kitti_dir, tmp_path / "bag")
    assert list((tmp_path / "bag").iterdir()) == []


def test_raw_drive_oxts_becomes_odometry(raw_drive: Any, tmp_path: Path,
                                         read_bag: Any) -> None:
    """A car heading 0.1 rad north of east at 10 m/s, one metre further east per frame."""
    from edge_llm_ros.tools.importers.kitti_oxts import EARTH_RADIUS_M

    lat0, lon0 = 49.011, 8.4234
    metre_of_lon = np.cos(np.radians(lat0)) * np.pi * EARTH_RADIUS_M / 180.0
    data = raw_drive.path / "oxts" / "data"
    data.mkdir(parents=True)
    for i in range(5):
        values = np.zeros(30)
        values[[0, 1, 2, 5, 8, 22]] = (lat0, lon0 + i / metre_of_lon, 116.4, 0.1, 10.0, 0.02)
        (data / f"{i:010d}.txt").write_text(" ".join(f"{v:.12f}" for v in values) + "\n")
    (data / "0000000003.txt").write_text("1 2 3\n")  # damaged: that frame has no odometry
    report = import_kitti(raw_drive.path, tmp_path / "bag")
    assert report.frames_written == 5 and report.odometry_messages == 4
    assert any("0000000003" in note and "30 finite numbers" in note for note in report.notes)
    bag = read_bag(tmp_path / "bag")
    lidar = [parse_timestamp_ns(s) for s in raw_drive.lidar_stamps]
    odom = bag["/odom"]
    assert [stamp_ns(m.header) for _, m in odom] == [lidar[i] for i in (0, 1, 2, 4)]
    for (_, m), i in zip(odom, (0, 1, 2, 4), strict=True):
        assert m.header.frame_id == "map" and m.child_frame_id == "base_link"
        assert m.twist.twist.linear.x == 10.0 and m.twist.twist.angular.z == 0.02
        assert abs(m.pose.pose.position.x - i) < 1e-6 and abs(m.pose.pose.position.y) < 1e-6
        assert np.isclose(2 * np.arctan2(m.pose.pose.orientation.z, m.pose.pose.orientation.w),
                          0.1)
    assert bag["/tf_static"][0][0] <= odom[0][0]


def test_object_frames_held_for_trackers(kitti_labelled_dir: Path, tmp_path: Path,
                                         read_bag: Any) -> None:
    """--hold N: each object-layout frame N times in a row at the nominal rate (same scan
    and image, new stamps), so a tracker can confirm what is in it; raw drives refuse."""
    out = tmp_path / "held"
    report = import_kitti(kitti_labelled_dir, out, rate_hz=2.0, max_frames=2, hold=3)
    assert report.frames_written == 6 and "held 3 times" in report.stamps_from
    bag = read_bag(out)
    points = bag["/lidar/points"]
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in points]
    assert np.allclose(np.diff(stamps), 0.5e9)
    assert bytes(points[0][1].data) == bytes(points[2][1].data) != bytes(points[3][1].data)
    with pytest.raises(KittiImportError, match="at least 1"):
        import_kitti(kitti_labelled_dir, tmp_path / "x", hold=0)


def test_hold_is_for_the_object_layout(raw_drive: Any, tmp_path: Path) -> None:
    with pytest.raises(KittiImportError, match="--hold is for the object layout"):
        import_kitti(raw_drive.path, tmp_path / "bag", hold=2)
