"""SummaryTrigger: a summary as soon as a sweep can be fused, never a duplicate in between."""

from __future__ import annotations

import pytest

from edge_llm_ros.fusion.trigger import SummaryTrigger, TriggerConfig

MS = 1_000_000


def make(**kw) -> SummaryTrigger:
    return SummaryTrigger(TriggerConfig(**{"camera_wait_ms": 20.0, "sync_tolerance_ms": 60.0,
                                           "camera_freshness_ms": 300.0,
                                           "lidar_freshness_ms": 300.0, "heartbeat_ms": 100.0,
                                           **kw}))


def test_sweep_waits_for_its_camera_frame_then_goes_at_once():
    t = make()
    t.on_camera(0, 5 * MS)  # camera alive
    t.published(5 * MS)
    t.on_lidar(100 * MS, 160 * MS)
    assert not t.due(165 * MS)  # its camera frame is not in yet
    t.on_camera(100 * MS, 170 * MS)
    assert t.due(170 * MS)
    assert t.waits_timed_out == 0


def test_camera_frame_first_means_no_wait():
    t = make()
    t.on_camera(100 * MS, 150 * MS)
    t.on_lidar(100 * MS, 160 * MS)
    assert t.due(160 * MS)


def test_wait_ends_after_camera_wait_ms():
    t = make()
    t.on_camera(0, 50 * MS)
    t.published(50 * MS)
    t.on_lidar(100 * MS, 160 * MS)
    assert not t.due(179 * MS)
    assert t.due(180 * MS)
    assert t.waits_timed_out == 1


def test_no_wait_when_the_camera_is_not_delivering():
    t = make()
    t.on_lidar(100 * MS, 160 * MS)
    assert t.due(160 * MS)  # never heard from the camera
    t.published(160 * MS)
    t.on_camera(150 * MS, 200 * MS)
    t.on_lidar(1000 * MS, 1060 * MS)  # camera silent for 860 ms
    assert t.due(1060 * MS)


def test_nothing_due_between_sweeps_so_no_duplicate_stamps():
    t = make()
    t.on_camera(100 * MS, 150 * MS)
    t.on_lidar(100 * MS, 160 * MS)
    assert t.due(160 * MS)
    t.published(160 * MS)
    for now in range(161, 259, 7):
        assert not t.due(now * MS), now  # lidar alive: the next sweep triggers
    t.on_lidar(100 * MS, 262 * MS)  # a repeated (not newer) sweep stamp changes nothing
    assert not t.due(262 * MS)


def test_camera_only_each_new_frame_triggers():
    t = make()
    t.on_lidar(0, 10 * MS)
    t.on_camera(0, 10 * MS)
    assert t.due(10 * MS)
    t.published(10 * MS)
    t.on_camera(400 * MS, 420 * MS)  # lidar silent for 410 ms: down
    assert t.due(420 * MS)
    t.published(420 * MS)
    assert not t.due(430 * MS)  # no new frame yet
    t.on_camera(500 * MS, 520 * MS)
    assert t.due(520 * MS)


def test_heartbeat_when_no_sensor_delivers():
    t = make()
    assert t.due(0)  # first summary (mode none) goes out
    t.published(0)
    assert not t.due(99 * MS)
    assert t.due(100 * MS)


@pytest.mark.parametrize("field", ["camera_wait_ms", "sync_tolerance_ms"])
def test_bad_config_is_refused(field):
    with pytest.raises(ValueError, match=field):
        TriggerConfig(**{field: -1.0})
    with pytest.raises(ValueError, match="heartbeat_ms"):
        TriggerConfig(heartbeat_ms=0.0)
