"""Held-out simulator frames (the shipped models are fixtures of test/conftest.py)."""

from __future__ import annotations

import pytest

from edge_llm_ros.tools.training.camera_dataset import EvalFrame, heldout_frames

# The 120 frames models/README.md reports on (about 290 labelled boxes: 99
# cars, 47 pedestrians), so per-class recall means something; about 10 s.
N_EVAL_FRAMES = 120


@pytest.fixture(scope="session")
def eval_frames() -> list[EvalFrame]:
    """Frames from runs whose seeds training never used (seed 0's held-out plan)."""
    return heldout_frames(N_EVAL_FRAMES)
