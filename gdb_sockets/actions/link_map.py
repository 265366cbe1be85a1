"""The dynamic linker's list of loaded objects, read from the target's memory.

The program's own dynamic section holds DT_DEBUG, which ld.so points at
its ``struct r_debug``; ``r_map`` heads the link map, the objects in the
order ld.so loaded them: the program, its preloads and DT_NEEDED libraries
(breadth first) at startup, then whatever dlopen() added.  No gdb here:
memory comes through a ``read(address, size) -> bytes`` callable.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from ..errors import SocketsError

AT_PHDR, AT_PHENT, AT_PHNUM = 3, 4, 5
PT_DYNAMIC, PT_PHDR = 2, 6
DT_NULL, DT_DEBUG = 0, 21
MAX_OBJECTS = 4096  # a corrupt list must not loop forever
MAX_DYNAMIC = 1024


@dataclass(frozen=True)
class LinkMapEntry:
    """One ``struct link_map``: load bias, file name, dynamic section."""

    l_addr: int
    name: bytes
    l_ld: int


def auxv_entries(auxv: bytes) -> dict:
    """/proc/PID/auxv (64-bit): type -> value, up to AT_NULL."""
    out = {}
    for offset in range(0, len(auxv) - 15, 16):
        key, value = struct.unpack_from("<QQ", auxv, offset)
        if key == 0:
            break
        out[key] = value
    return out


def r_debug_address(auxv: bytes, read: Callable[[int, int], bytes]) -> Optional[int]:
    """The address of ld.so's r_debug from the program's DT_DEBUG, or None.

    None for a program with no dynamic section (static) or whose DT_DEBUG
    ld.so has not filled in.
    """
    aux = auxv_entries(auxv)
    phdr, phent, phnum = aux.get(AT_PHDR), aux.get(AT_PHENT, 56), aux.get(AT_PHNUM, 0)
    if phdr is None or phent < 56 or not 0 < phnum < 256:
        return None
    table = read(phdr, phent * phnum)
    headers = [struct.unpack_from("<IIQQQQQQ", table, i * phent) for i in range(phnum)]
    bias = None
    for p_type, _f, _off, vaddr, _pa, _fs, _ms, _al in headers:
        if p_type == PT_PHDR:
            bias = phdr - vaddr
    if bias is None:
        return None
    for p_type, _f, _off, vaddr, _pa, filesz, _ms, _al in headers:
        if p_type != PT_DYNAMIC:
            continue
        dynamic = read(bias + vaddr, min(filesz, 16 * MAX_DYNAMIC))
        for offset in range(0, len(dynamic) - 15, 16):
            tag, value = struct.unpack_from("<qQ", dynamic, offset)
            if tag == DT_NULL:
                break
            if tag == DT_DEBUG:
                return value or None
    return None


def read_c_string(read: Callable[[int, int], bytes], address: int, limit: int = 4096) -> bytes:
    out = b""
    while len(out) < limit:
        # Never read across a page end: the next page may be unmapped.
        chunk = read(address + len(out), 256 - ((address + len(out)) % 256))
        end = chunk.find(b"\0")
        if end >= 0:
            return out + chunk[:end]
        out += chunk
    raise SocketsError("a link map name is longer than %d bytes" % limit)


def link_map(r_debug: int, read: Callable[[int, int], bytes]) -> List[LinkMapEntry]:
    """The link map of ld.so's base namespace, in its order.

    struct r_debug { int r_version; struct link_map *r_map; ... } and
    struct link_map { ElfW(Addr) l_addr; char *l_name; ElfW(Dyn) *l_ld;
    struct link_map *l_next, *l_prev; ... } (<link.h>, 64-bit).
    """
    head = struct.unpack("<Q", read(r_debug + 8, 8))[0]
    entries = []
    node = head
    while node and len(entries) < MAX_OBJECTS:
        l_addr, l_name, l_ld, l_next = struct.unpack("<QQQQ", read(node, 32))
        name = read_c_string(read, l_name) if l_name else b""
        entries.append(LinkMapEntry(l_addr, name, l_ld))
        node = l_next
    if node:
        raise SocketsError("the dynamic linker's list of objects does not end")
    return entries


_LIBC_NAME = re.compile(rb"(^|/)libc(\.so\.6|-[0-9.]+\.so)$")


def bound_libc(entries: Sequence[LinkMapEntry]) -> Optional[LinkMapEntry]:
    """The libc the dynamic linker bound for the program, or None (no libc).

    The link map lists the objects in the order ld.so loaded them: the
    program, its preloads and its DT_NEEDED libraries breadth first at
    startup, then what dlopen() added.  The program's ``libc.so.6`` was
    satisfied by the first object of that name, so a library of the same
    name dlopen()ed later (an impostor, a plugin's private copy) comes
    after it and is never taken.  (Entry 0 is the program itself.)
    """
    for entry in entries[1:]:
        if _LIBC_NAME.search(entry.name):
            return entry
    return None
