"""Stage health: levels, log-once errors, stale inputs."""

from __future__ import annotations

from edge_llm_ros.diagnostics import Level, StageHealth


def make() -> StageHealth:
    health = StageHealth("stage", slow_processing_ms=50.0, late_latency_ms=100.0, late_streak=3)
    health.start(0.0)
    return health


def test_ok_with_timings_reports_figures() -> None:
    health = make()
    for ms in (10.0, 20.0, 30.0):
        health.record_timing(ms, 40.0)
    report = health.report(1.0)
    assert report.level == Level.OK and report.message == "ok"
    assert report.values["processing_time_ms_median"] == "20.00"
    assert report.values["frames"] == "3"


def test_slow_frame_warns_and_late_streak_errors() -> None:
    health = make()
    health.record_timing(80.0, 10.0)
    assert health.report(0.0).level == Level.WARN
    for _ in range(3):
        health.record_timing(10.0, 150.0)
    report = health.report(0.0)
    assert report.level == Level.ERROR and "results late" in report.message
    health.record_timing(10.0, 20.0)  # one on-time result ends the streak
    assert health.report(0.0).level == Level.OK


def test_errors_log_once_per_kind_but_all_are_counted() -> None:
    health = make()
    assert health.record_error("bad_encoding", "yuv422") is True
    assert health.record_error("bad_encoding", "yuv422") is False
    assert health.record_error("nan_points", "3 NaN") is True
    report = health.report(0.0)
    assert report.level == Level.WARN
    assert report.values["errors bad_encoding"] == "2"
    assert "3 bad input(s) since last report" in report.message
    # counted errors persist, but the warning clears once no new error arrives
    assert health.report(1.0).level == Level.OK


def test_stale_input_warns_once_per_silent_spell() -> None:
    health = make()
    health.watch_input("/lidar/points", timeout_s=2.0)
    assert health.stale_inputs(1.0) == []
    assert health.newly_stale_inputs(3.0) == ["/lidar/points"]
    assert health.newly_stale_inputs(4.0) == []
    assert health.report(4.0).level == Level.WARN
    health.record_input("/lidar/points", 4.5)
    assert health.report(5.0).level == Level.OK
    assert health.newly_stale_inputs(7.0) == ["/lidar/points"]


def test_conditions_hold_until_cleared() -> None:
    health = make()
    health.set_condition("qos", Level.WARN, "incompatible QoS on /x")
    assert "incompatible QoS" in health.report(0.0).message
    health.clear_condition("qos")
    assert health.report(0.0).level == Level.OK


def test_counters_show_without_changing_the_level() -> None:
    health = make()
    health.add_count("nonfinite points dropped", 120)
    health.add_count("nonfinite points dropped", 5)
    report = health.report(0.0)
    assert report.level == Level.OK
    assert report.values["nonfinite points dropped"] == "125"
