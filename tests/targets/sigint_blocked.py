"""sigint_blocked: a thread that blocks SIGINT, stuck in recv().

The main thread blocks SIGINT (pthread_sigmask), prints

  READY {"pid": N, "fd": FD}

and waits in recv() on one end of a UNIX stream pair; when recv() returns
it prints "WOKE ret=R" and exits.
"""

import json
import os
import signal
import socket

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
stuck, _other = socket.socketpair()
print("READY " + json.dumps({"pid": os.getpid(), "fd": stuck.fileno()}), flush=True)
print("WOKE ret=%d" % len(stuck.recv(1)), flush=True)
