"""Perception verbs: perceive (the detectors and fusion on files) and train-detector."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge_llm_ros.tools.cli.common import add_params_file, add_verb, fail


def perceive_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of tools.offline.perceive.perceive from the options; the
    detectors and fusion are configured as their nodes (defaults, then --params-file)."""
    from edge_llm_ros.tools.offline.node_configs import perception_params

    return {"image_path": args.image, "cloud_path": args.cloud, "calib_path": args.calib,
            "model_path": args.model, "annotated_png": args.png,
            "params": perception_params(getattr(args, "params_file", []))}


def cmd_perceive(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.offline.perceive import perceive

    try:
        result = perceive(**perceive_inputs(args))
    except FileNotFoundError as exc:
        return fail(f"{exc.filename}: no such file")
    except ValueError as exc:  # nothing given, a file it cannot read
        return fail(str(exc))
    text = json.dumps(result, indent=None if args.json else 2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0


def train_detector_settings(args: argparse.Namespace) -> dict[str, Any]:
    """train_detector's keyword arguments: only what was given, the rest its defaults."""
    chosen = {"n_images": args.images, "epochs": args.epochs, "imgsz": args.imgsz}
    return {"seed": args.seed, **{k: v for k, v in chosen.items() if v is not None}}


def cmd_train_detector(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.camera import train_detector

    result = train_detector(args.output, **train_detector_settings(args))
    print(json.dumps({"pt": str(result.pt_path), "onnx": str(result.onnx_path),
                      "metrics": result.metrics}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "perceive", help="perception on files (image, cloud, calib)",
                 description="Run the camera detector, the lidar detector and scene fusion on "
                 "files: an image, a point cloud (KITTI .bin or PCD) and a KITTI calibration. "
                 "Prints 2D detections, 3D objects (lidar frame) and the fused scene as JSON; "
                 "--png writes the image annotated with boxes, projected lidar objects and ids.",
                 examples=["edge-llm-ros perceive --image 000002.png --cloud 000002.bin "
                           "--calib 000002.txt \\",
                           "    --png out/000002.png",
                           "edge-llm-ros perceive --cloud scan.pcd --json",
                           "edge-llm-ros perceive --image frame.png --model yolo11n.pt "
                           "--png out/frame.png"])
    p.add_argument("--image", type=Path, help="camera image (PNG/JPEG)")
    p.add_argument("--cloud", type=Path, help="point cloud: KITTI .bin or .pcd")
    p.add_argument("--calib", type=Path,
                   help="KITTI calibration file (P2, R0_rect, Tr_velo_to_cam)")
    p.add_argument("--model", type=Path, help="camera model .pt/.onnx/.engine (default: packaged)")
    p.add_argument("--png", type=Path, help="write the annotated image here")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON here (its scene is "
                   "a scene file `decide` reads)")
    p.add_argument("--json", action="store_true", help="one JSON object on one line")
    add_params_file(p)
    p.set_defaults(func=cmd_perceive)

    p = add_verb(sub, "train-detector", help="train the camera model on simulator images",
                 description="Generate a labelled dataset with the simulator, train a small "
                 "YOLO on the CPU with Ultralytics (offline) and export ONNX: how "
                 "models/sim_detector.* were made.",
                 examples=["edge-llm-ros train-detector -o out/detector",
                           "edge-llm-ros train-detector -o out/detector --images 2000 "
                           "--epochs 40"])
    p.add_argument("-o", "--output", type=Path, required=True, help="working folder")
    p.add_argument("--images", type=int, default=None, help="dataset size")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--imgsz", type=int, default=None, help="training image size")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_detector)
