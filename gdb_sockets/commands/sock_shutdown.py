"""gdb glue: the `sock-shutdown` command."""

from __future__ import annotations

import json

import gdb

from ..actions import outcome, shutdown_run
# shutdown_run imports the gdb glue of the methods only when a debugger
# holds the target (the command line has none); here they are loaded with
# the package, never while the process is stopped.
from ..actions import choose, inferior_call, syscall_inject
from ..actions.method_choice import METHODS
from ..errors import SocketsError
from ..kernel.target import current_target
from ..model import FILTER_PROTOS
from ..view import inspect, options, shutdown_report
from .base import SocketsCommand
from .completion import complete_options, socket_fds, state_words
from .confirm import ask, can_ask, confirm

_METHOD_GLUE = (choose, inferior_call, syscall_inject)  # loaded now: see the import above

OPTIONS = dict(options.SOCK_SHUTDOWN_OPTIONS, force=options.FLAG)
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

Before acting it predicts, for each thread blocked on the socket, what
that thread does when the process resumes (after 'continue' or 'detach'):
a read returns end-of-file; a write fails with EPIPE, and SIGPIPE then
kills the process, runs its handler or is ignored (the process's signal
dispositions, MSG_NOSIGNAL); a poll, select or epoll that waits for
nothing the shutdown makes ready goes on waiting; an event loop polling a
shut listener spins.  A shutdown predicted to kill the process or make it
spin is refused, or asked about at a terminal, unless -force is given; the
message names a direction that avoids it, if one does.  A listening
socket accepts no more connections, for good: you are asked first.  The
process's errno, registers and gdb's settings and value history are left
as they were.

Options:
  -state NAME   Shut down every socket in this state, e.g. -state close-wait.
  -proto NAME   Only sockets of this protocol (as in 'info sockets').
  -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Only sockets with this port or end (as in 'info sockets').
  -dry-run      Show what would be shut down and the predictions, and do nothing.
  -force        Shut down even where a waiting thread is predicted to kill
                the process (SIGPIPE) or to spin.
  -method NAME  How: auto (default), call (libc's shutdown run in the
                selected thread), syscall, pidfd.
  -json         Print the outcome as JSON.

Several sockets, or a listening one, need confirmation ('set confirm off'
or gdb -batch answers yes); more than 10 are counted by state and peer
(-dry-run lists each), and a batch ends with "N shut down, M failed".

See also: info sockets."""

    NAME = "sock-shutdown"
    repeat = False  # Enter must not shut down a second time

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_RUNNING)

    def complete(self, text, word):
        values = {"state": state_words(), "proto": list(FILTER_PROTOS),
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
        forecasts, safer = inspect.forecasts(target, chosen, how)
        if dry_run:
            gdb.write("Would shut down in process %d:\n%s\n(dry run: nothing done)\n"
                      % (target.pid, "\n".join(shutdown_report.plan_lines(chosen, how,
                                                                          forecasts))))
            return
        _agreed(parsed, target.pid, chosen, how, forecasts, safer)
        outcomes = shutdown_run.perform_shutdown(target, chosen, how, method, forecasts)
        if parsed.flag("json"):
            gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
        else:
            for done in outcomes:
                gdb.write("\n".join(shutdown_report.report(done)) + "\n")
            if len(chosen) > 1:
                gdb.write(shutdown_report.summary_line(outcomes, len(chosen)) + "\n")
        failure = shutdown_report.failure_summary(outcomes, len(chosen))
        if failure:
            raise SocketsError(failure)


def _agreed(parsed: options.Parsed, pid: int, chosen, how: int, forecasts, safer) -> None:
    """Ask first where needed; SocketsError when not agreed to.

    What else this touches is said whether or not confirmation is on; with
    -json on stderr, so that stdout is only the JSON.  A predicted harm (a
    kill, a spin) needs -force, or a person's yes at a terminal.
    """
    stream = gdb.STDERR if parsed.flag("json") else gdb.STDOUT
    harm = shutdown_report.harm(chosen, how, forecasts, safer)
    asked = shutdown_report.confirmation(pid, chosen, how, forecasts)
    if harm is not None and not parsed.flag("force"):
        if not can_ask():
            raise SocketsError(harm.refusal)
        gdb.write("\n".join((asked.lines if asked else []) + harm.lines) + "\n", stream)
        if not ask(harm.question, stream):
            raise SocketsError("not confirmed; nothing done")
    elif asked is not None:
        gdb.write("\n".join(asked.lines) + "\n", stream)
        if not confirm(asked.question, stream):
            raise SocketsError("not confirmed; nothing done")
