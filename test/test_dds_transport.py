"""Non-blocking DDS sends by default: the value logic, and that Fast DDS really makes the
send sockets of a process started by the project's entry points non-blocking."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_llm_ros.dds_transport import ENV_VAR, ensure_non_blocking_sends, with_non_blocking_sends

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
    assert env == {"OTHER": "1", ENV_VAR: "DEFAULT?non_blocking=true"}
    assert ensure_non_blocking_sends(env) == "DEFAULT?non_blocking=true"  # idempotent


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
