"""procfs: fd links, the kernel's protocol names of real sockets, table reads."""

import os
import socket

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.model import proto_from_kernel_name
from gdb_sockets.kernel.procfs import FdLink, LocalProc, read_fd_link, read_table, socket_protocol


@pytest.mark.parametrize("target, inode", [
    ("socket:[12345]", 12345), ("pipe:[77]", None), ("anon_inode:[eventpoll]", None),
    ("/tmp/socket:[1]", None), ("socket:[12345] (deleted)", None), ("socket:[]", None),
])
def test_fd_link_socket_inode(target, inode):
    assert FdLink(3, target).socket_inode == inode


@pytest.mark.parametrize("family, kind, proto, kernel_name, ours", [
    (socket.AF_INET, socket.SOCK_STREAM, 0, "TCP", "tcp"),
    (socket.AF_INET6, socket.SOCK_DGRAM, 0, "UDPv6", "udp6"),
    (socket.AF_UNIX, socket.SOCK_STREAM, 0, "UNIX-STREAM", "unix"),
    (socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, "UNIX", "unix"),
    (socket.AF_NETLINK, socket.SOCK_RAW, 0, "NETLINK", "netlink"),
])
def test_socket_protocol_of_a_real_socket(family, kind, proto, kernel_name, ours):
    # A fresh socket is in no table: the attribute is all the kernel says of it.
    with socket.socket(family, kind, proto) as sock:
        name = socket_protocol(LocalProc(), os.getpid(), sock.fileno())
    assert (name, proto_from_kernel_name(name)) == (kernel_name, ours)


def test_socket_protocol_of_a_pipe_is_none():
    read_end, write_end = os.pipe()
    try:
        assert socket_protocol(LocalProc(), os.getpid(), read_end) is None
    finally:
        os.close(read_end)
        os.close(write_end)


def test_read_fd_link_of_a_closed_fd_is_none(tmp_path):
    os.makedirs(tmp_path / "proc" / "7" / "fd")
    assert read_fd_link(LocalProc(str(tmp_path)), 7, 4) is None


def test_read_fd_link_of_an_exited_process(tmp_path):
    (tmp_path / "proc").mkdir()
    with pytest.raises(SocketsError) as info:
        read_fd_link(LocalProc(str(tmp_path)), 7, 4)
    assert str(info.value) == "process 7 has exited (/proc/7/fd is gone)"


def test_read_table_of_an_exited_process(tmp_path):
    (tmp_path / "proc").mkdir()
    with pytest.raises(SocketsError) as info:
        read_table(LocalProc(str(tmp_path)), 7, "tcp")
    assert str(info.value) == "process 7 has exited (/proc/7 is gone)"
