"""Reading a process's /proc entries: the fd table and the socket tables.

All access goes through a reader: ``LocalProc`` here for the local /proc,
or kernel/remote_proc.RemoteProc for a target behind gdbserver (the same
read, listdir, readlink and getxattr).  Errors become ``SocketsError``
with a message that says what to do.  No gdb here.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import SocketsError

_SOCKET_LINK = re.compile(r"^socket:\[(\d+)\]$")


class LocalProc:
    """The /proc of the machine gdb runs on.

    ``root`` re-roots every path (tests build a fake /proc in a directory).
    """

    remote = False

    def __init__(self, root: str = "") -> None:
        self.root = root.rstrip("/")

    def read(self, path: str) -> bytes:
        with open(self.root + path, "rb") as f:
            return f.read()

    def listdir(self, path: str) -> List[str]:
        return os.listdir(self.root + path)

    def readlink(self, path: str) -> str:
        return os.readlink(self.root + path)

    def read_links(self, path: str) -> List[Tuple[str, str]]:
        """(name, link text) of each entry of a directory of links (/proc/PID/fd).

        The links are read relative to the open directory, which spares
        the kernel a walk of the whole path for each.  Raises OSError as
        listdir does, and PermissionError if a link cannot be read; an entry
        whose link cannot be read otherwise (closed since the listing) is
        left out.
        """
        fd = os.open(self.root + path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            out = []
            append, readlink = out.append, os.readlink
            for name in os.listdir(fd):
                try:
                    append((name, readlink(name, dir_fd=fd)))
                except PermissionError:
                    raise
                except OSError:
                    continue  # closed since the directory was read
            return out
        finally:
            os.close(fd)

    def getxattr(self, path: str, name: str) -> Optional[bytes]:
        """The attribute, or None where the kernel does not offer it."""
        try:
            return os.getxattr(self.root + path, name)
        except OSError as e:
            if e.errno in (errno.ENODATA, errno.EOPNOTSUPP, errno.ENOTSUP):
                return None
            raise


@dataclass(frozen=True)
class FdLink:
    """One open fd and what its /proc/PID/fd link names."""

    fd: int
    target: str

    @property
    def socket_inode(self) -> Optional[int]:
        match = _SOCKET_LINK.match(self.target)
        return int(match.group(1)) if match else None


def _proc_failure(pid: int, path: str, err: OSError) -> SocketsError:
    if isinstance(err, FileNotFoundError) or err.errno == errno.ESRCH:
        return SocketsError("process %d has exited (%s is gone)" % (pid, path))
    if isinstance(err, PermissionError):
        return SocketsError(
            "cannot read %s: permission denied; run as the process's owner "
            "or as root" % path)
    return SocketsError("cannot read %s: %s" % (path, err.strerror or err))


def read_fd_links(reader, pid: int) -> List[FdLink]:
    """Every open fd of the process with its link text, sorted by fd."""
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = reader.listdir(fd_dir)
    except OSError as e:
        raise _proc_failure(pid, fd_dir, e) from None
    links = []
    for name in names:
        if not name.isdigit():
            continue
        try:
            target = reader.readlink("%s/%s" % (fd_dir, name))
        except FileNotFoundError:
            continue  # closed since the directory was read
        except OSError as e:
            raise _proc_failure(pid, fd_dir, e) from None
        links.append(FdLink(int(name), target))
    links.sort(key=lambda link: link.fd)
    return links


def read_fd_link(reader, pid: int, fd: int) -> Optional[FdLink]:
    """One fd's link, or None when the fd is not open."""
    path = "/proc/%d/fd/%d" % (pid, fd)
    try:
        return FdLink(fd, reader.readlink(path))
    except FileNotFoundError:
        try:
            reader.listdir("/proc/%d/fd" % pid)
        except OSError as e:
            raise _proc_failure(pid, "/proc/%d/fd" % pid, e) from None
        return None
    except OSError as e:
        raise _proc_failure(pid, path, e) from None


def socket_protocol(reader, pid: int, fd: int) -> Optional[str]:
    """The kernel's name for the protocol of a socket fd ("TCP", "UNIX-STREAM"...).

    None when the kernel does not say (old kernel, remote target) or the fd
    closed meanwhile.
    """
    try:
        raw = reader.getxattr("/proc/%d/fd/%d" % (pid, fd), "system.sockprotoname")
    except OSError:
        return None
    if raw is None:
        return None
    return raw.rstrip(b"\0").decode("ascii", "replace")


def read_table(reader, pid: int, table: str) -> bytes:
    """A /proc/PID/net table; a table the kernel lacks reads as empty."""
    path = "/proc/%d/net/%s" % (pid, table)
    try:
        return reader.read(path)
    except FileNotFoundError:
        # The protocol is not built into this kernel (udplite, icmp6...), or
        # the process is gone: tell them apart by the process's own entry.
        try:
            reader.listdir("/proc/%d/fd" % pid)
        except OSError as e:
            raise _proc_failure(pid, "/proc/%d" % pid, e) from None
        return b""
    except OSError as e:
        raise _proc_failure(pid, path, e) from None


def read_ifnames_tables(reader, pid: int) -> Dict[str, bytes]:
    """The three files that together map ifindex to name (procnet.parse_ifnames)."""
    out = {}
    for name in ("igmp", "if_inet6", "dev_mcast"):
        try:
            out[name] = reader.read("/proc/%d/net/%s" % (pid, name))
        except OSError:
            out[name] = b""
    return out


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: int
    path: str
    inode: int = 0  # of the mapped file (0 for anonymous memory)


def read_maps(reader, pid: int) -> List[Mapping]:
    """The process's memory mappings (mm/proc_task_mmu.c show_map_vma):

        7f1c2a400000-7f1c2a428000 r--p 00000000 fe:00 1837  /usr/lib/x86_64-linux-gnu/libc.so.6
    """
    path = "/proc/%d/maps" % pid
    try:
        text = reader.read(path)
    except OSError as e:
        raise _proc_failure(pid, path, e) from None
    maps = []
    for line in text.decode("utf-8", "surrogateescape").split("\n"):
        fields = line.split(None, 5)
        if len(fields) < 5:
            continue
        start, end = fields[0].split("-")
        maps.append(Mapping(int(start, 16), int(end, 16), fields[1], int(fields[2], 16),
                            fields[5] if len(fields) == 6 else "",
                            int(fields[4]) if fields[4].isdigit() else 0))
    return maps
