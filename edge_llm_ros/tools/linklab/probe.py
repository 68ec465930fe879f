"""Small UDP probes to measure a LinkLab link from inside its namespaces (no ping or iperf needed).

    python -m edge_llm_ros.tools.linklab.probe echo --port 9000
    python -m edge_llm_ros.tools.linklab.probe rtt  --host 10.77.1.2 --port 9000 --count 20
    python -m edge_llm_ros.tools.linklab.probe sink --port 9001 --duration 5
    python -m edge_llm_ros.tools.linklab.probe send --host 10.77.1.2 --port 9001 --size 1000 \
        --count 200 --rate-bps 2e6

Servers print one JSON line when bound ({"ready": true}); clients and the sink print one JSON
line of results. Every probe datagram carries a sequence number, its send time and a SHA-256
of its body, so the receiver can tell lost, reordered and corrupted datagrams apart.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import socket
import statistics
import struct
import sys
import time
from typing import Any

HEADER = struct.Struct("!Qd32s")  # sequence, sender's monotonic send time, sha256(body)
RECV_BYTES = 65535
SOCKET_BUFFER_BYTES = 4 << 20


def make_datagram(seq: int, size: int) -> bytes:
    """A datagram of `size` bytes (at least the header) with a verifiable random body."""
    body = os.urandom(max(0, size - HEADER.size))
    return HEADER.pack(seq, time.monotonic(), hashlib.sha256(body).digest()) + body


def parse_datagram(data: bytes) -> tuple[int, float, bool] | None:
    """(sequence, send time, body intact) or None when too short to be a probe datagram."""
    if len(data) < HEADER.size:
        return None
    seq, sent, digest = HEADER.unpack_from(data)
    return seq, sent, hashlib.sha256(data[HEADER.size:]).digest() == digest


def _udp_socket(bind_port: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
    if bind_port is not None:
        sock.bind(("0.0.0.0", bind_port))
    return sock


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def echo(port: int) -> None:
    """Send every datagram back to where it came from, forever."""
    sock = _udp_socket(port)
    _emit({"ready": True, "port": port})
    while True:
        data, addr = sock.recvfrom(RECV_BYTES)
        with contextlib.suppress(OSError):  # e.g. no ARP answer on a cut link: lost
            sock.sendto(data, addr)


def rtt(host: str, port: int, count: int, interval_s: float, size: int,
        timeout_s: float) -> dict[str, Any]:
    """Send `count` probes `interval_s` apart, gather echoes until `timeout_s` after the last."""
    sock = _udp_socket()
    sock.connect((host, port))
    sock.setblocking(False)
    rtts: dict[int, float] = {}
    corrupt = 0

    def drain() -> None:
        nonlocal corrupt
        while True:
            try:
                data = sock.recv(RECV_BYTES)
            except (BlockingIOError, ConnectionRefusedError):
                return
            now = time.monotonic()
            parsed = parse_datagram(data)
            if parsed is None or not parsed[2]:
                corrupt += 1
            elif parsed[0] not in rtts:
                rtts[parsed[0]] = (now - parsed[1]) * 1e3

    next_send = time.monotonic()
    for seq in range(count):
        while (wait := next_send - time.monotonic()) > 0:
            _wait_readable(sock, wait)
            drain()
        with contextlib.suppress(OSError):  # counted as lost
            sock.send(make_datagram(seq, size))
        next_send += interval_s
    deadline = time.monotonic() + timeout_s
    while len(rtts) < count and (wait := deadline - time.monotonic()) > 0:
        _wait_readable(sock, wait)
        drain()
    values = [rtts[k] for k in sorted(rtts)]
    return {
        "sent": count,
        "received": len(values),
        "corrupt": corrupt,
        "rtt_ms": values,
        "median_ms": statistics.median(values) if values else None,
    }


def _wait_readable(sock: socket.socket, timeout_s: float) -> None:
    import select

    select.select([sock], [], [], max(0.0, timeout_s))


def sink(port: int, duration_s: float, idle_s: float) -> None:
    """Count datagrams until `duration_s` passes, or `idle_s` after the last one."""
    sock = _udp_socket(port)
    sock.settimeout(0.05)
    _emit({"ready": True, "port": port})
    start = time.monotonic()
    first = last = None
    datagrams = bytes_ = intact = corrupt = 0
    sizes: list[int] = []
    seqs: set[int] = set()
    while (now := time.monotonic()) - start < duration_s:
        if last is not None and now - last > idle_s:
            break
        try:
            data = sock.recv(RECV_BYTES)
        except TimeoutError:
            continue
        last = time.monotonic()
        first = first if first is not None else last
        datagrams += 1
        bytes_ += len(data)
        sizes.append(len(data))
        parsed = parse_datagram(data)
        if parsed is not None and parsed[2]:
            intact += 1
            seqs.add(parsed[0])
        else:
            corrupt += 1
    span = (last - first) if first is not None and last is not None else 0.0
    goodput = (bytes_ - sizes[0]) * 8 / span if span > 0 else None
    _emit({"datagrams": datagrams, "bytes": bytes_, "intact": intact, "corrupt": corrupt,
           "unique": len(seqs), "span_s": span, "goodput_bps": goodput,
           "max_size": max(sizes, default=0)})


def send(host: str, port: int, size: int, count: int, rate_bps: float | None) -> dict[str, Any]:
    """Send `count` datagrams of `size` bytes, paced at `rate_bps` of payload (None: flat out)."""
    sock = _udp_socket()
    sock.connect((host, port))
    gap_s = size * 8 / rate_bps if rate_bps else 0.0
    start = next_send = time.monotonic()
    errors = 0
    for seq in range(count):
        if (wait := next_send - time.monotonic()) > 0:
            time.sleep(wait)
        try:
            sock.send(make_datagram(seq, size))
        except OSError:
            errors += 1
        next_send += gap_s
    return {"sent": count, "errors": errors, "bytes": count * size,
            "seconds": time.monotonic() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("echo", help="UDP echo server")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("rtt", help="round trips against an echo server")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval-s", type=float, default=0.05)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--timeout-s", type=float, default=2.0)
    p = sub.add_parser("sink", help="count (and verify) datagrams received")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--idle-s", type=float, default=1.5)
    p = sub.add_parser("send", help="send paced datagrams")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--rate-bps", type=float, default=None)
    args = parser.parse_args(argv)
    if args.verb == "echo":
        echo(args.port)
    elif args.verb == "rtt":
        _emit(rtt(args.host, args.port, args.count, args.interval_s, args.size, args.timeout_s))
    elif args.verb == "sink":
        sink(args.port, args.duration_s, args.idle_s)
    else:
        _emit(send(args.host, args.port, args.size, args.count, args.rate_bps))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
