"""Fast DDS XML profiles for the vehicle <-> remote link, and whether DDS Security is there.

The templates live in config/dds/ (see docs/dds_remote_link.md):

- ``initial_peers_vehicle.xml`` / ``initial_peers_remote.xml``: SIMPLE discovery without
  multicast; each participant announces itself by unicast to the other host (and to this
  host, so local nodes still find each other).
- ``discovery_server_server.xml`` / ``discovery_server_client.xml``: Fast DDS Discovery
  Server; one participant on the remote host is the SERVER, everything else a CLIENT.
- ``secure/secure_participant.xml``: the DDS Security plugins (PKI-DH, Access-Permissions,
  AES-GCM-GMAC) with the files made by ``scripts/dds_security_keys.sh``.

Every profile uses UDPv4 only (no shared memory). This module renders the templates with real
addresses (``write_*``), reads a profile back (``profile_summary``), tells whether the Fast DDS
library in use has the security plugins (``security_support_reason``). Its command line is
the ``edge-llm-ros dds-profile`` verb (edge_llm_ros/tools/cli/dds.py). Plain Python: no rclpy.
"""

from __future__ import annotations

import ipaddress
import mmap
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge_llm_ros.paths import config_file

NS = "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"
DISCOVERY_SERVER_PORT = 11811
# Fast DDS's GUID prefix for discovery server id 0: ROS_DISCOVERY_SERVER=IP:PORT means it.
DEFAULT_SERVER_PREFIX = "44.53.00.5f.45.50.52.4f.53.49.4d.41"
DEFAULT_MAX_INITIAL_PEERS_RANGE = 32
ROLES = ("vehicle", "remote")
DS_ROLES = ("server", "client")
LOCALHOST = "127.0.0.1"

TEMPLATES = {
    "initial_peers_vehicle": "initial_peers_vehicle.xml",
    "initial_peers_remote": "initial_peers_remote.xml",
    "discovery_server_server": "discovery_server_server.xml",
    "discovery_server_client": "discovery_server_client.xml",
    "secure": "secure/secure_participant.xml",
    "governance": "secure/governance.xml",
    "permissions": "secure/permissions.xml",
}
_PEER_PLACEHOLDER = {"vehicle": "@REMOTE_IP@", "remote": "@VEHICLE_IP@"}
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_PREFIX = re.compile(r"^[0-9a-fA-F]{2}(\.[0-9a-fA-F]{2}){11}$")
_REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"

ET.register_namespace("", NS)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


# -- templates ---------------------------------------------------------------------------------


def template_path(name: str) -> Path:
    """A template by key of TEMPLATES (or file name under config/dds/): the installed share
    directory's copy, or the repository's when the build predates it."""
    rel = TEMPLATES.get(name, name)
    installed = config_file(f"dds/{rel}")
    if installed.is_file():
        return installed
    return _REPO_CONFIG / "dds" / rel


def _load(name: str) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.fromstring(template_path(name).read_text(encoding="utf-8"), parser=parser)


def _serialize(root: ET.Element, header: str) -> str:
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    leftover = sorted(set(_PLACEHOLDER.findall(text)))
    if leftover:
        raise ValueError(f"unfilled placeholders {leftover} in the rendered profile")
    header = header.replace("--", "- -")
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<!--\n{header}\n-->\n{text}\n'


def write_profile(path: str | os.PathLike[str], text: str) -> Path:
    """Write a rendered profile to path (folders made as needed); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


# -- addresses ---------------------------------------------------------------------------------


def _split_host_port(value: str) -> tuple[str, int | None]:
    """'10.0.0.2' or '10.0.0.2:7410' or 'host.lan' -> (host, port or None); IPv4 or DNS name."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, ""
    port: int | None = None
    if sep:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"peer {value!r}: the port must be 1-65535")
        port = int(port_text)
    if not host:
        raise ValueError(f"peer {value!r}: empty address")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
            raise ValueError(f"peer {value!r} is neither an IPv4 address nor a host name") from None
        return host, port
    if address.version != 4:
        raise ValueError(f"peer {value!r}: these profiles are UDPv4 only")
    return str(address), port


def _format_peer(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


def _locator(host: str | None, port: int | None) -> ET.Element:
    locator = ET.Element(_q("locator"))
    udp = ET.SubElement(locator, _q("udpv4"))
    if host is not None:
        ET.SubElement(udp, _q("address")).text = host
    if port is not None:
        ET.SubElement(udp, _q("port")).text = str(port)
    return locator


def _replace_children(parent: ET.Element, children: Iterable[ET.Element]) -> None:
    for child in list(parent):
        if child.tag is not ET.Comment:
            parent.remove(child)
    parent.extend(children)


def _check_port(port: int) -> int:
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port {port!r}: must be 1-65535")
    return port


def _check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"GUID prefix {prefix!r}: want 12 hex bytes joined by dots, e.g. "
                         f"{DEFAULT_SERVER_PREFIX}")
    return prefix.lower()


def ros_discovery_server_value(server_ip: str, port: int = DISCOVERY_SERVER_PORT) -> str:
    """The ROS_DISCOVERY_SERVER value that makes a participant a client of server id 0 (the
    server profile's default prefix) at server_ip:port."""
    host, _ = _split_host_port(server_ip)
    return f"{host}:{_check_port(port)}"


# -- rendering ---------------------------------------------------------------------------------


def _initial_peers_tree(peer_ips: Sequence[str], role: str, local_ip: str | None,
                        include_localhost: bool, max_initial_peers_range: int
                        ) -> tuple[ET.Element, list[str]]:
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {ROLES}")
    if not peer_ips:
        raise ValueError("at least one peer address is needed (the other host)")
    if not 1 <= int(max_initial_peers_range) <= 1000:
        raise ValueError("max_initial_peers_range must be 1-1000")
    peers = [_split_host_port(p) for p in peer_ips]
    local = _split_host_port(local_ip)[0] if local_ip else None
    if include_localhost:
        peers.append((local or LOCALHOST, None))
    unique: list[tuple[str, int | None]] = []
    for peer in peers:
        if peer not in unique:
            unique.append(peer)
    root = _load(f"initial_peers_{role}")
    initial = root.find(f".//{_q('initialPeersList')}")
    meta = root.find(f".//{_q('builtin')}/{_q('metatrafficUnicastLocatorList')}")
    ranges = root.find(f".//{_q('transport_descriptor')}/{_q('maxInitialPeersRange')}")
    if initial is None or meta is None or ranges is None:
        raise ValueError(f"{template_path(f'initial_peers_{role}')} lost an element it needs")
    _replace_children(initial, (_locator(h, p) for h, p in unique))
    _replace_children(meta, [_locator(local, None)])
    ranges.text = str(int(max_initial_peers_range))
    return root, [_format_peer(h, p) for h, p in unique]


def render_initial_peers_profile(peer_ips: Sequence[str], *, role: str = "vehicle",
                                 local_ip: str | None = None, include_localhost: bool = True,
                                 max_initial_peers_range: int = DEFAULT_MAX_INITIAL_PEERS_RANGE
                                 ) -> str:
    """The initial-peers profile (no multicast) for `role` as XML text.

    peer_ips: the other host's address(es), IPv4 or DNS name, each optionally ':PORT' (a
    fixed metatraffic port; without one, Fast DDS tries the well-known discovery ports of
    participant ids 0..max_initial_peers_range-1 of the domain). include_localhost adds this
    host (local_ip, else 127.0.0.1) so the participants on one host find each other too.
    local_ip pins the metatraffic unicast locator to one address (default: every interface).
    """
    root, peers = _initial_peers_tree(peer_ips, role, local_ip, include_localhost,
                                      max_initial_peers_range)
    header = (f"  Fast DDS profile for the {role}: discovery by initial peers, no multicast,"
              f" UDPv4 only.\n  Initial peers: {', '.join(peers)}.\n"
              "  Made by edge_llm_ros.tools.dds_profiles from "
              f"{TEMPLATES[f'initial_peers_{role}']};"
              " see docs/dds_remote_link.md.")
    return _serialize(root, header)


def write_initial_peers_profile(path: str | os.PathLike[str], peer_ips: Sequence[str], *,
                                role: str = "vehicle", local_ip: str | None = None,
                                include_localhost: bool = True,
                                max_initial_peers_range: int = DEFAULT_MAX_INITIAL_PEERS_RANGE
                                ) -> Path:
    """Write render_initial_peers_profile(...) to path (folders made); returns the path."""
    return write_profile(path, render_initial_peers_profile(
        peer_ips, role=role, local_ip=local_ip, include_localhost=include_localhost,
        max_initial_peers_range=max_initial_peers_range))


def render_discovery_server_profile(role: str, server_ip: str = "0.0.0.0", *,
                                    port: int = DISCOVERY_SERVER_PORT,
                                    guid_prefix: str = DEFAULT_SERVER_PREFIX) -> str:
    """The discovery server profile as XML text.

    role "server": the one participant (on the remote host) that is the SERVER, listening on
    server_ip:port (0.0.0.0: every interface) with GUID prefix guid_prefix.
    role "client": every other participant; server_ip:port is where the server listens (the
    remote host's address on the link) and guid_prefix must be the server's.
    """
    if role not in DS_ROLES:
        raise ValueError(f"role {role!r}: one of {DS_ROLES}")
    host, given_port = _split_host_port(server_ip)
    port = _check_port(given_port if given_port is not None else port)
    prefix = _check_prefix(guid_prefix)
    if role == "client" and host == "0.0.0.0":
        raise ValueError("a client needs the server's address, not 0.0.0.0")
    root = _load(f"discovery_server_{role}")
    for address in root.iter(_q("address")):
        if address.text == "@SERVER_IP@":
            address.text = host
    for port_element in root.iter(_q("port")):
        if port_element.text == "@SERVER_PORT@":
            port_element.text = str(port)
    if role == "server":
        prefix_element = root.find(f".//{_q('rtps')}/{_q('prefix')}")
        if prefix_element is None:
            raise ValueError("the server template lost its <prefix>")
        prefix_element.text = prefix
        what = f"the discovery SERVER, listening on {host}:{port},\n  GUID prefix {prefix}"
    else:
        servers = list(root.iter(_q("RemoteServer")))
        if len(servers) != 1:
            raise ValueError("the client template needs exactly one <RemoteServer>")
        servers[0].set("prefix", prefix)
        what = f"a discovery CLIENT of the server at {host}:{port},\n  GUID prefix {prefix}"
    header = (f"  Fast DDS profile: {what}; UDPv4 only.\n"
              "  Made by edge_llm_ros.tools.dds_profiles from "
              f"{TEMPLATES[f'discovery_server_{role}']};"
              " see docs/dds_remote_link.md.")
    return _serialize(root, header)


def write_discovery_server_profile(path: str | os.PathLike[str], role: str,
                                   server_ip: str = "0.0.0.0", *,
                                   port: int = DISCOVERY_SERVER_PORT,
                                   guid_prefix: str = DEFAULT_SERVER_PREFIX) -> Path:
    """Write render_discovery_server_profile(...) to path (folders made); returns the path."""
    return write_profile(path, render_discovery_server_profile(role, server_ip, port=port,
                                                        guid_prefix=guid_prefix))


def render_secure_profile(enclave_dir: str | os.PathLike[str], *,
                          peer_ips: Sequence[str] = (), role: str = "vehicle",
                          local_ip: str | None = None, include_localhost: bool = True,
                          max_initial_peers_range: int = DEFAULT_MAX_INITIAL_PEERS_RANGE
                          ) -> str:
    """The DDS Security profile as XML text: PKI-DH, Access-Permissions and AES-GCM-GMAC with
    the files in enclave_dir (OUT/enclaves/<host> of scripts/dds_security_keys.sh, made
    absolute). With peer_ips, discovery is by initial peers without multicast, as in
    render_initial_peers_profile; without, Fast DDS's default (multicast) discovery."""
    enclave = Path(enclave_dir).expanduser().resolve()
    secure = _load("secure")
    policy = secure.find(f".//{_q('propertiesPolicy')}")
    if policy is None:
        raise ValueError("the secure template lost its <propertiesPolicy>")
    for value in policy.iter(_q("value")):
        if value.text and "@ENCLAVE_DIR@" in value.text:
            value.text = value.text.replace("@ENCLAVE_DIR@", enclave.as_posix())
    discovery = "multicast (SIMPLE) discovery"
    if peer_ips:
        root, peers = _initial_peers_tree(peer_ips, role, local_ip, include_localhost,
                                          max_initial_peers_range)
        participant = root.find(_q("profiles") + "/" + _q("participant"))
        rtps = root.find(f".//{_q('participant')}/{_q('rtps')}")
        if participant is None or rtps is None:
            raise ValueError("the initial peers template lost its <participant>")
        participant.set("profile_name", f"edge_llm_{role}_secure")
        rtps.append(policy)
        discovery = f"initial peers {', '.join(peers)}, no multicast"
    else:
        root = secure
    header = (f"  Fast DDS profile with DDS Security (PKI-DH, Access-Permissions, AES-GCM-GMAC)"
              f"\n  using {enclave}; {discovery}; UDPv4 only.\n"
              "  Needs a Fast DDS built with security: a library without the plugins ignores"
              " these\n  properties silently (edge-llm-ros dds-profile check-security).\n"
              "  Made by edge_llm_ros.tools.dds_profiles; see docs/dds_remote_link.md.")
    return _serialize(root, header)


def write_secure_profile(path: str | os.PathLike[str], enclave_dir: str | os.PathLike[str], *,
                         peer_ips: Sequence[str] = (), role: str = "vehicle",
                         local_ip: str | None = None, include_localhost: bool = True,
                         max_initial_peers_range: int = DEFAULT_MAX_INITIAL_PEERS_RANGE) -> Path:
    """Write render_secure_profile(...) to path (folders made); returns the path."""
    return write_profile(path, render_secure_profile(
        enclave_dir, peer_ips=peer_ips, role=role, local_ip=local_ip,
        include_localhost=include_localhost, max_initial_peers_range=max_initial_peers_range))


# -- reading a profile back --------------------------------------------------------------------


@dataclass
class ProfileSummary:
    """What the default participant profile of a Fast DDS XML file configures."""

    profile_name: str
    discovery_protocol: str = "SIMPLE"
    transports: list[str] = field(default_factory=list)
    use_builtin_transports: bool | None = None
    max_initial_peers_range: int | None = None
    non_blocking_send: bool = False  # every user transport sends without blocking
    metatraffic_unicast: list[str] = field(default_factory=list)
    metatraffic_multicast: list[str] = field(default_factory=list)
    initial_peers: list[str] = field(default_factory=list)
    guid_prefix: str | None = None
    servers: list[tuple[str, list[str]]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


def _locators(parent: ET.Element | None) -> list[str]:
    out = []
    for udp in [] if parent is None else parent.iter(_q("udpv4")):
        address = udp.findtext(_q("address")) or "*"
        port = udp.findtext(_q("port"))
        out.append(address if port is None else f"{address}:{port}")
    return out


def profile_summary(source: str | os.PathLike[str]) -> ProfileSummary:
    """Read a profile (a path, or XML text starting with '<'), for checks and round trips."""
    text = source if isinstance(source, str) and source.lstrip().startswith("<") else \
        Path(source).read_text(encoding="utf-8")
    root = ET.fromstring(text)
    participants = list(root.iter(_q("participant")))
    chosen = next((p for p in participants if p.get("is_default_profile") == "true"),
                  participants[0] if participants else None)
    if chosen is None:
        raise ValueError("no <participant> profile in this file")
    rtps = chosen.find(_q("rtps"))
    rtps = rtps if rtps is not None else ET.Element(_q("rtps"))
    builtin = rtps.find(_q("builtin"))
    builtin = builtin if builtin is not None else ET.Element(_q("builtin"))
    descriptors = {d.findtext(_q("transport_id")): d for d in root.iter(_q("transport_descriptor"))}
    summary = ProfileSummary(profile_name=chosen.get("profile_name", ""))
    ranges = set()
    non_blocking = []
    for tid in rtps.findall(f"{_q('userTransports')}/{_q('transport_id')}"):
        descriptor = descriptors.get(tid.text)
        if descriptor is not None:
            summary.transports.append(descriptor.findtext(_q("type")) or "?")
            non_blocking.append(
                (descriptor.findtext(_q("non_blocking_send")) or "").strip().lower() == "true")
            if descriptor.findtext(_q("maxInitialPeersRange")):
                ranges.add(int(descriptor.findtext(_q("maxInitialPeersRange"))))
    summary.max_initial_peers_range = max(ranges) if ranges else None
    summary.non_blocking_send = bool(non_blocking) and all(non_blocking)
    builtin_transports = rtps.findtext(_q("useBuiltinTransports"))
    if builtin_transports is not None:
        summary.use_builtin_transports = builtin_transports.strip().lower() == "true"
    discovery = builtin.find(_q("discovery_config"))
    if discovery is not None and discovery.findtext(_q("discoveryProtocol")):
        summary.discovery_protocol = discovery.findtext(_q("discoveryProtocol")).strip()
    summary.metatraffic_unicast = _locators(builtin.find(_q("metatrafficUnicastLocatorList")))
    summary.metatraffic_multicast = _locators(builtin.find(_q("metatrafficMulticastLocatorList")))
    summary.initial_peers = _locators(builtin.find(_q("initialPeersList")))
    summary.guid_prefix = rtps.findtext(_q("prefix"))
    for server in builtin.iter(_q("RemoteServer")):
        summary.servers.append((server.get("prefix", ""),
                                _locators(server.find(_q("metatrafficUnicastLocatorList")))))
    for prop in rtps.iter(_q("property")):
        summary.properties[prop.findtext(_q("name")) or ""] = prop.findtext(_q("value")) or ""
    return summary


# -- is DDS Security in the Fast DDS that runs here? -------------------------------------------

# Strings a Fast DDS library holds only when built with -DSECURITY=ON: the plugins' names in
# the DDS Security spec (they prefix the plugins' token class ids) and Fast DDS's names for
# them in the dds.sec.*.plugin properties.
SECURITY_PLUGIN_MARKERS: dict[str, tuple[bytes, ...]] = {
    "DDS:Auth:PKI-DH": (b"DDS:Auth:PKI-DH", b"builtin.PKI-DH"),
    "DDS:Access:Permissions": (b"DDS:Access:Permissions", b"builtin.Access-Permissions"),
    "DDS:Crypto:AES-GCM-GMAC": (b"DDS:Crypto:AES-GCM-GMAC", b"DDS:Crypto:AES_GCM_GMAC",
                                b"builtin.AES-GCM-GMAC"),
}
# auditwheel-style copies carry a hash: libfastrtps-1a2b3c4d.so.2.14.5
_LIBRARY_NAME = re.compile(r"^lib(fastdds|fastrtps)(-[0-9a-f]{8})?\.so(\.[0-9.]+)?$")


def _is_fastdds_library(path: str | os.PathLike[str]) -> bool:
    return bool(_LIBRARY_NAME.match(Path(path).name))


def _loaded_fastdds_library() -> Path | None:
    """The Fast DDS library mapped into this process (once rclpy has made a node)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and _is_fastdds_library(parts[5].strip()):
            return Path(parts[5].strip())
    return None


def _library_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "lib")
    dirs.append(Path(sys.prefix) / "lib")
    dirs += sorted(Path("/opt/ros").glob("*/lib")) if Path("/opt/ros").is_dir() else []
    dirs += [Path("/usr/local/lib"), Path("/usr/lib/x86_64-linux-gnu"),
             Path("/usr/lib/aarch64-linux-gnu"), Path("/usr/lib")]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _linked_fastdds_library(dirs: Sequence[Path]) -> Path | None:
    """The Fast DDS library that rmw_fastrtps_cpp resolves to, as the loader would (ldd)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    for d in dirs:
        rmw = d / "librmw_fastrtps_cpp.so"
        if not rmw.is_file():
            continue
        try:
            out = subprocess.run([ldd, str(rmw)], capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        for line in out.splitlines():
            name, _, rest = line.strip().partition(" => ")
            target = rest.split(" (")[0].strip()
            if _is_fastdds_library(name) and target.startswith("/"):
                return Path(target)
        return None
    return None


def find_fastdds_library() -> Path | None:
    """The Fast DDS shared library ROS 2 uses here: the one mapped into this process if rclpy
    has loaded it, else the one rmw_fastrtps_cpp links to (ldd, with this environment's
    LD_LIBRARY_PATH), else the first libfastdds/libfastrtps in the usual library folders."""
    loaded = _loaded_fastdds_library()
    if loaded is not None:
        return loaded
    dirs = _library_dirs()
    linked = _linked_fastdds_library(dirs)
    if linked is not None:
        return linked
    for d in dirs:
        for stem in ("libfastdds.so", "libfastrtps.so"):
            candidates = sorted(d.glob(stem + "*")) if d.is_dir() else []
            for candidate in candidates:
                if _is_fastdds_library(candidate) and candidate.is_file():
                    return candidate
    return None


def fastdds_version(library: str | os.PathLike[str]) -> str | None:
    """'2.14.5' from libfastrtps.so.2.14.5, or None. Symlinks are followed; wheels ship
    libfastrtps.so.2.14 as a copy, so the longest version among same-sized siblings wins."""
    path = Path(library).resolve()
    stem = path.name.split(".so")[0] + ".so"
    names = [path.name]
    try:
        size = path.stat().st_size
        names += [p.name for p in path.parent.glob(stem + ".*")
                  if p.is_file() and p.stat().st_size == size]
    except OSError:
        pass
    versions = [m.group(1) for m in (re.search(r"\.so\.([0-9][0-9.]*)$", n) for n in names) if m]
    return max(versions, key=lambda v: v.count(".")) if versions else None


def missing_security_plugins(library: str | os.PathLike[str]) -> list[str]:
    """The DDS Security plugins whose identifiers are not in the library file."""
    with open(library, "rb") as handle, \
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return [plugin for plugin, markers in SECURITY_PLUGIN_MARKERS.items()
                if not any(data.find(marker) != -1 for marker in markers)]


def security_support_reason(library: str | os.PathLike[str] | None = None) -> str | None:
    """None when the Fast DDS library (default: find_fastdds_library()) holds the DDS Security
    plugins PKI-DH, Access-Permissions and AES-GCM-GMAC; else one sentence saying why the
    secured profile cannot work with it."""
    path = Path(library) if library is not None else find_fastdds_library()
    if path is None:
        return ("no Fast DDS library (libfastdds/libfastrtps) was found: source the ROS 2 "
                "environment (rmw_fastrtps_cpp) first")
    try:
        missing = missing_security_plugins(path)
    except (OSError, ValueError) as exc:
        return f"cannot read the Fast DDS library {path}: {exc}"
    if not missing:
        return None
    version = fastdds_version(path)
    what = f"Fast DDS {version}" if version else "Fast DDS"
    return (f"{what} at {path} is built without the DDS Security plugins "
            f"({', '.join(missing)} not in the library), as in the PyPI ROS 2 wheels; use a "
            "Fast DDS built with -DSECURITY=ON (apt-installed ROS 2 ships one)")
