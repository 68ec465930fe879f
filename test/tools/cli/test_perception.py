"""`perceive` on a real file (a ray-cast sweep saved as KITTI .bin) and its bad input;
`train-detector` passes only the options given (its own defaults are the recipe)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np

from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.perception import train_detector_settings
from edge_llm_ros.tools.synthetic.lidar_sweeps import GroundPlane, place, simulate_sweep
from edge_llm_ros.tools.training.camera import train_detector


def test_perceive_finds_the_car_in_a_cloud_file(cli, tmp_path: Path) -> None:
    sweep = simulate_sweep([place("car", 12.0, 0.0)], ground=GroundPlane(1.73), seed=0)
    cloud = tmp_path / "car.bin"
    sweep.points.astype(np.float32).tofile(cloud)
    out_json = tmp_path / "out.json"
    code, out, _ = cli("perceive", "--cloud", str(cloud), "--json", "-o", str(out_json))
    assert code == 0
    result = json.loads(out)
    assert json.loads(out_json.read_text()) == result
    cars = [o for o in result["objects_3d"] if o["class_name"] == "car"]
    assert len(cars) == 1 and abs(cars[0]["center_m"][0] - 12.0) < 1.0
    assert result["frame"] == "lidar" and "scene" not in result  # no image, nothing to fuse


def test_perceive_bad_input_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    code, out, err = cli("perceive")
    assert (code, out, err) == (2, "", "error: give an image, a point cloud, or both\n")
    code, out, err = cli("perceive", "--cloud", str(tmp_path / "none.bin"))
    assert (code, out, err) == (2, "", f"error: {tmp_path / 'none.bin'}: no such file\n")


def test_train_detector_passes_only_what_was_given() -> None:
    args = build_parser().parse_args(["train-detector", "-o", "out/d", "--epochs", "3"])
    settings = train_detector_settings(args)
    assert settings == {"seed": 0, "epochs": 3}
    assert set(settings) <= set(inspect.signature(train_detector).parameters)
    full = build_parser().parse_args(["train-detector", "-o", "d", "--images", "9", "--epochs",
                                      "2", "--imgsz", "320", "--seed", "5"])
    assert set(train_detector_settings(full)) <= set(inspect.signature(train_detector).parameters)
