"""rm_peer: the far end for sock-timeout/sock-kill tests, run in its own namespace.

    python3 rm_peer.py PORT [quiet]

Listens on 0.0.0.0:PORT (TCP) and 0.0.0.0:PORT (UDP), prints

    READY {"pid": P, "port": PORT}

then for every TCP connection it accepts, ``ACCEPT CLIENTPORT``, and when
the connection ends, ``PEER-EOF CLIENTPORT`` (a FIN) or ``PEER-ERR
CLIENTPORT ERRNONAME`` (ECONNRESET for a reset).  It sends nothing.
With ``quiet`` it never reads (a writer to it fills the window) and says
only ACCEPT.
"""

import errno
import json
import os
import socket
import sys
import threading

port = int(sys.argv[1])
quiet = sys.argv[2:] == ["quiet"]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", port))
listener.listen(16)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", port))
print("READY " + json.dumps({"pid": os.getpid(), "port": port}), flush=True)
lock = threading.Lock()


def say(text):
    with lock:
        print(text, flush=True)


def watch(conn, client_port):
    try:
        while True:
            if not conn.recv(4096):
                say("PEER-EOF %d" % client_port)
                return
    except OSError as e:
        say("PEER-ERR %d %s" % (client_port, errno.errorcode.get(e.errno, e.errno)))


while True:
    conn, address = listener.accept()
    say("ACCEPT %d" % address[1])
    if quiet:
        kept = globals().setdefault("kept", [])
        kept.append(conn)
        continue
    threading.Thread(target=watch, args=(conn, address[1]), daemon=True).start()
