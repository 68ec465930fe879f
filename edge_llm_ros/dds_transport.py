"""Non-blocking DDS sends, so a saturated link can never stall a node's executor.

Fast DDS sends UDP datagrams from the publishing thread on a blocking socket by default.
When the uplink to the remote planner is saturated, its queue (a modem's buffer, a qdisc)
holds the socket's send buffer full and every publish of the process -- scenes, decisions,
heartbeats -- waits for the link to drain: measured in the network-namespace lab, an 8 kbit/s
uplink froze the vehicle's executor for 23 s. With non-blocking sends a datagram that does
not fit is dropped instead: best-effort data is lost as it would be on the link anyway,
reliable data is resent, and the link estimator sees the loss.

``with_non_blocking_sends`` makes that the default through FASTDDS_BUILTIN_TRANSPORTS
(Fast DDS >= 2.14: ``MODE?non_blocking=true``); a value the user set is kept, with
``non_blocking=true`` added unless it already says ``non_blocking``. XML profiles that
define their own transports set ``<non_blocking_send>`` themselves (config/dds/).
Plain Python: no rclpy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, MutableMapping

ENV_VAR = "FASTDDS_BUILTIN_TRANSPORTS"
CHOSEN_HERE_VAR = "EDGE_LLM_ROS_DDS_TRANSPORTS_DEFAULTED"  # a copy of a value chosen here
DEFAULT_MODE = "DEFAULT"  # shared memory on one host, UDPv4 between hosts
OPTION = "non_blocking=true"
# Processes that move camera images and lidar sweeps: with Fast DDS's default buffers a
# message over about 1 MB (a KITTI image, 1.4 MB; a KITTI sweep, 1.9 MB) is lost almost
# every time (measured: 0 of 28 images, 2 of 28 sweeps replayed), so these get larger
# socket buffers (and shared-memory segments). Only these: on the remote link's processes a
# deep buffer would queue stale plans behind a saturated uplink. The kernel caps the
# request at net.core.rmem_max / wmem_max (Linux default 208 kB; raise them for 1080p).
SENSOR_DATA_NODES = frozenset({"camera_detector", "lidar_detector", "bag_replay",
                               "bag_recorder", "simulator", "foxglove_viz"})
SENSOR_DATA_OPTION = "sockets_size=8MB"


def with_non_blocking_sends(value: str | None, sensor_data: bool = False) -> str:
    """The FASTDDS_BUILTIN_TRANSPORTS value to use instead of `value` (None: unset);
    `sensor_data`: the process moves large sensor messages (SENSOR_DATA_NODES)."""
    text = (value or "").strip()
    if not text:
        return f"{DEFAULT_MODE}?{OPTION}" + (f"&{SENSOR_DATA_OPTION}" if sensor_data else "")
    mode, sep, options = text.partition("?")
    if "non_blocking=" in options:
        return text  # the user chose, either way
    if not sep or not options:
        return f"{mode}?{OPTION}"
    return f"{text}&{OPTION}"


def ensure_non_blocking_sends(env: MutableMapping[str, str] | None = None,
                              node_kinds: Iterable[str] = ()) -> str:
    """Set FASTDDS_BUILTIN_TRANSPORTS in `env` (default: this process's environment, before
    its first DDS participant) for a process hosting `node_kinds`; return the value set."""
    target = os.environ if env is None else env
    # A value this function set (in this process or a parent, and not changed since) is
    # no user's choice: redo it for this process's nodes.
    given = target.get(ENV_VAR)
    if given is not None and target.get(CHOSEN_HERE_VAR) == given:
        given = None
    value = with_non_blocking_sends(given,
                                    sensor_data=bool(SENSOR_DATA_NODES & set(node_kinds)))
    if given is None:
        target[CHOSEN_HERE_VAR] = value
    else:
        target.pop(CHOSEN_HERE_VAR, None)
    target[ENV_VAR] = value
    return value
