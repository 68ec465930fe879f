"""PointCloud2 payload decoding: layouts real drivers publish, and every malformed case.

Payloads are built here with numpy structured arrays (not with `encode_xyzi`),
so the decoder is checked against an independent writer of each layout.
"""

from __future__ import annotations

import array

import numpy as np
import pytest

from edge_llm_ros.perception.pointcloud import (
    FLOAT32,
    FLOAT64,
    INT8,
    INT16,
    UINT8,
    UINT16,
    UINT32,
    DecodedCloud,
    FieldSpec,
    PointCloudError,
    decode_xyzi,
    encode_xyzi,
)

_NP = {INT8: "i1", UINT8: "u1", INT16: "i2", UINT16: "u2", UINT32: "u4", FLOAT32: "f4",
       FLOAT64: "f8"}


def _payload(fields: list[FieldSpec], point_step: int, values: dict[str, np.ndarray],
             big_endian: bool = False) -> bytes:
    """Pack columns into a point_step-strided buffer exactly as `fields` describe."""
    order = ">" if big_endian else "<"
    dtype = np.dtype({"names": [f.name for f in fields],
                      "formats": [order + _NP[f.datatype] for f in fields],
                      "offsets": [f.offset for f in fields], "itemsize": point_step})
    n = len(next(iter(values.values())))
    arr = np.zeros(n, dtype=dtype)
    for name, col in values.items():
        arr[name] = col
    return arr.tobytes()


def _xyzi(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-50, 50, size=(n, 4)).astype(np.float32)
    pts[:, 3] = rng.uniform(0, 255, n).astype(np.float32)
    return pts


def _decode(fields: list[FieldSpec], point_step: int, data: bytes, n: int,
            big_endian: bool = False) -> DecodedCloud:
    return decode_xyzi(fields, point_step, point_step * n, n, 1, data, big_endian)


def test_dense_xyzi_roundtrip_through_encoder() -> None:
    pts = _xyzi(1000)
    fields, step, data = encode_xyzi(pts)
    out = decode_xyzi(fields, step, step * 1000, 1000, 1, data, False)
    assert out.points.dtype == np.float32 and out.points.shape == (1000, 4)
    np.testing.assert_array_equal(out.points, pts)
    assert out.dropped_nonfinite == 0
    assert out.intensity_field == "intensity"


def test_velodyne_layout_with_ring_and_time_and_padding() -> None:
    # velodyne_pointcloud: x y z (pad) intensity ring time in a 32-byte point.
    fields = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32),
              FieldSpec("z", 8, FLOAT32), FieldSpec("intensity", 16, FLOAT32),
              FieldSpec("ring", 20, UINT16), FieldSpec("time", 24, FLOAT32)]
    pts = _xyzi(500, seed=1)
    data = _payload(fields, 32, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2],
                                 "intensity": pts[:, 3], "ring": np.arange(500) % 32,
                                 "time": np.linspace(0, 0.1, 500)})
    out = _decode(fields, 32, data, 500)
    np.testing.assert_array_equal(out.points, pts)


def test_ouster_layout_48_bytes_uint16_reflectivity_not_read_as_intensity() -> None:
    # Ouster: x y z (pad) intensity(f32) t(u32) reflectivity(u16) ring(u16) ambient range.
    fields = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32),
              FieldSpec("z", 8, FLOAT32), FieldSpec("intensity", 16, FLOAT32),
              FieldSpec("t", 20, UINT32), FieldSpec("reflectivity", 24, UINT16),
              FieldSpec("ring", 26, UINT16), FieldSpec("ambient", 28, UINT16),
              FieldSpec("range", 32, UINT32)]
    pts = _xyzi(300, seed=2)
    data = _payload(fields, 48, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2],
                                 "intensity": pts[:, 3], "reflectivity": np.full(300, 7)})
    out = _decode(fields, 48, data, 300)
    np.testing.assert_array_equal(out.points, pts)


def test_any_field_order_and_mixed_types() -> None:
    # intensity first, then z (float64), x, y; intensity as uint8.
    fields = [FieldSpec("intensity", 0, UINT8), FieldSpec("z", 4, FLOAT64),
              FieldSpec("x", 12, FLOAT32), FieldSpec("y", 16, FLOAT32)]
    pts = _xyzi(200, seed=3)
    pts[:, 3] = np.round(pts[:, 3])
    data = _payload(fields, 24, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2].astype(np.float64),
                                 "intensity": pts[:, 3].astype(np.uint8)})
    out = _decode(fields, 24, data, 200)
    np.testing.assert_array_equal(out.points, pts)


def test_organised_cloud_with_row_padding() -> None:
    height, width, step = 4, 50, 16
    row_step = width * step + 24  # 24 junk bytes at the end of each row
    pts = _xyzi(height * width, seed=4)
    rows = np.full((height, row_step), 0xAB, dtype=np.uint8)
    for r in range(height):
        rows[r, : width * step] = np.frombuffer(pts[r * width:(r + 1) * width].tobytes(),
                                                dtype=np.uint8)
    fields, _, _ = encode_xyzi(pts[:1])
    out = decode_xyzi(fields, step, row_step, width, height, rows.tobytes(), False)
    np.testing.assert_array_equal(out.points, pts)  # row-major order preserved


def test_big_endian() -> None:
    pts = _xyzi(100, seed=5)
    fields = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32),
              FieldSpec("z", 8, FLOAT32), FieldSpec("intensity", 12, INT16)]
    pts[:, 3] = np.round(pts[:, 3])
    data = _payload(fields, 16, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2],
                                 "intensity": pts[:, 3].astype(np.int16)}, big_endian=True)
    out = _decode(fields, 16, data, 100, big_endian=True)
    np.testing.assert_array_equal(out.points, pts)
    # The same bytes read as little-endian are garbage: the flag is honoured.
    assert not np.array_equal(_decode(fields, 16, data, 100).points, pts)


def test_encoder_big_endian_roundtrip() -> None:
    pts = _xyzi(10, seed=6)
    fields, step, data = encode_xyzi(pts, is_bigendian=True)
    out = decode_xyzi(fields, step, step * 10, 10, 1, data, True)
    np.testing.assert_array_equal(out.points, pts)


def test_missing_intensity_gives_zeros_and_aliases_are_read() -> None:
    pts = _xyzi(20, seed=7)
    xyz = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32), FieldSpec("z", 8, FLOAT32)]
    data = _payload(xyz, 12, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2]})
    out = _decode(xyz, 12, data, 20)
    assert out.intensity_field is None
    np.testing.assert_array_equal(out.points[:, :3], pts[:, :3])
    assert np.all(out.points[:, 3] == 0.0)
    for alias in ("reflectance", "i"):
        fields = [*xyz, FieldSpec(alias, 12, FLOAT32)]
        data = _payload(fields, 16, {"x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2],
                                     alias: pts[:, 3]})
        out = _decode(fields, 16, data, 20)
        assert out.intensity_field == alias
        np.testing.assert_array_equal(out.points[:, 3], pts[:, 3])


def test_nonfinite_points_dropped_and_counted() -> None:
    pts = _xyzi(10, seed=8)
    pts[1, 0] = np.nan
    pts[4, 2] = np.inf
    pts[7, 1] = -np.inf
    pts[9, 3] = np.nan  # finite position, bad intensity: kept with intensity 0
    fields, step, data = encode_xyzi(pts)
    out = decode_xyzi(fields, step, step * 10, 10, 1, data, False)
    assert out.dropped_nonfinite == 3
    assert out.n_points == 7
    keep = [0, 2, 3, 5, 6, 8, 9]
    np.testing.assert_array_equal(out.points[:, :3], pts[keep, :3])
    assert out.points[-1, 3] == 0.0
    assert np.isfinite(out.points).all()


def test_all_nan_organised_cloud_gives_empty() -> None:
    pts = np.full((6, 4), np.nan, dtype=np.float32)
    fields, step, data = encode_xyzi(pts)
    out = decode_xyzi(fields, step, step * 3, 3, 2, data, False)
    assert out.points.shape == (0, 4)
    assert out.dropped_nonfinite == 6


def test_empty_cloud() -> None:
    fields, step, _ = encode_xyzi(np.zeros((1, 4)))
    out = decode_xyzi(fields, step, 0, 0, 1, b"", False)
    assert out.points.shape == (0, 4) and out.dropped_nonfinite == 0


def test_accepts_memoryview_bytearray_and_array_buffers() -> None:
    pts = _xyzi(8, seed=9)
    fields, step, data = encode_xyzi(pts)
    for buf in (memoryview(data), bytearray(data), array.array("B", data),
                array.array("f", pts.ravel().tolist())):
        out = decode_xyzi(fields, step, step * 8, 8, 1, buf, False)
        np.testing.assert_array_equal(out.points, pts)


def test_fields_from_message_like_objects() -> None:
    class PointField:  # what rclpy hands the node
        def __init__(self, name: str, offset: int, datatype: int, count: int) -> None:
            self.name, self.offset, self.datatype, self.count = name, offset, datatype, count

    pts = _xyzi(5, seed=10)
    fields, step, data = encode_xyzi(pts)
    msg_fields = [PointField(f.name, f.offset, f.datatype, f.count) for f in fields]
    out = decode_xyzi(msg_fields, step, step * 5, 5, 1, data, False)  # type: ignore[arg-type]
    np.testing.assert_array_equal(out.points, pts)
    assert FieldSpec.of(msg_fields[0]) == fields[0]


# ------------------------------------------------------------------ malformed input

XYZ = [FieldSpec("x", 0, FLOAT32), FieldSpec("y", 4, FLOAT32), FieldSpec("z", 8, FLOAT32)]


@pytest.mark.parametrize("missing", ["x", "y", "z"])
def test_missing_coordinate_raises(missing: str) -> None:
    fields = [f for f in XYZ if f.name != missing]
    with pytest.raises(PointCloudError, match=f"missing field '{missing}'"):
        decode_xyzi(fields, 12, 12, 1, 1, bytes(12), False)


def test_point_step_too_small_for_fields() -> None:
    with pytest.raises(PointCloudError, match="point_step 10 is smaller than field 'z'"):
        decode_xyzi(XYZ, 10, 10, 1, 1, bytes(10), False)
    # ... also for a field the decoder would skip
    fields = [*XYZ, FieldSpec("time", 12, FLOAT64)]
    with pytest.raises(PointCloudError, match="smaller than field 'time'"):
        decode_xyzi(fields, 16, 16, 1, 1, bytes(16), False)


def test_point_step_not_positive() -> None:
    with pytest.raises(PointCloudError, match="point_step must be > 0"):
        decode_xyzi(XYZ, 0, 0, 1, 1, b"", False)


@pytest.mark.parametrize("length", [0, 23, 25, 36])
def test_data_length_mismatch(length: int) -> None:
    with pytest.raises(PointCloudError, match=rf"data length {length} bytes does not match "
                                              r"row_step \* height = 12 \* 2 = 24"):
        decode_xyzi(XYZ, 12, 12, 1, 2, bytes(length), False)


def test_row_step_smaller_than_a_row() -> None:
    with pytest.raises(PointCloudError, match="row_step 20 is smaller than width"):
        decode_xyzi(XYZ, 12, 20, 2, 1, bytes(20), False)


@pytest.mark.parametrize("datatype", [0, 9, 42])
def test_unsupported_datatype(datatype: int) -> None:
    fields = [XYZ[0], FieldSpec("y", 4, datatype), XYZ[2]]
    with pytest.raises(PointCloudError, match=f"field 'y' has unsupported datatype {datatype}"):
        decode_xyzi(fields, 12, 12, 1, 1, bytes(12), False)


def test_unknown_datatype_on_skipped_field_is_ignored() -> None:
    fields = [*XYZ, FieldSpec("vendor_blob", 12, 99)]
    pts = np.array([[1.0, 2.0, 3.0]], dtype="<f4")
    data = pts.tobytes() + bytes(4)
    out = decode_xyzi(fields, 16, 16, 1, 1, data, False)
    np.testing.assert_array_equal(out.points[0, :3], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("count", [0, 3])
def test_coordinate_count_must_be_one(count: int) -> None:
    fields = [FieldSpec("x", 0, FLOAT32, count), XYZ[1], XYZ[2]]
    with pytest.raises(PointCloudError, match=f"field 'x' must have count 1, got {count}"):
        decode_xyzi(fields, 24, 24, 1, 1, bytes(24), False)


def test_negative_size_rejected() -> None:
    with pytest.raises(PointCloudError, match="width and height must be >= 0"):
        decode_xyzi(XYZ, 12, 12, -1, 1, b"", False)


def test_point_cloud_error_is_a_value_error() -> None:
    assert issubclass(PointCloudError, ValueError)


def test_encoder_rejects_bad_shape() -> None:
    with pytest.raises(PointCloudError, match="points must be"):
        encode_xyzi(np.zeros((4, 2)))
