"""Where a stage runs: CPU cores, priority and threads, applied to the calling process
or thread at start-up and reported in plain words.

A compute plan is a parameter file (config/compute/*.yaml) that sets each node's
`compute.*` parameters (and, for a GPU vehicle, the device and backend parameters);
nodes apply their part with `apply_compute` when they start and print what took
effect. Nothing here fails a node: a setting the OS refuses (a raised priority
without the capability, a core the machine lacks) is reported and the node runs on
with what it has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ComputeSettings:
    """One stage's share of the machine."""

    cpus: tuple[int, ...] = ()  # cores the stage may run on; empty: all
    nice: int = 0  # -20 (first) .. 19 (last); below 0 needs CAP_SYS_NICE
    realtime_priority: int = 0  # 1..99: SCHED_FIFO (needs CAP_SYS_NICE); 0: normal scheduling

    def __post_init__(self) -> None:
        if any(c < 0 for c in self.cpus):
            raise ValueError(f"compute.cpus must be core numbers >= 0, got {list(self.cpus)}")
        if not -20 <= self.nice <= 19:
            raise ValueError(f"compute.nice must be in -20..19, got {self.nice}")
        if not 0 <= self.realtime_priority <= 99:
            raise ValueError(f"compute.realtime_priority must be in 0..99, got "
                             f"{self.realtime_priority}")


def available_cpus() -> tuple[int, ...]:
    """Cores this process may run on now."""
    return tuple(sorted(os.sched_getaffinity(0)))


def _threads(whole_process: bool) -> list[int]:
    """Linux keeps affinity, nice and scheduling per thread: a process's setting is its
    threads' settings (those started later inherit from their creator)."""
    if not whole_process:
        return [threading.get_native_id()]
    try:
        return sorted(int(tid) for tid in os.listdir("/proc/self/task"))
    except OSError:
        return [0]


def _each(tids: Sequence[int], apply: Callable[[int], None]) -> OSError | None:
    error = None
    for tid in tids:
        try:
            apply(tid)
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        except OSError as exc:
            error = exc
    return error


def _apply_affinity(tids: Sequence[int], cpus: Sequence[int]) -> str:
    missing = sorted(set(cpus) - set(range(os.cpu_count() or 1)))
    if missing:
        return (f"cores {list(cpus)} asked, but this machine has no core {missing}: "
                f"left on {list(available_cpus())}")
    error = _each(tids, lambda tid: os.sched_setaffinity(tid, cpus))
    if error is not None:
        return f"cores {list(cpus)} refused ({error.strerror}): left on {list(available_cpus())}"
    return f"cores {sorted(cpus)}"


def _apply_nice(tids: Sequence[int], nice: int) -> str:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    error = _each(tids, lambda tid: os.setpriority(os.PRIO_PROCESS, tid, nice))
    if error is not None:
        return f"nice {nice} refused ({error.strerror}): kept {before}"
    return f"nice {nice}"


def _apply_realtime(tids: Sequence[int], priority: int) -> str:
    error = _each(tids, lambda tid: os.sched_setscheduler(tid, os.SCHED_FIFO,
                                                          os.sched_param(priority)))
    if error is not None:
        return f"SCHED_FIFO {priority} refused ({error.strerror}): normal scheduling"
    return f"SCHED_FIFO {priority}"


def apply_compute(settings: ComputeSettings, whole_process: bool = True) -> list[str]:
    """Apply `settings` to every thread of this process (threads started later inherit
    them) or, with whole_process=False, to the calling thread only; one line per
    setting asked for, saying what took effect."""
    tids = _threads(whole_process)
    applied: list[str] = []
    if settings.cpus:
        applied.append(_apply_affinity(tids, settings.cpus))
    if settings.nice:
        applied.append(_apply_nice(tids, settings.nice))
    if settings.realtime_priority:
        applied.append(_apply_realtime(tids, settings.realtime_priority))
    return applied


def describe_current(whole_process: bool = True) -> str:
    """Where this process (or thread) runs now, for start-up logs and diagnostics."""
    target = 0 if whole_process else threading.get_native_id()
    policy = os.sched_getscheduler(target)
    sched = ("SCHED_FIFO " + str(os.sched_getparam(target).sched_priority)
             if policy == os.SCHED_FIFO else "normal scheduling")
    return (f"cores {list(available_cpus())}, nice {os.getpriority(os.PRIO_PROCESS, target)}, "
            f"{sched}")
