"""gdb glue: what every gdb_sockets command shares.

A SocketsError becomes a gdb error, its message prefixed here with the
command's name ("info sockets: no process; ..."), the one place a prefix
is added (to any gdb.error that escaped too: never a traceback); the
cyclic garbage collector waits while the command runs.
"""

from __future__ import annotations

import gdb

from ..errors import SocketsError
from ..listing.records import gc_paused


class SocketsCommand(gdb.Command):
    """Base of our commands: subclasses give NAME and implement ``run``."""

    NAME = ""
    repeat = True  # pressing Enter runs the command again

    def invoke(self, argument, from_tty):
        if not self.repeat:
            self.dont_repeat()
        # A big target makes tens of thousands of records, which set off
        # the cyclic garbage collector again and again (~50 ms of 240 at
        # 20k sockets); they hold no cycles, so it waits until we are done.
        try:
            with gc_paused():
                self.run(argument)
        except SocketsError as e:
            raise gdb.GdbError("%s: %s" % (self.NAME, e)) from None
        except gdb.error as e:
            # A gdb error none of our code foresaw: a message, never a
            # Python traceback.
            raise gdb.GdbError("%s: gdb failed: %s" % (self.NAME, str(e).split("\n")[0])) \
                from None

    def run(self, argument):
        raise NotImplementedError
