"""actions/errno_tls: errno's address from the code of __errno_location (pure)."""

import struct

from gdb_sockets.actions import errno_tls

# glibc 2.36 (Debian 12) libc.so.6, __errno_location at 0x27660, as
# `disassemble /r __errno_location` shows it: mov 0x1ab779(%rip),%rax
# (# 0x1d2de0); add %fs:0x0,%rax; ret -- then the next function's bytes.
DEBIAN_12 = bytes.fromhex("488b0579b71a00" "644803042500000000" "c3" "0f1f4400")
ADDRESS = 0x27660


def test_debian_libc_leaf_gives_its_got_slot():
    assert errno_tls.got_slot(DEBIAN_12, ADDRESS) == 0x1D2DE0


def test_endbr64_first_is_the_same_leaf():
    code = errno_tls.ENDBR64 + DEBIAN_12
    # The mov now ends 4 bytes later: the slot moves with it.
    assert errno_tls.got_slot(code, ADDRESS) == 0x1D2DE0 + 4


def test_negative_displacement():
    code = b"\x48\x8b\x05" + struct.pack("<i", -0x100) + DEBIAN_12[7:]
    assert errno_tls.got_slot(code, 0x7F0000001000) == 0x7F0000001000 + 7 - 0x100


def test_the_same_sum_in_another_order_is_not_taken():
    # mov rax, fs:[0]; add rax, [rip + d32]; ret: the same result, other code.
    code = bytes.fromhex("64488b042500000000" "480305" "70b71a00" "c3")
    assert errno_tls.got_slot(code, ADDRESS) is None


def test_other_codes_are_not_taken():
    leaf = DEBIAN_12[:17]
    changed = [
        leaf[:16] + b"\x90",                             # no ret
        leaf[:7] + b"\x65" + leaf[8:],                   # gs, not fs
        leaf[:12] + b"\x08" + leaf[13:],                 # fs:[8], not fs:[0]
        b"\x48\x8b\x0d" + leaf[3:],                      # into rcx
        b"\x48\x8b\x05" + leaf[3:7] + b"\x64\x48\x2b" + leaf[10:],  # sub, not add
        b"\x90" + leaf,                                  # one byte in front
        leaf[:16],                                       # cut before ret
        leaf[:5],                                        # cut in the displacement
        b"",
        bytes.fromhex("e9" "00000000"),                  # a jump (a hook)
    ]
    for code in changed:
        assert errno_tls.got_slot(code, ADDRESS) is None, code.hex()


def test_errno_address_is_the_sum_of_the_two_reads():
    offset = struct.pack("<q", -0x50)           # the GOT holds errno's TLS offset
    pointer = struct.pack("<Q", 0x7FF6289E26C0 + 0x50)
    assert errno_tls.errno_address(offset, pointer) == 0x7FF6289E26C0


def test_code_size_covers_the_longest_leaf():
    assert errno_tls.CODE_SIZE == len(errno_tls.ENDBR64 + DEBIAN_12[:17])
