"""Decode and encode `sensor_msgs/PointCloud2` payloads without ROS.

The node hands over the message's fields, steps, size, byte order and data;
this module turns them into an (N, 4) float32 x, y, z, intensity array. The
payload is viewed through a numpy structured dtype (no copy of the message
buffer; only the four wanted columns are converted), so any field order, any
padding between fields and rows, organised clouds and big-endian senders are
read the same way. Anything that cannot be read correctly is refused with a
`PointCloudError` that names the problem, rather than silently misread.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

# sensor_msgs/PointField datatype codes.
INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)

#: PointField datatype code -> numpy scalar type (byte order applied separately).
DATATYPE_TO_NUMPY: dict[int, type[np.generic]] = {
    INT8: np.int8,
    UINT8: np.uint8,
    INT16: np.int16,
    UINT16: np.uint16,
    INT32: np.int32,
    UINT32: np.uint32,
    FLOAT32: np.float32,
    FLOAT64: np.float64,
}

#: Field names read as intensity, first match wins. "reflectance" is KITTI's
#: name, "i" is used by some PCD writers. Ouster's "reflectivity" is a
#: different (calibrated) quantity and deliberately not an alias.
INTENSITY_ALIASES: tuple[str, ...] = ("intensity", "reflectance", "i")

BytesLike = bytes | bytearray | memoryview | array.array


class PointCloudError(ValueError):
    """A PointCloud2 payload that cannot be decoded as described."""


class FieldSpec(NamedTuple):
    """One `sensor_msgs/PointField`: name, byte offset in the point, datatype code, count."""

    name: str
    offset: int
    datatype: int
    count: int = 1

    @classmethod
    def of(cls, field: Any) -> FieldSpec:
        """Copy any object with PointField's attributes (e.g. the rclpy message)."""
        return cls(str(field.name), int(field.offset), int(field.datatype), int(field.count))


@dataclass(frozen=True)
class DecodedCloud:
    """Finite points of a cloud: `points` is (N, 4) float32 x, y, z, intensity.

    `dropped_nonfinite` counts points removed because x, y or z was NaN or
    infinite (organised clouds mark missing returns that way); a finite point
    with a non-finite intensity is kept with intensity 0.
    `intensity_field` is the field read as intensity, or None (zeros).
    """

    points: np.ndarray
    dropped_nonfinite: int
    intensity_field: str | None

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])


def _field_nbytes(field: FieldSpec) -> int:
    return np.dtype(DATATYPE_TO_NUMPY[field.datatype]).itemsize * max(field.count, 1)


def _find(fields: Sequence[FieldSpec], name: str) -> FieldSpec | None:
    for f in fields:
        if f.name == name:
            return f
    return None


def _check_scalar_field(field: FieldSpec, point_step: int) -> None:
    if field.datatype not in DATATYPE_TO_NUMPY:
        raise PointCloudError(
            f"field '{field.name}' has unsupported datatype {field.datatype} "
            f"(PointField codes 1..8: INT8..FLOAT64)")
    if field.count != 1:
        raise PointCloudError(f"field '{field.name}' must have count 1, got {field.count}")
    if field.offset < 0:
        raise PointCloudError(f"field '{field.name}' has negative offset {field.offset}")
    end = field.offset + _field_nbytes(field)
    if end > point_step:
        raise PointCloudError(
            f"point_step {point_step} is smaller than field '{field.name}' needs "
            f"(offset {field.offset} + {_field_nbytes(field)} bytes = {end})")


def decode_xyzi(
    fields: Sequence[FieldSpec],
    point_step: int,
    row_step: int,
    width: int,
    height: int,
    data: BytesLike,
    is_bigendian: bool,
) -> DecodedCloud:
    """Read x, y, z and intensity of every finite point of a PointCloud2 payload.

    Fields other than x, y, z and intensity (ring, time, padding, ...) are
    skipped; an unknown datatype on such a field is ignored, because its
    bytes are never read. Intensity is optional (zeros when absent, see
    `INTENSITY_ALIASES`). Organised clouds (height > 1) may pad rows:
    `row_step` is honoured. Raises `PointCloudError` on anything malformed.
    """
    fields = [f if isinstance(f, FieldSpec) else FieldSpec.of(f) for f in fields]
    if width < 0 or height < 0:
        raise PointCloudError(f"width and height must be >= 0, got {width}x{height}")
    n_points = width * height
    xyz = []
    for name in ("x", "y", "z"):
        f = _find(fields, name)
        if f is None:
            present = ", ".join(repr(g.name) for g in fields) or "none"
            raise PointCloudError(f"missing field '{name}' (fields present: {present})")
        xyz.append(f)
    intensity = next((f for a in INTENSITY_ALIASES if (f := _find(fields, a)) is not None), None)
    wanted = [*xyz, *([intensity] if intensity is not None else [])]
    if point_step <= 0:
        raise PointCloudError(f"point_step must be > 0, got {point_step}")
    for f in wanted:
        _check_scalar_field(f, point_step)
    for f in fields:  # every field we can size must fit, even the ones we skip
        if f.datatype in DATATYPE_TO_NUMPY and f.offset + _field_nbytes(f) > point_step:
            raise PointCloudError(
                f"point_step {point_step} is smaller than field '{f.name}' needs "
                f"(offset {f.offset} + {_field_nbytes(f)} bytes)")
    if row_step < width * point_step:
        raise PointCloudError(
            f"row_step {row_step} is smaller than width * point_step = {width * point_step}")
    nbytes = memoryview(data).nbytes  # len() counts items, not bytes, for array('f')
    buf = np.frombuffer(data, dtype=np.uint8) if nbytes else np.zeros(0, np.uint8)
    if buf.size != row_step * height:
        raise PointCloudError(
            f"data length {buf.size} bytes does not match row_step * height = "
            f"{row_step} * {height} = {row_step * height} (width {width}, point_step "
            f"{point_step})")
    if n_points == 0:
        return DecodedCloud(np.zeros((0, 4), np.float32), 0,
                            intensity.name if intensity else None)

    order = ">" if is_bigendian else "<"
    names = ["x", "y", "z", "i"][: len(wanted)]
    dtype = np.dtype({
        "names": names,
        "formats": [np.dtype(DATATYPE_TO_NUMPY[f.datatype]).newbyteorder(order) for f in wanted],
        "offsets": [f.offset for f in wanted],
        "itemsize": point_step,
    })
    # Zero-copy view of the payload: rows of `width` points, `row_step` apart.
    view = np.ndarray(shape=(height, width), dtype=dtype, buffer=buf,
                      strides=(row_step, point_step))
    out = np.empty((height, width, 4), dtype=np.float32)
    for k, name in enumerate(names):
        out[..., k] = view[name]
    if intensity is None:
        out[..., 3] = 0.0
    out = out.reshape(n_points, 4)
    # x + y + z is non-finite exactly when one of them is (|coordinates| << 1e38);
    # one pass over a column is ~20x faster than isfinite(...).all(axis=1).
    finite = np.isfinite(out[:, 0] + out[:, 1] + out[:, 2])
    dropped = int(n_points - np.count_nonzero(finite))
    if dropped:
        out = out[finite]
    if not np.isfinite(out[:, 3]).all():
        out[~np.isfinite(out[:, 3]), 3] = 0.0
    return DecodedCloud(out, dropped, intensity.name if intensity else None)


def encode_xyzi(
    points: np.ndarray, *, is_bigendian: bool = False
) -> tuple[list[FieldSpec], int, bytes]:
    """(N, 3 or 4) points -> (fields, point_step, data) of a dense float32 x y z intensity cloud.

    The inverse of `decode_xyzi` for the common layout (offsets 0, 4, 8, 12;
    point_step 16; row_step = 16 * N; height 1). Used by tests and the simulator.
    """
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] not in (3, 4):
        raise PointCloudError(f"points must be (N, 3) or (N, 4), got shape {pts.shape}")
    out = np.zeros((pts.shape[0], 4), dtype=np.dtype(np.float32).newbyteorder(
        ">" if is_bigendian else "<"))
    out[:, : pts.shape[1]] = pts
    fields = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32),
              FieldSpec("z", 8, FLOAT32), FieldSpec("intensity", 12, FLOAT32)]
    return fields, 16, out.tobytes()
