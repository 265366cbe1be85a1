"""procnet.parse_unix on captured /proc/PID/net/unix tables."""

import pytest

from gdb_sockets.model import Socket, UnixAddress, UnixPeer
from gdb_sockets.kernel.procnet import parse_unix

from sampledata import SOCKETS, UNIX_DIR, inode, sample


def _path(case: str, role: str = "sock"):
    return parse_unix(sample(case))[inode(case, role)].local.path


def test_header_only_table_has_no_rows():
    assert parse_unix(sample("unix_header_only")) == {}


def test_path_with_spaces_kept_whole_with_trailing_space():
    assert _path("unix_path_spaces") == UNIX_DIR + "/my app  .sock "


def test_path_with_newline_joined_across_lines():
    assert _path("unix_path_newline") == UNIX_DIR + "/line1\nline2.sock"


def test_row_after_a_newline_path_is_its_own_row():
    assert _path("unix_path_newline", "other") == UNIX_DIR + "/after.sock"


def test_newline_table_has_exactly_the_two_sockets():
    rows = parse_unix(sample("unix_path_newline"))
    assert sorted(rows) == sorted([inode("unix_path_newline", "sock"),
                                   inode("unix_path_newline", "other")])


def test_path_starting_with_newline():
    assert _path("unix_path_leading_newline") == "\nlead.sock"


def test_path_with_invalid_utf8_round_trips_to_the_bound_bytes():
    bound = SOCKETS["unix_path_invalid_utf8"]["path_latin1"].encode("latin-1")
    path = _path("unix_path_invalid_utf8")
    assert path == bound.decode("utf-8", "surrogateescape")
    assert path.encode("utf-8", "surrogateescape") == UNIX_DIR.encode() + b"/bad\xff\xfe.sock"


def test_abstract_name_with_inner_nul():
    assert _path("unix_abstract", "inner_nul") == "@gdb_sockets@sample"


def test_abstract_name_with_trailing_nul():
    assert _path("unix_abstract", "trailing_nul") == "@gdb_sockets-trailing@"


def test_listener_row():
    rows = parse_unix(sample("unix_listener"))
    listener = inode("unix_listener", "listener")
    assert rows == {listener: Socket(
        fd=-1, inode=listener, proto="unix", state="LISTEN",
        local=UnixAddress(UNIX_DIR + "/listen.sock"),
        peer=UnixPeer(None, None, known=False), type="stream")}


def test_bound_dgram_row():
    rows = parse_unix(sample("unix_path_spaces"))
    sock = rows[inode("unix_path_spaces", "sock")]
    assert (sock.state, sock.type, sock.recv_q, sock.send_q, sock.peer) == (
        "UNCONN", "dgram", None, None, UnixPeer(None, None, known=False))


def _types():
    rows = parse_unix(sample("unix_types"))
    return {ino: (row.type, row.state, row.local) for ino, row in rows.items()}


def test_socketpair_stream_rows():
    a, b = SOCKETS["unix_types"]["stream"]
    types = _types()
    assert (types[a], types[b]) == (("stream", "ESTAB", UnixAddress(None)),) * 2


def test_socketpair_dgram_rows():
    a, b = SOCKETS["unix_types"]["dgram"]
    types = _types()
    assert (types[a], types[b]) == (("dgram", "ESTAB", UnixAddress(None)),) * 2


def test_socketpair_seqpacket_rows():
    a, b = SOCKETS["unix_types"]["seqpacket"]
    types = _types()
    assert (types[a], types[b]) == (("seqpacket", "ESTAB", UnixAddress(None)),) * 2


def test_unbound_dgram_row():
    assert _types()[SOCKETS["unix_types"]["lone_dgram"]] == ("dgram", "UNCONN", UnixAddress(None))


def test_types_table_has_all_seven_sockets():
    assert len(parse_unix(sample("unix_types"))) == 7


def test_wanted_inodes_drop_other_rows_and_their_continuation():
    other = inode("unix_path_newline", "other")
    rows = parse_unix(sample("unix_path_newline"), wanted={other})
    assert {ino: row.local.path for ino, row in rows.items()} == {
        other: UNIX_DIR + "/after.sock"}


def test_wanted_row_keeps_its_continuation():
    sock = inode("unix_path_newline", "sock")
    rows = parse_unix(sample("unix_path_newline"), wanted={sock})
    assert {ino: row.local.path for ino, row in rows.items()} == {
        sock: UNIX_DIR + "/line1\nline2.sock"}
