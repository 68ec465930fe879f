"""Fixtures for node tests: a listener node on the test's own DDS domain and
helpers to run `edge-llm-ros` / node executables as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    msg: Any
    wall_s: float


class Listener:
    """A real rclpy node in the test process that records what it hears."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("test_listener", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.messages: dict[str, list[Received]] = defaultdict(list)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # shutdown races end the loop
                break

    def subscribe(self, topic: str, msg_type: Any, qos: Any = None, raw: bool = False,
                  **kwargs: Any) -> Any:
        from rclpy.qos import QoSProfile

        def on_message(msg: Any) -> None:
            with self._lock:
                self.messages[topic].append(Received(msg, time.monotonic()))

        return self.node.create_subscription(
            msg_type, topic, on_message, qos or QoSProfile(depth=100), raw=raw, **kwargs
        )

    def get(self, topic: str) -> list[Any]:
        with self._lock:
            return [r.msg for r in self.messages[topic]]

    def received(self, topic: str) -> list[Received]:
        with self._lock:
            return list(self.messages[topic])

    def wait_for(self, condition: Callable[[], bool], timeout_s: float,
                 what: str | Callable[[], str]) -> None:
        """Poll a condition on received messages; `what` (or what it returns)
        explains a time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        text = what() if callable(what) else what
        raise AssertionError(f"timed out after {timeout_s} s waiting for {text}")

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        self._thread.join(timeout=2.0)


@pytest.fixture
def listener(ros_available: None, ros_domain_id: int) -> Iterator[Listener]:
    node = Listener(ros_domain_id)
    yield node
    node.close()


def edge_cmd(*args: str) -> list[str]:
    """The edge-llm-ros command as this interpreter runs it."""
    return [sys.executable, "-m", "edge_llm_ros.tools.cli", *args]


class Proc:
    """A child process whose output is kept for the assertion message."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> None:
        self.cmd = cmd
        self.popen = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.output = ""

    def wait(self, timeout_s: float) -> int:
        try:
            self.output, _ = self.popen.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.popen.kill()
            self.output, _ = self.popen.communicate()
            raise AssertionError(
                f"{self.cmd} did not finish in {timeout_s} s:\n{self.output}"
            ) from exc
        return self.popen.returncode

    def stop(self, timeout_s: float = 15.0) -> int:
        """Ctrl-C, as a user would, then wait."""
        import signal

        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout_s)


@pytest.fixture
def start_edge(ros_available: None, ros_env: dict[str, str]) -> Iterator[Callable[..., Proc]]:
    """Start `edge-llm-ros ARGS...` (or, with executable=, a node executable)
    as a real process on the test's domain; killed at teardown if still running."""
    procs: list[Proc] = []

    def start(*args: str, executable: str | None = None) -> Proc:
        cmd = [executable, *args] if executable else edge_cmd(*args)
        proc = Proc(cmd, ros_env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.communicate()


@pytest.fixture
def run_edge(start_edge: Callable[..., Proc]) -> Callable[..., tuple[int, str]]:
    """Run `edge-llm-ros ARGS...` to completion: (exit code, output)."""

    def run(*args: str, timeout_s: float = 120.0, executable: str | None = None
            ) -> tuple[int, str]:
        proc = start_edge(*args, executable=executable)
        code = proc.wait(timeout_s)
        return code, proc.output

    return run


SMALL_CAMERA = ["-p", "simulator.camera.width_px=160", "-p", "simulator.camera.height_px=120"]


@pytest.fixture(scope="session")
def sim_bag(tmp_path_factory: pytest.TempPathFactory, ros_available: None) -> Path:
    """A real recording of the simulator: `edge-llm-ros sim --record`."""
    out = tmp_path_factory.mktemp("simbag") / "braking"
    env = dict(os.environ, ROS_DOMAIN_ID="117")
    proc = subprocess.run(
        [sys.executable, "-m", "edge_llm_ros.tools.cli", "sim", "--scenario", "car_braking_ahead",
         *SMALL_CAMERA, "--record", str(out), "--duration", "6"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/camera/image_raw" in proc.stdout, "the run prints what was recorded"
    return out


def node_executable(name: str) -> str:
    """The installed node executable, where ros2 run / launch find it."""
    import os

    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "lib" / "edge_llm_ros" / name
        if candidate.is_file():
            return str(candidate)
    raise AssertionError(f"node executable {name} is not installed (run scripts/setup.sh)")


@pytest.fixture
def executable() -> Callable[[str], str]:
    return node_executable
