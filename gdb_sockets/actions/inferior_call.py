"""gdb glue: the `call` method, libc's shutdown() run in the inferior by gdb.

Facts this rests on (measured with gdb 13.1, see the README): gdb resumes every thread during
an inferior call unless scheduler-locking is on, and a signal in another
thread can then leave a dummy frame behind; gdb 13 and 14 have no call
timeout (gdb 15 added direct-call-timeout and unwind-on-timeout); errno is
per thread.  So, for the call only: scheduler-locking on, unwindonsignal
on, language c, gdb's own call timeout where it has one and a watchdog
otherwise, and errno saved and written back; the user's settings return
whatever happens.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Optional, Tuple

import gdb

from . import errno_tls, guard, libc_symbols, link_map, watchdog
from ..errors import SocketsError
from ..kernel import proc_task, signals, syscalls_x86_64
from ..view.render import escape

CALL_TIMEOUT = 5.0  # seconds a call may take (gdb's own timeout, else the watchdog)


@contextlib.contextmanager
def temporary_settings(settings: Dict[str, str]):
    """Set gdb parameters for a block; the user's values return whatever happens."""
    saved = [(name, gdb.parameter(name)) for name in settings]
    try:
        for name, value in settings.items():
            gdb.execute("set %s %s" % (name, value), to_string=True)
        yield
    finally:
        for name, value in saved:
            if isinstance(value, bool):
                value = "on" if value else "off"
            elif value is None:  # a number parameter at "unlimited"
                value = "unlimited"
            gdb.execute("set %s %s" % (name, value), to_string=True)


def _has_parameter(name: str) -> bool:
    try:
        gdb.parameter(name)
    except RuntimeError:  # gdb's answer for a parameter it does not have
        return False
    return True


# gdb 15 and later time a call out themselves and unwind it.
GDB_TIMES_CALLS = _has_parameter("direct-call-timeout")

# Only the selected thread runs while we act on it.
HOLD_OTHER_THREADS = {"scheduler-locking": "on"}
CALL_SETTINGS = dict(language="c", unwindonsignal="on", **HOLD_OTHER_THREADS)
if GDB_TIMES_CALLS:
    CALL_SETTINGS.update({"direct-call-timeout": "%d" % CALL_TIMEOUT,
                          "unwind-on-timeout": "on"})


def watchdog_refusal(target) -> Optional[str]:
    """Why a call in the selected thread could not be stopped if it never
    returned, or None.  gdb 15 and later stop it themselves (a SIGSTOP);
    on 13 and 14 the watchdog's SIGINT must reach the thread."""
    if GDB_TIMES_CALLS:
        return None
    lwp = gdb.selected_thread().ptid[1]
    masks = signals.read_masks(target.reader, target.pid, lwp)
    _state, call = proc_task.thread_call(target.reader, target.pid, lwp)
    why = watchdog.sigint_refusal(lwp, masks, syscalls_x86_64.name(call.nr) if call else None)
    if why is None:
        return None
    return "%s (gdb %s has no call timeout of its own; gdb 15 and later do)" % (
        why, gdb.VERSION.split()[0])


def call_unsafe_reason() -> Optional[str]:
    """Why gdb could not restore the thread after a call here, or None.

    After a call gdb writes back every register the function changed,
    vector registers included.  gdb 13 cannot write the extended (XSAVE)
    state on CPUs whose state is larger than it knows (AMX): the write
    fails after the call, the thread is left half-restored and an
    interrupted system call returns the kernel's internal ERESTARTSYS.
    So the same write is tried first on one vector register, with its own
    value changed and then put back.
    """
    if "x86-64" not in gdb.selected_inferior().architecture().name():
        return None
    with temporary_settings({"language": "c"}):
        return _probe_vector_write()


def _probe_vector_write() -> Optional[str]:
    frame = gdb.newest_frame()
    try:
        value = int(frame.read_register("xmm15")["v4_int32"][0])
    except gdb.error as e:
        return "cannot read the vector registers to check (%s)" % e
    try:
        _write_int32_lane(value ^ 1)
    except gdb.error as e:
        # The kernel refused the write, so the thread is unchanged; drop
        # gdb's cached copy, which holds the value it could not write.
        gdb.execute("maintenance flush register-cache", to_string=True)
        return "gdb cannot write this CPU's extended register state (%s)" % (
            str(e).rstrip("."),)
    _write_int32_lane(value)
    gdb.execute("maintenance flush register-cache", to_string=True)
    if int(gdb.newest_frame().read_register("xmm15")["v4_int32"][0]) != value:
        raise SocketsError("xmm15 could not be put back after the probe; do not detach "
                           "before checking 'p $xmm15'")
    return None


def _write_int32_lane(value: int) -> None:
    """$xmm15.v4_int32[0] = value, as a 0x literal (no input radix reads it
    otherwise; the caller set language c)."""
    literal = "-0x%x" % -value if value < 0 else "0x%x" % value
    gdb.execute("set $xmm15.v4_int32[0] = %s" % literal, to_string=True)


class CallFailed(Exception):
    """The inferior call did not return normally; gdb restored the context."""


def call_int_function(address: int, *args: int) -> int:
    """Call the C function at ``address`` as int f(int, ...) in the selected thread.

    Only numbers we computed reach the expression; arguments are passed as
    gdb.Value, never as text.  Raises CallFailed if the call was interrupted
    (by gdb's own call timeout, the watchdog where gdb has none, or a
    signal) after CALL_TIMEOUT seconds; gdb has then unwound it.
    """
    prototype = "int (*)(%s)" % (", ".join("int" for _ in args) or "void")
    function = gdb.parse_and_eval("(%s) 0x%x" % (prototype, address)).dereference()
    int_type = gdb.lookup_type("int")
    values = [gdb.Value(arg).cast(int_type) for arg in args]
    late = "did not return within %.0f s; gdb unwound the call" % CALL_TIMEOUT
    timeout = None if GDB_TIMES_CALLS else CALL_TIMEOUT
    ptid = gdb.selected_thread().ptid
    armed = _HELPER.watch(ptid, timeout) if _HELPER is not None else None
    with armed or watchdog.Watchdog(ptid, timeout) as dog:
        try:
            return int(function(*values))
        except gdb.error as e:
            if dog.fired() or "timed out while in a function called from GDB" in str(e):
                raise CallFailed(late) from None
            raise CallFailed(str(e).split("\n")[0]) from None
        except KeyboardInterrupt:  # Ctrl-C while the call ran
            raise CallFailed("interrupted (Ctrl-C); gdb unwound the call") from None


# The helper is forked now, as the package loads (gdb's start-up), where gdb
# has no call timeout of its own.
_HELPER = None if GDB_TIMES_CALLS else watchdog.start_helper()


def errno_address(errno_location: int) -> int:
    """The address of the selected thread's errno.

    Computed from two reads where libc's ``__errno_location`` is the leaf
    actions/errno_tls.py knows (no code runs in the process); else that
    function is called (CallFailed if the call does not return).
    """
    computed = computed_errno_address(errno_location)
    if computed is not None:
        return computed
    return _pointer_call(errno_location)


def computed_errno_address(errno_location: int) -> Optional[int]:
    """What ``__errno_location`` would return in the selected thread, read
    without running it, or None when its code is not the known leaf (or a
    read fails)."""
    inferior = gdb.selected_inferior()
    try:
        code = bytes(inferior.read_memory(errno_location, errno_tls.CODE_SIZE))
        slot = errno_tls.got_slot(code, errno_location)
        if slot is None:
            return None
        fs_base = int(gdb.newest_frame().read_register("fs_base")) & errno_tls.MASK64
        return errno_tls.errno_address(bytes(inferior.read_memory(slot, 8)),
                                       bytes(inferior.read_memory(fs_base, 8)))
    except (gdb.error, ValueError):  # no such register, unreadable memory
        return None


def _pointer_call(address: int) -> int:
    """Call a function returning a pointer (``__errno_location``)."""
    function = gdb.parse_and_eval("(long (*)(void)) 0x%x" % address).dereference()
    try:
        return int(function()) & 0xFFFFFFFFFFFFFFFF
    except gdb.error as e:
        raise CallFailed(str(e).split("\n")[0]) from None


def bound_libc(pid: int, reader):
    """The dynamic linker's libc for the program: (LinkMapEntry, Mapping), or None.

    Found in ld.so's link map (from the program's DT_DEBUG), not by a name
    in /proc/PID/maps: a second library named libc.so.6 dlopen()ed later
    may be mapped first; mapped at the link map's load address.  The file
    there is checked by libc_shutdown_addresses (same inode, a libc.so.6
    whose dynamic section is where the link map has it).
    """
    arch = gdb.selected_inferior().architecture().name()
    if arch != "i386:x86-64":
        raise SocketsError("the call method finds libc in 64-bit processes only (this is %s)"
                           % arch)
    inferior = gdb.selected_inferior()

    def read(address: int, size: int) -> bytes:
        try:
            return bytes(inferior.read_memory(address, size))
        except gdb.MemoryError as e:
            raise SocketsError("cannot read the dynamic linker's list of libraries "
                               "(%s)" % guard.first_line(e)) from None

    try:
        auxv = reader.read("/proc/%d/auxv" % pid)
    except OSError as e:
        raise SocketsError("cannot read /proc/%d/auxv: %s" % (pid, e.strerror or e)) from None
    r_debug = link_map.r_debug_address(auxv, read)
    if r_debug is None:
        return None
    entry = link_map.bound_libc(link_map.link_map(r_debug, read))
    if entry is None:
        return None
    mapping = libc_symbols.libc_mapping_at(reader, pid, entry.l_addr)
    if mapping is None:
        raise SocketsError("the dynamic linker has libc (%s) at 0x%x, but nothing is mapped "
                           "there from offset 0; not calling into it"
                           % (escape(entry.name.decode("utf-8", "surrogateescape")),
                              entry.l_addr))
    return entry, mapping


def libc_shutdown_addresses(pid: int, reader) -> Optional[Tuple[int, int]]:
    """(shutdown, __errno_location) in the program's libc, or None if not there.

    Looked up once per command (actions/choose.py keeps the answer for the
    act): the process stays stopped in between, so its libc cannot change.
    """
    found = bound_libc(pid, reader)
    if found is None:
        return None
    entry, mapping = found
    functions = libc_symbols.checked_libc_functions(reader, pid, mapping, entry.l_ld,
                                                    ("shutdown", "__errno_location"))
    shutdown, errno_location = functions["shutdown"], functions["__errno_location"]
    if shutdown is None or errno_location is None:
        return None
    # gdb must agree that these addresses are in that library: a wrong load
    # base would otherwise send the call into arbitrary code.
    name = entry.name.decode("utf-8", "surrogateescape")
    for function, address in (("shutdown", shutdown), ("__errno_location", errno_location)):
        where = gdb.solib_name(address)
        if where != name:
            raise SocketsError("libc's %s resolved to 0x%x, but gdb says that is in %s, not "
                               "%s; not calling it" % (function, address,
                                                       escape(str(where)), escape(name)))
    return shutdown, errno_location


# Compared, read again from the kernel, after a call that did not return.
CHECKED_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
                     "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags", "orig_rax")
PUT_BACK = "the thread was put back (registers read back and compared)"


def call_shutdown(pid: int, reader, fd: int, how: int,
                  addresses: Optional[Tuple[int, int]] = None) -> Tuple[int, int]:
    """Run libc's shutdown(fd, how) in the selected thread: (retval, errno).

    ``addresses``: libc's (shutdown, __errno_location) as the method probe
    found them in this command (None: looked up here).  The thread's errno
    is read before the call and written back after it, so the program
    never sees ours.  If a call stops before it returns (a breakpoint we
    could not disable), its dummy frame is popped and the registers
    compared with those before.
    """
    if addresses is None:
        addresses = libc_shutdown_addresses(pid, reader)
    if addresses is None:
        raise SocketsError("process %d has no shared libc with shutdown() "
                           "(a static binary?); use -method syscall" % pid)
    shutdown_address, errno_location = addresses
    inferior = gdb.selected_inferior()
    # The caller (actions/choose.py) has run call_unsafe_reason() already.
    with guard.set_aside(CALL_SETTINGS):
        saved = guard.snapshot(CHECKED_REGISTERS)
        try:
            errno_at = errno_address(errno_location)
            saved_errno = bytes(inferior.read_memory(errno_at, 4))
            try:
                retval = call_int_function(shutdown_address, fd, how)
                call_errno = int(gdb.Value(bytes(inferior.read_memory(errno_at, 4)),
                                           gdb.lookup_type("int")))
            finally:
                inferior.write_memory(errno_at, saved_errno)
        except CallFailed as e:
            raise CallFailed(_undo_stopped_call(str(e), saved)) from None
    return retval, (call_errno if retval != 0 else 0)


def _undo_stopped_call(why: str, saved) -> str:
    """After a call that did not return: its dummy frame popped if gdb left
    one, the registers compared; what to say."""
    popped = guard.pop_dummy_frame()
    wrong = guard.differences(saved)
    if wrong:
        return ("%s; the thread could NOT be put back: %s; do not detach: set them back "
                "by hand ('set $REG = VALUE')" % (why, "; ".join(wrong)))
    if popped:
        return ("the call stopped before it returned (%s); its dummy frame was popped and "
                "%s" % (why.rstrip("."), PUT_BACK))
    return "%s; %s" % (why.rstrip("."), PUT_BACK)
