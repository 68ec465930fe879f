"""Every PlanRequest ends in exactly one outcome: answered, busy, failed, timed out or not
sent. Answers after the timeout, duplicates and unknown ids are counted, never re-opened."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from edge_llm_ros.types import STATUS_BUSY, STATUS_ERROR, STATUS_OK

ANSWERED = "answered"
BUSY = "busy"
FAILED = "failed"
TIMED_OUT = "timed_out"
NOT_SENT = "not_sent"
OUTCOMES = (ANSWERED, BUSY, FAILED, TIMED_OUT, NOT_SENT)

_BY_STATUS = {STATUS_OK: ANSWERED, STATUS_BUSY: BUSY, STATUS_ERROR: FAILED}


@dataclass
class RequestRecord:
    request_id: str
    created_ns: int  # monotonic clock
    scene_stamp_ns: int = 0  # the scene's sensor stamp
    outcome: str = ""
    closed_ns: int = 0
    reason: str = ""
    payload_tier: int = 0
    upload_bytes: int = 0
    response_bytes: int = 0
    deadline_ns: int = 0
    round_trip_ms: float = math.nan
    remote_compute_ms: float = math.nan

    def as_json(self) -> str:
        d = asdict(self)
        for key in ("round_trip_ms", "remote_compute_ms"):
            if not math.isfinite(d[key]):
                d[key] = None
        return json.dumps(d)


@dataclass
class LedgerCounts:
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    late_answers: int = 0  # answers to requests already timed out
    duplicate_answers: int = 0
    unknown_answers: int = 0  # request ids this vehicle never sent


class RequestLedger:
    def __init__(self, log_path: Path | None = None) -> None:
        self._open: dict[str, RequestRecord] = {}
        self._closed: dict[str, str] = {}  # request id -> outcome, for late/duplicate answers
        self.counts = LedgerCounts()
        self._log: TextIO | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("a", encoding="utf-8")

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def _close(self, record: RequestRecord, outcome: str, now_ns: int,
               reason: str = "") -> RequestRecord:
        record.outcome, record.closed_ns, record.reason = outcome, now_ns, reason
        self.counts.outcomes[outcome] += 1
        self._closed[record.request_id] = outcome
        if len(self._closed) > 10_000:  # remember recent ids only
            for key in list(self._closed)[:5_000]:
                del self._closed[key]
        if self._log is not None:
            self._log.write(record.as_json() + "\n")
            self._log.flush()
        return record

    def _check_new(self, request_id: str) -> None:
        if request_id in self._open or request_id in self._closed:
            raise ValueError(f"request id {request_id!r} used twice")

    def not_sent(self, request_id: str, now_ns: int, reason: str,
                 scene_stamp_ns: int = 0) -> RequestRecord:
        self._check_new(request_id)
        return self._close(RequestRecord(request_id, now_ns, scene_stamp_ns), NOT_SENT, now_ns,
                           reason)

    def sent(self, request_id: str, now_ns: int, deadline_ms: float, payload_tier: int,
             upload_bytes: int, scene_stamp_ns: int = 0) -> None:
        self._check_new(request_id)
        self._open[request_id] = RequestRecord(
            request_id, now_ns, scene_stamp_ns, payload_tier=payload_tier,
            upload_bytes=upload_bytes,
            deadline_ns=now_ns + int(deadline_ms * 1e6))

    def answer(self, request_id: str, status: int, now_ns: int, response_bytes: int = 0,
               remote_compute_ms: float = math.nan, reason: str = "") -> RequestRecord | None:
        """Close a request with its answer; None (and counted) when it is not open."""
        record = self._open.pop(request_id, None)
        if record is None:
            earlier = self._closed.get(request_id)
            if earlier == TIMED_OUT:
                self.counts.late_answers += 1
            elif earlier is not None:
                self.counts.duplicate_answers += 1
            else:
                self.counts.unknown_answers += 1
            return None
        record.round_trip_ms = (now_ns - record.created_ns) / 1e6
        record.response_bytes = response_bytes
        record.remote_compute_ms = remote_compute_ms
        outcome = _BY_STATUS.get(status, FAILED)
        if status not in _BY_STATUS:
            reason = f"unknown status {status}"
        return self._close(record, outcome, now_ns, reason)

    def expire(self, now_ns: int) -> list[RequestRecord]:
        """Close every request whose deadline has passed with no answer."""
        due = [r for r in self._open.values() if now_ns > r.deadline_ns]
        for record in due:
            del self._open[record.request_id]
            self._close(record, TIMED_OUT, now_ns, "no answer by the planning deadline")
        return due

    def close_all(self, now_ns: int, reason: str) -> list[RequestRecord]:
        """At shutdown: whatever is still open times out, so nothing is left unaccounted."""
        records = list(self._open.values())
        self._open.clear()
        return [self._close(r, TIMED_OUT, now_ns, reason) for r in records]

    def totals(self) -> dict[str, int]:
        return dict(self.counts.outcomes)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def read_ledger(lines: Iterable[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.strip()]
