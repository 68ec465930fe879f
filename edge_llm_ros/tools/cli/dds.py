"""`dds-profile KIND ...`: Fast DDS XML profiles for the vehicle <-> remote link (no
multicast), and whether this environment's Fast DDS has the DDS Security plugins. The
rendering is edge_llm_ros.tools.dds_profiles; this is its only command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_llm_ros.tools.cli.common import FORMATTER, add_verb, fail


def _render(args: argparse.Namespace) -> str:
    """The profile text for the chosen kind (ValueError on a bad address, port or prefix)."""
    from edge_llm_ros.tools import dds_profiles as dds

    if args.kind == "initial-peers":
        return dds.render_initial_peers_profile(
            args.peer, role=args.role, local_ip=args.local_ip,
            include_localhost=not args.no_localhost,
            max_initial_peers_range=args.max_initial_peers_range)
    if args.kind.startswith("discovery-server-"):
        return dds.render_discovery_server_profile(
            args.kind.removeprefix("discovery-server-"), args.peer, port=args.port,
            guid_prefix=args.prefix)
    text = dds.render_secure_profile(args.enclave, peer_ips=args.peer, role=args.role,
                                     local_ip=args.local_ip,
                                     include_localhost=not args.no_localhost)
    if not (args.enclave / "cert.pem").is_file():
        print(f"warning: {args.enclave}/cert.pem does not exist (yet)", file=sys.stderr)
    reason = dds.security_support_reason()
    if reason is not None:
        print(f"warning: not usable here: {reason}", file=sys.stderr)
    return text


def cmd_dds_profile(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools import dds_profiles as dds

    try:
        text = _render(args)
    except ValueError as exc:
        return fail(str(exc))
    if args.output is None:
        sys.stdout.write(text)
    else:
        print(dds.write_profile(args.output, text))
    return 0


def cmd_check_security(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools import dds_profiles as dds

    library = dds.find_fastdds_library()
    reason = dds.security_support_reason(library)
    print(f"Fast DDS library: {library or 'not found'}")
    print("DDS Security plugins: present" if reason is None else f"no: {reason}")
    return 0 if reason is None else 1


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def register(sub: argparse._SubParsersAction) -> None:
    from edge_llm_ros.tools.dds_profiles import (
        DEFAULT_MAX_INITIAL_PEERS_RANGE,
        DEFAULT_SERVER_PREFIX,
        DISCOVERY_SERVER_PORT,
        DS_ROLES,
        ROLES,
    )

    dds = sub.add_parser(
        "dds-profile", formatter_class=FORMATTER,
        help="Fast DDS profiles for the vehicle <-> remote link without multicast (initial "
        "peers, discovery server, DDS Security)",
        description="Write Fast DDS XML profiles for the vehicle <-> remote link (no multicast; "
        "see docs/dds_remote_link.md). Use the file with RMW_IMPLEMENTATION=rmw_fastrtps_cpp "
        "FASTRTPS_DEFAULT_PROFILES_FILE=FILE.",
        epilog="examples:\n"
        "  edge-llm-ros dds-profile initial-peers --peer 10.8.0.2 -o vehicle.xml\n"
        "  edge-llm-ros dds-profile discovery-server-client --server 10.8.0.2 -o client.xml\n"
        "  edge-llm-ros dds-profile check-security")
    kinds = dds.add_subparsers(dest="kind", required=True, metavar="KIND")

    p = add_verb(kinds, "initial-peers", help="SIMPLE discovery by unicast to known peers",
                 description="SIMPLE discovery without multicast: each participant announces "
                 "itself by unicast to the other host (and to this host).",
                 examples=["edge-llm-ros dds-profile initial-peers --role vehicle --peer "
                           "10.8.0.2 -o vehicle.xml"])
    p.add_argument("--peer", action="append", required=True, metavar="IP[:PORT]",
                   help="the other host's address (repeat for more)")
    p.add_argument("--role", choices=ROLES, default="vehicle", help="this host (default vehicle)")
    p.add_argument("--local-ip", help="listen for discovery on this address only")
    p.add_argument("--no-localhost", action="store_true",
                   help="do not add this host as a peer (its own nodes then never meet)")
    p.add_argument("--max-initial-peers-range", type=int,
                   default=DEFAULT_MAX_INITIAL_PEERS_RANGE,
                   help="participants per host to probe (default %(default)s)")
    _output(p)
    p.set_defaults(func=cmd_dds_profile)
    for role in DS_ROLES:
        server = role == "server"
        p = add_verb(kinds, f"discovery-server-{role}",
                     help="the remote host's discovery SERVER" if server
                     else "a discovery CLIENT (vehicle, and other remote processes)",
                     description="Fast DDS Discovery Server: one participant on the remote "
                     "host is the SERVER, everything else a CLIENT.",
                     examples=[f"edge-llm-ros dds-profile discovery-server-{role} "
                               f"{'--listen' if server else '--server'} 10.8.0.2 -o {role}.xml"])
        p.add_argument("--peer", "--server", "--listen", dest="peer", metavar="IP[:PORT]",
                       required=not server, default="0.0.0.0" if server else None,
                       help=("address to listen on (default 0.0.0.0, every interface)"
                             if server else "the server's address"))
        p.add_argument("--port", type=int, default=DISCOVERY_SERVER_PORT,
                       help="the server's UDP port (default %(default)s)")
        p.add_argument("--prefix", default=DEFAULT_SERVER_PREFIX,
                       help="the server's GUID prefix (default: server id 0)")
        _output(p)
        p.set_defaults(func=cmd_dds_profile)

    p = add_verb(kinds, "secure", help="DDS Security (needs Fast DDS built with security)",
                 description="The DDS Security plugins (PKI-DH, Access-Permissions, "
                 "AES-GCM-GMAC) with the files made by scripts/dds_security_keys.sh.",
                 examples=["edge-llm-ros dds-profile secure --role vehicle --enclave "
                           "keys/enclaves/vehicle --peer 10.8.0.2 -o secure.xml"])
    p.add_argument("--enclave", required=True, type=Path,
                   help="this host's folder from scripts/dds_security_keys.sh "
                   "(OUT/enclaves/vehicle or OUT/enclaves/remote)")
    p.add_argument("--peer", action="append", default=[], metavar="IP[:PORT]",
                   help="initial peers as for initial-peers (default: multicast discovery)")
    p.add_argument("--role", choices=ROLES, default="vehicle")
    p.add_argument("--local-ip")
    p.add_argument("--no-localhost", action="store_true")
    _output(p)
    p.set_defaults(func=cmd_dds_profile)

    p = add_verb(kinds, "check-security",
                 help="say whether this environment's Fast DDS has the security plugins "
                 "(exit 0 yes, 1 no)",
                 description="Find the Fast DDS library this environment loads and say whether "
                 "it has the DDS Security plugins; exit 0 yes, 1 no.",
                 examples=["edge-llm-ros dds-profile check-security"])
    p.set_defaults(func=cmd_check_security)
