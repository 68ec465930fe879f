"""File formats for offline perception: KITTI velodyne scans, PCD files, KITTI calibration.

These are what `edge-llm-ros perceive` and the tests read: a KITTI `.bin`
scan (float32 x, y, z, reflectance per point), a PCL `.pcd` file (ASCII or
binary), and a KITTI calibration file, with the projection of lidar points
into the left colour camera. Malformed files raise `KittiFormatError` or
`PcdFormatError` naming the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_llm_ros.perception.pointcloud import (
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    UINT8,
    UINT16,
    UINT32,
    FieldSpec,
    PointCloudError,
    decode_xyzi,
)

PathLike = str | os.PathLike[str]


class KittiFormatError(ValueError):
    """A KITTI scan or calibration file that cannot be read."""


class PcdFormatError(ValueError):
    """A PCD file that cannot be read."""


def read_kitti_bin(path: PathLike) -> np.ndarray:
    """A KITTI velodyne scan -> (N, 4) float32 x, y, z, reflectance in the lidar frame."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) % 16:
        raise KittiFormatError(
            f"{path}: size {len(raw)} bytes is not a multiple of 16 (4 float32 per point)")
    points = np.frombuffer(raw, dtype="<f4").reshape(-1, 4).copy()
    return points


# ---------------------------------------------------------------------------- PCD

_PCD_TYPES: dict[tuple[str, int], int] = {
    ("I", 1): INT8, ("I", 2): INT16, ("I", 4): INT32,
    ("U", 1): UINT8, ("U", 2): UINT16, ("U", 4): UINT32,
    ("F", 4): FLOAT32, ("F", 8): FLOAT64,
}
_PCD_HEADER_KEYS = ("VERSION", "FIELDS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT",
                    "VIEWPOINT", "POINTS", "DATA")


def read_pcd(path: PathLike) -> np.ndarray:
    """A PCD file (DATA ascii or binary) -> (N, 4) float32 x, y, z, intensity.

    Needs fields x, y, z; intensity (or an alias, see
    `pointcloud.INTENSITY_ALIASES`) is optional (zeros). Points with a
    non-finite coordinate are dropped. `binary_compressed` (LZF) is refused
    with a clear error: re-save such files as binary.
    """
    path = Path(path)
    raw = path.read_bytes()
    header: dict[str, list[str]] = {}
    pos = 0
    while "DATA" not in header:
        end = raw.find(b"\n", pos)
        if end < 0:
            raise PcdFormatError(f"{path}: header ends before a DATA line")
        line = raw[pos:end].decode("ascii", errors="replace").strip()
        pos = end + 1
        if not line or line.startswith("#"):
            continue
        key, *values = line.split()
        if key.upper() not in _PCD_HEADER_KEYS:
            raise PcdFormatError(f"{path}: unexpected header line {line!r}")
        header[key.upper()] = values
    for key in ("FIELDS", "SIZE", "TYPE"):
        if key not in header:
            raise PcdFormatError(f"{path}: header has no {key} line")
    names = header["FIELDS"]
    n_fields = len(names)
    counts = [int(c) for c in header.get("COUNT", ["1"] * n_fields)]
    try:
        sizes = [int(s) for s in header["SIZE"]]
        width = int(header.get("WIDTH", ["0"])[0])
        height = int(header.get("HEIGHT", ["1"])[0])
        n_points = int(header.get("POINTS", [str(width * height)])[0])
    except ValueError as exc:
        raise PcdFormatError(f"{path}: non-integer SIZE/WIDTH/HEIGHT/POINTS ({exc})") from None
    types = [t.upper() for t in header["TYPE"]]
    if not (len(sizes) == len(types) == len(counts) == n_fields):
        raise PcdFormatError(
            f"{path}: FIELDS ({n_fields}), SIZE ({len(sizes)}), TYPE ({len(types)}) and "
            f"COUNT ({len(counts)}) disagree in length")
    fields: list[FieldSpec] = []
    offset = 0
    for name, size, typ, count in zip(names, sizes, types, counts, strict=True):
        code = _PCD_TYPES.get((typ, size))
        if code is None:
            raise PcdFormatError(f"{path}: field '{name}' has unsupported TYPE {typ} SIZE {size}")
        fields.append(FieldSpec(name, offset, code, count))
        offset += size * count
    point_step = offset
    data_kind = header["DATA"][0].lower() if header["DATA"] else ""
    body = raw[pos:]
    try:
        if data_kind == "binary":
            need = n_points * point_step
            if len(body) < need:
                raise PcdFormatError(
                    f"{path}: binary body has {len(body)} bytes, {n_points} points of "
                    f"{point_step} bytes need {need}")
            decoded = decode_xyzi(fields, point_step, need, n_points, 1, body[:need], False)
            return decoded.points
        if data_kind == "ascii":
            return _read_pcd_ascii(path, body, fields, counts, n_points)
    except PointCloudError as exc:
        raise PcdFormatError(f"{path}: {exc}") from None
    if data_kind == "binary_compressed":
        raise PcdFormatError(f"{path}: DATA binary_compressed is not supported; "
                             "re-save the file as binary or ascii")
    raise PcdFormatError(f"{path}: unknown DATA kind {data_kind!r}")


def _read_pcd_ascii(path: Path, body: bytes, fields: list[FieldSpec], counts: list[int],
                    n_points: int) -> np.ndarray:
    rows = [ln.split() for ln in body.decode("ascii", errors="replace").splitlines()
            if ln.strip()]
    n_cols = sum(counts)
    if len(rows) != n_points:
        raise PcdFormatError(f"{path}: header says {n_points} points, body has {len(rows)} rows")
    if any(len(r) != n_cols for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != n_cols)
        raise PcdFormatError(
            f"{path}: row {bad} has {len(rows[bad])} values, fields need {n_cols}")
    try:
        table = np.array(rows, dtype=np.float64).reshape(n_points, n_cols)
    except ValueError as exc:
        raise PcdFormatError(f"{path}: non-numeric value in body ({exc})") from None
    # Same rules as the binary path: decode the table as float64 "fields".
    ascii_fields = []
    col = 0
    for f, c in zip(fields, counts, strict=True):
        ascii_fields.append(FieldSpec(f.name, 8 * col, FLOAT64, c))
        col += c
    table = np.ascontiguousarray(table)
    decoded = decode_xyzi(ascii_fields, 8 * n_cols, 8 * n_cols * n_points, n_points, 1,
                          table.tobytes(), False)
    return decoded.points


# ---------------------------------------------------------------------------- calibration

@dataclass(frozen=True)
class KittiCalib:
    """KITTI object-benchmark calibration; matrices as float64 numpy arrays.

    P0..P3 (3, 4) rectified camera projections, R0_rect (3, 3) rectifying
    rotation, Tr_velo_to_cam (3, 4) lidar -> camera 0, Tr_imu_to_velo (3, 4).
    """

    P0: np.ndarray
    P1: np.ndarray
    P2: np.ndarray
    P3: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray

    @property
    def t_rect_from_velo(self) -> np.ndarray:
        """4x4: lidar -> rectified camera 0 frame (x right, y down, z forward)."""
        r = np.eye(4)
        r[:3, :3] = self.R0_rect
        t = np.eye(4)
        t[:3, :] = self.Tr_velo_to_cam
        return r @ t

    def t_camera_from_velo(self, camera: int = 2) -> np.ndarray:
        """4x4: lidar -> rectified camera `camera` (P = K [I | t]: its centre is offset by t
        from rectified camera 0), so that K @ (T @ X) is P @ R0_rect @ Tr_velo_to_cam @ X."""
        P = self.projection(camera)
        t = np.eye(4)
        t[:3, 3] = np.linalg.solve(P[:, :3], P[:, 3])
        return t @ self.t_rect_from_velo

    def projection(self, camera: int) -> np.ndarray:
        """3x4 projection matrix P<camera> of rectified camera 0..3."""
        if camera not in (0, 1, 2, 3):
            raise ValueError(f"KITTI camera must be 0..3, got {camera}")
        return (self.P0, self.P1, self.P2, self.P3)[camera]


# Object benchmark names first; tracking-benchmark spellings as aliases.
_CALIB_KEYS: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "P0": (("P0",), (3, 4)),
    "P1": (("P1",), (3, 4)),
    "P2": (("P2",), (3, 4)),
    "P3": (("P3",), (3, 4)),
    "R0_rect": (("R0_rect", "R_rect"), (3, 3)),
    "Tr_velo_to_cam": (("Tr_velo_to_cam", "Tr_velo_cam"), (3, 4)),
    "Tr_imu_to_velo": (("Tr_imu_to_velo", "Tr_imu_velo"), (3, 4)),
}


def parse_kitti_calib(source: PathLike) -> KittiCalib:
    """Read a KITTI calibration file (`KEY: v1 v2 ...` per line) into `KittiCalib`."""
    path = Path(source)
    values: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            raise KittiFormatError(f"{path}:{lineno}: expected 'KEY: values', got {line!r}")
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            raise KittiFormatError(f"{path}:{lineno}: non-numeric value in {key.strip()}") \
                from None
    out: dict[str, np.ndarray] = {}
    for name, (aliases, shape) in _CALIB_KEYS.items():
        key = next((a for a in aliases if a in values), None)
        if key is None:
            raise KittiFormatError(f"{path}: missing {name}")
        v = values[key]
        if v.size != shape[0] * shape[1]:
            raise KittiFormatError(
                f"{path}: {key} has {v.size} values, expected {shape[0] * shape[1]}")
        out[name] = v.reshape(shape)
    return KittiCalib(**out)


def project_velo_to_image(points: np.ndarray, calib: KittiCalib,
                          camera: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Lidar points (N, >=3) -> pixel coordinates (N, 2) and depth (N,) in camera `camera`.

    Computes `P @ R0_rect @ Tr_velo_to_cam @ [X, 1]`; depth is the third
    homogeneous coordinate (metres along the camera axis). Points at or behind
    the image plane (depth <= 0) get NaN pixels, so they cannot wrap into view.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"points must be (N, >=3), got shape {pts.shape}")
    M = calib.projection(camera) @ calib.t_rect_from_velo  # (3, 4)
    h = pts[:, :3] @ M[:, :3].T + M[:, 3]
    depth = h[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = h[:, :2] / depth[:, None]
    uv[depth <= 0] = np.nan
    return uv, depth
