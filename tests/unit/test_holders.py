"""holders: dup'd fds of the target, other processes holding the same socket."""

import os
import socket
import subprocess
import sys

import pytest

from gdb_sockets.errors import SocketsError
from gdb_sockets.view.notes import fds_by_inode

from threads import wait_in_syscall
from gdb_sockets.model import Holder
from gdb_sockets.view.holders import HolderScan, other_holders
from gdb_sockets.model import Socket
from gdb_sockets.kernel.procfs import FdLink, LocalProc, read_fd_links


def _sockets_of(links):
    return [Socket(fd=l.fd, inode=l.socket_inode, proto="tcp", state="ESTAB")
            for l in sorted(links, key=lambda l: l.fd) if l.socket_inode is not None]


def test_fds_by_inode_groups_fds_by_socket_inode():
    links = [FdLink(9, "socket:[500]"), FdLink(0, "/dev/null"), FdLink(3, "socket:[500]"),
             FdLink(4, "socket:[600]"), FdLink(5, "pipe:[500]"), FdLink(7, "socket:[500]")]
    assert fds_by_inode(_sockets_of(links)) == {500: [3, 7, 9], 600: [4]}
    assert fds_by_inode([]) == {}


def make_process(root, pid, comm, fds):
    base = root / "proc" / str(pid)
    (base / "fd").mkdir(parents=True)
    if comm is not None:
        (base / "comm").write_bytes(comm)
    for fd, link in fds.items():
        os.symlink(link, str(base / "fd" / str(fd)))


class Denying(LocalProc):
    """A /proc where some processes' fds are another user's: their fd
    directory cannot be listed (``dirs``), or it lists but its links cannot
    be read (``links``; so it is for this machine's pid 1, even as root)."""

    def __init__(self, root, dirs, links):
        super().__init__(root)
        self.dirs = dirs
        self.links = links

    def listdir(self, path):
        if path in self.dirs:
            raise PermissionError(13, "Permission denied", path)
        return super().listdir(path)

    def readlink(self, path):
        if path.rsplit("/", 1)[0] in self.links:
            raise PermissionError(13, "Permission denied", path)
        return super().readlink(path)


def test_other_holders_on_a_fake_proc(tmp_path):
    make_process(tmp_path, 10, b"target\n", {3: "socket:[500]", 4: "socket:[600]"})
    make_process(tmp_path, 20, b"child\n", {3: "socket:[500]", 8: "socket:[500]",
                                            9: "socket:[5000]"})
    make_process(tmp_path, 30, b"my app \xff\n", {0: "/dev/null", 5: "socket:[600]"})
    make_process(tmp_path, 40, b"other\n", {0: "socket:[700]"})
    make_process(tmp_path, 50, None, {3: "socket:[500]"})        # exited after its fds were read
    make_process(tmp_path, 60, b"secret\n", {3: "socket:[500]"})  # another user's
    make_process(tmp_path, 70, b"secret2\n", {3: "socket:[600]"})  # links unreadable
    (tmp_path / "proc" / "80").mkdir()                             # exited: no fd dir
    (tmp_path / "proc" / "self").symlink_to("10")
    (tmp_path / "proc" / "net").mkdir()
    reader = Denying(str(tmp_path), {"/proc/60/fd"}, {"/proc/70/fd"})
    assert other_holders(reader, 10, {500, 600, 900}) == HolderScan(
        holders={500: [Holder(20, "child", 3), Holder(20, "child", 8)],
                 600: [Holder(30, "my app \udcff", 5)]},
        hidden=2)
    # The target's own fds are never "other" holders.
    assert other_holders(reader, 20, {500}) == HolderScan({500: [Holder(10, "target", 3)]}, 2)
    assert other_holders(reader, 10, set()) == HolderScan({}, 0)


def test_other_holders_without_proc(tmp_path):
    with pytest.raises(SocketsError) as info:
        other_holders(LocalProc(str(tmp_path)), 10, {500})
    assert str(info.value) == "cannot list /proc: No such file or directory"


_CHILD = r"""
import socket, sys
with open("/proc/self/comm", "w") as f:
    f.write("gs-holder")
socket.socket(fileno=%d).recv(1)
"""


def test_a_real_child_holds_the_same_socket_and_a_dup_is_seen():
    ours, peer = socket.socketpair()
    inode = os.fstat(ours.fileno()).st_ino
    copy = os.dup(ours.fileno())
    child = subprocess.Popen([sys.executable, "-S", "-c", _CHILD % ours.fileno()],
                             pass_fds=[ours.fileno()])
    try:
        # Ready once it blocks in recvfrom (after it renamed itself).
        wait_in_syscall(child.pid, child.pid, {45})
        scan = other_holders(LocalProc(), os.getpid(), {inode})
        assert scan.holders == {inode: [Holder(child.pid, "gs-holder", ours.fileno())]}
        mine = fds_by_inode(_sockets_of(read_fd_links(LocalProc(), os.getpid())))
        assert mine[inode] == sorted([ours.fileno(), copy])
        assert mine[os.fstat(peer.fileno()).st_ino] == [peer.fileno()]
        peer.send(b"!")
        assert child.wait(5) == 0
    finally:
        child.kill()
        child.wait()
        os.close(copy)
        ours.close()
        peer.close()


def test_the_processes_that_could_not_be_read_are_named(tmp_path):
    # Issue 13 item 9: which process, and that root would see them.
    from gdb_sockets.view.holders import hidden_note
    make_process(tmp_path, 10, b"target\n", {3: "socket:[500]"})
    make_process(tmp_path, 60, b"secret\n", {3: "socket:[500]"})
    make_process(tmp_path, 70, b"sec\x1bret2\n", {3: "socket:[600]"})
    reader = Denying(str(tmp_path), {"/proc/60/fd"}, {"/proc/70/fd"})
    scan = other_holders(reader, 10, {500})
    assert scan.hidden_processes == ((60, "secret"), (70, "sec\x1bret2"))
    assert hidden_note(scan, as_root=True) == (
        "2 processes could not be read (pid 60 (secret), pid 70 (sec\\x1bret2)), so other "
        "holders may be missing")
    assert hidden_note(scan, as_root=False) == (
        "2 processes could not be read (other users'; run gdb as root to see them), so "
        "other holders may be missing")
    assert hidden_note(HolderScan({}, 0), as_root=False) is None


# --------------------------------------------------------------------------
# The threaded scan of this host's /proc (holders._local_hits)


class Plain(LocalProc):
    """The same fake /proc, read through the generic path (one readlink at
    a time, no threads): the oracle for the threaded one."""


def _busy_fake_proc(root):
    make_process(root, 10, b"target\n", {3: "socket:[500]"})
    for pid in (20, 30, 40, 50):
        links = {fd: "socket:[%d]" % (100000 + pid * 1000 + fd) for fd in range(700)}
        links[pid] = "socket:[500]"           # one hit in each, in a different slice
        links[650 + pid // 10] = "socket:[600]"
        links[699] = "/dev/null"
        make_process(root, pid, b"p%d\n" % pid, links)


def test_threaded_scan_finds_what_the_plain_one_finds(tmp_path, monkeypatch):
    from gdb_sockets.view import holders
    _busy_fake_proc(tmp_path)
    expected = other_holders(Plain(str(tmp_path)), 10, {500, 600})
    assert [h.pid for h in expected.holders[500]] == [20, 30, 40, 50]
    monkeypatch.setattr(holders, "THREADED_FROM", 100)
    monkeypatch.setattr(holders, "THREADS", 3)
    monkeypatch.setattr(holders, "_SLICE", 64)   # several pieces per process
    assert other_holders(LocalProc(str(tmp_path)), 10, {500, 600}) == expected
    monkeypatch.setattr(holders, "THREADED_FROM", 10 ** 9)   # one thread
    assert other_holders(LocalProc(str(tmp_path)), 10, {500, 600}) == expected


def test_threaded_scan_hides_a_process_whose_link_is_denied(tmp_path, monkeypatch):
    from gdb_sockets.view import holders
    _busy_fake_proc(tmp_path)
    real = os.readlink
    denied_dir = os.path.realpath(str(tmp_path / "proc" / "40" / "fd"))

    def readlink(path, *, dir_fd=None):
        if dir_fd is not None and real("/proc/self/fd/%d" % dir_fd) == denied_dir and path == "600":
            raise PermissionError(13, "Permission denied", path)
        return real(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "readlink", readlink)
    monkeypatch.setattr(holders, "THREADED_FROM", 100)
    monkeypatch.setattr(holders, "_SLICE", 64)
    scan = other_holders(LocalProc(str(tmp_path)), 10, {500})
    assert [h.pid for h in scan.holders[500]] == [20, 30, 50]
    assert scan.hidden == 1 and scan.hidden_processes == ((40, "p40"),)
