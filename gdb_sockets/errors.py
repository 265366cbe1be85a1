"""The one exception type that pure code raises for user-facing failures."""


class SocketsError(Exception):
    """A failure the user can act on; the command layer shows it as a gdb error.

    The message is complete and says what to do next where there is something
    to do; it never needs a traceback to be understood.
    """
