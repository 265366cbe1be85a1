"""Re-make the libseccomp samples here: python3 capture.py (needs libseccomp.so.2).

Each file is the classic-BPF program (struct sock_filter[]) that
libseccomp 2.5.4 exports (seccomp_export_bpf), as a sandbox built on it
(systemd's SystemCallFilter=, for one) loads it.  The nh_target_* files
were read with PTRACE_SECCOMP_GET_FILTER from tests/targets/nh_target.c
--seccomp trap|errno|kill (see notes/issue12.md).
"""

import ctypes
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOW, KILL_PROCESS, TRAP = 0x7FFF0000, 0x80000000, 0x00030000
ERRNO_EPERM = 0x00050000 | 1
SCMP_CMP_EQ = 4
NR = {"read": 0, "write": 1, "close": 3, "recvfrom": 45, "shutdown": 48, "exit_group": 231}


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def export(name, default, rules):
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    ctx = lib.seccomp_init(ctypes.c_uint32(default))
    for action, nr, cmps in rules:
        args = [ArgCmp(arg, SCMP_CMP_EQ, value, 0) for arg, value in cmps]
        array = (ArgCmp * max(len(args), 1))(*args)
        rc = lib.seccomp_rule_add_array(ctypes.c_void_p(ctx), ctypes.c_uint32(action),
                                        ctypes.c_int(nr), ctypes.c_uint(len(args)), array)
        assert rc == 0, rc
    with open(os.path.join(HERE, name), "wb") as f:
        assert lib.seccomp_export_bpf(ctypes.c_void_p(ctx), f.fileno()) == 0
    lib.seccomp_release(ctypes.c_void_p(ctx))


if __name__ == "__main__":
    # Default allow, shutdown traps (SIGSYS).
    export("libseccomp_trap_shutdown", ALLOW, [(TRAP, NR["shutdown"], [])])
    # Default allow, shutdown(4, ...) fails with EPERM; other fds are allowed.
    export("libseccomp_errno_shutdown_fd4", ALLOW, [(ERRNO_EPERM, NR["shutdown"], [(0, 4)])])
    # An allow-list: everything else kills the process.
    export("libseccomp_allowlist_kill", KILL_PROCESS,
           [(ALLOW, NR[name], []) for name in ("read", "write", "close", "recvfrom",
                                               "exit_group")])
