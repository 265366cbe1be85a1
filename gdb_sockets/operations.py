"""What `info sockets` and `sock-shutdown` do, on a target, with no gdb.

Both front ends call these: the gdb commands (commands.py, with the
target gdb has selected) and the command line (cli.py, with a process
named by its pid).  A target is anything with ``pid``, ``reader``,
``arch`` (None: unknown), ``remote`` and ``stopped`` (a debugger holds it
stopped, so the inferior call and the raw syscall can run, and what a
shutdown wakes happens when it resumes).

No gdb here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

from . import annotate, details, holders, listing, options, pidfd, render, shutdown, sockfd, waiters
from .errors import SocketsError
from .filters import SocketFilter
from .model import Socket

INFO_SOCKETS_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG, holders=options.FLAG,
                            extended=options.FLAG)
SOCK_SHUTDOWN_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG,
                             method=options.VALUE, **{"dry-run": options.FLAG})


# --------------------------------------------------------------------------
# The listing


def _unix_diag_for(target):
    """sock_diag runs on this host: it can only ask about a local target."""
    from . import sockdiag
    return None if target.remote else sockdiag.unix_query


def list_sockets(target, want_holders: bool = False) -> listing.Listing:
    """The target's sockets, annotated (waiters, dups, and other holders)."""
    if want_holders and target.remote:
        raise SocketsError("-holders needs a list of every process's fds, which the remote "
                           "protocol cannot give; run gdb on the target's host")
    result = listing.list_sockets(target.reader, target.pid, unix_diag=_unix_diag_for(target))
    scan = {s.inode for s in result.sockets} if want_holders else None
    return annotated(target, result, scan)


def running_threads(reader, pid: int) -> List[int]:
    """The threads whose /proc/PID/task/TID/syscall says ``running``.

    The kernel prints that for a thread in state R, on a CPU or waiting for
    one: what it will call next, or whether it is about to block on a
    socket, nobody can tell.
    """
    try:
        names = reader.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    running = []
    for tid in sorted(int(name) for name in names if name.isdigit()):
        try:
            data = reader.read("/proc/%d/task/%d/syscall" % (pid, tid))
        except OSError:
            continue
        if data.strip() == b"running":
            running.append(tid)
    return running


def annotated(target, result: listing.Listing, scan_inodes) -> listing.Listing:
    """``result`` with waiters, dups and, for ``scan_inodes``, other holders."""
    notes = list(result.notes)
    found_waiters = {}
    if target.remote:
        notes.append("blocked threads are not shown through gdbserver")
    elif target.arch is None:
        notes.append("blocked threads are not shown: the program's architecture is unknown")
    elif not waiters.known_arch(target.arch):
        notes.append("blocked threads are not shown on %s (x86-64 only)" % target.arch)
    else:
        fds = {s.fd for s in result.sockets}
        found_waiters = waiters.find_waiters(target.reader, target.pid, fds, arch=target.arch)
        if fds and not target.stopped:
            running = running_threads(target.reader, target.pid)
            if running:
                notes.append("%s %s running, so whether %s on a socket is not known" % (
                    ", ".join("LWP %d" % tid for tid in running),
                    "was" if len(running) == 1 else "were",
                    "it waits" if len(running) == 1 else "they wait"))
    scan = None
    if scan_inodes:
        scan = holders.other_holders(target.reader, target.pid, scan_inodes)
        if scan.hidden:
            notes.append("%d process%s could not be read, so other holders may be missing"
                         % (scan.hidden, "es" if scan.hidden != 1 else ""))
    sockets = annotate.annotate(result.sockets, found_waiters, scan)
    return listing.Listing(result.pid, sockets, notes)


def socket_details(target, sockets: Sequence[Socket]) -> dict:
    """fd -> the extended view of each socket (details.py), for local targets."""
    if target.remote:
        raise SocketsError("-extended asks each socket through a copy in this process, which "
                           "cannot reach a process on another host")
    try:
        return details.socket_details(target.pid, sockets)
    except sockfd.CopyUnavailable as e:
        raise SocketsError("-extended cannot copy the process's sockets: %s" % e) from None


@dataclass
class Shown:
    """What `info sockets` shows: the listing, the rows chosen, the -extended data."""

    result: listing.Listing
    sockets: List[Socket]
    extended: Optional[dict]


def info_sockets(target, parsed: options.Parsed, selection: SocketFilter) -> Shown:
    """The listing `info sockets` prints, for parsed options."""
    result = list_sockets(target, want_holders=parsed.flag("holders"))
    shown = selection.apply(result.sockets)
    extended = socket_details(target, shown) if parsed.flag("extended") else None
    if extended is not None:
        shown = [replace(s, extra=dict(s.extra, details=extended.get(s.fd))) for s in shown]
    return Shown(result, shown, extended)


def _with_detail_lines(table: str, shown) -> str:
    """The table with an indented line of -extended detail under each socket."""
    lines = table.split("\n")
    out = lines[:1]
    for line, sock in zip(lines[1:], shown):
        out.append(line)
        found = sock.extra.get("details")
        text = details.details_text(found) if found is not None else "(no detail: the fd changed)"
        owner = "uid %s" % (sock.uid if sock.uid is not None else "?")
        out.append("      %s  %s" % (owner, text) if text else "      " + owner)
    return "\n".join(out)


def listing_text(shown: Shown, colorize=None) -> str:
    """The table (or what stands for it) and the notes, as printed."""
    result = shown.result
    if not result.sockets:
        lines = ["Process %d has no sockets." % result.pid]
    elif not shown.sockets:
        lines = ["No socket of process %d matches." % result.pid]
    else:
        notes = [annotate.notes_text(s) for s in shown.sockets]
        table = render.format_table(shown.sockets, colorize, notes)
        if shown.extended is not None:
            table = _with_detail_lines(table, shown.sockets)
        lines = [table]
    lines.extend("Note: %s." % note for note in result.notes)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Shutdown


METHODS = ("auto", "call", "syscall", "pidfd")


@dataclass(frozen=True)
class Method:
    """The way shutdown will run, and why auto chose it (lines for the report)."""

    name: str
    notes: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ShutdownRequest:
    """sock-shutdown's arguments, checked."""

    selection: SocketFilter
    how: int
    method: str
    dry_run: bool
    json: bool


def parse_shutdown(command: str, parsed: options.Parsed) -> ShutdownRequest:
    """The request that parsed sock-shutdown options and arguments make."""
    args = list(parsed.args)
    how_word = args.pop() if args and args[-1].lower() in shutdown.HOW else None
    how = shutdown.parse_how(command, how_word)
    selection = options.build_filter(command, parsed, args)
    methods = parsed.values("method") or ["auto"]
    if len(methods) > 1:
        raise SocketsError("%s: give -method once" % command)
    if methods[0] not in METHODS:
        raise SocketsError("%s: unknown method %r; one of: %s"
                           % (command, methods[0], " ".join(METHODS)))
    if selection.fds is None and not selection.selects_by_property:
        raise SocketsError("%s: which socket? give an fd or a filter such as -state "
                           "close-wait; usage: %s FD [read|write|both]" % (command, command))
    return ShutdownRequest(selection, how, methods[0], parsed.flag("dry-run"),
                           parsed.flag("json"))


def choose_method_without_debugger(target, requested: str) -> Method:
    """A process no debugger holds: only pidfd runs no code in it."""
    if requested in ("call", "syscall"):
        raise SocketsError("-method %s runs code in the stopped process, which needs gdb: "
                           "gdb -p %d -batch -ex 'sock-shutdown -method %s FD'"
                           % (requested, target.pid, requested))
    return Method("pidfd")


def plan_shutdown(command: str, target, request: ShutdownRequest) -> List[Socket]:
    """The sockets to shut down, annotated; explicit fds must be open sockets."""
    for fd in sorted(request.selection.fds or ()):
        shutdown.refuse_unless_socket(command, target.reader, target.pid, fd)
    result = listing.list_sockets(target.reader, target.pid, unix_diag=_unix_diag_for(target))
    chosen = {s.fd for s in request.selection.apply(result.sockets)}
    # Other holders matter before acting: shutdown acts on the socket, for
    # every process that holds it.  Scan only for the chosen sockets.
    scan = None
    if chosen and not target.remote:
        scan = {s.inode for s in result.sockets if s.fd in chosen}
    return [s for s in annotated(target, result, scan).sockets if s.fd in chosen]


@dataclass(frozen=True)
class Confirmation:
    """What to say before asking, and the question."""

    lines: List[str]
    question: str


def confirmation(pid: int, chosen: Sequence[Socket], how: int) -> Optional[Confirmation]:
    """The question to ask before shutting ``chosen`` down, or None if none is needed.

    Several sockets, a listener (for read or both: SHUT_WR does nothing to
    it) or a socket another process holds too.
    """
    listeners = [s for s in chosen if s.state == "LISTEN"] if how != 1 else []
    shared = shutdown.shared_elsewhere(chosen)
    if len(chosen) <= 1 and not listeners and not shared:
        return None
    lines = ["About to shut down in process %d:" % pid] + shutdown.plan_lines(chosen, how)
    if listeners:
        lines.append("A listening socket accepts no more connections, for good.")
    if shared:
        lines.append("Other processes hold the same socket and lose it too.")
    question = "Shut down %d socket%s? " % (len(chosen), "s" if len(chosen) > 1 else "")
    return Confirmation(lines, question)


def perform_pidfd(target, chosen: Sequence[Socket], how: int,
                  method: Method) -> List[shutdown.Outcome]:
    """Shut each chosen socket down through a copy, then read the tables again."""
    outcomes = []
    for sock in chosen:
        outcome = shutdown.Outcome(fd=sock.fd, how=how, method=method.name, before=sock,
                                   notes=list(method.notes))
        outcomes.append(outcome)
        try:
            outcome.retval, outcome.errno = pidfd.shutdown_copy(target.pid, sock.fd,
                                                                sock.inode, how)
        except SocketsError as e:
            outcome.failure = str(e)
            break
    after = {s.fd: s for s in listing.list_sockets(
        target.reader, target.pid, unix_diag=_unix_diag_for(target)).sockets}
    for outcome in outcomes:
        outcome.after = after.get(outcome.fd)
    return outcomes


def failure_message(command: str, outcomes: Sequence[shutdown.Outcome],
                    wanted: int) -> Optional[str]:
    """The error for outcomes that are not all good, or None."""
    failed = [o for o in outcomes if not o.ok]
    if not failed and len(outcomes) == wanted:
        return None
    parts = []
    for o in failed:
        if o.failure:
            parts.append("fd %d: %s" % (o.fd, o.failure))
        elif o.already_shut:
            parts.append("fd %d: already shut down" % o.fd)
        else:
            parts.append("fd %d: %s" % (o.fd, shutdown.errno_text(o.errno or 0)))
    if len(outcomes) < wanted:
        parts.append("%d not attempted after that failure" % (wanted - len(outcomes)))
    return "%s: failed: %s" % (command, "; ".join(parts))


def _call_of(target, lwp: int):
    """(state, call): "running", "gone", or "in" with the parsed call (None:
    not in a system call)."""
    try:
        data = target.reader.read("/proc/%d/task/%d/syscall" % (target.pid, lwp))
    except OSError:
        return "gone", None
    if data.strip() == b"running":
        return "running", None
    return "in", waiters.parse_syscall(data)


def waiting_calls(target, chosen: Sequence[Socket]) -> dict:
    """lwp -> the call each thread waiting on a chosen socket is in, just before
    acting (for ``check_waiters``); empty for a stopped process."""
    if target.stopped:
        return {}
    calls = {}
    for sock in chosen:
        for waiter in sock.extra.get("waiters", []):
            state, call = _call_of(target, waiter["lwp"])
            if state == "in" and call is not None:
                calls[waiter["lwp"]] = call
    return calls


def check_waiters(target, outcomes: Sequence[shutdown.Outcome], calls: dict,
                  grace: float = 0.2) -> None:
    """On a process that runs on: did each thread that waited on a shut socket
    leave its call?  Said in the outcome's notes.

    ``calls`` is ``waiting_calls`` from before.  A thread that is running
    when looked at may be waking or may just have been woken for nothing
    (a state change wakes every waiter, which may sleep again): looked at
    again every 10 ms for up to ``grace`` seconds.  In the same call with
    the same arguments and stack means it still waits (or waits again, in
    a loop); in another call, or none, or gone, means it left.
    """
    import time
    for outcome in outcomes:
        if not outcome.ok:
            continue
        for waiter in outcome.before.extra.get("waiters", []):
            lwp = waiter["lwp"]
            if lwp not in calls:
                continue
            deadline = time.monotonic() + grace
            while True:
                state, call = _call_of(target, lwp)
                if state != "running" or time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
            if state == "running":
                note = ("LWP %d was running each time it was looked at for %.1f s: whether it "
                        "left %s is not known" % (lwp, grace, waiter["syscall"]))
            elif state == "in" and call == calls[lwp]:
                note = "LWP %d still waits in %s on fd %d" % (lwp, waiter["syscall"], outcome.fd)
            else:
                note = "checked: LWP %d left %s on fd %d" % (lwp, waiter["syscall"], outcome.fd)
            outcome.notes.append(note)
