"""A sock_diag netlink socket in the network namespace of a process.

A netlink socket answers for the network namespace it was created in, so
for a target in another namespace the socket is created by a short-lived
thread that has entered that namespace with setns(2); gdb's own threads
never change namespace.  No gdb here.
"""

from __future__ import annotations

import ctypes
import os
import socket

from . import workers
from .libc import libc

NETLINK_SOCK_DIAG = 4
CLONE_NEWNET = 0x40000000


class DiagUnavailable(Exception):
    """sock_diag cannot be used for this target (namespace or permission)."""


def _netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def open_diag_socket(pid: int) -> socket.socket:
    """A NETLINK_SOCK_DIAG socket in the network namespace of ``pid``."""
    try:
        same = _netns_inode("/proc/self/ns/net") == _netns_inode("/proc/%d/ns/net" % pid)
    except OSError as e:
        raise DiagUnavailable("cannot read the network namespace of process %d: %s"
                              % (pid, e.strerror)) from None
    if same:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    return _socket_in_netns(pid)


def _socket_in_netns(pid: int) -> socket.socket:
    # setns(CLONE_NEWNET) moves only the calling thread, so a throwaway
    # thread enters the namespace, creates the socket and ends; gdb's own
    # threads never change namespace.
    result: dict = {}

    def enter_and_create() -> None:
        try:
            ns_fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            result["error"] = "cannot open /proc/%d/ns/net: %s" % (pid, e.strerror)
            return
        try:
            if libc().setns(ns_fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                result["error"] = "cannot enter the network namespace of process %d: %s" % (
                    pid, os.strerror(err))
                return
            result["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                           NETLINK_SOCK_DIAG)
        finally:
            os.close(ns_fd)

    # Never in gdb's own thread: setns() would move all of gdb.
    thread = workers.start(enter_and_create, "gdb_sockets-netns", inline=False)
    if thread is None:
        raise DiagUnavailable("no thread could start to enter the network namespace of "
                              "process %d" % pid)
    thread.join()
    if "sock" not in result:
        raise DiagUnavailable(result.get("error", "sock_diag unavailable"))
    return result["sock"]
