"""3D boxes and points into the camera image (pinhole, no distortion).

Boxes project as the axis-aligned bounding box of what lies in front of the
camera: box edges that cross the near plane are clipped there, so a box half
behind the camera (a car alongside) still gets the image box it really covers
instead of a box stretched by corners that project through the back.
"""

from __future__ import annotations

import numpy as np

NEAR_M = 0.1  # points closer than this in front of the camera are treated as behind it

# Unit-box corners (+-1 in length, width, height) and the 12 edges between them.
_CORNER_SIGNS = np.array([[sx, sy, sz] for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)],
                         dtype=float)
_EDGES = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)
                   if np.count_nonzero(_CORNER_SIGNS[i] != _CORNER_SIGNS[j]) == 1])


def box_corners(centers: np.ndarray, sizes: np.ndarray, yaws: np.ndarray) -> np.ndarray:
    """(N,8,3) corners of boxes given centers (N,3), sizes (N,3) l,w,h and yaw about z (N,)."""
    centers = np.asarray(centers, dtype=float).reshape(-1, 3)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 3)
    yaws = np.asarray(yaws, dtype=float).reshape(-1)
    local = _CORNER_SIGNS[None, :, :] * (sizes[:, None, :] / 2.0)  # (N,8,3)
    c, s = np.cos(yaws)[:, None], np.sin(yaws)[:, None]
    out = np.empty_like(local)
    out[..., 0] = c * local[..., 0] - s * local[..., 1]
    out[..., 1] = s * local[..., 0] + c * local[..., 1]
    out[..., 2] = local[..., 2]
    return out + centers[:, None, :]


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 homogeneous transform to points (..., 3)."""
    T = np.asarray(T, dtype=float)
    return np.asarray(points, dtype=float) @ T[:3, :3].T + T[:3, 3]


def project_points(points: np.ndarray, T_camera_from_frame: np.ndarray, K: np.ndarray,
                   near_m: float = NEAR_M) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N,2) of points (N,3) in some frame, and whether each is in front of the camera.

    Pixels of points behind the camera are meaningless (NaN); check the mask.
    """
    cam = transform_points(T_camera_from_frame, np.asarray(points, dtype=float).reshape(-1, 3))
    return _pixels(cam, np.asarray(K, dtype=float), near_m)


def _pixels(cam: np.ndarray, K: np.ndarray, near_m: float) -> tuple[np.ndarray, np.ndarray]:
    z = cam[..., 2]
    in_front = z >= near_m
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(in_front, z, np.nan)
        u = (K[0, 0] * cam[..., 0] + K[0, 1] * cam[..., 1]) / zs + K[0, 2]
        v = K[1, 1] * cam[..., 1] / zs + K[1, 2]
    return np.stack([u, v], axis=-1), in_front


def project_boxes(centers: np.ndarray, sizes: np.ndarray, yaws: np.ndarray,
                  T_camera_from_frame: np.ndarray, K: np.ndarray, width_px: int,
                  height_px: int, near_m: float = NEAR_M) -> tuple[np.ndarray, np.ndarray]:
    """Image boxes (N,4) x_min, y_min, x_max, y_max of 3D boxes, and which are visible.

    A box is invisible (mask False, box NaN) when it lies wholly behind the
    near plane or its image box, clipped to [0, width] x [0, height], is empty.
    """
    corners = transform_points(T_camera_from_frame, box_corners(centers, sizes, yaws))
    n = len(corners)
    if n == 0:
        return np.empty((0, 4)), np.zeros(0, dtype=bool)
    # Where an edge crosses the near plane, its crossing point bounds the visible part.
    a, b = corners[:, _EDGES[:, 0]], corners[:, _EDGES[:, 1]]  # (N,12,3)
    za, zb = a[..., 2] - near_m, b[..., 2] - near_m
    crosses = za * zb < 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(crosses, za / (za - zb), 0.0)
    cross_pts = a + t[..., None] * (b - a)
    cross_pts[..., 2] = np.where(crosses, near_m, -1.0)  # non-crossings land behind: masked
    pts = np.concatenate([corners, cross_pts], axis=1)  # (N,20,3)
    uv, ok = _pixels(pts, np.asarray(K, dtype=float), near_m * (1.0 - 1e-9))
    u = np.where(ok, uv[..., 0], np.nan)
    v = np.where(ok, uv[..., 1], np.nan)
    any_ok = ok.any(axis=1)
    boxes = np.full((n, 4), np.nan)
    if any_ok.any():
        with np.errstate(invalid="ignore"):
            boxes[any_ok, 0] = np.nanmin(u[any_ok], axis=1)
            boxes[any_ok, 1] = np.nanmin(v[any_ok], axis=1)
            boxes[any_ok, 2] = np.nanmax(u[any_ok], axis=1)
            boxes[any_ok, 3] = np.nanmax(v[any_ok], axis=1)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, float(width_px))
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, float(height_px))
    with np.errstate(invalid="ignore"):
        visible = any_ok & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes[~visible] = np.nan
    return boxes, visible


def project_box(center: np.ndarray, size: np.ndarray, yaw: float, T_camera_from_frame: np.ndarray,
                K: np.ndarray, width_px: int, height_px: int
                ) -> tuple[float, float, float, float] | None:
    """One box's image box (x_min, y_min, x_max, y_max), or None when not in view."""
    boxes, visible = project_boxes(np.asarray(center)[None], np.asarray(size)[None],
                                   np.array([yaw]), T_camera_from_frame, K, width_px, height_px)
    if not visible[0]:
        return None
    x0, y0, x1, y1 = (float(v) for v in boxes[0])
    return x0, y0, x1, y1


def ground_points_from_pixels(uv: np.ndarray, K: np.ndarray, T_base_from_camera: np.ndarray,
                              ground_z_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Points (N,3) in base_link where the rays of pixels (N,2) meet the plane z = ground_z_m.

    The flat-ground model behind camera-only ranging. The mask is False for
    pixels at or above the horizon (the ray never meets the ground ahead).
    """
    uv = np.asarray(uv, dtype=float).reshape(-1, 2)
    K = np.asarray(K, dtype=float)
    T = np.asarray(T_base_from_camera, dtype=float)
    rays_cam = np.linalg.solve(K, np.column_stack([uv, np.ones(len(uv))]).T).T  # (N,3), z=1
    rays = rays_cam @ T[:3, :3].T
    origin = T[:3, 3]
    down = rays[:, 2] < -1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(down, (ground_z_m - origin[2]) / rays[:, 2], np.nan)
    return origin + s[:, None] * rays, down
