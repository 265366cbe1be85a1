"""edge_udp: a UDP socket that was never connected, a thread blocked on it.

Prints READY {"pid": P, "fd": F} then blocks in recvfrom(F); prints
"RECV ret=<len> data=<repr>" when it returns, and exits.
"""

import json
import os
import socket

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print("READY " + json.dumps({"pid": os.getpid(), "fd": sock.fileno()}), flush=True)
data, _ = sock.recvfrom(64)
print("RECV ret=%d data=%r" % (len(data), data), flush=True)
