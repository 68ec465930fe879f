"""Static checks of worlds/road.sdf and config/gz_bridge.yaml.

Gazebo is not installable here, so nothing runs a simulation: the world is validated
with SDFormat's own checker (`ign sdf -k`, from Debian's ignition-tools +
libsdformat-dev), every element name is checked against the SDFormat 1.9 spec (the
checker lets a misspelt element such as `min_angel` pass as valid), and the fields
the bridge and the pipeline rely on are checked explicitly: sensor topics, sizes,
rates, frames, and that the bridge maps exactly those Gazebo topics onto the topics
every sensor source of this package publishes.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_llm_ros.params import NODE_SPECS, node_params_from_file, validate_params

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "worlds" / "road.sdf"
BRIDGE = REPO / "config" / "gz_bridge.yaml"
SIMULATOR_CONFIG = REPO / "config" / "simulator.yaml"
SDF_VERSION = "1.9"  # the newest SDFormat 12 validates; Gazebo Harmonic and Ionic read it

# The sensor topics of every source (drivers, bags, built-in simulator, Gazebo):
# ROS topic -> (ROS type, the Gazebo type ros_gz_bridge converts from).
PACKAGE_TOPICS = {
    "camera/image_raw": ("sensor_msgs/msg/Image", "gz.msgs.Image"),
    "camera/camera_info": ("sensor_msgs/msg/CameraInfo", "gz.msgs.CameraInfo"),
    "lidar/points": ("sensor_msgs/msg/PointCloud2", "gz.msgs.PointCloudPacked"),
    "odom": ("nav_msgs/msg/Odometry", "gz.msgs.Odometry"),
    "/clock": ("rosgraph_msgs/msg/Clock", "gz.msgs.Clock"),
}
# Keys ros_gz_bridge's YAML reader knows (ros_gz_bridge/src/bridge_config.cpp).
BRIDGE_KEYS = {
    "ros_topic_name",
    "gz_topic_name",
    "ros_type_name",
    "gz_type_name",
    "direction",
    "lazy",
    "publisher_queue",
    "subscriber_queue",
}
REQUIRED_BRIDGE_KEYS = {"ros_topic_name", "gz_topic_name", "ros_type_name", "gz_type_name"}

# Elements Gazebo reads that SDFormat 1.9 does not define: (parent, element).
# gz-sensors (Harmonic) takes a sensor's header frame_id from <gz_frame_id>.
CUSTOM_ELEMENTS = {("sensor", "gz_frame_id")}

# Every system the world loads: library -> (plugin name, parameters it reads).
PLUGINS: dict[str, tuple[str, set[str]]] = {
    "gz-sim-physics-system": ("gz::sim::systems::Physics", {"engine"}),
    "gz-sim-user-commands-system": ("gz::sim::systems::UserCommands", set()),
    "gz-sim-scene-broadcaster-system": ("gz::sim::systems::SceneBroadcaster", set()),
    "gz-sim-sensors-system": ("gz::sim::systems::Sensors", {"render_engine"}),
    "gz-sim-velocity-control-system": (
        "gz::sim::systems::VelocityControl",
        {"initial_linear", "initial_angular", "topic", "link_name"},
    ),
    "gz-sim-odometry-publisher-system": (
        "gz::sim::systems::OdometryPublisher",
        {
            "odom_frame",
            "robot_base_frame",
            "odom_publish_frequency",
            "odom_topic",
            "odom_covariance_topic",
            "tf_topic",
            "dimensions",
            "xyz_offset",
            "rpy_offset",
            "gaussian_noise",
        },
    ),
}
WORLD_SYSTEMS = {
    "gz-sim-physics-system",
    "gz-sim-user-commands-system",
    "gz-sim-scene-broadcaster-system",
    "gz-sim-sensors-system",
}
EGO = "ego"


# --- Helpers --------------------------------------------------------------------------


def _ign() -> str:
    path = shutil.which("ign")
    if path is None:
        pytest.skip("`ign` is not on PATH: apt-get install ignition-tools libsdformat-dev")
    return path


@pytest.fixture(scope="module")
def world() -> ET.Element:
    return ET.parse(WORLD).getroot()


@pytest.fixture(scope="module")
def ego(world: ET.Element) -> ET.Element:
    models = [m for m in world.iter("model") if m.get("name") == EGO]
    assert len(models) == 1, f"expected one model named {EGO!r}"
    return models[0]


@pytest.fixture(scope="module")
def bridge() -> list[dict[str, Any]]:
    entries = yaml.safe_load(BRIDGE.read_text())
    assert isinstance(entries, list), "ros_gz_bridge wants a YAML list at the top level"
    return entries


@pytest.fixture(scope="module")
def simulator_params() -> dict[str, Any]:
    """What the built-in simulator runs with: config/simulator.yaml over its defaults."""
    overrides = node_params_from_file(SIMULATOR_CONFIG, "simulator")
    return validate_params("simulator", NODE_SPECS["simulator"], overrides)


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None and found.text is not None, f"missing <{path}>"
    return found.text.strip()


def _number(element: ET.Element, path: str) -> float:
    return float(_text(element, path))


def _pose(element: ET.Element) -> tuple[float, ...]:
    found = element.find("pose")
    if found is None or not (found.text or "").strip():
        return (0.0,) * 6
    return tuple(float(v) for v in found.text.split())


def _sensor(ego: ET.Element, sensor_type: str) -> tuple[ET.Element, ET.Element]:
    """(link, sensor) of the ego's only sensor of a type."""
    found = [
        (link, sensor)
        for link in ego.findall("link")
        for sensor in link.findall("sensor")
        if sensor.get("type") == sensor_type
    ]
    assert len(found) == 1, f"expected one {sensor_type} sensor on {EGO!r}, got {len(found)}"
    return found[0]


def _gz_topic(name: str) -> str:
    """Gazebo transport makes relative topic names absolute."""
    return name if name.startswith("/") else f"/{name}"


def _plugins(element: ET.Element) -> list[ET.Element]:
    return element.findall("plugin")


def _odometry_plugin(ego: ET.Element) -> ET.Element:
    found = [p for p in _plugins(ego) if p.get("filename") == "gz-sim-odometry-publisher-system"]
    assert len(found) == 1, "the ego needs one OdometryPublisher system"
    return found[0]


def _spec() -> ET.Element:
    result = subprocess.run(
        [_ign(), "sdf", "-d", SDF_VERSION], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return ET.fromstring(result.stdout)


def unknown_names(doc: ET.Element, spec: ET.Element, path: str = "") -> list[str]:
    """Element and attribute names in `doc` that the SDFormat spec does not define."""
    here = f"{path}/{doc.tag}"
    children = {c.get("name"): c for c in spec if c.tag == "element"}
    attributes = {c.get("name") for c in spec if c.tag == "attribute"}
    errors = [f"{here}/@{a}" for a in doc.attrib if a not in attributes]
    for child in doc:
        if (doc.tag, child.tag) in CUSTOM_ELEMENTS:
            continue
        if child.tag not in children:
            errors.append(f"{here}/{child.tag}")
        elif child.tag == "plugin":
            # A plugin's body is free-form; test_plugins_are_known checks it.
            errors += [f"{here}/plugin/@{a}" for a in child.attrib if a not in ("name", "filename")]
        else:
            errors += unknown_names(child, children[child.tag], here)
    return errors


# --- The world -------------------------------------------------------------------------


def test_world_is_valid_sdf() -> None:
    """SDFormat's own checker accepts the world (XML, required elements, unique names,
    frame graph). It also prints 'Valid.' after errors such as an unsupported version,
    so stderr must be free of errors too."""
    result = subprocess.run(
        [_ign(), "sdf", "-k", str(WORLD)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid" in result.stdout, result.stdout
    assert "Error" not in result.stderr, result.stderr


def test_world_uses_sdf_version_the_checker_knows(world: ET.Element) -> None:
    """SDFormat 12 cannot convert a newer version and would check nothing."""
    assert world.tag == "sdf" and world.get("version") == SDF_VERSION


def test_world_element_names_follow_the_sdf_spec(world: ET.Element) -> None:
    """No misspelt element or attribute anywhere (the checker would pass them silently)."""
    spec = _spec()
    assert spec.get("name") == "sdf"
    assert unknown_names(world, spec) == []


def test_spec_check_catches_a_misspelt_element() -> None:
    """The element-name check can fail: `min_angel` in the lidar scan is reported."""
    spec = _spec()
    broken = ET.fromstring(
        WORLD.read_text()
        .replace("<min_angle>", "<min_angel>", 1)
        .replace("</min_angle>", "</min_angel>", 1)
    )
    assert any(e.endswith("/horizontal/min_angel") for e in unknown_names(broken, spec))


def test_world_loads_the_systems_it_needs(world: ET.Element) -> None:
    """Physics, user commands, scene broadcaster and sensors (ogre2: gpu_lidar needs it)."""
    world_element = world.find("world")
    assert world_element is not None
    systems = {p.get("filename"): p for p in _plugins(world_element)}
    assert set(systems) >= WORLD_SYSTEMS
    assert _text(systems["gz-sim-sensors-system"], "render_engine") == "ogre2"


def test_plugins_are_known(world: ET.Element) -> None:
    """Every system the world names exists under that name and gets only parameters it
    reads (a misspelt plugin parameter is ignored by Gazebo without a word)."""
    for plugin in world.iter("plugin"):
        filename = plugin.get("filename")
        assert filename in PLUGINS, f"unexpected plugin {filename!r}"
        name, parameters = PLUGINS[filename]
        assert plugin.get("name") == name
        assert {c.tag for c in plugin} <= parameters, f"{filename}: {[c.tag for c in plugin]}"


def test_world_has_the_scene(world: ET.Element) -> None:
    """Sun, ground, road with lane markings, parked and moving traffic, two pedestrians,
    one cyclist and the ego."""
    lights = {light.get("name"): light for light in world.iter("light")}
    assert lights["sun"].get("type") == "directional"
    models = {m.get("name"): m for m in world.iter("model")}
    assert models["ground_plane"].find("link/collision/geometry/plane") is not None
    road_visuals = [v.get("name") or "" for v in models["road"].iter("visual")]
    assert sum("line" in name for name in road_visuals) >= 4
    moving = [n for n, m in models.items() if m.find("plugin") is not None and n != EGO]
    parked = [n for n, m in models.items() if m.findtext("static") == "true" and "parked" in n]
    assert sum(n.startswith("pedestrian") for n in moving) == 2
    assert sum(n.startswith("cyclist") for n in moving) == 1
    assert len([n for n in moving if n.endswith(("_car", "_van", "_truck"))]) >= 2
    assert len(parked) >= 2
    assert EGO in models


# --- The ego's sensors -----------------------------------------------------------------


def test_camera(ego: ET.Element) -> None:
    """640x480, 90 degree horizontal FOV, 10 Hz, on camera/image_raw, frame camera_optical,
    mounted at (1.5, 0, 1.6) m in base_link looking along +x."""
    link, camera = _sensor(ego, "camera")
    assert link.get("name") == "base_link" and _pose(link) == (0.0,) * 6
    assert _pose(camera) == (1.5, 0.0, 1.6, 0.0, 0.0, 0.0)
    assert _text(camera, "topic") == "camera/image_raw"
    assert _text(camera, "gz_frame_id") == "camera_optical"
    assert _number(camera, "update_rate") == 10.0
    assert _text(camera, "always_on") == "true"
    assert _number(camera, "camera/image/width") == 640
    assert _number(camera, "camera/image/height") == 480
    assert _text(camera, "camera/image/format") == "R8G8B8"
    assert _number(camera, "camera/horizontal_fov") == pytest.approx(1.5708, abs=1e-4)


def test_lidar(ego: ET.Element) -> None:
    """gpu_lidar: 32 rings from -25 to +15 degrees, 1024 azimuths a full turn apart
    without a duplicate ray, 0.5-100 m, 10 Hz, on lidar (points on lidar/points), frame
    lidar, mounted at (0, 0, 1.9) m in base_link."""
    link, lidar = _sensor(ego, "gpu_lidar")
    assert link.get("name") == "base_link"
    assert _pose(lidar) == (0.0, 0.0, 1.9, 0.0, 0.0, 0.0)
    assert _text(lidar, "topic") == "lidar"
    assert _text(lidar, "gz_frame_id") == "lidar"
    assert _number(lidar, "update_rate") == 10.0
    assert lidar.find("ray") is None, "use <lidar>, not the deprecated <ray>"
    scan = lidar.find("lidar/scan")
    assert scan is not None
    samples = _number(scan, "horizontal/samples")
    low, high = _number(scan, "horizontal/min_angle"), _number(scan, "horizontal/max_angle")
    assert samples == 1024
    assert low == pytest.approx(-math.pi, abs=1e-5)
    assert (high - low) / (samples - 1) == pytest.approx(2 * math.pi / samples, abs=1e-6)
    assert _number(scan, "vertical/samples") == 32
    assert _number(scan, "vertical/min_angle") == pytest.approx(math.radians(-25), abs=1e-5)
    assert _number(scan, "vertical/max_angle") == pytest.approx(math.radians(15), abs=1e-5)
    assert _number(lidar, "lidar/range/min") == 0.5
    assert _number(lidar, "lidar/range/max") == 100.0


def test_sensors_match_the_builtin_simulator(ego: ET.Element, simulator_params: dict) -> None:
    """Gazebo and the built-in simulator give the pipeline the same sensors: sizes, rates,
    ranges and frames from config/simulator.yaml."""
    _, camera = _sensor(ego, "camera")
    _, lidar = _sensor(ego, "gpu_lidar")
    p = simulator_params
    assert _number(camera, "camera/image/width") == p["camera.width_px"]
    assert _number(camera, "camera/image/height") == p["camera.height_px"]
    assert _number(camera, "camera/horizontal_fov") == pytest.approx(
        math.radians(p["camera.horizontal_fov_deg"]), abs=1e-4
    )
    assert _number(camera, "update_rate") == p["rate_hz"]
    assert _number(lidar, "update_rate") == p["rate_hz"]
    assert _number(lidar, "lidar/scan/vertical/samples") == p["lidar.channels"]
    assert _number(lidar, "lidar/scan/horizontal/samples") == p["lidar.horizontal_samples"]
    assert _number(lidar, "lidar/range/max") == p["lidar.max_range_m"]
    assert _text(camera, "gz_frame_id") == p["frames.camera"]
    assert _text(lidar, "gz_frame_id") == p["frames.lidar"]
    odometry = _odometry_plugin(ego)
    assert _text(odometry, "odom_frame") == p["frames.world"]
    assert _text(odometry, "robot_base_frame") == p["frames.base_link"]


def test_sensor_mounts_match_the_rig(ego: ET.Element) -> None:
    """Mounts, camera intrinsics and the lidar pattern are the simulator's rig
    (edge_llm_ros/sim/rig.py), the one definition every sensor source shares."""
    from edge_llm_ros.sim import rig

    _, camera = _sensor(ego, "camera")
    _, lidar = _sensor(ego, "gpu_lidar")
    assert _pose(camera) == pytest.approx((*rig.CAMERA_MOUNT_XYZ_M, 0.0, 0.0, 0.0))
    assert _pose(lidar) == pytest.approx((*rig.LIDAR_MOUNT_XYZ_M, 0.0, 0.0, 0.0))
    assert (_number(camera, "camera/image/width"),
            _number(camera, "camera/image/height")) == rig.CAMERA_SIZE_PX
    assert _number(camera, "camera/horizontal_fov") == pytest.approx(
        math.radians(rig.CAMERA_HORIZONTAL_FOV_DEG), abs=1e-4)
    low, high = (math.radians(a) for a in rig.LIDAR_VERTICAL_FOV_DEG)
    assert _number(lidar, "lidar/scan/vertical/min_angle") == pytest.approx(low, abs=1e-5)
    assert _number(lidar, "lidar/scan/vertical/max_angle") == pytest.approx(high, abs=1e-5)
    assert _number(lidar, "lidar/scan/vertical/samples") == rig.LIDAR_CHANNELS
    assert _number(lidar, "lidar/scan/horizontal/samples") == rig.LIDAR_HORIZONTAL_SAMPLES
    assert _number(lidar, "lidar/range/max") == rig.LIDAR_MAX_RANGE_M
    assert _number(lidar, "lidar/noise/stddev") == pytest.approx(rig.LIDAR_RANGE_NOISE_M)


# --- The bridge ------------------------------------------------------------------------


def test_bridge_entries_are_well_formed(bridge: list[dict[str, Any]]) -> None:
    """Only keys ros_gz_bridge reads, all four names set, Gazebo to ROS only."""
    for entry in bridge:
        assert isinstance(entry, dict)
        assert set(entry) <= BRIDGE_KEYS, sorted(set(entry) - BRIDGE_KEYS)
        assert set(entry) >= REQUIRED_BRIDGE_KEYS, sorted(REQUIRED_BRIDGE_KEYS - set(entry))
        assert entry["direction"] == "GZ_TO_ROS"


def test_bridge_ros_side_is_the_package_topics(bridge: list[dict[str, Any]]) -> None:
    """Exactly the sensor topics and types every other source publishes; relative names
    (so the launch namespace applies) except the global /clock."""
    ros_side = {e["ros_topic_name"]: (e["ros_type_name"], e["gz_type_name"]) for e in bridge}
    assert len(ros_side) == len(bridge), "a ROS topic is bridged twice"
    assert ros_side == PACKAGE_TOPICS


def test_bridge_gz_side_is_what_the_world_publishes(
    bridge: list[dict[str, Any]], ego: ET.Element
) -> None:
    """Each Gazebo topic is one the world really publishes: the camera's <topic> and the
    camera_info gz-sensors puts next to it, the gpu_lidar's <topic> + '/points' (the bare
    topic is a LaserScan), the OdometryPublisher's <odom_topic>, and /clock."""
    _, camera = _sensor(ego, "camera")
    _, lidar = _sensor(ego, "gpu_lidar")
    image_topic = _gz_topic(_text(camera, "topic"))
    info_element = camera.find("camera/camera_info_topic")
    if info_element is not None and info_element.text:
        info_topic = _gz_topic(info_element.text.strip())
    else:
        info_topic = image_topic.rsplit("/", 1)[0] + "/camera_info"
    expected = {
        "camera/image_raw": image_topic,
        "camera/camera_info": info_topic,
        "lidar/points": _gz_topic(_text(lidar, "topic")) + "/points",
        "odom": _gz_topic(_text(_odometry_plugin(ego), "odom_topic")),
        "/clock": "/clock",
    }
    gz_side = {e["ros_topic_name"]: _gz_topic(e["gz_topic_name"]) for e in bridge}
    assert gz_side == expected
