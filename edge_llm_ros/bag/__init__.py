"""Bag I/O without ROS: read, replay-schedule and record rosbag2 bags (sqlite3 or MCAP).

Messages stay CDR bytes end to end (the ROS nodes publish and subscribe raw
serialized messages), so replaying or recording never depends on this machine
having the message packages; `build_typestore`, `bag_typestore`, `serialize`
and `deserialize` are there for the code that does look inside messages.
No rclpy import: the nodes in `edge_llm_ros.nodes` are the ROS shell.
"""

from edge_llm_ros.bag.reader import (
    BagInfo,
    BagMessage,
    BagTopic,
    QosProfile,
    bag_typestore,
    check_known_types,
    iter_messages,
    offered_qos_yaml,
    open_bag,
)
from edge_llm_ros.bag.replay import ReplaySchedule, ScheduledMessage, plan_replay
from edge_llm_ros.bag.types import (
    BagError,
    build_typestore,
    deserialize,
    message_definition,
    package_msg_dir,
    serialize,
)
from edge_llm_ros.bag.writer import BagRecorder

__all__ = [
    "BagError",
    "BagInfo",
    "BagMessage",
    "BagRecorder",
    "BagTopic",
    "QosProfile",
    "ReplaySchedule",
    "ScheduledMessage",
    "bag_typestore",
    "build_typestore",
    "check_known_types",
    "deserialize",
    "iter_messages",
    "message_definition",
    "offered_qos_yaml",
    "open_bag",
    "package_msg_dir",
    "plan_replay",
    "serialize",
]
