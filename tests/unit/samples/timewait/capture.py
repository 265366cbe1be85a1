#!/usr/bin/env python3
"""Capture /proc/self/net/tcp with a connection in TIME-WAIT whose fd is still open.

Run as root from the repository root: python3 tests/unit/samples/timewait/capture.py

In a fresh network namespace (unshare -n, lo up): a listener on
127.0.0.1:8090, a client bound to 127.0.0.1:41900 connected to it; the
client shuts down (SHUT_RDWR, as sock-shutdown does), the server reads
end-of-file and closes.  The client's FIN went first, so the connection
waits out TIME-WAIT: the kernel's table holds it as a row with inode 0,
while the client's fd stays open on a socket that is in no table (state
CLOSE).  Writes tcp_time_wait (the exact bytes) and sockets.json (the
client's inode from fstat, the endpoints).
"""

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 8090))
    listener.listen(1)
    client = socket.socket()
    client.bind(("127.0.0.1", 41900))
    client.connect(("127.0.0.1", 8090))
    server, _ = listener.accept()
    client.shutdown(socket.SHUT_RDWR)
    assert server.recv(10) == b""
    server.close()
    with open("/proc/self/net/tcp", "rb") as f:
        while b" 06 " not in f.read():  # wait for the client to see the FIN
            time.sleep(0.01)
            f.seek(0)
    with open("/proc/self/net/tcp", "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "tcp_time_wait"), "wb") as f:
        f.write(data)
    with open(os.path.join(HERE, "sockets.json"), "w") as f:
        json.dump({"client_inode": os.fstat(client.fileno()).st_ino,
                   "listener_inode": os.fstat(listener.fileno()).st_ino,
                   "client": ["127.0.0.1", 41900], "server": ["127.0.0.1", 8090]}, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        subprocess.run(["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                        sys.executable, os.path.abspath(__file__), "--child"], check=True)
