"""The command line: `info sockets` and `sock-shutdown` for a live process, no gdb.

    python3 -m gdb_sockets PID [OPTIONS] [FD]...
    python3 -m gdb_sockets PID shutdown [OPTIONS] FD... [read|write|both]
    python3 -m gdb_sockets PID timeout [OPTIONS] FD... SECONDS
    python3 -m gdb_sockets PID kill [OPTIONS] FD...

As thin as the gdb commands (commands/): the options are theirs (the same
tables and parser, view/options.py), the work is the same layers' (view/,
actions/), on a kernel/process.Target that open_process makes from the
pid instead of gdb's inferior.  The process is never stopped or attached:
the listing reads /proc and sock_diag, the shutdown runs on a pidfd_getfd
copy (the method that needs no debugger), and the threads that waited on
the socket are looked at again afterwards.  timeout and kill are
sock-timeout and sock-kill (actions/remedies.py), which need no debugger
anyway: a copy of the socket, or SOCK_DESTROY from the process's network
namespace.

Exit status: 0 done, 1 a failure the user can act on (one line on
stderr), 2 bad usage (the arguments were refused before anything was read).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
from typing import List, Optional, Sequence

from .actions import remedies, shutdown_run
from .errors import SocketsError
from .kernel.process import open_process
from .listing.records import gc_paused
from .view import inspect, options, remedy_report, shutdown_report

PROG = "gdb_sockets"
USAGE = """\
usage: python3 -m gdb_sockets PID [OPTIONS] [FD]...
       python3 -m gdb_sockets PID shutdown [OPTIONS] FD... [read|write|both]
       python3 -m gdb_sockets PID timeout [OPTIONS] FD... SECONDS
       python3 -m gdb_sockets PID kill [OPTIONS] FD...
       python3 -m gdb_sockets [PID] [shutdown|timeout|kill] --help"""

LIST_HELP = """\
usage: python3 -m gdb_sockets PID [-json] [-extended] [-holders] [-proto NAME]...
                              [-state NAME]... [-port N] [-local ADDR[:PORT]]
                              [-peer ADDR[:PORT]] [--] [FD]...

List the sockets of process PID, fd by fd, as gdb's 'info sockets' does,
without stopping the process: nothing attaches to it (no ptrace), its
threads run on.  One line per socket fd: protocol, state in ss's words,
receive and send queues, local and peer address, inode, and in Notes the
threads blocked on it and the other fds naming it.  A thread that is
running when its system call is read cannot be said to wait: a note says
which.

Options (the same as gdb's 'info sockets'; single dash, any unique prefix,
'--' ends them):
  -json        One JSON object on one line: {"host": ..., "pid": ...,
               "sockets": [the rows of 'info sockets -json'], "notes": [...]},
               so the outputs of many hosts concatenate (JSON Lines).
  -proto NAME  Only this protocol: tcp tcp6 udp udp6 udplite udplite6 raw
               raw6 ping ping6 unix packet netlink; tcp (etc.) means both IP
               versions, tcp4 IPv4 only.
  -state NAME  Only this state (any case, '_' for '-'), e.g. close-wait.
               Repeat -proto or -state to allow several.
  -port N      Only sockets with this local or peer port.
  -local ADDR[:PORT], -peer ADDR[:PORT]
               Only sockets with this end: 127.0.0.1:8080, [::1]:443, *:80,
               or a UNIX path (/run/app.sock, @name).
  -holders     Also name the other processes holding each socket.
  -extended    Under each socket: owner, socket memory, TCP timers, backlog.
  FD           Only these file descriptors.

Exit status: 0 listed, 1 an error (no such process, permission), 2 bad usage.
See also: python3 -m gdb_sockets PID shutdown|timeout|kill --help; in gdb,
help info sockets."""

SHUTDOWN_HELP = """\
usage: python3 -m gdb_sockets PID shutdown [OPTIONS] FD... [read|write|both]
       python3 -m gdb_sockets PID shutdown [OPTIONS] FILTER... [FD]... [read|write|both]

Shut down a socket of process PID, as gdb's 'sock-shutdown -method pidfd'
does, without stopping the process: the socket is copied into this process
(pidfd_getfd, Linux 5.6 or later, the same rights as ptrace) and shutdown()
runs on the copy, which is the same socket; no code runs in the process.
A thread blocked in recv(), poll() or accept() on it wakes at once.  The
socket's state before and after is read from the kernel's tables.

A listening socket accepts no more connections, for good.  Several sockets,
a listener, or a socket that other processes hold too are asked about at a
terminal; when the input is not a terminal the command refuses unless
-yes is given.

Options:
  -state NAME, -proto NAME, -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Choose sockets as in the listing (see --help there).
  -dry-run      Show what would be shut down, and do nothing.
  -yes          Do it without asking (needed when input is not a terminal).
  -force        Do it even where a waiting thread is predicted to kill the
                process (SIGPIPE) or to spin (as in 'help sock-shutdown');
                without it such a shutdown is refused, or asked about at a
                terminal (-yes does not answer that).
  -json         One JSON object on one line: {"host": ..., "pid": ...,
                "outcomes": [what 'sock-shutdown -json' prints]}.
  -method NAME  auto or pidfd (the same here); call and syscall run code in
                the stopped process and need gdb.
Directions: read (SHUT_RD), write (SHUT_WR), both (SHUT_RDWR, the default).

Exit status: 0 every socket shut down, 1 an error or a failed shutdown
(nothing is done after the first failure), 2 bad usage.
See also: in gdb, help sock-shutdown."""

TIMEOUT_HELP = """\
usage: python3 -m gdb_sockets PID timeout [OPTIONS] FD... SECONDS
       python3 -m gdb_sockets PID timeout [OPTIONS] FILTER... [FD]... SECONDS
       python3 -m gdb_sockets PID timeout -keepalive on|off -idle S -interval S
                              -count N -user-timeout MS FD...

Have the kernel drop a connection of process PID whose peer has stopped
answering, as gdb's 'sock-timeout' does, without stopping the process:
TCP keepalive is turned on and TCP_USER_TIMEOUT set on a copy of the
socket (pidfd_getfd, the same socket); no code runs in the process.  A
peer that answers nothing for about SECONDS (5m, 2h also work) is then
dropped, and a thread blocked on the socket fails with ETIMEDOUT; a live
peer answers the probes and nothing happens.  The report gives the old
and new values, when at the latest the kernel gives up, and the command
that puts the old values back.

Only connected TCP sockets are accepted; others are refused with the
reason, before anything is set.  Several sockets, or one that other
processes hold too, are asked about at a terminal; when the input is not
a terminal the command refuses unless -yes is given.

Options:
  -state NAME, -proto NAME, -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Choose sockets as in the listing (see --help there).
  -keepalive on|off, -idle S, -interval S, -count N, -user-timeout MS
                Set exactly these values (all five together) instead of
                SECONDS: the report's line to put the old values back.
  -dry-run      Show the old values and what would be set, and do nothing.
  -yes          Do it without asking (needed when input is not a terminal).
  -json         One JSON object on one line: {"host": ..., "pid": ...,
                "outcomes": [what 'sock-timeout -json' prints]}.

Exit status: 0 every socket set, 1 an error or a failed setsockopt, 2 bad
usage.
See also: in gdb, help sock-timeout."""

KILL_HELP = """\
usage: python3 -m gdb_sockets PID kill [OPTIONS] FD...
       python3 -m gdb_sockets PID kill [OPTIONS] FILTER... [FD]...

Abort a TCP or UDP socket of process PID, as gdb's 'sock-kill' does,
without stopping the process: a SOCK_DESTROY request (as 'ss -K') with
the socket's 4-tuple and cookie, from the process's network namespace, so
no other socket can be hit.  The peer of a TCP socket gets a reset at
once; a thread blocked on the socket fails with ECONNABORTED; the fd stays
open.  Where SOCK_DESTROY cannot run, a TCP socket is disconnected through
a copy (connect AF_UNSPEC: also a reset).  No code runs in the process.

UNIX sockets, listeners and sockets that are not connected are refused
with the reason, before anything is done.  Several sockets, or one that
other processes hold too, are asked about at a terminal; when the input is
not a terminal the command refuses unless -yes is given.

Options:
  -state NAME, -proto NAME, -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Choose sockets as in the listing (see --help there).
  -dry-run      Show what would be aborted (the cookie), and do nothing.
  -yes          Do it without asking (needed when input is not a terminal).
  -json         One JSON object on one line: {"host": ..., "pid": ...,
                "outcomes": [what 'sock-kill -json' prints]}.

Exit status: 0 every socket aborted, 1 an error or a failed abort, 2 bad
usage.
See also: in gdb, help sock-kill."""

SUBCOMMANDS = {"shutdown": SHUTDOWN_HELP, "timeout": TIMEOUT_HELP, "kill": KILL_HELP}
CLI_TIMEOUT_OPTIONS = dict(remedy_report.SOCK_TIMEOUT_OPTIONS, yes=options.FLAG)
CLI_KILL_OPTIONS = dict(remedy_report.SOCK_KILL_OPTIONS, yes=options.FLAG)
TIMEOUT_USAGE = "python3 -m gdb_sockets PID timeout FD... SECONDS"
KILL_USAGE = "python3 -m gdb_sockets PID kill FD..."
# plan()'s words for a remote target; open_process never makes one.
_LOCAL_ONLY = "the command line acts on a process of its own host only"
CLI_SHUTDOWN_OPTIONS = dict(options.SOCK_SHUTDOWN_OPTIONS, yes=options.FLAG, force=options.FLAG)
SHUTDOWN_USAGE = "python3 -m gdb_sockets PID shutdown FD [read|write|both]"


_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also takes '²', which int() refuses


class Usage(Exception):
    """The arguments were refused before anything was read: exit status 2."""


def _message(who: str, error: Exception) -> str:
    """The one line on stderr: who says it, then the message."""
    return "%s: %s" % (who, error)


def _split(argv: Sequence[str]):
    """(pid text or None, subcommand or None, the rest, help asked).

    ``--help`` anywhere before a ``--`` asks for help; after it, it is an
    argument like any other.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    wants_help = "--help" in argv[:end]
    args = [a for a in argv[:end] if a != "--help"] + list(argv[end:])
    pid_text = args.pop(0) if args and not args[0].startswith("-") \
        and args[0] not in SUBCOMMANDS and args[0] != "help" else None
    subcommand = None
    if args and args[0] in SUBCOMMANDS:
        subcommand = args.pop(0)
    elif args and args[0] == "help":
        wants_help = True
        args.pop(0)
        if args and args[0] in SUBCOMMANDS:
            subcommand = args.pop(0)
    elif args and not args[0].startswith("-") and not _DIGITS.fullmatch(args[0]):
        raise Usage("unknown subcommand %r (subcommands: %s)\n%s"
                    % (args[0], " ".join(sorted(SUBCOMMANDS)), USAGE))
    return pid_text, subcommand, args, wants_help


def _pid(text: Optional[str]) -> int:
    if text is None:
        raise Usage("which process? give its pid\n%s" % USAGE)
    if not _DIGITS.fullmatch(text) or len(text) > 10 or int(text) == 0:
        raise Usage("%r is not a process id\n%s" % (text, USAGE))
    return int(text)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # A pipe closed early (| head) ends us quietly, as it does other tools.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    who = PROG
    try:
        pid_text, subcommand, args, wants_help = _split(argv)
        if wants_help:
            sys.stdout.write((SUBCOMMANDS.get(subcommand) or LIST_HELP) + "\n")
            return 0
        if subcommand:
            who = "%s %s" % (PROG, subcommand)
        pid = _pid(pid_text)
        with gc_paused():
            if subcommand == "shutdown":
                return _shutdown(pid, args)
            if subcommand == "timeout":
                return _timeout(pid, args)
            if subcommand == "kill":
                return _kill(pid, args)
            return _list(pid, args)
    except Usage as e:
        sys.stderr.write(_message(who, e) + "\n")
        return 2
    except SocketsError as e:
        sys.stderr.write(_message(who, e) + "\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % who)
        return 130


def _parse(args: List[str], spec, build):
    """Parse with the gdb commands' own parser; its refusals are usage errors."""
    try:
        parsed = options.parse(args, spec)
        return parsed, build(parsed)
    except SocketsError as e:
        raise Usage(str(e)) from None


def _envelope(pid: int, **fields) -> str:
    """One line of JSON: who (host, pid) and what, so that the outputs of many
    hosts concatenate into JSON Lines."""
    document = dict({"host": socket.gethostname(), "pid": pid}, **fields)
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")) + "\n"


def _list(pid: int, args: List[str]) -> int:
    parsed, selection = _parse(args, options.INFO_SOCKETS_OPTIONS,
                               lambda p: options.build_filter(p, p.args))
    extended = parsed.flag("extended")
    target = open_process(pid)
    if not (extended or parsed.flag("holders") or selection.narrows or parsed.flag("json")):
        # Every socket as a table: a big target's rows are written without
        # a record each, as `info sockets` writes them.
        found = inspect.rows_of(target)
        if found is not None:
            sys.stdout.write(inspect.rows_text(found))
            return 0
    result, shown, any_socket = inspect.info_rows(target, selection, parsed.flag("holders"),
                                                  extended)
    # Every fd named gets an answer, as in gdb (on stderr with -json).
    answers = inspect.unanswered_fds(target, selection.fds, result.sockets, shown)
    if parsed.flag("json"):
        sys.stdout.write(_envelope(target.pid, sockets=[s.to_json() for s in shown],
                                   notes=result.notes))
        if answers:
            sys.stderr.write("\n".join(answers) + "\n")
    else:
        sys.stdout.write(inspect.listing_text(result, shown, None, extended, answers,
                                              has_sockets=any_socket))
    return 0


def _confirm(question: str, yes: bool, verb: str = "shut down") -> bool:
    """Ask at a terminal; refuse without -yes when the input is not one."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SocketsError("not confirmed: the input is not a terminal; give -yes to "
                           "%s without asking; nothing done" % verb)
    while True:
        sys.stderr.write("%s(y or n) " % question)
        sys.stderr.flush()
        answer = sys.stdin.readline()
        if not answer:
            return False
        answer = answer.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        sys.stderr.write("Please answer y or n.\n")


def _shutdown(pid: int, args: List[str]) -> int:
    parsed, (selection, how, method) = _parse(
        args, CLI_SHUTDOWN_OPTIONS, lambda p: options.shutdown_request(p, SHUTDOWN_USAGE))
    dry_run, as_json = parsed.flag("dry-run"), parsed.flag("json")
    target = open_process(pid)
    chosen, method = shutdown_run.plan_shutdown(target, selection, None if dry_run else method)
    if not chosen:
        sys.stdout.write("No socket of process %d matches; nothing done.\n" % target.pid)
        return 0
    forecasts, safer = inspect.forecasts(target, chosen, how)
    if dry_run:
        sys.stdout.write("Would shut down in process %d:\n%s\n(dry run: nothing done)\n"
                         % (target.pid, "\n".join(shutdown_report.plan_lines(chosen, how,
                                                                             forecasts))))
        return 0
    # With -json it goes to stderr, so that stdout is only the JSON.
    stream = sys.stderr if as_json else sys.stdout
    harm = shutdown_report.harm(chosen, how, forecasts, safer)
    if harm is not None and not parsed.flag("force"):
        if not sys.stdin.isatty():
            raise SocketsError(harm.refusal)
        stream.write("\n".join(harm.lines) + "\n")
        stream.flush()
        if not _confirm(harm.question, False):
            raise SocketsError("not confirmed; nothing done")
    asked = shutdown_report.confirmation(target.pid, chosen, how, forecasts)
    if asked is not None:
        stream.write("\n".join(asked.lines) + "\n")
        stream.flush()
        if not _confirm(asked.question, parsed.flag("yes")):
            raise SocketsError("not confirmed; nothing done")
    outcomes = shutdown_run.perform_shutdown(target, chosen, how, method, forecasts)
    if as_json:
        sys.stdout.write(_envelope(target.pid, outcomes=[o.to_json() for o in outcomes]))
    else:
        for done in outcomes:
            sys.stdout.write("\n".join(shutdown_report.report(done)) + "\n")
    failure = shutdown_report.failure_summary(outcomes, len(chosen))
    if failure:
        raise SocketsError(failure)
    return 0


def _ask(asked, stream, yes: bool, verb: str) -> None:
    """remedy_report.confirmation's lines and question, or nothing to ask."""
    if asked is None:
        return
    stream.write("\n".join(asked.lines) + "\n")
    stream.flush()
    if not _confirm(asked.question, yes, verb):
        raise SocketsError("not confirmed; nothing done")


def _timeout(pid: int, args: List[str]) -> int:
    parsed, (selection, wanted) = _parse(
        args, CLI_TIMEOUT_OPTIONS, lambda p: remedy_report.timeout_request(p, TIMEOUT_USAGE))
    dry_run, as_json = parsed.flag("dry-run"), parsed.flag("json")
    target = open_process(pid)
    chosen = remedies.plan(target, selection, remedy_report.timeout_refusal, _LOCAL_ONLY)
    if not chosen:
        sys.stdout.write("No socket of process %d matches; nothing done.\n" % target.pid)
        return 0
    if dry_run:
        outcomes = [remedies.read_timeout(target.pid, s, wanted) for s in chosen]
    else:
        _ask(remedy_report.confirmation("set a timeout on", target.pid, chosen),
             sys.stderr if as_json else sys.stdout, parsed.flag("yes"), "set a timeout")
        outcomes = [remedies.set_timeout(target.pid, s, wanted) for s in chosen]
    for outcome in outcomes:
        outcome.command = "python3 -m gdb_sockets %d timeout" % target.pid
    if as_json:
        sys.stdout.write(_envelope(target.pid, outcomes=[o.to_json() for o in outcomes]))
    else:
        for outcome in outcomes:
            sys.stdout.write("\n".join(remedy_report.timeout_lines(
                outcome, dry_run, target.stopped)) + "\n")
        if dry_run:
            sys.stdout.write("(dry run: nothing done)\n")
    failure = None if dry_run else remedy_report.timeout_failure(outcomes)
    if failure:
        raise SocketsError(failure)
    return 0


def _kill(pid: int, args: List[str]) -> int:
    parsed, selection = _parse(args, CLI_KILL_OPTIONS,
                               lambda p: remedy_report.kill_request(p, KILL_USAGE))
    dry_run, as_json = parsed.flag("dry-run"), parsed.flag("json")
    target = open_process(pid)
    chosen = remedies.plan(target, selection, remedy_report.kill_refusal, _LOCAL_ONLY)
    if not chosen:
        sys.stdout.write("No socket of process %d matches; nothing done.\n" % target.pid)
        return 0
    if dry_run:
        outcomes = [remedies.kill(target.pid, s, dry_run=True) for s in chosen]
        if as_json:
            sys.stdout.write(_envelope(target.pid, outcomes=[o.to_json() for o in outcomes]))
        else:
            sys.stdout.write("\n".join(remedy_report.kill_plan_lines(target.pid, outcomes))
                             + "\n")
        return 0
    _ask(remedy_report.confirmation("abort", target.pid, chosen),
         sys.stderr if as_json else sys.stdout, parsed.flag("yes"), "abort")
    outcomes = remedies.kill_all(target, chosen)
    if as_json:
        sys.stdout.write(_envelope(target.pid, outcomes=[o.to_json() for o in outcomes]))
    else:
        for outcome in outcomes:
            sys.stdout.write("\n".join(remedy_report.kill_lines(outcome, target.stopped))
                             + "\n")
    failure = remedy_report.kill_failure(outcomes)
    if failure:
        raise SocketsError(failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
