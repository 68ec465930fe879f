"""LinkLab on real namespaces: real processes and packets measure delay, rate, loss and cuts."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from edge_llm_ros.tools.linklab import PROFILES, LinkLab, LinkProfile, netns_unavailable_reason

_reason = netns_unavailable_reason()
if _reason is not None:
    pytest.skip(_reason, allow_module_level=True)

PROBE = [sys.executable, "-m", "edge_llm_ros.tools.linklab.probe"]
ECHO_PORT = 9000
SINK_PORT = 9001


def start_server(lab: LinkLab, ns: str, args: list[str]) -> subprocess.Popen:
    """Start a probe server in `ns` and wait until its socket is bound."""
    proc = lab.popen(ns, [*PROBE, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["ready"]
    return proc


def probe(lab: LinkLab, ns: str, args: list[str]) -> dict[str, Any]:
    done = lab.run(ns, [*PROBE, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rtt(lab: LinkLab, **options: object) -> dict[str, Any]:
    args = ["rtt", "--host", lab.remote_ip, "--port", str(ECHO_PORT)]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return probe(lab, lab.vehicle_ns, args)


@pytest.fixture(scope="module")
def lab() -> Iterator[LinkLab]:
    with LinkLab() as lab:
        start_server(lab, lab.remote_ns, ["echo", "--port", str(ECHO_PORT)])
        yield lab


@pytest.fixture
def link(lab: LinkLab) -> Iterator[LinkLab]:
    """The module's lab, left uncut and unshaped for the next test."""
    yield lab
    lab.restore()
    lab.set_profile(PROFILES["unshaped"])


def test_delay_adds_the_profiles_round_trip(link: LinkLab) -> None:
    link.set_profile(LinkProfile("rtt100", None, 100.0))
    result = rtt(link, count=12)
    assert result["received"] == 12
    assert 90.0 <= result["median_ms"] <= 200.0, result


def test_rate_limits_goodput_near_1_mbit(link: LinkLab) -> None:
    link.set_profile(PROFILES["1mbit_100ms"])
    sink = start_server(link, link.remote_ns, ["sink", "--port", str(SINK_PORT),
                                               "--duration-s", "15", "--idle-s", "1"])
    # 200 KB in 1 KB datagrams offered at 1.5x the link rate: the link, not the sender, paces.
    probe(link, link.vehicle_ns, ["send", "--host", link.remote_ip, "--port", str(SINK_PORT),
                                  "--size", "1000", "--count", "200", "--rate-bps", "1.5e6"])
    received = json.loads(sink.communicate(timeout=20)[0])
    assert received["corrupt"] == 0
    assert 0.5e6 <= received["goodput_bps"] <= 1.3e6, received


def test_set_profile_changes_delay_while_traffic_flows(link: LinkLab) -> None:
    link.set_profile(LinkProfile("rtt20", None, 20.0))
    client = link.popen(link.vehicle_ns, [*PROBE, "rtt", "--host", link.remote_ip, "--port",
                                          str(ECHO_PORT), "--count", "40", "--interval-s",
                                          "0.05"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    link.set_profile(LinkProfile("rtt200", None, 200.0))
    result = json.loads(client.communicate(timeout=20)[0])
    assert result["received"] == 40  # nothing lost while the delay changed
    samples = result["rtt_ms"]
    assert statistics.median(samples[:10]) < 60.0, samples
    assert 180.0 <= statistics.median(samples[-10:]) <= 300.0, samples


def test_cut_stops_everything_and_restore_brings_it_back(link: LinkLab) -> None:
    link.set_profile(LinkProfile("rtt10", 10e6, 10.0))
    assert rtt(link, count=3)["received"] == 3
    link.cut()
    assert link.is_cut
    assert rtt(link, count=5, timeout_s=0.5)["received"] == 0
    link.set_profile(LinkProfile("rtt20", None, 20.0))  # a new profile does not lift the cut
    assert rtt(link, count=5, timeout_s=0.5)["received"] == 0
    link.restore()
    assert rtt(link, count=5)["received"] == 5


def test_large_datagrams_arrive_intact(link: LinkLab) -> None:
    """60 KB UDP datagrams leave as ~41 IP fragments; broken checksum offload would show here."""
    link.set_profile(PROFILES["10mbit_50ms"])
    result = rtt(link, count=3, size=60000, interval_s=0.2)
    assert result["received"] == 3 and result["corrupt"] == 0, result
    small = rtt(link, count=3, size=1000)  # unfragmented: its UDP checksum must be complete
    assert small["received"] == 3 and small["corrupt"] == 0, small
    # A slow link's queue still takes a whole 64 KB datagram's burst of fragments.
    link.set_profile(PROFILES["1mbit_100ms"])
    slow = rtt(link, count=1, size=60000, timeout_s=3.0)
    assert slow["received"] == 1 and slow["corrupt"] == 0, slow
    assert 1000.0 <= slow["median_ms"] <= 1600.0, slow  # 2 x (480 ms on the wire + 50 ms)


def test_loss_is_random_per_packet_each_way(link: LinkLab) -> None:
    link.set_profile(LinkProfile("loss20", None, 0.0, loss=0.2))
    result = rtt(link, count=400, interval_s=0.002, timeout_s=1.0)
    fraction = result["received"] / result["sent"]
    assert 0.5 <= fraction <= 0.75, fraction  # 0.8 each way: 0.64 expected


def test_two_labs_at_once_and_close_removes_namespaces() -> None:
    with LinkLab(profile=LinkProfile("a", None, 20.0)) as a, \
            LinkLab(profile=LinkProfile("b", None, 60.0)) as b:
        assert not set(a.namespaces) & set(b.namespaces)
        for lab, low, high in ((a, 18.0, 50.0), (b, 55.0, 100.0)):
            start_server(lab, lab.remote_ns, ["echo", "--port", str(ECHO_PORT)])
            result = rtt(lab, count=5)
            assert result["received"] == 5
            assert low <= result["median_ms"] <= high, result
        names = a.namespaces + b.namespaces
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [ns for ns in names if ns in listed.split()]
    a.close()  # idempotent


def test_stale_namespaces_of_the_same_prefix_are_replaced() -> None:
    prefix = f"llstale{time.monotonic_ns() % 100000}"
    subprocess.run(["ip", "netns", "add", f"{prefix}-veh"], check=True)
    try:
        with LinkLab(prefix=prefix) as lab:
            start_server(lab, lab.remote_ns, ["echo", "--port", str(ECHO_PORT)])
            assert rtt(lab, count=2)["received"] == 2
    finally:
        subprocess.run(["ip", "netns", "del", f"{prefix}-veh"], capture_output=True)


MULTICAST_LISTENER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 7400))
group = struct.pack("4s4s", socket.inet_aton("239.255.0.1"), socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
s.settimeout(3.0)
print('{"ready": true}', flush=True)
print(s.recv(100).decode(), flush=True)
"""
MULTICAST_SENDER = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20):
    s.sendto(b"hello", ("239.255.0.1", 7400))
    time.sleep(0.05)
"""


def test_multicast_crosses_the_link(link: LinkLab) -> None:
    """DDS discovery is multicast: a sender naming no interface must reach a joined group."""
    link.set_profile(PROFILES["10mbit_50ms"])
    listener = link.popen(link.remote_ns, [sys.executable, "-c", MULTICAST_LISTENER,
                                           link.remote_ip], stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None
    assert json.loads(listener.stdout.readline())["ready"]
    sent = link.run(link.vehicle_ns, [sys.executable, "-c", MULTICAST_SENDER],
                    capture_output=True, text=True, timeout=20)
    assert sent.returncode == 0, sent.stderr
    out, _ = listener.communicate(timeout=10)
    assert out.strip() == "hello"
