"""gdb glue: the process gdb is debugging, checked for what our commands need.

The one place that decides, for gdb, whether the target is on gdb's own
host (``Target.remote``, kernel/process.py): everything after reads its
/proc through ``Target.reader``, the local one or gdbserver's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import gdb

from ..errors import SocketsError
from .process import Target, alive
from .procfs import LocalProc
from .remote_proc import RemoteProc, status_field

REMOTE_KINDS = ("remote", "extended-remote")


def current_target() -> Target:
    """The selected inferior, if it is a live process whose /proc we can read."""
    inferior = gdb.selected_inferior()
    connection = getattr(inferior, "connection", None)
    kind = connection.type if connection is not None else None
    if kind == "core":
        raise SocketsError(
            "a core file has no live sockets; attach to the running process "
            "instead (gdb -p PID)")
    if inferior.pid == 0:
        raise SocketsError(
            "no process; attach to one first ('attach PID' or 'gdb -p PID')")
    if kind in REMOTE_KINDS:
        return _remote_target(inferior, connection)
    if kind != "native":
        raise SocketsError(
            "the target is %s, neither a local process nor gdbserver; run gdb on "
            "the process's own host or through gdbserver" % (kind or "unknown"))
    if not inferior.threads() or not alive(LocalProc(), inferior.pid):
        raise SocketsError("process %d has exited" % inferior.pid)
    return Target(inferior.pid, LocalProc(), arch=_arch(inferior))


def _remote_target(inferior, connection) -> Target:
    """A process behind gdbserver, read through gdb's remote file access."""
    threads = inferior.threads()
    if not threads:
        raise SocketsError("process %d has exited" % inferior.pid)
    reader = RemoteProc(_sender(connection), _sync_filesystem)
    pid = _remote_pid(reader, inferior, threads)
    if not alive(reader, pid):
        raise SocketsError("process %d has exited" % pid)
    return Target(pid, reader, remote=True, arch=_arch(inferior))


def _remote_pid(reader, inferior, threads) -> int:
    """The process's pid in gdbserver's /proc: the thread group of one of its threads.

    gdb shows a made-up pid (42000) when gdbserver's multiprocess
    extensions are off, but a thread's lwp is always the kernel's.
    """
    lwp = threads[0].ptid[1] or inferior.pid
    try:
        status = reader.read("/proc/%d/status" % lwp)
    except FileNotFoundError:
        raise SocketsError("process %d has exited" % inferior.pid) from None
    except OSError as e:
        raise SocketsError("cannot read /proc/%d/status on the target: %s"
                           % (lwp, e.strerror or e)) from None
    tgid = status_field(status, "Tgid")
    if tgid is None or not tgid.isdigit():
        raise SocketsError("/proc/%d/status on the target has no Tgid line"
                           % lwp)
    return int(tgid)


def _sender(connection):
    """send_packet, with a lost connection turned into a message."""
    def send(packet: str) -> bytes:
        try:
            reply = connection.send_packet(packet)
        except gdb.error as e:
            raise SocketsError("cannot talk to gdbserver: %s" % e) from None
        # gdb 12 returned str (its bytes as code points), gdb 13 bytes.
        return reply.encode("latin-1") if isinstance(reply, str) else reply
    return send


def _sync_filesystem() -> None:
    """Have gdb point gdbserver's file access at gdbserver's own filesystem.

    gdb sends ``vFile:setfs:PID`` when it reads the inferior's files
    (symbols) and remembers it; in a container that is another mount
    namespace, whose /proc does not know gdbserver's pids.  ``remote get``
    makes gdb send ``vFile:setfs:0`` (only if needed) and remember it, so
    our own packets, which never change it, read gdbserver's /proc.
    """
    directory = tempfile.mkdtemp(prefix="gdb_sockets_")  # mode 0700
    try:
        local = os.path.join(directory, "stat")
        gdb.execute("remote get /proc/self/stat %s" % _gdb_arg(local), to_string=True)
    except gdb.error as e:
        raise SocketsError("cannot read files through gdbserver: %s" % e) from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _gdb_arg(text: str) -> str:
    """One argument for gdb's argv splitting (backslash before anything unusual)."""
    return re.sub(r"([^A-Za-z0-9_./-])", r"\\\1", text)


def _arch(inferior) -> str:
    return inferior.architecture().name()
