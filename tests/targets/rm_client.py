"""rm_client: a process stuck on a connection, for sock-timeout/sock-kill tests.

    python3 rm_client.py PEER_ADDRESS PORT [tcp|udp|tcp-write]

Opens two connections to PEER_ADDRESS:PORT ("stuck" and "other"; TCP by
default, else connected UDP sockets) and a UNIX socketpair, prints

    READY {"pid": P, "fds": {"stuck": S, "other": O, "unix": U},
           "ports": {"stuck": LOCALPORT, "other": LOCALPORT}}

then blocks in recv() on "stuck" in the main thread (tcp-write: in send(),
sending until the peer's window and the send buffer are full).  When that
returns:

    WOKE ret=LEN            or    WOKE err=ERRNONAME

and then "OTHER ok" if a send on "other" still works (OTHER err=NAME if
not), and waits in signal.pause() with every socket open.
"""

import errno
import json
import os
import signal
import socket
import sys

address, port = sys.argv[1], int(sys.argv[2])
kind = sys.argv[3] if len(sys.argv) > 3 else "tcp"
if kind in ("tcp", "tcp-write"):
    stuck = socket.create_connection((address, port))
    other = socket.create_connection((address, port))
else:
    stuck = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stuck.connect((address, port))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.connect((address, port))
pair = socket.socketpair()
print("READY " + json.dumps({
    "pid": os.getpid(),
    "fds": {"stuck": stuck.fileno(), "other": other.fileno(), "unix": pair[0].fileno()},
    "ports": {"stuck": stuck.getsockname()[1], "other": other.getsockname()[1]}}), flush=True)
try:
    if kind == "tcp-write":
        while True:
            stuck.send(b"x" * 65536)
    data = stuck.recv(64)
    print("WOKE ret=%d" % len(data), flush=True)
except OSError as e:
    print("WOKE err=%s" % errno.errorcode.get(e.errno, e.errno), flush=True)
try:
    other.send(b"x")
    print("OTHER ok", flush=True)
except OSError as e:
    print("OTHER err=%s" % errno.errorcode.get(e.errno, e.errno), flush=True)
while True:
    signal.pause()
