"""gdb_sockets on a process behind gdbserver (`target remote`, `target extended-remote`).

The target's /proc is read through gdb's remote file access (vFile
packets), never the local one; sock-shutdown runs the raw syscall
(design §3: an inferior call through gdbserver 13.1 killed the target
after detach); pidfd cannot reach another host.  Here gdbserver runs on
the same machine, so what gdb sees remotely is checked against a local
attach to the same process and against what the process says of itself.

The first tests drive ``gdb_sockets.remote.RemoteProc`` with a fake
gdbserver (the vFile and osdata packets answered from this machine's
/proc) to cover both ways of reading the fd table and odd link names.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import harness
from harness import build, gdb_batch, gdb_batch_args, json_from

if harness.REPO_DIR not in sys.path:
    sys.path.insert(0, harness.REPO_DIR)

from gdb_sockets.listing import join as listing
from gdb_sockets.kernel import procfs
from gdb_sockets.kernel import remote_proc  # noqa: E402  (pure modules)

needs_gdbserver = pytest.mark.skipif(
    not any(os.access(os.path.join(d, "gdbserver"), os.X_OK)
            for d in os.environ.get("PATH", "").split(os.pathsep)),
    reason="gdbserver is not installed (install.sh --test-deps)")

KEYS = ("fd", "inode", "proto", "state", "recv_q", "send_q", "local", "peer", "type",
        "in_table", "uid")


def no_traceback(result) -> None:
    text = result.out + result.err
    assert "Traceback" not in text and "Python Exception" not in text, text


# --------------------------------------------------------------------------
# A fake gdbserver: the packets RemoteProc sends, answered from local files
# with gdbserver's encodings (binary escapes, fileio errnos, XML osdata).

_TO_FILEIO = {local: code for code, local in remote_proc._FILEIO_ERRNO.items()}


def escape_binary(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        if byte in b"#$}*":
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def xml_escape(data: bytes) -> bytes:
    for raw, entity in ((b"&", b"&amp;"), (b"<", b"&lt;"), (b">", b"&gt;"),
                        (b"'", b"&apos;"), (b'"', b"&quot;")):
        data = data.replace(raw, entity)
    return data


class FakeGdbserver:
    """send(packet) -> reply, like gdb.RemoteTargetConnection.send_packet."""

    def __init__(self, decoy_pid: int = 999999999):
        self.decoy_pid = decoy_pid
        self.sent = []
        self.osdata = None

    def __call__(self, packet: str) -> bytes:
        self.sent.append(packet)
        name, _, args = packet.partition(":")
        if name == "qXfer":
            return self._xfer(args)
        op, _, args = args.partition(":")
        try:
            return getattr(self, "_" + op)(args)
        except OSError as e:
            return b"F-1,%x" % _TO_FILEIO.get(e.errno, 9999)

    def _open(self, args):
        path, flags, _mode = args.split(",")
        assert flags == "0"
        return b"F%x" % os.open(bytes.fromhex(path), os.O_RDONLY)

    def _pread(self, args):
        fd, count, offset = (int(x, 16) for x in args.split(","))
        data = os.pread(fd, min(count, 4096), offset)
        return b"F%x;" % len(data) + escape_binary(data)

    def _close(self, args):
        os.close(int(args, 16))
        return b"F0"

    def _fstat(self, args):
        st = os.fstat(int(args, 16))
        fields = [st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, 0]
        raw = b"".join((v & 0xFFFFFFFF).to_bytes(4, "big") for v in fields)
        raw += st.st_size.to_bytes(8, "big") + b"\0" * 28
        return b"F%x;" % len(raw) + escape_binary(raw)

    def _readlink(self, args):
        target = os.readlink(bytes.fromhex(args))
        return b"F%x;" % len(target) + escape_binary(target)

    def _xfer(self, args):
        # osdata:read:files:OFFSET,LENGTH
        obj, _read, annex, span = args.split(":")
        assert (obj, annex) == ("osdata", "files")
        offset, length = (int(x, 16) for x in span.split(","))
        if offset == 0:
            self.osdata = self._files()
        part = self.osdata[offset:offset + length]
        last = offset + length >= len(self.osdata)
        return (b"l" if last else b"m") + escape_binary(part)

    def _files(self) -> bytes:
        """linux_xfer_osdata_fds: every fd of every process (here: ours and a decoy)."""
        items = [b'<osdata type="files">\n']
        pid = os.getpid()
        rows = [(self.decoy_pid, b"3", b"socket:[1]")]
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, name))
            except FileNotFoundError:
                continue
            rows.append((pid, name.encode(), os.fsencode(link)[:999]))  # char buf[1000]
        for owner, fd, name in rows:
            items.append(b'<item><column name="pid">%d</column><column name="command">py'
                         b'</column><column name="file descriptor">%s</column><column '
                         b'name="name">%s</column></item>' % (owner, fd, xml_escape(name)))
        items.append(b"</osdata>\n")
        return b"".join(items)


@pytest.fixture
def odd_fds(tmp_path):
    """Open fds of this process whose link names are hard to carry: markup,
    protocol escape characters, newline, bytes that are not UTF-8, and a
    path longer than gdbserver's 999-byte osdata buffer."""
    names = [b"a<b>&c'd\"e", b"}#$*", b"new\nline", b"bad\xff\xfe", b"sp ace "]
    deep = os.fsencode(tmp_path)
    while len(deep) < 1100:
        deep = os.path.join(deep, b"d" * 200)
        os.mkdir(deep)
    paths = [os.path.join(os.fsencode(tmp_path), n) for n in names] + [os.path.join(deep, b"f")]
    fds = [os.open(p, os.O_CREAT | os.O_RDONLY, 0o600) for p in paths]
    sockets = [socket.socketpair(socket.AF_UNIX), socket.socket()]
    sockets[1].bind(("127.0.0.1", 0))
    sockets[1].listen()
    yield dict(zip(paths, fds))
    for fd in fds:
        os.close(fd)
    for s in sockets:
        if isinstance(s, tuple):
            s[0].close()
            s[1].close()
        else:
            s.close()


@pytest.mark.parametrize("probe_limit", [1 << 20, 0], ids=["probe", "osdata"])
def test_fake_remote_reads_fd_table_like_local(odd_fds, probe_limit):
    pid = os.getpid()
    fake = FakeGdbserver()
    syncs = []
    reader = remote_proc.RemoteProc(fake, lambda: syncs.append(len(fake.sent)), probe_limit)
    local = procfs.LocalProc()
    remote_links = procfs.read_fd_links(reader, pid)
    local_links = procfs.read_fd_links(local, pid)
    # The fds that came and went meanwhile are the readers' own.
    stable = {link.fd for link in local_links} & {link.fd for link in remote_links}
    assert set(odd_fds.values()) <= stable
    assert [l for l in remote_links if l.fd in stable] == [l for l in local_links if l.fd in stable]
    for path, fd in odd_fds.items():
        assert os.fsencode(reader.readlink("/proc/%d/fd/%d" % (pid, fd))) == path
    assert syncs and syncs[0] == 0  # gdb was asked to set the filesystem first
    used_osdata = any(p.startswith("qXfer:osdata") for p in fake.sent)
    assert used_osdata == (probe_limit == 0)
    if used_osdata:
        # The long name was cut in the osdata and read again in full.
        long_fd = max(odd_fds.items(), key=lambda item: len(item[0]))[1]
        assert "vFile:readlink:" + remote_proc.hex_path("/proc/%d/fd/%d" % (pid, long_fd)) in fake.sent
    # The socket listing agrees too (protocol names aside: no getxattr remotely).
    remote_socks = {s.fd: s for s in listing.list_sockets(reader, pid).sockets}
    local_socks = {s.fd: s for s in listing.list_sockets(local, pid).sockets}
    for fd in set(remote_socks) & set(local_socks) & stable:
        assert remote_socks[fd].inode == local_socks[fd].inode
        assert remote_socks[fd].local == local_socks[fd].local


def test_fake_remote_errors_are_oserrors_like_local():
    reader = remote_proc.RemoteProc(FakeGdbserver())
    with pytest.raises(FileNotFoundError):
        reader.read("/proc/%d/net/no_such_table" % os.getpid())
    with pytest.raises(FileNotFoundError):
        reader.readlink("/proc/%d/fd/999999" % os.getpid())
    with pytest.raises(FileNotFoundError):
        reader.listdir("/proc/999999999/fd")
    with pytest.raises(OSError) as raised:
        reader.listdir("/etc")
    assert raised.value.errno == errno.ENOSYS
    assert reader.getxattr("/proc/1/fd/0", "system.sockprotoname") is None
    assert reader.read("/proc/%d/stat" % os.getpid()).startswith(b"%d (" % os.getpid())


def test_reply_parsing():
    assert remote_proc.unescape_binary(b"a}\x03b}]") == b"a#b}"
    assert remote_proc.parse_f_reply("vFile:pread:3,10,0", b"F3;a}\x03b") == (3, b"a#b")
    assert remote_proc.parse_f_reply("vFile:readlink:00", b"F4;x;y;") == (4, b"x;y;")
    for code, cls in ((2, FileNotFoundError), (13, PermissionError)):
        with pytest.raises(cls):
            remote_proc.parse_f_reply("vFile:open:00,0,0", b"F-1,%x" % code, "/p")
    with pytest.raises(OSError) as raised:
        remote_proc.parse_f_reply("vFile:open:00,0,0", b"F-1,5b", "/p")  # FILEIO_ENAMETOOLONG
    assert raised.value.errno == errno.ENAMETOOLONG
    with pytest.raises(remote_proc.ProtocolError, match="does not support vFile:readlink"):
        remote_proc.parse_f_reply("vFile:readlink:2f", b"")
    xml = (b'<item><column name="pid">12</column><column name="command">x</column>'
           b'<column name="file descriptor">4</column><column name="name">a&lt;b&amp;lt;\n'
           b'\xff</column></item><item><column name="pid">123</column><column name="command">'
           b'x</column><column name="file descriptor">5</column><column name="name">socket:[9]'
           b'</column></item>')
    assert remote_proc.parse_osdata_fds(xml, 12) == {4: b"a<b&lt;\n\xff"}
    assert remote_proc.status_field(b"Name:\tx\nTgid:\t77\nFDSize:\t64\n", "FDSize") == "64"


def test_remote_module_never_imports_gdb():
    probe = ("import sys, json; import gdb_sockets.kernel.remote_proc; "
             "print(json.dumps('gdb' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=harness.REPO_DIR, check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=harness.REPO_DIR))
    assert json.loads(out.stdout) is False


# --------------------------------------------------------------------------
# Real gdbserver


class GdbServer:
    """gdbserver on 127.0.0.1 with a port it chooses; its output collected."""

    def __init__(self, args):
        self.popen = subprocess.Popen(
            ["gdbserver"] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        self._lines: "queue.Queue" = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()
        line = self.expect("Listening on port ")
        self.port = int(line.split()[-1])

    def _pump(self):
        for line in self.popen.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, prefix, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError("gdbserver: no %r line; output %r" % (prefix, self.seen))
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def stop(self):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.popen.stdout.close()


@pytest.fixture
def gdbservers():
    started = []

    def start(args):
        server = GdbServer(args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def survivor():
    return build("rm_survivor")


def attached(gdbservers, pid):
    return gdbservers(["--attach", "127.0.0.1:0", str(pid)])


def remote_gdb(server, *commands, settings=()):
    return gdb_batch_args([], *settings, "target remote 127.0.0.1:%d" % server.port, *commands)


def assert_keeps_living(target, seconds=1.5):
    """ALIVE lines keep coming and the process is not dying."""
    alive = [line for line in target.lines(seconds) if line.startswith("ALIVE ")]
    assert len(alive) >= 5, (alive, target.returncode(0), target.stderr())
    assert target.alive() and target.returncode(0) is None


def check_against_target(entries, target):
    """The listing has exactly the target's sockets, by fd and inode."""
    fds, inodes = target.info["fds"], target.info["inodes"]
    assert {e["fd"]: e["inode"] for e in entries} == {fds[n]: inodes[n] for n in fds}


@needs_gdbserver
@pytest.mark.parametrize("fd_table", ["probe", "osdata"])
def test_listing_matches_local_attach(survivor, targets, gdbservers, fd_table):
    args = ["--high-fd", "1500"] if fd_table == "osdata" else []
    target = targets([survivor] + args, netns=True)
    fdsize = int(re.search(r"FDSize:\s*(\d+)",
                           open("/proc/%d/status" % target.pid).read()).group(1))
    assert (fdsize > remote_proc.PROBE_LIMIT) == (fd_table == "osdata"), fdsize  # the premise
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "info sockets -json", "info sockets", "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "Detaching from process %d" % target.pid in server.expect("Detaching")
    remote_entries = json_from(result.out)
    check_against_target(remote_entries, target)
    assert "Note: UNIX peers and queues are not known for this target." in result.out

    local = gdb_batch(target.pid, "info sockets -json")
    assert local.rc == 0, local
    local_entries = json_from(local.out)
    assert [e["fd"] for e in remote_entries] == [e["fd"] for e in local_entries]
    for got, want in zip(remote_entries, local_entries):
        got = {k: got.get(k) for k in KEYS}
        want = {k: want.get(k) for k in KEYS}
        if not want["in_table"]:
            # Only a local reader gets the kernel's protocol name of a
            # socket in no table: remotely it is said to be unknown, and
            # so is its state.
            assert (got["proto"], got["state"], got["in_table"]) == ("unknown", "?", False), got
            got["proto"], got["state"] = want["proto"], want["state"]
        if want["proto"] == "unix":
            # The peer and queues come from sock_diag on gdb's host.
            assert got["peer"] == {"inode": None, "path": None, "known": False}, got
            assert got["recv_q"] is None and got["send_q"] is None, got
            for key in ("peer", "recv_q", "send_q"):
                got[key] = want[key]
        if want["state"] == "LISTEN" and want["proto"] in ("tcp", "tcp6"):
            # A listener's backlog (its Send-Q) is in sock_diag, not the table.
            assert got["send_q"] is None, got
            got["send_q"] = want["send_q"]
        assert got == want
    assert target.alive()


@needs_gdbserver
def test_sock_shutdown_wakes_reader_and_target_lives_on(survivor, targets, gdbservers):
    target = targets([survivor, "--threads", "2"], netns=True)
    client = target.info["fds"]["client"]
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "sock-shutdown %d" % client, "detach")
    assert result.rc == 0, result
    no_traceback(result)
    # FIN-WAIT-1 until the peer's ACK is processed, then FIN-WAIT-2: both are true.
    assert re.search(r"^fd %d: tcp .*: ESTAB -> FIN-WAIT-[12]$" % client, result.out, re.M), result
    assert "shutdown(%d, SHUT_RDWR) = 0" % client in result.out
    assert "[method: syscall]" in result.out
    assert target.expect("WOKE", 5) == "WOKE fd=%d ret=0 errno=0" % client
    assert_keeps_living(target)


@needs_gdbserver
def test_pidfd_and_call_are_refused_and_nothing_is_touched(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    client = target.info["fds"]["client"]
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "sock-shutdown -method pidfd %d" % client,
                        "sock-shutdown -method call %d" % client)
    assert result.rc == 1, result
    no_traceback(result)
    assert "sock-shutdown: -method pidfd cannot run here: pidfd works only on a process " \
           "of gdb's own host" in result.err
    assert "sock-shutdown: -method call cannot run here: an inferior call through " \
           "gdbserver" in result.err
    server.expect("Detaching")  # gdb -batch detached at exit
    # Untouched: the reader is still blocked and its socket still connected.
    woke = [line for line in target.lines(1.0) if line.startswith("WOKE")]
    assert woke == [] and target.alive()
    rows = harness.ss_rows(pid=target.pid, netns_pid=target.pid)
    assert rows[target.info["inodes"]["client"]]["state"] == "ESTAB"


@needs_gdbserver
def test_extended_remote_attach(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    client = target.info["fds"]["client"]
    server = gdbservers(["--multi", "127.0.0.1:0"])
    result = gdb_batch_args([], "target extended-remote 127.0.0.1:%d" % server.port,
                            "attach %d" % target.pid,
                            "python print('KIND', gdb.selected_inferior().connection.type)",
                            "info sockets -json", "sock-shutdown %d" % client, "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "KIND extended-remote" in result.out
    check_against_target(json_from(result.out), target)
    assert "shutdown(%d, SHUT_RDWR) = 0" % client in result.out
    assert target.expect("WOKE", 5) == "WOKE fd=%d ret=0 errno=0" % client
    assert_keeps_living(target)


@needs_gdbserver
def test_pid_namespace_and_mount_namespace(survivor, targets, gdbservers):
    """A process in a container (own pid, mount and net namespaces, own /proc),
    gdbserver outside it.  gdb reads the program's files in the container's
    mount namespace (vFile:setfs), where /proc does not know gdbserver's pid."""
    target = targets(["unshare", "-p", "-f", "-m", "--mount-proc", "-n", "--", "sh", "-c",
                      'ip link set lo up && exec "$@"', "sh", survivor])
    assert target.info["nspid"] == 1
    with open("/proc/%d/task/%d/children" % (target.pid, target.pid)) as f:
        pid = int(f.read().split()[0])
    server = attached(gdbservers, pid)
    result = remote_gdb(server, "info sockets -json", "detach")
    assert result.rc == 0, result
    no_traceback(result)
    assert "Reading symbols from target:" in result.out  # gdb did read in the container
    check_against_target(json_from(result.out), target)


@needs_gdbserver
def test_made_up_pid_without_multiprocess_extensions(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    result = remote_gdb(server, "python print('PID', gdb.selected_inferior().pid)",
                        "info sockets -json", "detach",
                        settings=("set remote multiprocess-feature-packet off",))
    assert result.rc == 0, result
    assert "PID 42000" in result.out  # the premise: gdb does not know the real pid
    check_against_target(json_from(result.out), target)


@needs_gdbserver
def test_process_killed_while_stopped(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    wait_dead = ("python import os, select; fd = os.pidfd_open(%d); "
                 "os.kill(%d, 9); select.select([fd], [], [], 10)" % (target.pid, target.pid))
    result = remote_gdb(server, wait_dead, "info sockets")
    assert result.rc == 1, result
    no_traceback(result)
    assert "info sockets: process %d has exited" % target.pid in result.err


@needs_gdbserver
def test_holders_is_refused_through_gdbserver(survivor, targets, gdbservers):
    target = targets([survivor], netns=True)
    server = attached(gdbservers, target.pid)
    # One connection: gdbserver --attach serves a single gdb.
    result = remote_gdb(server, "info sockets -holders", "info sockets -extended")
    assert result.rc == 1, result
    no_traceback(result)
    assert "info sockets: -holders needs a list of every process's fds" in result.err
    assert "info sockets: -extended asks each socket through a copy in gdb's own" in result.err
