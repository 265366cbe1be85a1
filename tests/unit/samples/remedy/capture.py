#!/usr/bin/env python3
"""Capture the samples of tests/unit/test_remedy_*.py (run as root from the repository root).

    python3 tests/unit/samples/remedy/capture.py

Runs itself again under ``unshare -n`` (a fresh network namespace, ``lo``
up), so nothing of the host is touched.  In it:

1. A TCP pair on 127.0.0.1: the server end sends 5 bytes, the client reads
   them; 1.0 s later the client sends 3 bytes; 1.0 s after that (2.0 s
   after the data came in) the client end's TCP_INFO is read with
   getsockopt (``tcp_info_idle``), an exact sock_diag answer for it with
   INET_DIAG_INFO is received (``diag_info_answer``), and ``ss -tin``
   prints its lastsnd/lastrcv/lastack (in ``expected.json``: the oracle).
2. SOCK_DESTROY for that socket with its cookie plus one: the kernel's
   reply (``destroy_ack_enoent``, ENOENT), then with its cookie
   (``destroy_ack_ok``, 0).  The request sent is ``destroy_request_tcp``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))


def main() -> None:
    sys.path.insert(0, REPO)
    from gdb_sockets.kernel import destroy, keepalive

    listener = socket.socket()
    listener.bind(("127.0.0.1", 47001))
    listener.listen(1)
    client = socket.socket()
    client.bind(("127.0.0.1", 47002))
    client.connect(("127.0.0.1", 47001))
    server, _ = listener.accept()
    server.sendall(b"hello")
    assert client.recv(5) == b"hello"
    time.sleep(1.0)
    client.sendall(b"abc")
    assert server.recv(3) == b"abc"
    time.sleep(1.0)

    expected = {}
    info = client.getsockopt(socket.IPPROTO_TCP, keepalive.TCP_INFO, 232)
    diag = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    # inet_diag_req_v2 for the client end, ext INET_DIAG_INFO (1 << (2 - 1)).
    body = (struct.pack("=BBBBI", socket.AF_INET, 6, 1 << 1, 0, 0xFFFFFFFF)
            + struct.pack("!HH", 47002, 47001) + socket.inet_aton("127.0.0.1").ljust(16, b"\0")
            + socket.inet_aton("127.0.0.1").ljust(16, b"\0")
            + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))
    diag.send(struct.pack("=IHHII", 16 + len(body), 20, 1, 7, 0) + body)
    answer = diag.recv(65536)
    ss = subprocess.run(["ss", "-tin", "src", "127.0.0.1:47002"], capture_output=True,
                        text=True).stdout
    fields = dict(word.split(":", 1) for word in ss.split() if word.startswith("last"))
    expected["ss_tin"] = ss
    expected["ss_last_ms"] = {k: int(v) for k, v in fields.items()}
    expected["inode"] = os.fstat(client.fileno()).st_ino

    cookie = destroy.cookie(client.fileno())
    target = destroy.Target(socket.AF_INET, 6, socket.inet_aton("127.0.0.1"), 47002,
                            socket.inet_aton("127.0.0.1"), 47001, cookie + 1)
    diag.send(destroy.destroy_request(11, target))
    enoent = diag.recv(65536)
    request = destroy.destroy_request(12, target._replace(cookie=cookie))
    diag.send(request)
    ok = diag.recv(65536)
    expected["cookie"] = cookie
    try:
        client.recv(1)
        expected["client_after"] = "no error"
    except OSError as e:
        expected["client_after"] = type(e).__name__
    for name, data in (("tcp_info_idle", info), ("diag_info_answer", answer),
                       ("destroy_ack_enoent", enoent), ("destroy_ack_ok", ok),
                       ("destroy_request_tcp", request)):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if "--inside" in sys.argv:
        main()
    else:
        subprocess.run(["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                        "sh", sys.executable, os.path.abspath(__file__), "--inside"], check=True)
