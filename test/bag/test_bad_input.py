"""Bad bags and bad calls fail with a BagError naming the bag and the problem,
never a bare traceback from inside rosbags; the recorder never leaves a
half-written bag behind."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag import (
    BagError,
    BagRecorder,
    bag_typestore,
    build_typestore,
    check_known_types,
    deserialize,
    iter_messages,
    open_bag,
    package_msg_dir,
    serialize,
)
from edge_llm_ros.bag.types import PACKAGE_NAME

# Fixture types (conftest.py provides the fixtures; test modules cannot import it).
Sample = tuple[str, str, int, Any]
WriteBag = Callable[..., Path]
Same = Callable[..., None]

STORAGES = ["mcap", "sqlite3"]
SUFFIX = {"mcap": ".mcap", "sqlite3": ".db3"}

WIDGET_MSG = """\
# A message type only this test knows.
uint8 SHAPE_ROUND=1
std_msgs/Header header
string name
float64[] sizes_m   # metres
"""


def read_all(path: Path) -> None:
    """Open and read a bag through, as replay would."""
    open_bag(path)
    for _ in iter_messages(path):
        pass


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    for call in (open_bag, lambda p: list(iter_messages(p)), bag_typestore):
        with pytest.raises(BagError, match="no such file or directory") as err:
            call(missing)
        assert str(missing) in str(err.value)


def test_folder_or_file_that_is_not_a_bag(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(BagError, match="not a rosbag2 bag") as err:
        open_bag(empty)
    assert str(empty) in str(err.value)
    with pytest.raises(BagError, match="not a rosbag2 bag"):
        open_bag(empty / "notes.txt")

    for name in ("fake.mcap", "fake.db3"):
        fake = tmp_path / name
        fake.write_bytes(b"this is no bag at all, just bytes" * 10)
        with pytest.raises(BagError) as err:
            open_bag(fake)
        assert str(fake) in str(err.value)


def test_folder_with_several_storage_files_and_no_metadata(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag
) -> None:
    bag = write_bag(tmp_path / "bag", "mcap", samples)
    (bag / "metadata.yaml").unlink()
    shutil.copy(bag / "bag.mcap", bag / "bag_1.mcap")
    with pytest.raises(BagError, match="reindex"):
        open_bag(bag)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("cut", [1, 37, 700])
def test_truncated_storage_file(
    tmp_path: Path, storage: str, cut: int, samples: list[Sample], write_bag: WriteBag
) -> None:
    bag = write_bag(tmp_path / "bag", storage, samples)
    storage_file = bag / f"bag{SUFFIX[storage]}"
    data = storage_file.read_bytes()
    storage_file.write_bytes(data[:-cut])
    for path in (bag, storage_file):
        with pytest.raises(BagError) as err:
            read_all(path)
        text = str(err.value)
        assert str(path) in text
        assert "truncated" in text or "damaged" in text
        assert "Traceback" not in text


def test_corrupt_sqlite_pages_fail_while_reading(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag
) -> None:
    """Damage SQLite only notices when it reads the page: the error comes from iteration."""
    bag = write_bag(tmp_path / "bag", "sqlite3", samples)
    db3 = bag / "bag.db3"
    data = bytearray(db3.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # every page but the header page
        data[start : start + page] = b"\xa5" * page
    db3.write_bytes(bytes(data))
    with pytest.raises(BagError) as err:
        read_all(bag)
    assert str(bag) in str(err.value)
    assert isinstance(err.value.__cause__, Exception)  # the rosbags error, kept for debugging


def _info(doc: dict) -> dict:
    return doc["rosbag2_bagfile_information"]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("{{{ not: [yaml", "cannot read metadata.yaml"),
        ("just a string\n", "not rosbag2 metadata"),
        ("rosbag2_bagfile_information:\n  version: 9\n", "not rosbag2 metadata"),
        (lambda d: _info(d).update(storage_identifier="lmdb"), "'lmdb' is not supported"),
        (lambda d: _info(d).update(relative_file_paths=["elsewhere.mcap"]), "elsewhere.mcap"),
        (lambda d: _info(d).update(duration={"nanoseconds": "long"}), "cannot open"),
        (lambda d: _info(d).pop("topics_with_message_count"), "topics_with_message_count"),
        (lambda d: _info(d).update(version=99), "version 99"),
    ],
    ids=[
        "not-yaml",
        "not-a-mapping",
        "keys-missing",
        "storage",
        "file-missing",
        "bad-duration",
        "no-topics",
        "future-version",
    ],
)
def test_corrupt_metadata(
    tmp_path: Path,
    samples: list[Sample],
    write_bag: WriteBag,
    damage: str | Callable[[dict], object],
    expected: str,
) -> None:
    bag = write_bag(tmp_path / "bag", "mcap", samples)
    meta = bag / "metadata.yaml"
    if isinstance(damage, str):
        meta.write_text(damage)
    else:
        doc = yaml.safe_load(meta.read_text())
        damage(doc)
        meta.write_text(yaml.safe_dump(doc))
    with pytest.raises(BagError, match=expected) as err:
        read_all(bag)
    assert str(bag) in str(err.value)


@pytest.mark.parametrize("storage", STORAGES)
def test_bag_with_a_type_unknown_here(
    tmp_path: Path, storage: str, typestore: Typestore, same: Same
) -> None:
    """A recorded type nobody here has: listed by check_known_types, still replayable
    as bytes, and decodable from the definition the bag carries."""
    widget_dir = tmp_path / "acme_msgs" / "msg"
    widget_dir.mkdir(parents=True)
    (widget_dir / "Widget.msg").write_text(WIDGET_MSG)
    recording_store = build_typestore([widget_dir])
    widget_cls = recording_store.types["acme_msgs/msg/Widget"]
    header = recording_store.types["std_msgs/msg/Header"](
        stamp=recording_store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2),
        frame_id="w",
    )
    widget = widget_cls(header=header, name="gear", sizes_m=np.array([0.5, 1.25]))
    bag = tmp_path / "bag"
    with BagRecorder(bag, storage=storage, typestore=recording_store) as rec:
        rec.add_topic("/widget", "acme_msgs/msg/Widget")
        rec.add_topic("/odom", "nav_msgs/msg/Odometry")
        rec.write("/widget", 10, serialize(recording_store, widget, "acme_msgs/msg/Widget"))

    info = open_bag(bag)
    known_here = build_typestore()  # edge_llm_ros + standard types, no acme_msgs
    assert check_known_types(info, lambda t: t in known_here.fielddefs) == ["acme_msgs/msg/Widget"]
    assert check_known_types(info, lambda t: True) == []
    (raw,) = list(iter_messages(bag))
    assert raw.msgtype == "acme_msgs/msg/Widget"
    with pytest.raises(BagError, match="acme_msgs/msg/Widget"):
        deserialize(known_here, raw.rawdata, raw.msgtype)
    store = bag_typestore(bag, default_typestore=get_typestore(Stores.ROS2_JAZZY))
    decoded = deserialize(store, raw.rawdata, raw.msgtype)
    same(widget, decoded)
    assert type(decoded).SHAPE_ROUND == 1


def test_topics_not_in_the_bag(tmp_path: Path, samples: list[Sample], write_bag: WriteBag) -> None:
    bag = write_bag(tmp_path / "bag", "mcap", samples)
    with pytest.raises(BagError, match=r"topics not in the bag: /nope, /also_not") as err:
        iter_messages(bag, ["/odom", "/nope", "/also_not"])  # at the call, not on next()
    assert "/odom" in str(err.value)  # what the bag does have
    with pytest.raises(BagError, match="start_offset_s"):
        iter_messages(bag, start_offset_s=-1)


def test_recorder_refuses_to_overwrite(tmp_path: Path, typestore: Typestore) -> None:
    existing_dir = tmp_path / "bag"
    existing_dir.mkdir()
    (existing_dir / "keep.txt").write_text("precious")
    existing_file = tmp_path / "file.mcap"
    existing_file.write_text("precious")
    for path in (existing_dir, existing_file):
        with pytest.raises(BagError, match="already exists") as err:
            BagRecorder(path, typestore=typestore)
        assert str(path) in str(err.value)
    assert (existing_dir / "keep.txt").read_text() == "precious"
    assert existing_file.read_text() == "precious"


@pytest.mark.parametrize("storage", STORAGES)
def test_recorder_removes_its_output_when_an_exception_escapes(
    tmp_path: Path, storage: str, typestore: Typestore
) -> None:
    bag = tmp_path / "bag"
    string = typestore.types["std_msgs/msg/String"]
    with (
        pytest.raises(RuntimeError, match="boom"),
        BagRecorder(bag, storage=storage, typestore=typestore) as rec,
    ):
        rec.add_topic("/t", "std_msgs/msg/String")
        rec.write("/t", 1, serialize(typestore, string("x"), "std_msgs/msg/String"))
        assert bag.is_dir()
        raise RuntimeError("boom")
    assert not bag.exists()


@pytest.mark.parametrize("storage", STORAGES)
def test_recorder_keeps_a_bag_with_messages_and_drops_an_empty_one(
    tmp_path: Path, storage: str, typestore: Typestore
) -> None:
    string = typestore.types["std_msgs/msg/String"]
    empty = BagRecorder(tmp_path / "empty", storage=storage, typestore=typestore)
    empty.add_topic("/t", "std_msgs/msg/String")
    assert empty.close() is False
    assert not (tmp_path / "empty").exists()

    kept = BagRecorder(tmp_path / "kept", storage=storage, typestore=typestore)
    kept.add_topic("/t", "std_msgs/msg/String")
    kept.write("/t", 1, serialize(typestore, string("x"), "std_msgs/msg/String"))
    assert kept.close() is True
    assert kept.close() is True  # idempotent
    assert open_bag(tmp_path / "kept").message_count == 1
    with pytest.raises(BagError, match="closed"):
        kept.write("/t", 2, b"")


def test_recorder_rejects_bad_calls_and_stays_usable(tmp_path: Path, typestore: Typestore) -> None:
    string = typestore.types["std_msgs/msg/String"]
    with pytest.raises(BagError, match="storage 'rosbag1'"):
        BagRecorder(tmp_path / "x", storage="rosbag1", typestore=typestore)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()

    bag = tmp_path / "bag"
    with BagRecorder(bag, typestore=typestore) as rec:
        with pytest.raises(BagError, match="'acme_msgs/msg/Widget' is unknown") as err:
            rec.add_topic("/w", "acme_msgs/msg/Widget")
        assert str(bag) in str(err.value)
        with pytest.raises(BagError, match="offered_qos_yaml"):
            rec.add_topic("/q", "std_msgs/msg/String", "- [not, a, profile]")
        with pytest.raises(BagError, match="was not added"):
            rec.write("/w", 1, b"")
        rec.add_topic("/t", "std_msgs/msg/String")
        rec.add_topic("/t", "std_msgs/msg/String")  # the same again: fine
        with pytest.raises(BagError, match="already recorded as std_msgs/msg/String"):
            rec.add_topic("/t", "std_msgs/msg/Int32")
        with pytest.raises(BagError, match="timestamp_ns"):
            rec.write("/t", -5, b"")
        rec.write("/t", 7, serialize(typestore, string("ok"), "std_msgs/msg/String"))
    assert [(m.topic, m.timestamp_ns) for m in iter_messages(bag)] == [("/t", 7)]


def test_package_msg_dir_prefers_the_installed_share_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "prefix" / "share" / PACKAGE_NAME / "msg"
    share.mkdir(parents=True)
    for src in package_msg_dir().glob("*.msg"):
        shutil.copy(src, share / src.name)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'elsewhere'}:{tmp_path / 'prefix'}")
    assert package_msg_dir() == share
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "elsewhere"))
    source = package_msg_dir()
    assert (source / "SceneSummary.msg").is_file() and (source.parent / "package.xml").is_file()


def test_build_typestore_reports_bad_message_folders(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="does not exist"):
        build_typestore([tmp_path / "acme_msgs" / "msg"])
    wrong = tmp_path / "acme_msgs" / "definitions"
    wrong.mkdir(parents=True)
    with pytest.raises(BagError, match="must be named msg/"):
        build_typestore([wrong])
    broken = tmp_path / "broken_msgs" / "msg"
    broken.mkdir(parents=True)
    (broken / "Bad.msg").write_text("this is not a field definition !!\n")
    with pytest.raises(BagError, match="Bad.msg"):
        build_typestore([broken])
