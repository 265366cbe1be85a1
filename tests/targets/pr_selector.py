#!/usr/bin/env python3
"""pr_selector: python's http.server, whose serve_forever() polls its
listener through a selector (selectors.PollSelector), as `python3 -m
http.server` runs.

Usage: pr_selector.py

Binds 127.0.0.1 on a port the kernel picks, prints

    READY {"pid": N, "fd": L, "port": P}

(L the listener's fd) and serves until killed.  Once the listener is shut
down, poll reports it readable on every call and accept() fails with
EINVAL, which socketserver swallows: the loop spins.
"""

import http.server
import json
import os

server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
print("READY " + json.dumps({"pid": os.getpid(), "fd": server.fileno(),
                             "port": server.server_address[1]}), flush=True)
server.serve_forever()
