"""Static transforms as /tf_static carries them: quaternion <-> matrix and chain lookup.

A vehicle describes its sensor mounting once, on `/tf_static`, as a tree of
parent -> child transforms (each `TransformStamped` is the child's pose in the
parent: it takes points from the child frame into the parent frame). Fusion needs
one matrix out of that tree, camera <- lidar, whatever the path between them; this
module composes it, with no ROS import, so the math is tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Quaternions whose norm is further than this from 1 are refused, not normalised:
# such a number is a bug upstream (a zero quaternion, an unfilled message).
_QUATERNION_NORM_TOLERANCE = 1e-3


class TfError(ValueError):
    """A transform that cannot be used (non-finite, not a rotation, a loop in the tree)."""


def matrix_from_transform(translation_m: Sequence[float],
                          quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """4x4 homogeneous matrix of a translation and a unit quaternion (x, y, z, w order,
    as geometry_msgs/Quaternion)."""
    t = np.asarray(translation_m, dtype=float).reshape(3)
    q = np.asarray(quaternion_xyzw, dtype=float).reshape(4)
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
        raise TfError(f"transform is not finite: translation {t}, quaternion {q}")
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > _QUATERNION_NORM_TOLERANCE:
        raise TfError(f"quaternion {q} is not a unit quaternion (norm {norm:.6f})")
    x, y, z, w = q / norm
    m = np.eye(4)
    m[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    m[:3, 3] = t
    return m


def transform_from_matrix(matrix: np.ndarray) -> tuple[tuple[float, float, float],
                                                       tuple[float, float, float, float]]:
    """(translation, quaternion x, y, z, w with w >= 0) of a 4x4 rigid transform.

    The rotation part must be a rotation to 1e-6: a calibration's rotation that is not
    (e.g. a rectifying matrix with rounded digits) is projected onto the nearest
    rotation first, with `nearest_rotation`, by the caller that knows it may be.
    """
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise TfError(f"expected a finite 4x4 matrix, got shape {m.shape}")
    r = m[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise TfError(f"not a rotation (R R^T != I or det < 0):\n{r}")
    # Shepperd's method: divide by the largest of the four candidate terms.
    trace = float(np.trace(r))
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + r[i, i] - r[j, j] - r[k, k], 0.0))
        q = [0.0, 0.0, 0.0, (r[k, j] - r[j, k]) / s]
        q[i] = s / 4
        q[j] = (r[j, i] + r[i, j]) / s
        q[k] = (r[k, i] + r[i, k]) / s
    qa = np.asarray(q)
    qa = qa / np.linalg.norm(qa)
    if qa[3] < 0:
        qa = -qa
    x, y, z, w = (float(v) for v in qa)
    tx, ty, tz = (float(v) for v in m[:3, 3])
    return (tx, ty, tz), (x, y, z, w)


def nearest_rotation(r: np.ndarray) -> np.ndarray:
    """The rotation closest to a 3x3 matrix (SVD): calibration files print rotations with
    7 or so significant digits, so theirs are rotations only to about 1e-7."""
    u, _, vt = np.linalg.svd(np.asarray(r, dtype=float).reshape(3, 3))
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (transpose the rotation; exact, no general solve)."""
    m = np.asarray(matrix, dtype=float)
    out = np.eye(4)
    out[:3, :3] = m[:3, :3].T
    out[:3, 3] = -m[:3, :3].T @ m[:3, 3]
    return out


@dataclass(frozen=True)
class StaticTransform:
    """One edge of the tree: `parent_from_child` takes child-frame points into the parent."""

    parent: str
    child: str
    parent_from_child: np.ndarray


class StaticTfTree:
    """The latest static transform of each child frame; `lookup` composes any chain.

    As in tf2, a frame has at most one parent, and a later transform for the same child
    replaces the earlier one (a re-published /tf_static wins). A transform that would
    close a loop is refused with TfError and the tree is left as it was.
    """

    def __init__(self) -> None:
        self._edges: dict[str, StaticTransform] = {}

    def __len__(self) -> int:
        return len(self._edges)

    @property
    def frames(self) -> set[str]:
        return {f for e in self._edges.values() for f in (e.parent, e.child)}

    def set(self, parent: str, child: str, parent_from_child: np.ndarray) -> bool:
        """Add or replace the child's transform; True when the tree changed."""
        if not parent or not child:
            raise TfError(f"frame names must not be empty (parent {parent!r}, child {child!r})")
        if parent == child:
            raise TfError(f"frame '{child}' cannot be its own parent")
        m = np.asarray(parent_from_child, dtype=float)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise TfError(f"{parent} -> {child}: expected a finite 4x4 matrix")
        old = self._edges.get(child)
        if old is not None and old.parent == parent and np.array_equal(old.parent_from_child, m):
            return False
        if child in self._chain_to_root(parent):
            raise TfError(f"{parent} -> {child} would close a loop in the transform tree")
        self._edges[child] = StaticTransform(parent, child, m.copy())
        return True

    def _chain_to_root(self, frame: str) -> list[str]:
        """frame, its parent, ..., the root of its tree."""
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
            if len(chain) > len(self._edges) + 1:  # unreachable: set() refuses loops
                raise TfError(f"loop in the transform tree at '{frame}'")
        return chain

    def _root_from(self, chain: list[str]) -> np.ndarray:
        """root <- chain[0], composing parent_from_child up the chain."""
        m = np.eye(4)
        for child in reversed(chain[:-1]):
            m = m @ self._edges[child].parent_from_child
        return m

    def lookup(self, target: str, source: str) -> np.ndarray | None:
        """target_T_source (takes source-frame points into the target frame), or None when
        the two frames are not in one tree (yet)."""
        if target == source:
            return np.eye(4)
        up_target, up_source = self._chain_to_root(target), self._chain_to_root(source)
        if up_target[-1] != up_source[-1]:
            return None
        common = next(f for f in up_source if f in set(up_target))
        to_common_t = up_target[: up_target.index(common) + 1]
        to_common_s = up_source[: up_source.index(common) + 1]
        return invert(self._root_from(to_common_t)) @ self._root_from(to_common_s)
