"""The replay clock: rate, start offset, loops and ordering, without sleeping."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag import (
    BagMessage,
    BagRecorder,
    ReplaySchedule,
    ScheduledMessage,
    iter_messages,
    open_bag,
    plan_replay,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S


def msgs(*offsets_s: float, topic: str = "/t") -> list[BagMessage]:
    return [BagMessage(topic, "std_msgs/msg/Empty", T0 + round(o * S), b"") for o in offsets_s]


def offsets(plan: Iterable[ScheduledMessage]) -> list[float]:
    return [round(item.wall_offset_s, 9) for item in plan]


def test_real_time_keeps_the_bag_spacing() -> None:
    plan = list(plan_replay(msgs(0, 0.1, 0.25, 2.0)))
    assert offsets(plan) == [0.0, 0.1, 0.25, 2.0]
    assert [p.bag_time_ns for p in plan] == [m.timestamp_ns for m in msgs(0, 0.1, 0.25, 2.0)]
    assert {p.loop_index for p in plan} == {0}
    assert [p.msg for p in plan] == msgs(0, 0.1, 0.25, 2.0)


@pytest.mark.parametrize(("rate", "expected"), [(2.0, [0, 0.5, 1.0]), (0.5, [0, 2.0, 4.0])])
def test_rate_scales_wall_time_not_bag_time(rate: float, expected: list[float]) -> None:
    plan = list(plan_replay(msgs(0, 1, 2), rate=rate))
    assert offsets(plan) == expected
    assert [p.bag_time_ns for p in plan] == [T0, T0 + S, T0 + 2 * S]


def test_start_offset_skips_the_beginning_and_starts_the_clock_there() -> None:
    plan = list(plan_replay(msgs(0, 0.5, 1.0, 1.5, 3.0), start_offset_s=0.75, rate=2.0))
    assert [p.bag_time_ns for p in plan] == [T0 + S, T0 + 3 * S // 2, T0 + 3 * S]
    # Playback starts at bag time T0 + 0.75 s; the first message is 0.25 s later, at rate 2.
    assert offsets(plan) == [0.125, 0.375, 1.125]


def test_bag_start_keeps_the_lead_in_of_a_topic_subset_and_a_pre_skipped_source() -> None:
    """With bag_start_ns, a source already cut by iter_messages is not cut twice."""
    whole = msgs(0, 1, 2, 3, 4)
    expected = offsets(plan_replay(whole, start_offset_s=1.5))
    pre_skipped = [m for m in whole if m.timestamp_ns >= T0 + 1.5 * S]
    assert offsets(plan_replay(pre_skipped, start_offset_s=1.5, bag_start_ns=T0)) == expected
    # A topic that starts late keeps its delay from the bag's start.
    assert offsets(plan_replay(msgs(2, 3), bag_start_ns=T0)) == [2.0, 3.0]


def test_two_loops_continue_in_wall_time_and_repeat_bag_time() -> None:
    bag = msgs(0, 0.1, 0.2, 0.3)
    plan = list(plan_replay(bag, rate=2.0, loop=True, loops_max=2))
    assert [p.loop_index for p in plan] == [0] * 4 + [1] * 4
    assert [p.bag_time_ns for p in plan] == [m.timestamp_ns for m in bag] * 2
    # One loop lasts the bag's span plus one mean message interval (0.3 + 0.1 s at
    # rate 2 = 0.2 s), so a 10 Hz bag stays 10 Hz across the seam.
    assert offsets(plan) == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]


def test_loop_without_limit_is_lazy_and_reads_the_bag_again_each_pass() -> None:
    passes = []

    def source() -> list[BagMessage]:
        passes.append(1)
        return msgs(0, 1)

    plan = plan_replay(source, loop=True)
    first = list(islice(plan, 7))
    assert [p.loop_index for p in first] == [0, 0, 1, 1, 2, 2, 3]
    assert offsets(first) == [0, 1, 2, 3, 4, 5, 6]
    assert len(passes) == 4


def test_loop_needs_a_replayable_source() -> None:
    with pytest.raises(TypeError, match="one-shot iterator"):
        plan_replay(iter(msgs(0, 1)), loop=True)
    # Played once, a one-shot iterator is fine.
    assert len(list(plan_replay(iter(msgs(0, 1))))) == 2


def test_loops_degenerate_sources_end_or_advance() -> None:
    assert list(plan_replay([], loop=True)) == []
    # All messages past the start offset: nothing to loop over, so it ends.
    assert list(plan_replay(msgs(0, 1), loop=True, start_offset_s=5.0)) == []
    # One message, or one stamp: one loop per second of bag time, not a busy spin.
    assert offsets(plan_replay(msgs(0), loop=True, loops_max=3)) == [0.0, 1.0, 2.0]
    same_stamp = msgs(0, 0)
    assert offsets(plan_replay(same_stamp, loop=True, loops_max=2)) == [0, 0, 1, 1]


def test_wall_offsets_never_go_backwards() -> None:
    plan = list(plan_replay(msgs(0, 2, 1, 3)))
    assert offsets(plan) == [0.0, 2.0, 2.0, 3.0]


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_invalid_rate_is_refused_up_front(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        ReplaySchedule(T0, rate)
    with pytest.raises(ValueError, match="rate"):
        plan_replay(msgs(0), rate=rate)  # at the call, before iteration


def test_invalid_offset_and_loops_max_are_refused() -> None:
    with pytest.raises(ValueError, match="start_offset_s"):
        plan_replay(msgs(0), start_offset_s=-1.0)
    with pytest.raises(ValueError, match="loops_max"):
        plan_replay(msgs(0), loop=True, loops_max=0)


def test_schedule_maps_both_ways() -> None:
    schedule = ReplaySchedule(T0, rate=4.0, start_offset_s=2.0)
    assert schedule.origin_ns == T0 + 2 * S
    assert not schedule.includes(T0 + S) and schedule.includes(T0 + 2 * S)
    assert schedule.wall_offset_s(T0 + 6 * S) == 1.0
    assert schedule.bag_time_ns(1.0) == T0 + 6 * S
    assert schedule.bag_time_ns(schedule.wall_offset_s(T0 + 3 * S)) == T0 + 3 * S


def test_plan_over_a_real_bag_with_start_offset(tmp_path: Path, typestore: Typestore) -> None:
    """The node's use: re-read the bag per loop, skip in the reader, clock from the bag start."""
    string = typestore.types["std_msgs/msg/String"]
    bag = tmp_path / "bag"
    with BagRecorder(bag, storage="mcap", typestore=typestore) as rec:
        rec.add_topic("/a", "std_msgs/msg/String")
        rec.add_topic("/b", "std_msgs/msg/String")
        for i in range(10):
            data = bytes(typestore.serialize_cdr(string(str(i)), "std_msgs/msg/String"))
            rec.write("/a" if i % 2 else "/b", T0 + i * S // 10, data)
    info = open_bag(bag)
    plan = list(
        plan_replay(
            lambda: iter_messages(bag, ["/a"], 0.25),
            rate=1.0,
            loop=True,
            loops_max=2,
            start_offset_s=0.25,
            bag_start_ns=info.start_ns,
        )
    )
    assert [p.msg.topic for p in plan] == ["/a"] * 8
    assert [p.bag_time_ns - T0 for p in plan] == [
        3 * S // 10,
        5 * S // 10,
        7 * S // 10,
        9 * S // 10,
    ] * 2
    # First /a message 0.05 s after the 0.25 s cut; loop = 0.65 s span + 0.2 s interval.
    assert offsets(plan) == [0.05, 0.25, 0.45, 0.65, 0.9, 1.1, 1.3, 1.5]


def test_restamp_rewrites_only_the_header_stamp_in_both_byte_orders() -> None:
    from rosbags.typesys.stores.latest import builtin_interfaces__msg__Time as Time
    from rosbags.typesys.stores.latest import sensor_msgs__msg__Imu as Imu
    from rosbags.typesys.stores.latest import std_msgs__msg__Header as Header

    from edge_llm_ros.bag import build_typestore
    from edge_llm_ros.bag.replay import restamp_header, starts_with_header

    store = build_typestore()
    assert starts_with_header(store.fielddefs, "sensor_msgs/msg/Image")
    assert not starts_with_header(store.fielddefs, "rosgraph_msgs/msg/Clock")
    assert not starts_with_header(store.fielddefs, "no_such/msg/Type")
    # a header-first message with payload after the header
    imu = Imu(header=Header(stamp=Time(sec=10, nanosec=999_999_000), frame_id="imu"),
              orientation=store.types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
              orientation_covariance=np.arange(9, dtype=np.float64),
              angular_velocity=store.types["geometry_msgs/msg/Vector3"](x=1.0, y=2.0, z=3.0),
              angular_velocity_covariance=np.zeros(9),
              linear_acceleration=store.types["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=9.8),
              linear_acceleration_covariance=np.zeros(9))
    raw = bytes(store.serialize_cdr(imu, "sensor_msgs/msg/Imu"))
    shifted = restamp_header(raw, lambda ns: ns + 1_500_000)
    back = store.deserialize_cdr(shifted, "sensor_msgs/msg/Imu")
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (11, 1_499_000)
    assert back.header.frame_id == "imu" and back.angular_velocity.z == 3.0
    assert list(back.orientation_covariance) == list(range(9))
    big_endian = bytes(store.serialize_cdr(imu, "sensor_msgs/msg/Imu", little_endian=False))
    back = store.deserialize_cdr(restamp_header(big_endian, lambda ns: ns - 999_999_000),
                                 "sensor_msgs/msg/Imu")
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (10, 0)
    with pytest.raises(ValueError, match="not a CDR message"):
        restamp_header(b"\x01\x02", lambda ns: ns)
