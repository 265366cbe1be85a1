"""Example gdb script: report CLOSE-WAIT sockets and shut them down.

    gdb -p PID -batch -iex 'source /path/to/gdb_sockets/init.py' \
        -x examples/close_wait_report.py

Prints one JSON object: the sockets that were in CLOSE-WAIT and, for each,
the verified outcome of shutting it down.
"""

import json

import gdb

import gdb_sockets.api as sockets_api
from gdb_sockets.errors import SocketsError

try:
    stuck = [s for s in sockets_api.sockets() if s.state == "CLOSE-WAIT"]
    outcomes = [sockets_api.shutdown_fd(s.fd, "both") for s in stuck]
except SocketsError as e:
    raise gdb.GdbError(str(e))
print(json.dumps({
    "close_wait": [s.to_json() for s in stuck],
    "outcomes": [o.to_json() for o in outcomes],
}))
