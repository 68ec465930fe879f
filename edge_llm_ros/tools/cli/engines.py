"""`build-engine camera MODEL` and `build-engine reasoner CHECKPOINT`: cached TensorRT
engines on this GPU, one subparser per part (different inputs, options and runtimes)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge_llm_ros.tools.cli.common import FORMATTER, add_verb, fail

EDGELLM_CACHE = Path.home() / ".cache" / "edge_llm_ros" / "edgellm"


def camera_engine_settings(args: argparse.Namespace) -> dict[str, Any]:
    """perception.camera.engine.build_engine's keyword arguments from the options."""
    size = {"imgsz": args.imgsz} if args.imgsz else {}
    return {"precision": args.precision, "calib_images_dir": args.calibration,
            "cache_dir": args.cache_dir, "device": args.device, "force": args.force, **size}


def cmd_build_camera_engine(args: argparse.Namespace) -> int:
    from edge_llm_ros.perception.camera.engine import build_engine

    if not args.model.is_file():
        return fail(f"{args.model} is not a model file (.pt or .onnx)")
    print(build_engine(args.model, **camera_engine_settings(args)))
    return 0


def reasoner_engine_settings(args: argparse.Namespace) -> dict[str, Any]:
    """reasoning.edgellm.build_edgellm_engine's keyword arguments from the options."""
    return {"precision": args.precision, "max_input_len": args.max_input_len,
            "max_output_len": args.max_output_len, "force": args.force}


def cmd_build_reasoner_engine(args: argparse.Namespace) -> int:
    from edge_llm_ros.reasoning.edgellm import build_edgellm_engine

    if not args.checkpoint.is_dir():
        return fail(f"{args.checkpoint} is not a Hugging Face checkpoint folder "
                    "(make one with `edge-llm-ros build-reasoner --hf-out DIR`)")
    print(build_edgellm_engine(args.checkpoint, args.cache_dir or EDGELLM_CACHE,
                               **reasoner_engine_settings(args)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    engine = sub.add_parser(
        "build-engine", formatter_class=FORMATTER,
        help="build (or reuse) a cached TensorRT engine: camera model or reasoner",
        description="Build a TensorRT engine on this GPU, or reuse the cached one when nothing "
        "that shapes it changed: `camera` for the YOLO detector, `reasoner` for the TensorRT "
        "Edge-LLM reasoner (`edge-llm-ros build-engine TARGET --help`).",
        epilog="examples:\n  edge-llm-ros build-engine camera models/sim_detector.pt\n"
        "  edge-llm-ros build-engine reasoner out/reasoner-hf")
    targets = engine.add_subparsers(dest="target", required=True, metavar="TARGET")

    p = add_verb(targets, "camera", help="YOLO .pt/.onnx -> TensorRT engine",
                 description="Export a YOLO .pt (or an Ultralytics .onnx) to a TensorRT engine "
                 "on this GPU, cached by model hash, TensorRT version, GPU, precision and input "
                 "size; rebuilt when any changes.",
                 examples=["edge-llm-ros build-engine camera models/sim_detector.pt",
                           "edge-llm-ros build-engine camera my.pt --precision int8 "
                           "--calibration images/"])
    p.add_argument("model", type=Path, help="camera model .pt or .onnx")
    p.add_argument("--precision", choices=["fp16", "int8"], default="fp16")
    p.add_argument("--calibration", type=Path, help="image folder for INT8 calibration")
    p.add_argument("--imgsz", type=int, default=0, help="input size (0: 480x640)")
    p.add_argument("--cache-dir", type=Path, help="engine cache (default: the runtime's)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache matches")
    p.set_defaults(func=cmd_build_camera_engine)

    p = add_verb(targets, "reasoner",
                 help="Hugging Face checkpoint -> TensorRT Edge-LLM engine",
                 description="Build the reasoner's TensorRT Edge-LLM engine from a Hugging Face "
                 "checkpoint folder (`edge-llm-ros build-reasoner --hf-out DIR` makes one), "
                 "cached by model hash, Edge-LLM/TensorRT/CUDA versions, GPU, precision and "
                 "lengths.",
                 examples=["edge-llm-ros build-reasoner --hf-out out/reasoner-hf && \\",
                           "    edge-llm-ros build-engine reasoner out/reasoner-hf",
                           "edge-llm-ros build-engine reasoner out/reasoner-hf --precision auto "
                           "--max-input-len 1024"])
    p.add_argument("checkpoint", type=Path, help="Hugging Face checkpoint folder")
    p.add_argument("--precision", choices=["fp16", "auto"], default="fp16",
                   help="fp16, or auto (keep a pre-quantized checkpoint's format)")
    p.add_argument("--max-input-len", type=int, default=512, help="prompt tokens")
    p.add_argument("--max-output-len", type=int, default=64, help="answer tokens")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help=f"engine cache (default: {EDGELLM_CACHE})")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache matches")
    p.set_defaults(func=cmd_build_reasoner_engine)
