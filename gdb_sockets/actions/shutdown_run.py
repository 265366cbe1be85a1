"""gdb glue: a shutdown from request to proof: check, pick the sockets, act, read again.

The method modules do the act (inferior_call, syscall_inject, pidfd_copy);
this runs the one that choose.py settled on each chosen socket and reads
the tables again, so that each Outcome holds the socket before and after.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..errors import SocketsError
from ..kernel import procfs
from ..listing.join import list_sockets
from ..model import Socket
from ..view.filters import SocketFilter
from ..view.inspect import annotated, listing_of
from ..view.render import escape
from . import inferior_call, pidfd_copy, syscall_inject
from .choose import choose_method
from .method_choice import Method
from .outcome import Outcome


def refuse_unless_socket(reader, pid: int, fd: int) -> None:
    """Refuse an fd that is not open or is not a socket, saying what it is."""
    link = procfs.read_fd_link(reader, pid, fd)
    if link is None:
        raise SocketsError("fd %d is not open in process %d (see 'info sockets')" % (fd, pid))
    if link.socket_inode is None:
        raise SocketsError("fd %d is not a socket (%s)" % (fd, escape(link.target)))


def plan_shutdown(target, selection: SocketFilter,
                  method: Optional[str] = "auto") -> Tuple[List[Socket], Optional[Method]]:
    """Check the request and pick the sockets: (sockets, Method).

    The method is settled first, so a method that cannot run is refused
    before the tables are read with the process stopped (method None: not
    settled, for -dry-run, which must not even probe).  No socket is
    touched; settling ``call`` writes one vector register and puts it back.
    Explicit fds must each be an open socket; filters may match nothing.
    """
    chosen_method = choose_method(target, method) if method is not None else None
    for fd in sorted(selection.fds or ()):
        refuse_unless_socket(target.reader, target.pid, fd)
    result = listing_of(target)
    chosen = {s.fd for s in selection.apply(result.sockets)}
    # Other holders matter before acting: shutdown acts on the socket, for
    # every process that holds it.  Scan only for the chosen sockets.
    scan = None
    if chosen and not target.remote:
        scan = {s.inode for s in result.sockets if s.fd in chosen}
    notes = annotated(target, result, scan)
    return [s for s in notes.sockets if s.fd in chosen], chosen_method


def _run_method(target, method: str, sock: Socket, how: int) -> Tuple[int, int]:
    """Run shutdown(sock.fd, how) by ``method``: (retval, errno)."""
    if method == "call":
        return inferior_call.call_shutdown(target.pid, target.reader, sock.fd, how)
    if method == "syscall":
        return syscall_inject.shutdown(sock.fd, how)
    return pidfd_copy.shutdown_copy(target.pid, sock.fd, sock.inode, how)


def perform_shutdown(target, chosen: Sequence[Socket], how: int,
                     method: Method) -> List[Outcome]:
    """Shut each chosen socket down, then read the tables again: one Outcome each.

    A failure of the call itself (crash, timeout, a gdb error) is recorded
    in its Outcome and the remaining sockets are not attempted: nothing
    falls through to another method.
    """
    outcomes = []
    for sock in chosen:
        outcome = Outcome(fd=sock.fd, how=how, method=method.name, before=sock,
                          notes=list(method.notes))
        outcomes.append(outcome)
        try:
            outcome.retval, outcome.errno = _run_method(target, method.name, sock, how)
        except (inferior_call.CallFailed, SocketsError) as e:
            outcome.failure = str(e)
            break
    after = {s.fd: s for s in list_sockets(target.reader, target.pid,
                                           local=not target.remote).sockets}
    for outcome in outcomes:
        outcome.after = after.get(outcome.fd)
    return outcomes
