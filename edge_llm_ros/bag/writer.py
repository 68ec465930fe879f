"""Recording raw CDR messages to a new rosbag2 bag (MCAP or sqlite3), without ROS.

Each topic's connection stores the full definition of its type (the type
and every type it uses), so Foxglove, `ros2 bag` and rosbags decode the bag
on a machine without this package's msg/.

What is left on disk:
- `close()` after at least one message: the bag is finished and kept.
- `close()` with no message written: the output directory is removed (an
  empty bag is noise, and a later recording may take the name).
- an exception escaping the `with` block, or a storage failure during
  `add_topic`/`write`: the output directory is removed, so nothing
  half-written is ever left behind.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Literal

from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.rosbag2.enums import CompressionMode
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Writer
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag.types import BagError, build_typestore, message_definition

Storage = Literal["mcap", "sqlite3"]

_PLUGINS = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class _AnyThreadSqlite3Writer(Sqlite3Writer):
    """rosbags' sqlite3 storage, usable from a thread other than the one that opened it.

    A ROS node opens the bag in its constructor but writes from executor
    callbacks and closes from a shutdown path; Python's sqlite3 refuses that
    by default. The recorder's caller serializes the calls (one lock).
    """

    def __init__(self, path: Path, compression: CompressionMode) -> None:
        if compression == CompressionMode.STORAGE:
            raise WriterError("SQLITE3 writer does not support storage-side compression.")
        self.path = path / f"{path.name}.db3"
        self.conn = sqlite3.connect(f"file:{self.path}", uri=True, check_same_thread=False)
        self.conn.executescript(self.SQLITE_SCHEMA)
        self.cursor = self.conn.cursor()


class _Writer(Writer):
    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.SQLITE3: _AnyThreadSqlite3Writer}


class BagRecorder:
    """Writes (topic, stamp, CDR bytes) to a new bag; a context manager.

    `typestore` must know every type recorded (default: `build_typestore()`,
    the Jazzy standard types plus edge_llm_ros's). `version` is the rosbag2
    metadata version: 9 is what Jazzy writes.
    """

    def __init__(
        self,
        path: str | Path,
        storage: Storage = "mcap",
        typestore: Typestore | None = None,
        *,
        version: Literal[8, 9] = 9,
    ) -> None:
        self.path = Path(path).expanduser()
        if storage not in _PLUGINS:
            raise BagError(
                f"bag '{self.path}': storage '{storage}' is not supported (use mcap or sqlite3)"
            )
        if self.path.exists() or self.path.is_symlink():
            raise BagError(f"bag '{self.path}': already exists; not overwriting it")
        self.storage: Storage = storage
        self.typestore = typestore if typestore is not None else build_typestore()
        self._connections: dict[str, Connection] = {}
        self._message_count = 0
        self._closed = False
        self._writer = _Writer(self.path, version=version, storage_plugin=_PLUGINS[storage])
        try:
            self._writer.open()
        except WriterError as exc:  # created meanwhile by someone else: not ours to remove
            raise BagError(f"bag '{self.path}': cannot create it: {exc}") from exc
        except Exception as exc:
            self._remove_output()  # the directory may exist, the storage file not
            raise BagError(f"bag '{self.path}': cannot create it: {exc!r}") from exc

    @property
    def message_count(self) -> int:
        return self._message_count

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type of every registered topic."""
        return {topic: conn.msgtype for topic, conn in self._connections.items()}

    def _check_open(self) -> None:
        if self._closed:
            raise BagError(f"bag '{self.path}': the recorder is closed")

    def add_topic(self, topic: str, msgtype: str, offered_qos_yaml: str = "") -> None:
        """Register a topic (idempotent for the same type).

        `offered_qos_yaml` is rosbag2's offered_qos_profiles text (a YAML list
        of profiles, as in metadata.yaml); players use it to re-offer the same
        QoS (e.g. transient_local for latched topics).
        """
        self._check_open()
        if topic in self._connections:
            have = self._connections[topic].msgtype
            if have == msgtype:
                return
            raise BagError(
                f"bag '{self.path}': topic '{topic}' is already recorded as {have}, not {msgtype}"
            )
        try:
            msgdef, rihs01 = message_definition(self.typestore, msgtype)
        except KeyError:
            raise BagError(
                f"bag '{self.path}': topic '{topic}': message type '{msgtype}' is unknown "
                "(neither a ROS 2 Jazzy standard type nor in edge_llm_ros/msg; give its "
                "package's msg/ folder to build_typestore(extra_msg_dirs=...))"
            ) from None
        try:
            qos = parse_qos(offered_qos_yaml) if offered_qos_yaml.strip() else []
        except Exception as exc:
            raise BagError(
                f"bag '{self.path}': topic '{topic}': offered_qos_yaml is not rosbag2 QoS "
                f"profiles: {exc!r}"
            ) from exc
        try:
            conn = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=rihs01, offered_qos_profiles=qos
            )
        except Exception as exc:
            self._fail()
            raise BagError(
                f"bag '{self.path}': cannot add topic '{topic}' ({exc!r}); the bag was removed"
            ) from exc
        self._connections[topic] = conn

    def write(self, topic: str, timestamp_ns: int, rawdata: bytes | memoryview) -> None:
        """Append one message (CDR bytes) of a registered topic, stamped in nanoseconds."""
        self._check_open()
        conn = self._connections.get(topic)
        if conn is None:
            raise BagError(f"bag '{self.path}': topic '{topic}' was not added (call add_topic)")
        if not isinstance(timestamp_ns, int) or not 0 <= timestamp_ns < 2**63:
            raise BagError(
                f"bag '{self.path}': topic '{topic}': timestamp_ns must be an int in "
                f"[0, 2**63), got {timestamp_ns!r}"
            )
        try:
            self._writer.write(conn, timestamp_ns, rawdata)
        except Exception as exc:
            self._fail()
            raise BagError(
                f"bag '{self.path}': writing to '{topic}' failed ({exc!r}); the bag was removed"
            ) from exc
        self._message_count += 1

    def close(self) -> bool:
        """Finish the bag; True if it was kept (it holds messages), False if removed.

        Idempotent: later calls do nothing and return the same answer.
        """
        if self._closed:
            return self.path.exists()
        self._closed = True
        if self._message_count == 0:
            self._abort()
            return False
        try:
            self._writer.close()
        except Exception as exc:
            self._abort()
            raise BagError(
                f"bag '{self.path}': finishing the bag failed ({exc!r}); the bag was removed"
            ) from exc
        return True

    def abort(self) -> None:
        """Stop recording and remove the output directory."""
        if not self._closed:
            self._closed = True
            self._abort()

    def _fail(self) -> None:
        self._closed = True
        self._abort()

    def _abort(self) -> None:
        with suppress(Exception):  # the output is removed next; nothing to keep
            self._writer.abort()
        self._remove_output()

    def _remove_output(self) -> None:
        if self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
