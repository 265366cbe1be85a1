"""The Python API for gdb scripts: the current inferior's sockets as records.

    import gdb_sockets.api as sockets_api
    for sock in sockets_api.sockets():
        print(sock.fd, sock.proto, sock.state)

Every function works on gdb's selected inferior and raises
``gdb_sockets.errors.SocketsError`` for any condition a user can act on
(no process, a core file, a process that exited, a bad fd...).  The
commands ``info sockets`` and ``sock-shutdown`` are built on these
functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import gdb

from .view import notes
from .kernel import sockopt
from .view import holders
from .actions import inferior_call
from .listing import join
from .actions import pidfd_copy
from .view import shutdown_report
from .kernel import sockdiag
from .kernel import fd_copies
from .actions import syscall_inject
from .view import waiters
from .errors import SocketsError
from .view.filters import SocketFilter
from .model import Socket
from .kernel.target import current_target


def list_target_sockets(command: str = "gdb_sockets", holders: bool = False) -> join.Listing:
    """The sockets of the selected inferior, with notes on what is unknown.

    Each record's ``extra`` says which threads wait on it (``waiters``) and
    which other fds of the process name it (``also_fds``); with ``holders``
    every other process is scanned too (``holders``), which costs a pass
    over all of /proc.
    """
    target = current_target(command)
    if holders and target.remote:
        raise SocketsError("%s: -holders needs a list of every process's fds, which the "
                           "remote protocol cannot give; run gdb on the target's host" % command)
    result = join.list_sockets(target.reader, target.pid, unix_diag=_unix_diag_for(target))
    scan = {s.inode for s in result.sockets} if holders else None
    return _annotated(target, result, scan)


def socket_details(command: str, sockets: Sequence[Socket]) -> dict:
    """fd -> the extended view of each socket (sockopt.py), for local targets."""
    target = current_target(command)
    if target.remote:
        raise SocketsError("%s: -extended asks each socket through a copy in gdb's own "
                           "process, which cannot reach a process on another host" % command)
    try:
        return sockopt.socket_details(target.pid, sockets)
    except fd_copies.CopyUnavailable as e:
        raise SocketsError("%s: -extended cannot copy the process's sockets: %s" % (
            command, e)) from None


def _annotated(target, result: join.Listing, scan_inodes) -> join.Listing:
    """``result`` with waiters, dups and, for ``scan_inodes``, other holders."""
    found_notes = list(result.notes)
    found_waiters = {}
    arch = target.inferior.architecture().name()
    if target.remote:
        found_notes.append("blocked threads are not shown through gdbserver")
    elif not waiters.known_arch(arch):
        found_notes.append("blocked threads are not shown on %s (x86-64 only)" % arch)
    else:
        found_waiters = waiters.find_waiters(target.reader, target.pid,
                                             {s.fd for s in result.sockets}, arch=arch)
    scan = None
    if scan_inodes:
        scan = holders.other_holders(target.reader, target.pid, scan_inodes)
        if scan.hidden:
            found_notes.append("%d process%s could not be read, so other holders may be missing"
                         % (scan.hidden, "es" if scan.hidden != 1 else ""))
    sockets = notes.annotate(result.sockets, found_waiters, scan)
    return join.Listing(result.pid, sockets, found_notes)


def _unix_diag_for(target):
    """sock_diag runs on gdb's host: it can only ask about a local target."""
    return None if target.remote else sockdiag.unix_query


def sockets() -> List[Socket]:
    """Every socket fd of the selected inferior, as ``Socket`` records by fd."""
    return list_target_sockets().sockets


METHODS = ("auto", "call", "syscall", "pidfd")


@dataclass(frozen=True)
class Method:
    """The way shutdown will run, and why auto chose it (lines for the report)."""

    name: str
    notes: Tuple[str, ...] = ()


def choose_method(target, requested: str = "auto") -> Method:
    """Settle -method before anything is read or touched.

    An explicit method that cannot run here is refused; auto takes libc's
    shutdown when gdb can call it safely, else a raw syscall, else pidfd
    (through gdbserver, only the raw syscall).
    """
    if requested not in METHODS:
        raise SocketsError("sock-shutdown: unknown method %r; one of: %s"
                           % (requested, " ".join(METHODS)))
    check_can_call("sock-shutdown")
    if requested != "auto":
        why = _method_unavailable(target, requested)
        if why:
            raise SocketsError("sock-shutdown: -method %s cannot run here: %s" % (requested, why))
        return Method(requested)
    why_not_call = _method_unavailable(target, "call")
    if why_not_call is None:
        return Method("call")
    why_not_syscall = _method_unavailable(target, "syscall")
    if why_not_syscall is None:
        return Method("syscall", ("libc's shutdown was not called because %s" % why_not_call,))
    if _method_unavailable(target, "pidfd") is None:
        return Method("pidfd", ("libc's shutdown was not called because %s, and no raw "
                                "syscall because %s" % (why_not_call, why_not_syscall),))
    raise SocketsError("sock-shutdown: no method can run here: not call: %s; not syscall: %s"
                       % (why_not_call, why_not_syscall))


def _method_unavailable(target, method: str) -> Optional[str]:
    """Why ``method`` cannot run on this target, or None."""
    if target.remote:
        refusal = _remote_refusal(method)
        if refusal:
            return refusal
    if method == "call":
        # The register probe first: it is cheap, reading libc's symbols is not.
        why = inferior_call.call_unsafe_reason()
        if why:
            return why
        try:
            addresses = inferior_call.libc_shutdown_addresses(target.pid, target.reader)
        except SocketsError as e:
            return str(e)
        if addresses is None:
            return "process %d has no shared libc shutdown() (a static binary?)" % target.pid
        return None
    if method == "syscall":
        return syscall_inject.unsupported_reason()
    return None


def _remote_refusal(method: str) -> Optional[str]:
    """Why ``method`` is refused on a gdbserver target, or None.

    pidfd copies an fd into gdb's own process, which is on another host.
    An inferior call through gdbserver 13.1 followed by detach killed the
    target with SIGSEGV (shared/design.md §3), so it is not offered.
    """
    if method == "pidfd":
        return "pidfd works only on a process of gdb's own host, not through gdbserver"
    if method == "call":
        return ("an inferior call through gdbserver 13.1 killed the target after detach "
                "(measured); the raw syscall method is safe there")
    return None


def check_can_call(command: str) -> None:
    """Refuse when no thread can act: none selected, or it is running."""
    thread = gdb.selected_thread()
    if thread is None:
        raise SocketsError("%s: no thread selected; select one with 'thread N'" % command)
    if thread.is_running():
        raise SocketsError("%s: thread %d is running; interrupt it first (Ctrl-C or "
                           "'interrupt')" % (command, thread.num))


def plan_shutdown(command: str, selection: SocketFilter, method: Optional[str] = "auto") -> tuple:
    """Check the request and pick the sockets: (target, sockets, Method), touching nothing.

    The method is settled first, so a method that cannot run is refused
    before the tables are read with the process stopped (method None: not
    settled, for -dry-run, which must not even probe).  Explicit fds must
    each be an open socket; filters may match nothing.
    """
    target = current_target(command)
    chosen_method = choose_method(target, method) if method is not None else None
    for fd in sorted(selection.fds or ()):
        shutdown_report.refuse_unless_socket(command, target.reader, target.pid, fd)
    result = join.list_sockets(target.reader, target.pid, unix_diag=_unix_diag_for(target))
    chosen = {s.fd for s in selection.apply(result.sockets)}
    # Other holders matter before acting: shutdown acts on the socket, for
    # every process that holds it.  Scan only for the chosen sockets.
    scan = None
    if chosen and not target.remote:
        scan = {s.inode for s in result.sockets if s.fd in chosen}
    annotated = _annotated(target, result, scan)
    return target, [s for s in annotated.sockets if s.fd in chosen], chosen_method


def _run_method(target, method: str, sock: Socket, how: int) -> Tuple[int, int]:
    """Run shutdown(sock.fd, how) by ``method``: (retval, errno)."""
    if method == "call":
        return inferior_call.call_shutdown(target.pid, target.reader, sock.fd, how)
    if method == "syscall":
        return syscall_inject.shutdown(sock.fd, how)
    return pidfd_copy.shutdown_copy(target.pid, sock.fd, sock.inode, how)


def perform_shutdown(target, chosen: Sequence[Socket], how: int,
                     method: Method) -> List[shutdown_report.Outcome]:
    """Shut each chosen socket down, then read the tables again: one Outcome each.

    ``method`` comes from choose_method.  A failure of the call itself
    (crash, timeout, a gdb error) is recorded in its Outcome and the
    remaining sockets are not attempted: nothing falls through to another
    method.
    """
    outcomes = []
    for sock in chosen:
        outcome = shutdown_report.Outcome(fd=sock.fd, how=how, method=method.name, before=sock,
                                   notes=list(method.notes))
        outcomes.append(outcome)
        try:
            outcome.retval, outcome.errno = _run_method(target, method.name, sock, how)
        except (inferior_call.CallFailed, SocketsError) as e:
            outcome.failure = str(e)
            break
    after = {s.fd: s for s in join.list_sockets(
        target.reader, target.pid, unix_diag=_unix_diag_for(target)).sockets}
    for outcome in outcomes:
        outcome.after = after.get(outcome.fd)
    return outcomes


def shutdown_fd(fd: int, how: str = "both", method: str = "auto") -> shutdown_report.Outcome:
    """Shut down one socket fd of the selected inferior and return the verified outcome.

    ``how`` is "read", "write" or "both".  Raises SocketsError, touching
    nothing, if fd is not an open socket; a shutdown the kernel refused
    comes back as an Outcome with ``ok`` False and ``errno`` set.
    """
    how_code = shutdown_report.parse_how("sock-shutdown", how)
    if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
        raise SocketsError("sock-shutdown: fd must be a non-negative int, not %r" % (fd,))
    target, chosen, resolved = plan_shutdown("sock-shutdown", SocketFilter(fds=frozenset({fd})),
                                             method)
    if not chosen:
        raise SocketsError("sock-shutdown: fd %d closed while it was being looked at" % fd)
    return perform_shutdown(target, chosen, how_code, resolved)[0]
