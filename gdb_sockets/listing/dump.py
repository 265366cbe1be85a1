"""The sock_diag dump path: one dump of a protocol's namespace, rows for the target's inodes.

About 1.4 us a socket of the namespace; rows of other inodes are skipped
unread.  For a target that holds a good share of the namespace the dumps
start before its fds are even read (``Prefetch``, a thread: the kernel
fills the dump while gdb reads /proc/PID/fd).  UNIX sockets are answered
here too, by a dump or by exact lookups of their inodes.  No gdb here.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

from ..kernel import sockdiag, workers
from ..kernel.netns import DiagUnavailable
from ..kernel.sockdiag import DiagChannel, DiagError, UnixRecord
from ..model import Socket
from .exact import Collected, Unavailable
from .plan import dump_request
from .records import inet_dump_rows, unix_rows


class Prefetch:
    """Dumps run by a thread while the caller reads the target's fds.

    The thread spends its time in recv(), in the kernel, without the GIL.
    ``wait`` hands over the datagrams; ``close`` (always) joins the thread
    and closes the netlink socket.
    """

    def __init__(self, pid: int, protos: List[str]) -> None:
        self.protos = protos
        self.channel: Optional[DiagChannel] = None
        self._pid = pid
        self._chunks: Dict[str, List[bytes]] = {}
        self._error: Optional[str] = None
        self._thread = workers.start(self._run, "gdb_sockets-dump")

    def _run(self) -> None:
        try:
            self.channel = DiagChannel.open(self._pid)
            for proto in self.protos:
                self._chunks[proto] = self.channel.dump_chunks(dump_request(proto))
        except (DiagUnavailable, DiagError) as e:
            self._error = str(e)
        except OSError as e:
            self._error = "sock_diag: %s" % (e.strerror or e)

    def wait(self) -> Dict[str, List[bytes]]:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise Unavailable(self._error)
        return self._chunks

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def rows_from_dump(proto: str, chunks: List[bytes], lowest: Dict[int, int]) -> Dict[int, Socket]:
    """Rows of a dump for the inodes in ``lowest`` (inode -> fd)."""
    if proto == "unix":
        found = sockdiag.parse_dump_chunks(chunks, set(lowest))
        return unix_rows(found, sockdiag.parse_dump_chunks(chunks, unknown_peers(found)), lowest)
    return inet_dump_rows(proto, sockdiag.InetDump(chunks, lowest.keys()).fields, lowest)


def unknown_peers(found: Dict[int, UnixRecord]) -> Set[int]:
    """The peers of ``found`` that are not among them."""
    return {r.peer for r in found.values() if r.peer} - found.keys()


def unix(channel: DiagChannel, inodes: Dict[int, int], how: str, out: Collected) -> None:
    """Rows for the UNIX sockets ``inodes`` (inode -> fd), by exact lookups or a dump."""
    wanted = set(inodes)
    if how == "exact":
        found = channel.unix_exact(wanted)
        peers = channel.unix_exact(unknown_peers(found))
    else:
        chunks = channel.dump_chunks(dump_request("unix"))
        found = sockdiag.parse_dump_chunks(chunks, wanted)
        peers = sockdiag.parse_dump_chunks(chunks, unknown_peers(found))
    out.tableless.update(wanted - found.keys())
    out.rows.update(unix_rows(found, peers, inodes))
