"""sc_edges: sockets that an exact sock_diag lookup cannot settle alone.

Usage: python3 sc_edges.py

Each one needs the fallback of the fast listing path (a dump) or must be
recognised as being in no table:

- three TCP listeners and three UDP sockets sharing a port with
  SO_REUSEPORT (a lookup by address answers with any one of them);
- a TCP listener and a UDP socket bound to the device ``lo``
  (SO_BINDTODEVICE: a lookup without the device finds nothing);
- a TCP socket only bound, and a TCP connection reset by its peer: state
  CLOSE, in no table, yet holding a port;
- a dup of an accepted connection (two fds, one socket);
- fresh and unbound sockets; a connected UDP socket (bound implicitly);
- a TCP listener and a UDP socket created in another network namespace
  (a thread that unshared its own): in no table of the process's
  namespace.

When everything is in place it prints one line

    READY {"pid": N, "fds": {NAME: FD, ...}, "missing": {NAME: "why", ...}}

(a kind the kernel or the privileges refuse goes to "missing"), then
sleeps until killed.
"""

import ctypes
import json
import os
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

fds = {}
missing = {}
keep = []


def hold(name, sock):
    keep.append(sock)
    fds[name] = sock.fileno()
    return sock


def optional(name, make):
    try:
        make()
    except OSError as e:
        missing[name] = e.strerror or str(e)


def reuseport(kind, count):
    port = 0
    for i in range(count):
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        port = s.getsockname()[1]
        if kind == socket.SOCK_STREAM:
            s.listen(8)
        hold("%s_reuseport_%d" % ("tcp" if kind == socket.SOCK_STREAM else "udp", i), s)


def bound_to_lo():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b"lo")
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    hold("tcp_listen_on_lo", s)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b"lo")
    u.bind(("127.0.0.1", 0))
    hold("udp_on_lo", u)


def reset_connection():
    """A client whose peer reset the connection: TCP_CLOSE with its fd open."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.socket()
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()  # RST
    listener.close()
    for _ in range(1000):
        state = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        if state == 7:
            break
        time.sleep(0.001)
    else:
        raise OSError(0, "the reset never arrived")
    hold("tcp_reset", client)


def in_other_namespace():
    """Sockets made by a thread that moved into a new network namespace."""
    made = {}

    def run():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            made["error"] = os.strerror(ctypes.get_errno())
            return
        t = socket.socket()
        t.bind(("0.0.0.0", 0))
        t.listen(4)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 0))
        made["socks"] = (t, u)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in made:
        raise OSError(0, made["error"])
    hold("tcp_other_netns", made["socks"][0])
    hold("udp_other_netns", made["socks"][1])


def main():
    reuseport(socket.SOCK_STREAM, 3)
    reuseport(socket.SOCK_DGRAM, 3)
    optional("bound_to_lo", bound_to_lo)

    only_bound = socket.socket()
    only_bound.bind(("127.0.0.1", 0))
    hold("tcp_only_bound", only_bound)
    optional("tcp_reset", reset_connection)

    listener = hold("tcp_listen", socket.socket())
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    client = hold("tcp_client", socket.create_connection(listener.getsockname()))
    accepted, _ = listener.accept()
    hold("tcp_accepted", accepted)
    dup = socket.socket(fileno=os.dup(accepted.fileno()))
    hold("tcp_accepted_dup", dup)
    client.sendall(b"abc")
    pending = hold("tcp_pending", socket.create_connection(listener.getsockname()))
    del pending

    hold("tcp_fresh", socket.socket())
    hold("tcp6_fresh", socket.socket(socket.AF_INET6))
    hold("udp_unbound", socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    target = hold("udp_bound_any", socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    target.bind(("0.0.0.0", 0))
    connected = hold("udp_connected", socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    connected.connect(("127.0.0.1", target.getsockname()[1]))
    connected.send(b"x")

    optional("other_netns", in_other_namespace)

    a, b = socket.socketpair()
    hold("unix_pair_a", a)
    hold("unix_pair_b", b)

    print("READY " + json.dumps({"pid": os.getpid(), "fds": fds, "missing": missing}),
          flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
