"""sensor_msgs/Image bytes to arrays without cv_bridge: layouts, zero copy, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from edge_llm_ros.perception.camera import ImageEncodingError, ImageError, image_from_msg_bytes
from edge_llm_ros.perception.camera.detector import _to_bgr


def _image(h: int = 4, w: int = 5, c: int = 3) -> np.ndarray:
    return np.arange(h * w * c, dtype=np.uint8).reshape(h, w, c) if c > 1 else \
        np.arange(h * w, dtype=np.uint8).reshape(h, w)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
def test_color_contiguous_is_a_zero_copy_view(encoding: str) -> None:
    img = _image()
    data = bytearray(img.tobytes())
    out = image_from_msg_bytes(data, 5, 4, 15, encoding, False)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)  # channel order is the message's own
    assert np.shares_memory(out, np.frombuffer(data, np.uint8))
    data[0] = 255  # a view: the change shows through
    assert out[0, 0, 0] == 255


def test_mono8_and_memoryview_and_bytes() -> None:
    img = _image(c=1)
    raw = img.tobytes()
    out = image_from_msg_bytes(memoryview(raw), 5, 4, 5, "mono8", True)  # byte order is moot
    assert out.shape == (4, 5)
    np.testing.assert_array_equal(out, img)
    assert np.shares_memory(out, np.frombuffer(raw, np.uint8))
    assert not out.flags.writeable  # bytes are immutable; the view says so


@pytest.mark.parametrize("encoding,channels", [("rgb8", 3), ("bgr8", 3), ("mono8", 1)])
def test_padded_rows_skip_the_padding_without_copying(encoding: str, channels: int) -> None:
    img = _image(c=channels)
    h, w = img.shape[:2]
    step = w * channels + 7  # e.g. rows aligned to a DMA boundary
    padded = np.full((h, step), 0xEE, dtype=np.uint8)
    padded[:, :w * channels] = img.reshape(h, -1)
    data = padded.tobytes()
    out = image_from_msg_bytes(data, w, h, step, encoding)
    np.testing.assert_array_equal(out, img)
    assert np.shares_memory(out, np.frombuffer(data, np.uint8))
    assert out.strides[0] == step
    # The last row's padding may be missing (some drivers send step*(h-1)+row bytes).
    short = data[:step * (h - 1) + w * channels]
    np.testing.assert_array_equal(image_from_msg_bytes(short, w, h, step, encoding), img)


@pytest.mark.parametrize("encoding", ["yuv422", "16UC1", "bayer_rggb8", "rgba8", "32FC1",
                                      "RGB8", ""])
def test_other_encodings_are_refused_by_name(encoding: str) -> None:
    with pytest.raises(ImageEncodingError, match=f"'{encoding}'") as info:
        image_from_msg_bytes(bytes(60), 5, 4, 15, encoding)
    assert isinstance(info.value, ValueError)
    assert "rgb8" in str(info.value)  # says what would be accepted


@pytest.mark.parametrize("data,width,height,step,match", [
    (b"", 5, 4, 15, "empty"),
    (bytes(59), 5, 4, 15, "59 bytes, expected 60"),
    (bytes(61), 5, 4, 15, "61 bytes, expected 60"),
    (bytes(60), 5, 4, 14, "step 14 is shorter"),
    (bytes(60), 0, 4, 15, "must be positive"),
    (bytes(60), 5, -1, 15, "must be positive"),
])
def test_bad_sizes_raise_image_error(data: bytes, width: int, height: int, step: int,
                                     match: str) -> None:
    with pytest.raises(ImageError, match=match):
        image_from_msg_bytes(data, width, height, step, "rgb8")


def test_to_bgr_copies_only_when_it_must() -> None:
    rgb = _image()
    assert _to_bgr(rgb, "bgr8") is rgb  # already what Ultralytics takes
    np.testing.assert_array_equal(_to_bgr(rgb, "rgb8"), rgb[..., ::-1])
    mono = _image(c=1)
    bgr = _to_bgr(mono, "mono8")
    assert bgr.shape == (4, 5, 3) and (bgr == mono[..., None]).all()
    np.testing.assert_array_equal(_to_bgr(mono[..., None], "mono8"), bgr)  # (H,W,1) works too
    padded = image_from_msg_bytes(bytes(4 * 20), 5, 4, 20, "bgr8")
    assert _to_bgr(padded, "bgr8") is padded  # OpenCV and Ultralytics take padded rows
    flipped = rgb[..., ::-1]  # a channel-reversed view: made contiguous once, here
    out = _to_bgr(flipped, "bgr8")
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, flipped)


@pytest.mark.parametrize("image,encoding,match", [
    (np.zeros((4, 5, 3), np.uint8), "mono8", r"does not match 'mono8'"),
    (np.zeros((4, 5), np.uint8), "rgb8", r"does not match 'rgb8'"),
    (np.zeros((4, 5, 4), np.uint8), "bgr8", r"expected \(H, W, 3\)"),
    (np.zeros((4, 5, 3), np.float32), "rgb8", "must be uint8"),
    (np.zeros((0, 5, 3), np.uint8), "rgb8", "empty"),
    ([[0, 0, 0]], "rgb8", "numpy array"),
])
def test_detector_input_checks(image: np.ndarray, encoding: str, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        _to_bgr(image, encoding)
    with pytest.raises(ImageEncodingError, match="'yuv422'"):
        _to_bgr(np.zeros((4, 5, 3), np.uint8), "yuv422")
