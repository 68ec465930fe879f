"""Fast DDS profiles for the remote link: templates, generator, key script, and real DDS.

The profiles are checked by the Fast DDS that ROS 2 runs here: a real rclpy process loads
each one (FASTRTPS_DEFAULT_PROFILES_FILE) and must log no XML error, bind no multicast
discovery socket where multicast is off, and talk to a peer. The strongest check runs two
hosts in network namespaces with multicast dropped by iptables: default discovery must fail
there, the initial-peers and discovery-server profiles must carry messages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from edge_llm_ros.tools import dds_profiles
from edge_llm_ros.tools.dds_profiles import (
    DEFAULT_SERVER_PREFIX,
    DISCOVERY_SERVER_PORT,
    SECURITY_PLUGIN_MARKERS,
    profile_summary,
    render_discovery_server_profile,
    render_initial_peers_profile,
    ros_discovery_server_value,
    security_support_reason,
    template_path,
    write_discovery_server_profile,
    write_initial_peers_profile,
    write_secure_profile,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DDS_CONFIG = REPO_ROOT / "config" / "dds"
KEY_SCRIPT = REPO_ROOT / "scripts" / "dds_security_keys.sh"
NS = dds_profiles.NS
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FASTDDS_ERROR = re.compile(r"\[[A-Z_]+ Error\]")

# A real rclpy participant: publishes, subscribes, or idles (a discovery server), then prints
# one RESULT line with what it received and the UDP ports its own sockets are bound to.
PUBSUB = r"""
import json, os, sys, time
import rclpy
from std_msgs.msg import String

def own_udp_ports():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if len(f) > 9 and f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return sorted(ports)

mode, topic, timeout_s, count, name = sys.argv[1:6]
timeout_s, count = float(timeout_s), int(count)
rclpy.init()
node = rclpy.create_node(name)
got = []
if mode == "pub":
    pub = node.create_publisher(String, topic, 10)
    sent = [0]
    def tick():
        sent[0] += 1
        msg = String()
        msg.data = "msg %d" % sent[0]
        pub.publish(msg)
    node.create_timer(0.1, tick)
elif mode == "sub":
    node.create_subscription(String, topic, lambda m: got.append(m.data), 10)
end = time.monotonic() + timeout_s
while time.monotonic() < end and not (mode == "sub" and len(got) >= count):
    rclpy.spin_once(node, timeout_sec=0.05)
print("RESULT " + json.dumps({"received": got, "ports": own_udp_ports()}), flush=True)
node.destroy_node()
rclpy.shutdown()
sys.exit(0 if mode != "sub" or len(got) >= count else 3)
"""

_CLEARED_ENV = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE",
                "ROS_DISCOVERY_SERVER", "ROS_SUPER_CLIENT", "ROS_STATIC_PEERS",
                "ROS_LOCALHOST_ONLY", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_SECURITY_ENABLE",
                "ROS_SECURITY_KEYSTORE", "ROS_SECURITY_ENCLAVE_OVERRIDE",
                "ROS_SECURITY_STRATEGY", "RMW_FASTRTPS_USE_QOS_FROM_XML")


def dds_env(domain_id: int, profile: Path | None = None, **extra: str) -> dict[str, str]:
    """A child's environment: Fast DDS, UDPv4 only, this test's domain, the given profile."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV}
    env.update(ROS_DOMAIN_ID=str(domain_id), RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
               FASTDDS_BUILTIN_TRANSPORTS="UDPv4", PYTHONUNBUFFERED="1")
    if profile is not None:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)
    env.update(extra)
    return env


def pubsub_argv(mode: str, topic: str = "/remote/probe", timeout_s: float = 30.0,
                count: int = 3, name: str | None = None) -> list[str]:
    return [sys.executable, "-c", PUBSUB, mode, topic, str(timeout_s), str(count),
            name or f"dds_profile_{mode}"]


def fastdds_errors(output: str) -> list[str]:
    return [line for line in ANSI.sub("", output).splitlines() if FASTDDS_ERROR.search(line)]


def result_of(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise AssertionError(f"no RESULT line; the process said:\n{output[-3000:]}")


def finish(proc: subprocess.Popen, timeout_s: float) -> str:
    """Wait for proc (terminate it after timeout_s) and return its output."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    return out or ""


Starter = Callable[[list[str], dict[str, str]], subprocess.Popen]


def exchange(start_sub: Starter, start_pub: Starter, sub_env: dict[str, str],
             pub_env: dict[str, str], timeout_s: float, count: int = 3,
             extra: Sequence[tuple[Starter, list[str], dict[str, str]]] = (),
             tolerate: re.Pattern[str] | None = None) -> dict[str, Any]:
    """Run a subscriber and a publisher (after the `extra` processes, e.g. a discovery
    server) until the subscriber has `count` messages or timeout_s passes; check that no
    process logged a Fast DDS error (other than lines matching `tolerate`) and return the
    subscriber's RESULT."""
    helpers = [start(argv, env) for start, argv, env in extra]
    sub = start_sub(pubsub_argv("sub", timeout_s=timeout_s, count=count), sub_env)
    pub = start_pub(pubsub_argv("pub", timeout_s=timeout_s + 10), pub_env)
    sub_out = finish(sub, timeout_s + 15)
    outputs = {"subscriber": sub_out}
    for what, proc in [("publisher", pub)] + [(f"helper {i}", h) for i, h in enumerate(helpers)]:
        proc.terminate()
        outputs[what] = finish(proc, 5)
    for what, out in outputs.items():
        errors = [e for e in fastdds_errors(out) if tolerate is None or not tolerate.search(e)]
        assert not errors, f"{what} logged Fast DDS errors:\n{out[-3000:]}"
    return result_of(sub_out)


def local_starter() -> Starter:
    def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return start


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def well_known_ports(domain_id: int) -> dict[str, Any]:
    """Fast DDS's default discovery ports (RTPS: PB 7400, DG 250, PG 2, d0 0, d1 10): the
    multicast one, and the unicast ones of participant ids 0-9 (another process on this
    host and domain may hold id 0)."""
    base = 7400 + 250 * domain_id
    return {"multicast": base, "unicast": set(range(base + 10, base + 30, 2))}


# -- templates and generator (no ROS) ---------------------------------------------------------


def _all_templates() -> list[Path]:
    return sorted(DDS_CONFIG.rglob("*.xml"))


def test_templates_are_well_formed_and_documented() -> None:
    names = {p.relative_to(DDS_CONFIG).as_posix() for p in _all_templates()}
    assert names == set(dds_profiles.TEMPLATES.values())
    for path in _all_templates():
        ET.parse(path)  # raises on malformed XML
    text = {name: (DDS_CONFIG / name).read_text() for name in names}
    assert "@REMOTE_IP@" in text["initial_peers_vehicle.xml"]
    assert "@VEHICLE_IP@" in text["initial_peers_remote.xml"]
    for name in ("discovery_server_server.xml", "discovery_server_client.xml"):
        assert "@SERVER_IP@" in text[name] and "@SERVER_PORT@" in text[name]
    assert "@ENCLAVE_DIR@" in text["secure/secure_participant.xml"]
    for key in ("@VEHICLE_SUBJECT@", "@REMOTE_SUBJECT@", "@NOT_BEFORE@", "@NOT_AFTER@"):
        assert key in text["secure/permissions.xml"]
    assert template_path("initial_peers_vehicle").is_file()


def _fastdds_xsd() -> Path | None:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in [*prefixes, sys.prefix]:
        candidate = Path(prefix) / "share" / "fastRTPS_profiles.xsd"
        if candidate.is_file():
            return candidate
    return None


def test_profiles_use_only_elements_of_the_fastdds_schema(tmp_path: Path) -> None:
    """Every element and attribute name in our Fast DDS profiles is one the XSD shipped with
    this Fast DDS declares (catches a misspelt element, which Fast DDS only logs)."""
    xsd = _fastdds_xsd()
    if xsd is None:
        pytest.skip("fastRTPS_profiles.xsd not found under AMENT_PREFIX_PATH/share")
    schema = ET.parse(xsd).getroot()
    xs = "{http://www.w3.org/2001/XMLSchema}"
    declared = {e.get("name") for e in schema.iter(f"{xs}element")}
    attributes = {a.get("name") for a in schema.iter(f"{xs}attribute")}
    keys = tmp_path / "keys" / "enclaves" / "vehicle"
    rendered = [
        write_initial_peers_profile(tmp_path / "ip.xml", ["10.0.0.2", "10.0.0.3:7410"]),
        write_discovery_server_profile(tmp_path / "s.xml", "server", "10.0.0.2"),
        write_discovery_server_profile(tmp_path / "c.xml", "client", "10.0.0.2"),
        write_secure_profile(tmp_path / "sec.xml", keys, peer_ips=["10.0.0.2"]),
    ]
    profiles = [p for p in _all_templates() if p.parent == DDS_CONFIG]
    profiles += [template_path("secure"), *rendered]
    for path in profiles:
        for element in ET.parse(path).getroot().iter():
            if not isinstance(element.tag, str):
                continue  # a comment
            assert element.tag.startswith(f"{{{NS}}}"), f"{path}: {element.tag} not in {NS}"
            local = element.tag.split("}", 1)[1]
            assert local in declared, f"{path}: <{local}> is not in {xsd}"
            for attribute in element.attrib:
                assert attribute in attributes, f"{path}: {local}@{attribute} not in {xsd}"


def test_initial_peers_round_trip(tmp_path: Path) -> None:
    peers = ["10.1.2.3", "192.168.7.9:7412", "remote-host.lan"]
    path = write_initial_peers_profile(tmp_path / "sub" / "vehicle.xml", peers)
    assert path == tmp_path / "sub" / "vehicle.xml"
    summary = profile_summary(path)
    assert summary.initial_peers == [*peers, "127.0.0.1"]
    assert summary.metatraffic_unicast == ["*"]  # every interface, well-known port
    assert summary.metatraffic_multicast == []
    assert summary.transports == ["UDPv4"] and summary.use_builtin_transports is False
    assert summary.discovery_protocol == "SIMPLE"
    assert summary.max_initial_peers_range == 32
    assert summary.non_blocking_send  # a saturated link drops, never stalls a publisher
    assert "@" not in path.read_text()

    remote = profile_summary(render_initial_peers_profile(
        ["10.1.2.4", "10.1.2.4"], role="remote", local_ip="10.1.2.3",
        max_initial_peers_range=8))
    assert remote.profile_name == "edge_llm_remote_initial_peers"
    assert remote.initial_peers == ["10.1.2.4", "10.1.2.3"]  # duplicates dropped
    assert remote.metatraffic_unicast == ["10.1.2.3"]
    assert remote.max_initial_peers_range == 8
    alone = profile_summary(render_initial_peers_profile(["10.1.2.4"], include_localhost=False))
    assert alone.initial_peers == ["10.1.2.4"]


@pytest.mark.parametrize("bad", ["", "10.0.0.300", "::1", "10.0.0.1:0", "10.0.0.1:99999",
                                 "not a host", "10.0.0.1:x"])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        render_initial_peers_profile([bad])


def test_discovery_server_round_trip(tmp_path: Path) -> None:
    server = profile_summary(write_discovery_server_profile(
        tmp_path / "server.xml", "server", "10.1.2.4"))
    assert server.discovery_protocol == "SERVER"
    assert server.guid_prefix == DEFAULT_SERVER_PREFIX
    assert server.metatraffic_unicast == [f"10.1.2.4:{DISCOVERY_SERVER_PORT}"]
    assert server.transports == ["UDPv4"] and server.use_builtin_transports is False
    assert server.non_blocking_send

    prefix = "44.53.01.5f.45.50.52.4f.53.49.4d.41"
    client = profile_summary(render_discovery_server_profile(
        "client", "10.1.2.4:12000", guid_prefix=prefix.upper()))
    assert client.discovery_protocol == "CLIENT"
    assert client.servers == [(prefix, ["10.1.2.4:12000"])]
    assert client.non_blocking_send
    assert profile_summary(render_discovery_server_profile("server")).metatraffic_unicast == \
        [f"0.0.0.0:{DISCOVERY_SERVER_PORT}"]
    assert ros_discovery_server_value("10.1.2.4") == "10.1.2.4:11811"
    for role, address, kwargs in (("client", "0.0.0.0", {}), ("peer", "10.0.0.1", {}),
                                  ("client", "10.0.0.1", {"guid_prefix": "44.53"}),
                                  ("server", "10.0.0.1", {"port": 0})):
        with pytest.raises(ValueError):
            render_discovery_server_profile(role, address, **kwargs)


def test_secure_profile_names_the_enclave_files(tmp_path: Path) -> None:
    enclave = tmp_path / "keys" / "enclaves" / "remote"
    plain = profile_summary(write_secure_profile(tmp_path / "a.xml", enclave))
    props = plain.properties
    assert props["dds.sec.auth.plugin"] == "builtin.PKI-DH"
    assert props["dds.sec.access.plugin"] == "builtin.Access-Permissions"
    assert props["dds.sec.crypto.plugin"] == "builtin.AES-GCM-GMAC"
    files = {k.rsplit(".", 1)[1]: v for k, v in props.items() if v.startswith("file://")}
    assert files == {
        "identity_ca": f"file://{enclave}/identity_ca.cert.pem",
        "identity_certificate": f"file://{enclave}/cert.pem",
        "private_key": f"file://{enclave}/key.pem",
        "permissions_ca": f"file://{enclave}/permissions_ca.cert.pem",
        "governance": f"file://{enclave}/governance.p7s",
        "permissions": f"file://{enclave}/permissions.p7s",
    }
    assert plain.initial_peers == [] and plain.transports == ["UDPv4"]
    assert plain.non_blocking_send
    peered = profile_summary(write_secure_profile(tmp_path / "b.xml", enclave, role="remote",
                                                  peer_ips=["10.1.2.3"]))
    assert peered.initial_peers == ["10.1.2.3", "127.0.0.1"]
    assert peered.metatraffic_unicast == ["*"]
    assert peered.properties == props
    assert peered.profile_name == "edge_llm_remote_secure"


# -- is DDS Security there? --------------------------------------------------------------------


def test_security_support_reason_reads_the_library(tmp_path: Path) -> None:
    with_all = tmp_path / "libfastdds.so.3.2.1"
    with_all.write_bytes(b"\0".join(markers[0] for markers in SECURITY_PLUGIN_MARKERS.values()))
    assert security_support_reason(with_all) is None
    fastdds_names = tmp_path / "libfastrtps.so.2.14.5"
    fastdds_names.write_bytes(b"builtin.PKI-DH builtin.Access-Permissions DDS:Crypto:AES_GCM_GMAC")
    assert security_support_reason(fastdds_names) is None
    without = tmp_path / "libfastrtps.so.2.14"
    without.write_bytes(b"Received PID_IDENTITY_TOKEN but security is disabled")
    reason = security_support_reason(without)
    assert reason is not None and "2.14" in reason
    assert all(plugin in reason for plugin in SECURITY_PLUGIN_MARKERS)
    partial = tmp_path / "libfastdds.so.3"
    partial.write_bytes(b"DDS:Auth:PKI-DH DDS:Access:Permissions")
    assert "DDS:Crypto:AES-GCM-GMAC" in security_support_reason(partial)
    assert "cannot read" in security_support_reason(tmp_path / "missing.so")


@pytest.mark.ros
def test_security_support_reason_of_this_environment(ros_available: None) -> None:
    library = dds_profiles.find_fastdds_library()
    assert library is not None and library.is_file()
    assert re.match(r"lib(fastdds|fastrtps)\.so", library.name)
    reason = security_support_reason()
    assert reason is None or str(library) in reason
    if reason is not None:  # e.g. the PyPI wheels (ENVIRONMENT.md: no DDS:Auth:PKI-DH there)
        assert "without the DDS Security plugins" in reason


# -- key script --------------------------------------------------------------------------------


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    out = tmp_path_factory.mktemp("dds_keys")
    done = subprocess.run(["bash", str(KEY_SCRIPT), str(out), "--days", "30"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def _normalized(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def test_key_script_makes_verifiable_certs_and_signed_documents(keystore: Path) -> None:
    ca = keystore / "public" / "ca.cert.pem"
    assert stat.S_IMODE((keystore / "private" / "ca.key.pem").stat().st_mode) == 0o600
    grants = ET.parse(keystore / "enclaves" / "permissions.xml").getroot()
    subjects = {g.get("name"): g.findtext("subject_name") for g in grants.iter("grant")}
    assert subjects == {"edge_llm_vehicle": "CN=vehicle", "edge_llm_remote": "CN=remote"}
    for host, grant in (("vehicle", "edge_llm_vehicle"), ("remote", "edge_llm_remote")):
        enclave = keystore / "enclaves" / host
        names = {p.name for p in enclave.iterdir()}
        assert {"identity_ca.cert.pem", "permissions_ca.cert.pem", "cert.pem", "key.pem",
                "governance.p7s", "permissions.p7s"} <= names
        assert stat.S_IMODE((enclave / "key.pem").stat().st_mode) == 0o600
        verified = _openssl("verify", "-CAfile", str(ca), str(enclave / "cert.pem"))
        assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), \
            verified.stdout + verified.stderr
        subject = _openssl("x509", "-in", str(enclave / "cert.pem"), "-noout", "-subject",
                           "-nameopt", "RFC2253")
        assert subject.stdout.strip() == f"subject={subjects[grant]}"
        pub = _openssl("pkey", "-in", str(enclave / "key.pem"), "-pubout").stdout
        assert pub and pub == _openssl("x509", "-in", str(enclave / "cert.pem"), "-noout",
                                       "-pubkey").stdout
        for doc in ("governance", "permissions"):
            signed = enclave / f"{doc}.p7s"
            check = _openssl("smime", "-verify", "-in", str(signed), "-CAfile",
                             str(enclave / "permissions_ca.cert.pem"), "-text")
            assert check.returncode == 0, check.stderr
            assert "Verification successful" in check.stderr
            assert _normalized(check.stdout) == \
                _normalized((keystore / "enclaves" / f"{doc}.xml").read_text())
    governance = (keystore / "enclaves" / "governance.xml").read_text()
    assert governance == (DDS_CONFIG / "secure" / "governance.xml").read_text()
    permissions = (keystore / "enclaves" / "permissions.xml").read_text()
    assert "@" not in permissions and "rt/remote/plan_request" in permissions


def test_key_script_signature_fails_for_a_changed_document(keystore: Path,
                                                           tmp_path: Path) -> None:
    signed = (keystore / "enclaves" / "permissions.p7s").read_text()
    tampered = tmp_path / "permissions.p7s"
    tampered.write_text(signed.replace("rt/remote/probe_echo", "rt/remote/probe_echX", 1))
    check = _openssl("smime", "-verify", "-in", str(tampered), "-CAfile",
                     str(keystore / "public" / "ca.cert.pem"), "-text")
    assert check.returncode != 0
    other_ca = tmp_path / "other"
    done = subprocess.run(["bash", str(KEY_SCRIPT), str(other_ca)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    foreign = _openssl("verify", "-CAfile", str(other_ca / "public" / "ca.cert.pem"),
                       str(keystore / "enclaves" / "vehicle" / "cert.pem"))
    assert foreign.returncode != 0


def test_key_script_reuses_its_ca_and_checks_arguments(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    out = tmp_path / "ks"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(KEY_SCRIPT), *args], capture_output=True,
                              text=True, timeout=60)

    assert run(str(out), "--vehicle-cn", "car7").returncode == 0
    ca = (out / "public" / "ca.cert.pem").read_bytes()
    again = run(str(out), "--vehicle-cn", "car7")
    assert again.returncode == 0 and "reusing the CA" in again.stdout
    assert (out / "public" / "ca.cert.pem").read_bytes() == ca
    assert "CN=car7" in (out / "enclaves" / "permissions.xml").read_text()
    assert run().returncode == 2
    assert run(str(out), "--vehicle-cn", "bad name").returncode == 2
    assert run(str(out), "--days", "soon").returncode == 2


# -- real Fast DDS on this host -----------------------------------------------------------------


@pytest.mark.ros
def test_fastdds_loads_every_profile_without_errors(ros_available: None, tmp_path: Path,
                                                    ros_domain_id: int) -> None:
    """Each profile in a real rclpy process: no XML error logged (Fast DDS only logs them and
    starts anyway, with defaults), and the sockets show it was applied."""
    ds_port = free_udp_port()
    keys = tmp_path / "keys" / "enclaves" / "vehicle"
    profiles: dict[str, Path | None] = {
        "default": None,
        "initial_peers": write_initial_peers_profile(tmp_path / "ip.xml", ["127.0.0.1"]),
        "server": write_discovery_server_profile(tmp_path / "s.xml", "server", "127.0.0.1",
                                                 port=ds_port),
        "client": write_discovery_server_profile(tmp_path / "c.xml", "client", "127.0.0.1",
                                                 port=ds_port),
        "secure": write_secure_profile(tmp_path / "sec.xml", keys, peer_ips=["127.0.0.1"]),
    }
    procs = {}
    for offset, (name, profile) in enumerate(profiles.items()):
        # One domain each, so no two share well-known ports.
        env = dds_env((ros_domain_id + 7 * offset) % 200 + 1, profile)
        procs[name] = (env, subprocess.Popen(pubsub_argv("idle", timeout_s=1.0), env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             text=True))
    ports = {}
    for name, (env, proc) in procs.items():
        out = finish(proc, 30)
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{out[-3000:]}"
        assert not fastdds_errors(out), f"{name} profile: Fast DDS errors\n{out[-3000:]}"
        ports[name] = (set(result_of(out)["ports"]),
                       well_known_ports(int(env["ROS_DOMAIN_ID"])))
    bound, known = ports["default"]
    assert known["multicast"] in bound  # the control: default discovery listens on multicast
    for name in ("initial_peers", "secure"):
        bound, known = ports[name]
        assert known["multicast"] not in bound, f"{name}: multicast discovery port bound"
        assert known["unicast"] & bound, f"{name}: no unicast discovery port in {bound}"
    assert ds_port in ports["server"][0]
    assert ports["server"][1]["multicast"] not in ports["server"][0]


@pytest.mark.ros
def test_initial_peers_profiles_talk_on_this_host(ros_available: None, tmp_path: Path,
                                                  ros_domain_id: int) -> None:
    vehicle = write_initial_peers_profile(tmp_path / "v.xml", ["127.0.0.1"])
    remote = write_initial_peers_profile(tmp_path / "r.xml", ["127.0.0.1"], role="remote")
    start = local_starter()
    got = exchange(start, start, dds_env(ros_domain_id, remote),
                   dds_env(ros_domain_id, vehicle), timeout_s=15)
    assert len(got["received"]) >= 3


@pytest.mark.ros
def test_discovery_server_profiles_talk_on_this_host(ros_available: None, tmp_path: Path,
                                                     ros_domain_id: int) -> None:
    port = free_udp_port()
    server = write_discovery_server_profile(tmp_path / "s.xml", "server", "127.0.0.1",
                                            port=port)
    client = write_discovery_server_profile(tmp_path / "c.xml", "client", "127.0.0.1",
                                            port=port)
    start = local_starter()
    got = exchange(start, start, dds_env(ros_domain_id, server),
                   dds_env(ros_domain_id, client), timeout_s=15)
    assert len(got["received"]) >= 3


@pytest.mark.ros
def test_secured_profiles_exchange_encrypted(ros_available: None, keystore: Path,
                                             tmp_path: Path, ros_domain_id: int) -> None:
    """Two secured participants talk; one without credentials hears nothing. Needs a Fast DDS
    with the security plugins: skipped (with the reason) where it has none, as here."""
    reason = security_support_reason()
    if reason is not None:
        pytest.skip(reason)
    vehicle = write_secure_profile(tmp_path / "v.xml", keystore / "enclaves" / "vehicle")
    remote = write_secure_profile(tmp_path / "r.xml", keystore / "enclaves" / "remote",
                                  role="remote")
    start = local_starter()
    outsider = start(pubsub_argv("sub", timeout_s=8, count=1, name="outsider"),
                     dds_env(ros_domain_id))

    def start_remote(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        argv[-1] = "remote_planner"  # the remote grant allows this node's services only
        return start(argv, env)

    # The secured participants may log the outsider's refused handshake.
    got = exchange(start_remote, start, dds_env(ros_domain_id, remote),
                   dds_env(ros_domain_id, vehicle), timeout_s=20,
                   tolerate=re.compile("SECURITY|unauthenticated|handshake", re.IGNORECASE))
    assert len(got["received"]) >= 3
    heard = result_of(finish(outsider, 20))["received"]
    assert heard == [], "a participant without credentials received secured data"


# -- two hosts without multicast (network namespaces) -------------------------------------------


def standalone_server(start: Starter, address: str, profile_env: dict[str, str]
                      ) -> tuple[Starter, list[str], dict[str, str]]:
    """`fastdds discovery -i 0 -l ADDRESS` (its binary, so terminate() reaches it) when the
    Fast DDS tools are installed, else an idle rclpy participant with the server profile."""
    binary = shutil.which("fast-discovery-server")
    library = dds_profiles.find_fastdds_library()
    if binary is None or library is None:
        return start, pubsub_argv("idle", timeout_s=40), profile_env
    env = dict(profile_env)
    env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(library.parent), env.get("LD_LIBRARY_PATH", "")) if p)
    return start, [binary, "-i", "0", "-l", address, "-p", str(DISCOVERY_SERVER_PORT)], env



@pytest.fixture
def multicast_free_lab() -> Iterator[Any]:
    from edge_llm_ros.tools.linklab import LinkLab, netns_unavailable_reason

    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with LinkLab() as lab:
        for ns in (lab.vehicle_ns, lab.remote_ns):
            for chain in ("INPUT", "OUTPUT"):
                lab.run(ns, ["iptables", "-A", chain, "-d", "224.0.0.0/4", "-j", "DROP"],
                        check=True, capture_output=True, timeout=30)
        yield lab


@pytest.mark.ros
@pytest.mark.slow
def test_two_hosts_without_multicast(ros_available: None, multicast_free_lab: Any,
                                     tmp_path: Path, ros_domain_id: int) -> None:
    lab = multicast_free_lab

    def starter(ns: str) -> Starter:
        def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
            return lab.popen(ns, argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        return start

    on_vehicle, on_remote = starter(lab.vehicle_ns), starter(lab.remote_ns)
    env = dds_env(ros_domain_id)

    # 1. The control: with multicast dropped, default discovery must not connect.
    got = exchange(on_remote, on_vehicle, env, env, timeout_s=5, count=1)
    assert got["received"] == [], "default discovery got through: multicast is not blocked"

    # 2. Initial peers, each side naming the other: vehicle -> remote.
    vehicle = write_initial_peers_profile(tmp_path / "v.xml", [lab.remote_ip])
    remote = write_initial_peers_profile(tmp_path / "r.xml", [lab.vehicle_ip], role="remote")
    got = exchange(on_remote, on_vehicle, dds_env(ros_domain_id, remote),
                   dds_env(ros_domain_id, vehicle), timeout_s=20)
    assert len(got["received"]) >= 3, "initial peers: nothing crossed the link"

    # 3. Discovery server: the remote participant is the SERVER, the vehicle a CLIENT by
    #    profile: remote -> vehicle.
    server = write_discovery_server_profile(tmp_path / "s.xml", "server", lab.remote_ip)
    client = write_discovery_server_profile(tmp_path / "c.xml", "client", lab.remote_ip)
    got = exchange(on_vehicle, on_remote, dds_env(ros_domain_id, client),
                   dds_env(ros_domain_id, server), timeout_s=20)
    assert len(got["received"]) >= 3, "discovery server: nothing crossed the link"

    # 4. Two clients that only meet through a server of their own on the remote host: the
    #    standalone Fast DDS server (`fastdds discovery`) where it is installed, else an idle
    #    participant with the server profile. The vehicle's client is set by
    #    ROS_DISCOVERY_SERVER alone, the remote one by the client profile: vehicle -> remote.
    got = exchange(on_remote, on_vehicle, dds_env(ros_domain_id, client),
                   dds_env(ros_domain_id,
                           ROS_DISCOVERY_SERVER=ros_discovery_server_value(lab.remote_ip)),
                   timeout_s=20, extra=[standalone_server(on_remote, lab.remote_ip,
                                                          dds_env(ros_domain_id, server))])
    assert len(got["received"]) >= 3, "client to client through the server failed"
