"""gdb glue: the `info sockets` command."""

from __future__ import annotations

import gdb

from ..kernel.target import current_target
from ..model import FILTER_PROTOS
from ..view import inspect, options, raw_rows, render
from .base import SocketsCommand
from .completion import complete_options, socket_fds, state_words
from .styles import table_colorizer

OPTIONS = options.INFO_SOCKETS_OPTIONS


class InfoSockets(SocketsCommand):
    """List the sockets of the current process, fd by fd.

Usage: info sockets [-json] [-extended] [-holders] [-proto NAME]... [-state NAME]...
                    [-port N] [-local ADDR[:PORT]] [-peer ADDR[:PORT]] [--] [FD]...

Shows one line per socket fd of the process being debugged: its protocol,
its state in ss's words (ESTAB, LISTEN, CLOSE-WAIT, UNCONN...), the receive
and send queues, the local and peer addresses, and the socket's inode.
The kernel is asked in the process's own network namespace (through
sock_diag, or its tables under /proc/PID/net), so a process in a container
is shown as it sees its sockets.

UNIX sockets show their type as ss does (u_str, u_dgr, u_seq; -proto unix
selects all three, -proto u_str one), their path (abstract names start
with '@') and their peer as "PATH (peer INODE)".  A socket in no kernel
table (a fresh socket, unbound UDP) shows its protocol, state UNCONN and
'-' for what is unknown; '?' is a state nothing tells (a protocol with no
table, such as SCTP).
Paths are escaped: control characters and bytes that are not UTF-8 print
as \\n, \\xNN.

Options:
  -json        Print a JSON array instead of the table (keys: fd, inode,
               proto, state, recv_q, send_q, local, peer, type...).
  -proto NAME  Only this protocol: tcp tcp6 udp udp6 udplite udplite6 raw
               raw6 ping ping6 unix packet netlink; tcp, udp, udplite, raw
               and ping mean both IP versions, tcp4 (etc.) IPv4 only;
               u_str, u_dgr, u_seq: UNIX sockets of that type only.
  -state NAME  Only sockets in this state (any case, '_' for '-'), e.g.
               -state close-wait.  Repeat -proto or -state to allow several.
  -port N      Only sockets with this local or peer port.
  -local ADDR[:PORT], -peer ADDR[:PORT]
               Only sockets with this local or peer end: 127.0.0.1:8080,
               [::1]:443, *:80, or a UNIX path (/run/app.sock, @name).
               '*' is the wildcard address, as the table shows it: *:80
               is a socket bound to port 80 on every address (for port 80
               on any address, -port 80).
  -holders     Also name the other processes holding each socket (scans
               every process's fds, which takes longer).
  -extended    Under each socket: owner uid, receive and send memory
               against the buffer sizes (ss -m), drops; for TCP the
               retransmission timer (rto), rtt, retransmits, backoff and
               probes; for a listener its accept queue and backlog.
  FD           Only these file descriptors; each one that has no row is
               answered: not open, not a socket (and what it is), or left
               out by the other filters.

The Notes column names the threads blocked on a socket right now
("LWP 4242 recvfrom") and the other fds of the process that name the
same socket ("also fd 9").

Any unique prefix of an option works (-j, -s); '--' ends the options.

See also: help sock-shutdown."""

    NAME = "info sockets"

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_STATUS)

    def complete(self, text, word):
        values = {"state": state_words(), "proto": list(FILTER_PROTOS)}
        return complete_options(text, word, OPTIONS, values, others=socket_fds())

    def run(self, argument):
        parsed = options.parse(gdb.string_to_argv(argument), OPTIONS)
        selection = options.build_filter(parsed, parsed.args)
        extended = parsed.flag("extended")
        target = current_target()
        if not (extended or parsed.flag("holders") or selection.narrows):
            # Every socket, nothing extra: a big target's rows are written
            # without a record each.
            found = inspect.rows_of(target)
            if found is not None:
                if parsed.flag("json"):
                    gdb.write(raw_rows.json_text(found.entries))
                    gdb.write("\n")
                else:
                    gdb.write(inspect.rows_text(found, table_colorizer()))
                return
        # Without -holders, only the sockets that may be shown are built.
        result, shown, any_socket = inspect.info_rows(target, selection, parsed.flag("holders"),
                                                      extended)
        # Every fd named gets an answer (on stderr with -json: stdout is JSON).
        answers = inspect.unanswered_fds(target, selection.fds, result.sockets, shown)
        if parsed.flag("json"):
            gdb.write(render.format_json(shown) + "\n")
            if answers:
                gdb.write("\n".join(answers) + "\n", gdb.STDERR)
            return
        gdb.write(inspect.listing_text(result, shown, table_colorizer(), extended, answers,
                                       any_socket))
