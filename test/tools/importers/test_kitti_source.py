"""Reading KITTI layouts: stamps, layout detection, and input the importer refuses whole."""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import pytest

from edge_llm_ros.tools.importers.kitti_source import (
    KittiImportError,
    nominal_stamps,
    parse_timestamp_ns,
    read_source,
)


def test_timestamps_keep_nanoseconds() -> None:
    base = calendar.timegm((2011, 9, 26, 13, 2, 25)) * 1_000_000_000
    assert parse_timestamp_ns("2011-09-26 13:02:25.964389445") == base + 964_389_445
    assert parse_timestamp_ns("2011-09-26 13:02:25.968945") == base + 968_945_000
    assert parse_timestamp_ns("2011-09-26 13:02:25") == base
    for bad in ("2011-09-26T13:02:25.1", "13:02:25.1", "2011-09-26 13:02:25.1234567890"):
        with pytest.raises(ValueError, match="not a KITTI timestamp"):
            parse_timestamp_ns(bad)


def test_nominal_stamps() -> None:
    assert nominal_stamps(3, 10, 10.0) == [10, 100_000_010, 200_000_010]
    assert nominal_stamps(2, 0, 3.0) == [0, 333_333_333]


def test_layouts_are_detected(kitti_labelled_dir: Path, kitti_dir: Path, raw_drive: Any) -> None:
    assert read_source(kitti_labelled_dir).layout == "object"
    assert read_source(kitti_dir).layout == "object"
    for src in (raw_drive.path, raw_drive.path.parent):
        source = read_source(src)
        assert source.layout == "raw" and source.root == raw_drive.path
        assert [f.name for f in source.frames] == [f"{i:010d}" for i in range(5)]
    assert len(read_source(raw_drive.path, max_frames=2).frames) == 2


def test_not_kitti(tmp_path: Path) -> None:
    with pytest.raises(KittiImportError, match="no such directory"):
        read_source(tmp_path / "absent")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"")
    with pytest.raises(KittiImportError, match="not a KITTI folder"):
        read_source(tmp_path / "photos")


def test_object_layout_needs_its_folders(tmp_path: Path, kitti_labelled_dir: Path) -> None:
    (tmp_path / "velodyne").mkdir()
    (tmp_path / "velodyne" / "000000.bin").write_bytes(b"\0" * 16)
    with pytest.raises(KittiImportError, match="image_2: missing"):
        read_source(tmp_path)


def test_object_frame_without_calibration_is_marked(tmp_path: Path) -> None:
    (tmp_path / "000007.bin").write_bytes(b"\0" * 16)
    (tmp_path / "000007.txt").write_text("P2: 1 2 3\n")
    (tmp_path / "000008.bin").write_bytes(b"\0" * 16)
    frames = read_source(tmp_path).frames
    assert [f.rig for f in frames] == [None, None]
    assert "bad calibration" in frames[0].problem and "missing" in frames[0].problem
    assert frames[1].problem.startswith("no calibration")


def test_raw_drive_needs_its_calibration(raw_drive: Any) -> None:
    calib = raw_drive.path.parent / "calib_velo_to_cam.txt"
    calib.write_text(calib.read_text().replace("T:", "X:"))
    with pytest.raises(KittiImportError, match="calib_velo_to_cam.txt: missing T"):
        read_source(raw_drive.path)
    (raw_drive.path.parent / "calib_cam_to_cam.txt").unlink()
    with pytest.raises(KittiImportError, match="calib_cam_to_cam.txt: calibration file missing"):
        read_source(raw_drive.path)


def test_raw_timestamps_must_cover_every_frame(raw_drive: Any) -> None:
    stamps = raw_drive.path / "velodyne_points" / "timestamps.txt"
    lines = stamps.read_text().splitlines()
    stamps.write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(KittiImportError, match="has 3 stamps, none for frame 0000000003"):
        read_source(raw_drive.path)
    stamps.write_text("\n".join([lines[0], "yesterday", *lines[2:]]) + "\n")
    with pytest.raises(KittiImportError, match=r"timestamps.txt:2: not a KITTI timestamp"):
        read_source(raw_drive.path)


def test_several_drives_need_a_choice(raw_drive: Any) -> None:
    (raw_drive.path.parent / "2011_09_26_drive_0009_sync" / "image_02").mkdir(parents=True)
    with pytest.raises(KittiImportError, match="2 drives"):
        read_source(raw_drive.path.parent)
    assert read_source(raw_drive.path).layout == "raw"


def test_bad_options(kitti_dir: Path) -> None:
    with pytest.raises(KittiImportError, match="rate must be positive"):
        read_source(kitti_dir, rate_hz=0.0)
    with pytest.raises(KittiImportError, match="at least 1"):
        read_source(kitti_dir, max_frames=0)
