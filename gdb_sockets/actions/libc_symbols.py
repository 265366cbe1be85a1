"""Where a libc function is in the target, without trusting name lookup.

gdb resolves ``shutdown`` to the first definition it finds, which is the
program's own when it has one.  Here the address comes from libc's own
dynamic symbol table plus the address libc was mapped at; which libc, the
caller found in the dynamic linker's link map (actions/link_map.py): a
second library named libc.so.6 may be mapped first.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import BinaryIO, Dict, Iterator, Optional, Sequence

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


@contextlib.contextmanager
def _libc_file(reader, pid: int, mapping: procfs.Mapping) -> Iterator[BinaryIO]:
    """The file behind ``mapping``, open, once it is checked to be the one
    the process mapped (same inode, on this host)."""
    path = "/proc/%d/root%s" % (pid, mapping.path)
    try:
        if isinstance(reader, procfs.LocalProc):
            # Read and identified through one open file: the inode checked
            # is the one read; only the headers and tables are read.
            f: BinaryIO = open(reader.root + path, "rb")
            inode: Optional[int] = os.fstat(f.fileno()).st_ino
        else:
            f, inode = io.BytesIO(reader.read(path)), None
    except OSError as e:
        raise SocketsError("cannot read the target's libc (%s): %s"
                           % (escape(path), e.strerror or e)) from None
    with f:
        if inode is not None and mapping.inode and inode != mapping.inode:
            raise SocketsError("%s is not the file the process mapped (inode %d, mapped %d: "
                               "replaced since it was loaded?); not calling into it"
                               % (escape(mapping.path), inode, mapping.inode))
        yield f


def checked_libc_functions(reader, pid: int, mapping: procfs.Mapping, l_ld: int,
                           names: Sequence[str]) -> Dict[str, Optional[int]]:
    """The run-time address of each of ``names`` exported by the libc at
    ``mapping`` (None where it does not export it as a plain function),
    once the file is checked: a libc.so.6 whose dynamic section is where
    the dynamic linker's link map says (``l_ld``).

    libc is read through /proc/PID/root so that a process in a container is
    read in its own filesystem; the file is opened once.
    """
    key = (pid, mapping.start, mapping.path, mapping.inode)
    with _libc_file(reader, pid, mapping) as f:
        soname, dynamic = elf.identity(f)
        if soname != b"libc.so.6":
            raise SocketsError("%s calls itself %s, not libc.so.6; not calling into it"
                               % (escape(mapping.path), escape(repr(soname))))
        if dynamic is None or mapping.start + dynamic != l_ld:
            raise SocketsError("the dynamic section of %s is not where the dynamic linker "
                               "has it; not calling into it" % escape(mapping.path))
        missing = [name for name in names if key + (name,) not in _OFFSETS]
        if missing:
            for name, offset in elf.dynamic_symbols(f, missing).items():
                _OFFSETS[key + (name,)] = offset
    offsets = {name: _OFFSETS[key + (name,)] for name in names}
    return {name: None if offset is None else mapping.start + offset
            for name, offset in offsets.items()}
