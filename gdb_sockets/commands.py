"""The gdb commands: argument parsing and printing around the API (gdb glue)."""

from __future__ import annotations

import gdb

from . import api, options, render
from .errors import SocketsError
from .listing import filter_sockets
from .model import PROTO_NAMES, STATE_NAMES

INFO_SOCKETS_OPTIONS = {"json": options.FLAG, "proto": options.VALUE, "state": options.VALUE}


def _state_words():
    return [s.lower() for s in STATE_NAMES]


def _complete_options(text: str, word: str, spec, values):
    """Complete option names, and the value after a value option."""
    tokens = text.split()
    if text.endswith(" ") or not text:
        previous = tokens[-1] if tokens else ""
        word = ""
    else:
        previous = tokens[-2] if len(tokens) > 1 else ""
    if previous.startswith("-") and previous[1:] in values:
        return options.complete_prefix(word, values[previous[1:]])
    if word.startswith("-"):
        return options.complete_prefix(word, ["-" + name for name in sorted(spec)])
    return gdb.COMPLETE_NONE


class InfoSockets(gdb.Command):
    """List the sockets of the current process, fd by fd.

Usage: info sockets [-json] [-proto NAME]... [-state NAME]... [--] [FD]...

Shows one line per socket fd of the process being debugged: its protocol,
its state in ss's words (ESTAB, LISTEN, CLOSE-WAIT, UNCONN...), the receive
and send queues, the local and peer addresses, and the socket's inode.
The kernel's tables are read from /proc/PID/net of the process itself, so
a process in a container is shown in its own network namespace.

UNIX sockets show their path (abstract names start with '@') and their
peer as "PATH (peer INODE)".  A socket in no kernel table (a fresh socket,
unbound UDP) shows its protocol, state UNCONN and '-' for what is unknown.
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
  FD           Only these file descriptors.

Any unique prefix of an option works (-j, -s); '--' ends the options.

See also: help sock-shutdown."""

    def __init__(self):
        super().__init__("info sockets", gdb.COMMAND_STATUS)

    def complete(self, text, word):
        values = {"state": _state_words(), "proto": list(PROTO_NAMES)}
        return _complete_options(text, word, INFO_SOCKETS_OPTIONS, values)

    def invoke(self, argument, from_tty):
        try:
            self._run(argument)
        except SocketsError as e:
            raise gdb.GdbError(str(e)) from None

    def _run(self, argument):
        command = "info sockets"
        parsed = options.parse(command, gdb.string_to_argv(argument), INFO_SOCKETS_OPTIONS)
        fds = set(options.split_fd_args(command, parsed.args)) or None
        protos = options.parse_protos(command, parsed.values("proto")) or None
        states = options.parse_states(command, parsed.values("state")) or None
        result = api.list_target_sockets(command)
        shown = filter_sockets(result.sockets, fds=fds, protos=protos, states=states)
        if parsed.flag("json"):
            gdb.write(render.format_json(shown) + "\n")
            return
        if not result.sockets:
            gdb.write("Process %d has no sockets.\n" % result.pid)
        elif not shown:
            gdb.write("No socket of process %d matches.\n" % result.pid)
        else:
            gdb.write(render.format_table(shown) + "\n")
        for note in result.notes:
            gdb.write("Note: %s.\n" % note)


def register() -> None:
    """Create the commands; gdb replaces a command registered again."""
    InfoSockets()
