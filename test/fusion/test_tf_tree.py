"""Static transform math: quaternion <-> matrix, and chains composed through the tree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_llm_ros.fusion.tf_tree import (
    StaticTfTree,
    TfError,
    invert,
    matrix_from_transform,
    nearest_rotation,
    transform_from_matrix,
)


def _random_rigid(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return matrix_from_transform(rng.normal(size=3) * 5, q)


def test_quarter_turn_about_z_takes_x_to_y() -> None:
    s = math.sqrt(0.5)
    m = matrix_from_transform((1.0, 2.0, 3.0), (0.0, 0.0, s, s))
    assert np.allclose(m @ [1, 0, 0, 1], [1, 3, 3, 1])
    assert np.allclose(m[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("seed", range(20))
def test_matrix_quaternion_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = _random_rigid(rng)
    t, q = transform_from_matrix(m)
    assert q[3] >= 0 and math.isclose(np.linalg.norm(q), 1.0)
    assert np.allclose(matrix_from_transform(t, q), m, atol=1e-12)
    assert np.allclose(invert(m) @ m, np.eye(4), atol=1e-12)


def test_half_turns_round_trip() -> None:
    """The trace-negative branches of the matrix -> quaternion conversion."""
    for axis in np.eye(3):
        m = matrix_from_transform((0, 0, 0), (*axis, 0.0))
        assert np.allclose(matrix_from_transform(*transform_from_matrix(m)), m, atol=1e-12)


def test_bad_input_is_refused() -> None:
    with pytest.raises(TfError, match="unit quaternion"):
        matrix_from_transform((0, 0, 0), (0, 0, 0, 0))
    with pytest.raises(TfError, match="not finite"):
        matrix_from_transform((math.nan, 0, 0), (0, 0, 0, 1))
    shear = np.eye(4)
    shear[0, 1] = 0.1
    with pytest.raises(TfError, match="not a rotation"):
        transform_from_matrix(shear)


def test_nearest_rotation_snaps_printed_digits() -> None:
    r = np.round(matrix_from_transform((0, 0, 0), (0.1, 0.2, 0.3, 0.927))[:3, :3], 4)
    fixed = nearest_rotation(r)
    assert np.allclose(fixed @ fixed.T, np.eye(3), atol=1e-12)
    assert np.abs(fixed - r).max() < 1e-3


def test_lookup_composes_across_branches() -> None:
    """base -> lidar and base -> mount -> camera: camera <- lidar goes up and down again."""
    rng = np.random.default_rng(1)
    base_lidar, base_mount, mount_cam = (_random_rigid(rng) for _ in range(3))
    tree = StaticTfTree()
    assert tree.set("base", "lidar", base_lidar)
    tree.set("base", "mount", base_mount)
    tree.set("mount", "camera", mount_cam)
    want = invert(base_mount @ mount_cam) @ base_lidar
    assert np.allclose(tree.lookup("camera", "lidar"), want)
    assert np.allclose(tree.lookup("lidar", "camera"), invert(want))
    assert np.allclose(tree.lookup("base", "camera"), base_mount @ mount_cam)
    assert np.allclose(tree.lookup("camera", "camera"), np.eye(4))
    assert tree.frames == {"base", "lidar", "mount", "camera"}


def test_unconnected_frames_give_none_until_linked() -> None:
    tree = StaticTfTree()
    tree.set("base", "lidar", np.eye(4))
    tree.set("rig", "camera", np.eye(4))
    assert tree.lookup("camera", "lidar") is None
    assert tree.lookup("camera", "nowhere") is None
    tree.set("base", "rig", matrix_from_transform((1, 0, 0), (0, 0, 0, 1)))
    assert np.allclose(tree.lookup("camera", "lidar")[:3, 3], [-1, 0, 0])


def test_later_transform_replaces_and_loops_are_refused() -> None:
    tree = StaticTfTree()
    tree.set("a", "b", np.eye(4))
    assert not tree.set("a", "b", np.eye(4))  # the same again: nothing changed
    moved = matrix_from_transform((0, 2, 0), (0, 0, 0, 1))
    assert tree.set("a", "b", moved)
    assert np.allclose(tree.lookup("a", "b"), moved)
    tree.set("b", "c", np.eye(4))
    with pytest.raises(TfError, match="loop"):
        tree.set("c", "a", np.eye(4))
    with pytest.raises(TfError, match="own parent"):
        tree.set("a", "a", np.eye(4))
    assert len(tree) == 2 and np.allclose(tree.lookup("a", "c"), moved)
