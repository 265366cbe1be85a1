"""gdb glue: asking the user first, the way gdb's own query() does."""

from __future__ import annotations

import sys

import gdb


def _batch_mode() -> bool:
    """gdb -batch answers every query yes, but says nothing to Python about it."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return any(arg in (b"-batch", b"--batch", b"-batch-silent", b"--batch-silent")
               for arg in args)


def confirm(question: str, stream=gdb.STDOUT) -> bool:
    """Ask as gdb's own query() does: only when confirm is on and a user is there."""
    if not gdb.parameter("confirm"):
        return True
    if _batch_mode() or not sys.stdin.isatty():
        gdb.write("%s(y or n) [answered Y; input not from terminal]\n" % question, stream)
        return True
    while True:
        try:
            answer = input("%s(y or n) " % question).strip().lower()
        except EOFError:
            gdb.write("EOF [answered Y; input not from terminal]\n")
            return True
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        gdb.write("Please answer y or n.\n")


def can_ask() -> bool:
    """True when a person at a terminal can answer (not gdb -batch, stdin a tty)."""
    return not _batch_mode() and sys.stdin.isatty()


def ask(question: str, stream=gdb.STDOUT) -> bool:
    """Ask at the terminal whatever 'set confirm' says: for what needs a
    person's yes (an action predicted to harm the process).  EOF is no."""
    while True:
        try:
            answer = input("%s(y or n) " % question).strip().lower()
        except EOFError:
            gdb.write("EOF [answered N]\n", stream)
            return False
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        gdb.write("Please answer y or n.\n", stream)
