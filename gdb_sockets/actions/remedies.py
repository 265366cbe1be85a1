"""sock-timeout and sock-kill on a local process, from gdb's own process (no gdb here).

Both act through a pidfd_getfd copy (``FdCopies``: the copy is checked to
be the socket the listing saw, by inode, and always closed) or a sock_diag
socket in the target's network namespace, so no code runs in the target
and its registers are never touched: the same functions serve gdb and the
command-line front end.  Every function takes the target's pid and the
``Socket`` record the listing made for the fd, and returns an outcome of
view/remedy_report.py; the refusals are checked by the caller first
(``timeout_refusal``, ``kill_refusal``).
"""

from __future__ import annotations

import errno
from typing import Callable, List, Optional, Sequence

from ..errors import SocketsError
from ..kernel import destroy, keepalive
from ..kernel.keepalive import Keepalive
from ..model import Socket
from ..view.filters import SocketFilter
from ..listing.join import list_sockets
from ..view.inspect import annotated, listing_of
from ..view.remedy_report import (KillOutcome, TimeoutOutcome, UDP, errno_text, give_up)
from .shutdown_run import refuse_unless_socket
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.netns import DiagUnavailable, open_diag_socket

# SOCK_DESTROY answers that mean "not this way" (no CONFIG_INET_DIAG_DESTROY,
# no CAP_NET_ADMIN over the namespace): the disconnect can still run.
_NOT_THIS_WAY = {errno.EOPNOTSUPP, errno.EPERM, errno.EACCES}


class _Gone(Exception):
    pass


def plan(target, selection: SocketFilter, refusal: Callable[[Socket], Optional[str]],
         remote_reason: str, command: str = "") -> List[Socket]:
    """The sockets ``selection`` picks, each checked by ``refusal``, touching nothing.

    As sock-shutdown's plan: explicit fds must each be an open socket,
    filters may match nothing; the chosen sockets carry their waiters and
    the other processes that hold them.  One refused socket refuses the
    whole request (SocketsError with every reason): nothing is done.
    """
    if target.remote:
        raise SocketsError("not through gdbserver: %s; run gdb on the target's host: "
                           "gdb -p PID -batch -ex '%s'" % (remote_reason, command))
    for fd in sorted(selection.fds or ()):
        refuse_unless_socket(target.reader, target.pid, fd)
    result = listing_of(target)
    wanted = {s.fd for s in selection.apply(result.sockets)}
    scan = {s.inode for s in result.sockets if s.fd in wanted}
    chosen = [s for s in annotated(target, result, scan or None).sockets if s.fd in wanted]
    refused = [(s.fd, refusal(s)) for s in chosen]
    refused = [(fd, why) for fd, why in refused if why]
    if refused:
        raise SocketsError("%s; nothing done" % "; ".join("fd %d: %s" % r for r in refused))
    return chosen


def _copy(copies: FdCopies, pid: int, sock: Socket) -> int:
    copy = copies.copy(sock.fd, sock.inode)
    if copy is None:
        raise _Gone("fd %d of process %d is no longer socket %d; nothing done (list the "
                    "sockets again)" % (sock.fd, pid, sock.inode))
    return copy


def read_timeout(pid: int, sock: Socket, wanted: Keepalive) -> TimeoutOutcome:
    """The outcome of setting ``wanted`` on ``sock``, without setting it (-dry-run).

    Reads the current values and TCP_INFO through a copy: getsockopt only.
    """
    return _timeout(pid, sock, wanted, apply=False)


def set_timeout(pid: int, sock: Socket, wanted: Keepalive) -> TimeoutOutcome:
    """Set keepalive and TCP_USER_TIMEOUT ``wanted`` on the target's TCP socket.

    The outcome holds the old values (to put back), the values the kernel
    reports afterwards, the socket's silence and when the kernel gives up;
    a failure (no copy, the kernel refused a value) is in ``failure``.
    """
    return _timeout(pid, sock, wanted, apply=True)


def _timeout(pid: int, sock: Socket, wanted: Keepalive, apply: bool) -> TimeoutOutcome:
    outcome = TimeoutOutcome(fd=sock.fd, before=sock)
    try:
        with FdCopies(pid) as copies:
            copy = _copy(copies, pid, sock)
            outcome.old = keepalive.read(copy)
            if apply:
                try:
                    outcome.new = keepalive.apply(copy, wanted)
                except OSError as e:
                    outcome.failure = "setsockopt: %s" % errno_text(e.errno)
                    outcome.new = None
                    return outcome
            else:
                outcome.new = wanted
            outcome.silence = keepalive.silence(copy)
    except CopyUnavailable as e:
        outcome.failure = "cannot copy fd %d of process %d: %s" % (sock.fd, pid, e)
        return outcome
    except _Gone as e:
        outcome.failure = str(e)
        return outcome
    outcome.give_up = give_up(outcome.new, outcome.silence, sock.send_q or 0)
    return outcome


def kill(pid: int, sock: Socket, dry_run: bool = False) -> KillOutcome:
    """Abort the target's TCP or UDP socket: SOCK_DESTROY, else a disconnect (TCP).

    SOCK_DESTROY names the socket by its 4-tuple and its cookie (read
    from the copy just before), so it can hit no other socket; ENOENT
    means the socket is not in the kernel's tables as it was, and nothing
    else is tried.  Only where SOCK_DESTROY cannot run at all (not built,
    not permitted, the namespace not enterable) does a TCP socket get
    ``connect(AF_UNSPEC)`` on the copy; a UDP socket is then left alone
    (a disconnect wakes no reader).  With ``dry_run``, the cookie and
    addresses are read and nothing is sent.
    """
    outcome = KillOutcome(fd=sock.fd, before=sock)
    try:
        with FdCopies(pid) as copies:
            copy = _copy(copies, pid, sock)
            ends = copies.endpoints(copy)
            outcome.cookie = destroy.cookie(copy)
            if ends is None or outcome.cookie is None:
                outcome.failure = "the kernel does not give the socket's addresses or cookie"
                return outcome
            protocol = destroy.IPPROTO_UDP if sock.proto in UDP else destroy.IPPROTO_TCP
            target = destroy.Target(ends.family, protocol, ends.local, ends.local_port,
                                    ends.peer, ends.peer_port, outcome.cookie,
                                    copies.bound_ifindex(copy) or 0)
            reason = _destroy(pid, target, outcome, dry_run)
            if reason is None:
                return outcome
            outcome.fallback_reason = reason
            if protocol == destroy.IPPROTO_UDP:
                outcome.failure = ("SOCK_DESTROY cannot run (%s), and a disconnect would wake "
                                   "no reader of a UDP socket; nothing done (use "
                                   "sock-shutdown)" % reason)
                return outcome
            outcome.way = "disconnect"
            outcome.errno = 0 if dry_run else destroy.disconnect(copy)
    except CopyUnavailable as e:
        outcome.failure = "cannot copy fd %d of process %d: %s" % (sock.fd, pid, e)
    except _Gone as e:
        outcome.failure = str(e)
    return outcome


def _destroy(pid: int, target: destroy.Target, outcome: KillOutcome,
             dry_run: bool) -> Optional[str]:
    """Run SOCK_DESTROY into ``outcome``; the reason it could not run, or None."""
    try:
        diag = open_diag_socket(pid)
    except DiagUnavailable as e:
        return str(e)
    except OSError as e:
        return "sock_diag: %s" % (e.strerror or e)
    with diag:
        outcome.way = "SOCK_DESTROY"
        if dry_run:
            outcome.errno = 0
            return None
        try:
            code = destroy.send_destroy(diag, target)
        except OSError as e:
            code = e.errno or errno.EIO
    if code in _NOT_THIS_WAY:
        outcome.way = None
        return "SOCK_DESTROY: %s" % errno_text(code)
    outcome.errno = code
    if code == errno.ENOENT:
        outcome.failure = ("the kernel has no socket with that 4-tuple and cookie %d any more "
                           "(closed, or the fd changed); nothing done" % target.cookie)
    elif code < 0:
        outcome.failure = "no answer from sock_diag to SOCK_DESTROY"
    elif code:
        outcome.failure = "SOCK_DESTROY: %s" % errno_text(code)
    return None


def kill_all(target, chosen: Sequence[Socket]) -> List[KillOutcome]:
    """``kill`` each chosen socket, then read the tables again for ``after``."""
    outcomes = [kill(target.pid, sock) for sock in chosen]
    # Only the fds acted on are read again.
    after = {s.fd: s for s in list_sockets(target.reader, target.pid, local=not target.remote,
                                           fds={o.fd for o in outcomes}).sockets}
    for outcome in outcomes:
        outcome.after = after.get(outcome.fd)
    return outcomes
