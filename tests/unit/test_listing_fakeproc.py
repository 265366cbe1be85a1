"""listing.list_sockets on a fake /proc built in tmp_path from the samples."""

import os
import re

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.view.filters import SocketFilter
from gdb_sockets.listing.join import list_sockets
from gdb_sockets.model import (InetEndpoint, NetlinkAddress, PacketAddress, Socket,
                               UnixAddress, UnixPeer)
from gdb_sockets.kernel.procfs import LocalProc
from gdb_sockets.kernel.netns import DiagUnavailable
from gdb_sockets.kernel.sockdiag import UnixRecord

from sampledata import SOCKETS, UNIX_DIR, sample

PID = 4242
ALL_TABLES = ["tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6",
              "icmp", "icmp6", "unix", "packet", "igmp", "if_inet6", "dev_mcast", "netlink"]

# fd -> link target; socket inodes 1000x are rewritten into the tables below.
FDS = {
    3: "socket:[10001]",           # tcp listener 127.0.0.1:8080
    4: "pipe:[77]",
    5: "anon_inode:[eventpoll]",
    6: "/dev/null",
    7: "socket:[10002]",           # unix listener
    8: "socket:[10003]",           # in no table
    9: "socket:[10005]",           # udp connected
    10: "socket:[10004]",          # tcp6 client [::1]:50112
    11: "socket:[10006]",          # packet bound to lo
    12: "socket:[10007]",          # netlink route, port id 4242
    13: "anon_inode:[pidfd]",
}

# table file -> (sample, {captured inode: fake inode})
TABLES = {
    "tcp": ("tcp_listen_estab", {SOCKETS["tcp_listen_estab"]["listener"]: 10001}),
    "unix": ("unix_listener", {SOCKETS["unix_listener"]["listener"]: 10002}),
    "tcp6": ("tcp6_loopback", {SOCKETS["tcp6_loopback"]["client"]: 10004}),
    "udp": ("udp_states", {SOCKETS["udp_states"]["connected"]: 10005}),
    "packet": ("packet", {SOCKETS["packet"]["ip_on_lo"]: 10006}),
    "netlink": ("netlink", {SOCKETS["netlink"]["route"]: 10007}),
    "igmp": ("ifnames_igmp", {}),
    "if_inet6": ("ifnames_if_inet6", {}),
    "dev_mcast": ("ifnames_dev_mcast", {}),
}

EXPECTED = [
    Socket(fd=3, inode=10001, proto="tcp", state="LISTEN", recv_q=1, send_q=None,
           local=InetEndpoint("127.0.0.1", 8080), peer=InetEndpoint("0.0.0.0", 0), uid=0),
    Socket(fd=7, inode=10002, proto="unix", state="LISTEN",
           local=UnixAddress(UNIX_DIR + "/listen.sock"),
           peer=UnixPeer(None, None, known=False), type="stream"),
    Socket(fd=8, inode=10003, proto="unknown", state="?", in_table=False),
    Socket(fd=9, inode=10005, proto="udp", state="ESTAB", recv_q=0, send_q=0,
           local=InetEndpoint("127.0.0.1", 5354), peer=InetEndpoint("127.0.0.1", 5353), uid=0),
    Socket(fd=10, inode=10004, proto="tcp6", state="ESTAB", recv_q=0, send_q=0,
           local=InetEndpoint("::1", 50112), peer=InetEndpoint("::1", 8080), uid=0),
    Socket(fd=11, inode=10006, proto="packet", state="UNCONN", recv_q=0, send_q=None,
           local=PacketAddress(0x0800, 1, "lo"), type="dgram", uid=0),
    Socket(fd=12, inode=10007, proto="netlink", state="UNCONN", recv_q=0, send_q=0,
           local=NetlinkAddress(0, 4242)),
]


def _reinode(text: bytes, old: int, new: int) -> bytes:
    # Same width as the kernel printed (5 digits), so the row format is kept.
    assert len(str(old)) == len(str(new))
    text, count = re.subn(rb"(?<= )%d(?=[ \n])" % old, b"%d" % new, text)
    assert count == 1
    return text


def build_proc(root, fds=FDS, tables=TABLES, pid=PID):
    """proc/<pid>/fd/<n> symlinks and proc/<pid>/net/<table> files under root."""
    fd_dir = os.path.join(root, "proc", str(pid), "fd")
    net_dir = os.path.join(root, "proc", str(pid), "net")
    os.makedirs(fd_dir)
    os.makedirs(net_dir)
    for fd, target in fds.items():
        os.symlink(target, os.path.join(fd_dir, str(fd)))
    for table, (name, inodes) in tables.items():
        text = sample(name)
        for old, new in inodes.items():
            text = _reinode(text, old, new)
        with open(os.path.join(net_dir, table), "wb") as f:
            f.write(text)
    return str(root)


class RecordingProc(LocalProc):
    """LocalProc that records the files read, and optionally names protocols.

    ``names`` (fd -> kernel protocol name) stands in for the
    system.sockprotoname attribute, which a fake symlink does not have.
    """

    def __init__(self, root, names=None):
        super().__init__(root)
        self.reads = []
        self.names = names

    def read(self, path):
        self.reads.append(path)
        return super().read(path)

    def getxattr(self, path, name):
        if self.names is None:
            return super().getxattr(path, name)
        return self.names.get(int(path.rsplit("/", 1)[1]))


def _tables_read(reader):
    prefix = "/proc/%d/net/" % PID
    assert all(path.startswith(prefix) for path in reader.reads)
    return [path[len(prefix):] for path in reader.reads]


def test_lists_exactly_the_socket_fds_sorted_by_fd(tmp_path):
    listing = list_sockets(LocalProc(root=build_proc(tmp_path)), PID, unix_diag=None)
    assert [s.fd for s in listing.sockets] == [3, 7, 8, 9, 10, 11, 12]


def test_joins_each_fd_with_its_table_row(tmp_path):
    listing = list_sockets(LocalProc(root=build_proc(tmp_path)), PID, unix_diag=None)
    assert listing.sockets == EXPECTED


def test_listing_pid(tmp_path):
    assert list_sockets(LocalProc(root=build_proc(tmp_path)), PID).pid == PID


def test_root_with_trailing_slash(tmp_path):
    root = build_proc(tmp_path) + "/"
    assert list_sockets(LocalProc(root=root), PID).sockets == EXPECTED


def test_socket_in_no_table_without_protocol_name_is_unknown(tmp_path):
    listing = list_sockets(LocalProc(root=build_proc(tmp_path)), PID, unix_diag=None)
    [sock] = [s for s in listing.sockets if s.fd == 8]
    # Nothing says what state a socket of unknown protocol is in.
    assert (sock.proto, sock.state, sock.in_table, sock.local, sock.recv_q) == (
        "unknown", "?", False, None, None)


def test_every_table_is_read_when_the_kernel_names_no_protocol(tmp_path):
    reader = RecordingProc(build_proc(tmp_path))
    list_sockets(reader, PID, unix_diag=None)
    assert _tables_read(reader) == ALL_TABLES


def test_note_says_unix_peers_are_unknown_without_sock_diag(tmp_path):
    listing = list_sockets(LocalProc(root=build_proc(tmp_path)), PID, unix_diag=None)
    assert listing.notes == ["UNIX peers and queues are not known for this target"]


def test_only_tables_of_named_protocols_are_read(tmp_path):
    names = {3: b"TCP\0", 7: b"UNIX-STREAM\0", 8: b"UDP\0", 9: b"UDP\0", 10: b"TCPv6\0",
             11: b"PACKET\0", 12: b"NETLINK\0"}
    reader = RecordingProc(build_proc(tmp_path), names)
    listing = list_sockets(reader, PID, unix_diag=None)
    assert _tables_read(reader) == ["tcp", "tcp6", "udp", "unix", "packet", "igmp",
                                    "if_inet6", "dev_mcast", "netlink"]
    assert listing.sockets == [
        Socket(fd=8, inode=10003, proto="udp", state="UNCONN", in_table=False)
        if s.fd == 8 else s for s in EXPECTED]


def test_tableless_unix_socket_has_unknown_state_and_no_name(tmp_path):
    reader = RecordingProc(build_proc(tmp_path, fds={8: "socket:[10003]"}), {8: b"UNIX\0"})
    assert list_sockets(reader, PID).sockets == [
        Socket(fd=8, inode=10003, proto="unix", state="?", local=UnixAddress(None),
               in_table=False)]


def test_missing_table_file_reads_as_empty(tmp_path):
    # Only tcp exists: the other tables are "not built into this kernel".
    root = build_proc(tmp_path, fds={3: "socket:[10001]", 8: "socket:[10003]"},
                      tables={"tcp": TABLES["tcp"]})
    assert [s.in_table for s in list_sockets(LocalProc(root=root), PID).sockets] == [
        True, False]


def test_process_without_sockets_reads_no_table(tmp_path):
    reader = RecordingProc(build_proc(tmp_path, fds={0: "/dev/pts/3", 4: "pipe:[77]"}))
    listing = list_sockets(reader, PID, unix_diag=None)
    assert (listing.sockets, listing.notes, reader.reads) == ([], [], [])


def test_exited_process_is_a_sockets_error(tmp_path):
    (tmp_path / "proc").mkdir()
    with pytest.raises(SocketsError) as info:
        list_sockets(LocalProc(root=str(tmp_path)), 999, unix_diag=None)
    assert str(info.value) == "process 999 has exited (/proc/999/fd is gone)"


def test_unix_diag_fills_state_queues_and_peer(tmp_path):
    pair = SOCKETS["unix_types"]["stream"]
    root = build_proc(tmp_path, fds={5: "socket:[10011]", 6: "socket:[10012]"},
                      tables={"unix": ("unix_types", {pair[0]: 10011, pair[1]: 10012})})
    calls = []

    def diag(pid, inodes):
        calls.append((pid, sorted(inodes)))
        return {10011: UnixRecord(inode=10011, type=1, state=1, name=None, peer=10012,
                                  rqueue=3, wqueue=0),
                10012: UnixRecord(inode=10012, type=1, state=1, name=b"\0peer\0name",
                                  peer=10011, rqueue=0, wqueue=0)}

    listing = list_sockets(LocalProc(root=root), PID, unix_diag=diag)
    assert calls == [(PID, [10011, 10012])]
    assert listing.notes == []
    assert listing.sockets[0] == Socket(
        fd=5, inode=10011, proto="unix", state="ESTAB", recv_q=3, send_q=0,
        local=UnixAddress(None), peer=UnixPeer(10012, "@peer@name"), type="stream")


def test_unix_diag_failure_is_a_note_and_rows_stay(tmp_path):
    root = build_proc(tmp_path, fds={7: "socket:[10002]"}, tables={"unix": TABLES["unix"]})

    def diag(pid, inodes):
        raise DiagUnavailable("cannot enter the network namespace of process 4242")

    listing = list_sockets(LocalProc(root=root), PID, unix_diag=diag)
    assert (listing.sockets, listing.notes) == ([EXPECTED[1]], [
        "UNIX peers and queues are not known: cannot enter the network namespace "
        "of process 4242"])


def test_filter_sockets_by_fd_proto_and_state():
    selection = SocketFilter(protos=frozenset({"tcp", "tcp6", "udp"}), states=frozenset({"ESTAB"}))
    assert [s.fd for s in selection.apply(EXPECTED)] == [9, 10]


def test_filter_sockets_by_fd():
    assert [s.fd for s in SocketFilter(fds=frozenset({3, 12, 99})).apply(EXPECTED)] == [3, 12]

