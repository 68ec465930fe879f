"""QoS of the vehicle <-> remote link topics, shared by both ends so they always match.

Requests and plans are reliable (a lost datagram is resent while the answer can still be
useful, and the ledger times out what never arrives); probes are best effort, because a
lost probe is exactly what the estimate needs to see. Echoes carry a liveliness lease so
the middleware can report a lost remote too, as an extra to the heartbeat check."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import (
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

REQUEST_TOPIC = "remote/plan_request"
RESPONSE_TOPIC = "remote/plan_response"
PROBE_TOPIC = "remote/probe"
ECHO_TOPIC = "remote/probe_echo"


def plan_qos() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=8,
                      reliability=ReliabilityPolicy.RELIABLE)


def probe_qos() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=4,
                      reliability=ReliabilityPolicy.BEST_EFFORT)


def echo_qos(lease_s: float) -> QoSProfile:
    """The remote offers, and the vehicle requests, this lease and deadline; DDS matches
    them only when the remote's are no longer than the vehicle's (its
    liveliness_lease_s <= the vehicle's liveliness_timeout_s)."""
    qos = probe_qos()
    qos.liveliness = LivelinessPolicy.AUTOMATIC
    qos.liveliness_lease_duration = Duration(seconds=lease_s)
    qos.deadline = Duration(seconds=lease_s)
    return qos


INTENT_TOPIC = "operator/intent"


def intent_qos() -> QoSProfile:
    """Latched (transient local, the last one kept): the intent in force reaches a reasoner
    that starts later, whether the instruction stage runs on board or on the remote host."""
    from rclpy.qos import DurabilityPolicy
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
