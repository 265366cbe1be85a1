"""idle: a process with no sockets at all (only stdin, stdout, stderr).

Prints ``READY {"pid": N}`` and waits in pause(); SIGTERM ends it.
"""
import json
import os
import signal
import sys

sys.stdout.write("READY %s\n" % json.dumps({"pid": os.getpid()}))
sys.stdout.flush()
while True:
    signal.pause()
