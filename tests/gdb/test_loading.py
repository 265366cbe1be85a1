"""Loading gdb_sockets: init.py refuses code that another user could change."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def package_copy(tmp_path):
    """A private copy of the package (mode 755 directories, 644 files)."""
    root = tmp_path / "install"
    root.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    target = root / "gdb_sockets"
    shutil.copytree(os.path.join(REPO, "gdb_sockets"), target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in [target] + list(target.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return target


def load(package_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [harness.gdb_path(), "-nx", "-q", "-batch", "-iex", "set style enabled off",
         "-ex", "source %s/init.py" % package_dir, "-ex", "help sock-shutdown"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, TERM="dumb"))


def test_a_private_copy_loads(package_copy):
    result = load(package_copy)
    assert result.returncode == 0, result
    assert "Shut down a socket of the current process" in result.stdout


@pytest.mark.parametrize("victim", ["commands/info_sockets.py", ".", "kernel", "__pycache__",
                                    "view/__pycache__"])
def test_code_others_can_write_is_refused(package_copy, victim):
    path = package_copy / victim
    if victim.endswith("__pycache__"):
        path.mkdir()
        (path / "render.cpython-311.pyc").write_bytes(b"")
    os.chmod(path, os.stat(path).st_mode | stat.S_IWOTH)
    result = load(package_copy)
    assert result.returncode == 1, result
    assert "gdb_sockets: not loaded: %s is writable by group or others" % (
        os.path.normpath(str(path))) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was registered.
    assert 'Undefined command: "sock-shutdown"' in result.stderr


def test_a_file_owned_by_another_user_is_refused(package_copy):
    os.chown(package_copy / "api.py", 65534, 65534)
    result = load(package_copy)
    assert result.returncode == 1, result
    assert "api.py is owned by uid 65534" in result.stderr
