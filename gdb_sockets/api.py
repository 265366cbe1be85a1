"""gdb glue: the Python API for gdb scripts, the current inferior's sockets as records.

    import gdb_sockets.api as sockets_api
    for sock in sockets_api.sockets():
        print(sock.fd, sock.proto, sock.state)

Every function works on gdb's selected inferior and raises
``gdb_sockets.errors.SocketsError`` for any condition a user can act on
(no process, a core file, a process that exited, a bad fd...), its message
prefixed with who says it ("gdb_sockets: no process; ...").  The commands
``info sockets`` and ``sock-shutdown`` are built on the same layers
(view/inspect.py, actions/shutdown_run.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

from .actions import shutdown_run
from .actions.choose import choose_method
from .actions.method_choice import METHODS, Method
from .actions.choose import check_can_call as _check_can_call
from .actions.outcome import Outcome, parse_how
from .errors import SocketsError
from .kernel.target import Target, current_target
from .listing.join import Listing
from .model import Details, Socket
from .view import inspect, shutdown_report
from .view.filters import SocketFilter


@contextmanager
def _said_by(who: str) -> Iterator[None]:
    """SocketsError messages leave the API prefixed with ``who``."""
    try:
        yield
    except SocketsError as e:
        raise SocketsError("%s: %s" % (who, e)) from None


def list_target_sockets(command: str = "gdb_sockets", holders: bool = False) -> Listing:
    """The sockets of the selected inferior, with notes on what is unknown.

    Each record says which threads wait on it (``waiters``) and which
    other fds of the process name it (``also_fds``); with ``holders``
    every other process is scanned too (``holders``), which costs a pass
    over all of /proc.  ``command`` prefixes error messages.
    """
    with _said_by(command):
        return inspect.target_sockets(current_target(), scan_holders=holders)


def socket_details(command: str, sockets: Sequence[Socket]) -> dict:
    """fd -> the extended view of each socket (listing/extended.py), for local targets."""
    with _said_by(command):
        return {s.fd: s.details for s in inspect.with_details(current_target(), sockets)}


def sockets() -> List[Socket]:
    """Every socket fd of the selected inferior, as ``Socket`` records by fd."""
    return list_target_sockets().sockets


def check_can_call(command: str) -> None:
    """Refuse when no thread can act: none selected, or it is running."""
    with _said_by(command):
        _check_can_call()


def plan_shutdown(command: str, selection: SocketFilter,
                  method: Optional[str] = "auto") -> Tuple[Target, List[Socket], Optional[Method]]:
    """Check the request and pick the sockets: (target, sockets, Method).

    See actions/shutdown_run.plan_shutdown; ``command`` prefixes error messages.
    """
    with _said_by(command):
        target = current_target()
        chosen, resolved = shutdown_run.plan_shutdown(target, selection, method)
        return target, chosen, resolved


def perform_shutdown(target: Target, chosen: Sequence[Socket], how: int,
                     method: Method) -> List[Outcome]:
    """Shut each chosen socket down, then read the tables again: one Outcome each."""
    with _said_by("sock-shutdown"):
        return shutdown_run.perform_shutdown(target, chosen, how, method)


def shutdown_fd(fd: int, how: str = "both", method: str = "auto",
                force: bool = False) -> Outcome:
    """Shut down one socket fd of the selected inferior and return the verified outcome.

    ``how`` is "read", "write" or "both".  Raises SocketsError, touching
    nothing, if fd is not an open socket, or if a waiting thread is
    predicted to kill the process or spin and ``force`` is False; a
    shutdown the kernel refused comes back as an Outcome with ``ok`` False
    and ``errno`` set.  ``Outcome.predictions`` says what each waiting
    thread does on resume.
    """
    with _said_by("sock-shutdown"):
        how_code = parse_how(how)
        if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
            raise SocketsError("fd must be a non-negative int, not %r" % (fd,))
        target = current_target()
        chosen, resolved = shutdown_run.plan_shutdown(
            target, SocketFilter(fds=frozenset({fd})), method)
        if not chosen:
            raise SocketsError("fd %d closed while it was being looked at" % fd)
        forecasts, safer = inspect.forecasts(target, chosen, how_code)
        harm = shutdown_report.harm(chosen, how_code, forecasts, safer)
        if harm is not None and not force:
            raise SocketsError(harm.refusal.replace("give -force", "pass force=True"))
        return shutdown_run.perform_shutdown(target, chosen, how_code, resolved, forecasts)[0]


__all__ = ["METHODS", "Method", "Details", "choose_method", "check_can_call",
           "list_target_sockets", "perform_shutdown", "plan_shutdown", "shutdown_fd",
           "socket_details", "sockets"]
