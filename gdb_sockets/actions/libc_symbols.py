"""Where a libc function is in the target, without trusting name lookup.

gdb resolves ``shutdown`` to the first definition it finds, which is the
program's own when it has one.  Here the address comes from libc's own
dynamic symbol table plus the address libc was mapped at; which libc, the
caller found in the dynamic linker's link map (actions/link_map.py): a
second library named libc.so.6 may be mapped first.
"""

from __future__ import annotations

import io
import os
from typing import Optional

from . import elf
from ..kernel import procfs
from ..errors import SocketsError
from ..view.render import escape

# Symbol offsets by (pid, load address, path, name): a process keeps its
# libc mapping for life, and reading libc's symbols costs milliseconds.
_OFFSETS: dict = {}

def libc_mapping_at(reader, pid: int, base: int) -> Optional[procfs.Mapping]:
    """The file mapping that starts at ``base`` with file offset 0, or None."""
    for mapping in procfs.read_maps(reader, pid):
        if mapping.start == base and mapping.offset == 0 and mapping.path:
            return mapping
    return None


def _libc_file(reader, pid: int, mapping: procfs.Mapping) -> bytes:
    path = "/proc/%d/root%s" % (pid, mapping.path)
    try:
        data = reader.read(path)
        inode = os.stat(path).st_ino if isinstance(reader, procfs.LocalProc) else None
    except OSError as e:
        raise SocketsError("cannot read the target's libc (%s): %s"
                           % (escape(path), e.strerror or e)) from None
    if inode is not None and mapping.inode and inode != mapping.inode:
        raise SocketsError("%s is not the file the process mapped (inode %d, mapped %d: "
                           "replaced since it was loaded?); not calling into it"
                           % (escape(mapping.path), inode, mapping.inode))
    return data


def check_libc(reader, pid: int, mapping: procfs.Mapping, l_ld: int) -> None:
    """Refuse unless the file behind ``mapping`` is a libc.so.6 whose dynamic
    section is where the dynamic linker's link map says (``l_ld``)."""
    data = _libc_file(reader, pid, mapping)
    soname, dynamic = elf.identity(io.BytesIO(data))
    if soname != b"libc.so.6":
        raise SocketsError("%s calls itself %s, not libc.so.6; not calling into it"
                           % (escape(mapping.path), escape(repr(soname))))
    if dynamic is None or mapping.start + dynamic != l_ld:
        raise SocketsError("the dynamic section of %s is not where the dynamic linker "
                           "has it; not calling into it" % escape(mapping.path))


def libc_function(reader, pid: int, mapping: procfs.Mapping, name: str) -> Optional[int]:
    """The run-time address of ``name`` exported by the libc at ``mapping``, or None.

    None when libc does not export ``name`` as a plain function.  libc is
    read through /proc/PID/root so that a process in a container is read
    in its own filesystem.
    """
    key = (pid, mapping.start, mapping.path, mapping.inode, name)
    if key not in _OFFSETS:
        data = _libc_file(reader, pid, mapping)
        _OFFSETS[key] = elf.dynamic_symbol(io.BytesIO(data), name)
    offset = _OFFSETS[key]
    if offset is None:
        return None
    return mapping.start + offset
