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
from typing import Dict, Optional, Sequence

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
        if isinstance(reader, procfs.LocalProc):
            # Read and identified through one open file: the inode checked
            # is the one read.
            with open(reader.root + path, "rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                data = f.read()
        else:
            data, inode = reader.read(path), None
    except OSError as e:
        raise SocketsError("cannot read the target's libc (%s): %s"
                           % (escape(path), e.strerror or e)) from None
    if inode is not None and mapping.inode and inode != mapping.inode:
        raise SocketsError("%s is not the file the process mapped (inode %d, mapped %d: "
                           "replaced since it was loaded?); not calling into it"
                           % (escape(mapping.path), inode, mapping.inode))
    return data


def _check_identity(data: bytes, mapping: procfs.Mapping, l_ld: int) -> None:
    soname, dynamic = elf.identity(io.BytesIO(data))
    if soname != b"libc.so.6":
        raise SocketsError("%s calls itself %s, not libc.so.6; not calling into it"
                           % (escape(mapping.path), escape(repr(soname))))
    if dynamic is None or mapping.start + dynamic != l_ld:
        raise SocketsError("the dynamic section of %s is not where the dynamic linker "
                           "has it; not calling into it" % escape(mapping.path))


def check_libc(reader, pid: int, mapping: procfs.Mapping, l_ld: int) -> None:
    """Refuse unless the file behind ``mapping`` is a libc.so.6 whose dynamic
    section is where the dynamic linker's link map says (``l_ld``)."""
    _check_identity(_libc_file(reader, pid, mapping), mapping, l_ld)


def checked_libc_functions(reader, pid: int, mapping: procfs.Mapping, l_ld: int,
                           names: Sequence[str]) -> Dict[str, Optional[int]]:
    """check_libc, then libc_function for each of ``names``: the file read once.

    name -> its run-time address, or None where libc does not export it as
    a plain function.
    """
    data = _libc_file(reader, pid, mapping)
    _check_identity(data, mapping, l_ld)
    key = (pid, mapping.start, mapping.path, mapping.inode)
    missing = [name for name in names if key + (name,) not in _OFFSETS]
    if missing:
        for name, offset in elf.dynamic_symbols(io.BytesIO(data), missing).items():
            _OFFSETS[key + (name,)] = offset
    offsets = {name: _OFFSETS[key + (name,)] for name in names}
    return {name: None if offset is None else mapping.start + offset
            for name, offset in offsets.items()}


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
