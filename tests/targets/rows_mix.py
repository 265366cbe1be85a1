"""rows_mix: a big-enough target for the unbuilt-rows path, with what the
view adds to a few rows.

Usage: rows_mix.py PAIRS

Holds a loopback TCP listener and PAIRS connected pairs (both ends), 20
bound UDP sockets, a UNIX socket pair, a TCP socket never bound, a dup of
one client fd, and a thread blocked in recv() on another client fd.
Prints

  READY {"pid": N, "port": P, "blocked": FD, "dup": FD, "duped": FD,
         "udp": FD, "file": FD}

(P the listener's port; "file" an fd open on /dev/null.)

then sleeps until killed.
"""

import json
import os
import socket
import sys
import threading
import time

pairs = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(pairs + 8)
held = [listener]
for _ in range(pairs):
    client = socket.create_connection(listener.getsockname())
    accepted, _peer = listener.accept()
    held += [client, accepted]
for _ in range(20):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    held.append(udp)
held += list(socket.socketpair())
held.append(socket.socket())
duped = held[3]
dup = os.dup(duped.fileno())
blocked = held[5]
threading.Thread(target=blocked.recv, args=(1,), daemon=True).start()
time.sleep(0.2)
devnull = open(os.devnull)
print("READY " + json.dumps({"pid": os.getpid(), "port": listener.getsockname()[1],
                             "blocked": blocked.fileno(), "dup": dup, "duped": duped.fileno(),
                             "udp": held[1 + 2 * pairs].fileno(), "file": devnull.fileno()}),
      flush=True)
while True:
    time.sleep(3600)
