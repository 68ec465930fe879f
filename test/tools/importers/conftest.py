"""A tiny KITTI raw drive built from the real labelled frames, and a reader of the bags."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_llm_ros.bag import bag_typestore, build_typestore, deserialize, iter_messages
from edge_llm_ros.perception.kitti import parse_kitti_calib

# Frames 000001..000005 share one calibration (as a drive does); their scans and images
# become frames 0..4 of a synthetic raw drive.
RAW_SOURCE_FRAMES = ("000001", "000002", "000003", "000004", "000005")
DRIVE = "2011_09_26_drive_0005_sync"
# Real-looking stamps, 10 Hz with jitter; the camera triggers a few ms after the scan.
LIDAR_STAMPS = ["2011-09-26 13:02:25.964389445", "2011-09-26 13:02:26.074898256",
                "2011-09-26 13:02:26.170199530", "2011-09-26 13:02:26.270566213",
                "2011-09-26 13:02:26.372016877"]
CAMERA_STAMPS = ["2011-09-26 13:02:25.968945", "2011-09-26 13:02:26.079276001",
                 "2011-09-26 13:02:26.174508", "2011-09-26 13:02:26.274885",
                 "2011-09-26 13:02:26.376338"]


def _row(values: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.asarray(values).reshape(-1))


def write_raw_calibration(date_dir: Path, calib_file: Path) -> None:
    """The raw layout's calibration files, from an object-layout calibration file."""
    c = parse_kitti_calib(calib_file)
    (date_dir / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        f"S_rect_02: 1.242000e+03 3.750000e+02\nR_rect_00: {_row(c.R0_rect)}\n"
        f"P_rect_00: {_row(c.P0)}\nP_rect_02: {_row(c.P2)}\n")
    (date_dir / "calib_velo_to_cam.txt").write_text(
        f"calib_time: 15-Mar-2012 11:37:16\nR: {_row(c.Tr_velo_to_cam[:, :3])}\n"
        f"T: {_row(c.Tr_velo_to_cam[:, 3])}\ndelta_f: 0 0\ndelta_c: 0 0\n")


@dataclass(frozen=True)
class RawDrive:
    path: Path  # the drive folder
    lidar_stamps: list[str]
    camera_stamps: list[str]
    source_frames: tuple[str, ...]  # the labelled frames its frames 0.. are copies of


@pytest.fixture
def raw_drive(tmp_path: Path, kitti_labelled_dir: Path) -> RawDrive:
    """<tmp>/2011_09_26/2011_09_26_drive_0005_sync with five real frames and timestamps."""
    date_dir = tmp_path / "2011_09_26"
    drive = date_dir / DRIVE
    for sensor, ext, src in (("velodyne_points", ".bin", "velodyne"),
                             ("image_02", ".png", "image_2")):
        (drive / sensor / "data").mkdir(parents=True)
        for i, name in enumerate(RAW_SOURCE_FRAMES):
            shutil.copyfile(kitti_labelled_dir / src / f"{name}{ext}",
                            drive / sensor / "data" / f"{i:010d}{ext}")
    (drive / "velodyne_points" / "timestamps.txt").write_text("\n".join(LIDAR_STAMPS) + "\n")
    (drive / "image_02" / "timestamps.txt").write_text("\n".join(CAMERA_STAMPS) + "\n")
    write_raw_calibration(date_dir, kitti_labelled_dir / "calib" / f"{RAW_SOURCE_FRAMES[0]}.txt")
    return RawDrive(drive, LIDAR_STAMPS, CAMERA_STAMPS, RAW_SOURCE_FRAMES)


BagContents = dict[str, list[tuple[int, Any]]]


@pytest.fixture
def read_bag() -> Callable[[Path], BagContents]:
    return _read_bag


def _read_bag(path: Path) -> BagContents:
    """topic -> [(log stamp ns, decoded message)] in bag order, with the project's reader."""
    ts = bag_typestore(path, build_typestore())
    out: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for m in iter_messages(path):
        out[m.topic].append((m.timestamp_ns, deserialize(ts, m.rawdata, m.msgtype)))
    return dict(out)


