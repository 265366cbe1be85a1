"""oddpaths: UNIX sockets whose names are hard to print.

Usage: oddpaths.py DIR

Binds, under DIR, a stream listener whose path holds a newline, a datagram
socket whose path holds bytes that are not UTF-8, and a datagram socket
with an abstract name holding a NUL byte.  Prints

    READY {"pid": N, "socks": {NAME: {"fd": FD, "inode": INO, "name_hex": HEX}}}

(name_hex: the exact sun_path bytes, abstract names with their leading
NUL) and waits in pause().
"""
import json
import os
import signal
import socket
import sys

base = os.fsencode(sys.argv[1])
names = {
    "newline": (socket.SOCK_STREAM, base + b"/new\nline.sock"),
    "not_utf8": (socket.SOCK_DGRAM, base + b"/bad\xff\xfe.sock"),
    "abstract_nul": (socket.SOCK_DGRAM, b"\0odd\0name-%d" % os.getpid()),
}
socks = {}
keep = []
for name, (kind, address) in names.items():
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(address)
    if kind == socket.SOCK_STREAM:
        s.listen(4)
    keep.append(s)
    socks[name] = {"fd": s.fileno(), "inode": os.fstat(s.fileno()).st_ino,
                   "name_hex": address.hex()}
sys.stdout.write("READY %s\n" % json.dumps({"pid": os.getpid(), "socks": socks}))
sys.stdout.flush()
while True:
    signal.pause()
