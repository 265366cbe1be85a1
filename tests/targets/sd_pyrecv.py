"""sd_pyrecv: a Python program blocked in socket.recv(), for sock-shutdown tests.

Run it with the real interpreter (sys.executable), not a wrapper: the pid
it prints is its own.  Opens a loopback TCP listener, a client connected
to it and the accepted end, then prints

    READY {"pid": P, "port": PORT, "fds": {"listen": L, "client": C, "accepted": A}}

and calls client.recv(64) in the main thread.  When it returns:

    WOKE fd=C ret=LEN err=NONE            (or err=ExceptionName errno=N)

then waits for SIGTERM/SIGKILL in signal.pause(), every socket still open.
"""

import json
import os
import signal
import socket
import sys

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(8)
client = socket.create_connection(listener.getsockname())
accepted, _addr = listener.accept()
fds = {"listen": listener.fileno(), "client": client.fileno(), "accepted": accepted.fileno()}
port = listener.getsockname()[1]
print("READY " + json.dumps({"pid": os.getpid(), "port": port, "fds": fds}), flush=True)
try:
    data = client.recv(64)
    print("WOKE fd=%d ret=%d err=NONE" % (fds["client"], len(data)), flush=True)
except OSError as e:
    print("WOKE fd=%d ret=-1 err=%s errno=%s" % (fds["client"], type(e).__name__, e.errno),
          flush=True)
sys.stdout.flush()
while True:
    signal.pause()
