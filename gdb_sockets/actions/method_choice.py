"""Which shutdown method runs (-method), decided from why each cannot (pure).

``auto`` takes libc's shutdown when gdb can call it safely, else a raw
syscall, else a pidfd copy; an explicit method that cannot run is refused.
The reasons come from the gdb glue (actions/choose.py), which probes the
target; this module only decides, so both branches test under plain pytest.
A process that no debugger holds (the command line's) has one method:
``pick_without_debugger``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

from ..errors import SocketsError

METHODS = ("auto", "call", "syscall", "pidfd")


@dataclass(frozen=True)
class Method:
    """The way shutdown will run, and why auto chose it (lines for the report).

    ``libc``: for ``call``, libc's (shutdown, __errno_location) as the probe
    found and checked them, so that the act does not look them up again
    (the process stays stopped in between); None: not looked up yet.
    """

    name: str
    notes: Tuple[str, ...] = ()
    libc: Optional[Tuple[int, int]] = field(default=None, compare=False)


def check_method_name(requested: str) -> None:
    """Refuse a -method value that names no method."""
    if requested not in METHODS:
        raise SocketsError("unknown method %r; one of: %s" % (requested, " ".join(METHODS)))


def pick_method(requested: str, unavailable: Callable[[str], Optional[str]]) -> Method:
    """The method to run for ``requested``.

    ``unavailable(name)`` says why method ``name`` cannot run here, or
    None; it is asked only as far as needed (a call that can run spares the
    other probes).
    """
    check_method_name(requested)
    if requested != "auto":
        why = unavailable(requested)
        if why:
            raise SocketsError("-method %s cannot run here: %s" % (requested, why))
        return Method(requested)
    why_not_call = unavailable("call")
    if why_not_call is None:
        return Method("call")
    why_not_syscall = unavailable("syscall")
    if why_not_syscall is None:
        return Method("syscall", ("libc's shutdown was not called because %s" % why_not_call,))
    if unavailable("pidfd") is None:
        return Method("pidfd", ("libc's shutdown was not called because %s, and no raw "
                                "syscall because %s" % (why_not_call, why_not_syscall),))
    raise SocketsError("no method can run here: not call: %s; not syscall: %s"
                       % (why_not_call, why_not_syscall))


def pick_without_debugger(requested: str, pid: int) -> Method:
    """The method for a process no debugger holds (the command line's).

    Only pidfd runs no code in the process, so ``auto`` is pidfd, with
    nothing to explain; call and syscall need the process stopped by gdb.
    """
    check_method_name(requested)
    if requested in ("call", "syscall"):
        raise SocketsError("-method %s runs code in the stopped process, which needs gdb: "
                           "gdb -p %d -batch -ex 'sock-shutdown -method %s FD'"
                           % (requested, pid, requested))
    return Method("pidfd")
