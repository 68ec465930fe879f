"""Shared test fixtures: isolated DDS domains and the real data folder."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to the checkout; a worktree elsewhere may point at it with the variable
SHARED_DATA = Path(os.environ.get("EDGE_LLM_ROS_SHARED_DATA",
                                  str(REPO_ROOT.parent / "shared" / "data")))

os.environ.setdefault("MUJOCO_GL", "egl")

# Each test that starts nodes gets its own ROS_DOMAIN_ID, so tests (and
# anything else on the machine) never hear each other. Fast DDS accepts 0-232;
# ids are spread by process id so parallel pytest runs do not collide.
_domain_ids = itertools.count((os.getpid() * 7) % 90 + 1)


@pytest.fixture
def ros_domain_id() -> int:
    return next(_domain_ids) % 100 + 1


@pytest.fixture
def ros_env(ros_domain_id: int) -> Iterator[dict[str, str]]:
    """Environment for a child process on this test's domain."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(ros_domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    yield env


@pytest.fixture(scope="session")
def ros_available() -> None:
    """The node tests need the colcon build sourced; say how, not skip."""
    try:
        import rclpy  # noqa: F401

        import edge_llm_ros.msg  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"ROS environment not available ({exc}); run `make test`, or "
            "`source .venv/bin/activate && source install/setup.bash` first",
            pytrace=False,
        )


@pytest.fixture
def kitti_dir() -> Path:
    path = SHARED_DATA / "kitti"
    if not path.is_dir():
        pytest.skip(f"real KITTI data not present at {path} (it lives in ../shared/data)")
    return path


@pytest.fixture(scope="session")
def kitti_labelled_dir() -> Path:
    """Eleven labelled KITTI frames (velodyne/, calib/, label_2/, image_2/)."""
    path = SHARED_DATA / "kitti_labelled"
    if not (path / "label_2").is_dir():
        pytest.skip(f"labelled KITTI frames not present at {path} (they live in ../shared/data)")
    return path


@pytest.fixture(scope="session")
def coco_centernet() -> Path:
    """The COCO camera detector setup fetches from npm (scripts/fetch_coco_centernet.sh)."""
    from edge_llm_ros.paths import model_file

    path = model_file("coco_centernet/centernet.json")
    if not path.is_file():
        pytest.skip(f"COCO CenterNet not present at {path}: setup's step 4d "
                    "(scripts/fetch_coco_centernet.sh) needs npm and its registry")
    return path


# The real models: the base GGUF from its wheel, the tuned one built at setup.
@pytest.fixture(scope="session")
def base_gguf() -> Path:
    """Setup installs llama-cpp-python and the base model: missing, the test fails."""
    from edge_llm_ros.reasoning.model_files import base_gguf_path
    return base_gguf_path()


def _built_model(name: str) -> Path:
    from edge_llm_ros.paths import model_file
    path = model_file(name)
    if not path.is_file():  # fails loudly when setup did not build it
        pytest.fail(f"{path} is missing: scripts/setup.sh builds it", pytrace=False)
    return path


@pytest.fixture(scope="session")
def tuned_gguf() -> Path:
    """The LoRA-tuned SmolLM2 (the `text` prompt format)."""
    from edge_llm_ros.reasoning.model_files import TUNED_GGUF_NAME
    return _built_model(TUNED_GGUF_NAME)


@pytest.fixture(scope="session")
def decision_gguf() -> Path:
    """The teacher-distilled decision model (the `intent` prompt format), the default."""
    from edge_llm_ros.reasoning.model_files import DECISION_GGUF_NAME
    return _built_model(DECISION_GGUF_NAME)


@pytest.fixture(scope="session")
def tuned_backend(tuned_gguf: Path) -> Iterator[object]:
    from edge_llm_ros.reasoning.llamacpp import LlamaCppBackend
    backend = LlamaCppBackend(tuned_gguf, threads=2)
    yield backend
    backend.close()


# The shipped camera models (models/README.md says how they were made).
def _shipped_model(name: str) -> Path:
    path = REPO_ROOT / "models" / name
    if not path.is_file():
        pytest.fail(f"shipped model {path} is missing (see models/README.md to rebuild it)",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def sim_model_pt() -> Path:
    return _shipped_model("sim_detector.pt")


@pytest.fixture(scope="session")
def sim_model_onnx() -> Path:
    return _shipped_model("sim_detector.onnx")
