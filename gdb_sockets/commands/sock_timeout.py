"""gdb glue: the `sock-timeout` command."""

from __future__ import annotations

import json

import gdb

from ..actions import remedies
from ..errors import SocketsError
from ..kernel.target import current_target
from ..model import FILTER_PROTOS
from ..view import options, remedy_report
from .base import SocketsCommand
from .completion import complete_options, socket_fds, state_words
from .confirm import confirm

OPTIONS = remedy_report.SOCK_TIMEOUT_OPTIONS


class SockTimeout(SocketsCommand):
    """Have the kernel drop a connection whose peer has stopped answering.

Usage: sock-timeout [OPTIONS] FD... SECONDS
       sock-timeout [OPTIONS] FILTER... [FD]... SECONDS
       sock-timeout -keepalive on|off -idle S -interval S -count N -user-timeout MS FD...

Turns on TCP keepalive and sets TCP_USER_TIMEOUT on the socket, through a
copy of it in gdb's own process (pidfd_getfd): no code runs in the
process.  A peer that answers nothing for about SECONDS (5m, 2h also
work) is then dropped by the kernel, and a thread blocked reading or
writing on the socket fails with ETIMEDOUT; a live peer answers the
keepalive probes and nothing happens to it.  Use it when you do not know
whether the peer is dead or only slow; sock-shutdown when you know it is
gone; sock-kill when the peer must be told at once.

The report gives the old and new values, when at the latest the kernel
gives up (a socket already silent longer than SECONDS is decided by its
first probe), and the command that puts the old values back: the
-keepalive, -idle, -interval, -count and -user-timeout options set
exactly those values (all five together).

Options:
  -state NAME, -proto NAME, -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Choose the sockets as in 'info sockets'.
  -dry-run      Show the old values and what would be set, and do nothing.
  -json         Print the outcome as JSON.

Only connected TCP sockets are accepted; other sockets are refused with
the reason, before anything is set.  Several sockets, or one that other
processes hold too, need confirmation ('set confirm off' or gdb -batch
answers yes).  Works on a process of gdb's own host only.

See also: sock-kill, sock-shutdown, info sockets."""

    NAME = "sock-timeout"
    repeat = False

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_RUNNING)

    def complete(self, text, word):
        values = {"state": state_words(), "proto": list(FILTER_PROTOS), "keepalive": ["on", "off"]}
        return complete_options(text, word, OPTIONS, values, others=socket_fds())

    def run(self, argument):
        parsed = options.parse(gdb.string_to_argv(argument), OPTIONS)
        selection, wanted = remedy_report.timeout_request(parsed, "sock-timeout FD... SECONDS")
        target = current_target()
        chosen = remedies.plan(target, selection, remedy_report.timeout_refusal,
                               "a copy of the socket in gdb's own process cannot reach a "
                               "process on another host", "sock-timeout FD SECONDS")
        if not chosen:
            gdb.write("No socket of process %d matches; nothing done.\n" % target.pid)
            return
        stream = gdb.STDERR if parsed.flag("json") else gdb.STDOUT
        if parsed.flag("dry-run"):
            outcomes = [remedies.read_timeout(target.pid, s, wanted) for s in chosen]
            _print(parsed, outcomes, dry_run=True, held=target.stopped)
            return
        asked = remedy_report.confirmation("set a timeout on", target.pid, chosen)
        if asked is not None:
            gdb.write("\n".join(asked.lines) + "\n", stream)
            if not confirm(asked.question, stream):
                raise SocketsError("not confirmed; nothing done")
        outcomes = [remedies.set_timeout(target.pid, s, wanted) for s in chosen]
        _print(parsed, outcomes, dry_run=False, held=target.stopped)
        failure = remedy_report.timeout_failure(outcomes)
        if failure:
            raise SocketsError(failure)


def _print(parsed, outcomes, dry_run: bool, held: bool) -> None:
    if parsed.flag("json"):
        gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
        return
    for outcome in outcomes:
        gdb.write("\n".join(remedy_report.timeout_lines(outcome, dry_run, held)) + "\n")
    if dry_run:
        gdb.write("(dry run: nothing done)\n")
