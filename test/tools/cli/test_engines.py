"""`build-engine camera MODEL` and `build-engine reasoner CHECKPOINT`: each part its own
subparser and options; bad input exits 2 with one line before any GPU work. (The builds
themselves: test/perception/camera/test_engine_gpu.py, test/reasoning/test_edgellm.py.)"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from edge_llm_ros.perception.camera.engine import build_engine
from edge_llm_ros.reasoning.edgellm import build_edgellm_engine
from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.engines import camera_engine_settings, reasoner_engine_settings


def test_each_part_has_only_its_own_options(options_of) -> None:
    camera, reasoner = options_of(("build-engine", "camera")), options_of(("build-engine",
                                                                          "reasoner"))
    assert {"--calibration", "--imgsz", "--device"} <= camera - reasoner
    assert {"--max-input-len", "--max-output-len"} <= reasoner - camera
    assert camera & reasoner == {"--precision", "--cache-dir", "--force"}


@pytest.mark.parametrize("argv, message", [
    (["camera", "m.pt", "--max-input-len", "9"], "unrecognized arguments: --max-input-len"),
    (["camera", "m.pt", "--precision", "auto"], "invalid choice: 'auto'"),
    (["reasoner", "ckpt", "--calibration", "imgs"], "unrecognized arguments: --calibration"),
    (["reasoner", "ckpt", "--precision", "int8"], "invalid choice: 'int8'"),
    (["camera"], "required: model"),
])
def test_options_of_the_other_part_are_errors(cli, argv: list[str], message: str) -> None:
    code, out, err = cli("build-engine", *argv)
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith(f"edge-llm-ros build-engine {argv[0]}: error: ")
    assert message in err.splitlines()[-1]


def test_missing_inputs_exit_2_with_one_line(cli, tmp_path: Path) -> None:
    code, out, err = cli("build-engine", "camera", str(tmp_path / "none.pt"))
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert err.startswith(f"error: {tmp_path / 'none.pt'} is not a model file")
    (tmp_path / "model.pt").write_bytes(b"")
    code, out, err = cli("build-engine", "reasoner", str(tmp_path / "model.pt"))
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "is not a Hugging Face checkpoint folder" in err


def test_settings_are_the_builders_keyword_arguments() -> None:
    args = build_parser().parse_args(["build-engine", "camera", "m.pt", "--precision", "int8",
                                      "--calibration", "imgs", "--imgsz", "320", "--force"])
    camera = camera_engine_settings(args)
    assert camera == {"precision": "int8", "calib_images_dir": Path("imgs"), "cache_dir": None,
                      "device": "cuda:0", "force": True, "imgsz": 320}
    assert set(camera) <= set(inspect.signature(build_engine).parameters)
    args = build_parser().parse_args(["build-engine", "camera", "m.pt"])
    assert "imgsz" not in camera_engine_settings(args)  # the builder's 480x640
    args = build_parser().parse_args(["build-engine", "reasoner", "ckpt", "--precision", "auto"])
    reasoner = reasoner_engine_settings(args)
    assert reasoner == {"precision": "auto", "max_input_len": 512, "max_output_len": 64,
                        "force": False}
    assert set(reasoner) <= set(inspect.signature(build_edgellm_engine).parameters)
