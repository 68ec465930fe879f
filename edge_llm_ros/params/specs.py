"""Every node's parameters, with descriptions and ranges.

Nodes declare exactly these; config/*.yaml may set only these. Durations are
milliseconds or seconds as the name says; rates in hertz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_llm_ros.params.core import (
    BUILTIN_PARAMETERS,
    ConfigError,
    ParamSpec,
    ParamValue,
    load_params_file,
    node_params_from_file,
    validate_params,
)
from edge_llm_ros.reasoning.model_files import (
    DECISION_GGUF_NAME,
    INSTRUCTION_GGUF_NAME,
    TUNED_GGUF_NAME,
)
from edge_llm_ros.sim import rig


def _common(input_timeout_s: float = 2.0, slow_processing_ms: float = 100.0,
            late_latency_ms: float = 500.0) -> tuple[ParamSpec, ...]:
    """Parameters every edge_llm_ros node has (health reporting); the thresholds
    differ per node (a detector is slow long before a remote planner is)."""
    return (
        ParamSpec(
            "diagnostics_period_s", 1.0,
            "Period of the node's status on /diagnostics, seconds.",
            min_value=0.1, max_value=60.0,
        ),
        ParamSpec(
            "input_timeout_s", input_timeout_s,
            "An input with no message for this long is reported stale (log warning "
            "once, WARN in diagnostics), seconds.",
            min_value=0.1, max_value=600.0,
        ),
        ParamSpec(
            "slow_processing_ms", slow_processing_ms,
            "Per-frame processing time above which diagnostics go WARN, milliseconds.",
            min_value=0.1, max_value=60000.0,
        ),
        ParamSpec(
            "late_latency_ms", late_latency_ms,
            "Pipeline latency (output time minus sensor stamp) above which a result is "
            "late; diagnostics go ERROR while results stay late, milliseconds.",
            min_value=1.0, max_value=600000.0,
        ),
        # The compute plan (config/compute/*.yaml sets these per node; edge_llm_ros.compute).
        ParamSpec(
            "compute.cpus", [],
            "CPU cores the node's process runs on (compute plan); empty: every core.",
            value_type=int, min_value=0, max_value=1023,
        ),
        ParamSpec(
            "compute.nice", 0,
            "Niceness of the node's process, -20 (served first) .. 19 (last); below 0 needs "
            "CAP_SYS_NICE, and a refused value is reported at start, not fatal.",
            min_value=-20, max_value=19,
        ),
        ParamSpec(
            "compute.realtime_priority", 0,
            "SCHED_FIFO priority 1..99 of the node's process (needs CAP_SYS_NICE; a refused "
            "one is reported); 0 keeps normal scheduling.",
            min_value=0, max_value=99,
        ),
    )


def _budget(budget_ms: float) -> ParamSpec:
    """A perception stage's share of the end-to-end budget (sensor stamp -> decision)."""
    return ParamSpec(
        "budget_ms", budget_ms,
        "This stage's output is due this long after the sensor stamp (its share of the "
        "end-to-end budget that ends at the reasoner's deadline_ms); /diagnostics reports "
        "the share of outputs within it and the median share of it used. Inputs are "
        "latest-only, so a stage that falls behind skips to the newest frame; 0 disables, "
        "milliseconds.",
        min_value=0.0, max_value=60000.0)


# The names (and generic defaults) of the parameters every node has.
def _same_as(specs: tuple[ParamSpec, ...], name: str) -> ParamSpec:
    """Another node's declaration of a parameter both read (the same spec, not a copy)."""
    return next(spec for spec in specs if spec.name == name)


COMMON: tuple[ParamSpec, ...] = _common()

# Parameters of the managed (lifecycle) nodes: those that load a model or open a device.
LIFECYCLE: tuple[ParamSpec, ...] = (
    ParamSpec(
        "autostart", True,
        "Configure (load and warm the model) and activate at start-up; false leaves the "
        "node unconfigured for a lifecycle manager (<node>/change_state).",
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
    ParamSpec("sensor_latency_ms", 10.0, "Sensor data goes out this long after the moment it "
              "describes (its stamp), like a real camera or lidar driver; each tick is rendered "
              "ahead of its moment, so only a host too slow for rate_hz delivers later, "
              "milliseconds.", min_value=0.0, max_value=1000.0),
    ParamSpec("loop", False, "Restart the scenario when it ends instead of stopping."),
    ParamSpec("publish_clock", True, "Publish sim time on /clock (for use_sim_time nodes)."),
    ParamSpec("camera.enabled", True, "Render and publish the camera."),
    ParamSpec("camera.skip_late_frames", True, "When the host cannot render a tick's camera "
              "frame by its delivery moment, publish that tick without it (counted as "
              "camera_frames_skipped_late) so sensor data keeps its real-time stamps, as a "
              "camera driver drops frames; false renders every frame and lets sim time fall "
              "behind the wall clock."),
    ParamSpec("camera.width_px", rig.CAMERA_SIZE_PX[0], "Camera image width, pixels.",
              min_value=16, max_value=4096),
    ParamSpec("camera.height_px", rig.CAMERA_SIZE_PX[1], "Camera image height, pixels.",
              min_value=16, max_value=4096),
    ParamSpec("camera.horizontal_fov_deg", rig.CAMERA_HORIZONTAL_FOV_DEG,
              "Camera horizontal field of view, degrees.", min_value=10.0, max_value=170.0),
    ParamSpec("lidar.enabled", True, "Cast and publish the lidar sweep."),
    ParamSpec("lidar.channels", rig.LIDAR_CHANNELS, "Lidar vertical channels (rings).",
              min_value=1, max_value=256),
    ParamSpec("lidar.horizontal_samples", rig.LIDAR_HORIZONTAL_SAMPLES,
              "Lidar samples per ring per sweep.", min_value=16, max_value=8192),
    ParamSpec("lidar.max_range_m", rig.LIDAR_MAX_RANGE_M, "Lidar maximum range, metres.",
              min_value=1.0,
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
    ParamSpec("wait_for_subscribers_s", 0.0, "Before the first message, wait up to this long "
              "until every replayed topic has a subscriber (start a replay before the "
              "pipeline is up); a latched topic (/tf_static) reaches later subscribers, so it "
              "is waited for only when nothing else is replayed; 0 does not wait, seconds.",
              min_value=0.0, max_value=3600.0),
    ParamSpec("restamp", False, "Play the bag as live data on the wall clock: every header "
              "stamp (and /clock) is shifted so a message recorded t after the playback start "
              "is stamped now + t/rate, keeping each stamp's offset from its recording time. "
              "The pipeline then runs on wall time, as on a vehicle, and measures its "
              "latency from these stamps; messages without a leading header go out as "
              "recorded."),
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


def _stamp_checks(max_age_ms: float) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("max_stamp_age_ms", max_age_ms,
                  "Inputs whose stamp is older than this (on the node's clock) are dropped "
                  "and counted; 0 disables the check, milliseconds.",
                  min_value=0.0, max_value=3_600_000.0),
        ParamSpec("max_stamp_future_ms", 500.0,
                  "Inputs stamped further in the future than this are dropped (clock "
                  "mismatch), milliseconds.", min_value=0.0, max_value=3_600_000.0),
    )


LIDAR_DETECTOR: tuple[ParamSpec, ...] = _common(
    slow_processing_ms=50.0, late_latency_ms=300.0) + _stamp_checks(1000.0) + (_budget(70.0),) + (
    ParamSpec("target_frame", "", "Frame of the published objects; empty keeps the point "
              "cloud's frame. Needs target_from_lidar (tf is not used)."),
    ParamSpec("target_from_lidar", [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0,
                                    0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
              "4x4 transform (16 numbers, row-major) taking lidar points to target_frame.",
              value_type=float),
    ParamSpec("detector.sensor_height_m", 1.8, "Height of the lidar above the road (hint for "
              "ground removal), metres.", min_value=0.1, max_value=10.0),
    ParamSpec("detector.min_range_m", 2.5, "Returns closer than this are the vehicle itself "
              "and are dropped, metres.", min_value=0.0, max_value=50.0),
    ParamSpec("detector.max_range_m", 80.0, "Returns farther than this are dropped, metres.",
              min_value=1.0, max_value=500.0),
    ParamSpec("detector.sensor_top_elevation_deg", 15.0, "Elevation of the sensor's highest "
              "beam (15 for a VLP-32C and the built-in simulator, 2 for an HDL-64E): objects "
              "cut off at the top (poles, trunks, near trucks) are recognised as such, "
              "degrees.", min_value=-45.0, max_value=90.0),
    ParamSpec("detector.ground_cell_m", 1.0, "Cell size of the lowest-point ground grid, "
              "metres.", min_value=0.1, max_value=10.0),
    ParamSpec("detector.ground_threshold_m", 0.2, "Points this close above the local ground "
              "are ground, metres.", min_value=0.01, max_value=2.0),
    ParamSpec("detector.voxel_size_m", 0.15, "Voxel size of the downsampling, metres.",
              min_value=0.01, max_value=2.0),
    ParamSpec("detector.cluster_tolerance_m", 0.5, "Clustering grid cell: points this close "
              "always join one object. Scale with the beam spacing: 0.5 for 32-beam sensors "
              "(VLP-32C, the built-in simulator), whose rings land ~0.3 m apart along a car's "
              "rear window at 10 m; 0.2 for 64-beam sensors (KITTI's HDL-64E), metres.",
              min_value=0.02, max_value=5.0),
    ParamSpec("detector.min_cluster_points", 8, "Smaller clusters are noise.", min_value=1,
              max_value=100000),
    ParamSpec("detector.max_cluster_points", 30000, "Larger clusters are structure.",
              min_value=1, max_value=10000000),
    ParamSpec("detector.max_object_length_m", 16.0, "Longer clusters are structure (walls, "
              "hedges), metres.", min_value=0.5, max_value=100.0),
    ParamSpec("detector.min_object_height_m", 0.4, "Lower clusters are kerbs and litter, "
              "metres.", min_value=0.0, max_value=5.0),
    ParamSpec("detector.min_class_score", 0.3, "Below this class confidence an object is "
              "'unknown'.", min_value=0.0, max_value=1.0),
    ParamSpec("detector.reject_structure", True, "Drop what is off the drivable corridor "
              "(estimated from the scan: smooth ground joined to the ground under the vehicle "
              "without kerb-high steps, plus a 2-cell margin), except pedestrians and "
              "cyclists, and unknown shapes that look like walls, fences, poles, canopies or "
              "clutter; false reports every cluster."),
    ParamSpec("detector.road_max_step_m", 0.06, "Largest step between neighbouring ground "
              "cells (after the fitted slope) that stays on the road; a kerb is ~0.1 m, "
              "metres.", min_value=0.01, max_value=1.0),
    ParamSpec("detector.gate", "", "Learned road-user gate (logistic regression on cluster "
              "features, perception/lidar_gates.py), trained per sensor: 'kitti_hdl64' for "
              "KITTI's HDL-64E; empty: none.", choices=("", "kitti_hdl64")),
    ParamSpec("detector.gate_threshold", 0.3, "Unknown and truck clusters scoring below this "
              "road-user probability are dropped (with a gate).", min_value=0.0,
              max_value=1.0),
    ParamSpec("detector.beam_gap_deg", 0.0, "Vertical gap between the sensor's upper beams "
              "(HDL-64E: 0.4): a far object's top may lie that much above its highest "
              "return when its height is judged; 0: not judged, degrees.", min_value=0.0,
              max_value=5.0),
    ParamSpec("detector.car_fragment_margin_m", 0.0, "A smaller object whose centre lies "
              "inside a car's or truck's box grown by this much is a piece of that vehicle "
              "(split off by occlusion) and is dropped; 0: kept, metres.", min_value=0.0,
              max_value=3.0),
    ParamSpec("detector.reflector_min_intensity", 0.0, "A small pedestrian-, cyclist- or "
              "unknown-shaped object whose mean return intensity reaches this is street "
              "furniture with retroreflective sheeting (posts, signs) and is dropped; in the "
              "sensor's intensity scale (KITTI: 0..1, 0.6); 0: off.", min_value=0.0),
    ParamSpec("detector.complete_car_boxes", True, "Grow a car seen from one side to a typical "
              "car size away from the sensor, so its centre is where the car is."),
)

CAMERA_DETECTOR: tuple[ParamSpec, ...] = (
    _common(slow_processing_ms=150.0) + LIFECYCLE + _stamp_checks(1000.0) + (_budget(110.0),)
) + (
    ParamSpec("model_path", "", "YOLO model; its extension picks the runtime: .pt (PyTorch), "
              ".onnx (ONNX Runtime), .engine (TensorRT), or .json: a TF.js MB3-CenterNet "
              "graph model (COCO, CPU only; coco_centernet/centernet.json, fetched by setup, "
              "for machines without Ultralytics weights). A path (relative ones also under "
              "the package's models/), or a bare name looked up in "
              "the package's models/ and ~/.cache/edge_llm_ros/weights; a bare name "
              "Ultralytics publishes (yolo11n.pt, yolov8s.pt, ...) is downloaded there by "
              "Ultralytics when missing. Empty: the packaged simulator-trained model "
              "(models/sim_detector.onnx), with a warning: it is for simulator images; "
              "simulator runs name it (config/simulator.yaml)."),
    ParamSpec("on_model_error", "lidar_only", "A model that is missing, corrupt or cannot be "
              "downloaded: lidar_only (log it once, ERROR 'camera model unavailable' in "
              "/diagnostics, publish nothing; scene_fusion goes on lidar_only) or fail "
              "(configure fails).", choices=("lidar_only", "fail")),
    ParamSpec("device", "cpu", "Inference device: cpu, or cuda:N for a GPU (TensorRT engines "
              "need one)."),
    ParamSpec("conf_threshold", 0.25, "Detections below this score are dropped.",
              min_value=0.0, max_value=1.0),
    ParamSpec("iou_threshold", 0.45, "Non-maximum suppression IoU.", min_value=0.0,
              max_value=1.0),
    ParamSpec("imgsz", 0, "Network input size in pixels (longest side); 0 uses the model's "
              "own.", min_value=0, max_value=4096),
    ParamSpec("max_detections", 100, "At most this many detections per image.", min_value=1,
              max_value=1000),
    ParamSpec("class_map", [], "Rename model classes, 'model_class:our_class' each; classes "
              "not named are dropped. Empty: a model with COCO's class names gets the COCO "
              "mapping (person -> pedestrian, bicycle/motorcycle with a rider -> one cyclist "
              "box, car, truck and bus -> truck, others dropped); any other model keeps its "
              "classes.", value_type=str),
    ParamSpec("engine.build", False, "Export .pt/.onnx to a TensorRT engine on this GPU at "
              "start-up (cached; rebuilt when model, TensorRT, GPU, precision or size "
              "change) and run the engine."),
    ParamSpec("engine.build_only", False, "Build (or validate the cached) engine, then exit."),
    ParamSpec("engine.precision", "fp16", "Engine precision.", choices=("fp16", "int8")),
    ParamSpec("engine.calibration_dir", "", "Folder of images for INT8 calibration."),
    ParamSpec("engine.cache_dir", "", "Where engines are cached; empty: "
              "~/.cache/edge_llm_ros/engines."),
)

SCENE_FUSION: tuple[ParamSpec, ...] = _common(slow_processing_ms=20.0) + (_budget(120.0),) + (
    ParamSpec("rate_hz", 10.0, "publish_on timer: the SceneSummary rate; publish_on sensor: "
              "the rate while no sensor delivers (degraded summaries keep coming), hertz.",
              min_value=0.5, max_value=100.0),
    ParamSpec("publish_on", "sensor", "sensor: a summary as soon as a new lidar sweep can be "
              "fused (its camera frame is in, or camera_wait_ms passed; each camera frame while "
              "the lidar is down), so it is not older than it must be; timer: at rate_hz.",
              choices=("sensor", "timer")),
    ParamSpec("camera_wait_ms", 20.0, "publish_on sensor: the longest a lidar sweep waits for "
              "the camera frame of the same instant before it is published without it, "
              "milliseconds.", min_value=0.0, max_value=1000.0),
    ParamSpec("camera_freshness_ms", 300.0, "Camera detections older than this at summary "
              "time are stale (the summary degrades to lidar_only), milliseconds.",
              min_value=1.0, max_value=60000.0),
    ParamSpec("lidar_freshness_ms", 300.0, "Lidar objects older than this are stale (the "
              "summary degrades to camera_only), milliseconds.", min_value=1.0,
              max_value=60000.0),
    ParamSpec("odometry_freshness_ms", 300.0, "Odometry older than this is stale, "
              "milliseconds.", min_value=1.0, max_value=60000.0),
    ParamSpec("sync_tolerance_ms", 60.0, "A camera frame pairs with a lidar sweep stamped this "
              "close, milliseconds.", min_value=0.0, max_value=10000.0),
    ParamSpec("max_future_ms", 500.0, "Inputs stamped further ahead of the node's clock are "
              "dropped (bad clock), milliseconds.", min_value=0.0, max_value=3_600_000.0),
    ParamSpec("camera_from_lidar", rig.row_major(rig.camera_from_lidar()),
              "4x4 transform (16 numbers, row-major) taking lidar points to the camera "
              "optical frame (x right, y down, z forward); the default is the built-in "
              "simulator's mounting.", value_type=float),
    ParamSpec("base_from_lidar", rig.row_major(rig.base_from_lidar()),
              "4x4 transform (16 numbers, row-major) taking lidar points to base_link; the "
              "default is the built-in simulator's mounting.", value_type=float),
    ParamSpec("lidar_objects_frame", "lidar", "Frame the lidar objects arrive in: the lidar "
              "frame (base_from_lidar applies) or base_link (identity)."),
    ParamSpec("extrinsics_source", "param", "Where camera <- lidar comes from: param "
              "(camera_from_lidar, base_from_lidar, lidar_objects_frame) or tf (/tf_static, "
              "transient local: the chain from the lidar objects' frame_id to the camera "
              "detections' frame_id, and base_frame <- lidar where the tree has it, else "
              "base_from_lidar). Until the chain is known the camera is not fused (summaries "
              "are lidar_only, WARN 'extrinsics' in /diagnostics).", choices=("param", "tf")),
    ParamSpec("base_frame", "base_link", "extrinsics_source tf: the vehicle frame looked up "
              "in /tf_static (the frame fusion's geometry is in: x forward, z up, on the road)."),
    ParamSpec("association_min_iou", 0.3, "A projected lidar box and a camera box match only "
              "above this IoU.", min_value=0.0, max_value=1.0),
    ParamSpec("camera_confirm_range_m", 0.0, "Region-of-interest confirmation: in the camera's "
              "view and up to this far ahead, a lidar object that no camera box of a "
              "compatible class covers is dropped, except in the ego corridor "
              "(camera_confirm_corridor_m) or where a nearer object hides it in the image; "
              "0 turns it off. For cameras whose detector knows "
              "road users (a COCO model); metres.", min_value=0.0, max_value=200.0),
    ParamSpec("camera_confirm_corridor_m", 1.5, "Objects within this lateral distance of "
              "base_link's x axis are never dropped by camera confirmation, metres.",
              min_value=0.0, max_value=20.0),
    ParamSpec("confirm_hits", 3, "A track is reported after this many updates.", min_value=1,
              max_value=100),
    ParamSpec("max_misses", 5, "A track dies after this many missed frames.", min_value=1,
              max_value=1000),
    ParamSpec("ego_front_m", 3.5, "From base_link (rear axle) to the front bumper, metres.",
              min_value=0.0, max_value=30.0),
    ParamSpec("ego_width_m", 1.8, "Ego vehicle width, metres.", min_value=0.5, max_value=5.0),
    ParamSpec("lane_width_m", 3.5, "Lane width for lane relation, metres.", min_value=1.0,
              max_value=10.0),
    ParamSpec("speed_limit_mps", 0.0, "Speed limit to report in the scene (no map here); 0 "
              "unknown, metres/second.", min_value=0.0, max_value=100.0),
    ParamSpec("lanes_left_our_way", -1, "Lanes left of the ego lane that go our way, to "
              "report in the scene (no map here): 0 forbids the safety envelope any lane "
              "change to the left (the next lane is oncoming, or none), however empty it "
              "looks; -1 unknown (the envelope judges a left lane by the traffic it sees).",
              min_value=-1, max_value=8),
    ParamSpec("max_objects", 20, "At most this many objects, most relevant first.",
              min_value=1, max_value=500),
)

def _model(gguf: str, context_tokens: int = 512) -> tuple[ParamSpec, ...]:
    """The model.* parameters: the reasoner's default is the small decision model, the
    remote planner's (another host, more time) the tuned 135M model."""
    return (
        ParamSpec("model.backend", "llama_cpp", "Runtime: llama_cpp (quantized GGUF on the CPU), "
                  "tensorrt_edgellm (TensorRT Edge-LLM engine on an NVIDIA GPU), or rules (no "
                  "model: every decision is the rule policy's).",
                  choices=("llama_cpp", "tensorrt_edgellm", "rules")),
        ParamSpec("model.path", gguf, "llama_cpp: GGUF file (a bare name is looked up in the "
                  "package's models folder; both models are built at setup: "
                  f"{DECISION_GGUF_NAME}, the teacher-distilled decision model, and "
                  f"{TUNED_GGUF_NAME}, the tuned SmolLM2-135M); tensorrt_edgellm: Hugging Face "
                  "checkpoint folder. Empty: the decision model."),
        ParamSpec("model.threads", 2, "CPU threads for llama_cpp.", min_value=1, max_value=256),
        ParamSpec("model.context_tokens", context_tokens, "Context length, tokens.",
                  min_value=128, max_value=32768),
        ParamSpec("model.engine_cache_dir", "", "tensorrt_edgellm: folder of cached engines "
                  "(empty: ~/.cache/edge_llm_ros/edgellm)."),
        ParamSpec("model.precision", "fp16", "tensorrt_edgellm engine precision.",
                  choices=("fp16", "auto")),
    )

FALLBACK: tuple[ParamSpec, ...] = (
    ParamSpec("fallback.stop_ttc_s", 1.5, "Stop when anything on the path is closer than this "
              "in time (also the safety envelope), seconds.", min_value=0.0, max_value=30.0),
    ParamSpec("fallback.stop_distance_m", 5.0, "Stop for an ego-lane object nearer than this, "
              "metres.", min_value=0.0, max_value=100.0),
    ParamSpec("fallback.slow_ttc_s", 4.0, "Slow down for an ego-lane object closing within "
              "this, seconds.", min_value=0.0, max_value=60.0),
    ParamSpec("fallback.yield_ttc_s", 5.0, "Yield to a pedestrian or cyclist reaching the path "
              "within this, seconds.", min_value=0.0, max_value=60.0),
    ParamSpec("fallback.yield_distance_m", 20.0, "Yield to a pedestrian or cyclist in the ego "
              "lane nearer than this, metres.", min_value=0.0, max_value=200.0),
    ParamSpec("fallback.headway_s", 1.5, "Slow down when following closer than this time gap "
              "(plus 5 m) while closing, seconds.", min_value=0.0, max_value=10.0),
    ParamSpec("fallback.lane_change_distance_m", 40.0, "Go around a stopped vehicle in lane "
              "nearer than this when a lane is clear, metres.", min_value=0.0, max_value=200.0),
    ParamSpec("fallback.lane_change_s", 3.0, "How long a lane change takes: none is begun "
              "while a moving, slower road user ahead in the ego lane is nearer than the ego "
              "covers in this time (the car would still be half in its lane when it got "
              "there), seconds.", min_value=0.0, max_value=20.0),
    ParamSpec("fallback.lane_clear_margin_m", 15.0, "A target lane is clear when empty this far "
              "behind and ahead, metres.", min_value=0.0, max_value=200.0),
    ParamSpec("fallback.lateral_horizon_s", 4.0, "A road user whose lateral motion brings it "
              "into the ego corridor within this is a cut-in threat (safety envelope), seconds.",
              min_value=0.0, max_value=30.0),
    ParamSpec("fallback.cut_in_headway_s", 1.0, "A cut-in is a threat when the gap it leaves "
              "is under this time headway (plus fallback.stop_distance_m), seconds.",
              min_value=0.0, max_value=10.0),
    ParamSpec("fallback.closing_decel_mps2", 1.0, "Slow down for an ego-lane lead that needs "
              "more braking than this to stay fallback.stop_distance_m away, m/s^2.",
              min_value=0.0, max_value=20.0),
    ParamSpec("fallback.slow_down_decel_mps2", 2.5, "Slowing down brakes about this hard; a "
              "stopped vehicle ahead needing more braking is a stop, m/s^2.", min_value=0.0,
              max_value=20.0),
    ParamSpec("fallback.oncoming_reach_s", 8.0, "Oncoming traffic this close in time closes "
              "the passing lane to a lane change, seconds.", min_value=0.0, max_value=60.0),
)

REASONER: tuple[ParamSpec, ...] = (
    _common(slow_processing_ms=150.0, late_latency_ms=300.0) + LIFECYCLE + \
    _model(DECISION_GGUF_NAME) + FALLBACK
) + (
    ParamSpec("deadline_ms", 150.0, "A Decision is published at most this long after the "
              "scene's sensor stamp; the rule policy decides if the model has not settled an "
              "action by then, milliseconds.", min_value=5.0, max_value=10000.0),
    ParamSpec("deadline_margin_ms", 8.0, "The decision is taken this long before the deadline, "
              "leaving time to build and publish it (and for a late thread wake-up on a busy "
              "CPU), milliseconds.", min_value=0.0, max_value=1000.0),
    ParamSpec("decision_rate_hz", 5.0, "Scenes are decided at most this often (by stamp); "
              "scenes in between are skipped and counted, hertz.", min_value=0.1,
              max_value=100.0),
    ParamSpec("max_new_tokens", 40, "Most tokens the model may generate per decision.",
              min_value=1, max_value=512),
    ParamSpec("instruction", "", "Operator instruction in force at start, plain language "
              "(later ones arrive on operator/instruction)."),
    ParamSpec("use_remote_plans", True, "Give the model a fresh, valid RemotePlan's first step "
              "as context."),
    ParamSpec("publish_on_action", True, "Publish as soon as the model has settled the action "
              "(speed, ids and reason it has not generated yet come from the rule policy for "
              "that action) instead of using the rest of the deadline to complete the answer."),
    ParamSpec("print_decisions", False, "Log every Decision (action, source, latency) at info."),
)

SCENE_PLAYER: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec("rate_hz", 10.0, "SceneSummaries published per second, hertz.", min_value=0.1,
              max_value=100.0),
    ParamSpec("scenarios", [], "Scenarios to draw scenes from, round-robin (empty: all "
              "packaged ones).", value_type=str),
    ParamSpec("first_seed", 2_000_000, "Seed of the first scene; scene i uses first_seed + i "
              "per scenario (disjoint from training seeds below 100000).", min_value=0,
              max_value=2**31 - 1),
    ParamSpec("publish_image", True, "Also publish a synthetic rgb8 camera frame with each "
              "scene (for keyframe payloads)."),
    ParamSpec("image_width", 640, "Synthetic frame width, pixels.", min_value=16,
              max_value=4096),
    ParamSpec("image_height", 480, "Synthetic frame height, pixels.", min_value=16,
              max_value=4096),
)

INSTRUCTION_INTERPRETER: tuple[ParamSpec, ...] = _common(
    slow_processing_ms=500.0, late_latency_ms=2000.0) + LIFECYCLE + (
    ParamSpec("model.backend", "encoder", "Reader of free-text instructions: encoder (the "
              "intent reader: a multilingual sentence encoder with heads trained here), "
              "llama_cpp (the small instruction language model, quantized GGUF on the CPU) "
              "or rules (the keyword parser only).", choices=("encoder", "llama_cpp", "rules")),
    ParamSpec("model.path", "", "The model: for encoder a folder with heads.npz and "
              "manifest.json, for llama_cpp a GGUF file (a bare name is looked up in the "
              "package's models folder). Empty: the shipped one (intent_reader, or "
              f"{INSTRUCTION_GGUF_NAME} that setup builds)."),
    ParamSpec("model.threads", 1, "CPU threads for the instruction model (it reads one "
              "instruction at a time, off the decision deadline).", min_value=1,
              max_value=256),
    ParamSpec("cache_size", 64, "Instructions whose reading is kept (a repeated instruction is "
              "answered from the cache).", min_value=1, max_value=100000),
    _same_as(REASONER, "instruction"),
)

REMOTE_PLANNER: tuple[ParamSpec, ...] = _common(
    slow_processing_ms=1500.0, late_latency_ms=3000.0) + LIFECYCLE + _model(TUNED_GGUF_NAME) + \
    FALLBACK + (
    ParamSpec("horizon_steps", 3, "Meta-actions per plan: the scene now, then rolled forward "
              "one step at a time.", min_value=1, max_value=16),
    ParamSpec("step_s", 1.0, "Duration of each planned step, seconds.", min_value=0.1,
              max_value=10.0),
    ParamSpec("time_to_live_s", 3.0, "A plan is stale this long after its scene stamp, seconds.",
              min_value=0.1, max_value=60.0),
    ParamSpec("step_budget_ms", 400.0, "Most model time per planned step; a step the model has "
              "not settled by then is the rule policy's, milliseconds.", min_value=5.0,
              max_value=60000.0),
    ParamSpec("max_new_tokens", 48, "Most tokens the model may generate per step.",
              min_value=1, max_value=512),
    ParamSpec("max_queue", 2, "Requests that may wait for the model, across vehicles; beyond "
              "that, or when a request cannot be planned before its deadline, it is answered "
              "busy at once.", min_value=0, max_value=64),
    ParamSpec("min_plan_budget_ms", 50.0, "A request with less time than this left when its "
              "turn comes is answered busy, milliseconds.", min_value=0.0, max_value=60000.0),
    ParamSpec("max_keyframe_bytes", 2_000_000, "Keyframes larger than this are ignored (the plan "
              "is made from the summary), bytes.", min_value=0, max_value=100_000_000),
    ParamSpec("liveliness_lease_s", 1.0, "DDS liveliness lease and deadline offered on the "
              "probe echoes (an extra to the vehicles' heartbeat check); must not exceed the "
              "vehicles' liveliness_timeout_s, or DDS will not match them, seconds.",
              min_value=0.05, max_value=60.0),
)

OFFLOAD_MANAGER: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec("vehicle_id", "vehicle_1", "This vehicle's id in PlanRequests; the remote serves "
              "several vehicles and answers are matched by it."),
    ParamSpec("plan_rate_hz", 1.0, "Scenes considered for remote planning per second (each "
              "gets a request id and exactly one outcome), hertz.", min_value=0.05,
              max_value=20.0),
    ParamSpec("planning_deadline_ms", 2000.0, "A plan must be back this long after the request "
              "is sent, or the request times out, milliseconds.", min_value=10.0,
              max_value=60000.0),
    ParamSpec("max_in_flight", 1, "Requests awaiting an answer at once; scenes beyond are not "
              "sent (outcome not_sent).", min_value=1, max_value=16),
    ParamSpec("heartbeat_period_s", 0.2, "Period of the empty probe that measures the bare "
              "round trip and shows the remote is alive, seconds.", min_value=0.01,
              max_value=10.0),
    ParamSpec("probe_period_s", 0.5, "Period of the sized probe that measures bandwidth, "
              "seconds.", min_value=0.05, max_value=60.0),
    ParamSpec("probe_target_ms", 30.0, "Sized probes are made to take about this long to upload "
              "at the current estimate, milliseconds.", min_value=1.0, max_value=1000.0),
    ParamSpec("probe_max_bytes", 48000, "Largest sized probe, bytes.", min_value=64,
              max_value=1_000_000),
    ParamSpec("liveliness_timeout_s", 1.0, "The remote is dead when no heartbeat echo came for "
              "this long, seconds.", min_value=0.05, max_value=60.0),
    ParamSpec("enable_fraction", 0.7, "Offload starts when the expected round trip (RTT + upload "
              "+ remote compute + download) fits this share of the planning deadline.",
              min_value=0.05, max_value=1.0),
    ParamSpec("disable_fraction", 0.9, "Offload stops when the expected round trip exceeds this "
              "share of the planning deadline (hysteresis: >= enable_fraction).",
              min_value=0.05, max_value=1.0),
    ParamSpec("reenable_dwell_s", 2.0, "After offload stops, it stays off at least this long, "
              "seconds.", min_value=0.0, max_value=600.0),
    ParamSpec("keyframe_enable_bps", 8e6, "Requests carry a compressed camera keyframe when the "
              "uplink estimate is above this, bits/second.", min_value=0.0, max_value=1e11),
    ParamSpec("keyframe_disable_bps", 4e6, "...and drop it again below this (hysteresis), "
              "bits/second.", min_value=0.0, max_value=1e11),
    ParamSpec("keyframe_jpeg_quality", 60, "JPEG quality of the keyframe.", min_value=1,
              max_value=100),
    ParamSpec("keyframe_max_width", 640, "Keyframes are downscaled to at most this width, "
              "pixels.", min_value=16, max_value=8192),
    ParamSpec("remote_compute_guess_ms", 800.0, "Remote planning time assumed until plans "
              "report theirs, milliseconds.", min_value=0.0, max_value=60000.0),
    ParamSpec("link_status_period_s", 0.5, "Period of link/status, seconds.", min_value=0.05,
              max_value=60.0),
    ParamSpec("print_outcomes", False, "Log every request's outcome (plans arriving, with "
              "their steps) and the link estimate at info."),
    ParamSpec("outcome_log", "", "JSON-lines file receiving every request's outcome (empty: "
              "none; outcomes are always published on remote/outcome)."),
)

FOXGLOVE_VIZ: tuple[ParamSpec, ...] = COMMON + (
    ParamSpec("host", "127.0.0.1", "Address the Foxglove WebSocket server listens on "
              "(0.0.0.0: every interface, for a viewer on another machine)."),
    ParamSpec("port", 8765, "Port of the Foxglove WebSocket server; 0 takes a free one "
              "(logged).", min_value=0, max_value=65535),
    ParamSpec("wait_for_detections", True, "Annotate each camera image when its 2D "
              "detections arrive (a camera detector runs); false annotates images as they "
              "arrive."),
    ParamSpec("forward_inputs", True, "Also send the inputs themselves (camera image, scene, "
              "decision, ...) and lidar/points, so the viewer shows the raw data beside the "
              "visualisation."),
    ParamSpec("tf_period_s", 1.0, "How often the sensors' mounting (base_link -> lidar and "
              "camera frames, from the extrinsics below) is sent on /tf_static, so a viewer "
              "that connects later still gets the frame tree; 0 never, seconds.",
              min_value=0.0, max_value=3600.0),
    _same_as(SCENE_FUSION, "camera_from_lidar"),
    _same_as(SCENE_FUSION, "base_from_lidar"),
    _same_as(SIMULATOR, "frames.lidar"),
    _same_as(SIMULATOR, "frames.base_link"),
    _same_as(SIMULATOR, "frames.camera"),
)

NODE_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    "simulator": SIMULATOR,
    "bag_replay": BAG_REPLAY,
    "bag_recorder": BAG_RECORDER,
    "camera_detector": CAMERA_DETECTOR,
    "lidar_detector": LIDAR_DETECTOR,
    "scene_fusion": SCENE_FUSION,
    "reasoner": REASONER,
    "instruction_interpreter": INSTRUCTION_INTERPRETER,
    "scene_player": SCENE_PLAYER,
    "remote_planner": REMOTE_PLANNER,
    "offload_manager": OFFLOAD_MANAGER,
    "foxglove_viz": FOXGLOVE_VIZ,
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


def default_of(node_kind: str, name: str) -> ParamValue:
    """The declared default of one node parameter: what core config dataclasses use as
    their field defaults, so no default is written twice."""
    for spec in node_spec(node_kind):
        if spec.name == name:
            if spec.required:
                raise KeyError(f"{node_kind}.{name} is required and has no default")
            return list(spec.default) if isinstance(spec.default, list) else spec.default
    raise KeyError(f"node '{node_kind}' has no parameter '{name}'")


def node_defaults(node_kind: str, params_file: str | Path | None = None,
                  node_name: str | None = None, namespace: str = "/",
                  overrides: dict[str, Any] | None = None) -> dict[str, ParamValue]:
    """The parameters a node of `node_kind` starts with: the spec defaults, then what a
    parameter file gives it (as rcl would match it), then `overrides`; checked.

    The offline commands build their configs from this, so they run what the node runs.
    Required parameters without a value are left out rather than refused (an offline
    command does not need them)."""
    specs = node_spec(node_kind)
    given: dict[str, Any] = {}
    if params_file is not None:
        check_params_file(params_file)
        given.update(node_params_from_file(params_file, node_name or node_kind, namespace))
    given.update(overrides or {})
    present = tuple(s for s in specs if not s.required or s.name in given)
    return validate_params(node_name or node_kind, present, given)
