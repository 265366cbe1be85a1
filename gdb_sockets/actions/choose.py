"""gdb glue: why each shutdown method can or cannot run on this target.

The decision itself (auto's order, refusals) is method_choice.pick_method;
this module probes the target for it, before anything is touched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, Optional, Tuple

import gdb

from ..errors import SocketsError
from . import guard, inferior_call, syscall_inject
from .method_choice import Method, check_method_name, pick_method


def choose_method(target, requested: str = "auto") -> Method:
    """Settle -method before the tables are read with the process stopped.

    Probing ``call`` writes one vector register and puts it back
    (inferior_call.call_unsafe_reason); nothing else is touched.
    """
    check_method_name(requested)
    check_can_call()
    auto = requested == "auto"
    found: Dict[str, Tuple[int, int]] = {}
    method = pick_method(requested, lambda name: method_unavailable(target, name, auto, found))
    if method.name == "call":
        return replace(method, libc=found["libc"])
    return method


def method_unavailable(target, method: str, auto: bool = False,
                       found: Optional[dict] = None) -> Optional[str]:
    """Why ``method`` cannot run on this target, or None (``auto``: for auto,
    which also avoids what would only be undone).  ``found["libc"]`` gets
    libc's (shutdown, __errno_location) when ``call`` can run."""
    if target.remote:
        refusal = remote_refusal(method) or guard.remote_seccomp_refusal(target.reader,
                                                                         target.pid)
        if refusal:
            return refusal
    if method == "call":
        # What gdb's state forbids (non-stop, record, 'may' settings, a
        # sandbox) first: nothing is touched to know it.
        why = guard.refusal("call", syscall_inject.SYS_SHUTDOWN, auto)
        if why:
            return why
        # A call that could hang for good (gdb 13/14: the watchdog's SIGINT
        # blocked in the thread); /proc only, nothing touched.
        why = inferior_call.watchdog_refusal(target)
        if why:
            return why
        # The register probe next: it is cheap, reading libc's symbols is not.
        why = inferior_call.call_unsafe_reason()
        if why:
            return why
        try:
            addresses = inferior_call.libc_shutdown_addresses(target.pid, target.reader)
        except SocketsError as e:
            return str(e)
        if addresses is None:
            return "process %d has no shared libc shutdown() (a static binary?)" % target.pid
        if found is not None:
            found["libc"] = addresses
        return None
    if method == "syscall":
        return syscall_inject.unsupported_reason(auto)
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
