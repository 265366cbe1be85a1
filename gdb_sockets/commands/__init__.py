"""gdb glue: the gdb commands, one small class each; ``register`` creates them.

Each command parses its arguments, calls the layers below (kernel,
listing, view, actions) and prints; its docstring is its help text.
"""

from __future__ import annotations

from .info_sockets import InfoSockets
from .sock_kill import SockKill
from .sock_shutdown import SockShutdown
from .sock_timeout import SockTimeout


def register() -> None:
    """Create the commands; gdb replaces a command registered again."""
    InfoSockets()
    SockShutdown()
    SockTimeout()
    SockKill()
