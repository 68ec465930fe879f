"""Non-blocking DDS sends by default: the value logic, and that Fast DDS really makes the
send sockets of a process started by the project's entry points non-blocking."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_llm_ros.dds_transport import (
    CHOSEN_HERE_VAR,
    ENV_VAR,
    SENSOR_DATA_OPTION,
    ensure_non_blocking_sends,
    with_non_blocking_sends,
)

O_NONBLOCK = 0o4000


@pytest.mark.parametrize(("given", "expected"), [
    (None, "DEFAULT?non_blocking=true"),
    ("", "DEFAULT?non_blocking=true"),
    ("UDPv4", "UDPv4?non_blocking=true"),
    ("UDPv4?", "UDPv4?non_blocking=true"),
    ("LARGE_DATA?max_msg_size=1MB", "LARGE_DATA?max_msg_size=1MB&non_blocking=true"),
    ("DEFAULT?non_blocking=false", "DEFAULT?non_blocking=false"),  # the user's choice stands
    ("SHM?non_blocking=true", "SHM?non_blocking=true"),
])
def test_the_users_transport_choice_is_kept(given: str | None, expected: str) -> None:
    assert with_non_blocking_sends(given) == expected


def test_ensure_sets_the_environment_given() -> None:
    env = {"OTHER": "1"}
    assert ensure_non_blocking_sends(env) == "DEFAULT?non_blocking=true"
    assert env == {"OTHER": "1", ENV_VAR: "DEFAULT?non_blocking=true",
                   CHOSEN_HERE_VAR: "DEFAULT?non_blocking=true"}
    assert ensure_non_blocking_sends(env) == "DEFAULT?non_blocking=true"  # idempotent


def test_sensor_data_processes_get_large_buffers_unless_the_user_chose() -> None:
    """A KITTI image (1.4 MB) or sweep (1.9 MB) is lost with Fast DDS's default buffers;
    the processes that move them get larger ones, the remote link's do not; a value a
    parent process chose is redone for this one's nodes, a user's is kept."""
    env: dict[str, str] = {}
    assert ensure_non_blocking_sends(env, ["camera_detector"]) == \
        f"DEFAULT?non_blocking=true&{SENSOR_DATA_OPTION}"
    assert ensure_non_blocking_sends(env, ["offload_manager"]) == "DEFAULT?non_blocking=true"
    assert ensure_non_blocking_sends(env, ["bag_replay", "reasoner"]).endswith(
        SENSOR_DATA_OPTION)
    user = {ENV_VAR: "UDPv4"}
    assert ensure_non_blocking_sends(user, ["lidar_detector"]) == "UDPv4?non_blocking=true"
    assert CHOSEN_HERE_VAR not in user
    # a child whose parent chose, but whose launcher set its own value since (the link lab)
    child = dict(env, **{ENV_VAR: "UDPv4?non_blocking=true"})
    assert ensure_non_blocking_sends(child, ["simulator"]) == "UDPv4?non_blocking=true"


def _socket_flags(pid: int) -> list[int]:
    flags = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if not os.readlink(fd).startswith("socket:"):
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
        except OSError:
            continue
        flags += [int(line.split()[1], 8) for line in info.splitlines()
                  if line.startswith("flags:")]
    return flags


@pytest.mark.ros
@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs Linux /proc")
def test_a_node_process_sends_without_blocking(ros_available: None, ros_env: dict[str, str],
                                               tmp_path: Path) -> None:
    """`edge-llm-ros run` (the engine of launch, sim and the link tests) with the variable
    unset: Fast DDS's UDP send sockets carry O_NONBLOCK. Without the setting none does
    (checked by hand with FASTDDS_BUILTIN_TRANSPORTS=DEFAULT: every socket flag 02)."""
    env = {k: v for k, v in ros_env.items() if k != ENV_VAR}
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "edge_llm_ros.tools.cli", "run", "--nodes",
                             "scene_player", "--duration", "20"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15.0
        flags: list[int] = []
        while time.monotonic() < deadline and not any(f & O_NONBLOCK for f in flags):
            time.sleep(0.5)
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-2000:]
            flags = _socket_flags(proc.pid)
        assert flags, "the node process opened no socket"
        assert any(f & O_NONBLOCK for f in flags), [oct(f) for f in flags]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


_COUNT_IMAGES = """
import sys, time
from edge_llm_ros.dds_transport import ensure_non_blocking_sends
ensure_non_blocking_sends(node_kinds=["camera_detector"])
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, PointCloud2
rclpy.init()
node = rclpy.create_node("sensor_counter")
sizes, sweeps = [], []
node.create_subscription(Image, "/camera/image_raw", lambda m: sizes.append(len(m.data)),
                         qos_profile_sensor_data)
node.create_subscription(PointCloud2, "/lidar/points", lambda m: sweeps.append(len(m.data)),
                         qos_profile_sensor_data)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
print("received", len(sizes), min(sizes, default=0), len(sweeps), flush=True)
"""


@pytest.mark.ros
def test_real_images_and_sweeps_cross_between_processes(ros_available: None,
                                                    ros_env: dict[str, str],
                                                    kitti_labelled_dir: Path,
                                                    tmp_path: Path) -> None:
    """KITTI images (1.4 MB) and sweeps (1.9 MB) replayed by `edge-llm-ros replay` reach
    a sensor process with the project's default transports. With Fast DDS's default
    buffers (FASTDDS_BUILTIN_TRANSPORTS=DEFAULT, the user's choice kept) almost none did."""
    from edge_llm_ros.tools.importers.kitti_bag import import_kitti

    bag = tmp_path / "kitti"
    import_kitti(kitti_labelled_dir, bag, rate_hz=4.0, max_frames=3, hold=4)  # 12 images
    env = {k: v for k, v in ros_env.items() if k not in (ENV_VAR, CHOSEN_HERE_VAR)}
    counter = subprocess.Popen([sys.executable, "-c", _COUNT_IMAGES, "25"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert counter.stdout is not None
        assert counter.stdout.readline().strip() == "ready"
        replay = subprocess.run([sys.executable, "-m", "edge_llm_ros.tools.cli", "replay",
                                 str(bag), "--topics", "/camera/image_raw", "/lidar/points",
                                 "--no-clock"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert replay.returncode == 0, replay.stderr[-2000:]
        out, _ = counter.communicate(timeout=40)
    finally:
        counter.kill()
    line = [row for row in out.splitlines() if row.startswith("received")][-1].split()
    images, smallest, sweeps = int(line[1]), int(line[2]), int(line[3])
    assert smallest > 1_300_000  # KITTI colour images: 1.3-1.4 MB each
    assert images >= 10 and sweeps >= 10, out[-2000:]
