"""Reading rosbag2 bags (sqlite3 or MCAP) as raw CDR messages, without ROS.

Replay publishes each message's stored bytes unchanged, so reading never
decodes: a bag whose types this machine lacks still lists and iterates, and
`check_known_types` says which types a publisher could not be made for.
Decoding, when wanted, goes through `bag_typestore`, which rebuilds the types
from the definitions stored in the bag itself.

Every failure is a `BagError` naming the bag and the problem; the rosbags
exception stays attached as its cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml
from rosbags.highlevel import AnyReader
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    MessageDefinitionFormat,
    Qos,
)
from rosbags.rosbag2 import Reader
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag.types import BagError

STORAGE_SUFFIXES = {".mcap": "mcap", ".db3": "sqlite3"}

# "Infinite" durations in rosbag2 QoS profiles: Jazzy writes RMW_DURATION_INFINITE
# (INT64_MAX ns) split in sec/nsec; Humble and earlier wrote the old rmw_time_t
# maximum. Both read back as None.
_INFINITE_JAZZY = (9223372036, 854775807)
_INFINITE_HUMBLE = (2**31 - 1, 2**32 - 1)


@dataclass(frozen=True)
class QosProfile:
    """One offered QoS profile of a recorded publisher.

    Policies are rosbag2's lower-case names ("reliable", "best_effort",
    "transient_local", "volatile", "keep_last", "system_default", ...), so the
    ROS shell can map them onto rclpy enums; durations are nanoseconds, with
    None for infinite.
    """

    history: str
    depth: int
    reliability: str
    durability: str
    deadline_ns: int | None
    lifespan_ns: int | None
    liveliness: str
    liveliness_lease_duration_ns: int | None
    avoid_ros_namespace_conventions: bool


@dataclass(frozen=True)
class BagTopic:
    """One topic (and type) of a bag."""

    name: str
    msgtype: str
    message_count: int
    serialization_format: str
    offered_qos: tuple[QosProfile, ...]
    # False when the bag holds no definition of the type: decoding it then
    # needs a typestore that knows the type (old sqlite3 bags lack them).
    has_definition: bool


@dataclass(frozen=True)
class BagInfo:
    """What a bag holds, read from its metadata and storage index."""

    path: Path
    storage_id: str  # "mcap" or "sqlite3"
    message_count: int
    start_ns: int  # stamp of the first message (0 when the bag is empty)
    end_ns: int  # stamp of the last message (0 when the bag is empty)
    topics: tuple[BagTopic, ...]

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last message."""
        return self.end_ns - self.start_ns

    @property
    def duration_s(self) -> float:
        return self.duration_ns / 1e9

    @property
    def topic_names(self) -> list[str]:
        return sorted({t.name for t in self.topics})

    def topic(self, name: str) -> BagTopic | None:
        """The topic called `name`, or None."""
        return next((t for t in self.topics if t.name == name), None)


class BagMessage(NamedTuple):
    """One stored message: CDR bytes as published, with the bag's receive stamp."""

    topic: str
    msgtype: str
    timestamp_ns: int
    rawdata: bytes


def _storage_path(path: str | Path) -> tuple[Path, str]:
    """(path rosbags should open, storage id) for a bag directory or a bare storage file."""
    bag = Path(path).expanduser()
    if not bag.exists():
        raise BagError(f"bag '{bag}': no such file or directory")
    if bag.is_file():
        if bag.name == "metadata.yaml":
            return _storage_path(bag.parent)
        if bag.suffix in STORAGE_SUFFIXES:
            return bag, STORAGE_SUFFIXES[bag.suffix]
        raise BagError(
            f"bag '{bag}': not a rosbag2 bag (expected a bag directory with "
            "metadata.yaml, or a .mcap or .db3 file)"
        )
    metadata = bag / "metadata.yaml"
    if metadata.is_file():
        return bag, _metadata_storage_id(bag, metadata)
    # A recorder that was killed leaves no metadata.yaml; one storage file
    # is still readable on its own (rosbags reads the storage's own index).
    files = sorted(p for p in bag.iterdir() if p.suffix in STORAGE_SUFFIXES and p.is_file())
    if len(files) == 1:
        return files[0], STORAGE_SUFFIXES[files[0].suffix]
    if not files:
        raise BagError(
            f"bag '{bag}': not a rosbag2 bag: no metadata.yaml and no .mcap or .db3 file in it"
        )
    raise BagError(
        f"bag '{bag}': no metadata.yaml and {len(files)} storage files "
        f"({', '.join(p.name for p in files)}); run `ros2 bag reindex` on it, "
        "or open one storage file directly"
    )


def _metadata_storage_id(bag: Path, metadata: Path) -> str:
    """storage_identifier from metadata.yaml, with a clear error for a damaged file."""
    try:
        doc = yaml.safe_load(metadata.read_text(encoding="utf-8"))
        storage_id = doc["rosbag2_bagfile_information"]["storage_identifier"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BagError(f"bag '{bag}': cannot read metadata.yaml: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise BagError(
            f"bag '{bag}': metadata.yaml is not rosbag2 metadata (missing "
            "rosbag2_bagfile_information.storage_identifier)"
        ) from exc
    if storage_id not in STORAGE_SUFFIXES.values():
        raise BagError(
            f"bag '{bag}': storage '{storage_id}' is not supported (only sqlite3 and mcap)"
        )
    return str(storage_id)


def _check_sqlite_size(bag: Path, db3: Path) -> None:
    """Catch a truncated .db3 at open time.

    SQLite reads pages lazily, so a cut-off file otherwise opens fine and fails
    only when replay reaches the missing pages. The header gives the page size
    and (when current) the page count; the file must hold them all.
    """
    try:
        with db3.open("rb") as f:
            header = f.read(100)
        size = db3.stat().st_size
    except OSError as exc:
        raise BagError(f"bag '{bag}': cannot read '{db3.name}': {exc}") from exc
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise BagError(f"bag '{bag}': '{db3.name}' is not an SQLite database (or is truncated)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_current = header[24:28] == header[92:96]
    if size % page_size or (header_current and size < pages * page_size):
        raise BagError(
            f"bag '{bag}': '{db3.name}' is truncated ({size} bytes; its header says "
            f"{pages} pages of {page_size} bytes)"
        )


def _describe(exc: BaseException) -> str:
    """The rosbags error text, plus what it most likely means for the user."""
    text = str(exc).strip() or type(exc).__name__
    text = text if text.endswith(".") else text + "."
    lowered = text.lower()
    if "not supported" in lowered:
        hint = "The bag uses a format or version rosbags cannot read."
    elif "magic" in lowered or "truncated" in lowered:
        hint = (
            "The storage file is truncated or was never finished (a recorder that was "
            "killed); `mcap recover` (MCAP) or `ros2 bag reindex` may salvage it."
        )
    elif "missing" in lowered:
        hint = "metadata.yaml is damaged or does not match the files beside it."
    else:
        hint = "The bag is damaged (corrupt metadata.yaml or storage file)."
    return f"{text} {hint}"


@contextmanager
def _open_reader(bag: Path, storage: Path) -> Iterator[Reader]:
    """An open rosbags reader; any failure inside becomes a BagError naming the bag."""
    db3_files = [storage] if storage.is_file() else sorted(storage.glob("*.db3"))
    for db3 in db3_files:
        if db3.suffix == ".db3":
            _check_sqlite_size(bag, db3)
    try:
        reader = Reader(storage)
        reader.open()
    except BagError:
        raise
    except Exception as exc:
        raise BagError(f"bag '{bag}': cannot open: {_describe(exc)}") from exc
    try:
        yield reader
    except BagError:
        raise
    except Exception as exc:
        raise BagError(f"bag '{bag}': cannot read messages: {_describe(exc)}") from exc
    finally:
        with suppress(Exception):  # closing a reader of a damaged file: nothing to add
            reader.close()


def _qos_ns(sec: int, nsec: int) -> int | None:
    if (sec, nsec) in (_INFINITE_JAZZY, _INFINITE_HUMBLE):
        return None
    return sec * 1_000_000_000 + nsec


def _qos_time(ns: int | None) -> dict[str, int]:
    sec, nsec = _INFINITE_JAZZY if ns is None else divmod(ns, 1_000_000_000)
    return {"sec": sec, "nsec": nsec}


def offered_qos_yaml(profiles: Iterable[QosProfile]) -> str:
    """rosbag2's offered_qos_profiles text for `profiles` ("" for none).

    The form `BagRecorder.add_topic` takes, so a recorder can store the QoS
    its publishers offered and a re-recording keeps what a bag had.
    """
    items = [
        {
            "history": p.history,
            "depth": p.depth,
            "reliability": p.reliability,
            "durability": p.durability,
            "deadline": _qos_time(p.deadline_ns),
            "lifespan": _qos_time(p.lifespan_ns),
            "liveliness": p.liveliness,
            "liveliness_lease_duration": _qos_time(p.liveliness_lease_duration_ns),
            "avoid_ros_namespace_conventions": p.avoid_ros_namespace_conventions,
        }
        for p in profiles
    ]
    return yaml.safe_dump(items, sort_keys=False) if items else ""


def _qos_profile(qos: Qos) -> QosProfile:
    return QosProfile(
        history=qos.history.name.lower(),
        depth=qos.depth,
        reliability=qos.reliability.name.lower(),
        durability=qos.durability.name.lower(),
        deadline_ns=_qos_ns(*qos.deadline),
        lifespan_ns=_qos_ns(*qos.lifespan),
        liveliness=qos.liveliness.name.lower(),
        liveliness_lease_duration_ns=_qos_ns(*qos.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(qos.avoid_ros_namespace_conventions),
    )


def _topics(connections: Iterable[Connection]) -> tuple[BagTopic, ...]:
    """One BagTopic per (topic, type); connections of split bags are merged."""
    merged: dict[tuple[str, str], BagTopic] = {}
    for conn in connections:
        ext = conn.ext
        fmt = ext.serialization_format if isinstance(ext, ConnectionExtRosbag2) else "cdr"
        qos = ext.offered_qos_profiles if isinstance(ext, ConnectionExtRosbag2) else []
        topic = BagTopic(
            name=conn.topic,
            msgtype=conn.msgtype,
            message_count=conn.msgcount,
            serialization_format=fmt,
            offered_qos=tuple(_qos_profile(q) for q in qos),
            has_definition=conn.msgdef.format != MessageDefinitionFormat.NONE,
        )
        key = (conn.topic, conn.msgtype)
        if key in merged:
            have = merged[key]
            topic = BagTopic(
                name=have.name,
                msgtype=have.msgtype,
                message_count=have.message_count + topic.message_count,
                serialization_format=have.serialization_format,
                offered_qos=have.offered_qos or topic.offered_qos,
                has_definition=have.has_definition or topic.has_definition,
            )
        merged[key] = topic
    return tuple(sorted(merged.values(), key=lambda t: (t.name, t.msgtype)))


def open_bag(path: str | Path) -> BagInfo:
    """Describe a bag: a rosbag2 directory (sqlite3 or MCAP), or a bare .mcap/.db3 file."""
    bag = Path(path).expanduser()
    storage, storage_id = _storage_path(bag)
    with _open_reader(bag, storage) as reader:
        count = reader.message_count
        # rosbags' end_time is one past the last stamp; an empty bag has none.
        start_ns = reader.start_time if count else 0
        end_ns = reader.end_time - 1 if count else 0
        return BagInfo(
            path=bag,
            storage_id=storage_id,
            message_count=count,
            start_ns=start_ns,
            end_ns=max(start_ns, end_ns),
            topics=_topics(reader.connections),
        )


def check_known_types(info: BagInfo, is_known: Callable[[str], bool]) -> list[str]:
    """The bag's message types for which `is_known` says no, sorted, each once.

    The ROS shell passes a function that tries to import the Python message
    class: a publisher cannot be made for a type that fails.
    """
    return sorted({t.msgtype for t in info.topics if not is_known(t.msgtype)})


def iter_messages(
    path: str | Path,
    topics: Iterable[str] | None = None,
    start_offset_s: float = 0.0,
) -> Iterator[BagMessage]:
    """Messages of the bag in timestamp order, as raw CDR bytes.

    `topics` limits the output (None: every topic; empty: none); a topic the
    bag lacks is a BagError raised here, before iteration starts. `start_offset_s` skips
    the messages stamped earlier than that long after the bag's first message.
    The bag is opened on the first `next()` and closed when the iterator is
    exhausted or closed.
    """
    if start_offset_s < 0:
        raise BagError(f"bag '{path}': start_offset_s must be >= 0, got {start_offset_s}")
    bag = Path(path).expanduser()
    storage, _ = _storage_path(bag)
    wanted = None if topics is None else list(dict.fromkeys(topics))
    # Checked here, not lazily, so a wrong topic list fails where it is given.
    if wanted is not None:
        info = open_bag(bag)
        missing = [t for t in wanted if info.topic(t) is None]
        if missing:
            raise BagError(
                f"bag '{bag}': topics not in the bag: {', '.join(missing)} "
                f"(it has: {', '.join(info.topic_names) or 'no topics'})"
            )
    return _iter_messages(bag, storage, wanted, start_offset_s)


def _iter_messages(
    bag: Path, storage: Path, topics: list[str] | None, start_offset_s: float
) -> Iterator[BagMessage]:
    with _open_reader(bag, storage) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        if not connections or not reader.message_count:  # rosbags reads all on []
            return
        start = reader.start_time + round(start_offset_s * 1e9) if start_offset_s else None
        for conn, timestamp, rawdata in reader.messages(connections, start=start):
            yield BagMessage(conn.topic, conn.msgtype, timestamp, bytes(rawdata))


def bag_typestore(path: str | Path, default_typestore: Typestore | None = None) -> Typestore:
    """A typestore that decodes every message of the bag.

    Types come from the definitions stored in the bag (so custom types decode
    without their package, and an old recording decodes with the definitions
    it was made with); types the bag has no definition for come from
    `default_typestore` (for example `build_typestore()`).
    """
    bag = Path(path).expanduser()
    storage, _ = _storage_path(bag)
    try:
        with AnyReader([storage], default_typestore=default_typestore) as reader:
            typestore = reader.typestore
            bag_types = {c.msgtype for c in reader.connections}
    except BagError:
        raise
    except Exception as exc:
        raise BagError(
            f"bag '{bag}': cannot build message types from the bag: {_describe(exc)}"
        ) from exc
    missing = bag_types - typestore.fielddefs.keys()
    if missing and default_typestore is not None:
        # Mixed bag: some types stored without a definition. Take them (and
        # whatever they use) from the default store.
        typestore.register(
            {k: v for k, v in default_typestore.fielddefs.items() if k not in typestore.fielddefs}
        )
        missing = bag_types - typestore.fielddefs.keys()
    if missing:
        raise BagError(
            f"bag '{bag}': no definition of {', '.join(sorted(missing))} in the bag or the "
            "default typestore"
        )
    return typestore
