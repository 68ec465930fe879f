"""`bench perception | reasoner | offload | system`: speed and accuracy figures, one subparser per
target with only its own options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge_llm_ros.tools.cli.common import (
    FORMATTER,
    add_json_flag,
    add_model_args,
    add_params_file,
    add_verb,
    fail,
    print_figures,
    progress,
    reasoner_configs,
    reasoner_from,
)

# Beside the repository, as the tests find it (test/conftest.py): shared/data/kitti.
DEFAULT_KITTI = Path(__file__).resolve().parents[4] / "shared" / "data" / "kitti"


KITTI_CAMERA_DEFAULT = Path("models/coco_centernet/centernet.json")


def kitti_camera_model(value: str) -> Path | str:
    """The camera model for the KITTI fusion figures, or why there are none."""
    if value.strip().lower() in ("", "none"):
        return "skipped: --kitti-camera none"
    from edge_llm_ros.perception.camera.model_source import ModelLoadError, resolve_model

    relative = Path(value)
    if relative == KITTI_CAMERA_DEFAULT:
        relative = Path(*relative.parts[1:])  # models/ is where resolve_model looks
    try:
        return resolve_model(relative, fetch=False).path
    except ModelLoadError as exc:
        hint = (" (scripts/fetch_coco_centernet.sh fetches it)"
                if Path(value) == KITTI_CAMERA_DEFAULT else "")
        return f"skipped: {exc}{hint}"


def perception_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What `bench perception` measures: frames per timing, the KITTI folder, camera models."""
    from edge_llm_ros.paths import model_file

    models = [] if args.skip_camera else (
        args.camera_model or [model_file("sim_detector.onnx"), model_file("sim_detector.pt")])
    return {"frames": args.frames, "kitti": args.kitti, "camera_models": models}


def cmd_bench_perception(args: argparse.Namespace) -> int:
    from edge_llm_ros.fusion import FusionConfig
    from edge_llm_ros.perception.lidar import LidarDetectorConfig
    from edge_llm_ros.tools.bench.fusion import benchmark_fusion
    from edge_llm_ros.tools.bench.perception import benchmark_lidar
    from edge_llm_ros.tools.evaluation.perception import (
        evaluate_kitti_000002,
        evaluate_lidar_on_sim,
    )
    from edge_llm_ros.tools.offline.node_configs import perception_params

    settings = perception_settings(args)
    frames, kitti = settings["frames"], settings["kitti"]
    params = perception_params(args.params_file)  # the nodes' configs: defaults, then files
    lidar_config = LidarDetectorConfig.from_params(params["lidar_detector"])
    figures: dict[str, Any] = {}
    say = progress(args.json)
    say(f"lidar_detector speed: {frames} frames of a 120k-point sweep, one core ...")
    figures["lidar_speed"] = benchmark_lidar(n_frames=frames, config=lidar_config)
    say(json.dumps(figures["lidar_speed"], indent=2))
    say("scene_fusion speed: 50 tracked objects ...")
    figures["fusion_speed"] = benchmark_fusion(
        n_frames=frames, n_objects=50, config=FusionConfig.from_params(params["scene_fusion"]))
    say(json.dumps(figures["fusion_speed"], indent=2))
    say("lidar 3D accuracy on simulator scenarios ...")
    figures["lidar_accuracy_sim"] = evaluate_lidar_on_sim(config=lidar_config)
    say(json.dumps(figures["lidar_accuracy_sim"], indent=2))
    if (kitti / "label_2").is_dir():
        from edge_llm_ros.tools.bench.perception import benchmark_lidar_kitti

        say(f"lidar on the labelled KITTI frames in {kitti} ...")
        figures["lidar_kitti_labelled"] = benchmark_lidar_kitti(kitti)
        say(json.dumps(figures["lidar_kitti_labelled"], indent=2))
        camera = kitti_camera_model(args.kitti_camera)
        if isinstance(camera, Path):
            from edge_llm_ros.tools.bench.perception import benchmark_camera_fusion_kitti

            say(f"lidar + camera ({camera}) on the labelled KITTI frames ...")
            figures["camera_fused_kitti_labelled"] = benchmark_camera_fusion_kitti(kitti, camera)
            say(json.dumps(figures["camera_fused_kitti_labelled"], indent=2))
        else:
            figures["camera_fused_kitti_labelled"] = camera
    elif kitti.is_dir():
        say(f"lidar on the real KITTI frame in {kitti} ...")
        figures["lidar_kitti_000002"] = evaluate_kitti_000002(kitti)
        say(json.dumps(figures["lidar_kitti_000002"], indent=2))
    else:
        figures["lidar_kitti_000002"] = f"skipped: {kitti} not found"
    if settings["camera_models"]:
        from edge_llm_ros.tools.bench.camera import benchmark_camera

        for model in settings["camera_models"]:
            say(f"camera_detector overhead and 2D accuracy: {model} ...")
            key = f"camera_{Path(model).name}"
            figures[key] = benchmark_camera(model, n_frames=frames,
                                            device=str(params["camera_detector"]["device"]))
            say(json.dumps(figures[key], indent=2))
    print(json.dumps(figures))
    return 0


def cmd_bench_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.bench.reasoner import benchmark_reasoner

    say = progress(args.json)
    settings, config = reasoner_configs(args)
    reasoner = reasoner_from(settings, config)
    baseline = None
    try:
        if args.baseline_scenes > 0:
            from edge_llm_ros.paths import model_file
            from edge_llm_ros.reasoning.encoding import PROMPT_INTENT
            from edge_llm_ros.reasoning.model_files import (
                ADAPTER_DIR_NAME,
                DECISION_ARCHIVE_DIR_NAME,
                base_gguf_path,
            )
            from edge_llm_ros.tools.bench.reasoner_baseline import NaiveTransformersBaseline

            say("loading the naive baseline (fp32 transformers) ...")
            fmt = reasoner.backend.prompt_format if reasoner.backend else ""
            weights = args.adapter or model_file(
                DECISION_ARCHIVE_DIR_NAME if fmt == PROMPT_INTENT else ADAPTER_DIR_NAME)
            baseline = NaiveTransformersBaseline(base_gguf_path(), weights,
                                                 threads=settings.threads, prompt_format=fmt)
        figures = benchmark_reasoner(reasoner, scenes=args.scenes,
                                     deadline_ms=config.deadline_ms, baseline=baseline,
                                     baseline_scenes=args.baseline_scenes,
                                     threads=settings.threads, log=say)
    finally:
        reasoner.close()
    print_figures(figures, args.json)
    return 0


def offload_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What `bench offload` runs: the link profiles in order, seconds on each."""
    from edge_llm_ros.tools.bench.offload import BENCH_PROFILES

    return {"profile_names": tuple(args.profile) if args.profile else BENCH_PROFILES,
            "seconds_per_profile": args.seconds_per_profile}


def cmd_bench_offload(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.bench.offload import benchmark_offload

    try:
        figures = benchmark_offload(**offload_settings(args), log=progress(args.json))
    except (RuntimeError, ValueError) as exc:
        return fail(str(exc))
    print_figures(figures, args.json)
    return 0


def cmd_bench_system(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.bench.system import benchmark_system

    try:
        figures = benchmark_system(args.out, seconds=args.seconds, scenario=args.scenario,
                                   plans=args.plan or ("cpu_2core", "none"),
                                   remote=args.remote, log=progress(args.json))
    except (RuntimeError, ValueError) as exc:
        return fail(str(exc))
    print_figures(figures, args.json)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", formatter_class=FORMATTER, help="speed and accuracy benchmarks",
        description="Speed and accuracy figures of one part; each target has its own options "
        "(`edge-llm-ros bench TARGET --help`).",
        epilog="examples:\n  edge-llm-ros bench perception --json\n"
        "  edge-llm-ros bench reasoner --deadline-ms 100\n"
        "  sudo edge-llm-ros bench offload --json\n"
        "  edge-llm-ros bench system --json")
    targets = bench.add_subparsers(dest="target", required=True, metavar="TARGET")

    p = add_verb(targets, "perception", help="lidar and fusion speed, camera overhead, accuracy",
                description="lidar_detector speed (120k-point sweep, one core), fusion speed "
                "(50 tracks), camera node overhead over bare Ultralytics (same model and "
                "runtime), 2D and 3D accuracy on simulator scenarios, and real KITTI frames "
                "(labelled ones: recall, precision in view, class accuracy, held-out gate).",
                examples=["edge-llm-ros bench perception",
                          "edge-llm-ros bench perception --json --frames 300",
                          "edge-llm-ros bench perception --skip-camera",
                          "edge-llm-ros bench perception --kitti ../shared/data/kitti_labelled "
                          "--json"])
    p.add_argument("--frames", type=int, default=200, help="timed frames per figure")
    p.add_argument("--kitti", type=Path, default=DEFAULT_KITTI,
                   help="folder holding KITTI frame 000002, or labelled KITTI frames "
                   "(velodyne/, calib/, label_2/, image_2/): recall, precision in the "
                   "camera's view, class accuracy, centre error, time per real scan")
    p.add_argument("--camera-model", type=Path, action="append",
                   help="camera model(s) to benchmark (default: the packaged .onnx and .pt)")
    p.add_argument("--kitti-camera", default=str(KITTI_CAMERA_DEFAULT),
                   help="labelled KITTI frames: a COCO camera model for region-of-interest "
                   "fusion on image_2 (.json TF.js CenterNet or an Ultralytics .pt/.onnx), "
                   "reported beside the lidar alone; 'none' skips it (default: the CenterNet "
                   "scripts/fetch_coco_centernet.sh puts in models/, skipped when absent)")
    p.add_argument("--skip-camera", action="store_true", help="skip the camera figures")
    add_params_file(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_bench_perception)

    p = add_verb(targets, "reasoner", help="reasoner latency, deadline hits, decode efficiency",
                description="Time to first token, decode tokens/s (and its share of the "
                "memory-bandwidth ceiling), time to settled action, decision latency p50/p99, "
                "deadline hit rate and model-settled share, with the naive fp32 transformers "
                "baseline in the same run.",
                examples=["edge-llm-ros bench reasoner --json",
                          "edge-llm-ros bench reasoner --deadline-ms 100 --baseline-scenes 0",
                          "edge-llm-ros bench reasoner --scenes 400 --model "
                          "out/reasoner.Q4_K_M.gguf"])
    p.add_argument("--scenes", type=int, default=200, help="timed scenes")
    p.add_argument("--baseline-scenes", type=int, default=30,
                   help="scenes for the naive baseline (0: skip it)")
    p.add_argument("--adapter", type=Path, default=None,
                   help="the adapter or decision-model archive --model was built from, for the "
                   "naive baseline (the same "
                   "tuned model in fp32; default: models/reasoner_lora)")
    add_model_args(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_bench_reasoner)

    p = add_verb(targets, "offload", help="(root) the offload link switched through profiles",
                description="Needs root (network namespaces): the vehicle and the remote "
                "planner in two namespaces, the link switched live through the profiles; per "
                "profile the share sent remote, plan round trip p50/p99, decisions by deadline, "
                "bytes per plan.",
                examples=["sudo edge-llm-ros bench offload --json",
                          "edge-llm-ros bench offload --profile 1mbit_100ms "
                          "--seconds-per-profile 60"])
    p.add_argument("--profile", action="append", metavar="NAME",
                   help="link profile(s) to run, in order (default: 100mbit_20ms, "
                   "10mbit_50ms, 1mbit_100ms, 256kbit_300ms_5pct_loss)")
    p.add_argument("--seconds-per-profile", type=float, default=40.0,
                   help="seconds on each profile")
    add_json_flag(p)
    p.set_defaults(func=cmd_bench_offload)

    p = add_verb(targets, "system", help="the whole pipeline, live and replayed, plan on/off",
                description="The on-board pipeline as a user runs it on this machine: the live "
                "simulator with every node (sim --pipeline), then its recording replayed "
                "through the on-board nodes alone (replay --pipeline), each with a compute "
                "plan and without one; per run: decisions by the deadline, share decided by "
                "the model, e2e sensor -> decision p50/p99, each stage's latency.",
                examples=["edge-llm-ros bench system --json",
                          "edge-llm-ros bench system --seconds 120 --plan cpu_2core "
                          "--out out/bench-system"])
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of each live run")
    p.add_argument("--scenario", default="mixed_traffic", help="simulator scenario (looped)")
    p.add_argument("--plan", action="append", metavar="PLAN",
                   help="compute plan(s) to compare, in order (default: cpu_2core, none)")
    p.add_argument("--remote", action="store_true",
                   help="also run the remote planner during the live runs")
    p.add_argument("--out", type=Path, default=Path("out") / "bench-system",
                   help="folder for the recordings (must not hold earlier runs)")
    add_json_flag(p)
    p.set_defaults(func=cmd_bench_system)
