"""UNIX names as /proc/net/unix prints them, and a real sock_diag query of peers."""

import os
import socket
import struct

from gdb_sockets.kernel.procnet import unix_name_to_path as name_to_path
from gdb_sockets.kernel.sockdiag import (UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN,
                                         UnixRecord, parse_unix)
from gdb_sockets.listing.tables import unix_query as query


def test_name_to_path_abstract_with_nuls():
    assert name_to_path(b"\0gdb_sockets\0sample") == "@gdb_sockets@sample"


def test_name_to_path_filesystem_path_stops_at_nul():
    assert name_to_path(b"/run/app.sock\0\0") == "/run/app.sock"


def test_name_to_path_invalid_utf8_survives():
    assert name_to_path(b"/tmp/bad\xff").encode("utf-8", "surrogateescape") == b"/tmp/bad\xff"


def test_name_to_path_no_name():
    assert (name_to_path(None), name_to_path(b"")) == (None, None)


def _attr(kind, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((-length) % 4)


def test_parse_unix_reads_name_peer_and_queues():
    payload = (struct.pack("=BBBBIII", socket.AF_UNIX, socket.SOCK_STREAM, 1, 0, 555, 0, 0)
               + _attr(UNIX_DIAG_NAME, b"\0ab")
               + _attr(UNIX_DIAG_PEER, struct.pack("=I", 556))
               + _attr(UNIX_DIAG_RQLEN, struct.pack("=II", 7, 9)))
    message = struct.pack("=IHHII", 16 + len(payload), 20, 0, 1, 0) + payload
    assert parse_unix(message, 0, len(message)) == UnixRecord(
        inode=555, type=socket.SOCK_STREAM, state=1, name=b"\0ab", peer=556, rqueue=7, wqueue=9)


def test_query_of_a_real_socketpair_gives_each_peer():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        a.send(b"xyz")  # queued on b
        ino_a, ino_b = os.fstat(a.fileno()).st_ino, os.fstat(b.fileno()).st_ino
        found = query(os.getpid(), [ino_a])
    assert (found[ino_a].peer, found[ino_b].peer, found[ino_b].rqueue, found[ino_a].state) == (
        ino_b, ino_a, 3, 1)
