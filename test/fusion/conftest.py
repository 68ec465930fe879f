"""Fixtures for the fusion tests (scenes come from edge_llm_ros.tools.synthetic.fusion_world)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.sim.rig import CAMERA_SIZE_PX, camera_matrix


@pytest.fixture
def make_fuser() -> Callable[..., SceneFuser]:
    def make(**overrides: object) -> SceneFuser:
        fuser = SceneFuser(FusionConfig(**overrides))  # type: ignore[arg-type]
        fuser.set_camera_model(camera_matrix(), *CAMERA_SIZE_PX)
        return fuser
    return make
