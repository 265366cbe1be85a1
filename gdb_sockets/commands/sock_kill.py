"""gdb glue: the `sock-kill` command."""

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

OPTIONS = remedy_report.SOCK_KILL_OPTIONS


class SockKill(SocketsCommand):
    """Abort a TCP or UDP socket of the current process: the peer gets a reset.

Usage: sock-kill [OPTIONS] FD...
       sock-kill [OPTIONS] FILTER... [FD]...

Asks the kernel to abort exactly this socket, as 'ss -K' does, but named
by its fd: a SOCK_DESTROY request with the socket's 4-tuple and its
cookie, from inside the process's network namespace, so no other socket
(not even a later one with the same addresses) can be hit.  The peer of a
TCP socket gets an RST at once; a thread blocked on the socket fails with
ECONNABORTED when the process resumes; the fd stays open.  Where
SOCK_DESTROY cannot run (a kernel without it, no CAP_NET_ADMIN), a TCP
socket is disconnected through a copy instead (connect AF_UNSPEC: also an
RST).  No code runs in the process.

Use it when the peer must be told now; sock-timeout when you do not know
whether the peer is dead; sock-shutdown for a clean end (FIN).

Options:
  -state NAME, -proto NAME, -port N, -local ADDR[:PORT], -peer ADDR[:PORT]
                Choose the sockets as in 'info sockets'.
  -dry-run      Show what would be aborted, and do nothing.
  -json         Print the outcome as JSON.

UNIX sockets, listeners and sockets that are not connected are refused
with the reason, before anything is done.  Several sockets, or one that
other processes hold too, need confirmation ('set confirm off' or gdb
-batch answers yes).  Works on a process of gdb's own host only.

See also: sock-timeout, sock-shutdown, info sockets."""

    NAME = "sock-kill"
    repeat = False

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_RUNNING)

    def complete(self, text, word):
        values = {"state": state_words(), "proto": list(FILTER_PROTOS)}
        return complete_options(text, word, OPTIONS, values, others=socket_fds())

    def run(self, argument):
        parsed = options.parse(gdb.string_to_argv(argument), OPTIONS)
        selection = remedy_report.kill_request(parsed, "sock-kill FD...")
        target = current_target()
        chosen = remedies.plan(target, selection, remedy_report.kill_refusal,
                               "SOCK_DESTROY and a copy of the socket work from the "
                               "process's own host only", "sock-kill FD")
        if not chosen:
            gdb.write("No socket of process %d matches; nothing done.\n" % target.pid)
            return
        if parsed.flag("dry-run"):
            outcomes = [remedies.kill(target.pid, s, dry_run=True) for s in chosen]
            if parsed.flag("json"):
                gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
                return
            gdb.write("\n".join(remedy_report.kill_plan_lines(target.pid, outcomes)) + "\n")
            return
        stream = gdb.STDERR if parsed.flag("json") else gdb.STDOUT
        asked = remedy_report.confirmation("abort", target.pid, chosen)
        if asked is not None:
            gdb.write("\n".join(asked.lines) + "\n", stream)
            if not confirm(asked.question, stream):
                raise SocketsError("not confirmed; nothing done")
        outcomes = remedies.kill_all(target, chosen)
        if parsed.flag("json"):
            gdb.write(json.dumps([o.to_json() for o in outcomes], indent=2) + "\n")
        else:
            for outcome in outcomes:
                gdb.write("\n".join(remedy_report.kill_lines(outcome, target.stopped)) + "\n")
        failure = remedy_report.kill_failure(outcomes)
        if failure:
            raise SocketsError(failure)
