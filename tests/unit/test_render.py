"""render: escaping, endpoint text, the table and the JSON."""

import json

import pytest

from gdb_sockets.model import (InetEndpoint, NetlinkAddress, PacketAddress, Socket,
                               UnixAddress, UnixPeer)
from gdb_sockets.kernel.procnet import decode_path, parse_inet, parse_unix
from gdb_sockets.view.render import escape, format_endpoint, format_inet, format_json, format_table

from sampledata import inode, sample


# --- escape -----------------------------------------------------------------

def test_escape_esc_sequence():
    assert escape("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"


def test_escape_newline_tab_carriage_return():
    assert escape("a\nb\tc\rd") == "a\\nb\\tc\\rd"


def test_escape_backslash_is_doubled():
    assert escape("a\\nb") == "a\\\\nb"


def test_escape_nul_and_del():
    assert escape("\x00\x7f") == "\\x00\\x7f"


def test_escape_bytes_that_are_not_utf8():
    assert escape(decode_path(b"/tmp/bad\xff\xfe.sock")) == "/tmp/bad\\xff\\xfe.sock"


def test_escape_keeps_printable_unicode_and_spaces():
    assert escape("/run/café app ☕.sock") == "/run/café app ☕.sock"


def test_escape_line_separator():
    assert escape("a\u2028b") == "a\\u2028b"


def test_escape_distinct_inputs_stay_distinct():
    inputs = ["\n", "\\n", "\x1b", "\\x1b", "\udcff", "\\xff", "\xff", "\\\\", "\\"]
    assert len({escape(text) for text in inputs}) == len(inputs)


def test_escape_c1_control_differs_from_invalid_byte():
    assert escape(decode_path(b"\xc2\x85")) != escape(decode_path(b"\x85"))


def test_escape_astral_character_differs_from_bmp_plus_digit():
    assert escape("\U000e0001") != escape("\ue000" + "1")


# --- format_inet / format_endpoint ------------------------------------------

def test_format_inet_ipv4():
    assert format_inet(InetEndpoint("127.0.0.1", 8080)) == "127.0.0.1:8080"


def test_format_inet_ipv6_in_brackets():
    assert format_inet(InetEndpoint("::1", 50112)) == "[::1]:50112"


def test_format_inet_mapped_address_from_sample_as_ss_prints_it():
    rows = parse_inet(sample("tcp6_dualstack"), "tcp6")
    server = rows[inode("tcp6_dualstack", "server")]
    # ss -n showed: [::ffff:127.0.0.1]:8081  [::ffff:127.0.0.1]:40001
    assert (format_inet(server.local), format_inet(server.peer)) == (
        "[::ffff:127.0.0.1]:8081", "[::ffff:127.0.0.1]:40001")


def test_format_inet_unspecified_ipv4_and_port_0():
    assert format_inet(InetEndpoint("0.0.0.0", 0)) == "*:*"


def test_format_inet_unspecified_ipv6_with_port():
    assert format_inet(InetEndpoint("::", 8081)) == "*:8081"


def test_format_inet_port_0_on_a_real_address():
    assert format_inet(InetEndpoint("127.0.0.2", 0)) == "127.0.0.2:*"


def test_format_unix_path_is_escaped():
    assert format_endpoint(UnixAddress("/tmp/line1\nline2.sock")) == "/tmp/line1\\nline2.sock"


def test_format_unix_without_name():
    assert format_endpoint(UnixAddress(None)) == "*"


def test_format_unix_peer_not_known():
    assert format_endpoint(UnixPeer(None, None, known=False)) == "?"


def test_format_unix_peer_known_with_path():
    assert format_endpoint(UnixPeer(9583, "/run/app.sock")) == "/run/app.sock (peer 9583)"


def test_format_unix_peer_known_none():
    assert format_endpoint(UnixPeer(None, None, known=True)) == "*"


def test_format_packet_all_protocols_all_interfaces():
    assert format_endpoint(PacketAddress(0x0003, 0, None)) == "*:*"


def test_format_packet_bound_as_ss_prints_it():
    assert format_endpoint(PacketAddress(0x0800, 1, "lo")) == "[2048]:lo"


def test_format_packet_interface_without_name():
    assert format_endpoint(PacketAddress(0x0800, 7, None)) == "[2048]:if7"


def test_format_netlink():
    assert format_endpoint(NetlinkAddress(0, 4242)) == "0:4242"


def test_format_unknown_endpoint():
    assert format_endpoint(None) == "-"


# --- format_table -----------------------------------------------------------

_LISTENER = Socket(fd=3, inode=10001, proto="tcp", state="LISTEN", recv_q=1, send_q=None,
                   local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0))
_CLOSE_WAIT = Socket(fd=10, inode=10004, proto="tcp6", state="CLOSE-WAIT", recv_q=5, send_q=0,
                     local=InetEndpoint("::1", 50112), peer=InetEndpoint("::1", 8080))
_UNIX = Socket(fd=7, inode=10002, proto="unix", state="ESTAB", recv_q=0, send_q=0,
               local=UnixAddress("/tmp/a\x1bb"), peer=UnixPeer(10003, "@peer"), type="stream")
_TABLELESS = Socket(fd=8, inode=10005, proto="udp", state="UNCONN", in_table=False)


def test_format_table_aligns_columns_under_the_header():
    assert format_table([_LISTENER, _CLOSE_WAIT]).split("\n") == [
        "FD  Proto  State       Recv-Q  Send-Q  Local           Peer        Inode",
        "3   tcp    LISTEN      1       -       127.0.0.1:8080  *:*         10001",
        "10  tcp6   CLOSE-WAIT  5       0       [::1]:50112     [::1]:8080  10004",
    ]


def test_format_table_unix_row_escaped_with_peer():
    assert format_table([_UNIX]).split("\n")[1] == (
        "7   u_str  ESTAB  0       0       /tmp/a\\x1bb  @peer (peer 10003)  10002")


def test_unix_types_are_named_as_ss_names_them():
    # Issue 13 item 14: ss's Netid column; a socket of unknown type stays "unix".
    from dataclasses import replace
    from gdb_sockets.view.render import proto_cell
    assert [proto_cell(replace(_UNIX, type=t)) for t in ("stream", "dgram", "seqpacket", None)] == [
        "u_str", "u_dgr", "u_seq", "unix"]


def test_format_table_tableless_row_shows_dashes():
    assert format_table([_TABLELESS]).split("\n")[1] == (
        "8   udp    UNCONN  -       -       -      -     10005")


def test_format_table_with_no_socket_is_the_header():
    assert format_table([]) == "FD  Proto  State  Recv-Q  Send-Q  Local  Peer  Inode"


# --- format_json ------------------------------------------------------------

def test_format_json_inet_object():
    [obj] = json.loads(format_json([_LISTENER]))
    assert {k: obj[k] for k in ("fd", "inode", "proto", "state", "recv_q", "send_q",
                                "local", "peer")} == {
        "fd": 3, "inode": 10001, "proto": "tcp", "state": "LISTEN",
        "recv_q": 1, "send_q": None,
        "local": {"address": "127.0.0.1", "port": 8080},
        "peer": {"address": "0.0.0.0", "port": 0},
    }


def test_format_json_unix_object():
    [obj] = json.loads(format_json([_UNIX]))
    assert (obj["type"], obj["local"], obj["peer"]["inode"], obj["peer"]["path"]) == (
        "stream", {"path": "/tmp/a\x1bb"}, 10003, "@peer")


def test_format_json_escapes_control_characters():
    text = format_json([_UNIX])
    assert ("\x1b" in text, "/tmp/a\\u001bb" in text) == (False, True)


def test_format_json_abstract_and_invalid_utf8_paths_from_samples():
    abstract = parse_unix(sample("unix_abstract"))[inode("unix_abstract", "inner_nul")]
    bad = parse_unix(sample("unix_path_invalid_utf8"))[inode("unix_path_invalid_utf8", "sock")]
    objs = json.loads(format_json([abstract, bad]))
    assert objs[0]["local"] == {"path": "@gdb_sockets@sample"}
    assert objs[1]["local"]["path"].encode("utf-8", "surrogateescape") == (
        b"/tmp/gdb_sockets_samples/bad\xff\xfe.sock")


def test_format_json_of_nothing_is_an_empty_array():
    assert json.loads(format_json([])) == []
