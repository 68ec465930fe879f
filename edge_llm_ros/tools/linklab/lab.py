"""A shapeable vehicle <-> remote link between Linux network namespaces, for tests and benchmarks.

    <prefix>-veh  veh0 ==veth== rtr-veh  <prefix>-rtr  rtr-rem ==veth== rem0  <prefix>-rem
     10.77.N.1/24                   (delaying relay)                     10.77.N.2/24

- Delay: the kernel has no netem, so `relay.py` (a user-space L2 relay in the router namespace)
  holds every frame for half the profile's RTT each way. Being a wire, not a router, it keeps
  both endpoints in one subnet and lets DDS multicast discovery through.
- Rate: a tbf qdisc on each endpoint's veth egress (the relay then only ever carries traffic
  at the link's rate, so its delay stays accurate however hard a sender pushes).
- Loss: an iptables `statistic` DROP rule in the raw table's PREROUTING of each receiving
  endpoint: per IP packet (before reassembly, so one lost fragment loses the datagram, as on a
  real link), and receive-side, so senders never see EPERM. A cut is the same rule at 100 %.
- Checksum, segmentation and receive offloads are off on every veth: a packet socket would
  otherwise see partial checksums and 64 KB GSO/GRO super-frames that cannot be re-sent.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import weakref
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any

from edge_llm_ros.tools.linklab.profiles import PROFILES, LinkProfile, tbf_parameters

VEHICLE_IF = "veh0"
REMOTE_IF = "rem0"
ROUTER_VEHICLE_IF = "rtr-veh"
ROUTER_REMOTE_IF = "rtr-rem"
LOSS_CHAIN = "LINKLAB"
OFFLOADS_OFF = ("tx", "off", "tso", "off", "gso", "off", "gro", "off")
RELAY_REPLY_TIMEOUT_S = 10.0
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
_DEFAULT_PREFIX = re.compile(r"^ll(\d+)-\d+-(veh|rtr|rem)$")
_counter = itertools.count()
_live_labs: weakref.WeakSet[LinkLab] = weakref.WeakSet()


class LinkLabError(RuntimeError):
    """A command building or changing the lab failed."""


def _sh(*argv: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise LinkLabError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _netns_list() -> list[str]:
    out = _sh("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _delete_netns(name: str) -> None:
    """Kill what still runs in namespace `name` (only the lab's own processes live there)
    and delete it; a namespace outlives `ip netns del` while any process holds it."""
    pids = _sh("ip", "netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _sh("ip", "netns", "del", name, check=False)


def remove_orphaned_labs() -> list[str]:
    """Delete namespaces left by default-named labs whose process has died (a crashed run)."""
    removed = []
    for name in _netns_list():
        match = _DEFAULT_PREFIX.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            _delete_netns(name)
            removed.append(name)
    return removed


@functools.cache
def netns_unavailable_reason() -> str | None:
    """None when this machine can build a LinkLab, else what is missing and how to get it.

    Found by trying every mechanism the lab uses in a throwaway namespace pair, because
    tools can be present while the kernel or the container forbids what they do."""
    if os.geteuid() != 0:
        return "network-namespace link labs need root (ip netns, tc, iptables): run as root"
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2"), ("iptables", "iptables"),
                          ("iptables-restore", "iptables"), ("ethtool", "ethtool")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed: apt-get install {package}"
    probe = f"llprobe-{os.getpid()}"
    a, b = f"{probe}-a", f"{probe}-b"
    steps: list[tuple[str, list[str]]] = [
        ("create network namespaces", ["ip", "netns", "add", a]),
        ("create network namespaces", ["ip", "netns", "add", b]),
        ("create veth pairs", ["ip", "-n", a, "link", "add", "p0", "type", "veth",
                               "peer", "name", "p1", "netns", b]),
        ("set veth offloads with ethtool",
         ["ip", "netns", "exec", a, "ethtool", "-K", "p0", *OFFLOADS_OFF]),
        ("add a tbf qdisc (CONFIG_NET_SCH_TBF)",
         ["ip", "netns", "exec", a, "tc", "qdisc", "add", "dev", "p0", "root", "tbf",
          "rate", "1mbit", "burst", "1600", "limit", "20000"]),
        ("add an iptables statistic rule (CONFIG_NETFILTER_XT_MATCH_STATISTIC, raw table)",
         ["ip", "netns", "exec", b, "iptables", "-t", "raw", "-A", "PREROUTING", "-m",
          "statistic", "--mode", "random", "--probability", "0.5", "-j", "DROP"]),
        ("open an AF_PACKET socket",
         ["ip", "netns", "exec", a, sys.executable, "-c",
          "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 768).bind(('p0', 3))"]),
    ]
    for name in (a, b):  # a probe of an earlier process with this pid
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
    try:
        for what, argv in steps:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            if proc.returncode != 0:
                detail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                return f"cannot {what} on this machine ({detail}); link lab tests need it"
    finally:
        for name in (a, b):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
    return None


class LinkLab:
    """Vehicle, router and remote namespaces joined by a shaped, delayed, lossy link.

    Use as a context manager (or start()/close()); close() always removes the namespaces and
    ends every process started in them."""

    def __init__(self, prefix: str | None = None,
                 profile: LinkProfile = PROFILES["unshaped"]) -> None:
        if prefix is None:
            prefix = f"ll{os.getpid()}-{next(_counter)}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", prefix):
            raise ValueError(f"prefix {prefix!r}: use up to 41 letters, digits, '_', '.', '-'")
        self.prefix = prefix
        self.vehicle_ns = f"{prefix}-veh"
        self.router_ns = f"{prefix}-rtr"
        self.remote_ns = f"{prefix}-rem"
        # Each lab is sealed in its own namespaces, so subnets could not clash anyway; a
        # per-prefix subnet still keeps captures and logs of concurrent labs apart.
        subnet = zlib.crc32(prefix.encode()) % 250 + 1
        self.vehicle_ip = f"10.77.{subnet}.1"
        self.remote_ip = f"10.77.{subnet}.2"
        self.vehicle_if = VEHICLE_IF
        self.remote_if = REMOTE_IF
        self.profile = profile
        self._cut = False
        self._running = False  # from the first step of start() until close()
        self._relay: subprocess.Popen | None = None
        self._relay_lock = threading.Lock()
        self._children: list[subprocess.Popen] = []

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LinkLab:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> LinkLab:
        """Build the namespaces, link, shaping and relay (removing stale ones of this prefix)."""
        if self._running:
            return self
        reason = netns_unavailable_reason()
        if reason is not None:
            raise LinkLabError(reason)
        remove_orphaned_labs()
        existing = set(_netns_list())
        for ns in self.namespaces:
            if ns in existing:
                _delete_netns(ns)  # left by a crashed run with this prefix
        self._running = True
        _live_labs.add(self)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def namespaces(self) -> tuple[str, str, str]:
        return (self.vehicle_ns, self.router_ns, self.remote_ns)

    def _build(self) -> None:
        veh, rtr, rem = self.namespaces
        for ns in self.namespaces:
            _sh("ip", "netns", "add", ns)
            # IPv4 only: no router solicitations or MLD chatter on the measured link, and a
            # cut (an IPv4 rule) then stops everything but ARP.
            _sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "-n", veh, "link", "add", VEHICLE_IF, "type", "veth",
            "peer", "name", ROUTER_VEHICLE_IF, "netns", rtr)
        _sh("ip", "-n", rem, "link", "add", REMOTE_IF, "type", "veth",
            "peer", "name", ROUTER_REMOTE_IF, "netns", rtr)
        for ns, dev in ((veh, VEHICLE_IF), (rtr, ROUTER_VEHICLE_IF), (rtr, ROUTER_REMOTE_IF),
                        (rem, REMOTE_IF)):
            _sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, *OFFLOADS_OFF)
            _sh("ip", "-n", ns, "link", "set", dev, "up")
        for ns, dev, ip in ((veh, VEHICLE_IF, self.vehicle_ip), (rem, REMOTE_IF, self.remote_ip)):
            _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            # Without a route for multicast, a sender that names no interface gets ENETUNREACH.
            _sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
            _sh("ip", "netns", "exec", ns, "iptables-restore", "--noflush",
                stdin=f"*raw\n:{LOSS_CHAIN} - [0:0]\n-A PREROUTING -j {LOSS_CHAIN}\nCOMMIT\n")
        self._start_relay()
        self._apply(self.profile)

    def _start_relay(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p)
        delay = str(self.profile.one_way_delay_ms)
        self._relay = subprocess.Popen(
            ["ip", "netns", "exec", self.router_ns, sys.executable, "-m",
             "edge_llm_ros.tools.linklab.relay", ROUTER_VEHICLE_IF, ROUTER_REMOTE_IF,
             "--delay-ms", delay],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        answer = self._relay_reply()
        if not answer.get("ready"):
            raise LinkLabError(f"relay did not start: {answer}")

    def close(self) -> None:
        """End every process in the lab and delete its namespaces; safe to call again."""
        if not self._running:
            return
        self._running = False
        try:
            children, self._children = self._children, []
            relay, self._relay = self._relay, None
            if relay is not None and relay.stdin is not None:
                with contextlib.suppress(OSError):
                    relay.stdin.close()  # end of input: the relay exits by itself
                children.append(relay)
            for child in children:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    _stop(child)
        finally:
            for ns in self.namespaces:  # whatever failed above, the namespaces go
                _delete_netns(ns)
            _live_labs.discard(self)

    # -- link conditions -------------------------------------------------------------------

    def set_profile(self, profile: LinkProfile) -> None:
        """Change rate, delay and loss while traffic flows (a cut stays until restore())."""
        self._require_running()
        self.profile = profile
        self._apply(profile)

    def cut(self) -> None:
        """100 % loss both ways; the profile's rate and delay stay in force."""
        self._require_running()
        self._cut = True
        self._set_loss(1.0)

    def restore(self) -> None:
        """Lift a cut: back to self.profile's loss."""
        self._require_running()
        self._cut = False
        self._set_loss(self.profile.loss)

    @property
    def is_cut(self) -> bool:
        return self._cut

    def relay_stats(self) -> dict[str, Any]:
        """The relay's counters (frames, bytes, send errors, queue depth) and its CPU time."""
        self._require_running()
        return self._relay_call("stats")

    def _apply(self, profile: LinkProfile) -> None:
        for ns, dev in ((self.vehicle_ns, VEHICLE_IF), (self.remote_ns, REMOTE_IF)):
            if profile.rate_bps is None:
                qdiscs = _sh("ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", dev).stdout
                if "tbf" in qdiscs:
                    _sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root")
                continue
            tbf = tbf_parameters(profile.rate_bps)
            _sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                "rate", f"{tbf['rate_bit']}bit", "burst", str(tbf["burst"]),
                "limit", str(tbf["limit"]))
        answer = self._relay_call(f"delay {profile.one_way_delay_ms}")
        if not answer.get("ok"):
            raise LinkLabError(f"relay refused the delay: {answer}")
        self._set_loss(1.0 if self._cut else profile.loss)

    def _set_loss(self, loss: float) -> None:
        if loss >= 1.0:
            rule = f"-A {LOSS_CHAIN} -j DROP\n"
        elif loss > 0.0:
            rule = (f"-A {LOSS_CHAIN} -m statistic --mode random --probability {loss:.6f}"
                    " -j DROP\n")
        else:
            rule = ""
        # One iptables-restore per side: the chain is flushed and refilled atomically.
        script = f"*raw\n:{LOSS_CHAIN} - [0:0]\n-F {LOSS_CHAIN}\n{rule}COMMIT\n"
        for ns in (self.vehicle_ns, self.remote_ns):
            _sh("ip", "netns", "exec", ns, "iptables-restore", "--noflush", stdin=script)

    # -- relay control -----------------------------------------------------------------------

    def _relay_call(self, line: str) -> dict[str, Any]:
        with self._relay_lock:
            relay = self._relay
            if relay is None or relay.stdin is None:
                raise LinkLabError("the relay is not running")
            try:
                relay.stdin.write(line + "\n")
                relay.stdin.flush()
            except OSError as exc:
                raise LinkLabError(f"the relay has exited ({exc})") from exc
            return self._relay_reply()

    def _relay_reply(self) -> dict[str, Any]:
        relay = self._relay
        assert relay is not None and relay.stdout is not None
        ready, _, _ = select.select([relay.stdout], [], [], RELAY_REPLY_TIMEOUT_S)
        line = relay.stdout.readline() if ready else ""
        if not line:
            code = relay.poll()
            raise LinkLabError(f"the relay did not answer (exit code {code}); see its stderr")
        return json.loads(line)

    def _require_running(self) -> None:
        if not self._running:
            raise LinkLabError("the lab is not running: use it as a context manager or start()")

    # -- processes in the namespaces ---------------------------------------------------------

    def _ns_name(self, ns: str) -> str:
        aliases = {"vehicle": self.vehicle_ns, "router": self.router_ns,
                   "remote": self.remote_ns}
        name = aliases.get(ns, ns)
        if name not in self.namespaces:
            raise ValueError(f"{ns!r} is not a namespace of this lab {self.namespaces}")
        return name

    def popen(self, ns: str, argv: list[str], env: dict[str, str] | None = None,
              **kwargs: Any) -> subprocess.Popen:
        """Start argv inside namespace `ns` (`ip netns exec` execs it: the pid is argv's);
        the lab ends it on close() if it still runs."""
        self._require_running()
        proc = subprocess.Popen(["ip", "netns", "exec", self._ns_name(ns), *argv], env=env,
                                **kwargs)
        self._children.append(proc)
        return proc

    def run(self, ns: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        """Run argv inside namespace `ns` to completion (subprocess.run's keywords apply)."""
        self._require_running()
        return subprocess.run(["ip", "netns", "exec", self._ns_name(ns), *argv], **kwargs)


def _stop(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """Terminate, then kill, a child; reap it and close its pipes either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace_s)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@atexit.register
def _close_live_labs() -> None:
    for lab in list(_live_labs):
        lab.close()

