"""Fixtures for the fusion tests (scenes come from edge_llm_ros.tools.synthetic.fusion_world)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge_llm_ros.fusion import FusionConfig, SceneFuser
from edge_llm_ros.fusion.config import SIM_CAMERA_SIZE_PX, sim_camera_matrix


@pytest.fixture
def make_fuser() -> Callable[..., SceneFuser]:
    def make(**overrides: object) -> SceneFuser:
        fuser = SceneFuser(FusionConfig(**overrides))  # type: ignore[arg-type]
        fuser.set_camera_model(sim_camera_matrix(), *SIM_CAMERA_SIZE_PX)
        return fuser
    return make
