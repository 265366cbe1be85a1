"""A shutdown from request to proof: check, pick the sockets, act, read again.

The method modules do the act (inferior_call, syscall_inject, pidfd_copy);
this runs the one that was settled on each chosen socket and reads the
tables again, so that each Outcome holds the socket before and after.  On
a process that runs on (the command line's), it also looks at each thread
that waited on a shut socket: did it leave its call?

No gdb here unless a debugger holds the target: choose.py, inferior_call
and syscall_inject (gdb glue) are imported only for such a target.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import SocketsError
from ..kernel import procfs, procnet
from ..kernel.fd_copies import CopyUnavailable, FdCopies
from ..kernel.proc_task import GONE, IN_CALL, RUNNING, InSyscall, thread_call
from ..listing.join import Listing, list_sockets
from ..model import Socket
from ..view.filters import SocketFilter
from ..view import predict
from ..view.inspect import annotated, listing_of
from ..view.render import escape
from . import pidfd_copy
from .method_choice import Method, pick_without_debugger
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
    chosen_method = settle_method(target, method) if method is not None else None
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


def settle_method(target, requested: str) -> Method:
    """The method for -method ``requested``: probed through gdb where gdb
    holds the process (choose.py), else pidfd, the one that needs no debugger."""
    if not target.stopped:
        return pick_without_debugger(requested, target.pid)
    from .choose import choose_method  # gdb glue
    return choose_method(target, requested)


def _run_method(target, method: Method, sock: Socket, how: int) -> Tuple[int, int]:
    """Run shutdown(sock.fd, how) by ``method``: (retval, errno).

    A failure of the call itself (crash, timeout, a gdb error) raises
    SocketsError with what happened.
    """
    if method.name == "pidfd":
        return pidfd_copy.shutdown_copy(target.pid, sock.fd, sock.inode, how)
    import gdb  # gdb glue: settled only under gdb
    from . import inferior_call, syscall_inject
    try:
        if method.name == "call":
            return inferior_call.call_shutdown(target.pid, target.reader, sock.fd, how,
                                               method.libc)
        return syscall_inject.shutdown(sock.fd, how)
    except inferior_call.CallFailed as e:
        raise SocketsError(str(e)) from None
    except gdb.error as e:  # the process died under gdb, most likely: the caller looks
        raise SocketsError("gdb failed: %s" % str(e).split("\n")[0]) from None


def perform_shutdown(target, chosen: Sequence[Socket], how: int, method: Method,
                     forecasts: Optional[Dict[int, list]] = None) -> List[Outcome]:
    """Shut each chosen socket down, then read the tables again: one Outcome each.

    A failure of the call itself (crash, timeout, a gdb error) is recorded
    in its Outcome and the remaining sockets are not attempted: nothing
    falls through to another method.  If the process died meanwhile, that
    alone is said (SocketsError): nothing else about it would be true.
    """
    calls = waiting_calls(target, chosen)
    outcomes = []
    for sock in chosen:
        outcome = Outcome(fd=sock.fd, how=how, method=method.name, before=sock,
                          notes=list(method.notes), stopped=target.stopped,
                          predictions=list((forecasts or {}).get(sock.fd, ())))
        outcomes.append(outcome)
        try:
            outcome.retval, outcome.errno = _run_method(target, method, sock, how)
        except SocketsError as e:
            _refuse_if_died(target, settle=1.0)
            outcome.failure = str(e)
            outcome.interrupted = str(e).startswith("interrupted (Ctrl-C)")
            break
        except KeyboardInterrupt:  # Ctrl-C between two sockets, or in a pidfd call
            outcome.failure, outcome.interrupted = "interrupted (Ctrl-C)", True
            break
    if not target.stopped:
        # A process that runs on may end of what was done (a writer's
        # SIGPIPE, predicted and forced): that is an outcome, not a failure.
        ended = process_death(target.reader, target.pid)
        if ended is not None:
            for outcome in outcomes:
                outcome.process_ended = ended
            return outcomes
    _refuse_if_died(target)
    # With the threads still where they were (the process is stopped): the
    # same waiters, so that the after-state says who waits on it too.
    after = {s.fd: s for s in annotated(target, listing_after(target, outcomes), None).sockets}
    for outcome in outcomes:
        outcome.after = after.get(outcome.fd)
        outcome.connection_state = _connection_state(target, outcome)
    check_waiters(target, outcomes, calls)
    if target.stopped and not target.remote:
        _check_predictions(target, outcomes)
    return outcomes


def listing_after(target, outcomes: Sequence[Outcome]) -> Listing:
    """The records of the fds acted on, and of the other fds that named the
    same sockets before (their ``also_fds``), read again: only those links,
    rows and waiters (a process of 20,000 sockets is not listed twice)."""
    fds = {o.fd for o in outcomes} | {fd for o in outcomes for fd in o.before.also_fds}
    return list_sockets(target.reader, target.pid, local=not target.remote, fds=fds)


def waiting_calls(target, chosen: Sequence[Socket]) -> Dict[int, InSyscall]:
    """lwp -> the call each thread waiting on a chosen socket is in, just
    before acting; empty for a stopped process (nothing moves until it
    resumes)."""
    if target.stopped:
        return {}
    calls = {}
    for sock in chosen:
        for waiter in sock.waiters:
            state, call = thread_call(target.reader, target.pid, waiter.lwp)
            if state == IN_CALL:
                calls[waiter.lwp] = call
    return calls


def check_waiters(target, outcomes: Sequence[Outcome], calls: Dict[int, InSyscall],
                  grace: float = 0.2) -> None:
    """On a process that runs on: did each thread that waited on a shut socket
    leave its call?  Said in the outcome's notes.

    ``calls`` is ``waiting_calls`` from before.  A thread running when
    looked at may be waking, or may have been woken for nothing (a state
    change wakes every waiter, which may sleep again): it is looked at
    again every 10 ms for up to ``grace`` seconds.  In the same call with
    the same arguments and stack, it still waits (or waits again, in a
    loop); in another call, in none, or gone, it left.
    """
    for outcome in outcomes:
        if not outcome.ok:
            continue
        for waiter in outcome.before.waiters:
            if waiter.lwp not in calls:
                continue
            deadline = time.monotonic() + grace
            state, call = thread_call(target.reader, target.pid, waiter.lwp)
            while state == RUNNING and time.monotonic() < deadline:
                time.sleep(0.01)
                state, call = thread_call(target.reader, target.pid, waiter.lwp)
            if state == RUNNING:
                note = ("LWP %d was running each time it was looked at for %.1f s: whether "
                        "it left %s is not known" % (waiter.lwp, grace, waiter.syscall))
            elif state == IN_CALL and call == calls[waiter.lwp]:
                note = "LWP %d still waits in %s on fd %d" % (waiter.lwp, waiter.syscall,
                                                              outcome.fd)
            elif state == GONE:
                note = "checked: LWP %d has exited" % waiter.lwp
            else:
                note = "checked: LWP %d left %s on fd %d" % (waiter.lwp, waiter.syscall,
                                                             outcome.fd)
            outcome.notes.append(note)


def _refuse_if_died(target, settle: float = 0.0) -> None:
    """Raise SocketsError saying how, if the process died during the operation."""
    how = process_death(target.reader, target.pid, settle)
    if how is not None:
        raise SocketsError("process %d died during the operation (%s); nothing is left to "
                           "put back" % (target.pid, how))


def process_death(reader, pid: int, settle: float = 0.0) -> Optional[str]:
    """How process ``pid`` died ('killed by SIGKILL', 'exited with status 3',
    'died'), or None while it lives; ``reader`` reads its /proc (local or
    through gdbserver).

    A process killed while gdb held it takes a moment to become a zombie:
    after a failure, ``settle`` seconds are given to a process that is
    neither stopped nor dead to become one or the other.
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            stat = reader.read("/proc/%d/stat" % pid)
        except FileNotFoundError:
            return "died"
        except OSError:
            return None
        fields = stat[stat.rindex(b")") + 2:].split()
        state = fields[:1]
        if state in ([b"Z"], [b"X"]):
            break
        if state in ([b"t"], [b"T"]) or time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
    # Field 52, exit_code: the status waitpid() will see.
    if len(fields) <= 49 or not fields[49].isdigit():
        return "died"
    status = int(fields[49])
    if os.WIFSIGNALED(status):
        return "killed by %s" % _signal_name(os.WTERMSIG(status))
    return "exited with status %d" % os.WEXITSTATUS(status)


def _signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return "SIG%d" % signo


def _check_predictions(target, outcomes: Sequence[Outcome]) -> None:
    """Each prediction against the socket's poll mask right after the act,
    read through a copy while the process is still stopped (local only)."""
    wanted = [o for o in outcomes if o.ok and o.predictions and o.after is not None]
    if not wanted:
        return
    try:
        copies = FdCopies(target.pid)
    except CopyUnavailable:
        return  # the report then says only what was predicted
    with copies:
        for outcome in wanted:
            copy = copies.copy(outcome.fd, outcome.before.inode)
            if copy is None:
                continue
            ready = copies.poll_mask(copy)
            kind = predict.socket_kind(outcome.before.proto, outcome.before.type)
            waits = {w.lwp: w for w in outcome.before.waiters}
            for p in outcome.predictions:
                waiter = waits.get(p.lwp)
                if waiter is None:
                    continue
                said = predict.check(p, predict.wait_of(waiter, predict.Sigpipe("unknown")),
                                     kind, ready)
                if said is not None:
                    outcome.checks[p.lwp] = said


def _connection_state(target, outcome: Outcome) -> Optional[str]:
    """Where a TCP connection went when its fd's socket left the table:
    TIME-WAIT (or an orphan state) in a row of no fd, or None."""
    before, after = outcome.before, outcome.after
    if (after is None or after.in_table or not before.in_table
            or before.proto not in ("tcp", "tcp6") or before.peer is None):
        return None
    try:
        text = target.reader.read("/proc/%d/net/%s" % (target.pid, before.proto))
    except OSError:
        return None
    return procnet.fdless_state(text, before.proto, before.local, before.peer)
