"""Just enough ELF to find a shared library's exported function.

A program may define its own ``shutdown``; gdb's expression evaluator would
call that one.  To call libc's, we read libc's dynamic symbol table from
the file the target mapped, and add the address it was loaded at.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Optional

from ..errors import SocketsError

SHT_DYNAMIC = 6
SHT_DYNSYM = 11
PT_DYNAMIC = 2
DT_NULL, DT_SONAME = 0, 14
STT_FUNC = 2
STT_GNU_IFUNC = 10
PT_LOAD = 1


class _Elf64:
    """The headers of a little-endian ELF64 file (x86-64, aarch64...)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        f.seek(0)
        ident = f.read(64)
        if ident[:4] != b"\x7fELF":
            raise SocketsError("not an ELF file")
        if ident[4] != 2 or ident[5] != 1:
            raise SocketsError("only 64-bit little-endian ELF is supported")
        (self.phoff, self.shoff) = struct.unpack_from("<QQ", ident, 32)
        (self.phentsize, self.phnum, self.shentsize, self.shnum) = struct.unpack_from(
            "<HHHH", ident, 54)

    def _read(self, offset: int, size: int) -> bytes:
        self.f.seek(offset)
        data = self.f.read(size)
        if len(data) != size:
            raise SocketsError("truncated ELF file")
        return data

    def sections(self):
        """(type, offset, size, link, entsize) of each section header."""
        table = self._read(self.shoff, self.shentsize * self.shnum)
        for i in range(self.shnum):
            (_name, sh_type, _flags, _addr, offset, size, link, _info, _align,
             entsize) = struct.unpack_from("<IIQQQQIIQQ", table, i * self.shentsize)
            yield sh_type, offset, size, link, entsize

    def first_load_vaddr(self) -> int:
        """p_vaddr of the first PT_LOAD, page-aligned: 0 for a shared library."""
        table = self._read(self.phoff, self.phentsize * self.phnum)
        for i in range(self.phnum):
            p_type, _flags, _offset, vaddr = struct.unpack_from("<IIQQ", table, i * self.phentsize)
            if p_type == PT_LOAD:
                return vaddr & ~0xFFF
        return 0

    def dynamic_vaddr(self):
        """p_vaddr of PT_DYNAMIC (where the dynamic section is, before the load bias)."""
        table = self._read(self.phoff, self.phentsize * self.phnum)
        for i in range(self.phnum):
            p_type, _flags, _offset, vaddr = struct.unpack_from("<IIQQ", table, i * self.phentsize)
            if p_type == PT_DYNAMIC:
                return vaddr
        return None

    def soname(self):
        """DT_SONAME from the dynamic section, or None."""
        for sh_type, offset, size, link, _entsize in list(self.sections()):
            if sh_type != SHT_DYNAMIC:
                continue
            str_offset, str_size = self.section_offset_size(link)
            strings = self._read(str_offset, str_size)
            dynamic = self._read(offset, size)
            for at in range(0, size - 15, 16):
                tag, value = struct.unpack_from("<qQ", dynamic, at)
                if tag == DT_NULL:
                    break
                if tag == DT_SONAME and value < len(strings):
                    return strings[value:strings.find(b"\0", value)]
        return None

    def section_offset_size(self, index: int):
        for i, (_t, offset, size, _link, _e) in enumerate(self.sections()):
            if i == index:
                return offset, size
        raise SocketsError("bad ELF section link")


_SYMBOL = struct.Struct("<IBBHQQ")


def dynamic_symbol(f: BinaryIO, name: str) -> Optional[int]:
    """The address (relative to the load base) of an exported function, or None."""
    return dynamic_symbols(f, (name,))[name]


def dynamic_symbols(f: BinaryIO, names) -> dict:
    """name -> its address relative to the load base, or None, for each of ``names``.

    The first symbol of the dynamic table that is a defined function of
    that name counts; a GNU indirect function is None (its real address is
    chosen at run time).  The names are found in the string table first
    (a linker may share a string's tail with a longer name: every place
    where the name is a whole string counts), then the symbols naming one
    of those places, by a search for the place's number in the table.
    """
    elf = _Elf64(f)
    found = {name: None for name in names}
    left = set(names)
    for sh_type, offset, size, link, entsize in list(elf.sections()):
        if sh_type != SHT_DYNSYM or entsize != _SYMBOL.size or not left:
            continue
        str_offset, str_size = elf.section_offset_size(link)
        strings = elf._read(str_offset, str_size)
        symbols = elf._read(offset, size - size % entsize)
        for name in sorted(left):
            wanted = name.encode() + b"\0"
            # The symbols naming each place where the name is a whole string,
            # found by their st_name field (the first 4 bytes of an entry).
            indexes = []
            at = strings.find(wanted)
            while at >= 0:
                key = struct.pack("<I", at)
                hit = symbols.find(key)
                while hit >= 0:
                    if hit % entsize == 0:
                        indexes.append(hit // entsize)
                    hit = symbols.find(key, hit + 1)
                at = strings.find(wanted, at + 1)
            for index in sorted(indexes):  # the first in table order counts
                (_st_name, st_info, _other, st_shndx, st_value,
                 _size) = _SYMBOL.unpack_from(symbols, index * entsize)
                if st_shndx == 0 or st_value == 0 or (st_info & 0xF) not in (STT_FUNC,
                                                                              STT_GNU_IFUNC):
                    continue
                left.discard(name)
                found[name] = (None if st_info & 0xF == STT_GNU_IFUNC
                               else st_value - elf.first_load_vaddr())
                break
    return found


def identity(f: BinaryIO):
    """(DT_SONAME or None, PT_DYNAMIC p_vaddr or None) of a shared library."""
    elf = _Elf64(f)
    return elf.soname(), elf.dynamic_vaddr()
