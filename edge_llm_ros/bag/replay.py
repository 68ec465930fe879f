"""The replay clock as pure logic: when, after playback starts, each message is due.

The ROS shell sleeps until `wall_offset_s`, publishes the message, and
publishes /clock from `bag_time_ns`; everything that decides those numbers
(rate, start offset, looping) lives here so it is tested without sleeping.

Loops keep the original bag stamps: every loop replays the same `bag_time_ns`
values and only `loop_index` and the wall offsets grow. So at each loop
boundary /clock jumps back to the start of the bag; nodes on sim time see a
backwards time jump there (the shell may use the change of `loop_index` to say
so). Stamps inside the messages are never rewritten.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import NamedTuple

from edge_llm_ros.bag.reader import BagMessage

# A loop whose messages all share one stamp has no length of its own; it
# repeats once per this much bag time instead of spinning.
_DEGENERATE_LOOP_PERIOD_NS = 1_000_000_000


@dataclass(frozen=True)
class ReplaySchedule:
    """Maps bag time to wall-clock time since playback start.

    Playback starts at `first_stamp_ns + start_offset_s` (the origin); a
    message stamped `t` is due `(t - origin) / rate` seconds later, so rate
    2.0 plays twice as fast. Messages before the origin are not played.
    """

    first_stamp_ns: int
    rate: float = 1.0
    start_offset_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"replay rate must be a finite number > 0, got {self.rate}")
        if not (math.isfinite(self.start_offset_s) and self.start_offset_s >= 0):
            raise ValueError(
                f"replay start_offset_s must be a finite number >= 0, got {self.start_offset_s}"
            )

    @property
    def origin_ns(self) -> int:
        """Bag time at which playback starts."""
        return self.first_stamp_ns + round(self.start_offset_s * 1e9)

    def includes(self, stamp_ns: int) -> bool:
        """Whether a message stamped `stamp_ns` is played (not before the origin)."""
        return stamp_ns >= self.origin_ns

    def wall_offset_s(self, stamp_ns: int) -> float:
        """Seconds after playback start at which a message stamped `stamp_ns` is due."""
        return (stamp_ns - self.origin_ns) / 1e9 / self.rate

    def bag_time_ns(self, wall_offset_s: float) -> int:
        """Bag time shown on /clock `wall_offset_s` seconds after playback start."""
        return self.origin_ns + round(wall_offset_s * self.rate * 1e9)


class ScheduledMessage(NamedTuple):
    """A message with the wall-clock offset it is due at."""

    wall_offset_s: float  # seconds since playback start (all loops together)
    bag_time_ns: int  # the message's original bag stamp: the /clock value to publish
    loop_index: int  # 0 for the first pass through the bag, 1 for the second, ...
    msg: BagMessage


MessageSource = Iterable[BagMessage] | Callable[[], Iterable[BagMessage]]


def plan_replay(
    messages: MessageSource,
    rate: float = 1.0,
    loop: bool = False,
    loops_max: int | None = None,
    start_offset_s: float = 0.0,
    *,
    bag_start_ns: int | None = None,
) -> Iterator[ScheduledMessage]:
    """Schedule the messages of a bag, lazily, in playback order.

    `messages` is the bag in timestamp order: a list, or a function returning
    a fresh iterator per pass (e.g. `lambda: iter_messages(path)`), which a
    loop needs because a one-shot iterator cannot be played twice.

    The time origin is `bag_start_ns` (give `BagInfo.start_ns`) or else the
    first message's stamp, plus `start_offset_s`; messages before it are
    skipped. If the source already skipped them (`iter_messages(...,
    start_offset_s)`), pass `bag_start_ns`: without it the first message left
    becomes the origin and the offset would be skipped a second time.

    With `loop`, the bag is played `loops_max` times (None: without end). Each
    loop starts one loop period after the previous one did: the time from
    the origin to the last message plus the mean message interval, so a
    periodic stream stays periodic across the seam. Wall offsets never
    decrease, even for a source that is not perfectly ordered.
    """
    if loops_max is not None and loops_max < 1:
        raise ValueError(f"loops_max must be >= 1 or None, got {loops_max}")
    # Validates rate and offset before anything is read.
    ReplaySchedule(bag_start_ns or 0, rate, start_offset_s)
    if callable(messages):
        factory = messages
    elif loop and iter(messages) is messages:
        raise TypeError(
            "plan_replay: looping needs a list of messages or a function returning "
            "a fresh iterator; a one-shot iterator can only be played once"
        )
    else:
        factory = lambda: messages  # noqa: E731 - same list every pass
    return _plan(factory, rate, loops_max if loop else 1, start_offset_s, bag_start_ns)


def _plan(
    factory: Callable[[], Iterable[BagMessage]],
    rate: float,
    passes: int | None,
    start_offset_s: float,
    bag_start_ns: int | None,
) -> Iterator[ScheduledMessage]:
    schedule = (
        ReplaySchedule(bag_start_ns, rate, start_offset_s) if bag_start_ns is not None else None
    )
    loop_start_s = 0.0
    previous_s = 0.0
    for loop_index in count():
        if passes is not None and loop_index >= passes:
            return
        first_ns = last_ns = None
        played = 0
        for msg in factory():
            stamp = msg.timestamp_ns
            if schedule is None:
                schedule = ReplaySchedule(stamp, rate, start_offset_s)
            if not schedule.includes(stamp):
                continue
            previous_s = max(previous_s, loop_start_s + schedule.wall_offset_s(stamp))
            if first_ns is None:
                first_ns = stamp
            last_ns = stamp
            played += 1
            yield ScheduledMessage(previous_s, stamp, loop_index, msg)
        if schedule is None or first_ns is None or last_ns is None:
            return  # nothing (left) to play: stop rather than loop on nothing
        mean_gap_ns = (last_ns - first_ns) / (played - 1) if played > 1 else 0.0
        period_ns = (last_ns - schedule.origin_ns) + mean_gap_ns
        if period_ns <= 0:
            period_ns = _DEGENERATE_LOOP_PERIOD_NS
        loop_start_s += period_ns / 1e9 / rate


HEADER_TYPE = "std_msgs/msg/Header"


def starts_with_header(fielddefs: dict, msgtype: str) -> bool:
    """Whether a message type's first field is a std_msgs/Header (typestore fielddefs)."""
    fields = fielddefs.get(msgtype, ((), ()))[1]
    return bool(fields) and fields[0][1][1:] == (HEADER_TYPE,)


def restamp_header(rawdata: bytes, map_ns: Callable[[int], int]) -> bytes:
    """The CDR bytes of a header-first message with header.stamp mapped by `map_ns`.

    The stamp is the first thing after the 4-byte encapsulation (int32 sec, uint32
    nanosec, in the message's byte order), so it is rewritten in place without
    deserializing the rest (a 1 MB image costs one copy)."""
    if len(rawdata) < 12 or rawdata[0] != 0 or rawdata[1] not in (0, 1):
        raise ValueError("not a CDR message with a header")
    fmt = "<iI" if rawdata[1] == 1 else ">iI"
    sec, nanosec = struct.unpack_from(fmt, rawdata, 4)
    new_sec, new_nanosec = divmod(map_ns(sec * 1_000_000_000 + nanosec), 1_000_000_000)
    out = bytearray(rawdata)
    struct.pack_into(fmt, out, 4, new_sec, new_nanosec)
    return bytes(out)
