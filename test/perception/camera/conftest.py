"""Shared fixtures: the shipped detector models and held-out simulator frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.perception.camera.dataset import EvalFrame, heldout_frames

MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
# The 120 frames models/README.md reports on (about 290 labelled boxes: 99
# cars, 47 pedestrians), so per-class recall means something; about 10 s.
N_EVAL_FRAMES = 120


def _shipped(name: str) -> Path:
    path = MODELS_DIR / name
    if not path.is_file():
        pytest.fail(f"shipped model {path} is missing (see models/README.md to rebuild it)",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def sim_model_pt() -> Path:
    return _shipped("sim_detector.pt")


@pytest.fixture(scope="session")
def sim_model_onnx() -> Path:
    return _shipped("sim_detector.onnx")


@pytest.fixture(scope="session")
def eval_frames() -> list[EvalFrame]:
    """Frames from runs whose seeds training never used (seed 0's held-out plan)."""
    return heldout_frames(N_EVAL_FRAMES)
