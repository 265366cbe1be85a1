"""render's fast paths write what the straightforward code writes, byte for byte.

The table is made column by column and the JSON from a template; the
oracles here are the plain versions: json.dumps(indent=2) of every
record's to_json(), and a table made row by row with one format string.
"""

import json

import pytest

from gdb_sockets.kernel.procnet import parse_inet, parse_unix
from gdb_sockets.model import (Holder, InetEndpoint, NetlinkAddress, PacketAddress, Silence,
                               Socket,
                               UnixAddress, UnixPeer, Waiter)
from gdb_sockets.view import render
from gdb_sockets.view.render import format_json, format_table

from sampledata import sample


def _records():
    rows = []
    for name, table in (("tcp_listen_estab", "tcp"), ("tcp_close_wait", "tcp"),
                        ("tcp_state_0F_unknown", "tcp"), ("tcp6_dualstack", "tcp6"),
                        ("tcp6_loopback", "tcp6"), ("udp_states", "udp")):
        rows.extend(parse_inet(sample(name), table).values())
    for name in ("unix_abstract", "unix_path_invalid_utf8", "unix_path_newline",
                 "unix_path_spaces", "unix_types", "unix_listener"):
        rows.extend(parse_unix(sample(name)).values())
    made = [
        Socket(fd=3, inode=10001, proto="tcp", state="LISTEN", recv_q=1, send_q=4096,
               local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0), uid=0),
        Socket(fd=10, inode=10004, proto="tcp6", state="CLOSE-WAIT", recv_q=5, send_q=0,
               local=InetEndpoint("::1", 50112), peer=InetEndpoint("::ffff:10.0.0.1", 8080)),
        Socket(fd=11, inode=2 ** 40, proto="udp", state="UNCONN", recv_q=None, send_q=None,
               local=InetEndpoint("::", 0), peer=InetEndpoint("::", 0), uid=None),
        Socket(fd=7, inode=10002, proto="unix", state="ESTAB", recv_q=0, send_q=0,
               local=UnixAddress("/tmp/a\x1bb \udcff\u00e9\U0001f600"),
               peer=UnixPeer(10003, "@peer\n"), type="stream"),
        Socket(fd=12, inode=10006, proto="unix", state="UNCONN", local=UnixAddress(None),
               peer=UnixPeer(None, None, known=False), type="dgram"),
        Socket(fd=8, inode=10005, proto="udp", state="UNCONN", in_table=False),
        Socket(fd=9, inode=10007, proto="packet", state="UNCONN",
               local=PacketAddress(0x0800, 1, "lo\t")),
        Socket(fd=13, inode=10008, proto="netlink", state="UNCONN",
               local=NetlinkAddress(0, 4242)),
        Socket(fd=14, inode=10009, proto="sctp", state="?", in_table=False),
        Socket(fd=15, inode=10001, proto="tcp", state="LISTEN", recv_q=1, send_q=4096,
               local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0),
               waiters=(Waiter(42, "accept"), Waiter(43, "epoll_wait", "fd 7 for read")),
               also_fds=(3,)),
        Socket(fd=16, inode=10010, proto="tcp", state="ESTAB", recv_q=0, send_q=0,
               local=InetEndpoint("10.1.2.3", 1), peer=InetEndpoint("10.1.2.4", 65535),
               holders=(Holder(1, "x\x1b", 4),)),
        Socket(fd=17, inode=10011, proto="tcp", state="ESTAB", recv_q=0, send_q=0,
               local=InetEndpoint("10.1.2.3", 2), peer=InetEndpoint("10.1.2.4", 3),
               holders=(), extended=True,
               details={"memory": {"rmem_alloc": 0}, "tcp": {"rtt_ms": 1.5}}),
        Socket(fd=18, inode=10012, proto="tcp", state="ESTAB", extended=True, details=None),
        Socket(fd=19, inode=10001, proto="tcp", state="LISTEN", recv_q=1, send_q=4096,
               local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0),
               also_fds=(3, 15)),
        # silence figures from an exact lookup, on a row the template writes
        Socket(fd=20, inode=10013, proto="tcp6", state="ESTAB", recv_q=0, send_q=0,
               local=InetEndpoint("::1", 5), peer=InetEndpoint("::1", 6),
               silence=Silence(1, 28920000, 1500, 0)),
    ]
    return rows + made


RECORDS = _records()


def _plain_table(sockets, notes=None):
    """The table made row by row (the code the column-wise one replaced)."""
    header = render.HEADER
    rows = render.table_rows(sockets)
    if notes is not None and any(notes):
        header = header + ("Notes",)
        rows = [row + (note,) for row, note in zip(rows, notes)]
    rows = [header] + rows
    widths = [max(map(len, column)) for column in zip(*rows)]
    line_format = "  ".join("%%-%ds" % w for w in widths[:-1]) + "  %s"
    return "\n".join((line_format % tuple(row)).rstrip() for row in rows)


def test_the_json_template_is_in_use():
    # Socket.to_json and the template write the same keys: if a field is
    # added to the record, update render._ELEMENT (the fast path is off).
    assert render._TEMPLATE_MATCHES is True


@pytest.mark.parametrize("index", range(len(RECORDS)))
def test_json_of_each_record_is_json_dumps(index):
    sock = RECORDS[index]
    assert format_json([sock]) == json.dumps([sock.to_json()], indent=2, ensure_ascii=True)


def test_json_of_all_records_is_json_dumps():
    assert format_json(RECORDS) == json.dumps([s.to_json() for s in RECORDS], indent=2,
                                              ensure_ascii=True)


def test_json_of_nothing_is_json_dumps():
    assert format_json([]) == json.dumps([], indent=2)


def test_table_is_the_row_by_row_table():
    assert format_table(RECORDS) == _plain_table(RECORDS)


def test_table_with_notes_is_the_row_by_row_table():
    notes = ["LWP %d recvfrom" % s.fd if s.fd % 3 == 0 else "" for s in RECORDS]
    assert format_table(RECORDS, notes=notes) == _plain_table(RECORDS, notes)


def test_table_with_empty_notes_has_no_notes_column():
    assert format_table(RECORDS, notes=[""] * len(RECORDS)) == _plain_table(RECORDS)


def test_table_of_nothing_is_the_header():
    assert format_table([]) == _plain_table([])


def test_coloured_table_pads_on_the_plain_text():
    def colorize(kind, text):
        return "<%s>%s</>" % (kind, text)
    lines = format_table(RECORDS, colorize).split("\n")
    plain = _plain_table(RECORDS).split("\n")
    # Taking the markers out gives the plain table back.
    import re
    assert [re.sub(r"<[^>]*>", "", line) for line in lines] == plain
    assert "<state:trouble>CLOSE-WAIT</>" in lines[[s.fd for s in RECORDS].index(10) + 1]
