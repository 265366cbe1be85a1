"""actions/link_map.py: ld.so's link map from the target's memory, and its libc.

Samples (tests/unit/samples/link_map/*.json): every memory read the code
made of a real nh_target under gdb 13.1 (address, bytes), its auxv, maps
and the list it found ("how" says which process).  Replayed here: a read
the capture did not make fails, so the code must read the same way.
"""

import json
import os
import struct
import sys

import pytest

from gdb_sockets.actions import link_map
from gdb_sockets.errors import SocketsError

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "link_map")


def sample(name):
    with open(os.path.join(SAMPLES, name + ".json")) as f:
        data = json.load(f)
    memory = {(address, len(bytes.fromhex(text))): bytes.fromhex(text)
              for address, text in data["reads"]}

    def read(address, size):
        return memory[(address, size)]
    return data, bytes.fromhex(data["auxv"]), read


def test_never_imports_gdb():
    assert "gdb" not in sys.modules


@pytest.mark.parametrize("name", ["impostor", "preload"])
def test_the_link_map_in_load_order(name):
    data, auxv, read = sample(name)
    entries = link_map.link_map(link_map.r_debug_address(auxv, read), read)
    assert [[e.l_addr, e.name.decode(), e.l_ld] for e in entries] == data["expected"]
    assert entries[0].name == b""  # the program itself


def test_a_dlopened_libc_so_6_is_not_the_bound_one():
    """The impostor is mapped below the real libc (first in the maps), but
    comes after it in the link map."""
    data, auxv, read = sample("impostor")
    entries = link_map.link_map(link_map.r_debug_address(auxv, read), read)
    first_in_maps = next(line for line in data["maps"].splitlines()
                         if line.endswith("/libc.so.6"))
    assert "impdir" in first_in_maps
    libc = link_map.bound_libc(entries)
    assert libc.name == b"/lib/x86_64-linux-gnu/libc.so.6"
    assert any(e.name.endswith(b"impdir/libc.so.6") for e in entries)


def test_a_preloaded_library_is_not_libc():
    data, auxv, read = sample("preload")
    entries = link_map.link_map(link_map.r_debug_address(auxv, read), read)
    assert link_map.bound_libc(entries).name == b"/lib/x86_64-linux-gnu/libc.so.6"


def test_a_static_program_has_no_link_map():
    _data, auxv, read = sample("static")
    assert link_map.r_debug_address(auxv, read) is None


def test_auxv_entries_stop_at_at_null():
    auxv = struct.pack("<QQQQQQ", 3, 0x1000, 0, 0, 5, 7)
    assert link_map.auxv_entries(auxv) == {3: 0x1000}


def test_a_looping_list_ends():
    node = 0x1000
    memory = {(0x2008, 8): struct.pack("<Q", node),
              (node, 32): struct.pack("<QQQQ", 0, 0, 0, node)}  # l_next points at itself
    with pytest.raises(SocketsError, match="does not end"):
        link_map.link_map(0x2000, lambda a, n: memory[(a, n)])
