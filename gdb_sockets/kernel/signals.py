"""What a process does with a signal, from /proc/PID/status and its threads'.

fs/proc/array.c render_sigset_t prints each set as 16 hex digits, the
highest signal first (bit N-1 is signal N):

    SigQ:	1/96365
    SigPnd:	0000000000000000      pending for this thread
    ShdPnd:	0000000000000000      pending for the whole process
    SigBlk:	0000000000000000      blocked in this thread (its sigmask)
    SigIgn:	0000000001001000      SIG_IGN, for the whole process (13 PIPE, 25 XFSZ)
    SigCgt:	0000000000000002      a handler installed, for the whole process

Dispositions (SigIgn, SigCgt) belong to the process and read the same in
every /proc/PID/task/TID/status; SigBlk and SigPnd are the thread's own.
Pure: bytes in, records out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

SIGPIPE = 13

_FIELDS = {b"SigPnd": "pending", b"ShdPnd": "shared_pending", b"SigBlk": "blocked",
           b"SigIgn": "ignored", b"SigCgt": "caught"}


@dataclass(frozen=True)
class SignalMasks:
    """The signal sets of one thread (bit N-1 = signal N)."""

    pending: int
    shared_pending: int
    blocked: int
    ignored: int
    caught: int

    def disposition(self, signal: int) -> str:
        """'ignored', 'caught' (a handler) or 'default' for the process."""
        bit = 1 << (signal - 1)
        if self.ignored & bit:
            return "ignored"
        if self.caught & bit:
            return "caught"
        return "default"

    def is_blocked(self, signal: int) -> bool:
        return bool(self.blocked >> (signal - 1) & 1)


def parse_status(data: bytes) -> Optional[SignalMasks]:
    """The signal sets in a /proc/PID[/task/TID]/status, or None if any is missing."""
    found: Dict[str, int] = {}
    for line in data.splitlines():
        key, sep, value = line.partition(b":")
        name = _FIELDS.get(key)
        if name is None or not sep:
            continue
        try:
            found[name] = int(value.strip(), 16)
        except ValueError:
            return None
    if len(found) != len(_FIELDS):
        return None
    return SignalMasks(**found)


def read_masks(reader, pid: int, tid: Optional[int] = None) -> Optional[SignalMasks]:
    """The masks of thread ``tid`` of ``pid`` (the process's own line when
    tid is None), or None when the file cannot be read (exited, not ours)."""
    path = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%d/status" % (pid, tid)
    try:
        return parse_status(reader.read(path))
    except OSError:
        return None
