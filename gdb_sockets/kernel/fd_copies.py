"""Copies of a process's socket fds in gdb's own process, on gdb's own host.

``FdCopies`` copies socket fds of the target into gdb with pidfd_getfd(2)
(Linux >= 5.6, the same rights as ptrace attach), so that the kernel can
be asked about each one directly: getsockname, getpeername, TCP_INFO.
Every copy is checked to be the socket the listing saw (same inode) and
every copy is closed, whatever happens.  Nothing is done *to* the socket:
the copies are only read from, except for what receiving an fd does by
itself (see ``copies_are_harmless``).  Only sockets are ever copied: fstat
or close on a copy of a file on FUSE or NFS would call its file system,
which can hang when the server (or the stopped target itself) does not
answer, and a close flushes.

No gdb here.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import os
import select
import socket
import stat
import struct
from typing import List, NamedTuple, Optional, Tuple

from . import sockopt
from .libc import libc

SYS_PIDFD_GETFD = 438  # the same number on every architecture
SO_BINDTOIFINDEX = 62  # Linux >= 5.7
SO_NETNS_COOKIE = 71  # Linux >= 5.14


def copies_are_harmless(cgroup_file: str = "/proc/self/cgroup") -> bool:
    """False where receiving a copy of a socket would change the socket.

    pidfd_getfd, like receiving an fd over a UNIX socket, sets the
    socket's cgroup-v1 net_cls class id and net_prio index to those of
    the receiver (net/core/sock.c __receive_sock).  With those controllers
    mounted, the target's traffic could be classified as gdb's: no copies.
    """
    try:
        with open(cgroup_file, "rb") as f:
            text = f.read()
    except OSError:
        return False
    for line in text.split(b"\n"):
        parts = line.split(b":", 2)
        if len(parts) == 3 and (b"net_cls" in parts[1].split(b",")
                                or b"net_prio" in parts[1].split(b",")):
            return False
    return True


class CopyUnavailable(Exception):
    """Socket fds of this process cannot be copied into gdb (why in the message)."""


class Endpoints(NamedTuple):
    """A socket's family and addresses: raw address bytes (4 or 16), ports."""

    family: int
    local: bytes
    local_port: int
    peer: bytes
    peer_port: int


_SOCKADDR_SIZE = 128
_FAMILY = struct.Struct("=H")


def _sockaddr(buf, length: int) -> Tuple[int, bytes, int]:
    raw = buf.raw
    family = _FAMILY.unpack_from(raw)[0]
    port = sockopt.PORT.unpack_from(raw, 2)[0]
    if family == socket.AF_INET and length >= 8:
        return family, raw[4:8], port
    if family == socket.AF_INET6 and length >= 24:
        return family, raw[8:24], port
    return family, b"", port


class FdCopies:
    """pidfd_getfd copies of some of a process's fds; ``close`` closes them all.

    Use as a context manager.  Raises CopyUnavailable when copies cannot
    or should not be made (no pidfd_getfd, no permission, cgroup v1
    net_cls/net_prio in use).
    """

    def __init__(self, pid: int) -> None:
        if not copies_are_harmless():
            raise CopyUnavailable("cgroup v1 net_cls/net_prio is in use: a copy would "
                                  "re-classify the socket")
        try:
            self._pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError) as e:
            raise CopyUnavailable("pidfd_open: %s" % (getattr(e, "strerror", None) or e)) from None
        self._copies: List[int] = []
        c = libc()
        self._syscall = c.syscall
        self._getsockname = c.getsockname
        self._getpeername = c.getpeername
        self._getsockopt = c.getsockopt
        self._buf = ctypes.create_string_buffer(_SOCKADDR_SIZE)
        self._len = ctypes.c_uint32()

    def copy(self, fd: int, inode: int) -> Optional[int]:
        """A copy of the target's ``fd`` if it still is socket ``inode``, else None."""
        copy = self._syscall(SYS_PIDFD_GETFD, self._pidfd, fd, 0)
        if copy < 0:
            code = ctypes.get_errno()
            if code == errno_module.EBADF:
                return None  # closed since it was listed
            raise CopyUnavailable("pidfd_getfd: %s" % os.strerror(code))
        self._copies.append(copy)
        # Only a socket is fstat'ed: on a file, fstat may call its file
        # system (the fd was reused since it was listed, if the process runs).
        if self.option(copy, socket.SOL_SOCKET, socket.SO_TYPE) is None:
            return None
        st = os.fstat(copy)
        if st.st_ino != inode or not stat.S_ISSOCK(st.st_mode):
            return None  # the fd now names another socket
        return copy

    def endpoints(self, copy: int) -> Optional[Endpoints]:
        """getsockname and getpeername of a copy (peer zero when not connected)."""
        size = self._len
        size.value = _SOCKADDR_SIZE
        if self._getsockname(copy, self._buf, ctypes.byref(size)) != 0:
            return None
        family, local, local_port = _sockaddr(self._buf, size.value)
        size.value = _SOCKADDR_SIZE
        if self._getpeername(copy, self._buf, ctypes.byref(size)) == 0:
            _family, peer, peer_port = _sockaddr(self._buf, size.value)
        else:
            peer, peer_port = bytes(len(local)), 0
        return Endpoints(family, local, local_port, peer, peer_port)

    def option(self, copy: int, level: int, name: int, size: int = 4) -> Optional[bytes]:
        """getsockopt on a copy: the raw bytes, or None where the kernel refuses."""
        buf = ctypes.create_string_buffer(size)
        length = ctypes.c_uint32(size)
        if self._getsockopt(copy, level, name, buf, ctypes.byref(length)) != 0:
            return None
        return buf.raw[:length.value]

    def bound_ifindex(self, copy: int) -> Optional[int]:
        """The interface the socket is bound to (0: none); None if unknown."""
        raw = self.option(copy, socket.SOL_SOCKET, SO_BINDTOIFINDEX)
        return struct.unpack("=i", raw)[0] if raw and len(raw) == 4 else None

    def netns_cookie(self, copy: int) -> Optional[int]:
        """The cookie of the network namespace the socket lives in (None: unknown)."""
        raw = self.option(copy, socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
        return struct.unpack("=Q", raw)[0] if raw and len(raw) == 8 else None

    def listen_backlog(self, copy: int) -> Optional[int]:
        """A TCP listener's backlog from TCP_INFO (None if it is not listening)."""
        raw = self.option(copy, socket.IPPROTO_TCP, sockopt.TCP_INFO, sockopt.TCP_INFO_SIZE)
        info = sockopt.parse_tcp_info(raw) if raw else None
        return info.get("backlog") if info else None

    def tcp_state(self, copy: int) -> Optional[int]:
        """The TCP state number (tcpi_state), None if the kernel does not say."""
        return sockopt.tcp_state(self.option(copy, socket.IPPROTO_TCP, sockopt.TCP_INFO, 8))

    def poll_mask(self, copy: int) -> int:
        """The socket's poll mask now (poll with no timeout: it reads the
        state and changes nothing, unlike a read, MSG_PEEK or SO_ERROR)."""
        poller = select.poll()
        poller.register(copy, 0xffff & ~select.POLLNVAL)
        found = poller.poll(0)
        return found[0][1] if found else 0

    def release(self) -> None:
        """Close every copy made so far (the next ones can still be made)."""
        copies, self._copies = self._copies, []
        for copy in copies:
            os.close(copy)

    def close(self) -> None:
        self.release()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __enter__(self) -> "FdCopies":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
