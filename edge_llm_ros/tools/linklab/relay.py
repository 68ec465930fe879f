"""A user-space L2 relay that forwards Ethernet frames between two interfaces after a delay.

The kernel here has no netem, so the link's propagation delay is added in user space. The
relay runs in the router namespace of a `LinkLab`, bound with AF_PACKET raw sockets to the
router's two veth ends: it is a delaying wire (a bridge with no learning), so both endpoints
share one subnet and ARP and DDS multicast discovery pass through it unchanged.

    python -m edge_llm_ros.tools.linklab.relay IFACE_A IFACE_B --delay-ms 10

Control is line based on stdin so the owner can change the delay while traffic flows; every
command gets one JSON line on stdout:

    delay MS   set the one-way delay (both directions); frames already queued keep theirs
    stats      counters, queue depths and the relay's CPU time
    quit       exit (so does end of input: the relay never outlives its owner)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import json
import os
import resource
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_IGNORE_OUTGOING = 23  # Linux >= 4.20: never see our own transmissions
PACKET_OUTGOING = 4
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # as root: above net.core.[rw]mem_max
SOCKET_BUFFER_BYTES = 8 << 20  # a burst of 64 KB datagrams at line rate must not overflow
MAX_FRAME_BYTES = 65536
DRAIN_BATCH = 256  # frames read per wake-up from one socket, so the other side is not starved


class Port:
    """One AF_PACKET socket bound to an interface, with the frames waiting to leave through it."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, ETH_P_ALL))
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            self.filters_outgoing = True
        except OSError:
            self.filters_outgoing = False
        # Promiscuous through the socket: undone by the kernel when the socket closes.
        ifindex = socket.if_nametoindex(iface)
        mreq = ifindex.to_bytes(4, sys.byteorder) + PACKET_MR_PROMISC.to_bytes(2, sys.byteorder)
        self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq + bytes(10))
        for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF),
                             (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, force, SOCKET_BUFFER_BYTES)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER_BYTES)
        self.sock.setblocking(False)
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.sent_frames = 0
        self.sent_bytes = 0
        self.send_errors = 0

    def send_due(self, now: float) -> None:
        """Send every queued frame whose time has come, oldest first (a link keeps order)."""
        queue = self.queue
        while queue and queue[0][0] <= now:
            frame = queue.popleft()[1]
            try:
                self.sock.send(frame)
            except OSError as exc:
                if exc.errno not in (errno.ENOBUFS, errno.EAGAIN, errno.EMSGSIZE, errno.ENETDOWN):
                    raise
                self.send_errors += 1  # dropped, as a full or broken link would
                continue
            self.sent_frames += 1
            self.sent_bytes += len(frame)


class Relay:
    """Two ports, each forwarding what it receives into the other's delay queue."""

    def __init__(self, iface_a: str, iface_b: str, delay_ms: float) -> None:
        self.ports = (Port(iface_a), Port(iface_b))
        self.delay_s = max(0.0, delay_ms) / 1e3
        self.received = [0, 0]

    def receive(self, index: int) -> None:
        """Drain up to a batch of frames from port `index` into the other port's queue."""
        port, out = self.ports[index], self.ports[1 - index].queue
        sock, delay_s = port.sock, self.delay_s
        count = 0
        for _ in range(DRAIN_BATCH):
            try:
                if port.filters_outgoing:
                    frame = sock.recv(MAX_FRAME_BYTES)
                else:
                    frame, addr = sock.recvfrom(MAX_FRAME_BYTES)
                    if addr[2] == PACKET_OUTGOING:
                        continue
            except BlockingIOError:
                break
            out.append((time.monotonic() + delay_s, frame))
            count += 1
        self.received[index] += count

    def command(self, line: str) -> dict[str, object] | None:
        """Apply one control line; None means quit."""
        words = line.split()
        if not words:
            return {"ok": True}
        if words[0] == "quit":
            return None
        if words[0] == "delay" and len(words) == 2:
            self.delay_s = max(0.0, float(words[1])) / 1e3
            return {"ok": True, "delay_ms": self.delay_s * 1e3}
        if words[0] == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return {
                "ok": True,
                "delay_ms": self.delay_s * 1e3,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "ports": [
                    {
                        "iface": p.iface,
                        "received_frames": self.received[i],
                        "sent_frames": p.sent_frames,
                        "sent_bytes": p.sent_bytes,
                        "send_errors": p.send_errors,
                        "queued_frames": len(p.queue),
                    }
                    for i, p in enumerate(self.ports)
                ],
            }
        return {"ok": False, "error": f"unknown command {line.strip()!r}"}

    def serve(self, control_fd: int = 0) -> None:
        """Forward until the control input says quit or ends."""
        # select, not poll or epoll: their timeouts are whole milliseconds, rounded up, which
        # would make every hop up to 1 ms late; select sleeps to the microsecond.
        socks = {p.sock.fileno(): i for i, p in enumerate(self.ports)}
        watched = [*socks, control_fd]
        os.set_blocking(control_fd, False)
        pending = b""
        reply({"ok": True, "ready": True, "pid": os.getpid()})
        while True:
            heads = [p.queue[0][0] for p in self.ports if p.queue]
            timeout_s = max(0.0, min(heads) - time.monotonic()) if heads else None
            readable, _, _ = select.select(watched, [], [], timeout_s)
            for fd in readable:
                if fd != control_fd:
                    self.receive(socks[fd])
                    continue
                chunk = os.read(control_fd, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    answer = self.command(line.decode(errors="replace"))
                    if answer is None:
                        return
                    reply(answer)
            now = time.monotonic()
            for port in self.ports:
                port.send_due(now)


def reply(answer: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("iface_a")
    parser.add_argument("iface_b")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, each way")
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError):  # a late relay adds delay; it sleeps when nothing is due
        os.nice(-10)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            Relay(args.iface_a, args.iface_b, args.delay_ms).serve()
        except OSError as exc:  # an interface went away under us: the lab is being torn down
            print(f"relay: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
