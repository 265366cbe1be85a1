"""The process gdb is debugging, checked for what our commands need (gdb glue)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import gdb

from .errors import SocketsError
from .procfs import LocalProc


@dataclass(frozen=True)
class Target:
    """A live local process: its pid and how to read its /proc."""

    pid: int
    reader: object
    inferior: object


def current_target(command: str) -> Target:
    """The selected inferior, if it is a live process whose /proc we can read."""
    inferior = gdb.selected_inferior()
    connection = getattr(inferior, "connection", None)
    kind = connection.type if connection is not None else None
    if kind == "core":
        raise SocketsError(
            "%s: a core file has no live sockets; attach to the running process "
            "instead (gdb -p PID)" % command)
    if inferior.pid == 0:
        raise SocketsError(
            "%s: no process; attach to one first ('attach PID' or 'gdb -p PID')" % command)
    if kind != "native":
        raise SocketsError(
            "%s: the target is %s, not a local process; remote targets are not "
            "supported yet: run gdb on the process's own host" % (command, kind or "unknown"))
    if not inferior.threads() or not _alive(inferior.pid):
        raise SocketsError("%s: process %d has exited" % (command, inferior.pid))
    return Target(inferior.pid, LocalProc(), inferior)


def _alive(pid: int) -> bool:
    """False once the process is gone or a zombie (killed while gdb held it)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable is not dead; the listing says what it cannot read
    # The state letter follows the command name, which may hold ')'.
    return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
