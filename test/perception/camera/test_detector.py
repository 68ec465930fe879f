"""The shipped simulator detector: loads on PyTorch and ONNX Runtime, finds road users, agrees.

Thresholds come from measurements of the shipped models on these 120
held-out frames (models/README.md): recall car 0.90 (99 boxes), pedestrian
0.87 (47 boxes), overall 0.88; overall precision 0.84; .pt and .onnx score
identically. Each threshold sits 2-3 binomial standard errors below the
measurement (pedestrian: sqrt(0.87 * 0.13 / 47) = 0.05), so a retrained model
of the same quality, or float differences on another CPU, still pass, while a
broken runtime path, colour swap or box scaling (recall near zero) fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.perception.camera import (
    CameraDetector,
    ImageEncodingError,
    ModelLoadError,
    image_from_msg_bytes,
)
from edge_llm_ros.perception.camera.detector import COCO_CLASS_MAP
from edge_llm_ros.tools.bench.camera import box_iou, evaluate_detector
from edge_llm_ros.tools.training.camera_dataset import CLASS_NAMES, EvalFrame

MIN_RECALL = {"car": 0.80, "pedestrian": 0.75}
MIN_RECALL_OVERALL = 0.80
MIN_PRECISION_OVERALL = 0.75


@pytest.fixture(scope="module")
def pt_detector(sim_model_pt: Path) -> CameraDetector:
    return CameraDetector(sim_model_pt)


@pytest.fixture(scope="module")
def onnx_detector(sim_model_onnx: Path) -> CameraDetector:
    return CameraDetector(sim_model_onnx)


@pytest.fixture(scope="module")
def pt_scores(pt_detector: CameraDetector, eval_frames: list[EvalFrame]) -> dict:
    return evaluate_detector(pt_detector, eval_frames)


@pytest.fixture(scope="module")
def onnx_scores(onnx_detector: CameraDetector, eval_frames: list[EvalFrame]) -> dict:
    return evaluate_detector(onnx_detector, eval_frames)


def test_shipped_models_load_with_their_runtime(pt_detector: CameraDetector,
                                                onnx_detector: CameraDetector) -> None:
    assert pt_detector.runtime == "pytorch" and onnx_detector.runtime == "onnxruntime"
    for det in (pt_detector, onnx_detector):
        assert det.names == dict(enumerate(CLASS_NAMES))
        assert det.inference_size == (480, 640)


@pytest.mark.parametrize("scores", ["pt_scores", "onnx_scores"])
def test_heldout_recall_and_precision(scores: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(scores)
    per_class = result["per_class"]
    for cls, minimum in MIN_RECALL.items():
        assert per_class[cls]["tp"] + per_class[cls]["fn"] >= 40, f"too few {cls} boxes to score"
        assert per_class[cls]["recall"] >= minimum, (cls, per_class[cls])
    assert result["overall"]["recall"] >= MIN_RECALL_OVERALL, result["overall"]
    assert result["overall"]["precision"] >= MIN_PRECISION_OVERALL, result["overall"]


def test_pt_and_onnx_agree(pt_detector: CameraDetector, onnx_detector: CameraDetector,
                           eval_frames: list[EvalFrame]) -> None:
    pairs = 0
    for frame in eval_frames:
        a = pt_detector.detect(frame.image_rgb, "rgb8").detections
        b = onnx_detector.detect(frame.image_rgb, "rgb8").detections
        # Scores near the threshold may fall either side; confident boxes must match.
        for d in (x for x in a if x.score >= 0.35):
            best = max((o for o in b if o.class_name == d.class_name),
                       key=lambda o, d=d: box_iou(o.box_px, d.box_px), default=None)
            assert best is not None, (frame.source, d)
            assert np.abs(np.subtract(best.box_px, d.box_px)).max() <= 2.0, (d, best)
            assert abs(best.score - d.score) <= 0.05
            pairs += 1
    assert pairs >= 150


def test_encodings_and_message_bytes_give_the_same_detections(pt_detector: CameraDetector,
                                                              eval_frames: list[EvalFrame]
                                                              ) -> None:
    rgb = eval_frames[3].image_rgb
    ref = pt_detector.detect(rgb, "rgb8")
    assert len(ref) > 0
    assert ref.image_width_px == 640 and ref.image_height_px == 480
    assert ref.timing_ms["total"] >= ref.timing_ms["predict"] > 0
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    assert pt_detector.detect(bgr, "bgr8").detections == ref.detections
    # A padded message (step 1936 instead of 1920) decoded without copying.
    padded = np.zeros((480, 1936), np.uint8)
    padded[:, :1920] = rgb.reshape(480, -1)
    view = image_from_msg_bytes(padded.tobytes(), 640, 480, 1936, "rgb8")
    assert pt_detector.detect(view, "rgb8").detections == ref.detections
    gray = pt_detector.detect(rgb.mean(axis=2).astype(np.uint8), "mono8")
    assert all(d.class_name in CLASS_NAMES for d in gray.detections)
    with pytest.raises(ImageEncodingError, match="'yuv422'"):
        pt_detector.detect(rgb, "yuv422")


def test_class_map_renames_and_drops(sim_model_pt: Path, eval_frames: list[EvalFrame]) -> None:
    frame = eval_frames[3].image_rgb
    plain = CameraDetector(sim_model_pt).detect(frame, "rgb8").detections
    vehicles = CameraDetector(sim_model_pt, class_map={"car": "vehicle", "truck": "vehicle"})
    mapped = vehicles.detect(frame, "rgb8").detections
    assert {d.class_name for d in mapped} <= {"vehicle"}
    assert len(mapped) == sum(d.class_name in ("car", "truck") for d in plain)
    assert [d.class_id for d in mapped] == [d.class_id for d in plain
                                            if d.class_name in ("car", "truck")]
    # The COCO map knows "car" and "truck" of this model; "person" etc. simply never occur.
    coco_detector = CameraDetector(sim_model_pt, class_map=COCO_CLASS_MAP)
    assert coco_detector.class_map_unused == ["bicycle", "bus", "motorcycle", "person"]
    coco = coco_detector.detect(frame, "rgb8")
    assert {d.class_name for d in coco.detections} <= {"car", "truck"}
    with pytest.raises(ModelLoadError, match="none of which the model knows"):
        CameraDetector(sim_model_pt, class_map={"person": "pedestrian"})


# ------------------------------------------------------------ bad model files


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        CameraDetector(tmp_path / "nope.pt")
    with pytest.raises(ModelLoadError, match="not a file"):
        CameraDetector(tmp_path.joinpath("dir.onnx").mkdir() or tmp_path / "dir.onnx")


@pytest.mark.parametrize("name", ["model.tflite", "model.txt", "model", "model.PT.bak"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"expected \.pt \(PyTorch\), \.onnx"):
        CameraDetector(path)


def test_truncated_onnx(tmp_path: Path, sim_model_onnx: Path) -> None:
    path = tmp_path / "truncated.onnx"
    path.write_bytes(sim_model_onnx.read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match=r"truncated\.onnx.*onnxruntime"):
        CameraDetector(path)


def test_text_file_renamed_pt(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("these are my notes, not a model\n")
    with pytest.raises(ModelLoadError, match=r"cannot load .*notes\.pt.*pytorch"):
        CameraDetector(path)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        CameraDetector(tmp_path / "empty.onnx")


def test_engine_needs_a_gpu_device(tmp_path: Path) -> None:
    (tmp_path / "m.engine").write_bytes(b"\0" * 64)
    with pytest.raises(ModelLoadError, match="needs a GPU"):
        CameraDetector(tmp_path / "m.engine", device="cpu")


def test_bad_thresholds(sim_model_pt: Path) -> None:
    with pytest.raises(ValueError, match="conf_threshold"):
        CameraDetector(sim_model_pt, conf_threshold=1.5)


def test_close_frees_the_model(sim_model_onnx: Path) -> None:
    det = CameraDetector(sim_model_onnx)
    det.close()
    with pytest.raises(RuntimeError, match="after close"):
        det.detect(np.zeros((48, 64, 3), np.uint8), "rgb8")


# ------------------------------------------------------------------ offline


def test_detection_never_touches_the_network(tmp_path: Path, sim_model_pt: Path,
                                             sim_model_onnx: Path) -> None:
    """A fresh interpreter with a fresh HOME: no socket activity, fonts stocked, env set."""
    script = textwrap.dedent(f"""
        import socket, sys
        attempts = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
                attempts.append((event, str(args)[:80]))
        sys.addaudithook(hook)
        import numpy as np, os
        from edge_llm_ros.perception.camera import CameraDetector
        for path in ({str(sim_model_pt)!r}, {str(sim_model_onnx)!r}):
            CameraDetector(path).detect(np.zeros((480, 640, 3), np.uint8), "rgb8")
        cfg = os.environ["YOLO_CONFIG_DIR"]
        print("ATTEMPTS", attempts)
        print("ENV", os.environ["YOLO_OFFLINE"], os.environ["YOLO_AUTOINSTALL"], cfg)
        print("FONT", os.path.isfile(os.path.join(cfg, "Ultralytics", "Arial.ttf")))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ATTEMPTS []" in out.stdout, out.stdout
    assert f"ENV 1 False {tmp_path / 'cache' / 'edge_llm_ros' / 'ultralytics'}" in out.stdout
    assert "FONT True" in out.stdout
    assert not (tmp_path / "config" / "Ultralytics").exists()  # nothing written to ~/.config
