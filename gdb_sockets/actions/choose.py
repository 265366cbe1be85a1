"""gdb glue: choosing how sock-shutdown acts (-method), before anything is touched.

``auto`` takes libc's shutdown when gdb can call it safely, else a raw
syscall, else a pidfd copy (through gdbserver, only the raw syscall).  An
explicit method that cannot run here is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import gdb

from ..errors import SocketsError
from . import inferior_call, syscall_inject

METHODS = ("auto", "call", "syscall", "pidfd")


@dataclass(frozen=True)
class Method:
    """The way shutdown will run, and why auto chose it (lines for the report)."""

    name: str
    notes: Tuple[str, ...] = ()


def choose_method(target, requested: str = "auto") -> Method:
    """Settle -method before the tables are read with the process stopped.

    Probing ``call`` writes one vector register and puts it back
    (inferior_call.call_unsafe_reason); nothing else is touched.
    """
    if requested not in METHODS:
        raise SocketsError("unknown method %r; one of: %s" % (requested, " ".join(METHODS)))
    check_can_call()
    if requested != "auto":
        why = method_unavailable(target, requested)
        if why:
            raise SocketsError("-method %s cannot run here: %s" % (requested, why))
        return Method(requested)
    why_not_call = method_unavailable(target, "call")
    if why_not_call is None:
        return Method("call")
    why_not_syscall = method_unavailable(target, "syscall")
    if why_not_syscall is None:
        return Method("syscall", ("libc's shutdown was not called because %s" % why_not_call,))
    if method_unavailable(target, "pidfd") is None:
        return Method("pidfd", ("libc's shutdown was not called because %s, and no raw "
                                "syscall because %s" % (why_not_call, why_not_syscall),))
    raise SocketsError("no method can run here: not call: %s; not syscall: %s"
                       % (why_not_call, why_not_syscall))


def method_unavailable(target, method: str) -> Optional[str]:
    """Why ``method`` cannot run on this target, or None."""
    if target.remote:
        refusal = remote_refusal(method)
        if refusal:
            return refusal
    if method == "call":
        # The register probe first: it is cheap, reading libc's symbols is not.
        why = inferior_call.call_unsafe_reason()
        if why:
            return why
        try:
            addresses = inferior_call.libc_shutdown_addresses(target.pid, target.reader)
        except SocketsError as e:
            return str(e)
        if addresses is None:
            return "process %d has no shared libc shutdown() (a static binary?)" % target.pid
        return None
    if method == "syscall":
        return syscall_inject.unsupported_reason()
    return None


def remote_refusal(method: str) -> Optional[str]:
    """Why ``method`` is refused on a gdbserver target, or None.

    pidfd copies an fd into gdb's own process, which is on another host.
    An inferior call through gdbserver 13.1 followed by detach killed the
    target with SIGSEGV (measured, see the README), so it is not offered.
    """
    if method == "pidfd":
        return "pidfd works only on a process of gdb's own host, not through gdbserver"
    if method == "call":
        return ("an inferior call through gdbserver 13.1 killed the target after detach "
                "(measured); the raw syscall method is safe there")
    return None


def check_can_call() -> None:
    """Refuse when no thread can act: none selected, or it is running."""
    thread = gdb.selected_thread()
    if thread is None:
        raise SocketsError("no thread selected; select one with 'thread N'")
    if thread.is_running():
        raise SocketsError("thread %d is running; interrupt it first (Ctrl-C or "
                           "'interrupt')" % thread.num)
