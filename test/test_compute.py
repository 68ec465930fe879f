"""Compute settings applied to real processes and threads (each test in a child process,
so the test runner keeps its own cores and priority)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from edge_llm_ros.compute import ComputeSettings


def _child(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


# Raising nice needs no privilege; start from wherever the test runner is.
NICE = os.getpriority(os.PRIO_PROCESS, 0)


def test_a_process_moves_to_its_cores_with_every_thread() -> None:
    out = _child(
        "import os, threading, time\n"
        "from edge_llm_ros.compute import ComputeSettings, apply_compute\n"
        "stop = threading.Event()\n"
        "t = threading.Thread(target=stop.wait); t.start()\n"  # a thread that exists before
        f"print(apply_compute(ComputeSettings(cpus=(0,), nice={NICE + 3})))\n"
        "tids = os.listdir('/proc/self/task')\n"
        "print(sorted({tuple(os.sched_getaffinity(int(x))) for x in tids}))\n"
        "print(sorted({os.getpriority(os.PRIO_PROCESS, int(x)) for x in tids}))\n"
        "stop.set(); t.join()\n")
    applied, affinities, nices = out.strip().splitlines()
    assert applied == f"['cores [0]', 'nice {NICE + 3}']"
    assert affinities == "[(0,)]" and nices == f"[{NICE + 3}]"


def test_one_thread_only_and_refusals_are_reported_not_raised() -> None:
    out = _child(
        "import os, threading\n"
        "from edge_llm_ros.compute import ComputeSettings, apply_compute, describe_current\n"
        "res = {}\n"
        "def work():\n"
        f"    res['applied'] = apply_compute(ComputeSettings(nice={NICE + 5}),\n"
        "                                   whole_process=False)\n"
        "    res['thread'] = describe_current(whole_process=False)\n"
        "t = threading.Thread(target=work); t.start(); t.join()\n"
        "print(res['applied']); print(res['thread']); print(describe_current())\n"
        f"print(apply_compute(ComputeSettings(cpus=({os.cpu_count()},))))\n")
    applied, thread, process, missing = out.strip().splitlines()
    assert applied == f"['nice {NICE + 5}']" and f"nice {NICE + 5}" in thread
    assert f"nice {NICE}," in process  # the rest of the process is untouched
    assert "has no core" in missing


@pytest.mark.parametrize("bad", [{"cpus": (-1,)}, {"nice": 25}, {"realtime_priority": 120}])
def test_bad_settings_are_named(bad: dict) -> None:
    with pytest.raises(ValueError, match="compute."):
        ComputeSettings(**bad)
