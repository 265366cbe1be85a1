"""kernel/remote_proc.RemoteProc with a fake gdbserver: the vFile and osdata
packets answered from this machine's /proc, to cover both ways of reading the
fd table, odd link names, errors and the reply encodings.
"""

from __future__ import annotations

import errno
import os
import socket

import pytest

from gdb_sockets.kernel import procfs, remote_proc
from gdb_sockets.listing import join as listing


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
