"""The TF.js graph executor against loops written from TensorFlow's op definitions, on a
small graph model built here (float16-quantized weights, asymmetric SAME padding)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from edge_llm_ros.perception.camera.model_source import ModelLoadError
from edge_llm_ros.perception.camera.tfjs_graph import TfjsGraph

RNG = np.random.default_rng(7)
W_CONV = RNG.normal(size=(3, 3, 3, 4)).astype(np.float16)  # kh, kw, in, out
B_CONV = RNG.normal(size=4).astype(np.float32)
W_DW = RNG.normal(size=(3, 3, 4, 1)).astype(np.float32)  # kh, kw, in, multiplier


def _attr_s(v: str) -> dict:
    return {"s": base64.b64encode(v.encode()).decode()}


def _attr_list_i(v: list[int]) -> dict:
    return {"list": {"i": [str(i) for i in v]}}


def _attr_list_s(v: list[str]) -> dict:
    return {"list": {"s": [base64.b64encode(x.encode()).decode() for x in v]}}


def _write_model(folder: Path, extra_node: dict | None = None) -> Path:
    consts = {"w_conv": (W_CONV, "float32", {"dtype": "float16"}),
              "b_conv": (B_CONV, "float32", None), "w_dw": (W_DW, "float32", None),
              "size": (np.array([8, 8], np.int32), "int32", None),
              "axes": (np.array([1, 2], np.int32), "int32", None),
              "axis": (np.array(3, np.int32), "int32", None)}
    conv = {"strides": _attr_list_i([1, 2, 2, 1]), "padding": _attr_s("SAME"),
            "data_format": _attr_s("NHWC"), "dilations": _attr_list_i([1, 1, 1, 1])}
    nodes = [{"name": "images", "op": "Placeholder", "attr": {}}]
    nodes += [{"name": k, "op": "Const", "attr": {}} for k in consts]
    nodes += [
        {"name": "conv", "op": "_FusedConv2D", "input": ["images", "w_conv", "b_conv"],
         "attr": {**conv, "fused_ops": _attr_list_s(["BiasAdd", "Relu"])}},
        {"name": "dw", "op": "DepthwiseConv2dNative", "input": ["conv", "w_dw"],
         "attr": {**conv, "strides": _attr_list_i([1, 1, 1, 1])}},
        {"name": "up", "op": "ResizeBilinear", "input": ["dw", "size"],
         "attr": {"align_corners": {"b": False}, "half_pixel_centers": {"b": False}}},
        {"name": "pool", "op": "MaxPool", "input": ["up"],
         "attr": {"ksize": _attr_list_i([1, 3, 3, 1]), "strides": _attr_list_i([1, 1, 1, 1]),
                  "padding": _attr_s("SAME"), "data_format": _attr_s("NHWC")}},
        {"name": "mean", "op": "Mean", "input": ["pool", "axes"],
         "attr": {"keep_dims": {"b": True}}},
        {"name": "gate", "op": "Sigmoid", "input": ["mean"]},
        {"name": "scaled", "op": "Mul", "input": ["pool", "gate"]},
        {"name": "both", "op": "ConcatV2", "input": ["scaled", "up", "axis"]},
    ]
    if extra_node:
        nodes.append(extra_node)
    blob, manifest = b"", []
    for name, (arr, dtype, quant) in consts.items():
        stored = arr.astype(np.float16) if quant else arr
        blob += stored.tobytes()
        entry = {"name": name, "shape": list(arr.shape), "dtype": dtype}
        if quant:
            entry["quantization"] = quant
        manifest.append(entry)
    (folder / "w.bin").write_bytes(blob)
    spec = {"format": "graph-model", "modelTopology": {"node": nodes},
            "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}]}
    path = folder / "model.json"
    path.write_text(json.dumps(spec))
    return path


def _same(x: np.ndarray, k: int, stride: int) -> tuple[np.ndarray, int]:
    """TensorFlow SAME padding: the odd pixel goes after (bottom, right)."""
    size = x.shape[0]
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    before = total // 2
    return np.pad(x, ((before, total - before), (before, total - before), (0, 0))), out


def _reference(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, out = _same(image, 3, 2)
    w = W_CONV.astype(np.float32)
    conv = np.zeros((out, out, 4))
    for i in range(out):
        for j in range(out):
            conv[i, j] = np.einsum("abc,abco->o", x[2 * i:2 * i + 3, 2 * j:2 * j + 3], w)
    conv = np.maximum(conv + B_CONV, 0.0)
    x, out = _same(conv, 3, 1)
    dw = np.zeros_like(conv)
    for i in range(out):
        for j in range(out):
            dw[i, j] = np.einsum("abc,abc->c", x[i:i + 3, j:j + 3], W_DW[..., 0])
    # legacy resize: source = destination * in / out, no half-pixel offset
    src = np.arange(8) * (dw.shape[0] / 8)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, dw.shape[0] - 1)
    f = src - lo
    rows = dw[lo] * (1 - f)[:, None, None] + dw[hi] * f[:, None, None]
    up = rows[:, lo] * (1 - f)[None, :, None] + rows[:, hi] * f[None, :, None]
    padded = np.pad(up, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    pool = np.max([padded[a:a + 8, b:b + 8] for a in range(3) for b in range(3)], axis=0)
    gate = 1.0 / (1.0 + np.exp(-pool.mean(axis=(0, 1))))
    return np.concatenate([pool * gate, up], axis=-1), up


def test_graph_matches_the_op_definitions(tmp_path: Path) -> None:
    graph = TfjsGraph(_write_model(tmp_path))
    image = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)  # SAME, stride 2: pads 0 | 1
    out = graph.run({"images": image}, ["both", "up"])
    want_both, want_up = _reference(image[0])
    assert out["both"].shape == (1, 8, 8, 8)
    np.testing.assert_allclose(out["up"][0], want_up, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["both"][0], want_both, rtol=1e-4, atol=1e-4)


def test_unknown_op_missing_input_and_truncated_weights_are_clear_errors(tmp_path: Path) -> None:
    path = _write_model(tmp_path, {"name": "odd", "op": "Erf", "input": ["both"]})
    graph = TfjsGraph(path)
    assert graph.unsupported_ops == ("Erf",)
    graph.check_outputs(["both"])  # what the output needs is supported
    with pytest.raises(ModelLoadError, match="op Erf is not supported"):
        graph.check_outputs(["odd"])
    with pytest.raises(ModelLoadError, match="input 'images' was not given"):
        graph.run({}, ["both"])
    with pytest.raises(ModelLoadError, match="no node 'nothing'"):
        graph.run({"images": np.zeros((1, 7, 7, 3), np.float32)}, ["nothing"])
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match="past the end of its shard"):
        TfjsGraph(path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a TensorFlow.js graph model"):
        TfjsGraph(path)
