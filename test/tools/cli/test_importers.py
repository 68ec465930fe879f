"""`edge-llm-ros import kitti`: a bag from real frames, a report, and exit 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from edge_llm_ros.bag import open_bag


def test_import_kitti_writes_a_bag(cli, kitti_labelled_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "kitti"
    code, stdout, err = cli("import", "kitti", str(kitti_labelled_dir), "-o", str(out),
                            "--frames", "3", "--rate-hz", "5", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["frames_written"] == 3 and report["layout"] == "object"
    assert report["duration_s"] == 0.4  # 3 frames at 5 Hz
    info = open_bag(out)
    assert {t.name: t.message_count for t in info.topics} == {
        "/lidar/points": 3, "/camera/image_raw": 3, "/camera/camera_info": 3,
        "/tf_static": report["tf_static_messages"]}


def test_import_kitti_reports_skipped_frames(cli, kitti_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for suffix in (".bin", ".png", ".txt"):
        (src / f"000002{suffix}").write_bytes((kitti_dir / f"000002{suffix}").read_bytes())
    (src / "000003.bin").write_bytes(b"\0" * 20)
    (src / "000003.png").write_bytes((kitti_dir / "000002.png").read_bytes())
    (src / "000003.txt").write_bytes((kitti_dir / "000002.txt").read_bytes())
    code, stdout, err = cli("import", "kitti", str(src), "-o", str(tmp_path / "bag"))
    assert code == 0
    assert "wrote" in stdout and "1 frames" in stdout
    assert "skipped 1 frame(s), corrupt scan: 000003" in stdout
    assert "000003.bin: size 20 bytes is not a multiple of 16" in err


def test_bad_input_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    code, stdout, err = cli("import", "kitti", str(tmp_path / "absent"), "-o",
                            str(tmp_path / "bag"))
    assert code == 2 and stdout == ""
    assert err.strip().count("\n") == 0 and err.startswith("error: ") and "absent" in err
    assert not (tmp_path / "bag").exists()
    code, _, err = cli("import", "kitti", str(tmp_path), "-o", str(tmp_path / "bag"),
                       "--layout", "raw")
    assert code == 2 and "no velodyne_points/" in err


def test_help_has_examples(cli) -> None:
    code, stdout, _ = cli("import", "kitti", "--help")
    assert code == 0
    assert "examples:" in stdout and "edge-llm-ros import kitti" in stdout
    assert "--layout {auto,object,raw}" in stdout and "--rate-hz" in stdout
    code, _, err = cli("import")
    assert code == 2 and "DATASET" in err
