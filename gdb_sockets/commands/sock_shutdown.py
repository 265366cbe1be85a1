"""gdb glue: the `sock-shutdown` command."""

from __future__ import annotations

import json

import gdb

from ..actions import outcome, shutdown_run
from ..actions.method_choice import METHODS
from ..errors import SocketsError
from ..kernel.target import current_target
from ..model import PROTO_NAMES
from ..view import options, shutdown_report
from .base import SocketsCommand
from .completion import complete_options, socket_fds, state_words
from .confirm import confirm

OPTIONS = options.SOCK_SHUTDOWN_OPTIONS
USAGE = "sock-shutdown FD [read|write|both]"


class SockShutdown(SocketsCommand):
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

    NAME = "sock-shutdown"
    repeat = False  # Enter must not shut down a second time

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_RUNNING)

    def complete(self, text, word):
        values = {"state": state_words(), "proto": list(PROTO_NAMES),
                  "method": list(METHODS)}
        return complete_options(text, word, OPTIONS, values,
                                others=socket_fds() + sorted(outcome.HOW))

    def run(self, argument):
        parsed = options.parse(gdb.string_to_argv(argument), OPTIONS)
        selection, how, method = options.shutdown_request(parsed, USAGE)
        dry_run = parsed.flag("dry-run")
        target = current_target()
        chosen, method = shutdown_run.plan_shutdown(target, selection,
                                                    None if dry_run else method)
        if not chosen:
            gdb.write("No socket of process %d matches; nothing done.\n" % target.pid)
            return
        if dry_run:
            gdb.write("Would shut down in process %d:\n%s\n(dry run: nothing done)\n"
                      % (target.pid, "\n".join(shutdown_report.plan_lines(chosen, how))))
            return
        asked = shutdown_report.confirmation(target.pid, chosen, how)
        if asked is not None:
            # Said whether or not confirmation is on: what else this touches.
            # With -json it goes to stderr, so that stdout is only the JSON.
            stream = gdb.STDERR if parsed.flag("json") else gdb.STDOUT
            gdb.write("\n".join(asked.lines) + "\n", stream)
            if not confirm(asked.question, stream):
                raise SocketsError("not confirmed; nothing done")
        outcomes = shutdown_run.perform_shutdown(target, chosen, how, method)
        if parsed.flag("json"):
            gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
        else:
            for done in outcomes:
                gdb.write("\n".join(shutdown_report.report(done)) + "\n")
        failure = shutdown_report.failure_summary(outcomes, len(chosen))
        if failure:
            raise SocketsError(failure)

