"""The captured samples (see samples/README.md) and what capture.py knew of them."""

import json
import os

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")

with open(os.path.join(SAMPLES, "sockets.json")) as _f:
    SOCKETS = json.load(_f)

UNIX_DIR = "/tmp/gdb_sockets_samples"


def sample(name: str) -> bytes:
    """The bytes of one captured table."""
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


def inode(case: str, role: str) -> int:
    return SOCKETS[case][role]
