"""Bags written by BagRecorder read back exactly, in both storages, and carry
their type definitions so tools without our msg/ decode them."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from edge_llm_ros.bag import (
    BagError,
    BagRecorder,
    bag_typestore,
    build_typestore,
    deserialize,
    iter_messages,
    offered_qos_yaml,
    open_bag,
    serialize,
)

# Fixture types (conftest.py provides the fixtures; test modules cannot import it).
Sample = tuple[str, str, int, Any]
WriteBag = Callable[..., Path]
Same = Callable[..., None]

STORAGES = ["mcap", "sqlite3"]
CUSTOM = "edge_llm_ros/msg/"

LATCHED_QOS = """\
- history: keep_last
  depth: 1
  reliability: reliable
  durability: transient_local
  deadline: {sec: 9223372036, nsec: 854775807}
  lifespan: {sec: 9223372036, nsec: 854775807}
  liveliness: automatic
  liveliness_lease_duration: {sec: 9223372036, nsec: 854775807}
  avoid_ros_namespace_conventions: false
"""


@pytest.mark.parametrize("storage", STORAGES)
def test_round_trip_every_message_exactly(
    tmp_path: Path,
    storage: str,
    samples: list[Sample],
    write_bag: WriteBag,
    typestore: Typestore,
    same: Same,
) -> None:
    bag = write_bag(tmp_path / "bag", storage, samples)

    info = open_bag(bag)
    assert info.storage_id == storage
    assert info.message_count == len(samples)
    assert info.start_ns == samples[0][2]
    assert info.end_ns == samples[-1][2]
    assert info.duration_s == pytest.approx((samples[-1][2] - samples[0][2]) / 1e9)
    counts: dict[str, int] = {}
    for topic, _, _, _ in samples:
        counts[topic] = counts.get(topic, 0) + 1
    assert {t.name: t.message_count for t in info.topics} == counts
    assert {t.name: t.msgtype for t in info.topics} == {s[0]: s[1] for s in samples}
    assert all(t.has_definition for t in info.topics)

    read = list(iter_messages(bag))
    assert [m.timestamp_ns for m in read] == sorted(m.timestamp_ns for m in read)
    assert len(read) == len(samples)
    for (topic, msgtype, stamp, msg), got in zip(samples, read, strict=True):
        assert (got.topic, got.msgtype, got.timestamp_ns) == (topic, msgtype, stamp)
        assert isinstance(got.rawdata, bytes)
        assert got.rawdata == serialize(typestore, msg, msgtype)
        same(msg, deserialize(typestore, got.rawdata, msgtype), msgtype)

    scene = deserialize(typestore, read[3].rawdata, CUSTOM + "SceneSummary")
    assert scene.perception_mode == "fused" == scene.MODE_FUSED
    assert scene.MODE_CAMERA_ONLY == "camera_only"
    assert scene.objects[1].time_to_collision_s == float("inf")


@pytest.mark.parametrize("storage", STORAGES)
def test_topic_filter_and_start_offset(
    tmp_path: Path, storage: str, samples: list[Sample], write_bag: WriteBag
) -> None:
    bag = write_bag(tmp_path / "bag", storage, samples)
    odom = list(iter_messages(bag, ["/odom"]))
    assert [m.timestamp_ns for m in odom] == [s[2] for s in samples if s[0] == "/odom"]
    assert list(iter_messages(bag, [])) == []

    cut_ns = samples[4][2] - samples[0][2]
    later = list(iter_messages(bag, start_offset_s=cut_ns / 1e9))
    assert [m.timestamp_ns for m in later] == [s[2] for s in samples[4:]]


@pytest.mark.parametrize("storage", STORAGES)
def test_fresh_standard_typestore_decodes_custom_types_from_the_bag(
    tmp_path: Path, storage: str, samples: list[Sample], write_bag: WriteBag, same: Same
) -> None:
    """Nothing of edge_llm_ros's msg/ is needed to decode its messages from a bag."""
    bag = write_bag(tmp_path / "bag", storage, samples)
    fresh = get_typestore(Stores.ROS2_JAZZY)
    assert CUSTOM + "SceneSummary" not in fresh.fielddefs
    expected = {s[2]: s[3] for s in samples}

    storage_file = next(bag.glob("*.mcap" if storage == "mcap" else "*.db3"))
    for path in (bag, storage_file):  # the directory, and the bare storage file
        with AnyReader([path], default_typestore=fresh) as reader:
            decoded = {ts: reader.deserialize(raw, c.msgtype) for c, ts, raw in reader.messages()}
            scene_cls = reader.typestore.types[CUSTOM + "SceneSummary"]
            assert scene_cls.MODE_LIDAR_ONLY == "lidar_only"
        assert decoded.keys() == expected.keys()
        for stamp, msg in expected.items():
            same(msg, decoded[stamp], str(path))

    store = bag_typestore(bag, default_typestore=get_typestore(Stores.ROS2_JAZZY))
    for msg in iter_messages(bag, ["/remote/plan", "/offload/plan_request"]):
        same(expected[msg.timestamp_ns], deserialize(store, msg.rawdata, msg.msgtype))


def test_mcap_schemas_hold_the_full_original_definitions(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag
) -> None:
    bag = write_bag(tmp_path / "bag", "mcap", samples)
    with (bag / "bag.mcap").open("rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        assert summary is not None
        schemas = {s.name: s for s in summary.schemas.values()}
        assert reader.get_header().profile == "ros2"
        # The official reader walks every record (chunks, indexes) without complaint.
        assert sum(1 for _ in reader.iter_messages()) == len(samples)
    assert set(schemas) == {s[1] for s in samples}
    assert all(s.encoding == "ros2msg" for s in schemas.values())

    request = schemas[CUSTOM + "PlanRequest"].data.decode()
    # The root definition is the .msg file itself, comments and units included ...
    assert request.startswith("# A request for heavy planning")
    assert "float32 planning_deadline_ms        # the answer is useless" in request
    # ... followed by every type it uses, nested ones included.
    for dep in (
        "std_msgs/Header",
        "builtin_interfaces/Time",
        "edge_llm_ros/SceneSummary",
        "edge_llm_ros/EgoState",
        "edge_llm_ros/TrackedObject",
        "edge_llm_ros/StageLatency",
        "geometry_msgs/Point",
        "geometry_msgs/Vector3",
        "sensor_msgs/CompressedImage",
    ):
        assert f"\n{'=' * 80}\nMSG: {dep}\n" in request, dep
    assert request.count("MSG: edge_llm_ros/TrackedObject\n") == 1
    assert 'string MODE_FUSED="fused"' in request
    assert "MSG: " not in schemas["sensor_msgs/msg/Image"].data.decode().split("=" * 80)[0]


@pytest.mark.parametrize("storage", STORAGES)
def test_offered_qos_is_stored_and_reported(
    tmp_path: Path, storage: str, typestore: Typestore
) -> None:
    bag = tmp_path / "bag"
    with BagRecorder(bag, storage=storage, typestore=typestore) as rec:
        rec.add_topic("/map", "std_msgs/msg/String", LATCHED_QOS)
        rec.add_topic("/chatter", "std_msgs/msg/String")
        rec.write(
            "/map",
            5,
            serialize(
                typestore, typestore.types["std_msgs/msg/String"]("m"), "std_msgs/msg/String"
            ),
        )
    info = open_bag(bag)
    (qos,) = info.topic("/map").offered_qos
    assert (qos.reliability, qos.durability, qos.history, qos.depth) == (
        "reliable",
        "transient_local",
        "keep_last",
        1,
    )
    assert qos.deadline_ns is None and qos.liveliness == "automatic"
    assert info.topic("/chatter").offered_qos == ()
    assert yaml.safe_load(offered_qos_yaml([qos])) == yaml.safe_load(LATCHED_QOS)

    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == storage


def test_recorder_may_be_written_and_closed_from_another_thread(
    tmp_path: Path, typestore: Typestore
) -> None:
    """A node opens the bag in its constructor and writes from executor threads."""
    string = typestore.types["std_msgs/msg/String"]
    for storage in STORAGES:
        rec = BagRecorder(tmp_path / storage, storage=storage, typestore=typestore)
        errors: list[BaseException] = []

        def record(rec: BagRecorder = rec, errors: list[BaseException] = errors) -> None:
            try:
                rec.add_topic("/t", "std_msgs/msg/String")
                for i in range(3):
                    rec.write("/t", i, serialize(typestore, string(f"m{i}"), "std_msgs/msg/String"))
                assert rec.close()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        worker = threading.Thread(target=record)
        worker.start()
        worker.join()
        assert not errors, errors
        assert [m.timestamp_ns for m in iter_messages(tmp_path / storage)] == [0, 1, 2]


def test_metadata_yaml_and_storage_file_paths_open_the_same_bag(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag
) -> None:
    bag = write_bag(tmp_path / "bag", "sqlite3", samples)
    via_dir = open_bag(bag)
    for path in (bag / "metadata.yaml", bag / "bag.db3", str(bag)):
        info = open_bag(path)
        assert (info.message_count, info.start_ns, info.end_ns) == (
            via_dir.message_count,
            via_dir.start_ns,
            via_dir.end_ns,
        )
        assert [t.name for t in info.topics] == [t.name for t in via_dir.topics]


def test_recording_a_killed_recorders_directory_is_still_readable(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag
) -> None:
    """No metadata.yaml (a recorder that died): the one storage file is read directly."""
    bag = write_bag(tmp_path / "bag", "sqlite3", samples)
    (bag / "metadata.yaml").unlink()
    assert open_bag(bag).message_count == len(samples)
    assert len(list(iter_messages(bag))) == len(samples)


def test_messages_written_out_of_order_read_back_sorted(
    tmp_path: Path, typestore: Typestore
) -> None:
    string = typestore.types["std_msgs/msg/String"]
    for storage in STORAGES:
        path = Path(tmp_path / storage)
        with BagRecorder(path, storage=storage, typestore=typestore) as rec:
            rec.add_topic("/a", "std_msgs/msg/String")
            rec.add_topic("/b", "std_msgs/msg/String")
            for topic, stamp in (("/a", 30), ("/b", 10), ("/a", 20), ("/b", 40)):
                rec.write(topic, stamp, serialize(typestore, string(topic), "std_msgs/msg/String"))
        assert [m.timestamp_ns for m in iter_messages(path)] == [10, 20, 30, 40]


def test_bag_without_stored_definitions_decodes_with_a_default_typestore(
    tmp_path: Path, samples: list[Sample], write_bag: WriteBag, typestore: Typestore, same: Same
) -> None:
    """Bags from before rosbag2 stored definitions (and mixed ones) need the default store."""
    bag = write_bag(tmp_path / "bag", "sqlite3", samples)
    with sqlite3.connect(bag / "bag.db3") as db:
        db.execute("DELETE FROM message_definitions WHERE topic_type = ?", (CUSTOM + "Decision",))
    info = open_bag(bag)
    assert not info.topic("/reasoner/decision").has_definition
    assert info.topic("/odom").has_definition

    store = bag_typestore(bag, default_typestore=typestore)
    expected = {s[2]: s[3] for s in samples}
    for msg in iter_messages(bag):
        same(expected[msg.timestamp_ns], deserialize(store, msg.rawdata, msg.msgtype))
    with pytest.raises(BagError, match="no definition of edge_llm_ros/msg/Decision"):
        bag_typestore(bag)


def _installed_prefixes() -> list[Path]:
    repo_install = Path(__file__).resolve().parents[2] / "install" / "edge_llm_ros"
    candidates = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [
        p
        for p in (*candidates, repo_install)
        if any((p / "share" / "edge_llm_ros" / "msg").glob("*.json"))
    ]


def test_type_hashes_match_the_ones_rosidl_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RIHS01 hashes written into bags equal what the ROS build computed, so
    `ros2 bag play` and rclpy find the types they expect."""
    prefixes = _installed_prefixes()
    if not prefixes:
        pytest.skip("no colcon build of edge_llm_ros (share/edge_llm_ros/msg/*.json) found")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefixes[0]))
    store = build_typestore()  # from the installed .msg files, beside their .json
    checked = 0
    for description in (prefixes[0] / "share" / "edge_llm_ros" / "msg").glob("*.json"):
        for entry in json.loads(description.read_text())["type_hashes"]:
            assert store.hash_rihs01(entry["type_name"]) == entry["hash_string"], entry
            checked += 1
    assert checked >= 14
