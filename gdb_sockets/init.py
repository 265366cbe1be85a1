"""Load gdb_sockets into gdb: put ``source /path/to/gdb_sockets/init.py`` in ~/.gdbinit.

The package is imported from the directory this file is in, never from
sys.path, so no other copy (or a file planted in the current directory)
can stand in for it.  Sourcing this file again reloads nothing and
re-registers the same commands.

gdb often runs as root: before importing anything, the package's files and
the directories above them are checked, and loading is refused if a user
other than root or the one running gdb could have changed them.  What is
judged is what the kernel walks through to open each file: every folder
on the way, every symlink and, hop by hop, where it points (a module
symlinked into a folder anyone can write is refused).
"""

import importlib.util
import os
import stat
import sys

import gdb


def _unsafe_reason(path, trusted_uids, follow=True):
    """Why another user could change ``path``, or None if nobody else can.

    ``follow`` False judges a symlink itself: its owner can change it
    (or, in a sticky folder, replace it); its mode means nothing.
    """
    st = os.stat(path) if follow else os.lstat(path)
    if st.st_uid not in trusted_uids:
        return "%s is owned by uid %d" % (path, st.st_uid)
    if follow and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        # A sticky directory (/tmp) lets others add entries, not replace ours.
        if not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
            return "%s is writable by group or others" % path
    return None


def _code_paths(package_dir):
    """Every folder of the package and every file Python may load from it.

    Python loads the compiled .pyc from a __pycache__ when it is newer:
    those folders and everything in them count as code too.  A folder that
    is a symlink is followed (once), as the import system follows it.
    """
    paths, seen = [], set()

    def walk(folder):
        real = os.path.realpath(folder)
        if real in seen:
            return
        seen.add(real)
        paths.append(folder)
        cache = os.path.basename(folder) == "__pycache__"
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                walk(path)
            elif cache or name.endswith(".py"):
                paths.append(path)

    walk(package_dir)
    return paths


def _lookups(path, hops=0):
    """What opening ``path`` depends on: (path, follow) pairs to check.

    Every directory a name is looked up in (another user who can write it
    can replace the entry), every symlink met on the way (its owner can
    change it, or, in a sticky folder, replace it) and the file reached.
    Symlinks are followed hop by hop, as the kernel does, so a link that
    points into a folder anyone can write is seen even if the final file
    is safe.
    """
    if hops > 40:
        raise _NotLoaded("gdb_sockets: not loaded: too many symlinks at %s" % path)
    checks = []
    parts = os.path.abspath(path).split("/")
    current = "/"
    for i, part in enumerate(parts):
        if part in ("", "."):
            continue
        if part == "..":
            current = os.path.dirname(current)  # already real: no link to go back over
            continue
        checks.append((current, True))
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            checks.append((candidate, False))
            target = os.path.join(current, os.readlink(candidate), *parts[i + 1:])
            return checks + _lookups(target, hops + 1)
        current = candidate
    checks.append((current, True))
    return checks


def _check_trusted(package_dir):
    trusted = {0, os.geteuid()}
    checked = set()
    for path in _code_paths(package_dir):
        for each, follow in _lookups(path):
            if (each, follow) in checked:
                continue
            checked.add((each, follow))
            reason = _unsafe_reason(each, trusted, follow)
            if reason:
                raise _NotLoaded(
                    "gdb_sockets: not loaded: %s, so it could be made to run code as "
                    "this user; fix with 'chmod go-w' / 'chown' or install the "
                    "package somewhere only you can write" % reason)


def _load(package_dir):
    loaded = sys.modules.get("gdb_sockets")
    if loaded is not None:
        if os.path.dirname(os.path.realpath(loaded.__file__)) == package_dir:
            return loaded
        raise _NotLoaded("gdb_sockets: not loaded: another copy is already loaded from %s"
                         % os.path.dirname(loaded.__file__))
    spec = importlib.util.spec_from_file_location(
        "gdb_sockets", os.path.join(package_dir, "__init__.py"),
        submodule_search_locations=[package_dir])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gdb_sockets"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["gdb_sockets"]
        raise
    return module


class _NotLoaded(Exception):
    """A reason not to load, said as a message (a sourced script that raises
    gets a Python traceback printed, even for gdb.GdbError)."""


def _main():
    package_dir = os.path.dirname(os.path.realpath(__file__))
    try:
        _check_trusted(package_dir)
        _load(package_dir)
    except _NotLoaded as e:
        gdb.write("%s\n" % e, gdb.STDERR)
        return
    from gdb_sockets import commands
    commands.register()


_main()
