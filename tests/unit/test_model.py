"""model: protocol names, state names, records."""

import pytest

from gdb_sockets.model import (InetEndpoint, Socket, UnixAddress, UnixPeer,
                               normalize_state, proto_from_kernel_name, state_name)


@pytest.mark.parametrize("kernel_name, proto", [
    ("TCP", "tcp"), ("TCPv6", "tcp6"), ("UDP", "udp"), ("UDPv6", "udp6"),
    ("UDP-Lite", "udplite"), ("UDPLITEv6", "udplite6"), ("RAW", "raw"),
    ("RAWv6", "raw6"), ("PING", "ping"), ("PINGv6", "ping6"), ("UNIX", "unix"),
    ("UNIX-STREAM", "unix"), ("PACKET", "packet"), ("NETLINK", "netlink"),
])
def test_proto_from_kernel_name(kernel_name, proto):
    assert proto_from_kernel_name(kernel_name) == proto


def test_proto_from_kernel_name_other_protocol_in_lower_case():
    assert proto_from_kernel_name("AF_VSOCK") == "af_vsock"


@pytest.mark.parametrize("code, name", [
    (1, "ESTAB"), (2, "SYN-SENT"), (3, "SYN-RECV"), (4, "FIN-WAIT-1"), (5, "FIN-WAIT-2"),
    (6, "TIME-WAIT"), (7, "UNCONN"), (8, "CLOSE-WAIT"), (9, "LAST-ACK"), (10, "LISTEN"),
    (11, "CLOSING"), (12, "SYN-RECV"),
])
def test_state_name_uses_ss_words(code, name):
    assert state_name(code) == name


def test_state_name_unknown_code_shows_the_number():
    assert state_name(15) == "UNKNOWN(15)"


def test_normalize_state_any_case_and_underscore():
    assert normalize_state(" close_Wait ") == "CLOSE-WAIT"


def test_inet_endpoint_unspecified():
    assert [InetEndpoint(a, 1).unspecified for a in ("0.0.0.0", "::", "::1", "127.0.0.1")] == [
        True, True, False, False]


def test_socket_to_json_of_tableless_socket():
    sock = Socket(fd=8, inode=10005, proto="tcp", state="UNCONN", in_table=False)
    assert sock.to_json() == {
        "fd": 8, "inode": 10005, "proto": "tcp", "state": "UNCONN", "recv_q": None,
        "send_q": None, "local": None, "peer": None, "in_table": False, "uid": None,
        "last_recv_ms": None, "last_send_ms": None, "last_ack_ms": None,
        "waiters": [], "also_fds": []}


def test_socket_to_json_unix_has_type_and_peer_object():
    sock = Socket(fd=7, inode=2, proto="unix", state="ESTAB", recv_q=0, send_q=0,
                  local=UnixAddress("@x"), peer=UnixPeer(3, None), type="seqpacket")
    out = sock.to_json()
    assert (out["type"], out["local"], out["peer"]) == (
        "seqpacket", {"path": "@x"}, {"inode": 3, "path": None, "known": True})
