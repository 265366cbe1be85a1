"""Where a libc function is in the target, without trusting name lookup.

gdb resolves ``shutdown`` to the first definition it finds, which is the
program's own when it has one.  Here the address comes from libc's own
dynamic symbol table plus the address libc was mapped at.
"""

from __future__ import annotations

import io
import re
from typing import Optional

from . import elf
from ..kernel import procfs
from ..errors import SocketsError
from ..view.render import escape

# Symbol offsets by (pid, load address, path, name): a process keeps its
# libc mapping for life, and reading libc's symbols costs milliseconds.
_OFFSETS: dict = {}

_LIBC = re.compile(r"/libc(\.so\.6|-[0-9.]+\.so)$")


def libc_mapping(reader, pid: int) -> Optional[procfs.Mapping]:
    """The mapping of libc at file offset 0 (its load base), or None (static)."""
    for mapping in procfs.read_maps(reader, pid):
        if mapping.offset == 0 and _LIBC.search(mapping.path):
            return mapping
    return None


def libc_function(reader, pid: int, name: str) -> Optional[int]:
    """The run-time address of libc's exported ``name``, or None.

    None when the process has no shared libc (a static binary) or libc does
    not export ``name`` as a plain function.  libc is read through
    /proc/PID/root so that a process in a container is read in its own
    filesystem.
    """
    mapping = libc_mapping(reader, pid)
    if mapping is None:
        return None
    key = (pid, mapping.start, mapping.path, name)
    if key not in _OFFSETS:
        path = "/proc/%d/root%s" % (pid, mapping.path)
        try:
            data = reader.read(path)
        except OSError as e:
            raise SocketsError("cannot read the target's libc (%s): %s"
                               % (escape(path), e.strerror or e)) from None
        _OFFSETS[key] = elf.dynamic_symbol(io.BytesIO(data), name)
    offset = _OFFSETS[key]
    if offset is None:
        return None
    return mapping.start + offset
