"""A COCO-named Ultralytics model, as users bring them, gets the COCO mapping by default.

No COCO weights exist here, so these are real YOLO11n networks built from Ultralytics'
yolo11n.yaml (80 classes, COCO's names from its coco.yaml) with untrained weights;
each has its class head's bias raised for one class, so every box it finds is of that
class: what the raw model says is known, and what CameraDetector makes of it is checked.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.perception.camera.detector import CameraDetector
from edge_llm_ros.perception.camera.ultralytics_env import ultralytics

REPO = Path(__file__).resolve().parents[3]


def coco_named_model(path: Path, favoured: str) -> Path:
    """An untrained YOLO11n with COCO's class names whose boxes are all `favoured`, saved
    as an Ultralytics .pt checkpoint."""
    import torch

    YOLO = ultralytics().YOLO
    from ultralytics.utils import ROOT, YAML

    names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]
    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    model.model.names = names
    class_id = {name: i for i, name in names.items()}[favoured]
    for branch in model.model.model[-1].cv3:  # Detect: one class conv per stride
        branch[-1].bias.data[class_id] += 8.0
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def coco_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("coco_models")
    return {name: coco_named_model(folder / f"coco_{name}.pt", name)
            for name in ("bus", "person", "bicycle", "dog")}


@pytest.fixture(scope="module")
def street() -> np.ndarray:
    """Ultralytics' own street photo (bus.jpg, 810x1080), BGR."""
    import cv2

    ultralytics()
    from ultralytics.utils import ASSETS

    return cv2.imread(str(ASSETS / "bus.jpg"))


def _raw_classes(detector: CameraDetector, image: np.ndarray) -> collections.Counter[str]:
    result = detector.model.predict(image, **detector.predict_kwargs())[0]
    return collections.Counter(detector.names[int(c)] for c in result.boxes.cls.tolist())


def test_coco_names_get_the_coco_mapping(coco_models: dict[str, Path],
                                         street: np.ndarray) -> None:
    bus = CameraDetector(coco_models["bus"])
    assert len(bus.names) == 80 and bus.names[0] == "person" and bus.names[5] == "bus"
    assert bus.class_mapping == "coco" and bus.class_map_unused == []
    raw = _raw_classes(bus, street)
    found = bus.detect(street, "bgr8").detections
    assert set(raw) == {"bus"} and len(found) == raw["bus"] > 0
    assert {d.class_name for d in found} == {"truck"} and {d.class_id for d in found} == {5}

    person = CameraDetector(coco_models["person"])
    found = person.detect(street, "bgr8").detections
    assert found and {d.class_name for d in found} == {"pedestrian"}

    # Bicycles with nobody on them are parked: dropped, where plain renaming keeps them.
    bicycle = CameraDetector(coco_models["bicycle"])
    assert set(_raw_classes(bicycle, street)) == {"bicycle"}
    assert bicycle.detect(street, "bgr8").detections == []
    # Classes that are no road user (dog) are dropped.
    dog = CameraDetector(coco_models["dog"])
    assert _raw_classes(dog, street)["dog"] > 0 and dog.detect(street, "bgr8").detections == []


def test_a_class_map_overrides_the_coco_mapping(coco_models: dict[str, Path],
                                                street: np.ndarray) -> None:
    renamed = CameraDetector(coco_models["bicycle"], class_map={"bicycle": "cyclist"})
    assert renamed.class_mapping == "class_map"
    found = renamed.detect(street, "bgr8").detections
    assert found and {d.class_name for d in found} == {"cyclist"}
    bus = CameraDetector(coco_models["bus"], class_map={"bus": "bus", "car": "car"})
    assert {d.class_name for d in bus.detect(street, "bgr8").detections} == {"bus"}


def test_the_simulator_model_keeps_its_own_classes(sim_model_onnx: Path) -> None:
    detector = CameraDetector(sim_model_onnx)
    assert detector.class_mapping == "model" and not detector.merge_riders


def test_a_coco_model_loads_offline_in_a_fresh_process(coco_models: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """Load and detect with no socket activity at all (a fresh HOME and cache)."""
    script = textwrap.dedent(f"""
        import sys
        attempts = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
                attempts.append(event)
        sys.addaudithook(hook)
        import numpy as np
        from edge_llm_ros.perception.camera import CameraDetector
        detector = CameraDetector({str(coco_models["person"])!r})
        found = detector.detect(np.full((480, 640, 3), 90, np.uint8), "rgb8").detections
        print("MAPPING", detector.class_mapping, sorted({{d.class_name for d in found}}))
        print("ATTEMPTS", attempts)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "MAPPING coco ['pedestrian']" in out.stdout, out.stdout
    assert "ATTEMPTS []" in out.stdout, out.stdout
