"""Short-lived threads for kernel work that runs without the GIL.

Threads started inside gdb must not take the signals gdb waits for
(SIGCHLD, SIGINT): gdb's handlers would run in them.  ``start`` blocks
every signal while the thread is created, so it inherits the blocked mask
(gdb.block_signals blocks only those gdb handles; these threads need
none, and this module must not import gdb), and ``run_all``
runs a few calls at once and hands back their results or the first error.
Where no thread can start, the work runs in the caller's thread.
No gdb here.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable, List, Optional, Sequence


def start(target: Callable[[], None], name: str,
          inline: bool = True) -> Optional[threading.Thread]:
    """A daemon thread running ``target``, started with every signal
    blocked; None when no thread can start (RLIMIT_NPROC, memory): then
    ``target`` has run in the caller's thread before this returns, unless
    ``inline`` is False (work that must never run in gdb's own thread)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        thread.start()
    except RuntimeError:  # "can't start new thread"
        thread = None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if thread is None and inline:
        target()
    return thread


def run_all(calls: Sequence[Callable[[], object]], name: str) -> List[object]:
    """The results of ``calls``, in order: the first runs in the caller's
    thread, each other one in a thread of its own.  An exception of any
    call is raised here, once all of them have ended."""
    results: List[object] = [None] * len(calls)
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as e:  # handed to the caller below
            errors.append(e)

    threads = [start(lambda i=i: run(i), name) for i in range(1, len(calls))]
    run(0)
    for thread in threads:
        if thread is not None:
            thread.join()
    if errors:
        raise errors[0]
    return results
