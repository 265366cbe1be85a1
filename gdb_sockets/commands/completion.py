"""gdb glue: completion of our commands' options, their values, fds and words."""

from __future__ import annotations

import gdb

from ..errors import SocketsError
from ..model import STATE_NAMES
from ..kernel.target import current_target
from ..view import options
from ..view.inspect import listing_of


def state_words():
    return [s.lower() for s in STATE_NAMES]


def complete_words(text: str, word: str, candidates):
    """Completions of the last whitespace-separated token of ``text``.

    gdb also breaks words at '-', so ``word`` may be only the end of the
    token ("st" of "-st"); the candidates are cut to replace just that.
    """
    token = "" if not text or text.endswith(" ") else text.split()[-1]
    cut = len(token) - len(word or "")
    return [c[cut:] for c in candidates if c.startswith(token)]


def _option_named(token: str, spec):
    """The option a typed token names (a unique prefix works), or None."""
    if not token.startswith("-") or token == "--":
        return None
    try:
        return options.resolve(token[1:], spec)
    except SocketsError:
        return None


def complete_options(text: str, word: str, spec, values, others=()):
    """Option names, the value after a value option, else ``others``."""
    tokens = text.split()
    if text.endswith(" ") or not text:
        previous = tokens[-1] if tokens else ""
        token = ""
    else:
        previous = tokens[-2] if len(tokens) > 1 else ""
        token = tokens[-1]
    option = _option_named(previous, spec)
    if option is not None and spec[option] == options.VALUE:
        # A value: from the list where there is one; -port, -local, -peer are free text.
        return complete_words(text, word, values.get(option, [])) or gdb.COMPLETE_NONE
    if token.startswith("-"):
        return complete_words(text, word, ["-" + name for name in sorted(spec)])
    return complete_words(text, word, others) if others else gdb.COMPLETE_NONE


def socket_fds():
    """The selected process's socket fds as text, for completion (none if unknown)."""
    try:
        return [str(s.fd) for s in listing_of(current_target()).sockets]
    except SocketsError:
        return []
