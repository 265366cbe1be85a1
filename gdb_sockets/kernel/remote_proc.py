"""Reading a remote target's /proc through gdbserver's file I/O (vFile packets).

``RemoteProc`` has the reader interface of ``procfs.LocalProc`` (read,
listdir, readlink, getxattr) but every path names a file on the target's
host.  It speaks gdb's remote protocol through one function that sends a
packet and returns the reply (``gdb.RemoteTargetConnection.send_packet``
in gdb, a fake in tests), so this module never imports gdb.

The channels, and why (measured with gdb and gdbserver 13.1):

- Files: ``vFile:open`` / ``vFile:pread`` / ``vFile:close``.  /proc files
  report size 0; pread is repeated until it returns nothing.  A failure
  carries the target's errno, so "gone" (ENOENT) and "denied" (EACCES)
  raise the same OSError subclasses as local reads do.
- Links: ``vFile:readlink``, exact and binary-safe.
- The fd table: the protocol has no readdir.  /proc/PID/status gives
  FDSize, the size of the fd table, so every fd is below it; an fd table
  of up to ``PROBE_LIMIT`` slots is probed with one readlink per slot,
  stopping once the number of open fds is found (stat of /proc/PID/fd
  counts them on Linux >= 6.2; 0 before, then all slots are probed).
  A larger table is read from gdbserver's "files" osdata instead
  (``qXfer:osdata:read:files``, what ``info os files`` prints): one
  transfer, but it holds every fd of every process on the target's host
  (3.5 MB for 20,000 fds here) and names cut at 999 bytes.
- There is no getxattr: the protocol of a socket is not known remotely
  (``getxattr`` returns None, so the listing reads every table).

Paths are resolved in gdbserver's own filesystem only if gdb has set it so
(``vFile:setfs:0``); gdb remembers the last setting and resends it only
when it changes, so this module never sends setfs itself: ``sync`` (given
by the caller) makes gdb set it, and runs before each fd-table read.
"""

from __future__ import annotations

import binascii
import errno
import os
import re
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import SocketsError

PROBE_LIMIT = 1024   # fd-table slots probed one readlink each; above, osdata
READ_CHUNK = 0x4000  # bytes asked per pread; gdbserver sends what fits a packet

# The remote protocol's errno values (gdb manual, "Errno Values").
_FILEIO_ERRNO = {
    1: errno.EPERM, 2: errno.ENOENT, 4: errno.EINTR, 9: errno.EBADF,
    13: errno.EACCES, 14: errno.EFAULT, 16: errno.EBUSY, 17: errno.EEXIST,
    19: errno.ENODEV, 20: errno.ENOTDIR, 21: errno.EISDIR, 22: errno.EINVAL,
    23: errno.ENFILE, 24: errno.EMFILE, 27: errno.EFBIG, 28: errno.ENOSPC,
    29: errno.ESPIPE, 30: errno.EROFS, 91: errno.ENAMETOOLONG,
}

_FD_DIR = re.compile(r"^/proc/(\d+)/fd$")

# One fd in gdbserver's "files" osdata (gdb/nat/linux-osdata.c
# linux_xfer_osdata_fds); values are XML-escaped (& < > ' "), nothing else,
# so a value never holds '<' but may hold newlines and any other byte:
#
#   <item><column name="pid">1234</column><column name="command">app</column>
#   <column name="file descriptor">4</column><column name="name">socket:[5678]</column></item>
_OSDATA_FD = re.compile(
    rb'<item><column name="pid">([^<]*)</column><column name="command">[^<]*</column>'
    rb'<column name="file descriptor">([^<]*)</column><column name="name">([^<]*)</column>'
    rb'</item>')
_XML_ENTITIES = {b"&lt;": b"<", b"&gt;": b">", b"&amp;": b"&", b"&apos;": b"'", b"&quot;": b'"'}
_XML_ENTITY = re.compile(rb"&(?:lt|gt|amp|apos|quot);")
OSDATA_NAME_MAX = 999  # gdbserver's readlink buffer: longer names are cut


class ProtocolError(SocketsError):
    """gdbserver answered something this module cannot use."""


def unescape_binary(data: bytes) -> bytes:
    """Undo the remote protocol's binary escaping: '}' then the byte XOR 0x20."""
    if b"}" not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == 0x7D and i + 1 < len(data):
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def hex_path(path: str) -> str:
    return binascii.hexlify(os.fsencode(path)).decode("ascii")


def packet_name(packet: str) -> str:
    """"vFile:open" for "vFile:open:2f70...,0,0": what to name in a message."""
    return ":".join(packet.split(":")[:2])


def parse_f_reply(packet: str, reply: bytes, path: str = "") -> Tuple[int, bytes]:
    """A vFile reply ``F<result>[,<errno>][;<attachment>]``: (result, attachment).

    A failed call raises OSError with the target's errno (FileNotFoundError
    for ENOENT...), named after ``path``.
    """
    if not reply:
        raise ProtocolError("gdbserver does not support %s; its file access is needed "
                            "to read the target's /proc" % packet_name(packet))
    if not reply.startswith(b"F"):
        raise ProtocolError("gdbserver answered %s with %r" % (packet_name(packet), reply[:40]))
    head, _sep, attachment = reply[1:].partition(b";")
    fields = head.split(b",")
    try:
        result = int(fields[0], 16)
        code = int(fields[1], 16) if len(fields) > 1 else None
    except ValueError:
        raise ProtocolError("gdbserver answered %s with %r"
                            % (packet_name(packet), reply[:40])) from None
    if result < 0:
        local = _FILEIO_ERRNO.get(code)
        if local is None:
            raise OSError(errno.EIO, "error %s on the target" % code, path)
        raise OSError(local, os.strerror(local), path)
    return result, unescape_binary(attachment)


def parse_osdata_fds(xml: bytes, pid: int) -> Dict[int, bytes]:
    """fd -> link text of ``pid`` in gdbserver's "files" osdata."""
    wanted = str(pid).encode()
    out = {}
    for item in _OSDATA_FD.finditer(xml):
        if item.group(1) != wanted or not item.group(2).isdigit():
            continue
        out[int(item.group(2))] = _XML_ENTITY.sub(lambda m: _XML_ENTITIES[m.group(0)],
                                                   item.group(3))
    return out


def status_field(status: bytes, name: str) -> Optional[str]:
    """One field of /proc/PID/status ("FDSize", "Tgid", "State"), or None."""
    prefix = name.encode() + b":"
    for line in status.split(b"\n"):
        if line.startswith(prefix):
            return line[len(prefix):].strip().decode("ascii", "replace")
    return None


class RemoteProc:
    """The /proc of a gdbserver target's host, read through the remote protocol.

    ``send(packet: str) -> bytes`` sends one packet and returns the reply;
    ``sync()`` makes gdb point gdbserver's file access at gdbserver's own
    filesystem (see the module doc).
    """

    remote = True

    def __init__(self, send: Callable[[str], bytes], sync: Callable[[], None] = lambda: None,
                 probe_limit: int = PROBE_LIMIT) -> None:
        self._send = send
        self._sync = sync
        self._synced = False
        self.probe_limit = probe_limit
        self._links: Dict[str, str] = {}
        self.packets = 0  # sent so far: the cost, for tests and measurements

    # -- the reader interface ------------------------------------------------

    def read(self, path: str) -> bytes:
        handle = self._open(path)
        try:
            chunks = []
            offset = 0
            while True:
                data = self._pread(handle, offset, path)
                if not data:
                    break
                chunks.append(data)
                offset += len(data)
        finally:
            self._call("vFile:close:%x" % handle, path)
        return b"".join(chunks)

    def listdir(self, path: str) -> List[str]:
        """Only /proc/PID/fd can be listed (the protocol has no readdir)."""
        match = _FD_DIR.match(path)
        if match is None:
            raise OSError(errno.ENOSYS, "not available through gdbserver (the remote protocol "
                          "cannot list a directory)", path)
        pid = int(match.group(1))
        self._synced = False  # a new look at the process: resync first
        self._links = {}
        fdsize = self._fd_table_size(pid)
        count = self._open_fd_count(path)
        if fdsize <= self.probe_limit:
            links = self._probe_fds(pid, fdsize, count)
        else:
            links = self._osdata_fds(pid)
        self._links = {"%s/%d" % (path, fd): link for fd, link in links.items()
                       if link is not None}
        return [str(fd) for fd in sorted(links)]

    def readlink(self, path: str) -> str:
        cached = self._links.pop(path, None)
        if cached is not None:
            return cached
        _n, target = self._call("vFile:readlink:" + hex_path(path), path)
        return os.fsdecode(target)

    def getxattr(self, path: str, name: str) -> Optional[bytes]:
        """None: the remote protocol has no extended attributes."""
        return None

    # -- the fd table ----------------------------------------------------------

    def _fd_table_size(self, pid: int) -> int:
        status = self.read("/proc/%d/status" % pid)
        value = status_field(status, "FDSize")
        if value is None or not value.isdigit():
            raise ProtocolError("/proc/%d/status on the target has no FDSize line" % pid)
        return int(value)

    def _open_fd_count(self, path: str) -> int:
        """How many fds are open (Linux >= 6.2 gives it as the size of /proc/PID/fd), or 0."""
        handle = self._open(path)
        try:
            _n, stat = self._call("vFile:fstat:%x" % handle, path)
        finally:
            self._call("vFile:close:%x" % handle, path)
        # struct fio_stat: seven 32-bit fields, then the 64-bit st_size, big-endian.
        if len(stat) < 36:
            raise ProtocolError("gdbserver's fstat of %s is %d bytes, not 64" % (path, len(stat)))
        return int.from_bytes(stat[28:36], "big")

    def _probe_fds(self, pid: int, fdsize: int, count: int) -> Dict[int, Optional[str]]:
        links: Dict[int, Optional[str]] = {}
        for fd in range(fdsize):
            path = "/proc/%d/fd/%d" % (pid, fd)
            try:
                links[fd] = self.readlink(path)
            except FileNotFoundError:
                continue
            if count and len(links) >= count:
                break
        return links

    def _osdata_fds(self, pid: int) -> Dict[int, Optional[str]]:
        xml = self._xfer("osdata", "files")
        links: Dict[int, Optional[str]] = {}
        for fd, name in parse_osdata_fds(xml, pid).items():
            # gdbserver names an fd whose link it could not read by its
            # number, and cuts long names: read those again one by one.
            unsure = name == str(fd).encode() or len(name) >= OSDATA_NAME_MAX
            links[fd] = None if unsure else os.fsdecode(name)
        return links

    # -- packets -----------------------------------------------------------------

    def _open(self, path: str) -> int:
        handle, _ = self._call("vFile:open:%s,0,0" % hex_path(path), path)  # O_RDONLY
        return handle

    def _pread(self, handle: int, offset: int, path: str) -> bytes:
        count, data = self._call("vFile:pread:%x,%x,%x" % (handle, READ_CHUNK, offset), path)
        if count != len(data):
            raise ProtocolError("gdbserver's pread of %s said %d bytes and sent %d"
                                % (path, count, len(data)))
        return data

    def _call(self, packet: str, path: str) -> Tuple[int, bytes]:
        return parse_f_reply(packet, self._packet(packet), path)

    def _xfer(self, obj: str, annex: str) -> bytes:
        """The whole of a qXfer object, read in packet-sized parts."""
        chunks = []
        offset = 0
        while True:
            packet = "qXfer:%s:read:%s:%x,%x" % (obj, annex, offset, READ_CHUNK)
            reply = self._packet(packet)
            if not reply or reply[:1] not in (b"m", b"l"):
                raise ProtocolError("gdbserver cannot list the target's fds (%s answered %r)"
                                    % (packet_name(packet), reply[:40]))
            data = unescape_binary(reply[1:])
            chunks.append(data)
            offset += len(data)
            if reply[:1] == b"l" or not data:
                return b"".join(chunks)

    def _packet(self, packet: str) -> bytes:
        if not self._synced:
            self._synced = True
            self._sync()
        self.packets += 1
        return self._send(packet)
