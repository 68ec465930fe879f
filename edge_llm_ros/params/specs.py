"""Every node's parameters, with descriptions and ranges.

Nodes declare exactly these; config/*.yaml may set only these. Durations are
milliseconds or seconds as the name says; rates in hertz.
"""

from __future__ import annotations

from pathlib import Path

from edge_llm_ros.params.core import (
    BUILTIN_PARAMETERS,
    ConfigError,
    ParamSpec,
    load_params_file,
)

# Parameters every edge_llm_ros node has: health reporting.
COMMON: tuple[ParamSpec, ...] = (
    ParamSpec(
        "diagnostics_period_s", 1.0,
        "Period of the node's status on /diagnostics, seconds.",
        min_value=0.1, max_value=60.0,
    ),
    ParamSpec(
        "input_timeout_s", 2.0,
        "An input with no message for this long is reported stale (log warning "
        "once, WARN in diagnostics), seconds.",
        min_value=0.1, max_value=600.0,
    ),
    ParamSpec(
        "slow_processing_ms", 100.0,
        "Per-frame processing time above which diagnostics go WARN, milliseconds.",
        min_value=0.1, max_value=60000.0,
    ),
    ParamSpec(
        "late_latency_ms", 500.0,
        "Pipeline latency (output time minus sensor stamp) above which a result is "
        "late; diagnostics go ERROR while results stay late, milliseconds.",
        min_value=1.0, max_value=600000.0,
    ),
)

SIMULATOR: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec(
        "scenario", "mixed_traffic",
        "Scenario to run: a packaged name (edge-llm-ros sim --list) or a path to a scenario YAML.",
    ),
    ParamSpec("seed", 0, "Random seed; the same seed replays the same run.", min_value=0,
              max_value=2**31 - 1),
    ParamSpec("rate_hz", 10.0, "Simulation tick rate: one camera frame and one lidar sweep "
              "per tick, hertz.", min_value=0.5, max_value=50.0),
    ParamSpec(
        "realtime_factor", 1.0,
        "Simulated seconds per wall second; 0 runs as fast as the host allows. "
        "When the host is slower than asked, sim time (published on /clock) simply "
        "runs slower.", min_value=0.0, max_value=100.0,
    ),
    ParamSpec("loop", False, "Restart the scenario when it ends instead of stopping."),
    ParamSpec("publish_clock", True, "Publish sim time on /clock (for use_sim_time nodes)."),
    ParamSpec("camera.enabled", True, "Render and publish the camera."),
    ParamSpec("camera.width_px", 640, "Camera image width, pixels.", min_value=16, max_value=4096),
    ParamSpec("camera.height_px", 480, "Camera image height, pixels.", min_value=16,
              max_value=4096),
    ParamSpec("camera.horizontal_fov_deg", 90.0, "Camera horizontal field of view, degrees.",
              min_value=10.0, max_value=170.0),
    ParamSpec("lidar.enabled", True, "Cast and publish the lidar sweep."),
    ParamSpec("lidar.channels", 32, "Lidar vertical channels (rings).", min_value=1,
              max_value=256),
    ParamSpec("lidar.horizontal_samples", 1024, "Lidar samples per ring per sweep.",
              min_value=16, max_value=8192),
    ParamSpec("lidar.max_range_m", 100.0, "Lidar maximum range, metres.", min_value=1.0,
              max_value=500.0),
    ParamSpec("frames.world", "map", "Frame of the world (odometry parent)."),
    ParamSpec("frames.base_link", "base_link", "Frame of the ego vehicle."),
    ParamSpec("frames.lidar", "lidar", "Frame of the lidar point cloud."),
    ParamSpec("frames.camera", "camera_optical", "Optical frame of the camera image "
              "(x right, y down, z forward)."),
)

BAG_REPLAY: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec("bag_path", None, "rosbag2 bag to replay (a directory with metadata.yaml, "
              "sqlite3 or MCAP storage, or a single .mcap file).", value_type=str),
    ParamSpec("rate", 1.0, "Playback speed factor: 2.0 plays twice as fast.",
              min_value=0.01, max_value=100.0),
    ParamSpec("start_offset_s", 0.0, "Skip this much of the bag's beginning, seconds.",
              min_value=0.0, max_value=1e9),
    ParamSpec("loop", False, "Replay the bag again when it ends."),
    ParamSpec("publish_clock", True, "Publish the bag's time on /clock (for use_sim_time "
              "nodes)."),
    ParamSpec("topics", [], "Topics to replay; empty replays every topic.", value_type=str),
    ParamSpec("skip_unknown_types", False,
              "Replay the other topics when the bag holds message types this machine "
              "cannot import; otherwise refuse to start, naming them."),
    ParamSpec("start_delay_s", 1.0, "Wait this long before the first message so that "
              "subscribers are discovered first (DDS discovery takes a moment), seconds.",
              min_value=0.0, max_value=3600.0),
    ParamSpec("exit_when_done", True, "Shut the node down once the bag has been replayed "
              "(ignored with loop)."),
)

BAG_RECORDER: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec("output_path", None, "Bag directory to create; must not exist yet.",
              value_type=str),
    ParamSpec("storage", "mcap", "rosbag2 storage: mcap (rosbag2's default, opens in "
              "Foxglove) or sqlite3.", choices=("mcap", "sqlite3")),
    ParamSpec("topics", [], "Topics to record; empty records every topic that appears.",
              value_type=str),
    ParamSpec("exclude_topics", ["/rosout", "/parameter_events"],
              "Topics never recorded when recording all.", value_type=str),
    ParamSpec("discovery_period_s", 0.5, "How often to look for new topics, seconds.",
              min_value=0.05, max_value=60.0),
)

NODE_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    "simulator": SIMULATOR,
    "bag_replay": BAG_REPLAY,
    "bag_recorder": BAG_RECORDER,
}


def node_spec(node_kind: str) -> tuple[ParamSpec, ...]:
    """Specs of one node kind; KeyError names the known kinds."""
    try:
        return NODE_SPECS[node_kind]
    except KeyError:
        raise KeyError(
            f"unknown node '{node_kind}'; known: {', '.join(sorted(NODE_SPECS))}"
        ) from None


def check_params_file(path: str | Path) -> None:
    """Every node section of a parameter file names a known node and only its
    parameters; `/**` sections hold only parameters every node has.
    Raises ConfigError naming the file, section and parameter."""
    common = {spec.name for spec in COMMON}
    for node_key, params in load_params_file(path).items():
        name = node_key.rstrip("/").split("/")[-1]
        if name in ("**", "*"):
            unknown = sorted(set(params) - common - BUILTIN_PARAMETERS)
            if unknown:
                raise ConfigError(
                    f"parameter file '{path}': section '{node_key}' applies to every node, "
                    f"but {', '.join(unknown)} is not a parameter every node has"
                )
        elif name not in NODE_SPECS:
            raise ConfigError(
                f"parameter file '{path}': unknown node '{node_key}'; "
                f"known nodes: {', '.join(sorted(NODE_SPECS))}"
            )
        else:
            unknown = sorted(set(params) - {s.name for s in NODE_SPECS[name]} - BUILTIN_PARAMETERS)
            if unknown:
                raise ConfigError(
                    f"parameter file '{path}': node '{node_key}': unknown parameter(s) "
                    f"{', '.join(unknown)}"
                )
