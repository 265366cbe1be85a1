"""Where a thread's errno is, from the code of libc's ``__errno_location`` (pure).

glibc's ``__errno_location`` on x86-64 is a leaf of three instructions
(glibc 2.36, Debian 12, as disassembled here):

    48 8b 05 d32                mov  rax, [rip + d32]   ; errno's TLS offset, from the GOT
    64 48 03 04 25 00 00 00 00  add  rax, fs:[0]        ; the thread pointer (TCB self-pointer)
    c3                          ret

built with CET it starts with ``f3 0f 1e fa`` (endbr64).  Where the code is
exactly that, the address the function would return is computed from two
reads: the 8 bytes of the GOT slot and the 8 bytes at the thread's fs base,
with no code run in the process.  Any other code (another libc, another
build, a patched function) matches nothing here, and the caller calls the
function instead.  No gdb here.
"""

from __future__ import annotations

import struct
from typing import Optional

ENDBR64 = b"\xf3\x0f\x1e\xfa"
_MOV_RAX_RIP = b"\x48\x8b\x05"                          # mov rax, [rip + d32]
_ADD_RAX_FS0 = b"\x64\x48\x03\x04\x25\x00\x00\x00\x00"  # add rax, fs:[0]
_RET = b"\xc3"
# The longest code this reads: endbr64, mov, add, ret.
CODE_SIZE = len(ENDBR64) + len(_MOV_RAX_RIP) + 4 + len(_ADD_RAX_FS0) + len(_RET)
MASK64 = 0xFFFFFFFFFFFFFFFF


def got_slot(code: bytes, address: int) -> Optional[int]:
    """The address of the GOT slot the function at ``address`` loads errno's
    TLS offset from, when ``code`` (its first bytes, at least CODE_SIZE of
    them where available) is exactly the leaf above; else None."""
    at = len(ENDBR64) if code.startswith(ENDBR64) else 0
    end = at + len(_MOV_RAX_RIP) + 4
    if code[at:at + len(_MOV_RAX_RIP)] != _MOV_RAX_RIP or len(code) < end:
        return None
    if code[end:end + len(_ADD_RAX_FS0) + 1] != _ADD_RAX_FS0 + _RET:
        return None
    (displacement,) = struct.unpack_from("<i", code, at + len(_MOV_RAX_RIP))
    # rip-relative: from the address of the next instruction.
    return (address + end + displacement) & MASK64


def errno_address(tls_offset: bytes, thread_pointer: bytes) -> int:
    """What the leaf returns: the GOT slot's 8 bytes plus the 8 bytes at fs:[0]."""
    (offset,) = struct.unpack("<Q", tls_offset)
    (pointer,) = struct.unpack("<Q", thread_pointer)
    return (offset + pointer) & MASK64
