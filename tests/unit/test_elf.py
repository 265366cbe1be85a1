"""elf.dynamic_symbols against readelf, on this machine's libc."""

import io
import os
import re
import shutil
import subprocess

import pytest

from gdb_sockets.actions import elf

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
NAMES = ("shutdown", "__errno_location", "recv", "memcpy", "strlen", "gets",
         "no_such_function_here")

pytestmark = pytest.mark.skipif(shutil.which("readelf") is None or not os.path.exists(LIBC),
                                reason="needs readelf and %s" % LIBC)


def readelf_answer(names):
    """What dynamic_symbols must say: the first defined FUNC/IFUNC of each
    name in table order; an IFUNC is None (chosen at run time)."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", LIBC], capture_output=True,
                         text=True, check=True).stdout
    load = subprocess.run(["readelf", "-l", "-W", LIBC], capture_output=True, text=True,
                          check=True).stdout
    first_load = int(re.search(r"^\s+LOAD\s+\S+\s+(0x[0-9a-f]+)", load, re.M).group(1), 16) & ~0xFFF
    found = {name: None for name in names}
    seen = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 8 or not fields[0].rstrip(":").isdigit():
            continue
        value, kind, ndx, name = int(fields[1], 16), fields[3], fields[6], fields[7]
        name = name.split("@")[0]
        if name not in found or name in seen or ndx == "UND" or value == 0:
            continue
        if kind not in ("FUNC", "IFUNC"):
            continue
        seen.add(name)
        found[name] = None if kind == "IFUNC" else value - first_load
    return found


def test_dynamic_symbols_agree_with_readelf():
    with open(LIBC, "rb") as f:
        mine = elf.dynamic_symbols(f, NAMES)
    assert mine == readelf_answer(NAMES)
    assert mine["shutdown"] is not None and mine["no_such_function_here"] is None


def test_one_name_is_the_same_answer():
    with open(LIBC, "rb") as f:
        data = f.read()
    assert elf.dynamic_symbol(io.BytesIO(data), "shutdown") == elf.dynamic_symbols(
        io.BytesIO(data), ("shutdown",))["shutdown"]
