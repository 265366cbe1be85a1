"""actions/seccomp.py: a thread's seccomp filters run on the call we would make.

Samples (tests/unit/samples/seccomp/, see capture.py there): filters read
with PTRACE_SECCOMP_GET_FILTER from nh_target, and filters libseccomp
2.5.4 exports.
"""

import os
import struct
import sys

import pytest

from gdb_sockets.actions import seccomp
from gdb_sockets.actions.seccomp import Call, Unknown

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "seccomp")
SHUTDOWN, RECVFROM = 48, 45
IP = 0x7F0011223344


def program(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return seccomp.unpack(f.read())


def shutdown(fd=4, how=2, ip=IP, arch=seccomp.AUDIT_ARCH_X86_64):
    return Call(SHUTDOWN, arch, ip, (fd, how, 0, 0, 0, 0))


def test_never_imports_gdb():
    assert "gdb" not in sys.modules


@pytest.mark.parametrize("name,expected", [
    ("nh_target_trap", "SECCOMP_RET_TRAP"),
    ("nh_target_errno", "SECCOMP_RET_ERRNO(EPERM)"),
    ("nh_target_kill", "SECCOMP_RET_KILL_PROCESS"),
    ("libseccomp_trap_shutdown", "SECCOMP_RET_TRAP"),
    ("libseccomp_errno_shutdown_fd4", "SECCOMP_RET_ERRNO(EPERM)"),
    ("libseccomp_allowlist_kill", "SECCOMP_RET_KILL_PROCESS"),
])
def test_shutdown_verdict_of_captured_filters(name, expected):
    assert seccomp.describe(seccomp.verdict([program(name)], shutdown())) == expected


@pytest.mark.parametrize("name", ["nh_target_trap", "libseccomp_trap_shutdown",
                                  "libseccomp_errno_shutdown_fd4"])
def test_other_calls_are_allowed(name):
    call = Call(RECVFROM, seccomp.AUDIT_ARCH_X86_64, IP, (4, 0, 64, 0, 0, 0))
    assert seccomp.describe(seccomp.verdict([program(name)], call)) == "SECCOMP_RET_ALLOW"


def test_an_argument_decides():
    """libseccomp compares both halves of the 64-bit argument."""
    fd4 = program("libseccomp_errno_shutdown_fd4")
    assert seccomp.describe(seccomp.verdict([fd4], shutdown(fd=5))) == "SECCOMP_RET_ALLOW"
    assert seccomp.describe(seccomp.verdict([fd4], shutdown(fd=4 + (1 << 32)))) == \
        "SECCOMP_RET_ALLOW"
    with pytest.raises(Unknown, match="argument 0"):
        seccomp.verdict([fd4], Call(SHUTDOWN, seccomp.AUDIT_ARCH_X86_64, IP))


def test_libseccomp_kills_another_arch():
    """libseccomp's filters check the architecture first: a call of another
    ABI gets its bad-arch action (SCMP_ACT_KILL, the thread)."""
    call = shutdown(arch=0x40000003)  # AUDIT_ARCH_I386
    assert seccomp.describe(seccomp.verdict([program("libseccomp_trap_shutdown")], call)) == \
        "SECCOMP_RET_KILL_THREAD"


def test_the_most_restrictive_filter_wins():
    filters = [program("nh_target_errno"), program("nh_target_trap")]
    assert seccomp.describe(seccomp.verdict(filters, shutdown())) == "SECCOMP_RET_TRAP"
    filters.append(program("libseccomp_allowlist_kill"))
    assert seccomp.describe(seccomp.verdict(filters, shutdown())) == \
        "SECCOMP_RET_KILL_PROCESS"
    assert seccomp.verdict([], shutdown()) == seccomp.RET_ALLOW


def test_a_filter_on_the_instruction_pointer_needs_it():
    # ld [8]; jeq #IP_LOW, allow, trap
    prog = [(0x20, 0, 0, 8), (0x15, 0, 1, IP & 0xFFFFFFFF), (0x06, 0, 0, seccomp.RET_ALLOW),
            (0x06, 0, 0, seccomp.RET_TRAP)]
    assert seccomp.verdict([prog], shutdown()) == seccomp.RET_ALLOW
    assert seccomp.verdict([prog], shutdown(ip=IP + 4)) == seccomp.RET_TRAP
    with pytest.raises(Unknown, match="instruction pointer"):
        seccomp.verdict([prog], shutdown(ip=None))


def test_alu_scratch_memory_and_return_a():
    # A = nr; A &= 0xff; M[3] = A; X = 7; A = X; A += M[3] (via LDX/TXA); ret A
    prog = [(0x20, 0, 0, 0), (0x54, 0, 0, 0xFF), (0x02, 0, 0, 3), (0x01, 0, 0, 7),
            (0x61, 0, 0, 3), (0x87, 0, 0, 0), (0x04, 0, 0, 0x50000), (0x16, 0, 0, 0)]
    # X = M[3] = 48; A = X = 48; A += 0x50000 -> ERRNO(48)
    assert seccomp.verdict([prog], shutdown()) == seccomp.RET_ERRNO | SHUTDOWN


def test_an_unknown_action_counts_as_kill():
    prog = [(0x06, 0, 0, 0x7FD00000)]
    assert seccomp.action_of(seccomp.verdict([prog], shutdown())) == seccomp.RET_KILL_PROCESS


@pytest.mark.parametrize("prog,reason", [
    ([(0x20, 0, 0, 2)], "offset 2"),          # a misaligned load
    ([(0x15, 0, 0, 0)], "runs off its end"),  # no ret
    ([(0x28, 0, 0, 0)], "BPF load 0x28"),     # ld h: the kernel refuses it too
    ([(0x05, 0, 0, 0xFFFFFFFF)], "runs off its end"),
])
def test_what_it_cannot_judge_is_unknown(prog, reason):
    with pytest.raises(Unknown, match=reason):
        seccomp.verdict([prog], shutdown())


@pytest.mark.parametrize("status,expected", [
    ("Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n", 0),
    ("Seccomp:\t2\n", 2),
    ("Name:\tx\n", None),
])
def test_mode_from_status(status, expected):
    assert seccomp.mode(status) == expected


def test_no_filter_no_refusal():
    assert seccomp.refusal("Seccomp:\t0\n", 1, shutdown()) is None


def test_strict_mode_is_refused():
    assert "strict mode" in seccomp.refusal("Seccomp:\t1\n", 1, shutdown())


def test_unpack_reads_sock_filter():
    raw = struct.pack("<HBBI", 0x15, 1, 2, 48) + struct.pack("<HBBI", 6, 0, 0, 7)
    assert seccomp.unpack(raw) == [(0x15, 1, 2, 48), (6, 0, 0, 7)]


@pytest.mark.parametrize("name,trap_ok,expected", [
    ("nh_target_trap", False, "answers shutdown(2) with SECCOMP_RET_TRAP: the call would "
                              "raise SIGSYS"),
    ("nh_target_trap", True, None),               # the caller undoes the SIGSYS
    ("nh_target_kill", True, "with SECCOMP_RET_KILL_PROCESS: the process would be killed"),
    ("libseccomp_allowlist_kill", True, "SECCOMP_RET_KILL_PROCESS"),
    ("nh_target_errno", False, None),             # fails with EPERM, reported
    ("libseccomp_errno_shutdown_fd4", False, "cannot be judged here (the filter looks at "
                                             "argument 0"),
])
def test_judgement(name, trap_ok, expected):
    said = seccomp.judgement([program(name)], Call(SHUTDOWN), trap_ok)
    if expected is None:
        assert said is None
    else:
        assert expected in said, said

