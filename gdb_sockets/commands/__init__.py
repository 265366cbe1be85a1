"""The gdb commands: argument parsing and printing around the API (gdb glue)."""

from __future__ import annotations

import gc
import sys
from dataclasses import replace

import gdb

from ..view import notes
from .. import api
from ..kernel import sockopt
from ..view import options
from ..view import render
from ..view import shutdown_report
from ..errors import SocketsError
from ..model import PROTO_NAMES, STATE_NAMES

INFO_SOCKETS_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG, holders=options.FLAG,
                            extended=options.FLAG)
SOCK_SHUTDOWN_OPTIONS = dict(options.FILTER_OPTIONS, json=options.FLAG,
                             method=options.VALUE, **{"dry-run": options.FLAG})


_ANSI_COLOURS = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34,
                 "magenta": 35, "cyan": 36, "white": 37}
_ANSI_INTENSITY = {"bold": "1", "dim": "2"}


def _gdb_style(name: str) -> str:
    """The escape sequence of one of gdb's own styles ('address', 'file'...)."""
    colour = _ANSI_COLOURS.get(gdb.parameter("style %s foreground" % name))
    intensity = _ANSI_INTENSITY.get(gdb.parameter("style %s intensity" % name))
    codes = [c for c in (intensity, str(colour) if colour else None) if c]
    return "\x1b[%sm" % ";".join(codes) if codes else ""


def table_colorizer():
    """Colours for the table when gdb styles its own output, else None.

    Endpoints take gdb's 'address' style, so a user's 'set style address'
    applies; states are green when healthy and yellow when closing or stuck
    half-way.  gdb -batch and 'set style enabled off' turn this off.
    """
    if not gdb.parameter("style enabled"):
        return None
    styles = {"endpoint": _gdb_style("address"), "state:ok": "\x1b[32m",
              "state:trouble": "\x1b[33m", "state:unknown": "\x1b[31m"}

    def colorize(kind: str, text: str) -> str:
        start = styles.get(kind, "")
        return "%s%s\x1b[m" % (start, text) if start else text
    return colorize


def _socket_fds():
    """The selected process's socket fds as text, for completion (none if unknown)."""
    try:
        return [str(s.fd) for s in api.list_target_sockets("sock-shutdown").sockets]
    except SocketsError:
        return []


def _state_words():
    return [s.lower() for s in STATE_NAMES]


def _complete_words(text: str, word: str, candidates):
    """Completions of the last whitespace-separated token of ``text``.

    gdb also breaks words at '-', so ``word`` may be only the end of the
    token ("st" of "-st"); the candidates are cut to replace just that.
    """
    token = "" if not text or text.endswith(" ") else text.split()[-1]
    cut = len(token) - len(word or "")
    return [c[cut:] for c in candidates if c.startswith(token)]


def _option_named(token: str, spec):
    """The option a typed token names (a unique prefix works), or None."""
    if not token.startswith("-") or token == "--":
        return None
    try:
        return options.resolve("", token[1:], spec)
    except SocketsError:
        return None


def _complete_options(text: str, word: str, spec, values, others=()):
    """Option names, the value after a value option, else ``others``."""
    tokens = text.split()
    if text.endswith(" ") or not text:
        previous = tokens[-1] if tokens else ""
        token = ""
    else:
        previous = tokens[-2] if len(tokens) > 1 else ""
        token = tokens[-1]
    option = _option_named(previous, spec)
    if option is not None and spec[option] == options.VALUE:
        # A value: from the list where there is one; -port, -local, -peer are free text.
        return _complete_words(text, word, values.get(option, [])) or gdb.COMPLETE_NONE
    if token.startswith("-"):
        return _complete_words(text, word, ["-" + name for name in sorted(spec)])
    return _complete_words(text, word, others) if others else gdb.COMPLETE_NONE


def _with_detail_lines(table: str, shown) -> str:
    """The table with an indented line of -extended detail under each socket."""
    lines = table.split("\n")
    out = lines[:1]
    for line, sock in zip(lines[1:], shown):
        out.append(line)
        found = sock.extra.get("details")
        text = sockopt.details_text(found) if found is not None else "(no detail: the fd changed)"
        owner = "uid %s" % (sock.uid if sock.uid is not None else "?")
        out.append("      %s  %s" % (owner, text) if text else "      " + owner)
    return "\n".join(out)


class _Command(gdb.Command):
    """Shared by our commands: a SocketsError becomes a clean gdb error."""

    repeat = True  # pressing Enter runs the command again

    def invoke(self, argument, from_tty):
        if not self.repeat:
            self.dont_repeat()
        # A big target makes tens of thousands of records, which set off
        # the cyclic garbage collector again and again (~50 ms of 240 at
        # 20k sockets); they hold no cycles, so it waits until we are done.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._run(argument)
        except SocketsError as e:
            raise gdb.GdbError(str(e)) from None
        finally:
            if collecting:
                gc.enable()

    def _run(self, argument):
        raise NotImplementedError


class InfoSockets(_Command):
    """List the sockets of the current process, fd by fd.

Usage: info sockets [-json] [-extended] [-holders] [-proto NAME]... [-state NAME]...
                    [-port N] [-local ADDR[:PORT]] [-peer ADDR[:PORT]] [--] [FD]...

Shows one line per socket fd of the process being debugged: its protocol,
its state in ss's words (ESTAB, LISTEN, CLOSE-WAIT, UNCONN...), the receive
and send queues, the local and peer addresses, and the socket's inode.
The kernel's tables are read from /proc/PID/net of the process itself, so
a process in a container is shown in its own network namespace.

UNIX sockets show their path (abstract names start with '@') and their
peer as "PATH (peer INODE)".  A socket in no kernel table (a fresh socket,
unbound UDP) shows its protocol, state UNCONN and '-' for what is unknown;
'?' is a state nothing tells (a protocol with no table, such as SCTP).
Paths are escaped: control characters and bytes that are not UTF-8 print
as \\n, \\xNN.

Options:
  -json        Print a JSON array instead of the table (keys: fd, inode,
               proto, state, recv_q, send_q, local, peer, type...).
  -proto NAME  Only this protocol: tcp tcp6 udp udp6 udplite udplite6 raw
               raw6 ping ping6 unix packet netlink; tcp, udp, udplite, raw
               and ping mean both IP versions, tcp4 (etc.) IPv4 only.
  -state NAME  Only sockets in this state (any case, '_' for '-'), e.g.
               -state close-wait.  Repeat -proto or -state to allow several.
  -port N      Only sockets with this local or peer port.
  -local ADDR[:PORT], -peer ADDR[:PORT]
               Only sockets with this local or peer end: 127.0.0.1:8080,
               [::1]:443, *:80, or a UNIX path (/run/app.sock, @name).
  -holders     Also name the other processes holding each socket (scans
               every process's fds, which takes longer).
  -extended    Under each socket: owner uid, receive and send memory
               against the buffer sizes (ss -m), drops; for TCP the
               retransmission timer (rto), rtt, retransmits, backoff and
               probes; for a listener its accept queue and backlog.
  FD           Only these file descriptors.

The Notes column names the threads blocked on a socket right now
("LWP 4242 recvfrom") and the other fds of the process that name the
same socket ("also fd 9").

Any unique prefix of an option works (-j, -s); '--' ends the options.

See also: help sock-shutdown."""

    def __init__(self):
        super().__init__("info sockets", gdb.COMMAND_STATUS)

    def complete(self, text, word):
        values = {"state": _state_words(), "proto": list(PROTO_NAMES)}
        return _complete_options(text, word, INFO_SOCKETS_OPTIONS, values)

    def _run(self, argument):
        command = "info sockets"
        parsed = options.parse(command, gdb.string_to_argv(argument), INFO_SOCKETS_OPTIONS)
        selection = options.build_filter(command, parsed, parsed.args)
        result = api.list_target_sockets(command, holders=parsed.flag("holders"))
        shown = selection.apply(result.sockets)
        extended = api.socket_details(command, shown) if parsed.flag("extended") else None
        if extended is not None:
            shown = [replace(s, extra=dict(s.extra, details=extended.get(s.fd)))
                     for s in shown]
        if parsed.flag("json"):
            gdb.write(render.format_json(shown) + "\n")
            return
        if not result.sockets:
            gdb.write("Process %d has no sockets.\n" % result.pid)
        elif not shown:
            gdb.write("No socket of process %d matches.\n" % result.pid)
        else:
            cells = [notes.notes_text(s) for s in shown]
            table = render.format_table(shown, table_colorizer(), cells)
            if extended is not None:
                table = _with_detail_lines(table, shown)
            gdb.write(table + "\n")
        for note in result.notes:
            gdb.write("Note: %s.\n" % note)


def _batch_mode() -> bool:
    """gdb -batch answers every query yes, but says nothing to Python about it."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return any(arg in (b"-batch", b"--batch", b"-batch-silent", b"--batch-silent")
               for arg in args)


def confirm(question: str, stream=gdb.STDOUT) -> bool:
    """Ask as gdb's own query() does: only when confirm is on and a user is there."""
    if not gdb.parameter("confirm"):
        return True
    if _batch_mode() or not sys.stdin.isatty():
        gdb.write("%s(y or n) [answered Y; input not from terminal]\n" % question, stream)
        return True
    while True:
        try:
            answer = input("%s(y or n) " % question).strip().lower()
        except EOFError:
            gdb.write("EOF [answered Y; input not from terminal]\n")
            return True
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        gdb.write("Please answer y or n.\n")


class SockShutdown(_Command):
    """Shut down a socket of the current process, safely, and show what changed.

Usage: sock-shutdown [OPTIONS] FD... [read|write|both]
       sock-shutdown [OPTIONS] FILTER... [FD]... [read|write|both]

Runs shutdown(FD, HOW) inside the process (default both, SHUT_RDWR), then
reads the kernel's tables again and prints the socket's state before and
after, the return value, and errno by name on failure.  Unlike
'call close(FD)', shutdown keeps the fd number allocated, so no other
thread can be handed it, while a thread blocked on the socket wakes up.

A thread blocked in recv(), poll() or accept() on the socket returns when
the process resumes (after 'continue' or 'detach').  A listening socket
accepts no more connections, for good: you are asked first.  The
process's errno, registers and gdb's settings and value history are left
as they were.

Options:
  -state NAME   Shut down every socket in this state, e.g. -state close-wait.
  -proto NAME   Only sockets of this protocol (as in 'info sockets').
  -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Only sockets with this port or end (as in 'info sockets').
  -dry-run      Show what would be shut down, and do nothing.
  -method NAME  How: auto (default), call (libc's shutdown run in the
                selected thread), syscall, pidfd.
  -json         Print the outcome as JSON.

Several sockets, or a listening one, need confirmation ('set confirm off'
or gdb -batch answers yes).

See also: info sockets."""

    repeat = False  # Enter must not shut down a second time

    def __init__(self):
        super().__init__("sock-shutdown", gdb.COMMAND_RUNNING)

    def complete(self, text, word):
        values = {"state": _state_words(), "proto": list(PROTO_NAMES),
                  "method": list(api.METHODS)}
        return _complete_options(text, word, SOCK_SHUTDOWN_OPTIONS, values,
                                 others=_socket_fds() + sorted(shutdown_report.HOW))

    def _run(self, argument):
        command = "sock-shutdown"
        parsed = options.parse(command, gdb.string_to_argv(argument), SOCK_SHUTDOWN_OPTIONS)
        args = list(parsed.args)
        how_word = args.pop() if args and args[-1].lower() in shutdown_report.HOW else None
        how = shutdown_report.parse_how(command, how_word)
        selection = options.build_filter(command, parsed, args)
        methods = parsed.values("method") or ["auto"]
        if len(methods) > 1:
            raise SocketsError("%s: give -method once" % command)
        if selection.fds is None and not selection.selects_by_property:
            raise SocketsError("%s: which socket? give an fd (see 'info sockets') or a "
                               "filter such as -state close-wait; usage: sock-shutdown FD "
                               "[read|write|both]" % command)
        dry_run = parsed.flag("dry-run")
        target, chosen, method = api.plan_shutdown(command, selection,
                                                   None if dry_run else methods[0])
        if not chosen:
            gdb.write("No socket of process %d matches; nothing done.\n" % target.pid)
            return
        plan = shutdown_report.plan_lines(chosen, how)
        if dry_run:
            gdb.write("Would shut down in process %d:\n%s\n(dry run: nothing done)\n"
                      % (target.pid, "\n".join(plan)))
            return
        # Only a shutdown for reading stops a listener (SHUT_WR does nothing to it).
        listeners = [s for s in chosen if s.state == "LISTEN"] if how != 1 else []
        shared = shutdown_report.shared_elsewhere(chosen)
        if len(chosen) > 1 or listeners or shared:
            # Said whether or not confirmation is on: what else this touches.
            # With -json it goes to stderr, so that stdout is only the JSON.
            stream = gdb.STDERR if parsed.flag("json") else gdb.STDOUT
            gdb.write("About to shut down in process %d:\n%s\n" % (target.pid, "\n".join(plan)),
                      stream)
            if listeners:
                gdb.write("A listening socket accepts no more connections, for good.\n", stream)
            if shared:
                gdb.write("Other processes hold the same socket and lose it too.\n", stream)
            question = "Shut down %d socket%s? " % (len(chosen), "s" if len(chosen) > 1 else "")
            if not confirm(question, stream):
                raise SocketsError("%s: not confirmed; nothing done" % command)
        outcomes = api.perform_shutdown(target, chosen, how, method)
        if parsed.flag("json"):
            import json
            gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
        else:
            for outcome in outcomes:
                gdb.write("\n".join(shutdown_report.report(outcome)) + "\n")
        _fail_unless_all_ok(command, outcomes, len(chosen))


def _fail_unless_all_ok(command, outcomes, wanted):
    failed = [o for o in outcomes if not o.ok]
    if not failed and len(outcomes) == wanted:
        return
    parts = []
    for o in failed:
        if o.failure:
            parts.append("fd %d: %s" % (o.fd, o.failure))
        elif o.already_shut:
            parts.append("fd %d: already shut down" % o.fd)
        else:
            parts.append("fd %d: %s" % (o.fd, shutdown_report.errno_text(o.errno or 0)))
    if len(outcomes) < wanted:
        parts.append("%d not attempted after that failure" % (wanted - len(outcomes)))
    raise SocketsError("%s: failed: %s" % (command, "; ".join(parts)))


def register() -> None:
    """Create the commands; gdb replaces a command registered again."""
    InfoSockets()
    SockShutdown()
