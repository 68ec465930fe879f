"""`dds-profile KIND ...`: the only command line of tools.dds_profiles. Profiles it writes
are read back with profile_summary; Fast DDS loading them is tested in
test/tools/test_dds_profiles.py."""

from __future__ import annotations

from pathlib import Path

from edge_llm_ros.tools.dds_profiles import (
    DEFAULT_SERVER_PREFIX,
    profile_summary,
    render_initial_peers_profile,
    security_support_reason,
)


def test_profiles_to_files_and_stdout(cli, tmp_path: Path) -> None:
    out = tmp_path / "v.xml"
    code, printed, _ = cli("dds-profile", "initial-peers", "--peer", "10.9.8.7", "--peer",
                           "10.9.8.6", "-o", str(out))
    assert code == 0 and printed == f"{out}\n"
    assert profile_summary(out).initial_peers == ["10.9.8.7", "10.9.8.6", "127.0.0.1"]
    assert out.read_text() == render_initial_peers_profile(["10.9.8.7", "10.9.8.6"])
    code, _, _ = cli("dds-profile", "discovery-server-server", "--listen", "10.9.8.7",
                     "--port", "11900", "-o", str(tmp_path / "s.xml"))
    assert code == 0
    assert profile_summary(tmp_path / "s.xml").metatraffic_unicast == ["10.9.8.7:11900"]
    code, printed, _ = cli("dds-profile", "discovery-server-client", "--server", "10.9.8.7")
    assert code == 0
    assert profile_summary(printed[printed.index("<?xml"):]).servers == \
        [(DEFAULT_SERVER_PREFIX, ["10.9.8.7:11811"])]


def test_bad_addresses_exit_2_with_one_line(cli) -> None:
    code, out, err = cli("dds-profile", "initial-peers", "--peer", "10.0.0.300")
    assert (code, out) == (2, "")
    assert err == "error: peer '10.0.0.300' is neither an IPv4 address nor a host name\n"
    code, out, err = cli("dds-profile", "discovery-server-client")  # the server is required
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith(
        "edge-llm-ros dds-profile discovery-server-client: error: the following arguments "
        "are required: --peer/--server/--listen")


def test_secure_warns_about_a_missing_enclave(cli, tmp_path: Path) -> None:
    code, out, err = cli("dds-profile", "secure", "--enclave", str(tmp_path / "enclave"),
                         "--peer", "10.0.0.2")
    assert code == 0
    assert profile_summary(out[out.index("<?xml"):]).initial_peers[0] == "10.0.0.2"
    assert f"warning: {tmp_path / 'enclave'}/cert.pem does not exist (yet)" in err


def test_check_security_says_what_it_found(cli) -> None:
    code, out, _ = cli("dds-profile", "check-security")
    reason = security_support_reason()
    assert code == (0 if reason is None else 1)
    library, verdict = out.splitlines()
    assert library.startswith("Fast DDS library: ")
    assert verdict == ("DDS Security plugins: present" if reason is None else f"no: {reason}")
