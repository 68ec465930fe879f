"""Every request id ends in exactly one outcome; late, duplicate and unknown answers are
counted and never re-open or double-count a request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_llm_ros.offload.ledger import RequestLedger
from edge_llm_ros.types import STATUS_BUSY, STATUS_ERROR, STATUS_OK

MS = 1_000_000


def test_each_request_gets_one_outcome_and_the_log_has_them_all(tmp_path: Path) -> None:
    log = tmp_path / "outcomes.jsonl"
    ledger = RequestLedger(log)
    ledger.not_sent("r0", 0, "link too slow", scene_stamp_ns=5)
    for i in range(1, 5):
        ledger.sent(f"r{i}", i * MS, 100.0, 0, 500)
    assert ledger.in_flight == 4
    answered = ledger.answer("r1", STATUS_OK, 50 * MS, 300, 20.0)
    assert answered is not None and answered.round_trip_ms == pytest.approx(49.0)
    assert ledger.answer("r2", STATUS_BUSY, 10 * MS).outcome == "busy"
    assert ledger.answer("r3", STATUS_ERROR, 10 * MS, reason="boom").outcome == "failed"
    assert [r.request_id for r in ledger.expire(200 * MS)] == ["r4"]
    # Late, duplicate and unknown answers change no outcome.
    assert ledger.answer("r4", STATUS_OK, 300 * MS) is None
    assert ledger.answer("r1", STATUS_OK, 300 * MS) is None
    assert ledger.answer("nobody", STATUS_OK, 300 * MS) is None
    assert ledger.totals() == {"answered": 1, "busy": 1, "failed": 1, "timed_out": 1,
                               "not_sent": 1}
    c = ledger.counts
    assert (c.late_answers, c.duplicate_answers, c.unknown_answers) == (1, 1, 1)
    ledger.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["request_id"] for r in rows) == ["r0", "r1", "r2", "r3", "r4"]
    assert rows[0]["scene_stamp_ns"] == 5 and rows[0]["round_trip_ms"] is None


def test_ids_cannot_be_reused_and_shutdown_closes_the_rest() -> None:
    ledger = RequestLedger()
    ledger.sent("a", 0, 1000.0, 1, 40_000)
    with pytest.raises(ValueError, match="twice"):
        ledger.sent("a", 1, 1000.0, 1, 40_000)
    closed = ledger.close_all(5 * MS, "shutdown")
    assert [(r.request_id, r.outcome) for r in closed] == [("a", "timed_out")]
    assert ledger.in_flight == 0
    with pytest.raises(ValueError):
        ledger.not_sent("a", 6 * MS, "again")
