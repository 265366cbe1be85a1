"""install.sh against a throwaway HOME: the gdb init file it writes, and
--uninstall undoing exactly that (runs the real script and a real gdb)."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = os.path.join(REPO, "install.sh")
OUR_LINE = "source %s" % os.path.join(REPO, "gdb_sockets", "init.py")


def run(home, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    proc = subprocess.run([INSTALL] + list(args), capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc
    return proc.stdout


@pytest.fixture
def home(tmp_path):
    return tmp_path


def test_fresh_home_gets_a_file_that_uninstall_removes_again(home):
    out = run(home)
    gdbinit = home / ".gdbinit"
    assert "~/.gdbinit: added '%s'" % OUR_LINE in out, out
    assert "check: gdb loads gdb_sockets" in out, out
    assert gdbinit.read_text().splitlines()[-1] == OUR_LINE
    assert "already has" in run(home)  # again: nothing changes
    out = run(home, "--uninstall")
    assert "install.sh had created it" in out, out
    assert not gdbinit.exists()


def test_another_copy_is_replaced_and_put_back_by_uninstall(home):
    gdbinit = home / ".gdbinit"
    other = "source /opt/old/gdb_sockets/init.py"
    original = "set history save on\n%s\nset print pretty on\n" % other
    gdbinit.write_text(original)
    out = run(home)
    assert "replaced '%s' (another copy of gdb_sockets) by '%s'" % (other, OUR_LINE) in out, out
    assert "added" not in out, out
    lines = gdbinit.read_text().splitlines()
    assert lines[0] == "set history save on" and lines[-1] == "set print pretty on"
    assert lines[2] == OUR_LINE and other not in lines
    out = run(home, "--uninstall")
    assert "put back '%s'" % other in out, out
    assert gdbinit.read_text() == original


def test_uninstall_keeps_what_the_user_added_to_a_file_it_created(home):
    run(home)
    gdbinit = home / ".gdbinit"
    with open(gdbinit, "a") as f:
        f.write("set pagination off\n")
    run(home, "--uninstall")
    assert gdbinit.read_text() == "set pagination off\n"
