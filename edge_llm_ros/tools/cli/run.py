"""Verbs that start ROS nodes or read bags: run, sim, replay, record, info."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from edge_llm_ros.paths import config_file
from edge_llm_ros.tools.cli.common import add_node_args, add_verb, parse_set
from edge_llm_ros.tools.cli.processes import (
    print_bag_summary,
    run_in_process,
    start_pipeline_process,
    stop_pipeline_process,
)

Overrides = dict[str, dict[str, Any]]


def cmd_run(args: argparse.Namespace) -> int:
    kinds = [k for k in args.nodes.split(",") if k]
    files = [Path(f) for f in args.params_file]
    return run_in_process(kinds, args, files, parse_set(args.param),
                          until_finished=args.until_finished)


def sim_overrides(args: argparse.Namespace) -> Overrides:
    """The simulator's (and recorder's) parameters: -p overrides, then the named flags."""
    overrides = parse_set(args.param)
    sim = overrides.setdefault("simulator", {})
    for key, value in (("scenario", args.scenario), ("seed", args.seed),
                       ("realtime_factor", args.realtime_factor), ("rate_hz", args.rate_hz)):
        if value is not None:
            sim[key] = value
    if args.record:
        overrides.setdefault("bag_recorder", {})["output_path"] = str(args.record)
    return overrides


def compute_plan_files(plan: str) -> list[Path]:
    """The parameter file of a compute plan: a name in config/compute/ (cpu_2core, gpu),
    a path, or none (no plan: every process at the same priority on every core)."""
    if plan in ("", "none"):
        return []
    path = Path(plan) if plan.endswith((".yaml", ".yml")) else config_file(f"compute/{plan}.yaml")
    if not path.is_file():
        from edge_llm_ros.params import ConfigError

        known = sorted(p.stem for p in config_file("compute").glob("*.yaml"))
        raise ConfigError(f"compute plan {plan!r}: no such file {path} (plans: "
                          f"{', '.join(known)}, none, or a path to a parameter file)")
    return [path]


def add_foxglove(args: argparse.Namespace, kinds: list[str], overrides: Overrides,
                 detections: bool) -> None:
    """With --foxglove: the foxglove_viz node in this process, on the port given; it
    annotates images when their 2D detections arrive only if a camera detector runs."""
    if args.foxglove is None:
        return
    kinds.append("foxglove_viz")
    overrides.setdefault("foxglove_viz", {}).update(port=args.foxglove,
                                                    wait_for_detections=detections)


def cmd_sim(args: argparse.Namespace) -> int:
    if args.list:
        from edge_llm_ros.sim import list_scenarios, load_scenario

        for name in list_scenarios():
            print(f"{name:<26} {load_scenario(name).description}")
        return 0
    overrides = sim_overrides(args)
    kinds = ["simulator"]
    files = [config_file("simulator.yaml")]
    if args.record:
        kinds.append("bag_recorder")
        files.append(config_file("bag.yaml"))
    add_foxglove(args, kinds, overrides, detections=args.pipeline)
    plan = compute_plan_files(args.compute_plan) if args.pipeline else []
    files += plan
    if not args.pipeline:
        return run_in_process(kinds, args, files, overrides, until_finished=["simulator"])
    return run_with_pipeline(args, kinds, files, overrides, "simulator", plan)


def simulator_road_params(overrides: Overrides, files: list[Path], given: list[str]
                          ) -> list[str]:
    """scene_fusion's road context (speed limit, lanes to the left that go our way) from the
    simulated scenario, as a map would give it on a vehicle; a value given on the command
    line wins."""
    from edge_llm_ros.sim.scenario import load_scenario, road_context
    from edge_llm_ros.tools.offline.node_configs import node_params

    scenario = node_params("simulator", files, overrides.get("simulator", {}))["scenario"]
    limit, lanes_left = road_context(load_scenario(str(scenario)))
    out = []
    for name, value in (("speed_limit_mps", limit), ("lanes_left_our_way", lanes_left)):
        if not any(p.startswith(f"scene_fusion.{name}=") for p in given):
            out.append(f"scene_fusion.{name}={value}")
    return out


def run_with_pipeline(args: argparse.Namespace, kinds: list[str], files: list[Path],
                      overrides: Overrides, source: str, plan: list[Path]) -> int:
    """A sensor source (the simulator, or a bag replayed as live data) in this process and
    the on-board nodes in their own processes, as ros2 launch runs them; with --record, the
    run report (decisions by the deadline and by the model, e2e latency, a picture)."""
    from edge_llm_ros.params.specs import NODE_SPECS

    remote = None
    # The on-board nodes in three processes, as ros2 launch runs them (each its own
    # executor): a slow camera inference must not hold the sweep, the summary or the
    # decision back in one executor's queue.
    groups = [["camera_detector"], ["lidar_detector", "scene_fusion"],
              ["reasoner", "instruction_interpreter"]]
    onboard_params = ["reasoner.print_decisions=true",
                      *(simulator_road_params(overrides, files, args.pipeline_param)
                        if source == "simulator" else []), *args.pipeline_param]
    if args.remote:
        # The remote host's planner in a process of its own, as on another machine; the
        # compute plan gives it what the vehicle's pipeline leaves over.
        remote = start_pipeline_process(args, ["remote_planner"],
                                        [config_file("remote.yaml"), *plan],
                                        ["remote_planner.model.threads=1"], prefix="[remote]")
        groups[-1].append("offload_manager")
        onboard_params.append("offload_manager.print_outcomes=true")
    # Fed by the simulator, the on-board nodes also read its file (it names the camera
    # model trained on its renders), as launch gives it to them.
    onboard_files = [config_file("vehicle.yaml"),
                     *([config_file("simulator.yaml")] if source == "simulator" else []), *plan]
    pipelines: list[subprocess.Popen[str]] = []
    codes: list[int] = []
    try:
        for group in groups:
            params = [p for p in onboard_params if p.split(".", 1)[0] in group
                      or p.split(".", 1)[0] not in NODE_SPECS]
            pipelines.append(start_pipeline_process(args, group, onboard_files, params))
        codes.append(run_in_process(kinds, args, files, overrides,
                                    until_finished=[source]))
    finally:
        codes += [stop_pipeline_process(p) for p in reversed(pipelines)]
        if remote is not None:
            codes.append(stop_pipeline_process(remote))
    if args.record and Path(args.record).exists():
        from edge_llm_ros.tools.cli.report import report_run

        print("[run report] what the vehicle decided, from the recording:")
        report_run(Path(args.record))
    return next((c for c in codes if c), 0)


def replay_overrides(args: argparse.Namespace) -> Overrides:
    overrides = parse_set(args.param)
    rep = overrides.setdefault("bag_replay", {})
    rep.update(bag_path=str(args.bag), rate=args.rate, loop=args.loop,
               start_offset_s=args.start_offset, publish_clock=not args.no_clock,
               skip_unknown_types=args.skip_unknown_types)
    if args.topics:
        rep["topics"] = args.topics
    return overrides


#: What a vehicle's drivers publish: the topics a bag replays into the on-board nodes
#: (/tf_static: the sensor mounting, for scene_fusion's extrinsics_source tf).
SENSOR_TOPICS = ("/camera/image_raw", "/camera/camera_info", "/lidar/points", "/odom",
                 "/tf_static")


def cmd_replay(args: argparse.Namespace) -> int:
    from edge_llm_ros.bag import open_bag

    overrides = replay_overrides(args)
    files = [config_file("bag.yaml")]
    present = set(open_bag(args.bag).topic_names)
    kinds = ["bag_replay"]
    add_foxglove(args, kinds, overrides,
                 detections=args.pipeline or "/perception/detections_2d" in present)
    if not args.pipeline:
        return run_in_process(kinds, args, files, overrides, until_finished=["bag_replay"])
    # The recorded sensor data, stamped as live data on the wall clock, into the
    # on-board nodes alone (no renderer); their outputs recorded for the report.
    rep = overrides["bag_replay"]
    rep.setdefault("topics", [t for t in SENSOR_TOPICS if t in present])
    rep.update(restamp=True, publish_clock=False, wait_for_subscribers_s=30.0)
    if args.record:
        kinds.append("bag_recorder")
        overrides.setdefault("bag_recorder", {}).update(
            output_path=str(args.record),
            exclude_topics=["/rosout", "/parameter_events", "/clock", *SENSOR_TOPICS])
    plan = compute_plan_files(args.compute_plan)
    return run_with_pipeline(args, kinds, files + plan, overrides, "bag_replay", plan)


def record_overrides(args: argparse.Namespace) -> Overrides:
    overrides = parse_set(args.param)
    rec = overrides.setdefault("bag_recorder", {})
    rec.update(output_path=str(args.output), storage=args.storage)
    if args.topics:
        rec["topics"] = args.topics
    return overrides


def cmd_record(args: argparse.Namespace) -> int:
    return run_in_process(["bag_recorder"], args, [config_file("bag.yaml")],
                          record_overrides(args))


def cmd_info(args: argparse.Namespace) -> int:
    print_bag_summary(Path(args.bag), as_json=args.json)
    return 0


def add_pipeline_args(p: argparse.ArgumentParser, what: str) -> None:
    """--pipeline and its options, alike for sim and replay."""
    p.add_argument("--pipeline", action="store_true",
                   help=f"{what}: camera_detector, lidar_detector, scene_fusion and reasoner "
                   "(config/vehicle.yaml) in three more processes (camera; lidar and fusion; "
                   "reasoner), as ros2 launch runs them; it prints every Decision as it is "
                   "made and a summary at the end")
    p.add_argument("--pipeline-param", action="append", default=[],
                   metavar="NODE.PARAM=VALUE",
                   help="override a pipeline node parameter, e.g. "
                   "reasoner.instruction='school zone, keep it slow'; repeatable")
    p.add_argument("--compute-plan", default="cpu_2core", metavar="PLAN",
                   help="with --pipeline: the compute plan every process applies at start "
                   "(config/compute/PLAN.yaml: cpu_2core, gpu; a parameter file path; or none)")
    p.add_argument("--remote", action="store_true",
                   help="with --pipeline: also start the remote planner (config/remote.yaml) "
                   "in its own process and offload_manager on board; prints each request's "
                   "outcome (plans arriving) with the link status")


def add_foxglove_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--foxglove", type=int, nargs="?", const=8765, default=None, metavar="PORT",
                   help="live view: serve the visualisation (3D boxes, annotated image, the "
                   "decision; what `view` writes into bags) and the inputs on a Foxglove "
                   "WebSocket server at ws://127.0.0.1:PORT (default 8765; the foxglove_viz "
                   "node, -p foxglove_viz.host=0.0.0.0 for another machine)")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "run", help="start a set of nodes in one process",
                 description="Start nodes in one process with the parameter files the launch "
                 "files use.",
                 examples=["edge-llm-ros run --nodes simulator,bag_recorder \\",
                           "    --params-file config/simulator.yaml --params-file "
                           "config/bag.yaml \\",
                           "    -p bag_recorder.output_path=out/run1 --duration 20",
                           "edge-llm-ros run --nodes simulator -p "
                           "simulator.scenario=car_braking_ahead"])
    p.add_argument("--nodes", required=True, help="comma-separated node kinds")
    p.add_argument("--params-file", action="append", default=[], metavar="YAML",
                   help="ROS 2 parameter file; repeatable, later files win")
    p.add_argument("--until-finished", action="append", default=[], metavar="NODE",
                   help="stop when this node has finished (simulator, bag_replay)")
    add_node_args(p)
    p.set_defaults(func=cmd_run)

    p = add_verb(sub, "sim", help="run the built-in simulator",
                 description="Run the built-in MuJoCo driving simulator on ROS topics "
                 "(camera/image_raw, camera/camera_info, lidar/points, odom, "
                 "ground_truth/objects, /clock), optionally recording everything to an MCAP "
                 "bag.",
                 examples=["edge-llm-ros sim --list",
                           "edge-llm-ros sim --scenario car_braking_ahead --seed 3 "
                           "--record out/braking",
                           "edge-llm-ros sim --pipeline --record out/run1   # sensors to "
                           "decisions",
                           "edge-llm-ros sim --pipeline --remote            # ... plus the "
                           "remote planner",
                           "edge-llm-ros sim --scenario my_scenario.yaml --realtime-factor 0 "
                           "--duration 30"])
    p.add_argument("--list", action="store_true", help="list the packaged scenarios and exit")
    p.add_argument("--scenario", help="packaged scenario name or path to a scenario YAML")
    p.add_argument("--seed", type=int, help="random seed (same seed, same run)")
    p.add_argument("--rate-hz", type=float, help="tick rate, hertz")
    p.add_argument("--realtime-factor", type=float,
                   help="sim seconds per wall second; 0 = as fast as possible")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="also record all topics to DIR (MCAP)")
    add_pipeline_args(p, "also run the on-board pipeline on the simulator's sensors")
    add_foxglove_arg(p)
    add_node_args(p)
    p.set_defaults(func=cmd_sim)

    p = add_verb(sub, "replay", help="replay a rosbag2 bag onto its topics",
                 description="Replay a rosbag2 bag (sqlite3 or MCAP) with its original timing.",
                 examples=["edge-llm-ros replay out/braking",
                           "edge-llm-ros replay drive.mcap --rate 0.5 --start-offset 12 "
                           "--topics /lidar/points",
                           "edge-llm-ros replay out/braking --loop --duration 60"])
    p.add_argument("bag", type=Path, help="bag directory or .mcap file")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="replay again when the bag ends")
    p.add_argument("--start-offset", type=float, default=0.0, metavar="S",
                   help="skip the bag's first S seconds")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="replay only these topics")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--skip-unknown-types", action="store_true",
                   help="replay the rest when some message types cannot be imported")
    add_pipeline_args(p, "replay the bag's sensor topics (camera, lidar, odometry) as live "
                      "data (restamped on the wall clock) into the on-board pipeline alone")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="with --pipeline: record the pipeline's outputs to DIR and print the "
                   "run report")
    add_foxglove_arg(p)
    add_node_args(p)
    p.set_defaults(func=cmd_replay)

    p = add_verb(sub, "record", help="record topics to a bag (MCAP)",
                 description="Record chosen topics, or every topic that appears, to a rosbag2 "
                 "bag.",
                 examples=["edge-llm-ros record -o out/drive --duration 60",
                           "edge-llm-ros record -o out/lidar --topics /lidar/points /odom "
                           "--storage sqlite3"])
    p.add_argument("-o", "--output", type=Path, required=True, help="bag directory to create")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="topics (default: all)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    add_node_args(p)
    p.set_defaults(func=cmd_record)

    p = add_verb(sub, "info", help="summarise a bag",
                 description="Topics, types, counts and rates of a rosbag2 bag.",
                 examples=["edge-llm-ros info out/braking",
                           "edge-llm-ros info out/braking --json"])
    p.add_argument("bag", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
